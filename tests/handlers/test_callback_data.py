from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from handlers import callback_data
from handlers.callback_data import CallbackData, parse


def test_round_trip() -> None:
    data = callback_data.encode("lang", "set", "zh")
    assert data == "lang:set:zh"
    assert parse(data) == CallbackData("lang", "set", ("zh",))


@pytest.mark.parametrize(
    "data",
    ["", None, "lang", "lang:set", "lang:set:zh:extra", "nope:set:zh", "lang:set:<b>", "x" * 65,
     "lang:set:" + "z" * 60],
)
def test_forged_or_stale_data_parses_to_none(data) -> None:
    assert parse(data) is None


def test_encode_refuses_what_telegram_would_refuse() -> None:
    with pytest.raises(ValueError):
        callback_data.encode("lang", "set", "a" * 70)
    with pytest.raises(ValueError):
        callback_data.encode("undeclared", "x")


@given(st.text(max_size=100))
def test_parse_never_raises(data: str) -> None:
    result = parse(data)
    if result is not None:
        assert result.encode() == data
