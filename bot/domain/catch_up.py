"""Catching up after downtime: which missed days are caught up, which are beyond the horizon.

The generators keep a bookmark in the store (the last local day they
generated), so a restart or a long outage is caught up from the store,
whatever the in-memory scheduler remembers.  Every missed day up to
``[reminders] catch_up_days`` back is generated; the days before that are
*beyond the horizon*: not generated, but named in one message, never dropped
silently.  Plain functions over dates.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum


@dataclass(frozen=True)
class DayRange:
    first: date
    last: date

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise ValueError(f"empty day range {self.first}..{self.last}")

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def __iter__(self):  # type: ignore[no-untyped-def]
        day = self.first
        while day <= self.last:
            yield day
            day += timedelta(days=1)


@dataclass(frozen=True)
class CatchUp:
    """What a run on ``today`` owes after the bookmark ``done_through``.

    ``missed``: the past days that are caught up (their greetings shown as
    missed); ``beyond``: the older days, past the horizon, only reported.
    Both None on a normal day.
    """

    missed: DayRange | None = None
    beyond: DayRange | None = None


def catch_up(done_through: date | None, today: date, horizon_days: int) -> CatchUp:
    """The missed days between the bookmark and ``today`` (``today`` itself is never missed).

    A fresh installation (no bookmark) has missed nothing.
    """
    if horizon_days < 1:
        raise ValueError("the catch-up horizon is at least one day")
    if done_through is None or done_through >= today - timedelta(days=1):
        return CatchUp()
    first_missed = done_through + timedelta(days=1)
    earliest = today - timedelta(days=horizon_days)
    yesterday = today - timedelta(days=1)
    if first_missed >= earliest:
        return CatchUp(missed=DayRange(first_missed, yesterday))
    return CatchUp(missed=DayRange(earliest, yesterday), beyond=DayRange(first_missed, earliest - timedelta(days=1)))


class DayRelation(StrEnum):
    """How a greeting's day stands to the day it is read: the words are the template's."""

    PAST = "past"
    TODAY = "today"
    TOMORROW = "tomorrow"
    LATER = "later"


def relation(day: date, today: date) -> DayRelation:
    if day < today:
        return DayRelation.PAST
    if day == today:
        return DayRelation.TODAY
    if day == today + timedelta(days=1):
        return DayRelation.TOMORROW
    return DayRelation.LATER
