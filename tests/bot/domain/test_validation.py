from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bot.domain.models import Birthday, CalendarKind
from bot.domain.validation import (
    Money,
    ValidationError,
    cn_number,
    format_phone,
    parse_amount,
    parse_birthday,
    parse_email,
    parse_free_text,
    parse_money,
    parse_name,
    parse_phone,
    parse_quantity,
    parse_tags,
    parse_when,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI)  # a Monday
TODAY = NOW.date()


def at(month: int, day: int, hour: int = 9, minute: int = 0, *, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


def reason(call: Callable[[], Any]) -> tuple[str, dict[str, Any]]:
    with pytest.raises(ValidationError) as caught:
        call()
    return caught.value.reason_code, caught.value.params


SOLAR = CalendarKind.SOLAR
LUNAR = CalendarKind.LUNAR


# ----------------------------------------------------------------- names/text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("张伟", "张伟"),
        ("  张   伟 ", "张 伟"),
        ("John\tMiller\n", "John Miller"),
        ("O'Brien-Smith", "O'Brien-Smith"),
        ("Ольга Иванова", "Ольга Иванова"),
        ("김민준", "김민준"),
        ("Anna 🌸", "Anna 🌸"),
        ("John\x00 Miller", "John Miller"),
        ("张\u3000伟", "张 伟"),
    ],
)
def test_parse_name_accepts_any_script(text: str, expected: str) -> None:
    assert parse_name(text) == expected


@pytest.mark.parametrize(
    ("text", "code"),
    [("", "text.empty"), ("   \n ", "text.empty"), ("123", "name.no_letters"),
     ("👍👍", "name.no_letters"), ("-- .", "name.no_letters")],
)
def test_parse_name_refuses(text: str, code: str) -> None:
    assert reason(lambda: parse_name(text))[0] == code


def test_parse_name_limit_is_in_the_reason() -> None:
    assert parse_name("名" * 100) == "名" * 100
    assert reason(lambda: parse_name("名" * 101)) == (
        "text.too_long", {"max_length": 100, "length": 101})


def test_validation_error_carries_field_code_and_params() -> None:
    error = ValidationError("phone", "text.too_long", max_length=5)
    assert (error.field, error.reason_code, error.params) == ("phone", "text.too_long",
                                                              {"max_length": 5})
    assert isinstance(error, ValueError)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("  hello  ", "hello"),
        ("<b>bold</b> & <script>", "<b>bold</b> & <script>"),
        ("客户很满意 😀👍", "客户很满意 😀👍"),
        ("line1\r\nline2\rline3", "line1\nline2\nline3"),
        ("tab\there\x07", "tab\there"),
    ],
)
def test_parse_free_text_keeps_text_literally(text: str, expected: str) -> None:
    assert parse_free_text(text, 100) == expected


def test_parse_free_text_refuses_empty_and_too_long() -> None:
    assert reason(lambda: parse_free_text(" \n\t ", 10))[0] == "text.empty"
    assert reason(lambda: parse_free_text("x" * 11, 10)) == (
        "text.too_long", {"max_length": 10, "length": 11})
    assert reason(lambda: parse_free_text("", 10, field_name="summary"))[0] == "text.empty"
    with pytest.raises(ValidationError) as caught:
        parse_free_text("", 10, field_name="summary")
    assert caught.value.field == "summary"


# ---------------------------------------------------------------------- phone


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("13800138000", "+8613800138000"),
        ("138 0013 8000", "+8613800138000"),
        ("138-0013-8000", "+8613800138000"),
        ("+86 138-0013-8000", "+8613800138000"),
        ("+86 (138) 0013 8000", "+8613800138000"),
        ("0086 13800138000", "+8613800138000"),
        ("８６１３８００１３８０００", "+8613800138000"),
        ("０１３８００１３８０００", "+8613800138000"),
        ("＋８６ １３８ ００１３ ８０００", "+8613800138000"),
        ("(010) 8888 8888", "+861088888888"),
        ("010-88888888", "+861088888888"),
        ("021 6123 4567", "+862161234567"),
        ("+1 650 253 0000", "+16502530000"),
        ("+44 20 7946 0958", "+442079460958"),
        ("+86 13800138000 ext 12", "+8613800138000"),
    ],
)
def test_parse_phone(text: str, expected: str) -> None:
    assert parse_phone(text) == expected


