"""One grammar for the dates and times people type, in Chinese and English.

Birthdays (solar or lunar: "农历八月十五", "3 May 1990"), follow-up times
("下周二下午三点", "next Tue 3pm"), purchase days ("昨天", "3月1日") and report
ranges ("3月1日-3月15日", "1 March - 15 March") share the Chinese numerals,
the date forms dateparser misses, and one cache of dateparser's parsers
(building one costs far more than the parse itself). Pure: "now" and
"today" are arguments. Refusals raise :class:`ValidationError`; the reason
codes are listed in :mod:`bot.domain.validation` and, for ranges, here:

==========================  ==================================================
``range.unrecognised``      not two dates the parser can read
``range.reversed``          the end is before the start
``range.in_future``         the range starts after today
``range.too_long``          [``max_days``] longer than a report may cover
==========================  ==================================================

Report ranges accept the separators ``- – — ~ 至 到 to until`` (or a space
between two ISO dates). A start without a year is in this year, or last year
when its month is still to come; an end without a year follows its start,
rolling into the next year only across New Year; an end given as a bare day
("-15日", "1-15 March") borrows the other side's month. A purchase day
without a year is the most recent such day.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from dateparser.date import DateDataParser
from lunar_python import LunarMonth, Solar

from bot.domain.models import Birthday, CalendarKind, ModelError
from bot.domain.validation import INPUT_MAX, ValidationError, nfkc, one_line

DEFAULT_TIME = time(9, 0)
WHEN_MAX_YEARS = 10
BIRTHDAY_MIN_YEAR = 1900
BIRTHDAY_MAX_YEAR = 2100


# ---------------------------------------------------------------- dateparser

@functools.lru_cache(maxsize=128)
def _date_parser(languages: tuple[str, ...], settings: tuple[tuple[str, Any], ...]) -> DateDataParser:
    return DateDataParser(
        languages=list(languages),
        settings={key: list(value) if isinstance(value, tuple) else value for key, value in settings},
    )


def _date_data(text: str, languages: tuple[str, ...] | list[str], **settings: Any) -> Any:
    """dateparser's reading of ``text``, by a parser built once per language set and settings."""
    key = tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in settings.items()))
    return _date_parser(tuple(languages), key).get_date_data(text)


# ------------------------------------------------------ Chinese numerals/dates

