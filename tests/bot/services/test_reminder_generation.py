"""Daily generation without Telegram: stages move with time, reminders are generated once."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from bot.clock import SimulatedClock
from bot.config import load_config
from bot.domain.models import Customer, LifecycleStage, Purchase, ReminderStatus, Role, StaffUser
from bot.services import Services
from storage import open_store

START = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


async def test_stage_moves_to_at_risk_with_time_alone(tmp_path: Path) -> None:
    clock = SimulatedClock(START)
    config = load_config(None, environ={}, search=False)
    async with open_store("tinydb", path=tmp_path) as store:
        svc = Services(config=config, store=store, clock=clock)
        await store.staff.insert(StaffUser(id="7", telegram_id=7, name="Rep", role=Role.REP, teams=["east"]))
        customer = await svc.customers.create(
            await store.staff.get("7"), {"name": "Buyer", "phones": ["+8613800138000"]})
        await store.purchases.insert(Purchase(customer_id=customer.id, owner_id="7", product="x",
                                              amount=Decimal(500), currency="CNY", purchased_on=date(2026, 3, 1)))
        await svc.customers.reclassify(customer.id)
        assert (await store.customers.get(customer.id)).stage is LifecycleStage.NEW
        clock.advance(timedelta(days=200))
        await svc.generator.run_daily(clock.now())
        assert (await store.customers.get(customer.id)).stage is LifecycleStage.CHURNED


async def test_generation_is_idempotent(tmp_path: Path) -> None:
    clock = SimulatedClock(START)
    config = load_config(None, environ={}, search=False)
    async with open_store("tinydb", path=tmp_path) as store:
        svc = Services(config=config, store=store, clock=clock)
        await store.staff.insert(StaffUser(id="7", telegram_id=7, name="Rep", role=Role.REP, teams=["east"]))
        await store.customers.insert(Customer(name="A", owner_id="7", team="east",
                                              next_follow_up_at=START + timedelta(hours=5)))
        for _ in range(3):
            await svc.generator.run_daily(clock.now())
        reminders = await store.reminders.find({"status": ReminderStatus.PENDING.value})
        keys = [r.dedupe_key for r in reminders]
        assert len(keys) == len(set(keys))
        assert sum(1 for k in keys if k.startswith("follow_up:")) == 1
        assert sum(1 for k in keys if k.startswith("agenda:7:")) == 2  # today and tomorrow (time zones ahead)


async def test_the_daily_run_pauses_the_collector_and_gives_it_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 15: the run keeps thousands of decoded records alive; full collections meanwhile
    stopped the loop for 0.1-0.2 s at size M. Paused while it runs, as it was afterwards;
    a small scan freezes nothing (only one of most customers, from FREEZE_FROM, does)."""
    import gc

    from bot.services import reminder_generation

    clock = SimulatedClock(START)
    config = load_config(None, environ={}, search=False)
    seen: list[bool] = []
    frozen: list[bool] = []
    monkeypatch.setattr(reminder_generation.gc, "freeze", lambda: frozen.append(True))
    async with open_store("tinydb", path=tmp_path) as store:
        svc = Services(config=config, store=store, clock=clock)
        await store.staff.insert(StaffUser(id="7", telegram_id=7, name="Rep", role=Role.REP, teams=["east"]))
        await store.customers.insert(Customer(name="A", owner_id="7", team="east"))
        original = svc.generator.agendas

        async def agendas(now: datetime) -> None:
            seen.append(gc.isenabled())
            await original(now)

        monkeypatch.setattr(svc.generator, "agendas", agendas)
        assert gc.isenabled()
        await svc.generator.run_daily(clock.now())
        assert seen == [False] and gc.isenabled() and not frozen
        monkeypatch.setattr(reminder_generation, "FREEZE_FROM", 1)
        clock.advance(timedelta(days=1))
        await svc.generator.run_daily(clock.now())  # a new day: the scan runs and assesses the one customer
        assert frozen == [True] and gc.isenabled()


async def test_a_purchase_marks_the_customer_and_the_reorder_reminder_follows_the_new_cycle(tmp_path: Path) -> None:
    """Issue 20.2: a purchase marks the customer for the scan; the reminder of the old cycle
    is not due any more, the new cycle's comes on its own day (the due-date bucket)."""
    from bot.domain.models import ReminderKind
    from bot.services.reminder_generation import DIRTY

    clock = SimulatedClock(START)
    config = load_config(None, environ={}, search=False)
    async with open_store("tinydb", path=tmp_path) as store:
        svc = Services(config=config, store=store, clock=clock)
        await store.staff.insert(StaffUser(id="7", telegram_id=7, name="Rep", role=Role.REP, teams=["east"]))
        rep = await store.staff.get("7")
        customer = await svc.customers.create(rep, {"name": "Buyer", "phones": ["+8613800138000"]})
        today = date(2026, 3, 2)
        for days_ago in (62, 42, 22):  # every 20 days: the next one was expected 2 days ago
            await store.purchases.insert(Purchase(customer_id=customer.id, owner_id="7", product="x",
                                                  amount=Decimal(500), currency="CNY",
                                                  purchased_on=today - timedelta(days=days_ago)))
        await svc.generator.daily_scan(clock.now())  # expected 2 days ago: past, no reminder
        assert not await store.reminders.find({"kind": ReminderKind.REORDER.value})
        clock.advance(timedelta(days=1))
        await svc.customers.add_purchase(rep, customer.id, product="x", amount=Decimal(500), quantity=1,
                                         purchased_on=today)
        assert await store.kv.get(f"{DIRTY}:{customer.id}") is not None
        await svc.generator.daily_scan(clock.now())  # next expected on today + 20
        assert not await store.reminders.find({"kind": ReminderKind.REORDER.value})
        reminder_day = today + timedelta(days=20 - config.reorder.remind_days_before)
        clock.set(datetime.combine(reminder_day, datetime.min.time(), config.tz) + timedelta(hours=9))
        assert await svc.generator.daily_scan(clock.now()) == 1  # only this customer is due
        (reminder,) = await store.reminders.find({"kind": ReminderKind.REORDER.value})
        assert reminder.recipient_id == "7" and reminder.customer_id == customer.id
        assert reminder.payload["expected"] == (today + timedelta(days=20)).isoformat()
        assert reminder.dedupe_key == f"reorder:{customer.id}:{today.isoformat()}"
