from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.clock import SimulatedClock
from bot.scheduler import Scheduler

START = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


async def test_tasks_run_by_the_clock_not_by_real_time() -> None:
    clock = SimulatedClock(START)
    scheduler = Scheduler(clock)
    seen: list[datetime] = []

    async def hourly(moment: datetime) -> None:
        seen.append(moment)

    scheduler.add("hourly", timedelta(hours=1), hourly, max_catch_up=3)
    assert await scheduler.tick() == ["hourly"]
    assert await scheduler.tick() == []
    clock.advance(timedelta(minutes=59))
    assert await scheduler.tick() == []
    clock.advance(timedelta(minutes=1))
    assert await scheduler.tick() == ["hourly"]
    clock.advance(timedelta(hours=10))
    await scheduler.tick()
    # three catch-up runs at their own moments, then one at "now"
    assert seen[2:] == [
        START + timedelta(hours=2),
        START + timedelta(hours=3),
        START + timedelta(hours=4),
        START + timedelta(hours=11),
    ]


async def test_a_failing_task_does_not_stop_the_others() -> None:
    clock = SimulatedClock(START)
    scheduler = Scheduler(clock)
    ran: list[str] = []

    async def bad(moment: datetime) -> None:
        raise RuntimeError("boom")

    async def good(moment: datetime) -> None:
        ran.append("good")

    scheduler.add("bad", timedelta(minutes=1), bad)
    scheduler.add("good", timedelta(minutes=1), good)
    assert await scheduler.tick() == ["bad", "good"]
    assert ran == ["good"]


def test_bad_registrations_are_refused() -> None:
    scheduler = Scheduler(SimulatedClock(START))

    async def task(moment: datetime) -> None: ...

    scheduler.add("a", timedelta(minutes=1), task)
    with pytest.raises(ValueError):
        scheduler.add("a", timedelta(minutes=1), task)
    with pytest.raises(ValueError):
        scheduler.add("b", timedelta(0), task)
