"""``SQLStore``: the store on a SQL database through SQLAlchemy Core -- PostgreSQL or SQLite.

Why a second backend: the TinyDB backend keeps everything in one process's
memory and locks its data directory, so it cannot serve several bot
replicas (webhook mode behind a load balancer) or a data set larger than
memory.  PostgreSQL can; SQLite runs the same code for a single machine
that wants a file database without a server.

How it is driven: SQLAlchemy's asyncio engine (``create_async_engine``) with
an asyncio driver, ``psycopg`` (3) for PostgreSQL and ``aiosqlite`` for
SQLite.  Plain ``postgresql://`` and ``sqlite:///`` URLs are given those
drivers.  The alternative, a synchronous engine called through
``asyncio.to_thread``, was rejected: every store call would hold a thread
of the default executor (which the bot also needs for report rendering)
while it waits for a pooled connection or for the database, and a
cancelled call would leave its thread running unseen.  With the asyncio
engine, waiting -- for the pool, a row lock or the network -- costs no
thread on PostgreSQL; ``aiosqlite`` keeps one thread per SQLite connection.

Tables: see ``schema.py`` (one table per collection; ``data`` holds the
encoded record; one indexed column per searchable field; a side table for
list-valued fields).

Semantics -- the contract tests pin them down, and they are the TinyDB
backend's:

* ``update`` is a compare-and-set: ``UPDATE ... SET version = :v + 1 ...
  WHERE id = :id AND version = :v``; no row changed means the record is gone
  (``NotFoundError``) or moved on (``ConflictError``).  On PostgreSQL a
  concurrent update of the same row waits for the first one's row lock and
  then re-checks ``version``, so of several replicas claiming one reminder
  exactly one wins; on SQLite writers are serialised (``BEGIN IMMEDIATE``).
* Every write is one transaction, committed before its ``await`` returns:
  on PostgreSQL with the server's ``synchronous_commit`` (on by default), on
  SQLite in WAL mode with ``synchronous=FULL`` (fsync at every commit).
  ``insert_many`` is one transaction: all or nothing.
* A write whose caller is cancelled still runs to its end (it is shielded)
  and ``close()`` waits for it, as with the TinyDB backend: a cancelled
  write may have happened.
* ``find`` orders by ``(field, id)`` in the requested direction with nulls
  last, ranges are ``start <= field < end`` and never match nulls; ``where``
  values compare as the TinyDB backend's Python dictionaries would
  (``True == 1``; a value of the wrong type matches nothing).
* Records come from ``data`` alone and share nothing with anything.

Errors the database reports are ``StoreError``s (a unique violation is a
``DuplicateError``), with the password hidden from every message.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import hashlib
import json
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

from sqlalchemy import (
    ColumnElement,
    delete,
    event,
    exists,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import (
    ArgumentError,
    IntegrityError,
    InvalidRequestError,
    SQLAlchemyError,
    StatementError,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from bot.domain.codec import _encode as encode_value  # the codec's own value encoding
from bot.domain.codec import to_dict
from storage.base import (
    Collection,
    ConflictError,
    DuplicateError,
    NotFoundError,
    QueryError,
    R,
    Range,
    Store,
    StoreError,
)
from storage.sql.schema import CollectionTables, Kind, build_tables
from storage.tinydb_store.decode import decoder  # fast record decoding; not TinyDB-specific

T = TypeVar("T")
_Doc = dict[str, Any]
_Row = dict[str, Any]

EXAMPLE_URLS = (
    "e.g. postgresql+psycopg://crm:secret@db.example.com:5432/crm or sqlite:///crm-data/crm.sqlite3"
)
_DRIVERS = {  # URLs without an asyncio driver get the one this backend is built on
    "postgres": "postgresql+psycopg",
    "postgresql": "postgresql+psycopg",
    "sqlite": "sqlite+aiosqlite",
    "sqlite+pysqlite": "sqlite+aiosqlite",
}
_ASYNC_DRIVERS = {"postgresql": "psycopg", "sqlite": "aiosqlite"}
_PACKAGES = {"psycopg": '"psycopg[binary]"', "aiosqlite": "aiosqlite"}
_WRITE = "crm_bot_write"  # execution option: this connection writes (SQLite: BEGIN IMMEDIATE)
_NO_MATCH = object()  # a where value that cannot equal anything the column holds
_INT64 = range(-(2**63), 2**63)


def _hide_password(url: str) -> str:
    """``url`` with any ``:password@`` blanked, for messages about a URL that did not parse."""
    return re.sub(r"(://[^:/@]*:)[^@/]*@", r"\1***@", url)


def database_url(url: str) -> URL:
    """Parse and check ``url``, giving it the asyncio driver this backend uses."""
    if not url or not url.strip():
        raise StoreError(
            "the sql backend needs a database URL ([storage] url or CRM_BOT_DATABASE_URL), "
            + EXAMPLE_URLS
        )
    try:
        parsed = make_url(url.strip())
    except ArgumentError:
        raise StoreError(f"{_hide_password(url)!r} is not a database URL; {EXAMPLE_URLS}") from None
    parsed = parsed.set(drivername=_DRIVERS.get(parsed.drivername, parsed.drivername))
    if parsed.get_backend_name() not in ("postgresql", "sqlite"):
        raise StoreError(
            f"the sql backend runs on PostgreSQL or SQLite, not {parsed.get_backend_name()!r} "
            f"({parsed.render_as_string(hide_password=True)}); {EXAMPLE_URLS}"
        )
    driver = _ASYNC_DRIVERS[parsed.get_backend_name()]
    if parsed.get_driver_name() != driver:
        raise StoreError(
            f"the sql backend talks to {parsed.get_backend_name()} through {driver} (asyncio), "
            f"not {parsed.get_driver_name()!r}: write {parsed.get_backend_name()}+{driver}:// "
            f"or {parsed.get_backend_name()}:// ({parsed.render_as_string(hide_password=True)})"
        )
    return parsed


def _reason(exc: BaseException) -> str:
    """The driver's own words for a database error, on one line, without SQLAlchemy's SQL dump."""
    orig = exc.orig if isinstance(exc, StatementError) and exc.orig is not None else exc
    text = str(orig).strip()
    if isinstance(orig, SQLAlchemyError):
        text = text.split("\n[SQL:")[0].split("\n(Background")[0]
    return " ".join(text.split()) or type(orig).__name__


def _coerce(kind: Kind, key: Any) -> Any:
    """The column value an encoded ``where`` value equals, or ``_NO_MATCH``.

    The TinyDB backend looks the encoded value up in a dict, so Python's
    equality decides: ``1 == True == 1.0``, ``"1" != 1``, ``None`` only equals
    ``None``.  A database would instead cast, or refuse to compare, mismatched
    types; sorting them out here keeps the answers the same.
    """
    if key is None:
        return _NO_MATCH if kind == "list" else None
    if kind in ("str", "list"):
        return key if isinstance(key, str) else _NO_MATCH
    if not isinstance(key, (int, float)):
        return _NO_MATCH
    if kind == "bool":
        return bool(key) if key in (0, 1) else _NO_MATCH
    if kind == "int":
        if isinstance(key, float) and not key.is_integer():
            return _NO_MATCH
        return int(key) if int(key) in _INT64 else _NO_MATCH
    return _NO_MATCH


class SQLCollection(Collection[R]):
    """One collection of a ``SQLStore``: a table (and maybe a side table for list fields)."""

    def __init__(self, store: SQLStore, tables: CollectionTables) -> None:
        self._store = store
        self._t = tables
        self.spec = tables.spec
        self._decoder = decoder(tables.spec.record_type)

    # -- helpers -----------------------------------------------------------

    def _encode(self, record: R) -> _Doc:
        if not isinstance(record, self.spec.record_type):
            raise TypeError(
                f"{self.spec.name} holds {self.spec.record_type.__name__}, "
                f"not {type(record).__name__}"
            )
        return to_dict(record)

    def _row(self, record: R, doc: _Doc) -> _Row:
        """The table row: ``data`` and every derived column."""
        row: _Row = {"id": doc["id"], "version": doc["version"], "data": doc}
        for name in self._t.columns:
            kind = self._t.kinds[name]
            # Dates and datetimes go in as objects (the column type stores them); the rest encoded.
            row[name] = getattr(record, name) if kind in ("datetime", "date") else doc.get(name)
        return row

    def _elements(self, doc: _Doc) -> list[_Row]:
        """The side-table rows of a record's list fields (each distinct element once)."""
        rid = doc["id"]
        return [
            {"field": name, "value": value, "id": rid}
            for name in self._t.lists
            for value in dict.fromkeys(doc.get(name) or ())
        ]

    def _decode(self, data: Any, version: int) -> R:
        if not isinstance(data, dict):
            raise StoreError(f"{self.spec.name}: a stored record is not a JSON object: {data!r}")
        data["version"] = version  # the column is what update compares; it wins
        return self._decoder(data)  # type: ignore[no-any-return]

    def _duplicate(self, exc: IntegrityError, docs: Sequence[_Doc]) -> StoreError:
        """The ``DuplicateError`` (in the TinyDB backend's words) for a unique violation."""
        orig = exc.orig
        constraint = getattr(getattr(orig, "diag", None), "constraint_name", None)  # psycopg
        message = str(orig)  # SQLite: "UNIQUE constraint failed: <table>.<column>"
        name, table = self.spec.name, self._t.main.name
        one = docs[0] if len(docs) == 1 else None
        for field in self.spec.unique:
            if constraint == f"ux_{table}_{field}" or f"failed: {table}.{field}" in message:
                if one is not None:
                    return DuplicateError(f"{name}.{field} {one.get(field)!r} is already taken")
                return DuplicateError(
                    f"{name}.{field}: a value in the batch is taken or repeated ({_reason(exc)})"
                )
        if constraint == f"pk_{table}" or f"failed: {table}.id" in message:
            if one is not None:
                return DuplicateError(f"{name} {one['id']!r} already exists")
            return DuplicateError(
                f"{name}: an id in the batch already exists or is repeated ({_reason(exc)})"
            )
        return StoreError(f"{name}: the database refused the write: {_reason(exc)}")

    def _conditions(
        self, where: Mapping[str, Any] | None, within: Range | None
    ) -> list[ColumnElement[bool]] | None:
        """The WHERE clause, or None when nothing can match."""
        main, values = self._t.main, self._t.values
        conditions: list[ColumnElement[bool]] = []
        for name, value in (where or {}).items():
            key = encode_value(value)
            if isinstance(key, (list, dict)):
                raise QueryError(
                    f"{self.spec.name}.{name}: compare with one value, not {value!r}"
                    " (a list-valued field matches when it contains the value)"
                )
            kind: Kind = "str" if name == "id" else self._t.kinds[name]
            wanted = _coerce(kind, key)
            if wanted is _NO_MATCH:
                return None
            if kind == "list":
                assert values is not None
                conditions.append(
                    exists().where(
                        values.c.field == name, values.c.value == wanted, values.c.id == main.c.id
                    )
                )
            elif wanted is None:
                conditions.append(main.c[name].is_(None))
            else:
                conditions.append(main.c[name] == wanted)
        if within is not None:
            column = main.c[within.field]
            start, end = self._bound(within, within.start), self._bound(within, within.end)
            conditions.append(column.is_not(None))
            if start is not None:
                conditions.append(column >= start)
            if end is not None:
                conditions.append(column < end)
        return conditions

    def _bound(self, within: Range, bound: Any) -> Any:
        """A range bound, checked as the TinyDB backend checks it."""
        if bound is None:
            return None
        where = f"{self.spec.name}.{within.field}"
        if self._t.kinds[within.field] == "datetime":
            if not isinstance(bound, datetime):
                raise QueryError(f"{where} is a datetime; bound {bound!r} must be one too")
            if bound.tzinfo is None or bound.utcoffset() is None:
                raise QueryError(f"{where}: bound {bound!r} must be timezone-aware")
            return bound
        if isinstance(bound, datetime) or not isinstance(bound, date):
            raise QueryError(f"{where} is a date; bound {bound!r} must be a date")
        return bound

    # -- writes ------------------------------------------------------------

    async def insert(self, record: R) -> R:
        doc = self._encode(record)
        row, elements = self._row(record, doc), self._elements(doc)
        main, values = self._t.main, self._t.values

        async def work(conn: AsyncConnection) -> None:
            await conn.execute(insert(main), row)
            if elements:
                assert values is not None
                await conn.execute(insert(values), elements)

        await self._store._write(work, lambda exc: self._duplicate(exc, [doc]))
        return record

    async def insert_many(self, records: Sequence[R]) -> None:
        """All records in one transaction (one commit): all or nothing."""
        docs = [self._encode(record) for record in records]
        self._store._require_open()
        if not docs:
            return
        rows = [self._row(record, doc) for record, doc in zip(records, docs, strict=True)]
        elements = [element for doc in docs for element in self._elements(doc)]
        main, values = self._t.main, self._t.values

        async def work(conn: AsyncConnection) -> None:
            await conn.execute(insert(main), rows)
            if elements:
                assert values is not None
                await conn.execute(insert(values), elements)

        await self._store._write(work, lambda exc: self._duplicate(exc, docs))

    async def update(self, record: R) -> R:
        self._encode(record)  # type check
        self._store._require_open()
        rid, expected = record.id, record.version
        new = dataclasses.replace(record, version=expected + 1)  # type: ignore[type-var]
        doc = to_dict(new)
        row, elements = self._row(new, doc), self._elements(doc)
        del row["id"]
        main, values, name = self._t.main, self._t.values, self.spec.name

        async def work(conn: AsyncConnection) -> None:
            changed = await conn.execute(
                update(main).where(main.c.id == rid, main.c.version == expected).values(row)
            )
            if changed.rowcount == 0:
                stored = await conn.scalar(select(main.c.version).where(main.c.id == rid))
                if stored is None:
                    raise NotFoundError(f"{name} {rid!r} does not exist")
                raise ConflictError(
                    f"{name} {rid!r} changed: stored version {stored}, "
                    f"the update was made from version {expected}"
                )
            if values is not None:
                await conn.execute(delete(values).where(values.c.id == rid))
                if elements:
                    await conn.execute(insert(values), elements)

        await self._store._write(work, lambda exc: self._duplicate(exc, [doc]))
        return new

    async def delete(self, record_id: str) -> bool:
        self._store._require_open()
        if not isinstance(record_id, str):
            return False
        main = self._t.main

        async def work(conn: AsyncConnection) -> bool:
            # the side table's rows go with it (ON DELETE CASCADE)
            gone = await conn.execute(delete(main).where(main.c.id == record_id))
            return gone.rowcount > 0

        return await self._store._write(work, lambda exc: self._duplicate(exc, []))

    # -- reads -------------------------------------------------------------

    async def get(self, record_id: str) -> R | None:
        self._store._require_open()
        if not isinstance(record_id, str):
            return None
        main = self._t.main
        query = select(main.c.data, main.c.version).where(main.c.id == record_id)

        async def work(conn: AsyncConnection) -> Any:
            return (await conn.execute(query)).first()

        row = await self._store._read(work)
        return None if row is None else self._decode(row[0], row[1])

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
        self.check_query(where, within, order_by)
        self._store._require_open()
        conditions = self._conditions(where, within)
        if conditions is None or (limit is not None and limit <= 0):
            return []
        main = self._t.main
        query = select(main.c.data, main.c.version).where(*conditions)
        by_id = main.c.id.desc() if descending else main.c.id.asc()
        if order_by is None or order_by == "id":
            query = query.order_by(by_id)
        else:
            column = main.c[order_by]
            key = column.desc() if descending else column.asc()
            query = query.order_by(key.nulls_last(), by_id)
        if offset > 0:
            query = query.offset(offset)
        if limit is not None:
            query = query.limit(limit)

        async def work(conn: AsyncConnection) -> Any:
            return (await conn.execute(query)).all()

        rows = await self._store._read(work)
        return [self._decode(data, version) for data, version in rows]

    async def count(
        self, where: Mapping[str, Any] | None = None, *, within: Range | None = None
    ) -> int:
        self.check_query(where, within, None)
        self._store._require_open()
        conditions = self._conditions(where, within)
        if conditions is None:
            return 0
        query = select(func.count()).select_from(self._t.main).where(*conditions)

        async def work(conn: AsyncConnection) -> int:
            return int(await conn.scalar(query) or 0)

        return await self._store._read(work)


