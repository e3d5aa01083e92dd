"""Amounts and quantities as typed (bot/domain/money.py)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.models import CalendarKind
from bot.domain.money import Money, parse_amount, parse_money, parse_quantity
from tests.bot.domain.typed import reason

SOLAR = CalendarKind.SOLAR
LUNAR = CalendarKind.LUNAR


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
