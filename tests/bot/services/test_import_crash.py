"""An import killed with ``kill -9`` at a random moment: whole batches only, and it resumes.

A child process (``crash_import.py``) imports a generated CSV of :data:`ROWS` new customers,
each with a purchase; the first round runs to the end and times it, the next ones kill the
child at a random moment within that time.  Each batch is one transaction (its customers,
purchases, audit events and the job's progress), so after the reopen the customers present
are exactly the rows the job record says are committed -- never part of a batch -- and
resuming the job completes the import with no duplicates.  On TinyDB and SQLite.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from bot.clock import SimulatedClock
from bot.config import load_config
from bot.services import Services
from bot.services.imports import NAMESPACE, record_id
from storage import Store
from tests.bot.services.crash_import import rows_csv
from tests.storage.crash_transactions import ADMIN, REP_A, T0, open_backend
from tests.storage.storage_backends import SKIPPED
from tests.storage.test_transactions_crash import ENV

HERE = Path(__file__).resolve().parent
ROWS = 1_500
ROUNDS = 3  # the first runs to the end


def _spawn(kind: str, location: Path, csv_path: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, str(HERE / "crash_import.py"), kind, str(location), str(csv_path)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=ENV,
        start_new_session=True,  # with its compactor, for killpg
    )  # fmt: skip


async def _build(kind: str, location: Path) -> None:
    store = open_backend(kind, str(location), child=False)
    await store.open()
    try:
        await store.staff.insert_many([ADMIN, REP_A])
    finally:
        await store.close()


def _copy(kind: str, source: Path, target: Path) -> None:
    target.mkdir()
    if kind == "tinydb":
        shutil.copytree(source, target / source.name)
    else:
        shutil.copy(source, target / source.name)


async def _check(store: Store, csv_path: Path) -> str:
    """The committed rows are exactly the job's; then resume it and check the whole import."""
    jobs = await store.kv.find({"namespace": NAMESPACE})
    assert len(jobs) <= 1
    imported = await store.customers.find({"owner_id": REP_A.id})
    if not jobs:  # killed before the job was opened
        assert imported == []
        return "not started"
    job_id, job = jobs[0].id.removeprefix(f"{NAMESPACE}:"), jobs[0].value
    state = f"{job['status']} {job.get('done', 0)}"
    committed = {record_id(job_id, row) for row in range(1, int(job.get("done_row", 0)) + 1)}
    assert job.get("done", 0) == len(committed), "progress counts the rows of whole batches"
    assert {c.id for c in imported} == committed, f"{state}: the customers are not the job's committed rows"
    assert await store.purchases.count() == len(committed), "a purchase without its customer, or the reverse"
    assert await store.audit.count({"action": "import"}) == len(committed) + (job["status"] == "done")
    if job["status"] != "done":
        services = Services(load_config(None, environ={}, search=False), store, SimulatedClock(T0))
        summary = await services.imports.commit(ADMIN, job_id, data=csv_path.read_bytes())
        assert summary.created == ROWS
    imported = await store.customers.find({"owner_id": REP_A.id})
    assert len(imported) == ROWS
    phones = Counter(p for c in imported for p in c.phones)
    assert len(phones) == ROWS and set(phones.values()) == {1}, "a row imported twice"
    assert await store.purchases.count() == ROWS
    assert await store.audit.count({"action": "import", "entity_type": "customer"}) == ROWS
    return state


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["tinydb", "sql-sqlite"])
def test_kill_9_in_an_import_leaves_whole_batches_and_resumes(tmp_path: Path, backend: str) -> None:
    if backend in SKIPPED:
        pytest.skip(SKIPPED[backend])
    kind = "tinydb" if backend == "tinydb" else "sqlite"
    name = "data" if kind == "tinydb" else "crm.sqlite3"
    original = tmp_path / "original" / name
    original.parent.mkdir()
    asyncio.run(_build(kind, original))
    csv_path = tmp_path / "customers.csv"
    csv_path.write_bytes(rows_csv(ROWS))
    rnd = random.Random(17)
    seen: list[str] = []
    took = 0.0
    for round_no in range(ROUNDS):
        copy = tmp_path / f"round{round_no}"
        _copy(kind, original, copy)
        location = copy / name
        child = _spawn(kind, location, csv_path)
        assert child.stdout is not None
        assert child.stdout.readline() == b"open\n"
        assert child.stdout.readline().startswith(b"job "), "the preview failed"
        started = time.monotonic()
        if round_no == 0:  # to the end: how long the commit takes, and that it does finish
            assert child.stdout.readline() == b"done\n"
            took = time.monotonic() - started
        else:
            time.sleep(rnd.uniform(0.0, 0.9 * took))  # a random moment within the commit, not a wait
        os.killpg(child.pid, signal.SIGKILL)  # with its compactor, if one runs
        child.wait()

        async def verify(location: Path = location) -> str:
            store = open_backend(kind, str(location), child=False)
            await store.open()
            try:
                return await _check(store, csv_path)
            finally:
                await store.close()

        seen.append(asyncio.run(verify()))
        shutil.rmtree(copy)
    assert seen[0].startswith("done")
    print(f"{backend}: {ROWS} rows imported in {took:.2f} s; the job after each kill: {seen[1:]}")
