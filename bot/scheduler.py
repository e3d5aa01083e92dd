"""Periodic work driven by the one clock.

The scheduler holds named tasks, each run every ``every`` of *clock* time.
In production PTB's JobQueue calls ``tick`` every few real seconds; the
sandbox console's ``/clock +1d`` and the tests move a simulated clock and
call ``tick`` themselves, so whatever would have happened in that time
happens now, in order, once per interval (a task that was due several
times during a jump runs once per missed interval up to ``max_catch_up``,
then once). That in-memory catch-up is only a convenience: a restart forgets
it, so every task that owes something per day or per period catches up
from its own bookmark in the store, day by day, up to ``[reminders]
catch_up_days`` (``bot.services.reminder_generation``, ``ReportService.
generate_scheduled``). The reminder, report and greeting features register
their tasks here; delivery of what they produce goes through the store's
outbox so a restart loses nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.clock import Clock

log = logging.getLogger(__name__)

TaskFunction = Callable[[datetime], Awaitable[None]]


@dataclass
class Task:
    name: str
    every: timedelta
    run: TaskFunction
    max_catch_up: int = 1
    next_run: datetime | None = field(default=None)


class Scheduler:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.tasks: dict[str, Task] = {}
        self.created_at = clock.now()
        self.last_tick: datetime | None = None
        """When (by the clock) the last tick started; ``/healthz`` reports its lag."""

    def tick_lag(self) -> timedelta:
        """How long ago the last tick started (since the scheduler was made, before the first)."""
        return self.clock.now() - (self.last_tick or self.created_at)

    def add(self, name: str, every: timedelta, run: TaskFunction, *, max_catch_up: int = 1) -> None:
        if name in self.tasks:
            raise ValueError(f"task {name!r} already registered")
        if every <= timedelta(0):
            raise ValueError("a task interval must be positive")
        self.tasks[name] = Task(name, every, run, max_catch_up)

    async def tick(self) -> list[str]:
        """Run every task that is due by the clock's now; returns the names run, in order."""
        ran: list[str] = []
        now = self.clock.now()
        self.last_tick = now
        for task in self.tasks.values():
            if task.next_run is None:
                task.next_run = now
            runs = 0
            while task.next_run <= now:
                moment = task.next_run if runs < task.max_catch_up else now
                try:
                    await task.run(moment)
                except Exception:
                    log.exception("scheduled task %s failed at %s", task.name, moment)
                ran.append(task.name)
                runs += 1
                task.next_run = moment + task.every
                if moment == now:
                    break
        return ran