_CN_DIGITS = {"零": 0, "〇": 0, "○": 0, "一": 1, "二": 2, "两": 2, "兩": 2, "三": 3, "四": 4,
              "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}
CN_NUM = "零〇○一二两兩三四五六七八九十百千廿卅"


def cn_number(text: str) -> int | None:
    """``"15"``, ``"十五"``, ``"廿一"``, ``"一九九〇"`` → int; None if it is not a number.

    Covers what people write for days, months, hours and years (up to 9999):
    positional numerals with 十/百/千, and digit-by-digit years.
    """
    if not text:
        return None
    if text.isascii() and text.isdigit():
        return int(text)
    text = text.replace("廿", "二十").replace("卅", "三十")
    if any(ch not in _CN_DIGITS and ch not in _CN_UNITS for ch in text):
        return None
    if not any(ch in _CN_UNITS for ch in text):
        value = 0
        for ch in text:
            value = value * 10 + _CN_DIGITS[ch]
        return value
    total, pending, last_unit = 0, None, 10_000
    for ch in text:
        if ch in "零〇○" and pending is None:
            continue
        if ch in _CN_DIGITS:
            if pending is not None:
                return None
            pending = _CN_DIGITS[ch]
        else:
            unit = _CN_UNITS[ch]
            if unit >= last_unit:
                return None
            total += (1 if pending is None else pending) * unit
            pending, last_unit = None, unit
    if pending is not None:
        total += pending
    return total


_LUNAR_MONTH_NAMES = {"正": 1, "冬": 11, "腊": 12, "臘": 12}
_LUNAR_MARKER = re.compile(
    r"[(（\[【]?\s*(?:农历|農曆|農历|阴历|陰曆|陰历|旧历|舊曆|lunar(?:\s+calendar)?)\s*[)）\]】]?"
    r"\s*[:：]?",
    re.IGNORECASE,
)
_LEAP = r"(?P<leap>闰|閏|leap\s*)?"
_YEAR = r"(?P<y>\d{4}|[零〇○一二三四五六七八九]{4})"
_MONTH = r"(?P<m>\d{1,2}|正|冬|腊|臘|十[一二]?|[一二三四五六七八九])"
_DAY = r"(?P<d>初[一二三四五六七八九十]|\d{1,2}|[一二三]?十[一二三四五六七八九]?|[廿卅][一二三四五六七八九]?|[一二三四五六七八九])"
_CN_DATE = re.compile(
    rf"(?:{_YEAR}\s*年\s*)?{_LEAP}\s*{_MONTH}\s*月(?:份)?\s*{_DAY}\s*(?:日|号|號)?"
)
_NUMERIC_YMD = re.compile(
    r"(?P<y>\d{4})\s*[-/.]\s*(?P<m>\d{1,2})\s*[-/.]\s*(?P<d>\d{1,2})|(?P<y8>\d{4})(?P<m8>\d{2})(?P<d8>\d{2})"
)
_NUMERIC_LUNAR = re.compile(
    rf"(?:(?P<y>\d{{4}})\s*[-/.]\s*)?{_LEAP}(?P<m>\d{{1,2}})\s*[-/.]\s*(?P<d>\d{{1,2}})"
)


@dataclass(frozen=True)
class _DateParts:
    month: int
    day: int
    year: int | None = None
    leap: bool = False
    lunar_hint: bool = False


def _cn_date_parts(text: str) -> _DateParts | None:
    match = _CN_DATE.fullmatch(text)
    if match is None:
        return None
    month_text, day_text = match["m"], match["d"]
    month = _LUNAR_MONTH_NAMES.get(month_text) or cn_number(month_text)
    day = cn_number(day_text.removeprefix("初"))
    year = cn_number(match["y"]) if match["y"] else None
    if month is None or day is None:
        return None
    lunar_hint = (
        day_text.startswith("初") or month_text in _LUNAR_MONTH_NAMES or match["leap"] is not None
    )
    return _DateParts(month, day, year, match["leap"] is not None, lunar_hint)


# ------------------------------------------------------------------- birthday


def _birthday(field_name: str, parts: _DateParts, calendar: CalendarKind) -> Birthday:
    if parts.year is not None and not BIRTHDAY_MIN_YEAR <= parts.year <= BIRTHDAY_MAX_YEAR:
        raise ValidationError(field_name, "date.out_of_range", min_year=BIRTHDAY_MIN_YEAR,
                              max_year=BIRTHDAY_MAX_YEAR)
    try:
        return Birthday(calendar=calendar, month=parts.month, day=parts.day, year=parts.year,
                        leap_month=parts.leap and calendar is CalendarKind.LUNAR)
    except ModelError:
        raise ValidationError(field_name, "date.invalid") from None


def _lunar_to_solar(birthday: Birthday) -> date:
    """The solar date of a lunar birthday with a year; validates the lunar date."""
    assert birthday.year is not None
    month = LunarMonth.fromYm(birthday.year, -birthday.month if birthday.leap_month
                              else birthday.month)
    if month is None:
        raise ValidationError("birthday", "date.no_leap_month", year=birthday.year,
                              month=birthday.month)
    if birthday.day > month.getDayCount():
        raise ValidationError("birthday", "date.invalid")
    solar: Solar = Solar.fromJulianDay(month.getFirstJulianDay() + birthday.day - 1)
    return date(solar.getYear(), solar.getMonth(), solar.getDay())


def _parse_lunar(text: str) -> Birthday:
    parts = _cn_date_parts(text)
    if parts is None:
        match = _NUMERIC_LUNAR.fullmatch(text)
        if match is None:
            raise ValidationError("birthday", "date.unrecognised")
        parts = _DateParts(int(match["m"]), int(match["d"]),
                           int(match["y"]) if match["y"] else None, match["leap"] is not None)
    return _birthday("birthday", parts, CalendarKind.LUNAR)


def _dateparser_birthday(text: str, languages: tuple[str, ...]) -> Birthday:
    """English (and other) free-text dates: "3 May", "May 3 1990", "3rd of May 1990".

    Relative expressions ("yesterday", "3 days ago") are not birthdays, so
    only dateparser's absolute parsers run.  Whether a year was typed is
    learnt by asking twice: once requiring a year, once not.
    """
    base = {"PARSERS": ["custom-formats", "absolute-time"], "PREFER_DAY_OF_MONTH": "first"}
    for parts, with_year in ((["day", "month", "year"], True), (["day", "month"], False)):
        try:
            found = _date_data(text, languages, **base, REQUIRE_PARTS=parts).date_obj
        except Exception:  # noqa: BLE001 - dateparser raises assorted errors on odd input
            found = None
        if found is not None:
            return _birthday("birthday", _DateParts(found.month, found.day,
                                                    found.year if with_year else None),
                             CalendarKind.SOLAR)
    raise ValidationError("birthday", "date.unrecognised")


def parse_birthday(text: str, *, languages: tuple[str, ...] = ("zh", "en"),
                   today: date) -> Birthday:
    """A solar or lunar birthday, the year optional.

    Solar: "1990-05-03", "1990/5/3", "19900503", "5月3日", "五月三日",
    "1990年5月3日", "3 May", "May 3 1990".  Lunar when marked (农历/阴历/
    旧历/lunar, before or after) — "农历八月十五", "阴历正月初一",
    "农历1990年八月十五", "lunar 8/15", "农历闰四月初八" — and also when the
    wording can only be lunar (正月/冬月/腊月, 初一…初十, 闰).  A birthday with
    a year after ``today`` is refused; a lunar one with a year is checked
    against the real calendar (month length, leap month).
    """
    raw = one_line(nfkc(text)).lower()
    if not raw:
        raise ValidationError("birthday", "text.empty")
    if len(raw) > INPUT_MAX:
        raise ValidationError("birthday", "text.too_long", max_length=INPUT_MAX,
                              length=len(raw))
    marked = _LUNAR_MARKER.search(raw) is not None
    body = _LUNAR_MARKER.sub(" ", raw).strip().removesuffix("生日").strip()
    parts = _cn_date_parts(body)
    if marked or (parts is not None and parts.lunar_hint):
        birthday = _parse_lunar(body)
        if birthday.year is not None:
            solar = _lunar_to_solar(birthday)
            if solar > today:
                raise ValidationError("birthday", "date.future_birthday")
        return birthday
    if parts is None:
        match = _NUMERIC_YMD.fullmatch(body)
        if match is not None:
            parts = (_DateParts(int(match["m"]), int(match["d"]), int(match["y"]))
                     if match["y"] else
                     _DateParts(int(match["m8"]), int(match["d8"]), int(match["y8"])))
    birthday = (_birthday("birthday", parts, CalendarKind.SOLAR) if parts is not None
                else _dateparser_birthday(body, languages))
    if birthday.year is not None and date(birthday.year, birthday.month, birthday.day) > today:
        raise ValidationError("birthday", "date.future_birthday")
    return birthday


# ----------------------------------------------------------------------- when

_WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6,
             "1": 0, "2": 1, "3": 2, "4": 3, "5": 4, "6": 5, "7": 6}
