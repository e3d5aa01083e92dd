"""Birthdays (生日): when the next one is, whose is due for a greeting, how old.

Customers' birthdays are kept on the calendar they celebrate: solar
(Gregorian) or the Chinese lunar calendar (农历生日, still common among older
customers).  A lunar birthday moves around the Gregorian calendar every year,
and some lunar dates do not exist every year, so the anniversary rules are
spelled out here once:

- **29 February** (solar) is celebrated on **28 February** in common years —
  before the day rather than after it, so the greeting is never late.
- **Lunar day 30** in a year whose month has only 29 days is celebrated on
  the **29th**, the last day of that month (the same month, not the next).
- A **leap-month** (闰月) birthday in a year without that leap month is
  celebrated in the **regular month** of the same number; in a year that has
  it, in the leap month.  A regular-month birthday is always celebrated in
  the regular month, even when the year also has the leap one.

For a lunar birthday ``Birthday.year`` is the *lunar* year of birth (农历
1990 年腊月二十 is lunar year 1990 although it fell on 4 Feb 1991), so the
birthday is a lunar date as the family writes it.  The year is optional and
only matters for :func:`age_on`.

Pure functions: the date is always passed in.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

from bot.domain.festivals import lunar_to_solar, solar_anniversary
from bot.domain.models import Birthday, CalendarKind, Customer


def anniversary(birthday: Birthday, year: int) -> date:
    """The Gregorian date of the birthday in (solar or lunar) ``year``, by the rules above.

    For a lunar birthday ``year`` is the lunar year, so a 12th-month birthday
    of lunar year 2024 falls in January 2025.
    """
    if birthday.calendar == CalendarKind.SOLAR:
        return solar_anniversary(year, birthday.month, birthday.day)
    return lunar_to_solar(year, birthday.month, birthday.day, leap=birthday.leap_month)


def next_birthday(birthday: Birthday, on_or_after: date) -> date:
    """The first birthday on or after ``on_or_after`` (the birth year is ignored)."""
    if birthday.calendar == CalendarKind.SOLAR:
        this_year = anniversary(birthday, on_or_after.year)
        return (
            this_year if this_year >= on_or_after else anniversary(birthday, on_or_after.year + 1)
        )
    # Lunar year Y spans roughly 21 Jan–20 Feb of Y to the same of Y+1, so the
    # birthday of lunar year Y-1 may still be ahead in January/February of Y,
    # and that of lunar year Y+1 is always after any day of Gregorian Y.
    for lunar_year in (on_or_after.year - 1, on_or_after.year, on_or_after.year + 1):
        day = anniversary(birthday, lunar_year)
        if day >= on_or_after:
            return day
    raise AssertionError("unreachable: lunar year Y+1 always starts after Gregorian year Y")


def birthdays_due(
    customers: Iterable[Customer], today: date, lead_days: int
) -> list[tuple[str, date]]:
    """``(customer id, birthday)`` for each customer whose birthday is exactly
    ``lead_days`` after ``today`` — the day the rep should be reminded.

    Archived customers and customers without a birthday are skipped; input
    order is kept.  Called once per local day by the scheduler (once per
    missed day after downtime; the reminders' dedupe keys absorb repeats).
    """
    if lead_days < 0:
        raise ValueError("lead_days must not be negative")
    target = today + timedelta(days=lead_days)
    return [
        (customer.id, target)
        for customer in customers
        if not customer.archived
        and customer.birthday is not None
        and next_birthday(customer.birthday, target) == target
    ]


def age_on(birthday: Birthday, day: date) -> int | None:
    """Completed years (周岁) on ``day``; ``None`` if the year is unknown or ``day`` precedes birth.

    The age goes up on the anniversary as :func:`next_birthday` places it
    (on 28 February for a 29 February child in a common year; on the lunar
    anniversary for a lunar birthday).
    """
    if birthday.year is None:
        return None
    if day < anniversary(birthday, birthday.year):
        return None
    if birthday.calendar == CalendarKind.SOLAR:
        passed = anniversary(birthday, day.year) <= day
        return day.year - birthday.year - (0 if passed else 1)
    # The latest lunar year whose anniversary is on or before ``day``: lunar
    # year day.year+1 is always later, day.year-2 always earlier.
    for lunar_year in (day.year, day.year - 1):
        if anniversary(birthday, lunar_year) <= day:
            return lunar_year - birthday.year
    return day.year - 2 - birthday.year
