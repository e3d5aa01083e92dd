"""The store interface every backend implements.

A store is a set of typed collections, one per record type.  Each
collection declares, in ``SCHEMA``, which fields can be looked up by
equality (``indexed``; a list-valued field such as ``phones`` matches when
the list contains the value) and which can be ranged over and ordered by
(``ranged``; datetimes and dates).  Asking for anything else raises
``QueryError``: a look-up the backends cannot serve from an index is a bug
that would make the TinyDB backend scan the whole data set.

Writes are acknowledged only once durable: when ``insert`` / ``update``
return, the record survives ``kill -9`` of the process.

Updates are optimistic: ``update(record)`` succeeds only if the stored
record still has ``record.version``; it then stores ``version + 1`` and
returns the new record.  A stale update raises ``ConflictError``.  This is
what lets several bot replicas claim an outbox reminder atomically.
``update_with(id, mutate)`` is the read-modify-write loop on top of it
(read, change, compare-and-set, re-read on conflict), and ``kv.put`` the
upsert of one key: callers never write either loop by hand.

Several records change together, or not at all, in a transaction::

    async with store.transaction() as tx:
        for reminder in await tx.reminders.find({"customer_id": cid}):
            await tx.reminders.delete(reminder.id)
        await tx.customers.delete(cid)
        await tx.audit.insert(event)

``tx`` has the store's collections (``tx.customers``, ``tx.collection(name)``)
with the same methods, ``update_with`` and ``kv.put`` included, bound to the
transaction:

* its reads see its own writes; nobody else sees them, and no listener
  (``Store.listen``) hears of them, until the block ends without an
  exception -- then everything is committed at once (one journal entry on
  the TinyDB backend, one database transaction on SQL), and ``async with``
  returns only once it is durable;
* an exception out of the block applies nothing (it propagates as it is);
* the checks still hold: versions (``ConflictError``), ids and unique
  fields (``DuplicateError``), against the store as it is when the write is
  made and again at the commit.  A ``ConflictError`` or ``DuplicateError``
  aborts the transaction: every later call on ``tx`` raises the same kind
  of error, and so does the end of the block -- catching it inside does not
  save the rest.  To retry, run the whole block again (``update_with``
  inside a transaction does not retry on its own);
* a transaction cancelled before its commit applies nothing; one cancelled
  during the commit may have happened (as with any write).

``await store.atomic(work)`` runs ``await work(tx)`` in a transaction and
returns what it returns, running it again on a fresh transaction when it
ends in a ``ConflictError`` (a record changed under it), a few times: the
way a use case that reads, decides and writes many records says "all of
this, on current data".  ``work`` may run more than once, so it must not
have effects outside ``tx`` (collect messages to send, send them after).

Inside the block, write only through ``tx``: a write through the store
itself would not be part of the transaction (and on SQL would wait for the
transaction's own locks forever), so it is refused with ``StoreError``, as
is a task the block started (it inherits the block's context).  Reads
through the store see the data as committed, without the transaction's
writes.  Transactions do not nest.

Isolation is that of PostgreSQL's READ COMMITTED on every backend: the
records a transaction writes are checked, the ones it only read are not,
and a record another writer inserts after a ``find`` is not in its answer.
They are for what must be all or nothing (a purge, moving a rep's
customers, an import batch), not for hot paths: on SQL a transaction holds
a connection (at most two are open at once on PostgreSQL; more wait), and
on SQLite the write lock, until it ends.

The interface is async so that no backend blocks the event loop that
serves every user and the scheduler.
"""

from __future__ import annotations

import abc
import contextlib
import contextvars
import dataclasses
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Generic, Self, TypeVar

from bot.domain.models import (
    AuditEvent,
    Customer,
    Deal,
    Feedback,
    Interaction,
    Invitation,
    KeyValue,
    Note,
    Purchase,
    Record,
    Reminder,
    StaffUser,
    Todo,
)

R = TypeVar("R", bound=Record)
T = TypeVar("T")
log = logging.getLogger(__name__)

#: How often ``update_with`` re-reads and retries a record that keeps changing under it.
UPDATE_ATTEMPTS = 5
Mutation = Callable[[R], "R | None | Awaitable[R | None]"]
#: ``listener(collection, record_id, record)``: a write was committed; ``record`` is the record
#: as stored now, None when it was deleted.  See ``Store.listen``.
ChangeListener = Callable[[str, str, "Record | None"], None]


class StoreError(Exception):
    """Base of every error a store raises on purpose."""


class NotFoundError(StoreError):
    pass


class DuplicateError(StoreError):
    """A record with that id (or that unique key) already exists."""


class ConflictError(StoreError):
    """The record changed since it was read (its version moved on)."""


class QueryError(StoreError):
    """The query names a field the collection does not index."""