_PERIOD_HOURS = {
    "凌晨": 3, "早上": 8, "早晨": 8, "清晨": 7, "上午": 9, "中午": 12, "午后": 14, "下午": 14,
    "傍晚": 18, "晚上": 19, "夜里": 21, "夜间": 21, "晚间": 19,
    "morning": 9, "noon": 12, "midday": 12, "afternoon": 14, "evening": 19, "tonight": 19,
    "midnight": 0,
}
_PM_PERIODS = {"午后", "下午", "傍晚", "晚上", "夜里", "夜间", "晚间", "afternoon", "evening",
               "tonight"}
_ZH_PERIOD = r"凌晨|早上|早晨|清晨|上午|中午|午后|下午|傍晚|晚上|夜里|夜间|晚间"
_CN_SMALL = r"\d{1,2}|[零〇一二两三四五六七八九十]{1,3}"
_ZH_TIME = re.compile(
    rf"(?P<period>{_ZH_PERIOD})?\s*(?P<h>{_CN_SMALL})\s*(?:点钟|点|點|时|時)\s*"
    rf"(?:(?P<half>半)|(?P<q1>一刻)|(?P<q3>三刻)|(?P<min>{_CN_SMALL})\s*分?)?"
)
_CLOCK = re.compile(
    rf"(?P<period>{_ZH_PERIOD})?\s*(?:\bat\s+)?(?P<h>\d{{1,2}})(?::(?P<min>\d{{2}}))?"
    r"\s*(?P<ampm>[ap]\.?m\.?)(?![a-z])"
    rf"|(?P<period2>{_ZH_PERIOD})?\s*(?:\bat\s+)?(?<![\d:])(?P<h2>\d{{1,2}}):(?P<min2>\d{{2}})"
    r"(?![\d:])"
    r"|\bat\s+(?P<h3>\d{1,2})(?![\d:./-])(?!\s*(?:days?|weeks?|hours?|minutes?|mins?)\b)"
)
_PERIOD_ONLY = re.compile(rf"(?P<period>{_ZH_PERIOD}|\b(?:in the )?(?:morning|afternoon|evening)"
                          r"\b|\btonight\b|\bnoon\b|\bmidday\b|\bmidnight\b)")
