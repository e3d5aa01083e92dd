"""Reading a date range a manager types for a custom report: "3月1日-3月15日", "1 March - 15 March".

Accepted, in Chinese or English, with any of the separators ``- – — ~ 至 到 to until``
(or only a space between two ISO dates):

- ISO and numeric dates: ``2026-03-01 2026-03-15``, ``2026/3/1 ~ 2026/3/15``;
- Chinese: ``3月1日-3月15日``, ``2026年3月1日至15日``, ``三月一日到三月十五日``;
- English (read by dateparser): ``1 March - 15 March``, ``March 1 to March 15, 2026``,
  ``1-15 March``.

A start without a year is in this year, or last year when its month is still to come
(so "12月1日-12月15日" typed in January means last December); an end without a year
follows its start, rolling into the next year only across New Year ("12月20日-1月5日").  An end
given as a bare day ("-15日", "1-15 March") borrows the other side's month.

Pure: ``today`` is an argument.  Refusals raise :class:`ValidationError` with the codes

==========================  ==================================================
``text.empty``              nothing typed
``text.too_long``           [``max_length``, ``length``]
``range.unrecognised``      not two dates the parser can read
``date.invalid``            a date that does not exist (2月30日)
``range.reversed``          the end is before the start
``range.in_future``         the range starts after today
``range.too_long``          [``max_days``] longer than a report may cover
==========================  ==================================================
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from dateparser.date import DateDataParser

from bot.domain.validation import ValidationError, cn_number

FIELD = "range"
MAX_INPUT = 80
MAX_DAYS = 366

# Tried in this order: a real separator wins over a plain space ("1 March - 15 March").
_SEPARATORS = (
    re.compile(r"\s*(?:至|到|~|～|–|—|－|-|\bto\b|\buntil\b|\btill\b|\bthrough\b)\s*"),
    re.compile(r"\s+"),
)
_NUMERIC = re.compile(r"(?P<y>\d{4})\s*[-/.年]\s*(?P<m>\d{1,2})\s*[-/.月]\s*(?P<d>\d{1,2})\s*[日号號]?")
_CN_NUM = r"\d{1,2}|[一二三四五六七八九十廿卅]{1,3}"
_CN = re.compile(
    rf"(?:(?P<y>\d{{4}})\s*年\s*)?(?P<m>{_CN_NUM})\s*月\s*(?P<d>{_CN_NUM})\s*[日号號]?"
)
_BARE_DAY = re.compile(rf"(?P<d>{_CN_NUM})\s*(?:[日号號]|st|nd|rd|th)?", re.IGNORECASE)
_EN_PARSERS = {"PARSERS": ["custom-formats", "absolute-time"], "PREFER_DAY_OF_MONTH": "first"}


@dataclass(frozen=True)
class _Side:
    """One end as typed: a day, maybe a month, maybe a year."""

    day: int
    month: int | None = None
    year: int | None = None


def parse_date_range(text: str, *, today: date) -> tuple[date, date]:
    """``(first day, last day)``, both inclusive, or ValidationError (see the module docstring)."""
    raw = " ".join(unicodedata.normalize("NFKC", text or "").split()).strip().lower()
    if not raw:
        raise ValidationError(FIELD, "text.empty")
    if len(raw) > MAX_INPUT:
        raise ValidationError(FIELD, "text.too_long", max_length=MAX_INPUT, length=len(raw))
    for match in (m for separator in _SEPARATORS for m in separator.finditer(raw)):
        left, right = raw[: match.start()].strip(), raw[match.end():].strip()
        if not left or not right:
            continue
        start, end = _side(left), _side(right)
        if start is None or end is None or (start.month is None and end.month is None):
            continue
        first, last = _resolve(start, end, today)
        if last < first:
            raise ValidationError(FIELD, "range.reversed")
        if first > today:
            raise ValidationError(FIELD, "range.in_future")
        if (last - first).days + 1 > MAX_DAYS:
            raise ValidationError(FIELD, "range.too_long", max_days=MAX_DAYS)
        return first, last
    raise ValidationError(FIELD, "range.unrecognised")


def _side(text: str) -> _Side | None:
    match = _NUMERIC.fullmatch(text)
    if match:
        return _Side(int(match["d"]), int(match["m"]), int(match["y"]))
    match = _CN.fullmatch(text)
    if match:
        month, day = cn_number(match["m"]), cn_number(match["d"])
        if month is None or day is None:
            return None
        return _Side(day, month, int(match["y"]) if match["y"] else None)
    match = _BARE_DAY.fullmatch(text)
    if match:
        day = cn_number(match["d"])
        return _Side(day) if day is not None else None
    if not re.search(r"[a-z]", text):  # dateparser would read "3" or "2026" as something
        return None
    return _english(text)


def _english(text: str) -> _Side | None:
    """"1 March", "March 15, 2026", "15th Mar": a day and a month, the year when typed."""
    for parts, with_year in ((["day", "month", "year"], True), (["day", "month"], False)):
        try:
            parser = DateDataParser(languages=["en"], settings={**_EN_PARSERS, "REQUIRE_PARTS": parts})
            found = parser.get_date_data(text).date_obj
        except Exception:  # noqa: BLE001 - dateparser raises assorted errors on odd input
            found = None
        if found is not None:
            return _Side(found.day, found.month, found.year if with_year else None)
    return None


def _resolve(start: _Side, end: _Side, today: date) -> tuple[date, date]:
    start_month = start.month if start.month is not None else end.month
    end_month = end.month if end.month is not None else start_month
    assert start_month is not None and end_month is not None
    if start.year is not None:
        first = _date(start.year, start_month, start.day)
    elif end.year is not None:
        first = _date(end.year, start_month, start.day)
        if first > _date(end.year, end_month, end.day):
            first = _date(end.year - 1, start_month, start.day)
    else:
        first = _date(today.year, start_month, start.day)
        if first > today and start_month > today.month:  # a later month: last year's
            first = _date(today.year - 1, start_month, start.day)
    if end.year is not None:
        last = _date(end.year, end_month, end.day)
    else:
        last = _date(first.year, end_month, end.day)
        if end_month < start_month:  # across New Year: "12月20日-1月5日"
            last = _date(first.year + 1, end_month, end.day)
    return first, last


def _date(year: int, month: int, day: int) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise ValidationError(FIELD, "date.invalid") from None
