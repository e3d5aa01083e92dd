"""Rules for recording a purchase: the date a rep types, and the purchase itself."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

import dateparser

from bot.domain.validation import DATE_INPUT_MAX, ValidationError

MAX_AGE_YEARS = 10
_CHINESE_DATE = re.compile(r"(?:(\d{4})年)?(\d{1,2})月(\d{1,2})[日号]?")
_RELATIVE = {
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
    if len(cleaned) > DATE_INPUT_MAX:
        raise ValidationError("purchased_on", "date.unrecognised")
    if cleaned in _RELATIVE:
        return today - timedelta(days=_RELATIVE[cleaned])
    chinese = _CHINESE_DATE.fullmatch(cleaned.replace(" ", ""))
    if chinese:
        return _checked(_chinese_date(chinese, today), today)
    try:
        parsed = dateparser.parse(
            cleaned,
            languages=["zh", "en"],
            settings={
                "PREFER_DATES_FROM": "past",
                "RELATIVE_BASE": datetime.combine(today, time(12, 0)),
                "REQUIRE_PARTS": ["day", "month"],
                "DATE_ORDER": "YMD" if cleaned[:4].isdigit() else "MDY",
            },
        )
    except Exception:  # noqa: BLE001 - dateparser raises assorted errors on odd input
        parsed = None
    if parsed is None:
        raise ValidationError("purchased_on", "date.unrecognised")
    return _checked(parsed.date(), today)


def _chinese_date(match: re.Match[str], today: date) -> date:
    year, month, day = match.group(1), int(match.group(2)), int(match.group(3))
    try:
        if year:
            return date(int(year), month, day)
        candidate = date(today.year, month, day)
        return candidate if candidate <= today else date(today.year - 1, month, day)
    except ValueError:
        raise ValidationError("purchased_on", "date.invalid") from None


def _checked(day: date, today: date) -> date:
    if day > today:
        raise ValidationError("purchased_on", "date.in_future")
    if day.year < today.year - MAX_AGE_YEARS:
        raise ValidationError("purchased_on", "date.out_of_range",
                              min_year=today.year - MAX_AGE_YEARS, max_year=today.year)
    return day