def test_parse_phone_default_region() -> None:
    assert parse_phone("(650) 253-0000", default_region="US") == "+16502530000"
    assert parse_phone("020 7946 0958", default_region="GB") == "+442079460958"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "text.empty"),
        ("abc", "phone.invalid"),
        ("12345", "phone.too_short"),
        ("1380013800", "phone.invalid"),
        ("+861380013800000000", "phone.too_long"),
        ("+999 123 4567", "phone.invalid_country"),
        ("95588", "phone.too_short"),
        ("1" * 300, "phone.too_long"),
    ],
)
def test_parse_phone_refuses_with_reason(text: str, code: str) -> None:
    assert reason(lambda: parse_phone(text))[0] == code


@pytest.mark.parametrize(
    ("e164", "region", "expected"),
    [
        ("+8613800138000", "CN", "138 0013 8000"),
        ("+861088888888", "CN", "010 8888 8888"),
        ("+8613800138000", "US", "+86 138 0013 8000"),
        ("+16502530000", "CN", "+1 650-253-0000"),
        ("+16502530000", "US", "(650) 253-0000"),
        ("not a number", "CN", "not a number"),
    ],
)
def test_format_phone(e164: str, region: str, expected: str) -> None:
    assert format_phone(e164, region) == expected


@pytest.mark.parametrize("region", sorted(phonenumbers.SUPPORTED_REGIONS))
def test_format_phone_round_trips_in_every_region(region: str) -> None:
    example = phonenumbers.example_number(region)
    if example is None:
        pytest.skip(f"no example number for {region}")
    e164 = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
    assert parse_phone(format_phone(e164, region), default_region=region) == e164
    assert parse_phone(format_phone(e164, "CN"), default_region="CN") == e164


@given(
    subscriber=st.integers(min_value=0, max_value=10**8 - 1),
    prefix=st.sampled_from(["138", "139", "150", "186", "177"]),
    separators=st.lists(st.sampled_from(["", " ", "-", "  "]), min_size=10, max_size=10),
    international=st.sampled_from(["", "+86 ", "0086", "+86-"]),
    full_width=st.booleans(),
)
def test_parse_phone_ignores_how_a_mobile_is_typed(
    subscriber: int, prefix: str, separators: list[str], international: str, full_width: bool
) -> None:
    digits = f"{prefix}{subscriber:08d}"
    typed = international + "".join(d + s for d, s in zip(digits, separators + [""],
                                                          strict=True))
    if full_width:
        typed = typed.translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789+"})
    expected = f"+86{digits}"
    assert parse_phone(typed) == expected
    assert parse_phone(format_phone(expected, "CN")) == expected
    assert parse_phone(format_phone(expected, "DE"), default_region="DE") == expected


# ---------------------------------------------------------------------- email


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a@b.co", "a@b.co"),
        ("  John.Doe@Example.COM ", "John.Doe@example.com"),
        ("x+tag@sub.example.org", "x+tag@sub.example.org"),
        ("mailto:x@y.org", "x@y.org"),
        ("ｚｈａｎｇ＠ｑｑ．ｃｏｍ", "zhang@qq.com"),
        ("li@例子.中国", "li@例子.中国"),
    ],
)
def test_parse_email(text: str, expected: str) -> None:
    assert parse_email(text) == expected


@pytest.mark.parametrize(
    "text",
    ["a@b", "a@@b.com", "a..b@c.com", ".a@b.com", "a@b.c", "a b@c.com", "@x.com", "x@-a.com",
     "x@a-.com", "x@a..com", "<x@y.com>", "x@y.com.", "x" * 65 + "@y.com"],
)
def test_parse_email_refuses(text: str) -> None:
    assert reason(lambda: parse_email(text))[0] == "email.invalid"


def test_parse_email_empty_and_too_long() -> None:
    assert reason(lambda: parse_email("  "))[0] == "text.empty"
    code, params = reason(lambda: parse_email("a@" + "b" * 300 + ".com"))
    assert code == "text.too_long" and params["max_length"] == 254


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


