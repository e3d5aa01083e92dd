"""Birthdays: next occurrence (solar, lunar, the gaps), who is due, age."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.birthdays import age_on, anniversary, birthdays_due, next_birthday
from bot.domain.models import Birthday, CalendarKind, Customer

SOLAR = CalendarKind.SOLAR
LUNAR = CalendarKind.LUNAR


def solar(month: int, day: int, year: int | None = None) -> Birthday:
    return Birthday(calendar=SOLAR, month=month, day=day, year=year)


def lunar(month: int, day: int, year: int | None = None, *, leap: bool = False) -> Birthday:
    return Birthday(calendar=LUNAR, month=month, day=day, year=year, leap_month=leap)


def customer(id: str, birthday: Birthday | None, **fields: object) -> Customer:
    return Customer(id=id, name="客户", owner_id="rep", birthday=birthday, **fields)  # type: ignore[arg-type]


# --- solar -------------------------------------------------------------------


def test_solar_this_year_today_or_next_year() -> None:
    assert next_birthday(solar(5, 20), date(2025, 3, 1)) == date(2025, 5, 20)
    assert next_birthday(solar(5, 20), date(2025, 5, 20)) == date(2025, 5, 20)
    assert next_birthday(solar(5, 20), date(2025, 5, 21)) == date(2026, 5, 20)
    assert next_birthday(solar(1, 1), date(2025, 12, 31)) == date(2026, 1, 1)


def test_solar_29_february_is_the_28th_in_common_years() -> None:
    leapling = solar(2, 29, 2000)
    assert next_birthday(leapling, date(2025, 1, 1)) == date(2025, 2, 28)
    assert next_birthday(leapling, date(2025, 3, 1)) == date(2026, 2, 28)
    assert next_birthday(leapling, date(2027, 3, 1)) == date(2028, 2, 29)
    assert next_birthday(leapling, date(2100, 1, 1)) == date(2100, 2, 28)  # 2100 is no leap year


# --- lunar -------------------------------------------------------------------


def test_lunar_birthday_moves_with_the_lunar_calendar() -> None:
    mid_autumn_child = lunar(8, 15)
    assert next_birthday(mid_autumn_child, date(2024, 1, 1)) == date(2024, 9, 17)
    assert next_birthday(mid_autumn_child, date(2024, 9, 18)) == date(2025, 10, 6)


def test_a_twelfth_month_birthday_of_last_lunar_year_can_still_be_ahead_in_january() -> None:
    # 腊月二十 of lunar year 2024 is 19 January 2025.
    assert next_birthday(lunar(12, 20), date(2025, 1, 5)) == date(2025, 1, 19)
    assert next_birthday(lunar(12, 20), date(2025, 1, 20)) == date(2026, 2, 7)


def test_lunar_day_30_in_a_29_day_month_is_the_29th() -> None:
    # The 12th month of lunar 2024 has 29 days, that of lunar 2023 has 30.
    assert next_birthday(lunar(12, 30), date(2025, 1, 1)) == date(2025, 1, 28)
    assert next_birthday(lunar(12, 30), date(2024, 1, 1)) == date(2024, 2, 9)


def test_leap_month_birthday_in_a_year_with_and_without_that_leap_month() -> None:
    # Lunar 2025 has a leap 6th month (闰六月, from 25 July); 2026 has none.
    leap_born = lunar(6, 10, leap=True)
    assert next_birthday(leap_born, date(2025, 1, 1)) == date(2025, 8, 3)  # 闰六月初十
    assert next_birthday(leap_born, date(2026, 1, 1)) == date(2026, 7, 23)  # regular 六月初十
    # A regular-month birthday stays in the regular month even in a leap year.
    assert next_birthday(lunar(6, 10), date(2025, 1, 1)) == date(2025, 7, 4)
    # Leap 6th month 2025 has 29 days: 闰六月三十 → 廿九.
    assert next_birthday(lunar(6, 30, leap=True), date(2025, 1, 1)) == date(2025, 8, 22)


@settings(max_examples=150, deadline=None)
@given(
    month=st.integers(1, 12),
    day=st.integers(1, 30),
    leap=st.booleans(),
    start=st.dates(min_value=date(1950, 1, 1), max_value=date(2090, 12, 31)),
)
def test_lunar_next_birthday_properties(month: int, day: int, leap: bool, start: date) -> None:
    from lunar_python import Solar

    birthday = lunar(month, day, leap=leap)
    found = next_birthday(birthday, start)
    assert start <= found < start + timedelta(days=385)
    assert next_birthday(birthday, found) == found
    assert next_birthday(birthday, found + timedelta(days=1)) > found
    as_lunar = Solar.fromYmd(found.year, found.month, found.day).getLunar()
    assert abs(as_lunar.getMonth()) == month  # negative = leap month in lunar-python
    assert as_lunar.getDay() == day or (day == 30 and as_lunar.getDay() == 29)
    if not leap:
        assert as_lunar.getMonth() > 0


@settings(max_examples=150, deadline=None)
@given(
    birthday=st.dates(min_value=date(2000, 1, 1), max_value=date(2000, 12, 31)),
    start=st.dates(min_value=date(1950, 1, 1), max_value=date(2090, 12, 31)),
)
def test_solar_next_birthday_properties(birthday: date, start: date) -> None:
    found = next_birthday(solar(birthday.month, birthday.day), start)
    assert start <= found < start + timedelta(days=367)
    assert (found.month, found.day) == (birthday.month, birthday.day) or (
        (birthday.month, birthday.day, found.month, found.day) == (2, 29, 2, 28)
    )


# --- due ---------------------------------------------------------------------


def test_birthdays_due_with_lead_days() -> None:
    people = [
        customer("a", solar(3, 10)),
        customer("b", lunar(1, 15)),  # 元宵 2025 = 12 Feb
        customer("c", None),
        customer("d", solar(3, 10), archived=True),
        customer("e", solar(3, 11)),
    ]
    assert birthdays_due(people, date(2025, 3, 7), lead_days=3) == [("a", date(2025, 3, 10))]
    assert birthdays_due(people, date(2025, 3, 10), lead_days=0) == [("a", date(2025, 3, 10))]
    assert birthdays_due(people, date(2025, 2, 11), lead_days=1) == [("b", date(2025, 2, 12))]
    assert birthdays_due(people, date(2025, 4, 1), lead_days=1) == []
    with pytest.raises(ValueError):
        birthdays_due(people, date(2025, 4, 1), lead_days=-1)


def test_a_29_february_birthday_is_due_on_the_28th_in_common_years() -> None:
    people = [customer("leap", solar(2, 29))]
    assert birthdays_due(people, date(2025, 2, 27), 1) == [("leap", date(2025, 2, 28))]
    assert birthdays_due(people, date(2024, 2, 27), 1) == []
    assert birthdays_due(people, date(2024, 2, 28), 1) == [("leap", date(2024, 2, 29))]


# --- age ---------------------------------------------------------------------


def test_age_on_solar() -> None:
    born = solar(5, 20, 1990)
    assert age_on(born, date(2025, 5, 19)) == 34
    assert age_on(born, date(2025, 5, 20)) == 35
    assert age_on(born, date(1990, 5, 20)) == 0
    assert age_on(born, date(1990, 5, 19)) is None  # before birth
    assert age_on(solar(5, 20), date(2025, 5, 20)) is None  # year unknown


def test_age_of_a_29_february_child_goes_up_on_the_28th_in_common_years() -> None:
    leapling = solar(2, 29, 2000)
    assert age_on(leapling, date(2025, 2, 27)) == 24
    assert age_on(leapling, date(2025, 2, 28)) == 25
    assert age_on(leapling, date(2024, 2, 28)) == 23
    assert age_on(leapling, date(2024, 2, 29)) == 24


def test_age_on_lunar_counts_lunar_anniversaries() -> None:
    # 农历 1990 年腊月二十 = 4 Feb 1991; its 34th lunar anniversary is 19 Jan 2025.
    born = lunar(12, 20, 1990)
    assert anniversary(born, 1990) == date(1991, 2, 4)
    assert age_on(born, date(1991, 2, 3)) is None
    assert age_on(born, date(1991, 2, 4)) == 0
    assert age_on(born, date(2025, 1, 18)) == 33
    assert age_on(born, date(2025, 1, 19)) == 34
    assert age_on(born, date(2025, 12, 31)) == 34
    assert age_on(born, date(2026, 2, 7)) == 35  # 腊月二十 of lunar 2025
    assert age_on(lunar(12, 20), date(2025, 1, 19)) is None
