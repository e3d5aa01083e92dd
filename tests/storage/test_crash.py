"""Crash safety of the TinyDB backend, with real ``kill -9``.

``crash_writer.py`` writes as fast as it can from several tasks (so group
commit batches them) and compacts every 40 writes in its own child process;
it prints each write once it is acknowledged.  Each round kills it at a
random moment -- some rounds only the writer (its compactor runs on as an
orphan, which the next open must wait for), some rounds the whole process
group (the compactor dies mid-file too) -- then reopens the directory here
and checks that every acknowledged write is there, that the store opens
cleanly, and that no temporary or half-written file is taken for data.
The same directory goes through every round, so later rounds recover from
what earlier recoveries left behind.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from filelock import FileLock, Timeout
from tinydb import TinyDB

from storage import StoreLockedError, TinyDBStore

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
ROUNDS = 24
ENV = {
    **os.environ,
    "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
}


def _spawn(directory: Path, round_no: int, seed: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, str(HERE / "crash_writer.py"), str(directory), str(round_no), str(seed)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=ENV,
        start_new_session=True,  # its compactor shares the process group, for killpg
    )


def _acknowledged(lines: list[str], expected: dict[str, dict[str, Any]]) -> int:
    count = 0
    for line in lines:
        parts = line.split()
        if len(parts) != 4:
            continue  # "open", or a line cut short by the kill (never acknowledged then)
        op, collection, rid, version = parts
        table = expected.setdefault(collection, {})
        if op == "D":
            table[rid] = "deleted"
        elif op == "d":
            table[rid] = ("maybe deleted", table[rid])
        else:
            previous = table.get(rid, -1)
            assert previous != "deleted"
            table[rid] = max(previous, int(version))
        count += 1
    return count


def _leftovers(directory: Path) -> dict[str, Any]:
    """What an interrupted compaction left: temp files, partitions the manifest does not name."""
    manifest = json.loads((directory / "MANIFEST.json").read_text())
    named = {name for parts in manifest["partitions"].values() for name in parts.values()}
    names = os.listdir(directory)
    return {
        "tmp": [n for n in names if n.endswith(".tmp")],
        "unnamed": [
            n for n in names if n.endswith(".json") and n != "MANIFEST.json" and n not in named
        ],
        "journals": sorted(n for n in names if n.startswith("journal-")),
    }


def _compactor_running(directory: Path) -> bool:
    """Whether an orphaned compactor still holds the compaction lock."""
    lock = FileLock(str(directory / "COMPACT.lock"), timeout=0, thread_local=False)
    try:
        lock.acquire()
    except Timeout:
        return True
    lock.release()
    return False


async def _verify(
    directory: Path, expected: dict[str, dict[str, Any]], *, compact_on_close: bool
) -> None:
    store = TinyDBStore(directory, compactor="thread", compact_on_close=compact_on_close)
    await store.open()
    try:
        after = _leftovers(directory)
        assert not after["tmp"] and not after["unnamed"], after  # garbage is gone, not loaded
        for collection, records in expected.items():
            stored = {r.id: r for r in await store.collection(collection).find()}  # decodes all
            for rid, version in records.items():
                if version == "deleted":
                    assert rid not in stored, f"{collection} {rid} was deleted but is back"
                elif isinstance(version, tuple):  # a delete was under way when the process died
                    assert rid not in stored or stored[rid].version >= version[1]
                else:
                    assert rid in stored, f"acknowledged {collection} {rid} is lost"
                    assert stored[rid].version >= version, f"{collection} {rid} lost an update"
    finally:
        await store.close()


@pytest.mark.slow
def test_kill_9_loses_no_acknowledged_write(tmp_path: Path) -> None:
    directory = tmp_path / "data"
    rnd = random.Random(20240601)
    expected: dict[str, dict[str, Any]] = {}
    acknowledged = 0
    interrupted_compactions = 0
    started = time.monotonic()
    for round_no in range(ROUNDS):
        child = _spawn(directory, round_no, rnd.randrange(10**6))
        assert child.stdout is not None
        first = child.stdout.readline()
        assert first == b"open\n", f"the writer did not start: {first!r}"
        time.sleep(rnd.uniform(0.05, 0.6))  # a random moment to kill at, not a wait
        if round_no % 2:
            os.killpg(child.pid, signal.SIGKILL)  # the writer and its compactor, if one runs
        else:
            os.kill(child.pid, signal.SIGKILL)  # the compactor, if any, runs on as an orphan
        output = child.stdout.read().decode("utf-8", "replace")
        child.wait()
        acknowledged += _acknowledged(output.splitlines(), expected)
        before = _leftovers(directory)
        if before["tmp"] or before["unnamed"] or _compactor_running(directory):
            interrupted_compactions += 1
        asyncio.run(_verify(directory, expected, compact_on_close=round_no % 3 == 0))
    elapsed = time.monotonic() - started
    assert acknowledged > ROUNDS * 20, "the writer hardly wrote anything; the test proves little"
    assert interrupted_compactions >= 1, "no kill landed during a compaction"
    # The snapshot files that remain are plain TinyDB databases.
    manifest = json.loads((directory / "MANIFEST.json").read_text())
    for collection, parts in manifest["partitions"].items():
        for name in parts.values():
            with TinyDB(directory / name, access_mode="r") as db:
                assert all("id" in doc for doc in db.table(collection).all())
    print(f"{ROUNDS} kills, {acknowledged} acknowledged writes checked, "
          f"{interrupted_compactions} kills during a compaction, {elapsed:.1f} s")  # fmt: skip


async def test_second_process_gets_store_locked_error(tmp_path: Path) -> None:
    directory = tmp_path / "data"
    store = TinyDBStore(directory)
    await store.open()
    try:
        script = textwrap.dedent(
            """
            import asyncio, sys
            from storage import StoreLockedError, TinyDBStore
            try:
                asyncio.run(TinyDBStore(sys.argv[1]).open())
            except StoreLockedError as exc:
                print(exc)
                sys.exit(3)
            """
        )
        command = [sys.executable, "-c", script, str(directory)]
        result = await asyncio.to_thread(
            subprocess.run, command, capture_output=True, text=True, env=ENV, timeout=60
        )
        assert result.returncode == 3, result.stderr
        assert str(directory) in result.stdout
        assert "in use by another process" in result.stdout
        # and a second store in this process is refused just the same
        with pytest.raises(StoreLockedError, match="in use by another process"):
            await TinyDBStore(directory).open()
        await store.customers.count()  # the first store is unaffected
    finally:
        await store.close()
    again = TinyDBStore(directory)  # once closed, the directory is free
    await again.open()
    await again.close()


async def test_torn_journal_tail_is_ignored(tmp_path: Path) -> None:
    from tests.storage.storage_samples import samples

    directory = tmp_path / "data"
    store = TinyDBStore(directory, compact_on_close=False)
    await store.open()
    records = samples("customers", 10)
    for record in records:
        await store.customers.insert(record)
    await store.close()
    (journal,) = sorted(directory.glob("journal-*.log"))
    data = journal.read_bytes()
    assert data.count(b"\n") == 10
    journal.write_bytes(data[:-25])  # the last line loses its end, as if cut by a crash
    store = TinyDBStore(directory, compact_on_close=False)
    await store.open()
    assert sorted(r.id for r in await store.customers.find()) == sorted(r.id for r in records[:9])
    await store.customers.insert(records[9])  # the store carries on (in a new journal)
    await store.close()
    # garbage where a write never finished
    journal.write_bytes(journal.read_bytes() + b'0badc0de {"s": 99, "ops": [["custo')
    store = TinyDBStore(directory)
    await store.open()
    assert sorted(r.id for r in await store.customers.find()) == sorted(r.id for r in records)
    await store.close()  # compacts: the journals fold into snapshots
    assert not list(directory.glob("journal-*.log"))
    store = TinyDBStore(directory)
    await store.open()
    assert await store.customers.count() == 10
    await store.close()