class StoreLockedError(StoreError):
    """Another process has the data directory open."""


class StoreDamagedError(StoreError):
    """Stored data is damaged in a way no crash explains; the store refuses to open.

    The message is one line naming the file and what is wrong with it; the
    way out is a restore from a backup (``docs/operations.md``).
    """


class StorageFullError(StoreError):
    """The disk (or quota) holding the data is full: the write was not stored.

    Nothing of the write stays visible.  The store stays usable: reads go on,
    and writes succeed again once there is space, without a restart.
    """


class SchemaVersionError(StoreError):
    """The stored data's format (SQL schema revision, TinyDB format) is not this code's.

    ``current`` is what is stored, ``head`` what this code runs on.
    """

    def __init__(self, message: str, current: str | None, head: str) -> None:
        super().__init__(message)
        self.current = current
        self.head = head


class SchemaOutdatedError(SchemaVersionError):
    """The data is in an older format: back it up and run ``crm-bot db upgrade``."""


class SchemaTooNewError(SchemaVersionError):
    """The data was upgraded by a newer crm-bot than this one: run that version."""


@dataclass(frozen=True)
class SchemaStatus:
    """Where a store's data stands: ``current`` (None: nothing stored yet) and ``head``.

    ``head`` is the format this code writes; ``known`` every format it can
    upgrade from (oldest first, ending with ``head``).
    """

    backend: str
    current: str | None
    head: str
    known: tuple[str, ...]

    @property
    def state(self) -> str:
        """"empty", "current", "outdated" or "too new"."""
        if self.current is None:
            return "empty"
        if self.current == self.head:
            return "current"
        return "outdated" if self.current in self.known else "too new"


@dataclass(frozen=True)
class Damage:
    """Damage a store found in its files and worked around, for people to see.

    ``file`` is the damaged file as it was named, ``kept`` where a copy of it
    was put aside (for forensics or a manual repair), ``lost`` how many
    acknowledged writes could not be read back (at least; -1 when unknown),
    ``kept_after`` how many intact entries after the damage were still used.
    """

    file: str
    detail: str
    lost: int
    kept_after: int = 0
    kept: str | None = None
    found_at: str = ""  # ISO time

    def line(self) -> str:
        where = f"; a copy is kept as {self.kept}" if self.kept else ""
        lost = "an unknown number of" if self.lost < 0 else str(self.lost)
        return f"{self.file}: {self.detail}: {lost} write(s) lost{where}"


@dataclass(frozen=True)
class CollectionSpec:
    name: str
    record_type: type[Record]
    indexed: tuple[str, ...] = ()
    ranged: tuple[str, ...] = ("created_at",)
    unique: tuple[str, ...] = ()
    # Records of this collection are partitioned by this field on backends that partition.
    partition_by: str | None = None


SCHEMA: dict[str, CollectionSpec] = {
    spec.name: spec
    for spec in (
        CollectionSpec(
            "staff",
            StaffUser,
            indexed=("telegram_id", "role", "teams", "active"),
            unique=("telegram_id",),
        ),
        CollectionSpec(
            "customers",
            Customer,
            indexed=("owner_id", "team", "phones", "archived", "referred_by", "tags", "city"),
            ranged=("created_at", "updated_at", "next_follow_up_at", "last_contact_at"),
        ),
        CollectionSpec(
            "purchases",
            Purchase,
            indexed=("customer_id", "owner_id"),
            ranged=("created_at", "purchased_on"),
            partition_by="customer_id",
        ),
        CollectionSpec(
            "deals",
            Deal,
            indexed=("customer_id", "owner_id", "team", "stage", "open"),
            ranged=("created_at", "updated_at", "expected_close_on", "closed_at", "stage_changed_at"),
        ),
        CollectionSpec(
            "interactions",
            Interaction,
            indexed=("customer_id", "owner_id", "kind", "deleted"),
            ranged=("created_at", "occurred_at", "next_follow_up_at"),
            partition_by="customer_id",
        ),
        CollectionSpec(
            "feedback",
            Feedback,
            indexed=("customer_id", "owner_id", "status", "kind", "deleted"),
            ranged=("created_at", "due_at", "resolved_at"),
            partition_by="customer_id",
        ),
        CollectionSpec(
            "reminders",
            Reminder,
            indexed=("recipient_id", "status", "kind", "customer_id", "dedupe_key"),
            ranged=("created_at", "due_at", "sent_at"),
            unique=("dedupe_key",),
        ),
        CollectionSpec(
            "audit",
            AuditEvent,
            indexed=("entity_id", "entity_type", "actor_id", "action"),
            ranged=("created_at", "at"),
            partition_by="entity_id",
        ),
        CollectionSpec(
            "invitations",
            Invitation,
            indexed=("created_by", "revoked", "redeemed_by", "team"),
            ranged=("created_at", "expires_at"),
        ),
        CollectionSpec("kv", KeyValue, indexed=("namespace",)),
        CollectionSpec(
            "todos",
            Todo,
            indexed=("assignee_id", "created_by", "customer_id", "status", "deleted"),
            ranged=("created_at", "due_at", "done_at"),
        ),
        CollectionSpec(
            "notes",
            Note,
            indexed=("customer_id", "owner_id", "author_id", "deleted"),
            ranged=("created_at",),
            partition_by="customer_id",
        ),
    )
}

