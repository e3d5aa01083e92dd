"""Transactions of the SQL backend: one database transaction on one connection.

``SQLTransaction`` takes a connection from the pool and begins a
transaction on it (SQLite: ``BEGIN IMMEDIATE``, and the store's write lock
for as long as it lasts -- SQLite has one writer at a time anyway).  Its
collections are ordinary ``SQLCollection`` objects whose "store" is the
transaction: every statement they build runs on that connection, in the
store's worker threads, one call at a time; so the database itself gives
the isolation (PostgreSQL: READ COMMITTED, with the compare-and-set update
taking the row lock until the commit) and keeps the unique constraints.

The change listeners are told once the commit returned: of each record
changed, once, with its final state (a record inserted and deleted again is
heard as deleted).  A ``ConflictError`` or any database error aborts the
transaction (PostgreSQL refuses every statement after a failed one anyway);
a deadlock or serialisation failure the database reports is a
``ConflictError``, so the caller may retry the whole block.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from storage.base import (
    ConflictError,
    DuplicateError,
    NotFoundError,
    QueryError,
    StorageFullError,
    StoreError,
    Transaction,
)

if TYPE_CHECKING:
    from storage.sql.store import SQLStore, _Engines

T = TypeVar("T")
Work = Callable[[Connection], T]
_RETRYABLE = {"40001", "40P01"}  # serialization_failure, deadlock_detected


class SQLTransaction(Transaction):
    """One open transaction of a ``SQLStore``: the collections, bound to one connection."""

    def __init__(self, store: SQLStore, thread: ThreadPoolExecutor, conn: Connection) -> None:
        from storage.sql.store import SQLCollection, SQLKeyValues

        self.store = store
        self.thread = thread  # its own: never waits for the store's workers (they may wait for it)
        self._conn = conn
        self._calls = asyncio.Lock()  # a connection runs one statement batch at a time
        self._told: list[Callable[[], None]] = []
        self._final: dict[tuple[str, str], Any] = {}  # what the listeners will hear, per record
        self.records = 0
        self.failed: StoreError | None = None
        self.state: Literal["open", "committing", "over"] = "open"
        for name, tables in store._tables.collections.items():
            kind = SQLKeyValues if name == "kv" else SQLCollection
            setattr(self, name, kind(self, tables))  # type: ignore[arg-type]

    # -- what SQLCollection calls on its "store" ------------------------------

    def _require_open(self) -> _Engines:
        if self.state != "open":
            raise StoreError(f"{self.store!r}: the transaction is over; open a new one")
        if self.failed is not None:
            raise type(self.failed)(f"the transaction was aborted: {self.failed}")
        return self.store._require_open()

    def changed(self, collection: str, record_id: str, record: Any) -> None:
        """Called by ``tell`` (through the writes' ``durable``): keep each record's final state."""
        self._final.pop((collection, record_id), None)  # in the order last changed
        self._final[(collection, record_id)] = record

    async def _write(
        self,
        work: Work[T],
        duplicate: Callable[[IntegrityError], StoreError],
        records: int = 1,
        *,
        durable: Callable[[T], None] | None = None,
    ) -> T:
        result = await self._run(work, duplicate)
        self.records += records
        if durable is not None:
            self._told.append(functools.partial(durable, result))
        return result

    async def _read(self, work: Work[T]) -> T:
        return await self._run(work, None)

    async def _run(self, work: Work[T], duplicate: Callable[[IntegrityError], StoreError] | None) -> T:
        self._require_open()
        async with self._calls:
            self._require_open()
            try:
                return await _in_thread(self.thread, self._call, work, duplicate)
            except (NotFoundError, QueryError):
                raise  # nothing was written: the transaction goes on
            except StoreError as exc:
                self.failed = exc
                raise
            except BaseException as exc:  # cancelled mid-statement: the connection's state is unknown
                self.failed = StoreError(f"a call in the transaction was interrupted ({exc!r})")
                raise

    def _call(
        self, work: Work[T], duplicate: Callable[[IntegrityError], StoreError] | None
    ) -> T:
        """In a worker thread: ``work`` on the transaction's connection, errors translated."""
        try:
            return work(self._conn)
        except IntegrityError as exc:
            if duplicate is None:
                raise StoreError(f"{self.store!r}: {_reason(exc)}") from exc
            raise duplicate(exc) from exc
        except SQLAlchemyError as exc:
            raise self.store_error(exc, "the write failed") from exc

    def store_error(self, exc: SQLAlchemyError, what: str) -> StoreError:
        from storage.sql.store import _disk_full

        if getattr(getattr(exc, "orig", None), "sqlstate", None) in _RETRYABLE:
            return ConflictError(f"{self.store!r}: the database aborted the transaction: {_reason(exc)}")
        if _disk_full(exc):
            return StorageFullError(
                f"{self.store!r}: no space left for the database: {_reason(exc)}; "
                "the transaction was not stored"
            )
        return StoreError(f"{self.store!r}: {what}: {_reason(exc)}")

    # -- the end ---------------------------------------------------------------

    def commit(self) -> None:
        """In a worker thread: commit and give the connection back."""
        try:
            try:
                self._conn.commit()
            except IntegrityError as exc:  # a deferred constraint (none today) or the like
                raise DuplicateError(f"{self.store!r}: the commit was refused: {_reason(exc)}") from exc
            except SQLAlchemyError as exc:
                raise self.store_error(exc, "the commit failed") from exc
        finally:
            self._conn.close()  # after a failed commit this rolls back

    def rollback(self) -> None:
        """In a worker thread: roll back and give the connection back (never raises)."""
        try:
            self._conn.rollback()
        except SQLAlchemyError:
            self._conn.invalidate()  # a broken connection is not handed to anyone again
        finally:
            self._conn.close()

    def tell(self) -> None:
        """Tell the store's listeners of each record changed, once, with its final state."""
        for told in self._told:
            told()
        for (collection, record_id), record in self._final.items():
            self.store.changed(collection, record_id, record)


def _reason(exc: BaseException) -> str:
    from storage.sql.store import _reason as reason

    return reason(exc)


async def _in_thread(thread: ThreadPoolExecutor, function: Callable[..., T], *args: Any) -> T:
    return await asyncio.get_running_loop().run_in_executor(
        thread, functools.partial(function, *args)
    )
