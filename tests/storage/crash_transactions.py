"""The process the transaction crash tests kill: big transactions, forever or once.

``python crash_transactions.py BACKEND LOCATION MODE SEED`` opens a store
(``tinydb``: a data directory, compacting every 300 ops in its child
process as in production; ``sqlite``: a database file; ``postgres``: a URL
and a table prefix, separated by a space) and then, by MODE:

``groups``
    runs transactions one after another, forever.  Transaction *g* inserts
    ``k`` customers and ``k`` reminders (unique dedupe keys) named after it,
    deletes the reminders of group *g - 1*, and updates the ledger
    (``kv`` ``tx:ledger``: ``{"sizes": [k0, k1, ...]}``).  It prints
    ``B g k`` before the transaction and ``C g`` once it is committed.
``purge`` / ``reassign``
    runs ``CustomerService.purge(admin, "victim")`` or
    ``reassign_all(admin, "rep-a", "rep-b")`` on the data set the test
    built (``build_people``), printing ``go`` before and ``done`` after, then
    waits to be killed.

``test_transactions_crash.py`` and
``tests/bot/services/test_purge_reassign_crash.py`` kill it and check that
each transaction is there entirely or not at all.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.domain.models import (
    Customer,
    Reminder,
    ReminderKind,
    ReminderStatus,
    Role,
    StaffUser,
)
from storage import Store, TinyDBStore

T0 = datetime(2024, 1, 1, tzinfo=UTC)
LEDGER = "tx:ledger"
GROUP_OWNER = "tx-rep"


def open_backend(backend: str, location: str, *, child: bool = True) -> Store:
    if backend == "tinydb":
        if child:
            return TinyDBStore(location, compact_every=300, compact_ratio=0)
        return TinyDBStore(location, compactor="thread")
    from storage.sql import SQLStore

    if backend == "postgres":  # LOCATION: "<url> <table prefix>"
        url, prefix = location.split(" ")
        return SQLStore(url, prefix=prefix)
    return SQLStore(f"sqlite:///{location}")


def emit(*parts: object) -> None:
    sys.stdout.write(" ".join(str(p) for p in parts) + "\n")
    sys.stdout.flush()


def group_records(g: int, k: int) -> tuple[list[Customer], list[Reminder]]:
    customers = [
        Customer(id=f"g{g:05d}-{i:03d}", name=f"客户 {g}-{i}", owner_id=GROUP_OWNER,
                 phones=[f"+8613900{g % 1000:03d}{i:03d}"], tags=["vip"] if i % 3 else [],
                 notes="备注 " * (i % 20), next_follow_up_at=T0 + timedelta(hours=i))
        for i in range(k)
    ]  # fmt: skip
    reminders = [
        Reminder(id=f"g{g:05d}-r{i:03d}", kind=ReminderKind.FOLLOW_UP, recipient_id=GROUP_OWNER,
                 due_at=T0 + timedelta(days=i), dedupe_key=f"g{g}:{i}", customer_id=customers[i].id)
        for i in range(k)
    ]  # fmt: skip
    return customers, reminders


async def groups(store: Store, seed: int) -> None:
    rnd = random.Random(seed)
    while True:
        ledger = await store.kv.get(LEDGER)
        sizes: list[int] = list(ledger.value["sizes"]) if ledger else []
        g, k = len(sizes), rnd.randrange(20, 160)
        emit("B", g, k)
        customers, reminders = group_records(g, k)
        async with store.transaction() as tx:
            await tx.customers.insert_many(customers)
            await tx.reminders.insert_many(reminders)
            if g:
                for i in range(sizes[-1]):
                    assert await tx.reminders.delete(f"g{g - 1:05d}-r{i:03d}")
            await tx.kv.put(LEDGER, {"sizes": [*sizes, k]}, namespace="tx", now=T0)
        emit("C", g)


# -- the purge / reassign data set --------------------------------------------------------

ADMIN = StaffUser(id="9000", telegram_id=9000, name="Admin", role=Role.ADMIN)
REP_A = StaffUser(id="rep-a", telegram_id=9001, name="Rep A", teams=["east"])
REP_B = StaffUser(id="rep-b", telegram_id=9002, name="Rep B", teams=["east"])


async def build_people(store: Store, *, history: int, customers: int) -> dict[str, int]:
    """The data set: "victim" with ``history`` records of each kind, and rep-a's customers.

    Returns the counts the crash tests compare with.
    """
    from tests.storage.storage_samples import samples

    await store.staff.insert_many([ADMIN, REP_A, REP_B])
    victim = Customer(id="victim", name="王芳", owner_id="rep-a", team="east")
    await store.customers.insert(victim)
    for name in ("purchases", "interactions", "feedback"):
        records = [dataclasses.replace(r, id=f"v-{name}-{i}", customer_id="victim", owner_id="rep-a")
                   for i, r in enumerate(samples(name, history))]  # type: ignore[type-var]
        await store.collection(name).insert_many(records)
    await store.reminders.insert_many([
        Reminder(id=f"v-rem-{i}", kind=ReminderKind.FOLLOW_UP, recipient_id="rep-a", due_at=T0,
                 dedupe_key=f"victim:{i}", customer_id="victim")
        for i in range(history)
    ])  # fmt: skip
    owned = [Customer(id=f"a{i:04d}", name=f"客户 {i}", owner_id="rep-a", team="east")
             for i in range(customers)]  # fmt: skip
    await store.customers.insert_many(owned)
    await store.reminders.insert_many([
        Reminder(id=f"a{i:04d}-r{j}", kind=ReminderKind.FOLLOW_UP, recipient_id="rep-a",
                 due_at=T0 + timedelta(days=j), dedupe_key=f"a{i}:{j}", customer_id=f"a{i:04d}",
                 status=ReminderStatus.PENDING)
        for i in range(customers) for j in range(2)
    ])  # fmt: skip
    return {"history": history, "customers": customers + 1}  # rep-a also owns the victim


async def use_case(store: Store, mode: str) -> None:
    from bot.clock import SimulatedClock
    from bot.config import load_config
    from bot.services import Services

    services = Services(load_config(None, environ={}, search=False), store, SimulatedClock(T0))
    admin = await store.staff.get(ADMIN.id)
    assert admin is not None
    emit("go")
    if mode == "purge":
        await services.customers.purge(admin, "victim")
    else:
        await services.customers.reassign_all(admin, "rep-a", "rep-b")
    emit("done")
    await asyncio.Event().wait()


async def main(backend: str, location: str, mode: str, seed: int) -> None:
    store = open_backend(backend, location)
    await store.open()
    emit("open")
    if mode == "groups":
        await groups(store, seed)
    else:
        await use_case(store, mode)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])))
