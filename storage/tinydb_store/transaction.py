"""Transactions of the TinyDB backend: writes kept aside, then one journal entry.

A transaction never touches the shared tables until it commits.  Its
writes go to an *overlay*: the final encoded state of every record it
touched (None for a delete), with the version each had when the
transaction first touched it.  Its reads merge the overlay over the tables
(``find`` asks the tables for ``offset + limit`` plus as many rows as the
overlay could hide, drops the overlaid ones, adds the overlay's matches and
orders and pages the union as ``MemTable.select`` does), so it sees its own
writes and nobody else does.

The commit (``TinyDBStore._commit_transaction``) runs without an ``await``
until the entry is queued, so nothing can change in between: it checks
every touched record again (still at the version first seen: else
``ConflictError``; not taken meanwhile by an insert or a unique value: else
``DuplicateError``), then hands *all* the ops to the journal as one entry.
The journal entry is one line with one CRC: replay applies it whole, or --
a torn last line -- not at all (``journal.py``).  The listeners then hear
of each record once, with its final state.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from bot.domain.codec import to_dict
from bot.domain.models import KeyValue
from storage.base import (
    SCHEMA,
    CollectionSpec,
    ConflictError,
    DuplicateError,
    KeyValues,
    NotFoundError,
    R,
    Range,
    StoreError,
    Transaction,
)

if TYPE_CHECKING:
    from storage.tinydb_store.memtable import MemTable
    from storage.tinydb_store.store import TinyDBStore

from storage.tinydb_store.store import TinyDBCollection

_Doc = dict[str, Any]
_Key = tuple[str, str]  # (collection, record id)


class TinyDBTransaction(Transaction):
    """One open transaction of a ``TinyDBStore`` (see the module docstring)."""

    def __init__(self, store: TinyDBStore) -> None:
        self.store = store
        self.writes: dict[_Key, _Doc | None] = {}  # final state, in the order first touched
        self.expected: dict[_Key, int | None] = {}  # stored version when first touched; None: absent
        self.touched: dict[str, set[str]] = {name: set() for name in SCHEMA}
        # (collection, unique field, value) -> ids in the overlay holding that value
        self.taken: dict[tuple[str, str, Any], set[str]] = {}
        self.failed: StoreError | None = None
        self.state: Literal["open", "committing", "over"] = "open"
        for name, spec in SCHEMA.items():
            kind = _TxKeyValues if spec.record_type is KeyValue else _TxCollection
            setattr(self, name, kind(self, spec))

    def check(self) -> None:
        if self.state != "open":
            raise StoreError(f"{self.store!r}: the transaction is over; open a new one")
        if self.failed is not None:
            raise type(self.failed)(f"the transaction was aborted: {self.failed}")

    def fail(self, error: StoreError) -> StoreError:
        """Abort the transaction with ``error`` (the caller raises it)."""
        self.failed = error
        return error

    def touch(self, spec: CollectionSpec, table: MemTable, rid: str, doc: _Doc | None) -> None:
        key = (spec.name, rid)
        if key not in self.expected:
            stored = table.docs.get(rid)
            self.expected[key] = None if stored is None else stored["version"]
        old = self.writes.get(key)
        for name in spec.unique:
            if old is not None and old.get(name) is not None:
                self.taken.get((spec.name, name, old[name]), set()).discard(rid)
            if doc is not None and doc.get(name) is not None:
                self.taken.setdefault((spec.name, name, doc[name]), set()).add(rid)
        self.writes[key] = doc
        self.touched[spec.name].add(rid)


class _TxCollection(TinyDBCollection[R]):
    """A collection of a ``TinyDBStore`` as one transaction sees it."""

    def __init__(self, tx: TinyDBTransaction, spec: CollectionSpec) -> None:
        super().__init__(tx.store, spec)
        self._tx = tx

    def _view(self, table: MemTable, rid: str) -> _Doc | None:
        key = (self.spec.name, rid)
        if key in self._tx.writes:
            return self._tx.writes[key]
        return table.docs.get(rid)

    def _check_taken(self, table: MemTable, doc: _Doc) -> None:
        """DuplicateError if another record holds one of ``doc``'s unique values, as seen here."""
        rid, name = doc["id"], self.spec.name
        for field in self.spec.unique:
            value = doc.get(field)
            if value is None:
                continue
            overlay = self._tx.taken.get((name, field, value), set())
            stored = table.eq[field].get(value, ())
            if any(other != rid for other in overlay) or any(
                other != rid and (name, other) not in self._tx.writes for other in stored
            ):
                raise self._tx.fail(DuplicateError(f"{name}.{field} {value!r} is already taken"))

    # -- writes ------------------------------------------------------------

    async def insert(self, record: R) -> R:
        self._tx.check()
        table = self._store._writable(self.spec.name)
        doc = self._encode(record)
        rid = doc["id"]
        if self._view(table, rid) is not None:
            raise self._tx.fail(DuplicateError(f"{self.spec.name} {rid!r} already exists"))
        self._check_taken(table, doc)
        self._tx.touch(self.spec, table, rid, doc)
        return record

    async def insert_many(self, records: Sequence[R]) -> None:
        for record in records:  # a failure aborts the whole transaction anyway
            await self.insert(record)

    async def update(self, record: R) -> R:
        self._tx.check()
        table = self._store._writable(self.spec.name)
        self._encode(record)  # type check
        rid = record.id
        old = self._view(table, rid)
        if old is None:
            raise NotFoundError(f"{self.spec.name} {rid!r} does not exist")
        if old["version"] != record.version:
            raise self._tx.fail(ConflictError(
                f"{self.spec.name} {rid!r} changed: stored version {old['version']}, "
                f"the update was made from version {record.version}"
            ))
        new = dataclasses.replace(record, version=record.version + 1)  # type: ignore[type-var]
        doc = to_dict(new)
        self._check_taken(table, doc)
        self._tx.touch(self.spec, table, rid, doc)
        return new

    async def delete(self, record_id: str) -> bool:
        self._tx.check()
        table = self._store._writable(self.spec.name)
        if self._view(table, record_id) is None:
            return False
        self._tx.touch(self.spec, table, record_id, None)
        return True

    # -- reads -------------------------------------------------------------

    async def get(self, record_id: str) -> R | None:
        self._tx.check()

        def read() -> R | None:
            doc = self._view(self._table(), record_id)
            return None if doc is None else self._decode(doc)

        return await self._store._read(read)  # type: ignore[no-any-return]

    async def find(
        self,
        where: Mapping[str, Any] | None = None,
        *,
        within: Range | None = None,
        order_by: str | None = None,
        descending: bool = False,
        offset: int = 0,
        limit: int | None = None,
    ) -> list[R]:
        self._tx.check()
        touched = self._tx.touched[self.spec.name]
        if not touched:
            return await super().find(where, within=within, order_by=order_by,
                                      descending=descending, offset=offset, limit=limit)
        self.check_query(where, within, order_by)
        encoded = self._where(where)
        order = order_by or "id"
        offset = max(offset, 0)
        want = None if limit is None else offset + limit

        def read() -> list[R]:
            if limit is not None and limit <= 0:
                return []
            table = self._table()
            more = None if want is None else want + len(touched)
            ids = table.select(encoded, within, order, descending, 0, more)
            docs = [table.docs[rid] for rid in ids if rid not in touched]
            matches = _matcher(table, encoded, within)
            writes, name = self._tx.writes, self.spec.name
            docs.extend(d for rid in touched if (d := writes[(name, rid)]) is not None and matches(d))
            return [self._decode(doc) for doc in _ordered(docs, order, descending)[offset:want]]

        return await self._store._read(read)  # type: ignore[no-any-return]

    async def count(
        self, where: Mapping[str, Any] | None = None, *, within: Range | None = None
    ) -> int:
        self._tx.check()
        touched = self._tx.touched[self.spec.name]
        if not touched:
            return await super().count(where, within=within)
        self.check_query(where, within, None)
        encoded = self._where(where)

        def read() -> int:
            table = self._table()
            total = table.count(encoded, within)
            matches = _matcher(table, encoded, within)
            for rid in touched:
                stored, mine = table.docs.get(rid), self._tx.writes[(self.spec.name, rid)]
                total -= stored is not None and matches(stored)
                total += mine is not None and matches(mine)
            return total

        return await self._store._read(read)  # type: ignore[no-any-return]


