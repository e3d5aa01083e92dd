"""The data set behind ``bench/services_scan.py`` and the scan's equivalence test.

``bench/datagen.py``'s staff, customers and interactions, plus purchases and
feedback (the issue's size M: 10 000 customers, 100–200k interactions,
20–40k purchases, 5 000 feedback items), all from seeded ``random.Random``
so every run builds the same records. ``day_of_changes`` is one simulated
working day of a 50-rep team, made through the services (so everything the
services do on a write happens, as in production).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import islice

from bench.datagen import NOW, SPAN, DataSet, make_id
from bot.domain.models import (
    Birthday,
    CalendarKind,
    Customer,
    Direction,
    Feedback,
    FeedbackKind,
    FeedbackStatus,
    InteractionKind,
    Outcome,
    Purchase,
    Severity,
)
from bot.services import Services
from storage.base import Store


def purchases(keys: list[tuple[str, str, list[str]]], count: int, seed: int) -> Iterator[Purchase]:
    """``count`` purchases by about 70 % of the customers (the rest stay prospects), Pareto-weighted."""
    rnd = random.Random(seed)
    buyers = [k for k in keys if rnd.random() < 0.7]
    weights = [rnd.paretovariate(1.5) for _ in buyers]
    start = (NOW - SPAN).date()
    for cid, owner, _ in rnd.choices(buyers, weights=weights, k=count):
        day = start + timedelta(days=rnd.randrange(SPAN.days))
        at = datetime.combine(day, datetime.min.time(), NOW.tzinfo)
        yield Purchase(id=make_id(rnd, at), customer_id=cid, owner_id=owner, product="茶叶礼盒",
                       amount=Decimal(rnd.randrange(50_00, 3_000_000)) / 100, currency="CNY",
                       quantity=rnd.randint(1, 20), purchased_on=day, created_at=at, updated_at=at)


def feedback(keys: list[tuple[str, str, list[str]]], count: int, seed: int) -> Iterator[Feedback]:
    rnd = random.Random(seed)
    for _ in range(count):
        cid, owner, _ = keys[rnd.randrange(len(keys))]
        created = NOW - SPAN + timedelta(seconds=rnd.randrange(int(SPAN.total_seconds())))
        status = rnd.choice(tuple(FeedbackStatus))
        done = status in (FeedbackStatus.RESOLVED, FeedbackStatus.CONFIRMED)
        yield Feedback(
            id=make_id(rnd, created), customer_id=cid, owner_id=owner, kind=rnd.choice(tuple(FeedbackKind)),
            severity=rnd.choice(tuple(Severity)), content="物流太慢", status=status,
            resolved_at=created + timedelta(hours=rnd.randint(1, 240)) if done else None,
            csat=rnd.randint(1, 5) if rnd.random() < 0.5 else None,
            nps=rnd.randint(0, 10) if rnd.random() < 0.4 else None,
            due_at=created + timedelta(days=3), created_at=created, updated_at=created)


BATCH = 300  # records per insert_many: each batch is encoded on the event loop in one go (~30 ms)


def _batches(items: Iterator, size: int) -> Iterator[list]:
    while chunk := list(islice(items, size)):
        yield chunk


async def fill(store: Store, *, customers: int, interactions: int, purchases_n: int, feedback_n: int,
               seed: int = 20260101, birthdays: bool = True) -> list[Customer]:
    """Write the data set into an open store; returns the customers."""
    data = DataSet(customers=customers, interactions=interactions, seed=seed)
    await store.staff.insert_many(data.staff())
    rnd = random.Random(seed + 7)
    people = []
    for customer in data.customer_records():
        if birthdays and rnd.random() < 0.3:
            customer.birthday = Birthday(calendar=CalendarKind.SOLAR, month=rnd.randint(1, 12),
                                         day=rnd.randint(1, 28), year=1960 + rnd.randrange(40))
        people.append(customer)
    for chunk in _batches(iter(people), BATCH):
        await store.customers.insert_many(chunk)
    keys = [(c.id, c.owner_id, c.phones) for c in people]
    for chunk in _batches(data.interaction_records(keys), BATCH):
        await store.interactions.insert_many(chunk)
    for chunk in _batches(purchases(keys, purchases_n, seed + 3), BATCH):
        await store.purchases.insert_many(chunk)
    for chunk in _batches(feedback(keys, feedback_n, seed + 4), BATCH):
        await store.feedback.insert_many(chunk)
    return people


async def day_of_changes(svc: Services, people: list[Customer], rnd: random.Random, *,
                         interactions: int, purchases_n: int, feedback_n: int, edits: int) -> None:
    """One working day through the services: contacts logged, purchases, feedback, card edits."""
    staff = {s.id: s for s in await svc.store.staff.find()}
    live = [c for c in people if c.owner_id in staff]
    for _ in range(interactions):
        c = rnd.choice(live)
        await svc.interactions.log(staff[c.owner_id], c.id, kind=rnd.choice(tuple(InteractionKind)),
                                   direction=Direction.OUTBOUND, outcome=rnd.choice(tuple(Outcome)),
                                   summary="回访")
    today = svc.clock.now().astimezone(svc.config.tz).date()
    for _ in range(purchases_n):
        c = rnd.choice(live)
        await svc.customers.add_purchase(staff[c.owner_id], c.id, product="茶叶", quantity=1,
                                         amount=Decimal(rnd.randrange(100, 50_000)), purchased_on=today)
    for _ in range(feedback_n):
        c = rnd.choice(live)
        await svc.feedback.record(staff[c.owner_id], c.id, kind=rnd.choice(tuple(FeedbackKind)),
                                  severity=Severity.MEDIUM, content="包装破损", csat=rnd.randint(1, 5))
    for _ in range(edits):
        c = rnd.choice(live)
        current = await svc.store.customers.get(c.id)
        if current is not None and not current.archived:
            await svc.customers.set_override(staff[c.owner_id], c.id,
                                             tier=rnd.choice(("high", "mid", "low")) if rnd.random() < 0.5
                                             else None, clear_tier=rnd.random() < 0.5)