# -------------------------------------------------------- amounts & quantity


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1999", Decimal(1999)),
        ("1,999.90", Decimal("1999.90")),
        ("1，999.90", Decimal("1999.90")),
        ("¥1999", Decimal(1999)),
        ("￥1,999", Decimal(1999)),
        ("1999元", Decimal(1999)),
        ("1999 元", Decimal(1999)),
        ("人民币1999元", Decimal(1999)),
        ("RMB 1999", Decimal(1999)),
        ("1.2万", Decimal(12000)),
        ("1.2w", Decimal(12000)),
        ("3k", Decimal(3000)),
        ("3千", Decimal(3000)),
        ("2亿", Decimal(200000000)),
        ("１９９９", Decimal(1999)),
        ("１．５万元", Decimal(15000)),
        ("1 999", Decimal(1999)),
        ("0", Decimal(0)),
        (".5", Decimal("0.5")),
        ("5元整", Decimal(5)),
        ("+20", Decimal(20)),
    ],
)
def test_parse_amount(text: str, expected: Decimal) -> None:
    assert parse_amount(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("¥1999", Money(Decimal("1999.00"), "CNY")),
        ("1999元", Money(Decimal("1999.00"), "CNY")),
        ("$30", Money(Decimal("30.00"), "USD")),
        ("30 USD", Money(Decimal("30.00"), "USD")),
        ("€12.50", Money(Decimal("12.50"), "EUR")),
        ("1999", Money(Decimal("1999.00"), None)),
    ],
)
def test_parse_money_reads_the_currency(text: str, expected: Money) -> None:
    assert parse_money(text) == expected


def test_parse_amount_quantises_to_cents() -> None:
    assert str(parse_amount("1.2万")) == "12000.00"
    assert str(parse_amount("1,999.9")) == "1999.90"


@pytest.mark.parametrize(
    ("text", "code", "params"),
    [
        ("", "text.empty", {}),
        ("-5", "amount.negative", {}),
        ("−5", "amount.negative", {}),
        ("¥-5", "amount.negative", {}),
        ("(5)", "amount.negative", {}),
        ("NaN", "amount.not_a_number", {}),
        ("inf", "amount.not_a_number", {}),
        ("-Infinity", "amount.not_a_number", {}),
        ("abc", "amount.not_a_number", {}),
        ("1e3", "amount.not_a_number", {}),
        ("1,5", "amount.not_a_number", {}),
        ("12,34,567", "amount.not_a_number", {}),
        ("$5元", "amount.not_a_number", {}),
        ("10000000000000", "amount.too_large", {"max": Decimal(10**12)}),
        ("1.1万亿", "amount.not_a_number", {}),
        ("0.001", "amount.too_precise", {"max_decimals": 2}),
    ],
)
def test_parse_amount_refuses(text: str, code: str, params: dict[str, Any]) -> None:
    assert reason(lambda: parse_amount(text)) == (code, params)


def test_parse_amount_limit_is_inclusive() -> None:
    assert parse_amount("1000000000000") == Decimal(10**12)
    assert reason(lambda: parse_amount("1000000000000.01"))[0] == "amount.too_large"


@given(st.decimals(min_value=0, max_value=10**12, places=2, allow_nan=False,
                   allow_infinity=False))
def test_parse_amount_round_trips(value: Decimal) -> None:
    assert parse_amount(f"{value:,}") == value
    assert parse_amount(f"¥{value}") == value
    assert parse_amount(f"{value}元") == value


@pytest.mark.parametrize(
    ("text", "expected"),
    [("3", 3), ("３", 3), ("3件", 3), ("x3", 3), ("×2", 2), ("三", 3), ("十二个", 12),
     ("两台", 2), ("5 pcs", 5), ("1000000", 1_000_000)],
)
def test_parse_quantity(text: str, expected: int) -> None:
    assert parse_quantity(text) == expected


@pytest.mark.parametrize(
    ("text", "code"),
    [("", "text.empty"), ("0", "quantity.not_positive"), ("-1", "quantity.not_positive"),
     ("1.5", "quantity.not_a_number"), ("abc", "quantity.not_a_number"),
     ("1000001", "quantity.too_large")],
)
def test_parse_quantity_refuses(text: str, code: str) -> None:
    assert reason(lambda: parse_quantity(text))[0] == code


