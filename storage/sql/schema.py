"""The SQL tables behind ``storage.base.SCHEMA``, built with SQLAlchemy Core.

Each collection is one table:

* ``id`` (primary key), ``version`` (the optimistic-concurrency counter the
  compare-and-set ``update`` tests) and ``data`` (the whole record as the
  codec encodes it: JSONB on PostgreSQL, JSON text elsewhere).  ``data`` is
  the only thing records are decoded from; the other columns are derived
  from it on every write and exist to be searched.
* one column per ``indexed`` scalar field and per ``ranged`` field, each
  with its own index (unique fields get a unique index, so the database
  itself refuses a second reminder with the same ``dedupe_key`` even when
  two replicas generate it at the same moment).

List-valued indexed fields (``phones``, ``tags``, ``teams``) cannot be one
column that both PostgreSQL and SQLite index, so a collection that has them
gets a side table ``<table>_values (field, value, id)`` with one row per
element; membership is an ``EXISTS`` on its primary key.  Its rows go with
their record (``ON DELETE CASCADE``; SQLite connections switch foreign keys
on for that).

Ordering must be the TinyDB backend's exactly:

* text columns (ids and indexed strings) use the ``"C"`` collation on
  PostgreSQL -- code point order, like Python's ``str`` comparison -- instead
  of whatever locale the database was created with (``en_US`` ignores
  punctuation in its first pass: ``ptb.user_data:1`` would sort among
  ``ptbuser...``); SQLite's default ``BINARY`` collation already is code point
  order for UTF-8;
* datetimes are ``timestamptz`` on PostgreSQL (an instant, microseconds,
  compared as instants whatever the offset) and, on SQLite, the codec's own
  UTC ISO-8601 string, which sorts as time sorts -- the very strings the
  TinyDB backend orders by;
* dates are SQL ``DATE`` (ISO strings on SQLite).
"""

from __future__ import annotations

import re
import types
import typing
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import Enum
from typing import Any, Literal

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

from bot.domain.codec import type_hints
from storage.base import SCHEMA, CollectionSpec

Kind = Literal["str", "int", "bool", "list", "datetime", "date"]

COMPOSITE_INDEXES: dict[str, tuple[tuple[str, ...], ...]] = {
    # The delivery worker's poll (``ReminderService.due`` and ``next_due``): pending
    # reminders by due time, then id -- one index range scan instead of filtering every
    # reminder ever sent (migration 0002).
    "reminders": (("status", "due_at", "id"),),
}
"""Indexes over several columns, per collection: ``ix_<table>_<fields>`` (``id`` left out of the name)."""

PREFIX_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,23}|")
"""Lower case (PostgreSQL folds unquoted names), short enough that index names fit in 63 bytes."""


def _text() -> TypeEngine[str]:
    """Text compared in code point order on every database (see the module docstring)."""
    return Text().with_variant(Text(collation="C"), "postgresql")


