"""The remembered latest contacts equal a fresh look-up, after writes and deletes (issue 15).

Generated data: 60 customers, a few hundred interactions of every outcome over two
years (some deleted, some dated in the future); every customer is asked once so that
all are remembered, then random writes are made through the store — new contacts,
contacts moved earlier or later, marked deleted, given another outcome, moved to
another customer, deleted outright — and after each batch every customer's answer
must equal the straightforward look-up (the latest counting, live contact before
``low``), under both settings of ``unanswered_counts_as_contact``.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.domain.models import Interaction, InteractionKind, Outcome
from bot.services.last_contacts import LastContacts
from storage.base import Range
from storage.tinydb_store.store import TinyDBStore

NOW = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
LOW = NOW - timedelta(days=40)
CUSTOMERS = [f"c{n:02d}" for n in range(60)]
OUTCOMES = [None, Outcome.NO_ANSWER, *[o for o in Outcome if o is not Outcome.NO_ANSWER]]


def contact(rng: random.Random, customer: str | None = None) -> Interaction:
    at = NOW - timedelta(days=rng.uniform(-20, 700))
    return Interaction(
        customer_id=customer or rng.choice(CUSTOMERS), owner_id="rep", kind=InteractionKind.CALL,
        occurred_at=at, outcome=rng.choice(OUTCOMES), deleted=rng.random() < 0.05,
        created_at=at, updated_at=at)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[TinyDBStore]:
    store = TinyDBStore(tmp_path / "data", fsync=False)
    await store.open()
    rng = random.Random(15)
    # some customers have no interaction at all, some only unanswered ones
    for n in range(400):
        record = contact(rng, CUSTOMERS[n % 45])
        if n % 45 in (40, 41, 42):
            record = dataclasses.replace(record, outcome=Outcome.NO_ANSWER)
        await store.interactions.insert(record)
    try:
        yield store
    finally:
        await store.close()


async def expected(store: TinyDBStore, customer: str, unanswered_counts: bool) -> datetime | None:
    """The straightforward answer: every live interaction of the customer before LOW, the latest counting."""
    found = await store.interactions.find({"customer_id": customer, "deleted": False},
                                          within=Range("occurred_at", None, LOW))
    times = [r.occurred_at for r in found if unanswered_counts or r.outcome != Outcome.NO_ANSWER]
    return max(times) if times else None


async def no_pause() -> None:
    return None


async def check(store: TinyDBStore, remembered: LastContacts, unanswered_counts: bool) -> None:
    for customer in CUSTOMERS:
        live = await store.interactions.find({"customer_id": customer, "deleted": False},
                                             within=Range("occurred_at", LOW, NOW + timedelta(microseconds=1)))
        if any(unanswered_counts or r.outcome != Outcome.NO_ANSWER for r in live):
            continue  # the report reads those itself and never asks
        got = await remembered.before(customer, LOW, no_pause)
        want = await expected(store, customer, unanswered_counts)
        assert (got.occurred_at if got else None) == want, customer
        if got is not None:
            assert got.customer_id == customer and not got.deleted


async def random_writes(store: TinyDBStore, rng: random.Random, count: int) -> None:
    for _ in range(count):
        records = await store.interactions.find()
        pick = rng.choice(records)
        roll = rng.random()
        if roll < 0.3:
            await store.interactions.insert(contact(rng))
        elif roll < 0.45:
            await store.interactions.delete(pick.id)
        else:
            change = rng.choice(["earlier", "later", "deleted", "outcome", "customer"])
            if change == "earlier":
                new = dataclasses.replace(pick, occurred_at=pick.occurred_at - timedelta(days=rng.uniform(1, 400)))
            elif change == "later":
                new = dataclasses.replace(pick, occurred_at=pick.occurred_at + timedelta(days=rng.uniform(1, 200)))
            elif change == "deleted":
                new = dataclasses.replace(pick, deleted=not pick.deleted)
            elif change == "outcome":
                new = dataclasses.replace(pick, outcome=rng.choice(OUTCOMES))
            else:
                new = dataclasses.replace(pick, customer_id=rng.choice(CUSTOMERS))
            await store.interactions.update(new)


@pytest.mark.parametrize("unanswered_counts", [True, False])
async def test_remembered_contacts_equal_a_fresh_look_up_after_writes(
    store: TinyDBStore, unanswered_counts: bool
) -> None:
    remembered = LastContacts(store, lambda: unanswered_counts)
    await check(store, remembered, unanswered_counts)
    assert len(remembered) > 30  # the customers asked about are remembered
    rng = random.Random(int(unanswered_counts))
    for _ in range(8):
        await random_writes(store, rng, 25)
        await check(store, remembered, unanswered_counts)
    remembered.close()


async def test_a_change_of_rule_forgets_everything(store: TinyDBStore) -> None:
    rule = [True]
    remembered = LastContacts(store, lambda: rule[0])
    await check(store, remembered, True)
    rule[0] = False
    await check(store, remembered, False)
    remembered.close()


async def test_a_write_heard_while_looking_up_is_not_remembered(store: TinyDBStore) -> None:
    remembered = LastContacts(store, lambda: True)
    customer = CUSTOMERS[0]
    real_find = store.interactions.find
    newer = dataclasses.replace(contact(random.Random(3), customer), id="newer", deleted=False,
                                outcome=Outcome.INTERESTED, occurred_at=LOW - timedelta(days=1))

    async def find_then_write(*args: object, **kwargs: object) -> list[Interaction]:
        found = await real_find(*args, **kwargs)  # type: ignore[arg-type]
        store.interactions.find = real_find  # type: ignore[method-assign]
        await store.interactions.insert(newer)  # committed after the read, before it is remembered
        return found

    store.interactions.find = find_then_write  # type: ignore[method-assign]
    await remembered.before(customer, LOW, no_pause)
    got = await remembered.before(customer, LOW, no_pause)
    assert got is not None and got.occurred_at == await expected(store, customer, True)
    remembered.close()