@dataclasses.dataclass
class _Engines:
    engine: AsyncEngine
    reader: AsyncEngine  # PostgreSQL: autocommit (one round trip per read)
    writer: AsyncEngine  # SQLite: BEGIN IMMEDIATE


class SQLStore(Store):
    """The store in a SQL database named by a SQLAlchemy URL (see the module docstring).

    ``prefix`` starts every table name (``crm_customers`` ...), so that
    several data sets -- or test runs -- can share one database or schema.
    ``busy_timeout``: how long a SQLite writer waits for another process's
    write lock before giving up.  ``engine_options`` go to
    ``create_async_engine`` as they are (pool size, ``echo`` ...).

    Several ``SQLStore`` objects, in one process or many, may use the same
    database at once: that is what the compare-and-set update is for.
    """

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "",
        busy_timeout: float = 30.0,
        engine_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.url = database_url(url)
        try:
            self._tables = build_tables(prefix)
        except ValueError as exc:
            raise StoreError(str(exc)) from None
        self.prefix = prefix
        self.busy_timeout = busy_timeout
        self.engine_options = dict(engine_options or {})
        self.dialect: Literal["postgresql", "sqlite"] = (
            "postgresql" if self.url.get_backend_name() == "postgresql" else "sqlite"
        )
        database = self.url.database or ""
        uri = str(self.url.query.get("uri", "")).lower() in ("true", "1")
        self._memory = self.dialect == "sqlite" and (
            database in ("", ":memory:") or (uri and "memory" in database)
        )
        self._sqlite_file = (
            Path(database) if self.dialect == "sqlite" and not self._memory and not uri else None
        )
        self._state: Literal["new", "opening", "open", "closing", "closed"] = "new"
        self._engines: _Engines | None = None
        # SQLite has one writer at a time: queueing this store's writers here is cheaper
        # than letting them poll the file lock.  A ":memory:" database is one connection,
        # so reads queue too.
        self._write_lock: asyncio.Lock | None = None
        self._inflight: set[asyncio.Task[Any]] = set()
        for name, tables in self._tables.collections.items():
            setattr(self, name, SQLCollection(self, tables))

    def __repr__(self) -> str:
        where = self.url.render_as_string(hide_password=True)
        prefix = f", prefix={self.prefix!r}" if self.prefix else ""
        return f"SQLStore({where!r}{prefix}, {self._state})"

    # -- opening and closing -------------------------------------------------

    async def open(self) -> None:
        """Connect and create the tables that are missing (idempotent, safe to race)."""
        if self._state in ("opening", "open", "closing"):
            raise StoreError(f"{self!r} is already open")
        self._state = "opening"
        try:
            engines = self._create_engines()
            try:
                await self._create_tables(engines)
            except BaseException:
                await asyncio.shield(engines.engine.dispose())
                raise
        except BaseException:
            self._state = "closed"
            raise
        self._engines = engines
        self._write_lock = asyncio.Lock() if self.dialect == "sqlite" else None
        self._state = "open"

    def _create_engines(self) -> _Engines:
        where = self.url.render_as_string(hide_password=True)
        options: dict[str, Any] = {
            "json_serializer": functools.partial(
                json.dumps, ensure_ascii=False, separators=(",", ":")
            ),
        }
        if self.dialect == "postgresql":
            options["pool_pre_ping"] = True  # survive a database restart between requests
        else:
            options["connect_args"] = {"timeout": self.busy_timeout}
            if self._sqlite_file is not None:
                try:
                    self._sqlite_file.parent.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise StoreError(f"cannot create the directory of {where}: {exc}") from exc
        options.update(self.engine_options)
        try:
            engine = create_async_engine(self.url, **options)
        except ImportError as exc:
            package = _PACKAGES.get(self.url.get_driver_name(), self.url.get_driver_name())
            raise StoreError(
                f"the database driver for {where} is not installed ({exc}); pip install {package}"
            ) from exc
        except (InvalidRequestError, ArgumentError, TypeError) as exc:
            raise StoreError(
                f"cannot use {where}: {exc}; the sql backend needs an asyncio driver "
                "(postgresql+psycopg:// or sqlite+aiosqlite://)"
            ) from exc
        if self.dialect == "sqlite":
            _configure_sqlite(engine, memory=self._memory)
            return _Engines(engine, engine, engine.execution_options(**{_WRITE: True}))
        return _Engines(engine, engine.execution_options(isolation_level="AUTOCOMMIT"), engine)

    async def _create_tables(self, engines: _Engines) -> None:
        where = self.url.render_as_string(hide_password=True)
        try:
            async with engines.writer.begin() as conn:
                if self.dialect == "postgresql":
                    # Replicas starting together would race to CREATE the same tables.
                    key = int.from_bytes(
                        hashlib.sha256(f"crm-bot:{self.prefix}".encode()).digest()[:8],
                        "big",
                        signed=True,
                    )
                    await conn.execute(select(func.pg_advisory_xact_lock(key)))
                await conn.run_sync(self._tables.metadata.create_all)
        except (SQLAlchemyError, OSError) as exc:
            raise StoreError(f"cannot open the database {where}: {_reason(exc)}") from exc
        except ValueError as exc:  # e.g. SQLAlchemy's asyncio needs greenlet
            raise StoreError(f"cannot open the database {where}: {exc}") from exc

    async def close(self) -> None:
        """Wait for writes still running (their callers may have been cancelled), disconnect."""
        if self._state != "open":
            return
        self._state = "closing"
        engines = self._engines
        assert engines is not None
        try:
            if self._inflight:
                await asyncio.gather(*self._inflight, return_exceptions=True)
            await engines.engine.dispose()
        finally:
            self._engines = None
            self._state = "closed"

    async def drop_tables(self) -> None:
        """Drop this store's tables and everything in them, for good (tests, uninstalling)."""

        async def work(conn: AsyncConnection) -> None:
            await conn.run_sync(self._tables.metadata.drop_all)

        await self._write(work, lambda exc: StoreError(_reason(exc)))

    # -- running statements --------------------------------------------------

    def _require_open(self) -> _Engines:
        if self._state != "open" or self._engines is None:
            raise StoreError(f"{self!r} is not open")
        return self._engines

    async def _write(
        self,
        work: Callable[[AsyncConnection], Awaitable[T]],
        duplicate: Callable[[IntegrityError], StoreError],
    ) -> T:
        """Run ``work`` in one transaction and commit it; shielded from the caller's cancellation."""
        engines = self._require_open()
        task = asyncio.ensure_future(self._transaction(engines.writer, work, duplicate))
        self._inflight.add(task)
        task.add_done_callback(self._settled)
        return await asyncio.shield(task)

    def _settled(self, task: asyncio.Task[Any]) -> None:
        self._inflight.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved: a write whose caller left must not log "never retrieved"

    async def _transaction(
        self,
        engine: AsyncEngine,
        work: Callable[[AsyncConnection], Awaitable[T]],
        duplicate: Callable[[IntegrityError], StoreError],
    ) -> T:
        lock = self._write_lock
        try:
            if lock is None:
                async with engine.begin() as conn:
                    return await work(conn)
            async with lock, engine.begin() as conn:
                return await work(conn)
        except IntegrityError as exc:
            raise duplicate(exc) from exc
        except SQLAlchemyError as exc:
            raise StoreError(f"{self!r}: the write failed: {_reason(exc)}") from exc

    async def _read(self, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        engines = self._require_open()
        try:
            if self._memory and self._write_lock is not None:
                async with self._write_lock, engines.reader.connect() as conn:
                    return await work(conn)
            async with engines.reader.connect() as conn:
                return await work(conn)
        except SQLAlchemyError as exc:
            raise StoreError(f"{self!r}: the read failed: {_reason(exc)}") from exc


def _configure_sqlite(engine: AsyncEngine, *, memory: bool) -> None:
    """WAL, fsync at commit, foreign keys, and transactions that begin when SQLAlchemy says.

    The ``sqlite3`` module's own transaction handling (it issues BEGIN only
    before DML, and a deferred one) is switched off, as SQLAlchemy's SQLite
    documentation recommends: reads then run in a real transaction, and
    writers take the write lock with ``BEGIN IMMEDIATE`` up front -- a
    deferred transaction that reads and then writes can fail with "database
    is locked" at once instead of waiting ``busy_timeout``.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            if not memory:
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def begin(conn: Connection) -> None:
        writes = conn.get_execution_options().get(_WRITE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")


__all__ = ["SQLCollection", "SQLStore", "database_url"]
