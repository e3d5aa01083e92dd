"""Transactions are all or nothing across ``kill -9``, on the TinyDB backend and on SQLite.

``crash_transactions.py groups`` commits big transactions one after another
(each inserts a group of customers and reminders, deletes the previous
group's reminders and updates a ledger); each round kills it at a random
moment, reopens the data here and checks every group: entirely there or
entirely absent, the ledger agreeing, every acknowledged group there.  The
same data goes through every round, so later rounds start from what earlier
recoveries left.  (PostgreSQL too, when ``CRM_BOT_TEST_DATABASE_URL`` names
a server: the child writes to this run's shared tables.)  A torn last journal line -- a transaction cut short while
being written -- is checked deterministically too, at many cut points.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from storage import Store, TinyDBStore
from tests.storage.crash_transactions import GROUP_OWNER, LEDGER, T0, group_records, open_backend
from tests.storage.storage_backends import BACKENDS, POSTGRES_PREFIX, SKIPPED, postgres_url

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
ROUNDS = 4
ENV = {
    **os.environ,
    "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
}


def spawn(backend: str, location: Path | str, mode: str, seed: int) -> subprocess.Popen[bytes]:
    script = str(HERE / "crash_transactions.py")
    return subprocess.Popen(
        [sys.executable, script, backend, str(location), mode, str(seed)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=ENV,
        start_new_session=True,  # with its compactor, for killpg
    )  # fmt: skip


def kill_at_random(child: subprocess.Popen[bytes], rnd: random.Random, latest: float) -> list[str]:
    """Wait for the child to open, kill it (and its compactor) within ``latest`` s, return its lines."""
    assert child.stdout is not None
    first = child.stdout.readline()
    assert first == b"open\n", f"the child did not start: {first!r}"
    time.sleep(rnd.uniform(0.0, latest))  # a random moment to kill at, not a wait
    os.killpg(child.pid, signal.SIGKILL)
    output = child.stdout.read().decode("utf-8", "replace")
    child.wait()
    return output.splitlines()


async def check_groups(store: Store, acknowledged: set[int], begun: set[int]) -> int:
    """Every group all or nothing, agreeing with the ledger; returns how many are committed."""
    ledger = await store.kv.get(LEDGER)
    sizes: list[int] = ledger.value["sizes"] if ledger else []
    committed = len(sizes)
    assert acknowledged <= set(range(committed)), "an acknowledged transaction is lost"
    customers = Counter(c.id[:6] for c in await store.customers.find({"owner_id": GROUP_OWNER}))
    reminders = Counter(r.id[:6] for r in await store.reminders.find({"recipient_id": GROUP_OWNER}))
    for g in sorted(begun | set(range(committed))):
        key = f"g{g:05d}"
        if g < committed:
            assert customers[key] == sizes[g], f"group {g}: {customers[key]} of {sizes[g]} customers"
            want = sizes[g] if g == committed - 1 else 0  # the next group deleted them
            assert reminders[key] == want, f"group {g}: {reminders[key]} reminders, not {want}"
        else:
            assert customers[key] == 0 and reminders[key] == 0, f"uncommitted group {g} is partly there"
    assert set(customers) <= {f"g{g:05d}" for g in range(committed)}
    return committed


def torn_tail(directory: Path) -> bool:
    """Whether the newest journal ends in the middle of a line (the kill cut a write short)."""
    journals = sorted(directory.glob("journal-*.log"))
    return bool(journals) and not journals[-1].read_bytes().endswith(b"\n") and journals[-1].stat().st_size > 0


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["tinydb", "sql-sqlite", "sql-postgres"])
def test_kill_9_leaves_each_transaction_all_or_nothing(tmp_path: Path, backend: str) -> None:
    if backend in SKIPPED:
        pytest.skip(SKIPPED[backend])
    kind = {"tinydb": "tinydb", "sql-sqlite": "sqlite", "sql-postgres": "postgres"}[backend]
    location: Path | str = tmp_path / ("data" if kind == "tinydb" else "crm.sqlite3")
    if kind == "postgres":
        BACKENDS[backend](tmp_path)  # empties this run's shared tables for this test
        location = f"{postgres_url()} {POSTGRES_PREFIX}"
    rnd = random.Random(20261201)
    acknowledged: set[int] = set()
    begun: set[int] = set()
    committed = torn = 0
    started = time.monotonic()
    rounds = 0
    # ROUNDS kills, and more (a few at most) until one has landed inside a transaction
    while rounds < ROUNDS or (begun <= acknowledged and rounds < 2 * ROUNDS):
        rounds += 1
        lines = kill_at_random(spawn(kind, location, "groups", rnd.randrange(10**6)), rnd, 0.8)
        for line in lines:
            parts = line.split()
            if len(parts) == 3 and parts[0] == "B":
                begun.add(int(parts[1]))
            elif len(parts) == 2 and parts[0] == "C":
                acknowledged.add(int(parts[1]))
        if isinstance(location, Path) and kind == "tinydb":
            torn += torn_tail(location)

        async def verify() -> int:
            store = open_backend(kind, str(location), child=False)
            await store.open()
            try:
                return await check_groups(store, acknowledged, begun)
            finally:
                await store.close()

        committed = asyncio.run(verify())
    elapsed = time.monotonic() - started
    assert committed >= 3, "the child hardly committed anything; the test proves little"
    assert begun - acknowledged, "no kill landed inside a transaction"
    print(f"{backend}: {rounds} kills, {committed} transactions committed, "
          f"{len(begun - acknowledged)} cut short, {torn} torn journal tails, {elapsed:.1f} s")  # fmt: skip


async def test_a_torn_transaction_line_is_dropped_whole(tmp_path: Path) -> None:
    """A transaction's entry cut anywhere: replay applies none of it, and what came before stays."""
    directory = tmp_path / "data"
    store = TinyDBStore(directory, compact_on_close=False)
    await store.open()
    before, _ = group_records(0, 3)
    await store.customers.insert_many(before)
    customers, reminders = group_records(1, 40)
    async with store.transaction() as tx:
        await tx.customers.insert_many(customers)
        for reminder in reminders:
            await tx.reminders.insert(reminder)
        await tx.customers.delete(before[0].id)
        await tx.kv.put(LEDGER, {"sizes": [3, 40]}, namespace="tx", now=T0)
    await store.close()
    (journal,) = sorted(directory.glob("journal-*.log"))
    data = journal.read_bytes()
    lines = data.split(b"\n")
    assert len(lines) == 3 and lines[2] == b"", "expected two entries: the batch and the transaction"
    start = len(lines[0]) + 1
    for cut in sorted({start + 1, start + 9, start + 10, *random.Random(3).sample(range(start, len(data) - 1), 6),
                       len(data) - 2, len(data) - 1}):  # fmt: skip
        journal.write_bytes(data[:cut])
        store = TinyDBStore(directory, compact_on_close=False)
        await store.open()
        try:
            assert sorted(c.id for c in await store.customers.find()) == sorted(c.id for c in before), cut
            assert await store.reminders.count() == 0 and await store.kv.get(LEDGER) is None, cut
        finally:
            await store.close()
        for stray in directory.glob("journal-*.log"):
            if stray != journal:
                stray.unlink()  # the empty journal that session started
    journal.write_bytes(data)
    store = TinyDBStore(directory, compact_on_close=False)
    await store.open()
    try:
        assert await store.customers.count() == 42 and await store.reminders.count() == 40
    finally:
        await store.close()
