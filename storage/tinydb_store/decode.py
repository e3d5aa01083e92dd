"""Stored dicts back to records, fast, and never sharing anything with the stored dict.

``bot.domain.codec.from_dict`` works out every field's type hint on every
call; decoding the 20 customers of a list screen spent most of a
millisecond doing that.  ``decoder(cls)`` works the hints out once per class
and returns a function that only converts values -- the same conversions,
falling back to the codec for any hint it does not know -- and the contract
tests check that both give equal records.

It also copies what the codec would hand over as is: lists, dicts and the
JSON inside ``Any`` fields (a reminder's ``payload``, a ``KeyValue``'s
``value``).  The store keeps the stored dicts in memory, so a record that
shared one of them would let a caller change stored data without an update.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from functools import cache
from typing import Any

from bot.domain.codec import _decode as codec_decode

Convert = Callable[[Any], Any]


def copy_json(value: Any) -> Any:
    """A deep copy of JSON-shaped data (dicts, lists, scalars)."""
    if isinstance(value, dict):
        return {k: copy_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [copy_json(v) for v in value]
    return value


def _datetime(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError(f"naive datetime {value!r} in stored record")
    return parsed


def _optional(convert: Convert) -> Convert:
    return lambda value: None if value is None else convert(value)


def _converter(hint: Any) -> Convert:
    """How to turn a stored value (never None here) into the field's value."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        return _converter(options[0]) if len(options) == 1 else copy_json
    if hint is Any:
        return copy_json
    if origin is list:
        (item,) = typing.get_args(hint)
        convert = _optional(_converter(item))
        return lambda value: [convert(v) for v in value]
    if origin is tuple:
        converts = [_optional(_converter(a)) for a in typing.get_args(hint)]
        return lambda value: tuple(c(v) for c, v in zip(converts, value, strict=True))
    if origin is dict:
        _, item = typing.get_args(hint)
        convert = _optional(_converter(item))
        return lambda value: {k: convert(v) for k, v in value.items()}
    if isinstance(hint, type):
        if issubclass(hint, Enum):
            return hint
        if hint is datetime:
            return _datetime
        if hint is date:
            return date.fromisoformat
        if hint is Decimal:
            return Decimal
        if dataclasses.is_dataclass(hint):
            return decoder(hint)
        if hint in (int, str, bool, float):
            return _identity
    return lambda value: codec_decode(hint, value)


def _identity(value: Any) -> Any:
    return value


@cache
def decoder(cls: type) -> Callable[[dict[str, Any]], Any]:
    """A function equivalent to ``codec.from_dict(cls, data)`` (see the module docstring)."""
    hints = typing.get_type_hints(cls)
    plan = []
    for f in dataclasses.fields(cls):
        convert = _converter(hints[f.name])
        plan.append((f.name, None if convert is _identity else convert))

    def decode(data: dict[str, Any]) -> Any:
        kwargs = {}
        for name, convert in plan:
            if name in data:
                value = data[name]
                kwargs[name] = value if value is None or convert is None else convert(value)
        return cls(**kwargs)

    return decode