def _id() -> TypeEngine[str]:
    return String(64).with_variant(String(64, collation="C"), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware instant: ``timestamptz`` on PostgreSQL, the codec's UTC string elsewhere.

    Only ever written and compared, never read back (records come from ``data``).
    """

    impl = Text
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(DateTime(timezone=True))
        return dialect.type_descriptor(Text())

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None or dialect.name == "postgresql":
            return value
        return value.astimezone(UTC).isoformat()  # what bot.domain.codec stores


def field_kind(spec: CollectionSpec, name: str) -> Kind:
    """What a searchable field holds, from the record class's type hints."""
    hint = type_hints(spec.record_type)[name]
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(options) != 1:
            raise TypeError(f"{spec.name}.{name}: cannot index a union {hint!r}")
        hint = options[0]
    if typing.get_origin(hint) is list:
        (item,) = typing.get_args(hint)
        if item is not str:
            raise TypeError(f"{spec.name}.{name}: only lists of str can be indexed")
        return "list"
    if hint is bool:
        return "bool"
    if isinstance(hint, type) and issubclass(hint, Enum):
        if not issubclass(hint, str):
            raise TypeError(f"{spec.name}.{name}: only str enums can be indexed")
        return "str"
    if hint is int:
        return "int"
    if hint is str:
        return "str"
    if hint is datetime:
        return "datetime"
    if hint is date:
        return "date"
    raise TypeError(f"{spec.name}.{name}: the SQL backend cannot index {hint!r}")


def _column_type(kind: Kind) -> TypeEngine[Any]:
    if kind == "str":
        return _text()
    if kind == "int":
        return BigInteger()  # Telegram ids outgrow 32 bits
    if kind == "bool":
        return Boolean()
    if kind == "datetime":
        return UTCDateTime()
    if kind == "date":
        return Date()
    raise AssertionError(kind)


@dataclass(frozen=True)
class CollectionTables:
    """One collection's table, its side table (if it has list fields) and its field kinds."""

    spec: CollectionSpec
    main: Table
    values: Table | None
    kinds: dict[str, Kind]  # every indexed and ranged field
    columns: tuple[str, ...]  # the derived scalar columns (indexed non-list + ranged)
    lists: tuple[str, ...]  # the list-valued indexed fields (rows in ``values``)


@dataclass(frozen=True)
class Tables:
    metadata: MetaData
    collections: dict[str, CollectionTables]


def build_tables(prefix: str = "") -> Tables:
    """Every collection's tables, their names starting with ``prefix``."""
    if not PREFIX_PATTERN.fullmatch(prefix):
        raise ValueError(
            f"table prefix {prefix!r} must be empty or a lower-case letter followed by "
            "at most 23 lower-case letters, digits or underscores"
        )
    metadata = MetaData()
    collections = {}
    for name, spec in SCHEMA.items():
        table_name = f"{prefix}{name}"
        kinds: dict[str, Kind] = {}
        for field in (*spec.indexed, *spec.ranged):
            kinds[field] = field_kind(spec, field)
        for field in spec.indexed:
            if kinds[field] in ("datetime", "date"):
                raise TypeError(f"{name}.{field}: make a date or datetime ranged, not indexed")
        for field in spec.unique:
            if field not in spec.indexed or kinds[field] == "list":
                raise TypeError(f"{name}.{field}: a unique field must be an indexed scalar")
        scalar = tuple(
            f for f in dict.fromkeys((*spec.indexed, *spec.ranged)) if kinds[f] != "list"
        )
        lists = tuple(f for f in spec.indexed if kinds[f] == "list")
        columns: list[Column[Any] | Index | PrimaryKeyConstraint] = [
            Column("id", _id(), nullable=False),
            Column("version", Integer(), nullable=False),
            Column("data", JSON().with_variant(JSONB(), "postgresql"), nullable=False),
            PrimaryKeyConstraint("id", name=f"pk_{table_name}"),
        ]
        for field in scalar:
            # Nullable even where the model is not: ``data`` is the truth, and a NOT NULL
            # here would turn a sloppy record into an IntegrityError that reads as a duplicate.
            columns.append(Column(field, _column_type(kinds[field]), nullable=True))
            unique = field in spec.unique
            columns.append(
                Index(f"{'ux' if unique else 'ix'}_{table_name}_{field}", field, unique=unique)
            )
        for fields in COMPOSITE_INDEXES.get(name, ()):
            named = "_".join(f for f in fields if f != "id")
            columns.append(Index(f"ix_{table_name}_{named}", *fields))
        main = Table(table_name, metadata, *columns)
        values = None
        if lists:
            values = Table(
                f"{table_name}_values",
                metadata,
                Column("field", _text(), nullable=False),
                Column("value", _text(), nullable=False),
                Column(
                    "id",
                    _id(),
                    ForeignKey(main.c.id, ondelete="CASCADE", name=f"fk_{table_name}_values_id"),
                    nullable=False,
                ),
                PrimaryKeyConstraint("field", "value", "id", name=f"pk_{table_name}_values"),
                Index(f"ix_{table_name}_values_id", "id"),
            )
        collections[name] = CollectionTables(spec, main, values, kinds, scalar, lists)
    return Tables(metadata, collections)
