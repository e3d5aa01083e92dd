"""The one clock the bot reads time from.

Production uses ``SystemClock``. Tests and the sandbox console use
``SimulatedClock``, which stands still until moved, so that "next Tuesday",
due reminders and report periods are computed against a time the test
chooses — never with sleeps.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class SimulatedClock:
    """A clock that moves only when told to (``advance`` / ``set``)."""

    def __init__(self, start: datetime | None = None) -> None:
        start = start or datetime.now(UTC).replace(microsecond=0)
        if start.tzinfo is None:
            raise ValueError("SimulatedClock needs a timezone-aware start")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        if delta < timedelta(0):
            raise ValueError("the clock only moves forward")
        self._now += delta
        return self._now

    def set(self, moment: datetime) -> datetime:
        if moment.tzinfo is None:
            raise ValueError("set() needs a timezone-aware datetime")
        moment = moment.astimezone(UTC)
        if moment < self._now:
            raise ValueError("the clock only moves forward")
        self._now = moment
        return self._now
