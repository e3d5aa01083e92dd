"""Report periods: ``[start, end)`` cut at local midnights in the business time zone.

A moment belongs to a period when ``start <= moment < end`` (aware datetimes,
compared in UTC); a purchase date belongs when its local midnight does.
:meth:`Period.previous` is what every figure is compared with.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import StrEnum

from bot.domain.reports._util import require_aware


class PeriodKind(StrEnum):
    """What a period is, so that :meth:`Period.previous` can step by calendar units."""

    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    CUSTOM = "custom"


@dataclass(frozen=True)
class Period:
    """``[start, end)``: timezone-aware, ``end`` exclusive.

    Build one with the constructors, which cut at local midnights in the
    business time zone (a Shanghai manager's "today" starts at 00:00 Beijing
    time, 16:00 UTC the day before).  ``tz`` is the zone the period was cut in
    (``start``'s own zone when built directly); purchase dates are read in it.
    """

    start: datetime
    end: datetime
    kind: PeriodKind = PeriodKind.CUSTOM
    tz: tzinfo | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        require_aware("Period.start", self.start)
        require_aware("Period.end", self.end)
        if not self.start.astimezone(UTC) < self.end.astimezone(UTC):
            raise ValueError("Period.start must be before Period.end")
        if self.tz is None:
            object.__setattr__(self, "tz", self.start.tzinfo)

    # -- constructors ------------------------------------------------------

    @classmethod
    def today(cls, now: datetime, tz: tzinfo) -> Period:
        day = local_date(now, tz)
        return cls(_midnight(day, tz), _midnight(day + timedelta(days=1), tz), PeriodKind.DAY, tz)

    @classmethod
    def this_week(cls, now: datetime, tz: tzinfo) -> Period:
        """Monday 00:00 to next Monday 00:00 (the week as China and ISO 8601 count it)."""
        monday = local_date(now, tz)
        monday -= timedelta(days=monday.weekday())
        return cls(
            _midnight(monday, tz), _midnight(monday + timedelta(days=7), tz), PeriodKind.WEEK, tz
        )

    @classmethod
    def this_month(cls, now: datetime, tz: tzinfo) -> Period:
        first = local_date(now, tz).replace(day=1)
        return cls._month(first, tz)

    @classmethod
    def last_month(cls, now: datetime, tz: tzinfo) -> Period:
        first = local_date(now, tz).replace(day=1)
        return cls._month((first - timedelta(days=1)).replace(day=1), tz)

    @classmethod
    def custom(cls, start_date: date, end_date: date, tz: tzinfo) -> Period:
        """From ``start_date`` to ``end_date`` *inclusive*, as a person says "1–15 March"."""
        if end_date < start_date:
            raise ValueError("the end date is before the start date")
        return cls(
            _midnight(start_date, tz),
            _midnight(end_date + timedelta(days=1), tz),
            PeriodKind.CUSTOM,
            tz,
        )

    @classmethod
    def _month(cls, first: date, tz: tzinfo) -> Period:
        days = calendar.monthrange(first.year, first.month)[1]
        return cls(
            _midnight(first, tz),
            _midnight(first + timedelta(days=days), tz),
            PeriodKind.MONTH,
            tz,
        )

    # -- queries -----------------------------------------------------------

    def previous(self) -> Period:
        """The period of the same length just before this one.

        Length is counted in local calendar days when both ends are local
        midnights (so a day across a DST change is still the day before), and
        a calendar month's previous period is the calendar month before:
        comparing March with "the 31 days before" would compare it with 3 days
        of January and all of February.
        """
        tz = self.tz or UTC
        if self.kind is PeriodKind.MONTH:
            first = self.start.astimezone(tz).date()
            return Period._month((first - timedelta(days=1)).replace(day=1), tz)
        local_start, local_end = self.start.astimezone(tz), self.end.astimezone(tz)
        if local_start.time() == time() and local_end.time() == time():
            days = (local_end.date() - local_start.date()).days
            new_start = local_start.date() - timedelta(days=days)
            return Period(_midnight(new_start, tz), self.start, self.kind, tz)
        start, end = self.start.astimezone(UTC), self.end.astimezone(UTC)  # real, not wall, time
        return Period((start - (end - start)).astimezone(tz), self.start, self.kind, tz)

    def contains(self, moment: datetime) -> bool:
        # In UTC: Python compares two datetimes sharing a tzinfo by wall time, which is
        # wrong in the repeated hour when clocks go back.
        return self.start.astimezone(UTC) <= moment.astimezone(UTC) < self.end.astimezone(UTC)

    @property
    def first_day(self) -> date:
        """The first local calendar day whose midnight is in the period."""
        local = self.start.astimezone(self.tz)
        return local.date() if local.time() == time() else local.date() + timedelta(days=1)

    @property
    def end_day(self) -> date:
        """The first local calendar day (at or after the end) whose midnight is not in it."""
        local = self.end.astimezone(self.tz)
        return local.date() if local.time() == time() else local.date() + timedelta(days=1)

    @property
    def last_day(self) -> date:
        """The last local calendar day the period touches (for "1–31 March" labels)."""
        return (self.end - timedelta(microseconds=1)).astimezone(self.tz).date()


    def label(self) -> str:
        first = self.start.astimezone(self.tz).date()
        last = self.last_day
        return first.isoformat() if first == last else f"{first.isoformat()} – {last.isoformat()}"


def local_date(now: datetime, tz: tzinfo) -> date:
    require_aware("now", now)
    return now.astimezone(tz).date()


def _midnight(day: date, tz: tzinfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=tz)