@pytest.mark.parametrize(
    ("text", "expected"),
    [("十", 10), ("十五", 15), ("二十", 20), ("廿一", 21), ("卅", 30), ("三十一", 31),
     ("一九九〇", 1990), ("两百零五", 205), ("15", 15), ("一千", 1000), ("十十", None),
     ("abc", None), ("", None)],
)
def test_cn_number(text: str, expected: int | None) -> None:
    assert cn_number(text) == expected


# ----------------------------------------------------------------------- tags


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("vip, 华东；重点客户、#vip #老客户  VIP", ["vip", "华东", "重点客户", "老客户"]),
        ("a,b;c d", ["a", "b", "c", "d"]),
        ("#VIP#vip", ["VIP"]),
        ("", []),
        (" , ; # ", []),
        ("ｖｉｐ，华东", ["vip", "华东"]),
        ("😀 <b>", ["😀", "<b>"]),
    ],
)
def test_parse_tags(text: str, expected: list[str]) -> None:
    assert parse_tags(text) == expected


def test_parse_tags_limits() -> None:
    assert parse_tags("a" * 30) == ["a" * 30]
    code, params = reason(lambda: parse_tags("ok " + "a" * 31))
    assert code == "tag.too_long" and params["max_length"] == 30
    assert reason(lambda: parse_tags(" ".join(f"t{i}" for i in range(21)))) == (
        "tags.too_many", {"max_count": 20})


@given(st.text(max_size=300))
def test_parse_tags_is_idempotent(text: str) -> None:
    try:
        tags = parse_tags(text)
    except ValidationError:
        return
    assert parse_tags(" ".join(tags)) == tags
    assert all(t and len(t) <= 30 for t in tags)


# ----------------------------------------------- no parser raises anything else

ANY_CHARACTER = st.characters(exclude_categories=())
NASTY = st.one_of(
    st.text(max_size=60),
    st.text(alphabet=ANY_CHARACTER, max_size=60),
    st.text(alphabet="０１２３４５６７８９+-.,:/年月日号点半万元¥$农历闰初廿卅十周下午明天后 "
            "abcdefghijklmnopqrstuvwxyz0123456789", max_size=40),
    st.sampled_from([
        "", " ", "\x00", "\u200b", "\ufeff", "𝟙𝟚𝟛", "<script>alert(1)</script>", "&amp;",
        "😀" * 50, "👨‍👩‍👧", "١٢٣٤٥", "੧੨੩", "Ⅻ", "²³", "9" * 400, "x" * 100_000,
        "明天" * 50_000, "-" * 1000, "+" * 20, "00", "0086", "NaN", "1e999", "9" * 30 + "万",
        "农历闰十三月初八", "农历9999年正月初一", "99999-01-01", "9999-12-31 23:59",
        "at 99", "at 12:99", "0点", "24点", "99点", "下周八", "9999天后",
    ]),
)

TEXT_PARSERS: list[Callable[[str], object]] = [
    parse_name,
    lambda t: parse_free_text(t, 4000),
    parse_phone,
    lambda t: format_phone(t, "CN"),
    parse_email,
    parse_amount,
    parse_money,
    parse_quantity,
    parse_tags,
]


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(text=NASTY, which=st.integers(0, len(TEXT_PARSERS) - 1))
def test_fast_parsers_raise_only_validation_errors(text: str, which: int) -> None:
    try:
        TEXT_PARSERS[which](text)
    except ValidationError:
        pass


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(NASTY)
def test_parse_birthday_raises_only_validation_errors(text: str) -> None:
    try:
        result = parse_birthday(text, today=TODAY)
    except ValidationError:
        return
    assert isinstance(result, Birthday)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(NASTY)
def test_parse_when_raises_only_validation_errors(text: str) -> None:
    try:
        result = parse_when(text, now=NOW, tz=SHANGHAI)
    except ValidationError:
        return
    assert result >= NOW and result.tzinfo == SHANGHAI