RangeBound = datetime | date | None


@dataclass(frozen=True)
class Range:
    """``start <= field < end``; either end may be open (None). Null fields never match."""

    field: str
    start: RangeBound = None
    end: RangeBound = None


class Collection(abc.ABC, Generic[R]):
    """One record type's table."""

    spec: CollectionSpec

    @abc.abstractmethod
    async def insert(self, record: R) -> R:
        """Store a new record. Raises DuplicateError on a taken id or unique key."""

    async def insert_many(self, records: Sequence[R]) -> None:
        """Store many new records (imports, demo data). Backends may batch the commit."""
        for record in records:
            await self.insert(record)

    @abc.abstractmethod
    async def get(self, record_id: str) -> R | None: ...

    @abc.abstractmethod
    async def update(self, record: R) -> R:
        """Replace the record if its version is current; returns it with version + 1.

        Raises NotFoundError if it does not exist, ConflictError if stale.
        """

    @abc.abstractmethod
    async def delete(self, record_id: str) -> bool:
        """Remove a record for good (admin purge). Returns whether it existed."""

    @abc.abstractmethod
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
        """Records matching every ``where`` equality and ``within``, ordered and paged.

        ``order_by`` must be a ranged field or ``id``; records whose order field
        is null come last.  Without ``order_by`` the order is by id.
        """

    @abc.abstractmethod
    async def count(
        self, where: Mapping[str, Any] | None = None, *, within: Range | None = None
    ) -> int: ...

    async def update_with(
        self, record_id: str, mutate: Mutation[R], *, attempts: int = UPDATE_ATTEMPTS
    ) -> tuple[R, R]:
        """Read-modify-write with the version check: returns ``(before, after)``.

        ``mutate`` gets the current record (a copy it may change) and returns
        the record to store, or None to leave it as it is (then ``after`` is
        ``before``); it may be async, and it may raise to refuse (the error
        propagates, nothing is written).  On a conflict the record is read
        again and ``mutate`` runs again on the fresh copy, up to ``attempts``
        times; then ConflictError.  NotFoundError if there is no such record
        (including one deleted between two attempts).
        """
        for _attempt in range(attempts):
            before = await self.get(record_id)
            if before is None:
                raise NotFoundError(f"{self.spec.name} {record_id}")
            changed = mutate(dataclasses.replace(before))
            if inspect.isawaitable(changed):
                changed = await changed
            if changed is None:
                return before, before
            try:
                return before, await self.update(changed)
            except ConflictError:
                continue
        raise ConflictError(f"{self.spec.name} {record_id} keeps changing")

    async def get_by(self, field: str, value: Any) -> R | None:
        """The one record with this unique field value, if any."""
        if field not in self.spec.unique:
            raise QueryError(f"{self.spec.name}.{field} is not a unique field")
        found = await self.find({field: value}, limit=1)
        return found[0] if found else None

    def check_query(
        self, where: Mapping[str, Any] | None, within: Range | None, order_by: str | None
    ) -> None:
        for name in where or {}:
            if name not in self.spec.indexed and name != "id":
                raise QueryError(f"{self.spec.name}.{name} is not indexed")
        if within is not None and within.field not in self.spec.ranged:
            raise QueryError(f"{self.spec.name}.{within.field} is not a ranged field")
        if order_by is not None and order_by not in self.spec.ranged and order_by != "id":
            raise QueryError(f"{self.spec.name} cannot be ordered by {order_by}")


class KeyValues(Collection[KeyValue]):
    """The ``kv`` collection: opaque JSON values under ``"<namespace>:<key>"`` ids."""

    async def put(self, record_id: str, value: Any, *, namespace: str, now: datetime) -> KeyValue:
        """Set the value of one key, creating it if needed (the last writer wins).

        Two writers racing on a new key, or on an existing one, both succeed
        in turn: a duplicate insert becomes an update, a stale update is
        retried on the fresh record.
        """
        for _attempt in range(UPDATE_ATTEMPTS):
            existing = await self.get(record_id)
            try:
                if existing is None:
                    return await self.insert(KeyValue(
                        id=record_id, namespace=namespace, value=value, created_at=now, updated_at=now))
                if existing.value == value:
                    return existing
                return await self.update(dataclasses.replace(existing, value=value, updated_at=now))
            except (DuplicateError, ConflictError):
                continue
        raise ConflictError(f"kv {record_id} keeps changing")


