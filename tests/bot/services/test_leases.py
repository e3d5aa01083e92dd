"""One replica at a time runs each generation task: a leased row, claimed by compare-and-set.

Two replicas are two store objects on one database (``two_stores``, conftest.py),
each with its own ``Leases`` owner, as two processes would be.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta
from typing import Any

from bot.clock import SimulatedClock
from bot.scheduler import Scheduler
from bot.services import Services
from bot.services.leases import Leases
from storage.base import Store
from tests.conftest import START


async def test_a_lease_has_one_holder_until_released(two_stores: tuple[Store, Store]) -> None:
    clock = SimulatedClock(START)
    a, b = Leases(two_stores[0], clock, owner="a"), Leases(two_stores[1], clock, owner="b")
    held = await a.claim("generate")
    assert held is not None and held.value["owner"] == "a"
    assert await b.claim("generate") is None
    assert await a.claim("generate") is not None  # its own holder may claim it again
    await a.release(await two_stores[0].kv.get("lease:generate"))
    taken = await b.claim("generate")
    assert taken is not None and taken.value["owner"] == "b"


async def test_an_expired_lease_of_a_crashed_holder_is_taken_over(two_stores: tuple[Store, Store]) -> None:
    clock = SimulatedClock(START)
    a = Leases(two_stores[0], clock, owner="a", ttl=timedelta(minutes=5))
    b = Leases(two_stores[1], clock, owner="b", ttl=timedelta(minutes=5))
    held = await a.claim("generate")  # … and then "a" dies without releasing it
    assert held is not None
    clock.advance(timedelta(minutes=4, seconds=59))
    assert await b.claim("generate") is None  # not expired yet
    clock.advance(timedelta(seconds=2))
    taken = await b.claim("generate")
    assert taken is not None and taken.value["owner"] == "b"
    assert await a.renew(held) is None  # the old holder, were it only slow, learns it lost it
    assert await a.claim("generate") is None


async def test_two_schedulers_firing_at_once_run_the_task_once(two_stores: tuple[Store, Store]) -> None:
    clock = SimulatedClock(START)
    runs: list[str] = []
    both_ticking = asyncio.Event()
    entered = 0

    def replica(store: Store, owner: str) -> Scheduler:
        leases = Leases(store, clock, owner=owner)

        async def scan(now: Any) -> None:
            runs.append(owner)
            await both_ticking.wait()  # still running when the other replica's scheduler fires

        async def counted(now: Any) -> None:
            nonlocal entered
            entered += 1
            if entered == 2:
                both_ticking.set()
            await leases.exclusive("generate", scan)(now)

        scheduler = Scheduler(clock)
        scheduler.add("generate", timedelta(hours=1), counted)
        return scheduler

    first, second = replica(two_stores[0], "a"), replica(two_stores[1], "b")
    await asyncio.gather(first.tick(), second.tick())
    assert len(runs) == 1  # the other one skipped
    clock.advance(timedelta(hours=1))  # the next hour: whoever fires first runs it, once
    runs.clear()
    entered = 0
    both_ticking.clear()
    await asyncio.gather(second.tick(), first.tick())
    assert len(runs) == 1


async def test_the_daily_scan_runs_once_across_two_replicas(two_stores: tuple[Store, Store], config: Any) -> None:
    """The real generation task of two replicas, fired at the same moment: one daily scan."""
    clock = SimulatedClock(START)
    config = dataclasses.replace(config, storage=dataclasses.replace(config.storage))
    scans: list[int] = []
    schedulers = []
    for n, store in enumerate(two_stores):
        services = Services(config=config, store=store, clock=clock)
        real = services.generator.daily_scan

        async def daily_scan(now: Any, n: int = n, real: Any = real) -> int:
            scans.append(n)
            await asyncio.sleep(0)
            return await real(now)

        services.generator.daily_scan = daily_scan  # type: ignore[method-assign]
        scheduler = Scheduler(clock)
        scheduler.add("generate", timedelta(hours=1),
                      services.leases.exclusive("generate", services.generator.run_daily))
        schedulers.append(scheduler)
    await asyncio.gather(*(s.tick() for s in schedulers))
    assert len(scans) == 1
    clock.advance(timedelta(hours=1))  # later the same day: the bookmark says it was done
    await asyncio.gather(*(s.tick() for s in schedulers))
    assert len(scans) == 1
    clock.advance(timedelta(days=1))
    await asyncio.gather(*(s.tick() for s in schedulers))
    assert len(scans) == 2
