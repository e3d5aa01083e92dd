from __future__ import annotations

from datetime import date

import pytest

from bot.domain.dates import parse_date_range
from bot.domain.validation import ValidationError

TODAY = date(2026, 3, 20)


@pytest.mark.parametrize(
    ("text", "first", "last"),
    [
        ("2026-03-01 2026-03-15", date(2026, 3, 1), date(2026, 3, 15)),
        ("2026-03-01 - 2026-03-15", date(2026, 3, 1), date(2026, 3, 15)),
        ("2026/3/1 ~ 2026/3/15", date(2026, 3, 1), date(2026, 3, 15)),
        ("3月1日-3月15日", date(2026, 3, 1), date(2026, 3, 15)),
        ("3月1日至15日", date(2026, 3, 1), date(2026, 3, 15)),
        ("三月一日到三月十五日", date(2026, 3, 1), date(2026, 3, 15)),
        ("２０２６年３月１日－３月１５日", date(2026, 3, 1), date(2026, 3, 15)),
        ("1 March - 15 March", date(2026, 3, 1), date(2026, 3, 15)),
        ("March 1 to March 15, 2026", date(2026, 3, 1), date(2026, 3, 15)),
        ("1-15 March", date(2026, 3, 1), date(2026, 3, 15)),
        ("1st mar - 15th mar", date(2026, 3, 1), date(2026, 3, 15)),
        ("12月1日-12月15日", date(2025, 12, 1), date(2025, 12, 15)),  # December is still to come
        ("12月20日-1月5日", date(2025, 12, 20), date(2026, 1, 5)),  # across New Year
        ("3月15日-3月31日", date(2026, 3, 15), date(2026, 3, 31)),  # may end in the future
    ],
)
def test_ranges_people_type(text: str, first: date, last: date) -> None:
    assert parse_date_range(text, today=TODAY) == (first, last)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "text.empty"),
        ("next month maybe", "range.unrecognised"),
        ("1日-15日", "range.unrecognised"),  # no month at all
        ("3月15日-3月1日", "range.reversed"),
        ("2月30日-3月1日", "date.invalid"),
        ("3月25日-3月30日", "range.in_future"),
        ("2025-01-01 2026-03-01", "range.too_long"),
        ("x" * 100, "text.too_long"),
    ],
)
def test_refusals_say_why(text: str, code: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_date_range(text, today=TODAY)
    assert caught.value.reason_code == code
