"""Birthdays, follow-up times and Chinese numerals as typed (bot/domain/dates.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bot.domain.dates import cn_number, parse_birthday, parse_when
from bot.domain.models import Birthday, CalendarKind
from tests.bot.domain.typed import NOW, SHANGHAI, TODAY, at, reason

SOLAR = CalendarKind.SOLAR
LUNAR = CalendarKind.LUNAR


# ----------------------------------------------------------------- birthdays


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1990-05-03", Birthday(calendar=SOLAR, month=5, day=3, year=1990)),
        ("1990/5/3", Birthday(calendar=SOLAR, month=5, day=3, year=1990)),
        ("1990.5.3", Birthday(calendar=SOLAR, month=5, day=3, year=1990)),
        ("19900503", Birthday(calendar=SOLAR, month=5, day=3, year=1990)),
        ("3 May", Birthday(calendar=SOLAR, month=5, day=3)),
        ("May 3", Birthday(calendar=SOLAR, month=5, day=3)),
        ("May 3 1990", Birthday(calendar=SOLAR, month=5, day=3, year=1990)),
        ("May 3, 1990", Birthday(calendar=SOLAR, month=5, day=3, year=1990)),
        ("3rd of May 1990", Birthday(calendar=SOLAR, month=5, day=3, year=1990)),
        ("5/3", Birthday(calendar=SOLAR, month=5, day=3)),
        ("Feb 29", Birthday(calendar=SOLAR, month=2, day=29)),
        ("五月三日", Birthday(calendar=SOLAR, month=5, day=3)),
        ("5月3日", Birthday(calendar=SOLAR, month=5, day=3)),
        ("5月3号", Birthday(calendar=SOLAR, month=5, day=3)),
        ("１９９０年５月３日", Birthday(calendar=SOLAR, month=5, day=3, year=1990)),
        ("1990年5月3日", Birthday(calendar=SOLAR, month=5, day=3, year=1990)),
        ("一九九〇年五月三日", Birthday(calendar=SOLAR, month=5, day=3, year=1990)),
        ("十二月三十一日", Birthday(calendar=SOLAR, month=12, day=31)),
        ("十月二十一日生日", Birthday(calendar=SOLAR, month=10, day=21)),
        ("农历八月十五", Birthday(calendar=LUNAR, month=8, day=15)),
        ("阴历正月初一", Birthday(calendar=LUNAR, month=1, day=1)),
        ("農曆八月十五", Birthday(calendar=LUNAR, month=8, day=15)),
        ("农历1990年八月十五", Birthday(calendar=LUNAR, month=8, day=15, year=1990)),
        ("农历8月15日", Birthday(calendar=LUNAR, month=8, day=15)),
        ("lunar 8/15", Birthday(calendar=LUNAR, month=8, day=15)),
        ("Lunar 1990-8-15", Birthday(calendar=LUNAR, month=8, day=15, year=1990)),
        ("lunar leap 4/8", Birthday(calendar=LUNAR, month=4, day=8, leap_month=True)),
        ("农历闰四月初八", Birthday(calendar=LUNAR, month=4, day=8, leap_month=True)),
        ("农历2025年闰六月初一", Birthday(calendar=LUNAR, month=6, day=1, year=2025,
                                     leap_month=True)),
        ("八月十五（农历）", Birthday(calendar=LUNAR, month=8, day=15)),
        ("旧历腊月廿三", Birthday(calendar=LUNAR, month=12, day=23)),
        ("冬月三十", Birthday(calendar=LUNAR, month=11, day=30)),
        ("正月初一", Birthday(calendar=LUNAR, month=1, day=1)),
        ("腊月二十九", Birthday(calendar=LUNAR, month=12, day=29)),
        ("农历十一月廿一", Birthday(calendar=LUNAR, month=11, day=21)),
    ],
)
def test_parse_birthday(text: str, expected: Birthday) -> None:
    assert parse_birthday(text, today=TODAY) == expected


@pytest.mark.parametrize(
    ("text", "code", "params"),
    [
        ("", "text.empty", {}),
        ("hello", "date.unrecognised", {}),
        ("1990", "date.unrecognised", {}),
        ("yesterday", "date.unrecognised", {}),
        ("3 days ago", "date.unrecognised", {}),
        ("1991-02-29", "date.invalid", {}),
        ("二月三十日", "date.invalid", {}),
        ("13/13", "date.unrecognised", {}),
        ("2030-01-01", "date.future_birthday", {}),
        ("2026-03-03", "date.future_birthday", {}),
        ("1850-01-01", "date.out_of_range", {"min_year": 1900, "max_year": 2100}),
        ("农历2025年闰四月初一", "date.no_leap_month", {"year": 2025, "month": 4}),
        ("农历2025年八月三十", "date.invalid", {}),
        ("农历2026年八月十五", "date.future_birthday", {}),
        ("农历十三月一日", "date.unrecognised", {}),
        ("lunar 2/31", "date.invalid", {}),
    ],
)
def test_parse_birthday_refuses(text: str, code: str, params: dict[str, Any]) -> None:
    assert reason(lambda: parse_birthday(text, today=TODAY)) == (code, params)


def test_birthday_today_is_not_in_the_future() -> None:
    assert parse_birthday("2026-03-02", today=TODAY).year == 2026
    # 农历2026年正月十四 is 2026-03-02 (solar); 十五 the next day
    assert parse_birthday("农历2026年正月十四", today=TODAY).day == 14
    assert reason(lambda: parse_birthday("农历2026年正月十五", today=TODAY))[0] == (
        "date.future_birthday")


def test_birthday_languages_restrict_dateparser() -> None:
    assert parse_birthday("3 May", today=TODAY, languages=("en",)).month == 5
    assert reason(lambda: parse_birthday("3 Mai", today=TODAY, languages=("en",)))[0] == (
        "date.unrecognised")
    assert parse_birthday("3 Mai", today=TODAY, languages=("de",)).month == 5


@settings(max_examples=50, deadline=None)
@given(st.dates(min_value=date(1900, 1, 1), max_value=TODAY))
def test_solar_birthday_round_trips(day: date) -> None:
    expected = Birthday(calendar=SOLAR, year=day.year, month=day.month, day=day.day)
    assert parse_birthday(day.isoformat(), today=TODAY) == expected
    assert parse_birthday(f"{day.year}年{day.month}月{day.day}日", today=TODAY) == expected
    assert parse_birthday(day.strftime("%B %d %Y"), today=TODAY) == expected


@settings(max_examples=50, deadline=None)
@given(st.integers(min_value=1901, max_value=2025), st.integers(1, 12), st.integers(1, 29),
       st.booleans())
def test_lunar_birthday_round_trips(year: int, month: int, day: int, leap: bool) -> None:
    from lunar_python import LunarYear

    assume(not leap or LunarYear.fromYear(year).getLeapMonth() == month)
    expected = Birthday(calendar=LUNAR, year=year, month=month, day=day, leap_month=leap)
    text = f"农历{year}年{'闰' if leap else ''}{month}月{day}日"
    assert parse_birthday(text, today=TODAY) == expected


# ---------------------------------------------------------------------- when


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tomorrow", at(3, 3)),
        ("Tomorrow", at(3, 3)),
        ("next Tue 3pm", at(3, 3, 15)),
        ("in 3 days", at(3, 5)),
        ("Friday", at(3, 6)),
        ("friday 3pm", at(3, 6, 15)),
        ("3:30 pm friday", at(3, 6, 15, 30)),
        ("3pm", at(3, 2, 15)),
        ("tomorrow at 10", at(3, 3, 10)),
        ("10am tomorrow", at(3, 3, 10)),
        ("tomorrow 9:30am", at(3, 3, 9, 30)),
        ("tomorrow morning", at(3, 3, 9)),
        ("tomorrow afternoon", at(3, 3, 14)),
        ("noon", at(3, 2, 12)),
        ("in 2 hours", at(3, 2, 11)),
        ("next week", at(3, 9)),
        ("March 10", at(3, 10)),
        ("10 March 9:30", at(3, 10, 9, 30)),
        ("2026-03-05 14:00", at(3, 5, 14)),
        ("2026-03-05", at(3, 5)),
        ("2026/3/5 14:00", at(3, 5, 14)),
        ("now", at(3, 2)),
        ("下周二下午三点", at(3, 10, 15)),
        ("下周二", at(3, 10)),
        ("下个周二", at(3, 10)),
        ("下下周一", at(3, 16)),
        ("本周五", at(3, 6)),
        ("这周三下午2点", at(3, 4, 14)),
        ("明天上午10点", at(3, 3, 10)),
        ("明天 上午 10:30", at(3, 3, 10, 30)),
        ("明天", at(3, 3)),
        ("后天", at(3, 4)),
        ("大后天", at(3, 5)),
        ("明天下午", at(3, 3, 14)),
        ("今晚", at(3, 2, 19)),
        ("明晚8点", at(3, 3, 20)),
        ("明早", at(3, 3, 8)),
        ("3天后", at(3, 5)),
        ("3 天后", at(3, 5)),
        ("两天后", at(3, 4)),
        ("过三天", at(3, 5)),
        ("两周后", at(3, 16)),
        ("2小时后", at(3, 2, 11)),
        ("30分钟后", at(3, 2, 9, 30)),
        ("下午三点", at(3, 2, 15)),
        ("下午3点半", at(3, 2, 15, 30)),
        ("晚上八点一刻", at(3, 2, 20, 15)),
        ("中午12点", at(3, 2, 12)),
        ("中午1点", at(3, 2, 13)),
        ("周五", at(3, 6)),
        ("星期五", at(3, 6)),
        ("礼拜三上午十点半", at(3, 4, 10, 30)),
        ("星期天", at(3, 8)),
        ("周日", at(3, 8)),
        ("周一下午3点", at(3, 2, 15)),
        ("下周五 15:00", at(3, 13, 15)),
        ("3月5日", at(3, 5)),
        ("3月5号下午2点", at(3, 5, 14)),
        ("3月1日", at(3, 1, year=2027)),
        ("２０２６年３月５日", at(3, 5)),
        ("十点", at(3, 2, 10)),
        ("10点20分", at(3, 2, 10, 20)),
        ("14:00", at(3, 2, 14)),
        ("8:30", at(3, 3, 8, 30)),
    ],
)
def test_parse_when(text: str, expected: datetime) -> None:
    result = parse_when(text, now=NOW, tz=SHANGHAI)
    assert result == expected
    assert result.tzinfo == SHANGHAI


@pytest.mark.parametrize(
    ("text", "now", "expected"),
    [
        # date only, for today once 09:00 has passed: the next full hour
        ("今天", at(3, 2, 14, 10), at(3, 2, 15)),
        ("today", at(3, 2, 14, 10), at(3, 2, 15)),
        # a bare weekday that is today but already past: next week
        ("周一", at(3, 2, 14, 10), at(3, 9)),
        ("Monday", at(3, 2, 14, 10), at(3, 9)),
        ("周一下午3点", at(3, 2, 14, 10), at(3, 2, 15)),
        # a time already past today: tomorrow
        ("3pm", at(3, 2, 15, 30), at(3, 3, 15)),
        ("下午三点", at(3, 2, 16), at(3, 3, 15)),
        ("9:00", at(3, 2, 9, 1), at(3, 3, 9)),
        # Friday evening
        ("下周一", at(3, 6, 18), at(3, 9)),
        ("周五", at(3, 6, 18), at(3, 13)),
    ],
)
def test_parse_when_relative_to_the_time_of_day(
    text: str, now: datetime, expected: datetime
) -> None:
    assert parse_when(text, now=now, tz=SHANGHAI) == expected


def test_parse_when_converts_now_into_the_users_zone() -> None:
    utc_now = NOW.astimezone(UTC)
    assert parse_when("明天上午10点", now=utc_now, tz=SHANGHAI) == at(3, 3, 10)
    new_york = ZoneInfo("America/New_York")
    result = parse_when("tomorrow 10am", now=utc_now, tz=new_york)
    assert result == datetime(2026, 3, 2, 10, tzinfo=new_york)  # 20:00 on 1 March there
    assert result.tzinfo == new_york


def test_parse_when_across_a_dst_change() -> None:
    new_york = ZoneInfo("America/New_York")
    now = datetime(2026, 3, 7, 12, tzinfo=new_york)
    result = parse_when("tomorrow 10am", now=now, tz=new_york)
    assert result == datetime(2026, 3, 8, 10, tzinfo=new_york)
    assert result.utcoffset() == timedelta(hours=-4)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "text.empty"),
        ("   ", "text.empty"),
        ("hello", "date.unrecognised"),
        ("<b>", "date.unrecognised"),
        ("a", "date.unrecognised"),
        ("yesterday", "date.in_past"),
        ("昨天", "date.in_past"),
        ("2026-03-01 10:00", "date.in_past"),
        ("本周一上午8点", "date.in_past"),
        ("下个月", "date.too_vague"),
        ("next month", "date.too_vague"),
        ("2月30日", "date.invalid"),
        ("25:00", "date.invalid"),
        ("13pm", "date.invalid"),
        ("下午25点", "date.invalid"),
        ("2040-01-01", "date.too_far"),
        ("明天" * 60, "text.too_long"),
    ],
)
def test_parse_when_refuses(text: str, code: str) -> None:
    assert reason(lambda: parse_when(text, now=NOW, tz=SHANGHAI))[0] == code


def test_parse_when_needs_an_aware_now() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        parse_when("tomorrow", now=datetime(2026, 3, 2, 9), tz=SHANGHAI)


@settings(max_examples=50, deadline=None)
@given(st.integers(min_value=1, max_value=60 * 24 * 365 * 3))
def test_parse_when_round_trips_a_written_out_time(minutes_ahead: int) -> None:
    when = (NOW + timedelta(minutes=minutes_ahead)).astimezone(SHANGHAI)
    assert parse_when(when.strftime("%Y-%m-%d %H:%M"), now=NOW, tz=SHANGHAI) == when
    zh = f"{when.year}年{when.month}月{when.day}日{when.hour}点{when.minute}分"
    assert parse_when(zh, now=NOW, tz=SHANGHAI) == when


@pytest.mark.parametrize(
    ("text", "expected"),
    [("十", 10), ("十五", 15), ("二十", 20), ("廿一", 21), ("卅", 30), ("三十一", 31),
     ("一九九〇", 1990), ("两百零五", 205), ("15", 15), ("一千", 1000), ("十十", None),
     ("abc", None), ("", None)],
)
def test_cn_number(text: str, expected: int | None) -> None:
    assert cn_number(text) == expected