_ZH_SHORTHANDS = (("今晚", "今天晚上"), ("明晚", "明天晚上"), ("今早", "今天早上"),
                  ("明早", "明天早上"), ("星期天", "星期日"), ("礼拜天", "礼拜日"))
_ZH_DAY_WORDS = {"今天": 0, "今日": 0, "明天": 1, "明日": 1, "后天": 2, "後天": 2, "大后天": 3,
                 "大後天": 3}
_ZH_WEEKDAY = re.compile(
    r"(?P<which>下下个?|下个?|本|这个?|這個?)?\s*(?:周|週|星期|礼拜|禮拜)(?P<wd>[一二三四五六日天1-7])"
)
_ZH_AFTER = re.compile(
    rf"(?:过|過)?\s*(?P<n>{_CN_SMALL}|\d{{1,3}})\s*个?\s*(?P<unit>天|日|周|週|星期|礼拜|禮拜)"
    r"\s*(?:后|後|以后|以後|之后|之後)?"
)
_VAGUE_WORDS = re.compile(r"month|year|月|年")


@dataclass
class _WhenParts:
    """A date and/or a time of day read from the input, before they are combined."""

    day: date | None = None
    clock: time | None = None
    weekday_floating: bool = False
    year_floating: bool = False
    exact: datetime | None = None


def _hour_in_period(hour: int, period: str | None) -> int:
    if period is None:
        return hour
    if period in _PM_PERIODS and hour < 12:
        return hour + 12
    if period == "中午" and hour < 6:
        return hour + 12
    if period in ("凌晨", "midnight") and hour == 12:
        return 0
    return hour


def _make_time(field_name: str, hour: int, minute: int) -> time:
    if hour == 24 and minute == 0:
        hour = 0
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        raise ValidationError(field_name, "date.invalid")
    return time(hour, minute)


def _extract_clock(text: str, field_name: str) -> tuple[time | None, str]:
    """Find a time of day ("下午三点半", "3pm", "14:00", "at 10", "晚上") and cut it out."""
    match = _ZH_TIME.search(text)
    if match is not None:
        hour = cn_number(match["h"])
        if match["half"]:
            minute: int | None = 30
        elif match["q1"]:
            minute = 15
        elif match["q3"]:
            minute = 45
        else:
            minute = cn_number(match["min"]) if match["min"] else 0
        if hour is None or minute is None:
            raise ValidationError(field_name, "date.unrecognised")
        clock = _make_time(field_name, _hour_in_period(hour, match["period"]), minute)
        return clock, text[:match.start()] + " " + text[match.end():]
    match = _CLOCK.search(text)
    if match is not None:
        if match["h"] is not None:
            hour, minute = int(match["h"]), int(match["min"] or 0)
            if not 1 <= hour <= 12:
                raise ValidationError(field_name, "date.invalid")
            hour = hour % 12 + (12 if match["ampm"].startswith("p") else 0)
            hour = _hour_in_period(hour, match["period"])
        elif match["h2"] is not None:
            hour = _hour_in_period(int(match["h2"]), match["period2"])
            minute = int(match["min2"])
        else:
            hour, minute = int(match["h3"]), 0
        clock = _make_time(field_name, hour, minute)
        return clock, text[:match.start()] + " " + text[match.end():]
    match = _PERIOD_ONLY.search(text)
    if match is not None:
        word = match["period"].removeprefix("in the ")
        return time(_PERIOD_HOURS[word], 0), text[:match.start()] + " " + text[match.end():]
    return None, text


