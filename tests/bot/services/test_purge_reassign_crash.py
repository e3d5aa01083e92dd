"""Purge and reassign-all survive ``kill -9`` half-way as all or nothing, on TinyDB and SQLite.

The data set (``crash_transactions.build_people``): a customer with a few
hundred purchases, interactions, feedback and reminders, and a rep with
a few hundred customers, each with pending reminders.  A child process
(``crash_transactions.py purge|reassign``) runs the use case on a copy of it;
the first round runs to the end and times it, the next ones kill the child
at a random moment within that time.  Each reopened copy must hold either
the whole before or the whole after -- audit events included.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import signal
import time
from pathlib import Path

import pytest

from storage import Store
from tests.storage.crash_transactions import build_people, open_backend
from tests.storage.storage_backends import SKIPPED
from tests.storage.test_transactions_crash import spawn

ROUNDS = 3
HISTORY = 150  # records of each kind about the purged customer
CUSTOMERS = 100  # rep-a's customers (and two reminders each)


async def _build(kind: str, location: Path) -> dict[str, int]:
    store = open_backend(kind, str(location), child=False)
    await store.open()
    try:
        return await build_people(store, history=HISTORY, customers=CUSTOMERS)
    finally:
        await store.close()


def _copy(kind: str, source: Path, target: Path) -> None:
    if kind == "tinydb":
        shutil.copytree(source, target / source.name)
    else:
        target.mkdir()
        shutil.copy(source, target / source.name)


async def _purge_state(store: Store) -> str:
    counts = [await store.collection(name).count({"customer_id": "victim"})
              for name in ("purchases", "interactions", "feedback", "reminders")]  # fmt: skip
    present = await store.customers.get("victim") is not None
    audited = await store.audit.count({"entity_id": "victim", "action": "purge"})
    if present and counts == [HISTORY] * 4 and audited == 0:
        return "before"
    if not present and counts == [0] * 4 and audited == 1:
        return "after"
    raise AssertionError(f"purge half done: customer {present}, history {counts}, audit {audited}")


async def _reassign_state(store: Store) -> str:
    owned = {rep: await store.customers.count({"owner_id": rep}) for rep in ("rep-a", "rep-b")}
    reminders = {rep: await store.reminders.count({"recipient_id": rep}) for rep in ("rep-a", "rep-b")}
    audited = await store.audit.count({"action": "reassign"})
    total = CUSTOMERS + 1  # the victim is rep-a's too
    if owned == {"rep-a": total, "rep-b": 0} and reminders["rep-b"] == 0 and audited == 0:
        return "before"
    if owned == {"rep-a": 0, "rep-b": total} and reminders["rep-a"] == 0 and audited == total:
        return "after"
    raise AssertionError(f"reassign half done: owners {owned}, reminders {reminders}, audit {audited}")


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["purge", "reassign"])
@pytest.mark.parametrize("backend", ["tinydb", "sql-sqlite"])
def test_kill_9_in_the_middle_leaves_all_or_nothing(tmp_path: Path, backend: str, mode: str) -> None:
    if backend in SKIPPED:
        pytest.skip(SKIPPED[backend])
    kind = "tinydb" if backend == "tinydb" else "sqlite"
    name = "data" if kind == "tinydb" else "crm.sqlite3"
    original = tmp_path / "original" / name
    asyncio.run(_build(kind, original))
    state = _purge_state if mode == "purge" else _reassign_state
    rnd = random.Random(17)
    seen: list[str] = []
    took = 0.0
    for round_no in range(ROUNDS):
        copy = tmp_path / f"round{round_no}"
        _copy(kind, original, copy)
        location = copy / name
        child = spawn(kind, location, mode, 0)
        assert child.stdout is not None
        assert child.stdout.readline() == b"open\n"
        assert child.stdout.readline() == b"go\n"
        started = time.monotonic()
        if round_no == 0:  # to the end: how long it takes, and that it does finish
            assert child.stdout.readline() == b"done\n"
            took = time.monotonic() - started
        else:
            time.sleep(rnd.uniform(0.0, 0.8 * took))  # a random moment within the run, not a wait
        os.killpg(child.pid, signal.SIGKILL)  # with its compactor, if one runs
        child.wait()

        async def verify(location: Path = location) -> str:
            store = open_backend(kind, str(location), child=False)
            await store.open()
            try:
                return await state(store)
            finally:
                await store.close()

        seen.append(asyncio.run(verify()))
        shutil.rmtree(copy)
    assert seen[0] == "after"
    print(f"{backend} {mode}: {took:.2f} s to run; after each kill: {seen[1:]}")
