"""Phone numbers as typed: parse_phone and format_phone (bot/domain/phones.py)."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.models import CalendarKind
from bot.domain.phones import format_phone, parse_phone
from tests.bot.domain.typed import reason

SOLAR = CalendarKind.SOLAR
LUNAR = CalendarKind.LUNAR


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
