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
from bot.domain.codec import type_hints

Convert = Callable[[Any], Any]


def copy_json(value: Any) -> Any:
    """A deep copy of JSON-shaped data (dicts, lists, scalars)."""
    if isinstance(value, dict):
        return {k: copy_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [copy_json(v) for v in value]
    return value


def _optional(convert: Convert) -> Convert:
    return lambda value: None if value is None else convert(value)


def _converter(hint: Any) -> Convert:
    """How to turn a stored value (never None here) into the field's value.

    Built-in callables wherever one does the job (``datetime.fromisoformat``,
    an enum's value map, ``list`` for a list of scalars), since a Python
    function call per value was most of the decoding time.  Stored
    datetimes are always aware (the codec writes them in UTC).
    """
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        return _converter(options[0]) if len(options) == 1 else copy_json
    if hint is Any:
        return copy_json
    if origin is list:
        (item,) = typing.get_args(hint)
        convert = _converter(item)
        if convert is _identity:
            return list
        convert = _optional(convert)
        return lambda value: [convert(v) for v in value]
    if origin is tuple:
        converts = [_converter(a) for a in typing.get_args(hint)]
        if all(c is _identity for c in converts):
            return tuple
        converts = [_optional(c) for c in converts]
        return lambda value: tuple(c(v) for c, v in zip(converts, value, strict=True))
    if origin is dict:
        _, item = typing.get_args(hint)
        convert = _converter(item)
        if convert is _identity:
            return dict
        convert = _optional(convert)
        return lambda value: {k: convert(v) for k, v in value.items()}
    if isinstance(hint, type):
        if issubclass(hint, Enum):
            return _enum(hint)
        if hint is datetime:
            return datetime.fromisoformat
        if hint is date:
            return date.fromisoformat
        if hint is Decimal:
            return Decimal
        if dataclasses.is_dataclass(hint):
            return decoder(hint)
        if hint in (int, str, bool, float):
            return _identity
    return lambda value: codec_decode(hint, value)


def _enum(cls: type[Enum]) -> Convert:
    """The member for a stored value: a dict look-up (the enum's call is ten times slower)."""
    members = cls._value2member_map_
    if len(members) != len(cls.__members__):  # aliases: let the enum decide
        return cls
    return members.__getitem__


def _identity(value: Any) -> Any:
    return value


@cache
def decoder(cls: type) -> Callable[[dict[str, Any]], Any]:
    """A function equivalent to ``codec.from_dict(cls, data)`` for stored data.

    Stored records were built -- and validated -- before they were encoded, so
    decoding them does not run the class's ``__init__`` and ``__post_init__``
    again (that re-validation was most of the cost of every read: issue 15).
    The function is generated once per class, one line per field: the field's
    conversion, or its default (or default factory) when the stored dict has
    no such key, set straight into the new instance's ``__dict__``.  Only
    plain dataclasses (no ``__slots__``, no ``init=False`` fields, no
    ``InitVar``) are decoded so; any other class goes through its
    constructor.
    """
    hints = type_hints(cls)
    fields = dataclasses.fields(cls)
    plan = []
    for f in fields:
        convert = _converter(hints[f.name])
        plan.append((f.name, None if convert is _identity else convert))
    if not _trusted_shape(cls, hints):
        return _constructing(cls, plan)
    namespace: dict[str, Any] = {"new": object.__new__, "cls": cls}
    lines = ["def decode(data):", "    get = data.get", "    o = new(cls)", "    d = o.__dict__"]
    for k, f in enumerate(fields):
        convert = plan[k][1]
        lines.append(f"    v = get({f.name!r}, MISSING)")
        if f.default is not dataclasses.MISSING:
            namespace[f"default_{k}"] = f.default
            lines.append(f"    if v is MISSING: v = default_{k}")
        elif f.default_factory is not dataclasses.MISSING:
            namespace[f"factory_{k}"] = f.default_factory
            lines.append(f"    if v is MISSING: v = factory_{k}()")
        else:  # a required field the stored dict lacks: let the constructor say so
            lines.append("    if v is MISSING: return construct(data)")
        if convert is not None:
            namespace[f"convert_{k}"] = convert
            lines.append(f"    elif v is not None: v = convert_{k}(v)")
        lines.append(f"    d[{f.name!r}] = v")
    lines.append("    return o")
    namespace["MISSING"] = _MISSING
    namespace["construct"] = _constructing(cls, plan)
    exec("\n".join(lines), namespace)  # noqa: S102 - code built from the class's own field names
    decode: Callable[[dict[str, Any]], Any] = namespace["decode"]
    return decode


_MISSING = object()


def _trusted_shape(cls: type, hints: dict[str, Any]) -> bool:
    """Whether an instance is fully described by its init fields in ``__dict__``."""
    if "__slots__" in cls.__dict__ or not all(f.init for f in dataclasses.fields(cls)):
        return False
    return not any(isinstance(hint, dataclasses.InitVar) for hint in hints.values())


def _constructing(cls: type, plan: list[tuple[str, Convert | None]]) -> Callable[[dict[str, Any]], Any]:
    """The decoder that builds through the constructor (validation included)."""

    def decode(data: dict[str, Any]) -> Any:
        kwargs = {}
        for name, convert in plan:
            if name in data:
                value = data[name]
                kwargs[name] = value if value is None or convert is None else convert(value)
        return cls(**kwargs)

    return decode