def _zh_day(text: str, today: date) -> _WhenParts | None:
    """The Chinese date forms dateparser misses or misreads: 下周二, 周五, 3天后, 3月5日."""
    if text in _ZH_DAY_WORDS:
        return _WhenParts(day=today + timedelta(days=_ZH_DAY_WORDS[text]))
    match = _ZH_WEEKDAY.fullmatch(text)
    if match is not None:
        weekday = _WEEKDAYS[match["wd"]]
        which = (match["which"] or "").rstrip("个個")
        monday = today - timedelta(days=today.weekday())
        if which == "下下":
            return _WhenParts(day=monday + timedelta(days=14 + weekday))
        if which == "下":
            return _WhenParts(day=monday + timedelta(days=7 + weekday))
        if which in ("本", "这", "這"):
            return _WhenParts(day=monday + timedelta(days=weekday))
        return _WhenParts(day=today + timedelta(days=(weekday - today.weekday()) % 7),
                          weekday_floating=True)
    match = _ZH_AFTER.fullmatch(text)
    if match is not None and (match.group(0).startswith(("过", "過")) or
                              match.group(0).endswith(("后", "後"))):
        count = cn_number(match["n"])
        if count is None:
            return None
        days = count if match["unit"] in ("天", "日") else 7 * count
        return _WhenParts(day=today + timedelta(days=days))
    parts = _cn_date_parts(text)
    if parts is None:
        numeric = _NUMERIC_YMD.fullmatch(text)
        if numeric is None:
            return None
        parts = (_DateParts(int(numeric["m"]), int(numeric["d"]), int(numeric["y"]))
                 if numeric["y"] else
                 _DateParts(int(numeric["m8"]), int(numeric["d8"]), int(numeric["y8"])))
    if parts.lunar_hint:
        return None
    try:
        return _WhenParts(day=date(parts.year or today.year, parts.month, parts.day),
                          year_floating=parts.year is None)
    except ValueError:
        raise ValidationError("when", "date.invalid") from None


def _dateparser_when(text: str, local_now: datetime, tz: ZoneInfo,
                     languages: tuple[str, ...]) -> _WhenParts | None:
    settings = {
        # Cut to the minute, as follow-ups are: within a minute the cached parser serves again.
        "RELATIVE_BASE": local_now.replace(tzinfo=None, second=0, microsecond=0),
        "PREFER_DATES_FROM": "future",
        "PREFER_DAY_OF_MONTH": "first",
        "RETURN_TIME_AS_PERIOD": True,
        "TIMEZONE": tz.key,
        "RETURN_AS_TIMEZONE_AWARE": True,
    }
    try:
        data = _date_data(text, languages, **settings)
        found = data.date_obj.astimezone(tz) if data.date_obj is not None else None
    except Exception:  # noqa: BLE001 - dateparser raises assorted errors on odd input
        return None
    if found is None:
        return None
    if data.period in ("month", "year"):
        if _VAGUE_WORDS.search(text):
            raise ValidationError("when", "date.too_vague")
        return None
    if data.period == "time":
        return _WhenParts(exact=found)
    return _WhenParts(day=found.date())


def _read_when(text: str, local_now: datetime, tz: ZoneInfo,
               languages: tuple[str, ...]) -> _WhenParts:
    today = local_now.date()
    clock, rest = _extract_clock(text, "when")
    rest = one_line(rest).removesuffix("的").strip(" ,，")
    if clock is not None and not rest:
        return _WhenParts(clock=clock, weekday_floating=True)
    if clock is not None:
        compact = rest.replace(" ", "")
        parts = _zh_day(compact, today) or _dateparser_when(rest, local_now, tz, languages)
        if parts is not None and parts.exact is None:
            parts.clock = clock
            return parts
    compact = text.replace(" ", "")
    parts = _zh_day(compact, today) or _dateparser_when(text, local_now, tz, languages)
    if parts is None:
        raise ValidationError("when", "date.unrecognised")
    return parts


