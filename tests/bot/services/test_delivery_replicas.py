"""Two replicas delivering from one database: 1 000 due reminders, each sent exactly once.

Each replica claims a reminder (an optimistic update with a lease) before it
sends it, so the two delivery loops share the work and never both send one
(``two_stores``, conftest.py: an SQLite file; PostgreSQL when
``CRM_BOT_TEST_DATABASE_URL`` is set).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest

from bot.clock import SimulatedClock
from bot.config import load_config
from bot.domain.models import Customer, ReminderKind, ReminderStatus, Role, StaffUser
from bot.services import Services
from bot.services.delivery import Parcel, Result
from storage.base import Store
from tests.bot.services.test_delivery import NOW

RECIPIENTS, EACH = 50, 20  # 1 000 reminders


@pytest.mark.slow  # ~15-20 s: 1 000 reminders written, claimed and marked on a database
async def test_two_delivery_loops_send_each_of_1000_reminders_once(two_stores: tuple[Store, Store]) -> None:
    clock = SimulatedClock(NOW)
    config = load_config(None, environ={}, search=False)
    a, b = (Services(config=config, store=store, clock=clock) for store in two_stores)
    await a.store.staff.insert_many([
        StaffUser(id=str(800 + n), telegram_id=800 + n, name=f"Rep {n}", role=Role.REP, teams=["east"])
        for n in range(RECIPIENTS)])
    customers = [Customer(name=f"C{n}-{k}", owner_id=str(800 + n)) for n in range(RECIPIENTS) for k in range(EACH)]
    await a.store.customers.insert_many(customers)
    for customer in customers:
        await a.reminders.schedule(kind=ReminderKind.FOLLOW_UP, recipient_id=customer.owner_id, due_at=NOW,
                                   dedupe_key=f"follow_up:{customer.id}", customer_id=customer.id)
    sent: Counter[str] = Counter()
    by_replica: Counter[str] = Counter()

    def telegram(replica: str) -> Any:
        async def send(parcel: Parcel) -> bool:
            await asyncio.sleep(0)  # a real send waits for Telegram: the other replica runs meanwhile
            for reminder in parcel.reminders:
                sent[reminder.id] += 1
                by_replica[replica] += 1
            return True

        return send

    outcomes = await asyncio.gather(a.delivery.deliver_due(NOW, telegram("a")),
                                    b.delivery.deliver_due(NOW, telegram("b")))
    assert len(sent) == RECIPIENTS * EACH and set(sent.values()) == {1}  # every one, exactly once
    assert sum(by_replica.values()) == RECIPIENTS * EACH  # (how they split it is up to the race)
    results = Counter(o.result for replica in outcomes for o in replica)
    assert results[Result.SENT] == RECIPIENTS * EACH
    assert not await a.store.reminders.find({"status": ReminderStatus.PENDING.value})
    assert await a.store.reminders.count({"status": ReminderStatus.SENT.value}) == RECIPIENTS * EACH
