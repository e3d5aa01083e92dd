"""The process ``test_crash.py`` kills: writes to a store as fast as it can, forever.

``python crash_writer.py DIRECTORY ROUND SEED`` opens a ``TinyDBStore`` that
compacts every few dozen writes (in its child process, as in production),
then runs several concurrent writers.  Each prints one line per write *after*
its ``await`` returned, i.e. once the store acknowledged it::

    I customers <id> <version>     inserted
    U customers <id> <version>     updated to this version
    d interactions <id> -          about to delete (the delete may or may not happen)
    D interactions <id> -          deleted

The test reads these lines, kills the process at a random moment and checks
that every acknowledged write is in the store when it is reopened.
"""

from __future__ import annotations

import asyncio
import random
import sys
from datetime import UTC, datetime, timedelta

from bot.domain.models import (
    Customer,
    Interaction,
    InteractionKind,
    Reminder,
    ReminderKind,
)
from storage import ConflictError, TinyDBStore

WORKERS = 6
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def emit(op: str, collection: str, rid: str, version: int | str) -> None:
    sys.stdout.write(f"{op} {collection} {rid} {version}\n")
    sys.stdout.flush()


async def worker(store: TinyDBStore, round_no: int, w: int, seed: int, existing: list[str]) -> None:
    rnd = random.Random(seed * 1000 + w)
    n = 0
    while True:
        n += 1
        cid = f"r{round_no:02d}w{w}n{n:05d}"
        customer = Customer(
            id=cid,
            name=rnd.choice(["王芳", "Li Wei", "Anna Müller"]) + f" {n}",
            owner_id=f"rep-{w}",
            phones=[f"+86139{rnd.randrange(10**8):08d}"],
            tags=rnd.sample(["vip", "tea", "wholesale"], k=rnd.randrange(3)),
            next_follow_up_at=T0 + timedelta(hours=rnd.randrange(10_000)),
        )
        await store.customers.insert(customer)
        emit("I", "customers", cid, 0)
        interaction = Interaction(
            id=f"{cid}-i",
            customer_id=cid,
            owner_id=f"rep-{w}",
            kind=InteractionKind.CALL,
            occurred_at=T0 + timedelta(minutes=n),
            summary="x" * rnd.randrange(400),
        )
        await store.interactions.insert(interaction)
        emit("I", "interactions", interaction.id, 0)
        customer.notes = f"called {n}"
        updated = await store.customers.update(customer)
        emit("U", "customers", cid, updated.version)
        existing.append(cid)
        if rnd.random() < 0.4:
            other = await store.customers.get(rnd.choice(existing))
            if other is not None:
                other.city = f"city-{n}"
                try:
                    other = await store.customers.update(other)
                    emit("U", "customers", other.id, other.version)
                except ConflictError:
                    pass  # another writer updated it first: fine, nothing acknowledged
        if rnd.random() < 0.25:
            emit("d", "interactions", interaction.id, "-")  # about to delete: it may vanish now
            await store.interactions.delete(interaction.id)
            emit("D", "interactions", interaction.id, "-")
        if rnd.random() < 0.1:
            batch = [
                Reminder(
                    id=f"{cid}-r{k}",
                    kind=ReminderKind.FOLLOW_UP,
                    recipient_id=f"rep-{w}",
                    due_at=T0 + timedelta(days=k),
                    dedupe_key=f"{cid}:{k}",
                    customer_id=cid,
                )
                for k in range(5)
            ]
            await store.reminders.insert_many(batch)
            for reminder in batch:
                emit("I", "reminders", reminder.id, 0)


async def main(directory: str, round_no: int, seed: int) -> None:
    store = TinyDBStore(directory, compact_every=40, compact_ratio=0)
    await store.open()
    existing = [c.id for c in await store.customers.find(limit=300)]
    sys.stdout.write("open\n")
    sys.stdout.flush()
    await asyncio.gather(*(worker(store, round_no, w, seed, existing) for w in range(WORKERS)))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