class _TxKeyValues(_TxCollection[KeyValue], KeyValues):
    """The kv collection in a transaction; ``put`` is the interface's."""


def _matcher(
    table: MemTable, encoded: Mapping[str, Any], within: Range | None
) -> Callable[[_Doc], bool]:
    """Whether a doc passes ``where`` (encoded) and ``within``, as ``MemTable.select`` decides."""
    listy = table.listy
    lo = hi = None
    if within is not None:
        lo, hi = table.encode_bound(within, within.start), table.encode_bound(within, within.end)

    def matches(doc: _Doc) -> bool:
        for name, value in encoded.items():
            if name in listy:
                if value not in (doc.get(name) or ()):
                    return False
            elif doc.get(name) != value:
                return False
        if within is not None:
            value = doc.get(within.field)
            if value is None or (lo is not None and value < lo) or (hi is not None and value >= hi):
                return False
        return True

    return matches


def _ordered(docs: Iterable[_Doc], order: str, descending: bool) -> list[_Doc]:
    """By ``(order, id)`` in the direction asked, nulls last (by id) either way."""
    if order == "id":
        return sorted(docs, key=lambda d: d["id"], reverse=descending)
    present, nulls = [], []
    for doc in docs:
        (nulls if doc.get(order) is None else present).append(doc)
    present.sort(key=lambda d: (d[order], d["id"]), reverse=descending)
    nulls.sort(key=lambda d: d["id"], reverse=descending)
    return present + nulls
