"""The incremental daily scan gives exactly what the full scan gives (issue 15, point 4).

Two stores hold the same generated team; every simulated day the same
changes are made through the services in both, then one runs the old full
scan (every customer reclassified and scored) and the other the incremental
one (only the customers marked, written or due). Tiers, stages, churn
states and churn warnings must come out the same, day after day, across
jumps that cross every kind of threshold.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bench.datagen import NOW
from bench.scan_data import day_of_changes, fill
from bot.clock import SimulatedClock
from bot.config import load_config
from bot.domain.models import Customer, FeedbackStatus, ReminderKind
from bot.services import Services
from bot.services.reminder_generation import CHURN_STATE, DIRTY, _sliced
from storage import TinyDBStore

# Gaps between scans in days: daily runs, downtime, and long jumps past the 60/180/365-day thresholds.
GAPS = (1, 1, 1, 2, 1, 7, 1, 1, 20, 1, 45, 1, 1, 90, 1, 130, 1, 200, 1)


async def snapshot(svc: Services) -> dict[str, Any]:
    store = svc.store
    customers = {c.id: (c.value_tier, c.stage) for c in await store.customers.find()}
    states = {kv.id: kv.value for kv in await store.kv.find({"namespace": CHURN_STATE})}
    warnings = {r.dedupe_key: (r.recipient_id, r.customer_id, r.payload)
                for r in await store.reminders.find({"kind": ReminderKind.CHURN_WARNING.value})}
    reorders = {r.dedupe_key: (r.recipient_id, r.customer_id, r.payload)
                for r in await store.reminders.find({"kind": ReminderKind.REORDER.value})}
    return {"customers": customers, "states": states, "warnings": warnings, "reorders": reorders}


@pytest.fixture
async def pair(tmp_path: Path) -> AsyncIterator[tuple[Services, Services, list[Customer]]]:
    config = load_config(None, environ={}, search=False)
    clock = SimulatedClock(NOW + timedelta(hours=1))
    stores = [TinyDBStore(tmp_path / name, fsync=False) for name in ("full", "incremental")]
    people: list[Customer] = []
    for store in stores:
        await store.open()
        people = await fill(store, customers=240, interactions=2400, purchases_n=900, feedback_n=150, seed=7)
    yield (Services(config=config, store=stores[0], clock=clock),
           Services(config=config, store=stores[1], clock=clock), people)
    for store in stores:
        await store.close()


async def other_edits(svc: Services, people: list[Customer], rnd: random.Random) -> None:
    """Edits beyond the day's new records: a contact deleted, feedback resolved, a customer archived."""
    staff = {s.id: s for s in await svc.store.staff.find()}
    customer = rnd.choice(people)
    logged = await svc.store.interactions.find({"customer_id": customer.id, "deleted": False},
                                               order_by="created_at", descending=True, limit=1)
    if logged and logged[0].created_at >= svc.clock.now() - timedelta(days=1):
        await svc.interactions.delete(staff[customer.owner_id], logged[0].id)
    for item in await svc.store.feedback.find({"status": FeedbackStatus.OPEN.value, "deleted": False}, limit=2):
        await svc.feedback.set_status(staff[item.owner_id], item.id, FeedbackStatus.IN_PROGRESS)
    victim = rnd.choice(people)
    archived = (await svc.store.customers.get(victim.id)).archived
    await svc.customers.archive(staff[victim.owner_id], victim.id, archived=not archived)


async def test_the_incremental_scan_matches_the_full_scan_day_after_day(
    pair: tuple[Services, Services, list[Customer]],
) -> None:
    full, incremental, people = pair
    clock = full.clock
    assessed = []
    for day, gap in enumerate((0, *GAPS)):
        clock.advance(timedelta(days=gap, minutes=37 * day % 600))  # scans at varying times of day
        for svc in (full, incremental):
            rnd = random.Random(day)
            await day_of_changes(svc, people, rnd, interactions=12, purchases_n=3, feedback_n=2, edits=2)
            await other_edits(svc, people, rnd)
        now = clock.now()
        if day == 0:
            live = sum(1 for c in await incremental.store.customers.find() if not c.archived)
        await full.generator.full_scan(now)
        assessed.append(await incremental.generator.daily_scan(now))
        got, want = await snapshot(incremental), await snapshot(full)
        for part in want:
            extra = {k: v for k, v in got[part].items() if want[part].get(k) != v}
            missing = {k: v for k, v in want[part].items() if got[part].get(k) != v}
            assert (extra, missing) == ({}, {}), f"day {day} (+{gap}): {part} differ"
    assert assessed[0] == live  # the first scan ever looks at everyone
    assert max(assessed[1:]) < live  # later ones at far fewer
    assert not await incremental.store.kv.find({"namespace": DIRTY})  # every mark was taken
    warnings = (await snapshot(full))["warnings"]
    assert len(warnings) > 20  # the days crossed thresholds: warnings did come
    assert (await snapshot(full))["reorders"]  # reorder reminders came too, the same in both


async def test_a_scan_on_the_same_day_does_nothing(pair: tuple[Services, Services, list[Customer]]) -> None:
    _full, incremental, _people = pair
    now = incremental.clock.now()
    assert await incremental.generator.daily_scan(now) > 0
    assert await incremental.generator.daily_scan(now + timedelta(hours=3)) == 0


async def test_a_scan_that_fails_keeps_the_marks_for_the_next_one(
    pair: tuple[Services, Services, list[Customer]], monkeypatch: pytest.MonkeyPatch,
) -> None:
    _full, incremental, _people = pair
    generator, clock = incremental.generator, incremental.clock
    await generator.daily_scan(clock.now())
    staff = {s.id: s for s in await incremental.store.staff.find()}
    item = (await incremental.store.feedback.find({"status": FeedbackStatus.OPEN.value, "deleted": False}))[0]
    await incremental.feedback.set_status(staff[item.owner_id], item.id, FeedbackStatus.IN_PROGRESS)
    assert await incremental.store.kv.get(f"{DIRTY}:{item.customer_id}") is not None

    def broken(*args: Any) -> Any:
        raise RuntimeError("a bug in the rules")

    monkeypatch.setattr(generator, "_assess", broken)
    clock.advance(timedelta(days=1))
    with pytest.raises(RuntimeError):
        await generator.daily_scan(clock.now())
    assert await incremental.store.kv.get(f"{DIRTY}:{item.customer_id}") is not None
    monkeypatch.undo()
    assert await generator.daily_scan(clock.now()) > 0  # the day is scanned after all


async def test_the_scans_writes_start_a_few_per_turn_of_the_loop() -> None:
    """Started all at once, 64 writes encoded their records in one turn (over 100 ms): now 4 per turn."""
    turns = 0
    started_in_turn: list[int] = []

    async def ticker() -> None:
        nonlocal turns
        while True:
            await asyncio.sleep(0)
            turns += 1

    async def write() -> None:
        started_in_turn.append(turns)
        await asyncio.sleep(0)

    tick = asyncio.ensure_future(ticker())
    try:
        await asyncio.sleep(0)
        await _sliced(write() for _ in range(20))
    finally:
        tick.cancel()
    assert len(started_in_turn) == 20
    assert max(Counter(started_in_turn).values()) <= 4