class Collections:
    """One collection per record type, as attributes and by name (stores and transactions)."""

    staff: Collection[StaffUser]
    customers: Collection[Customer]
    purchases: Collection[Purchase]
    deals: Collection[Deal]
    interactions: Collection[Interaction]
    feedback: Collection[Feedback]
    reminders: Collection[Reminder]
    audit: Collection[AuditEvent]
    invitations: Collection[Invitation]
    kv: KeyValues
    todos: Collection[Todo]
    notes: Collection[Note]

    def collection(self, name: str) -> Collection[Any]:
        if name not in SCHEMA:
            raise KeyError(name)
        return getattr(self, name)  # type: ignore[no-any-return]


class Transaction(Collections):
    """The collections of a store bound to one transaction (see the module docstring).

    ``tx.customers`` ... and ``tx.collection(name)`` as on a ``Store``; backends
    set the attributes.  ``store`` is the store it belongs to.
    """

    store: Store


#: The transaction the running task is inside, per store (``Store.transaction`` refuses nesting).
_ACTIVE: contextvars.ContextVar[tuple[int, ...]] = contextvars.ContextVar("crm_bot_tx", default=())


class Store(Collections, abc.ABC):
    """All collections of one data set. Open with ``await store.open()``; close when done."""

    #: Whether other processes may write to the same data (a database several replicas share);
    #: then what this process keeps in memory about records must also read their writes.
    shared_with_other_processes: bool = False

    @property
    def damage(self) -> tuple[Damage, ...]:
        """Damage found in the stored data since it was last cleared (empty: none).

        A backend that works around damage (the TinyDB journal keeps the
        intact entries after a damaged one) lists it here, so that start-up,
        ``crm-bot check`` and the admins can say so; the list survives
        restarts until the operator clears it (``docs/operations.md``).
        """
        return ()

    def listen(self, listener: ChangeListener) -> Callable[[], None]:
        """Call ``listener`` after each committed insert, update and delete made through this store.

        It runs on the event loop, once the write is durable and before its
        caller resumes — also when that caller was cancelled meanwhile — and
        never for a write that failed.  It must be quick and must not raise
        (an exception is logged and swallowed).  Writes made by other
        processes on the same database (SQL replicas) are not seen.  Returns
        a function that stops the calls.
        """
        listeners: list[ChangeListener] = self.__dict__.setdefault("_change_listeners", [])
        listeners.append(listener)

        def stop() -> None:
            if listener in listeners:
                listeners.remove(listener)

        return stop

    def changed(self, collection: str, record_id: str, record: Record | None) -> None:
        """Tell the listeners of a committed write (backends call it; see ``listen``)."""
        for listener in tuple(self.__dict__.get("_change_listeners", ())):
            try:
                listener(collection, record_id, record)
            except Exception:
                log.exception("a change listener failed on %s %s", collection, record_id)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        """``async with store.transaction() as tx:`` -- all of it or none (module docstring)."""
        active = _ACTIVE.get()
        if id(self) in active:
            raise StoreError(f"{self!r}: transactions do not nest; use the one that is open")
        token = _ACTIVE.set((*active, id(self)))
        try:
            async with self._unit_of_work() as tx:
                yield tx
        finally:
            _ACTIVE.reset(token)

    async def atomic(
        self, work: Callable[[Transaction], Awaitable[T]], *, attempts: int = UPDATE_ATTEMPTS
    ) -> T:
        """``await work(tx)`` in a transaction, run again on a conflict (module docstring)."""
        for attempt in range(attempts):
            try:
                async with self.transaction() as tx:
                    return await work(tx)
            except ConflictError:
                if attempt == attempts - 1:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def in_transaction(self) -> bool:
        """Whether the running task is inside a transaction of this store."""
        return id(self) in _ACTIVE.get()

    @abc.abstractmethod
    def _unit_of_work(self) -> contextlib.AbstractAsyncContextManager[Transaction]:
        """The backend's transaction: commit on a clean exit, nothing applied otherwise."""

    @abc.abstractmethod
    async def open(self) -> None: ...

    @abc.abstractmethod
    async def close(self) -> None: ...

    async def schema_status(self) -> SchemaStatus:
        """Where the stored data's format stands (``crm-bot db current``); the store stays closed."""
        raise StoreError(f"{type(self).__name__} has no versioned format")

    async def upgrade(self) -> SchemaStatus:
        """Bring the stored data to this code's format (``crm-bot db upgrade``) and say where it
        stood before.  Run it with the bot stopped; the store object must not be open.  An empty
        SQL database gets its tables; an empty TinyDB directory is left as it is."""
        raise StoreError(f"{type(self).__name__} has no versioned format")

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
