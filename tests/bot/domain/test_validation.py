from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.domain.dates import parse_birthday, parse_when
from bot.domain.models import Birthday, CalendarKind
from bot.domain.money import parse_amount, parse_money, parse_quantity
from bot.domain.phones import format_phone, parse_phone
from bot.domain.validation import (
    ValidationError,
    parse_email,
    parse_free_text,
    parse_name,
    parse_tags,
)
from tests.bot.domain.typed import NOW, SHANGHAI, TODAY, reason

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