def parse_when(text: str, *, now: datetime, tz: ZoneInfo,
               languages: tuple[str, ...] = ("zh", "en")) -> datetime:
    """A follow-up or due time in the future, timezone-aware in ``tz``.

    English goes to dateparser ("tomorrow", "next Tue 3pm", "in 3 days",
    "Friday", "2026-03-05 14:00"); the Chinese forms it misses (下周二,
    周五, 下午三点, 明天上午10点, 3月5日, 两天后) are read here first.  A time
    of day is cut out and read here too, because dateparser moves a bare
    "3pm" to tomorrow even when 3 pm today is still ahead.

    Rules:
    - date without a time → 09:00 local; for *today* once 09:00 has passed,
      the next full hour (a rep typing "今天" at 14:10 means later today);
    - time without a date → today if still ahead, else tomorrow;
    - a bare weekday (周五, "Friday") → its next occurrence that is still
      ahead; 下周X is that weekday of next week (weeks start on Monday);
    - a month-day without a year → this year, or next year once passed;
    - "next month"-style answers without a day are refused as too vague,
      times already passed as ``date.in_past``, and anything more than
      ten years ahead as ``date.too_far``.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    raw = one_line(nfkc(text)).lower()
    if not raw:
        raise ValidationError("when", "text.empty")
    if len(raw) > INPUT_MAX:
        raise ValidationError("when", "text.too_long", max_length=INPUT_MAX,
                              length=len(raw))
    for short, long in _ZH_SHORTHANDS:
        raw = raw.replace(short, long)
    local_now = now.astimezone(tz)
    parts = _read_when(raw, local_now, tz, languages)
    result = _combine(parts, local_now, tz)
    if result < now:
        raise ValidationError("when", "date.in_past")
    if result > local_now + timedelta(days=366 * WHEN_MAX_YEARS):
        raise ValidationError("when", "date.too_far", max_years=WHEN_MAX_YEARS)
    return result


def _combine(parts: _WhenParts, local_now: datetime, tz: ZoneInfo) -> datetime:
    if parts.exact is not None:
        return parts.exact
    today = local_now.date()
    day = parts.day or today
    clock = parts.clock if parts.clock is not None else DEFAULT_TIME

    def at(d: date) -> datetime:
        return datetime.combine(d, clock, tzinfo=tz)

    if at(day) < local_now:
        if parts.weekday_floating:
            day += timedelta(days=1 if parts.day is None else 7)
        elif parts.year_floating:
            try:
                day = day.replace(year=day.year + 1)
            except ValueError:
                raise ValidationError("when", "date.in_past") from None  # 29 Feb, gone
        elif day == today and parts.clock is None:
            next_hour = (local_now + timedelta(hours=1)).replace(minute=0, second=0,
                                                                 microsecond=0)
            if next_hour.date() == today:
                return next_hour
    return at(day)


# ------------------------------------------------------------------- purchase day

PURCHASE_MAX_AGE_YEARS = 10
_PURCHASE_CN_DATE = re.compile(r"(?:(\d{4})年)?(\d{1,2})月(\d{1,2})[日号]?")
_PURCHASE_RELATIVE = {
    "today": 0, "今天": 0, "今日": 0,
    "yesterday": 1, "昨天": 1, "昨日": 1,
    "前天": 2, "the day before yesterday": 2,
}


def parse_purchase_date(text: str, *, today: date) -> date:
    """When the customer bought: today or earlier, at most ten years back.

    "today", "昨天", "2026-03-01", "3/1", "3月1日", "1 March", "last Friday".
    Without a year the most recent such day is meant ("3月1日" in February
    is last year's).
    """
    cleaned = " ".join(text.split()).lower()
    if not cleaned:
        raise ValidationError("purchased_on", "text.empty")
    if len(cleaned) > INPUT_MAX:
        raise ValidationError("purchased_on", "date.unrecognised")
    if cleaned in _PURCHASE_RELATIVE:
        return today - timedelta(days=_PURCHASE_RELATIVE[cleaned])
    chinese = _PURCHASE_CN_DATE.fullmatch(cleaned.replace(" ", ""))
    if chinese:
        return _purchase_checked(_purchase_cn_date(chinese, today), today)
    try:
        parsed = _date_data(
            cleaned, ("zh", "en"),
            PREFER_DATES_FROM="past",
            RELATIVE_BASE=datetime.combine(today, time(12, 0)),
            REQUIRE_PARTS=["day", "month"],
            DATE_ORDER="YMD" if cleaned[:4].isdigit() else "MDY",
        ).date_obj
    except Exception:  # noqa: BLE001 - dateparser raises assorted errors on odd input
        parsed = None
    if parsed is None:
        raise ValidationError("purchased_on", "date.unrecognised")
    return _purchase_checked(parsed.date(), today)


def _purchase_cn_date(match: re.Match[str], today: date) -> date:
    year, month, day = match.group(1), int(match.group(2)), int(match.group(3))
    try:
        if year:
            return date(int(year), month, day)
        candidate = date(today.year, month, day)
        return candidate if candidate <= today else date(today.year - 1, month, day)
    except ValueError:
        raise ValidationError("purchased_on", "date.invalid") from None


def _purchase_checked(day: date, today: date) -> date:
    if day > today:
        raise ValidationError("purchased_on", "date.in_future")
    if day.year < today.year - PURCHASE_MAX_AGE_YEARS:
        raise ValidationError("purchased_on", "date.out_of_range",
                              min_year=today.year - PURCHASE_MAX_AGE_YEARS, max_year=today.year)
    return day


# ------------------------------------------------------------------- report range

RANGE_FIELD = "range"
RANGE_MAX_INPUT = 80
RANGE_MAX_DAYS = 366

# Tried in this order: a real separator wins over a plain space ("1 March - 15 March").
_RANGE_SEPARATORS = (
    re.compile(r"\s*(?:至|到|~|～|–|—|－|-|\bto\b|\buntil\b|\btill\b|\bthrough\b)\s*"),
    re.compile(r"\s+"),
)
_RANGE_NUMERIC = re.compile(r"(?P<y>\d{4})\s*[-/.年]\s*(?P<m>\d{1,2})\s*[-/.月]\s*(?P<d>\d{1,2})\s*[日号號]?")
_RANGE_CN_NUM = r"\d{1,2}|[一二三四五六七八九十廿卅]{1,3}"
_RANGE_CN = re.compile(
    rf"(?:(?P<y>\d{{4}})\s*年\s*)?(?P<m>{_RANGE_CN_NUM})\s*月\s*(?P<d>{_RANGE_CN_NUM})\s*[日号號]?"
)
_RANGE_BARE_DAY = re.compile(rf"(?P<d>{_RANGE_CN_NUM})\s*(?:[日号號]|st|nd|rd|th)?", re.IGNORECASE)
_RANGE_EN_PARSERS = {"PARSERS": ["custom-formats", "absolute-time"], "PREFER_DAY_OF_MONTH": "first"}


@dataclass(frozen=True)
class _RangeSide:
    """One end as typed: a day, maybe a month, maybe a year."""

    day: int
    month: int | None = None
    year: int | None = None


def parse_date_range(text: str, *, today: date) -> tuple[date, date]:
    """``(first day, last day)``, both inclusive, or ValidationError (see the module docstring)."""
    raw = " ".join(unicodedata.normalize("NFKC", text or "").split()).strip().lower()
    if not raw:
        raise ValidationError(RANGE_FIELD, "text.empty")
    if len(raw) > RANGE_MAX_INPUT:
        raise ValidationError(RANGE_FIELD, "text.too_long", max_length=RANGE_MAX_INPUT, length=len(raw))
    for match in (m for separator in _RANGE_SEPARATORS for m in separator.finditer(raw)):
        left, right = raw[: match.start()].strip(), raw[match.end():].strip()
        if not left or not right:
            continue
        start, end = _range_side(left), _range_side(right)
        if start is None or end is None or (start.month is None and end.month is None):
            continue
        first, last = _range_resolve(start, end, today)
        if last < first:
            raise ValidationError(RANGE_FIELD, "range.reversed")
        if first > today:
            raise ValidationError(RANGE_FIELD, "range.in_future")
        if (last - first).days + 1 > RANGE_MAX_DAYS:
            raise ValidationError(RANGE_FIELD, "range.too_long", max_days=RANGE_MAX_DAYS)
        return first, last
    raise ValidationError(RANGE_FIELD, "range.unrecognised")


def _range_side(text: str) -> _RangeSide | None:
    match = _RANGE_NUMERIC.fullmatch(text)
    if match:
        return _RangeSide(int(match["d"]), int(match["m"]), int(match["y"]))
    match = _RANGE_CN.fullmatch(text)
    if match:
        month, day = cn_number(match["m"]), cn_number(match["d"])
        if month is None or day is None:
            return None
        return _RangeSide(day, month, int(match["y"]) if match["y"] else None)
    match = _RANGE_BARE_DAY.fullmatch(text)
    if match:
        day = cn_number(match["d"])
        return _RangeSide(day) if day is not None else None
    if not re.search(r"[a-z]", text):  # dateparser would read "3" or "2026" as something
        return None
    return _range_english(text)


def _range_english(text: str) -> _RangeSide | None:
    """"1 March", "March 15, 2026", "15th Mar": a day and a month, the year when typed."""
    for parts, with_year in ((["day", "month", "year"], True), (["day", "month"], False)):
        try:
            found = _date_data(text, ("en",), **_RANGE_EN_PARSERS, REQUIRE_PARTS=parts).date_obj
        except Exception:  # noqa: BLE001 - dateparser raises assorted errors on odd input
            found = None
        if found is not None:
            return _RangeSide(found.day, found.month, found.year if with_year else None)
    return None


def _range_resolve(start: _RangeSide, end: _RangeSide, today: date) -> tuple[date, date]:
    start_month = start.month if start.month is not None else end.month
    end_month = end.month if end.month is not None else start_month
    assert start_month is not None and end_month is not None
    if start.year is not None:
        first = _range_date(start.year, start_month, start.day)
    elif end.year is not None:
        first = _range_date(end.year, start_month, start.day)
        if first > _range_date(end.year, end_month, end.day):
            first = _range_date(end.year - 1, start_month, start.day)
    else:
        first = _range_date(today.year, start_month, start.day)
        if first > today and start_month > today.month:  # a later month: last year's
            first = _range_date(today.year - 1, start_month, start.day)
    if end.year is not None:
        last = _range_date(end.year, end_month, end.day)
    else:
        last = _range_date(first.year, end_month, end.day)
        if end_month < start_month:  # across New Year: "12月20日-1月5日"
            last = _range_date(first.year + 1, end_month, end.day)
    return first, last


def _range_date(year: int, month: int, day: int) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise ValidationError(RANGE_FIELD, "date.invalid") from None


def warm_up(now: datetime, tz: ZoneInfo) -> None:
    """Parse one of each kind of date, so dateparser builds its language data now.

    The first parse in each language compiles large regular expressions
    (~0.1 s); run this in a worker at start-up and no rep's first date pays it.
    """
    today = now.astimezone(tz).date()
    for text in ("3 May 1990", "农历八月十五", "5月3日"):
        _ignore(parse_birthday, text, today=today)
    for text in ("next Tue 3pm", "in 3 days", "下周二下午三点", "明天"):
        _ignore(parse_when, text, now=now, tz=tz)
    for text in ("last Friday", "昨天"):
        _ignore(parse_purchase_date, text, today=today)
    for text in ("1 March - 15 March", "3月1日-3月15日"):
        _ignore(parse_date_range, text, today=today)


def _ignore(parse: Any, text: str, **arguments: Any) -> None:
    try:
        parse(text, **arguments)
    except ValidationError:
        pass


# ------------------------------------------------------------- spreadsheet dates

_EXCEL_EPOCH = date(1899, 12, 30)  # Excel's day 0 (its phantom 29 Feb 1900 makes day 60 the one to skip)
_SERIAL = re.compile(r"\d{1,5}(?:\.0+)?")


def excel_serial_date(text: str) -> date | None:
    """The day an Excel serial number stands for ("32996" → 1990-05-03), None if ``text`` is not one.

    A date cell exported without its format (CSV from Excel, a sheet typed as General) shows
    its serial; only 1..73050 (1900-01-01 … 2099-12-31) count, so a plain year such as
    "1990" is a serial of 1905 — callers try the other date forms first.
    """
    cleaned = text.strip()
    if not _SERIAL.fullmatch(cleaned):
        return None
    serial = int(float(cleaned))
    if not 61 <= serial <= 73050:
        return None
    return _EXCEL_EPOCH + timedelta(days=serial)
