"""Turning what a sales rep types into field values, or into a reason it cannot be.

Reps type on a phone, between meetings, in Chinese or English: phone numbers
with spaces and full-width digits, "下周二下午三点", "next Tue 3pm", "1.2万".
Every ``parse_*`` function here accepts that sloppiness and returns a clean
value, or raises :class:`ValidationError` — and nothing else, whatever the
input — whose ``reason_code`` is a stable identifier the handlers translate
(zh/en) with ``params`` filled in, so the wizard can re-ask with a clear
reason.  No user-facing text lives here.

The functions are pure: no I/O, and "now" is always an argument, so "tomorrow"
means the same thing in a test as in production.

Reason codes (``params`` in brackets) — the handlers' translation catalogue
must cover each:

==========================  ==================================================
``text.empty``              nothing usable was typed
``text.too_long``           [``max_length``, ``length``]
``name.no_letters``         a name needs at least one letter (any script)
``phone.invalid``           not a phone number at all, or not one that exists
``phone.too_short``         too few digits
``phone.too_long``          too many digits
``phone.invalid_country``   unknown country calling code after ``+``/``00``
``phone.missing_area_code`` a landline typed without its area code
``email.invalid``           not ``local@domain.tld``
``date.unrecognised``       no date could be read
``date.too_vague``          only a month/year ("next month"): say which day
``date.invalid``            the date does not exist (2月30日, a 30th in a
                            29-day lunar month)
``date.no_leap_month``      [``year``, ``month``] that lunar year has no such
                            leap month
``date.out_of_range``       [``min_year``, ``max_year``]
``date.future_birthday``    a birthday after today
``date.in_past``            a follow-up/due time that has already passed
``date.too_far``            [``max_years``] a follow-up years away
``amount.not_a_number``     not readable as an amount
``amount.negative``         below zero
``amount.too_large``        [``max``]
``amount.too_precise``      [``max_decimals``] fractions of a cent
``quantity.not_a_number``   not a whole number
``quantity.not_positive``   zero or below
``quantity.too_large``      [``max``]
``tag.too_long``            [``tag``, ``max_length``]
``tags.too_many``           [``max_count``]
==========================  ==================================================
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers
from dateparser.date import DateDataParser
from lunar_python import LunarMonth, Solar

from bot.domain.models import Birthday, CalendarKind, ModelError

NAME_MAX_LENGTH = 100
EMAIL_MAX_LENGTH = 254
TAG_MAX_LENGTH = 30
TAGS_MAX_COUNT = 20
AMOUNT_MAX = Decimal(10**12)
AMOUNT_DECIMALS = 2
QUANTITY_MAX = 1_000_000
DEFAULT_TIME = time(9, 0)
WHEN_MAX_YEARS = 10
BIRTHDAY_MIN_YEAR = 1900
BIRTHDAY_MAX_YEAR = 2100
# Longer input is no date or phone anyone types; refusing it early keeps the
# parsers' cost bounded whatever a hostile or mistaken paste contains.
DATE_INPUT_MAX = 100


class ValidationError(ValueError):
    """Input that cannot become a field value.

    ``reason_code`` is a stable identifier (see the module docstring) and
    ``params`` what its translation interpolates; ``field`` tells the wizard
    which step to re-ask.
    """

    def __init__(self, field_name: str, reason_code: str, **params: Any) -> None:
        super().__init__(f"{field_name}: {reason_code} {params}" if params else
                         f"{field_name}: {reason_code}")
        self.field = field_name
        self.reason_code = reason_code
        self.params = params


# ---------------------------------------------------------------- text basics

_WHITESPACE = re.compile(r"\s+")


def _nfkc(text: str) -> str:
    """Full-width digits, letters and punctuation (０-９, ＋, ＠, ：) become ASCII."""
    return unicodedata.normalize("NFKC", text)


def _drop_controls(text: str, *, keep_newlines: bool) -> str:
    """Control characters are never meant (pasted from elsewhere) and break Telegram/HTML."""
    kept = "\n\t" if keep_newlines else ""
    return "".join(
        ch for ch in text if ch in kept or unicodedata.category(ch) not in ("Cc", "Cs")
    )


def _one_line(text: str) -> str:
    return _WHITESPACE.sub(" ", _drop_controls(_WHITESPACE.sub(" ", text),
                                               keep_newlines=False)).strip()


def _check_length(field_name: str, text: str, max_length: int) -> None:
    if len(text) > max_length:
        raise ValidationError(field_name, "text.too_long", max_length=max_length, length=len(text))


def parse_name(text: str, *, field_name: str = "name") -> str:
    """A person's or company's name: any script, whitespace collapsed, ≤ 100 chars.

    At least one letter (Latin, CJK, Cyrillic, …) is required so that a stray
    "123" or "👍" is not saved as a customer.
    """
    name = _one_line(text)
    if not name:
        raise ValidationError(field_name, "text.empty")
    _check_length(field_name, name, NAME_MAX_LENGTH)
    if not any(unicodedata.category(ch).startswith("L") for ch in name):
        raise ValidationError(field_name, "name.no_letters")
    return name


def parse_free_text(text: str, max_length: int, *, field_name: str = "text") -> str:
    """Notes, summaries, preferences: kept as typed, emoji and ``<b>`` included.

    Escaping is the renderer's job; here only control characters go, line
    ends become ``\\n`` and surrounding whitespace is trimmed.
    """
    cleaned = _drop_controls(text.replace("\r\n", "\n").replace("\r", "\n"), keep_newlines=True)
    cleaned = cleaned.strip()
    if not cleaned:
        raise ValidationError(field_name, "text.empty")
    _check_length(field_name, cleaned, max_length)
    return cleaned


# ---------------------------------------------------------------------- phone

_PHONE_REASONS = {
    phonenumbers.ValidationResult.TOO_SHORT: "phone.too_short",
    phonenumbers.ValidationResult.TOO_LONG: "phone.too_long",
    phonenumbers.ValidationResult.INVALID_COUNTRY_CODE: "phone.invalid_country",
}
_PARSE_ERRORS = {
    phonenumbers.NumberParseException.INVALID_COUNTRY_CODE: "phone.invalid_country",
    phonenumbers.NumberParseException.TOO_SHORT_NSN: "phone.too_short",
    phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: "phone.too_short",
    phonenumbers.NumberParseException.TOO_LONG: "phone.too_long",
}
_LOCAL_NUMBER_MIN_DIGITS = 7


def parse_phone(text: str, default_region: str = "CN") -> str:
    """A phone number in E.164 (``+8613800138000``).

    Accepts spaces, dashes, brackets, full-width digits, ``+86``/``0086`` and
    the national trunk ``0``; numbers without a country code are read in
    ``default_region``.  An extension ("ext 12") cannot be stored in E.164
    and is dropped.  Only numbers ``phonenumbers`` considers valid (an
    allocated range of the right length) are accepted.
    """
    raw = _one_line(_nfkc(text))
    if not raw:
        raise ValidationError("phone", "text.empty")
    if len(raw) > DATE_INPUT_MAX:
        raise ValidationError("phone", "phone.too_long")
    if raw.startswith("00"):
        raw = "+" + raw[2:]
    try:
        number = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException as exc:
        raise ValidationError("phone", _PARSE_ERRORS.get(exc.error_type, "phone.invalid")) from None
    if phonenumbers.is_valid_number(number):
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    possibility = phonenumbers.is_possible_number_with_reason(number)
    if possibility == phonenumbers.ValidationResult.IS_POSSIBLE_LOCAL_ONLY:
        if len(str(number.national_number)) >= _LOCAL_NUMBER_MIN_DIGITS:
            raise ValidationError("phone", "phone.missing_area_code")
        raise ValidationError("phone", "phone.too_short")
    raise ValidationError("phone", _PHONE_REASONS.get(possibility, "phone.invalid"))


def format_phone(e164: str, region: str = "CN") -> str:
    """How a stored number is shown: national form at home, international abroad.

    "At home" means the number's country calling code is ``region``'s, so
    ``parse_phone(format_phone(n, r), r) == n``.  A value that is not a
    number (legacy data) is returned unchanged rather than failing a render.
    """
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    home = number.country_code == phonenumbers.country_code_for_region(region)
    style = (
        phonenumbers.PhoneNumberFormat.NATIONAL if home
        else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )
    return phonenumbers.format_number(number, style)


# ---------------------------------------------------------------------- email

_EMAIL = re.compile(
    r"(?P<local>[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*)"
    r"@(?P<domain>(?:[^\W_](?:[\w-]{0,61}[^\W_])?\.)+[^\W\d_]{2,63})"
)


def parse_email(text: str) -> str:
    """An e-mail address, syntax-checked only (deliverability needs I/O).

    A pragmatic subset of RFC 5322: dot-atom local part, dotted domain with
    an alphabetic TLD; quoted local parts and IP-literal domains are refused
    because nobody types them into a CRM.  The domain is lowercased (it is
    case-insensitive); the local part is kept as typed (it may not be).
    """
    raw = _one_line(_nfkc(text))
    if raw.lower().startswith("mailto:"):
        raw = raw[len("mailto:"):].strip()
    if not raw:
        raise ValidationError("email", "text.empty")
    if len(raw) > EMAIL_MAX_LENGTH:
        raise ValidationError("email", "text.too_long", max_length=EMAIL_MAX_LENGTH,
                              length=len(raw))
    match = _EMAIL.fullmatch(raw)
    if match is None or len(match["local"]) > 64:
        raise ValidationError("email", "email.invalid")
    return f"{match['local']}@{match['domain'].lower()}"


# ------------------------------------------------------ Chinese numerals/dates

_CN_DIGITS = {"零": 0, "〇": 0, "○": 0, "一": 1, "二": 2, "两": 2, "兩": 2, "三": 3, "四": 4,
              "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}
_CN_NUM = "零〇○一二两兩三四五六七八九十百千廿卅"


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
            parser = DateDataParser(languages=list(languages),
                                    settings={**base, "REQUIRE_PARTS": parts})
            found = parser.get_date_data(text).date_obj
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
    raw = _one_line(_nfkc(text)).lower()
    if not raw:
        raise ValidationError("birthday", "text.empty")
    if len(raw) > DATE_INPUT_MAX:
        raise ValidationError("birthday", "text.too_long", max_length=DATE_INPUT_MAX,
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
        "RELATIVE_BASE": local_now.replace(tzinfo=None),
        "PREFER_DATES_FROM": "future",
        "PREFER_DAY_OF_MONTH": "first",
        "RETURN_TIME_AS_PERIOD": True,
        "TIMEZONE": tz.key,
        "RETURN_AS_TIMEZONE_AWARE": True,
    }
    try:
        data = DateDataParser(languages=list(languages), settings=settings).get_date_data(text)
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
    rest = _one_line(rest).removesuffix("的").strip(" ,，")
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
    raw = _one_line(_nfkc(text)).lower()
    if not raw:
        raise ValidationError("when", "text.empty")
    if len(raw) > DATE_INPUT_MAX:
        raise ValidationError("when", "text.too_long", max_length=DATE_INPUT_MAX,
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


# --------------------------------------------------------- amounts & quantity

_MULTIPLIERS = {"万": Decimal(10_000), "萬": Decimal(10_000), "w": Decimal(10_000),
                "千": Decimal(1_000), "k": Decimal(1_000), "亿": Decimal(100_000_000),
                "億": Decimal(100_000_000), "百万": Decimal(1_000_000)}
_CURRENCY_WORDS = {
    "¥": "CNY", "rmb": "CNY", "cny": "CNY", "元": "CNY", "块钱": "CNY", "块": "CNY",
    "人民币": "CNY", "圆": "CNY", "$": "USD", "usd": "USD", "美元": "USD", "美金": "USD",
    "€": "EUR", "eur": "EUR", "欧元": "EUR", "£": "GBP", "gbp": "GBP", "英镑": "GBP",
    "hk$": "HKD", "hkd": "HKD", "港币": "HKD", "港元": "HKD", "jpy": "JPY", "日元": "JPY",
}
_CURRENCY_PATTERN = "|".join(
    re.escape(word) for word in sorted(_CURRENCY_WORDS, key=len, reverse=True)
)
_AMOUNT = re.compile(
    rf"(?P<cur1>{_CURRENCY_PATTERN})?\s*(?P<sign>[-+])?\s*(?P<cur2>{_CURRENCY_PATTERN})?\s*"
    r"(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d*)?|\.\d+)\s*"
    r"(?P<mult>百万|万|萬|千|亿|億|w|k)?\s*"
    rf"(?P<cur3>{_CURRENCY_PATTERN})?\s*(?:整)?"
)
_NOT_A_NUMBER = re.compile(r"[-+]?\s*(?:nan|s?nan|inf|infinity)", re.IGNORECASE)


@dataclass(frozen=True)
class Money:
    """An amount and, when the rep typed one (¥, $, 元, USD…), its ISO currency."""

    amount: Decimal
    currency: str | None = None


def parse_money(text: str) -> Money:
    """An amount with an optional currency: "¥1999", "1,999.90", "1.2万", "$30", "1999元".

    The amount is a non-negative Decimal with at most two decimals,
    quantised to cents so that storage sees one representation.  Units
    万/w (10⁴), 千/k (10³), 亿 (10⁸) multiply; "1,5" is refused rather than
    guessed (thousands separator or decimal comma?).
    """
    raw = _one_line(_nfkc(text)).lower().replace("−", "-").replace("－", "-")
    if not raw:
        raise ValidationError("amount", "text.empty")
    if len(raw) > DATE_INPUT_MAX:
        raise ValidationError("amount", "amount.not_a_number")
    if _NOT_A_NUMBER.fullmatch(raw):
        raise ValidationError("amount", "amount.not_a_number")
    raw = re.sub(r"(?<=\d) (?=\d{3}\b)", "", raw)
    match = _AMOUNT.fullmatch(raw)
    if match is None:
        if raw.startswith("-") or raw.startswith("(") and raw.endswith(")"):
            raise ValidationError("amount", "amount.negative")
        raise ValidationError("amount", "amount.not_a_number")
    currencies = {_CURRENCY_WORDS[c] for c in (match["cur1"], match["cur2"], match["cur3"]) if c}
    if len(currencies) > 1:
        raise ValidationError("amount", "amount.not_a_number")
    try:
        value = Decimal(match["num"].replace(",", ""))
    except InvalidOperation:
        raise ValidationError("amount", "amount.not_a_number") from None
    if match["mult"]:
        value *= _MULTIPLIERS[match["mult"]]
    if match["sign"] == "-" and value != 0:
        raise ValidationError("amount", "amount.negative")
    if value > AMOUNT_MAX:
        raise ValidationError("amount", "amount.too_large", max=AMOUNT_MAX)
    quantum = Decimal(1).scaleb(-AMOUNT_DECIMALS)
    if value != value.quantize(quantum):
        raise ValidationError("amount", "amount.too_precise", max_decimals=AMOUNT_DECIMALS)
    return Money(value.quantize(quantum), currencies.pop() if currencies else None)


def parse_amount(text: str) -> Decimal:
    """The amount of :func:`parse_money`, for fields whose currency is set elsewhere."""
    return parse_money(text).amount


_QUANTITY = re.compile(
    rf"(?:x|×|\*)?\s*(?P<sign>[-+])?\s*(?P<n>\d+|[{_CN_NUM}]+)\s*"
    r"(?:个|個|件|台|套|支|箱|盒|份|张|張|瓶|次|pcs?|pieces?|units?|x)?\.?"
)


def parse_quantity(text: str) -> int:
    """A positive whole quantity: "3", "３", "3件", "x3", "三", "十二个"."""
    raw = _one_line(_nfkc(text)).lower()
    if not raw:
        raise ValidationError("quantity", "text.empty")
    match = _QUANTITY.fullmatch(raw) if len(raw) <= DATE_INPUT_MAX else None
    value = cn_number(match["n"]) if match is not None else None
    if match is None or value is None:
        if re.fullmatch(r"-\s*\d+", raw):
            raise ValidationError("quantity", "quantity.not_positive")
        raise ValidationError("quantity", "quantity.not_a_number")
    if match["sign"] == "-" or value < 1:
        raise ValidationError("quantity", "quantity.not_positive")
    if value > QUANTITY_MAX:
        raise ValidationError("quantity", "quantity.too_large", max=QUANTITY_MAX)
    return value


# ----------------------------------------------------------------------- tags

_TAG_SPLIT = re.compile(r"[,，;；、#＃\s]+")


def parse_tags(text: str) -> list[str]:
    """Tags from one line: split on , ， ; 、 # and spaces, deduplicated, in typed order.

    Duplicates are found case-insensitively ("VIP" and "vip" are one tag;
    the first spelling wins).  An empty line means "no tags" and yields
    ``[]`` — clearing tags is a legitimate edit.
    """
    cleaned = _drop_controls(unicodedata.normalize("NFKC", text), keep_newlines=False)
    tags: list[str] = []
    seen: set[str] = set()
    for tag in _TAG_SPLIT.split(cleaned):
        if not tag:
            continue
        if len(tag) > TAG_MAX_LENGTH:
            raise ValidationError("tags", "tag.too_long", tag=tag[:TAG_MAX_LENGTH] + "…",
                                  max_length=TAG_MAX_LENGTH)
        key = tag.casefold()
        if key not in seen:
            seen.add(key)
            tags.append(tag)
            if len(tags) > TAGS_MAX_COUNT:
                raise ValidationError("tags", "tags.too_many", max_count=TAGS_MAX_COUNT)
    return tags


def parse_rating(text: str, low: int, high: int, *, field_name: str = "rating") -> int:
    """A whole number on a scale typed instead of tapped (CSAT 1–5, NPS 0–10)."""
    value = _nfkc(text).strip()
    if value not in {str(n) for n in range(low, high + 1)}:
        raise ValidationError(field_name, "choice.use_buttons")
    return int(value)
