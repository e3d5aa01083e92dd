"""``SQLStore``: the store on a SQL database through SQLAlchemy Core -- PostgreSQL or SQLite.

Why a second backend: the TinyDB backend keeps everything in one process's
memory and locks its data directory, so it cannot serve several bot
replicas (webhook mode behind a load balancer) or a data set larger than
memory.  PostgreSQL can; SQLite runs the same code for a single machine
that wants a file database without a server.

How it is driven: SQLAlchemy Core on a synchronous engine -- ``psycopg``
(3) for PostgreSQL, the standard ``sqlite3`` for SQLite -- and every store
call runs as one unit (its statements, its transaction) in a worker thread
of the store's own pool, so the event loop never waits for the database.
The pool has as many threads as the engine has connections (``threads``),
so a thread never waits for a connection and at most that many operations
are in the database at once; the rest queue without holding anything.

Why not ``create_async_engine``: it would need an asyncio driver per
database and greenlet.  For PostgreSQL that would save a thread per
operation in flight, but the connections are the real limit and there are
as many threads as connections.  For SQLite the asyncio driver
(``aiosqlite``) is itself a thread per connection, reached with one thread
hop per DBAPI call -- about eight per store operation: a ``get`` took
1.9 ms that way and 0.4 ms as one hop (PostgreSQL on the same machine: 1.4
ms async, 0.8 ms threaded).  One approach, one set of drivers, and the
statements are written once for both databases.

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
import contextlib
import dataclasses
import functools
import json
import re
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from sqlalchemy import (
    ColumnElement,
    Engine,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import (
    ArgumentError,
    IntegrityError,
    SQLAlchemyError,
    StatementError,
)
from sqlalchemy.pool import QueuePool, StaticPool

from bot.domain.codec import _encode as encode_value  # the codec's own value encoding
from bot.domain.codec import to_dict
from bot.domain.models import KeyValue
from storage.base import (
    Collection,
    ConflictError,
    DuplicateError,
    KeyValues,
    NotFoundError,
    QueryError,
    R,
    Range,
    SchemaOutdatedError,
    SchemaStatus,
    SchemaTooNewError,
    SchemaVersionError,
    StorageFullError,
    Store,
    StoreError,
    Transaction,
)
from storage.files import private_dir, private_touch
from storage.sql import migrations
from storage.sql.schema import CollectionTables, Kind, build_tables
from storage.tinydb_store.decode import decoder  # fast record decoding; not TinyDB-specific

if TYPE_CHECKING:
    from storage.sql.transaction import SQLTransaction

T = TypeVar("T")
_Doc = dict[str, Any]
_Row = dict[str, Any]
Work = Callable[[Connection], T]

EXAMPLE_URLS = (
    "e.g. postgresql+psycopg://crm:PASSWORD@db.example.com:5432/crm"
    " or sqlite:///crm-data/crm.sqlite3"
)
_DRIVER_NAMES = {  # spellings that mean a driver this backend uses
    "postgres": "postgresql+psycopg",
    "postgresql": "postgresql+psycopg",
    "postgresql+psycopg_async": "postgresql+psycopg",
    "sqlite": "sqlite+pysqlite",
    "sqlite+aiosqlite": "sqlite+pysqlite",
}
_DRIVERS = {"postgresql": "psycopg", "sqlite": "pysqlite"}
_WRITE = "crm_bot_write"  # execution option: this connection writes (SQLite: BEGIN IMMEDIATE)
_NO_MATCH = object()  # a where value that cannot equal anything the column holds
_INT64 = range(-(2**63), 2**63)
#: Transactions open at once (PostgreSQL; SQLite has one writer): each holds a connection
#: beyond the pool's ``threads`` and runs on a thread of its own, so that a transaction
#: never waits for a worker thread that waits for it (a row it locked).
TRANSACTIONS = 2


def _hide_password(url: str) -> str:
    """``url`` with any ``:password@`` blanked, for messages about a URL that did not parse."""
    return re.sub(r"(://[^:/@]*:)[^@/]*@", r"\1***@", url)


def database_url(url: str) -> URL:
    """Parse and check ``url``, naming the driver this backend uses."""
    if not url or not url.strip():
        raise StoreError(
            "the sql backend needs a database URL ([storage] url or CRM_BOT_DATABASE_URL), "
            + EXAMPLE_URLS
        )
    try:
        parsed = make_url(url.strip())
    except ArgumentError:
        raise StoreError(f"{_hide_password(url)!r} is not a database URL; {EXAMPLE_URLS}") from None
    parsed = parsed.set(drivername=_DRIVER_NAMES.get(parsed.drivername, parsed.drivername))
    backend = parsed.get_backend_name()
    shown = parsed.render_as_string(hide_password=True)
    if backend not in _DRIVERS:
        raise StoreError(
            f"the sql backend runs on PostgreSQL or SQLite, not {backend!r} ({shown}); "
            + EXAMPLE_URLS
        )
    if parsed.get_driver_name() != _DRIVERS[backend]:
        raise StoreError(
            f"the sql backend talks to {backend} through {_DRIVERS[backend]}, not "
            f"{parsed.get_driver_name()!r}: write {backend}:// ({shown})"
        )
    return parsed


def _reason(exc: BaseException) -> str:
    """The driver's own words for a database error, on one line, without the SQL dump."""
    orig = exc.orig if isinstance(exc, StatementError) and exc.orig is not None else exc
    text = str(orig).strip()
    if isinstance(orig, SQLAlchemyError):
        text = text.split("\n[SQL:")[0].split("\n(Background")[0]
    return " ".join(text.split()) or type(orig).__name__


def _disk_full(exc: SQLAlchemyError) -> bool:
    """SQLite's SQLITE_FULL ("database or disk is full") or PostgreSQL's disk_full (53100)."""
    orig = getattr(exc, "orig", None)
    if getattr(orig, "sqlite_errorcode", None) == 13 or getattr(orig, "sqlstate", None) == "53100":
        return True
    return "database or disk is full" in str(orig or exc) or "No space left on device" in str(orig or exc)


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
    """One collection of a ``SQLStore``: a table (and maybe a side table for list fields).

    Each method builds its statements on the event loop, runs them as one
    unit in a worker thread (``work``) and decodes the rows back on the loop.
    """

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
                # IN, not a correlated EXISTS: SQLite would run that once per row of the table
                members = select(values.c.id).where(
                    values.c.field == name, values.c.value == wanted
                )
                conditions.append(main.c.id.in_(members))
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

        def work(conn: Connection) -> None:
            conn.execute(insert(main), row)
            if elements:
                assert values is not None
                conn.execute(insert(values), elements)

        await self._store._write(work, lambda exc: self._duplicate(exc, [doc]),
                                 durable=lambda _: self._store.changed(self.spec.name, record.id, record))
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

        def work(conn: Connection) -> None:
            conn.execute(insert(main), rows)
            if elements:
                assert values is not None
                conn.execute(insert(values), elements)

        def durable(_: None) -> None:
            for record in records:
                self._store.changed(self.spec.name, record.id, record)

        await self._store._write(work, lambda exc: self._duplicate(exc, docs), len(docs),
                                 durable=durable)

    async def update(self, record: R) -> R:
        self._encode(record)  # type check
        self._store._require_open()
        rid, expected = record.id, record.version
        new = dataclasses.replace(record, version=expected + 1)  # type: ignore[type-var]
        doc = to_dict(new)
        row, elements = self._row(new, doc), self._elements(doc)
        del row["id"]
        main, values, name = self._t.main, self._t.values, self.spec.name
        compare_and_set = (
            update(main).where(main.c.id == rid, main.c.version == expected).values(row)
        )

        def work(conn: Connection) -> None:
            if conn.execute(compare_and_set).rowcount == 0:
                stored = conn.scalar(select(main.c.version).where(main.c.id == rid))
                if stored is None:
                    raise NotFoundError(f"{name} {rid!r} does not exist")
                raise ConflictError(
                    f"{name} {rid!r} changed: stored version {stored}, "
                    f"the update was made from version {expected}"
                )
            if values is not None:
                conn.execute(delete(values).where(values.c.id == rid))
                if elements:
                    conn.execute(insert(values), elements)

        await self._store._write(work, lambda exc: self._duplicate(exc, [doc]),
                                 durable=lambda _: self._store.changed(self.spec.name, rid, new))
        return new

    async def delete(self, record_id: str) -> bool:
        self._store._require_open()
        if not isinstance(record_id, str):
            return False
        statement = delete(self._t.main).where(self._t.main.c.id == record_id)

        def work(conn: Connection) -> bool:
            return conn.execute(statement).rowcount > 0  # side-table rows: ON DELETE CASCADE

        def durable(existed: bool) -> None:
            if existed:
                self._store.changed(self.spec.name, record_id, None)

        return await self._store._write(work, lambda exc: self._duplicate(exc, []), durable=durable)

    # -- reads -------------------------------------------------------------

    async def get(self, record_id: str) -> R | None:
        self._store._require_open()
        if not isinstance(record_id, str):
            return None
        main = self._t.main
        query = select(main.c.data, main.c.version).where(main.c.id == record_id)
        row = await self._store._read(lambda conn: conn.execute(query).first())
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
        rows = await self._store._read(lambda conn: conn.execute(query).all())
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
        return await self._store._read(lambda conn: int(conn.scalar(query) or 0))


class SQLKeyValues(SQLCollection[KeyValue], KeyValues):
    """The kv collection; ``put`` is the interface's."""


@dataclasses.dataclass
class _Engines:
    engine: Engine
    reader: Engine  # PostgreSQL: autocommit (no BEGIN/COMMIT round trips for one SELECT)
    writer: Engine  # SQLite: BEGIN IMMEDIATE
    threads: ThreadPoolExecutor


class SQLStore(Store):
    """The store in a SQL database named by a SQLAlchemy URL (see the module docstring).

    ``prefix`` starts every table name (``crm_customers`` ...), so that
    several data sets -- or test runs -- can share one database or schema.
    ``threads``: the worker threads, and as many pooled connections (one
    for an in-memory SQLite database, which is one connection).
    ``busy_timeout``: how long a SQLite writer waits for another process's
    write lock.  ``engine_options`` go to ``sqlalchemy.create_engine`` as
    they are (``echo``, ``pool_recycle`` ...).

    Several ``SQLStore`` objects, in one process or many, may use the same
    database at once: that is what the compare-and-set update is for.
    """

    shared_with_other_processes = True

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "",
        threads: int = 8,
        busy_timeout: float = 30.0,
        engine_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.url = database_url(url)
        try:
            self._tables = build_tables(prefix)
        except ValueError as exc:
            raise StoreError(str(exc)) from None
        if threads < 1:
            raise ValueError("threads must be at least 1")
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
        self.threads = 1 if self._memory else threads
        self._sqlite_file = (
            Path(database) if self.dialect == "sqlite" and not self._memory and not uri else None
        )
        self._state: Literal["new", "opening", "open", "closing", "closed"] = "new"
        self._engines: _Engines | None = None
        # SQLite has one writer at a time: queueing this store's writers here is cheaper
        # than having them poll the file lock in their threads.
        self._write_lock: asyncio.Lock | None = None
        self._inflight: set[asyncio.Task[Any]] = set()
        self._transactions = 0  # open now (in-memory SQLite: the one connection is theirs)
        self._transaction_slots: asyncio.Semaphore | None = None  # PostgreSQL: TRANSACTIONS
        self._writes = 0  # records written since opening (SQLite: when to refresh statistics)
        self._next_analysis = 1000
        for name, tables in self._tables.collections.items():
            kind = SQLKeyValues if tables.spec.record_type is KeyValue else SQLCollection
            setattr(self, name, kind(self, tables))

    def __repr__(self) -> str:
        where = self.url.render_as_string(hide_password=True)
        prefix = f", prefix={self.prefix!r}" if self.prefix else ""
        return f"SQLStore({where!r}{prefix}, {self._state})"

    # -- opening and closing -------------------------------------------------

    async def open(self) -> None:
        """Connect; create an empty database's tables, refuse one at another schema revision
        (``SchemaVersionError``).  Idempotent, safe to race."""
        if self._state in ("opening", "open", "closing"):
            raise StoreError(f"{self!r} is already open")
        self._state = "opening"
        try:
            engines = self._create_engines()
            try:
                await _in_thread(engines.threads, self._create_tables, engines)
            except BaseException:
                engines.engine.dispose()
                engines.threads.shutdown(wait=False)
                raise
        except BaseException:
            self._state = "closed"
            raise
        self._engines = engines
        self._write_lock = asyncio.Lock() if self.dialect == "sqlite" else None
        self._writes, self._next_analysis = 0, 1000
        self._state = "open"

    def _create_engines(self) -> _Engines:
        where = self.url.render_as_string(hide_password=True)
        options: dict[str, Any] = {
            "json_serializer": functools.partial(
                json.dumps, ensure_ascii=False, separators=(",", ":")
            ),
        }
        if self.dialect == "postgresql":
            options.update(
                poolclass=QueuePool,
                pool_size=self.threads,
                max_overflow=TRANSACTIONS,  # the transactions' own connections
                pool_pre_ping=True,  # survive a database restart between two requests
            )
            if "connect_timeout" not in self.url.query:  # an unreachable host: fail, not hang
                options["connect_args"] = {"connect_timeout": 10}
        else:
            options["connect_args"] = {"timeout": self.busy_timeout, "check_same_thread": False}
            if self._memory:
                options["poolclass"] = StaticPool  # one connection: the database itself
            else:
                options.update(poolclass=QueuePool, pool_size=self.threads, max_overflow=TRANSACTIONS)
            if self._sqlite_file is not None:
                try:
                    private_dir(self._sqlite_file.parent)
                except OSError as exc:
                    raise StoreError(f"cannot create the directory of {where}: {exc}") from exc
                with contextlib.suppress(OSError):  # unusable: SQLite's own error says why
                    private_touch(self._sqlite_file)  # SQLite keeps the mode of the file it finds
        options.update(self.engine_options)
        try:
            engine = create_engine(self.url, **options)
        except ImportError as exc:
            raise StoreError(
                f"the database driver for {where} is not installed ({exc}); "
                'pip install "psycopg[binary]"'
            ) from exc
        except (SQLAlchemyError, TypeError) as exc:
            raise StoreError(f"cannot use {where}: {exc}") from exc
        threads = ThreadPoolExecutor(self.threads, thread_name_prefix="crm-sql")
        if self.dialect == "sqlite":
            _configure_sqlite(engine, memory=self._memory)
            return _Engines(engine, engine, engine.execution_options(**{_WRITE: True}), threads)
        return _Engines(
            engine, engine.execution_options(isolation_level="AUTOCOMMIT"), engine, threads
        )

    def _create_tables(self, engines: _Engines) -> None:
        """In a worker thread: check the schema revision; create an empty database's tables.

        One opener at a time (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: an
        advisory lock, which ``crm-bot db upgrade`` holds too).  See
        ``migrations/__init__.py`` for what each state of the database means.
        """
        where = self.url.render_as_string(hide_password=True)
        try:
            with engines.writer.begin() as conn:
                migrations.lock(conn, self.prefix)
                try:
                    current = migrations.stored_revision(conn, self.prefix, self._tables.metadata)
                except ValueError as exc:
                    raise StoreError(f"cannot open the database {where}: {exc}") from None
                if current is None:
                    migrations.create_at_head(conn, self.prefix, self._tables.metadata)
                elif current != migrations.HEAD:
                    raise self._version_error(current)
                if self.dialect == "sqlite":
                    self._analyze_tables(conn)  # see analyze()
        except (SQLAlchemyError, OSError) as exc:
            raise StoreError(f"cannot open the database {where}: {_reason(exc)}") from exc

    def _version_error(self, current: str) -> SchemaVersionError:
        where = self.url.render_as_string(hide_password=True)
        head = migrations.HEAD
        tables = f" (tables {self.prefix}*)" if self.prefix else ""
        if migrations.is_older(current):
            return SchemaOutdatedError(
                f"the database {where}{tables} has schema revision {current}, older than this "
                f"crm-bot's {head}: back it up, stop every bot process using it and run "
                f"`{migrations.UPGRADE_COMMAND}` (with the same --config), see docs/operations.md",
                current, head,
            )
        return SchemaTooNewError(
            f"the database {where}{tables} has schema revision {current}, which this crm-bot "
            f"(schema {head}) does not know: a newer crm-bot upgraded it; run that version",
            current, head,
        )

    # -- schema revisions (crm-bot db current / upgrade) --------------------

    async def schema_status(self) -> SchemaStatus:
        """The database's schema revision (the store need not be, and is not, opened)."""
        return await self._with_engines(self._status)

    async def upgrade(self) -> SchemaStatus:
        """Run the migrations the database lacks (an empty one gets them all); returns where
        it stood before.  Refuses a database newer than this code."""
        return await self._with_engines(self._upgrade)

    async def _with_engines(self, work: Callable[[_Engines], T]) -> T:
        if self._state in ("opening", "open", "closing"):
            raise StoreError(f"{self!r} is open; close it first")
        engines = self._create_engines()
        try:
            return await _in_thread(engines.threads, work, engines)
        finally:
            await _in_thread(engines.threads, engines.engine.dispose)
            engines.threads.shutdown(wait=False)

    def _status(self, engines: _Engines) -> SchemaStatus:
        where = self.url.render_as_string(hide_password=True)
        try:
            with engines.reader.connect() as conn:
                current = migrations.stored_revision(conn, self.prefix, self._tables.metadata)
        except ValueError as exc:
            raise StoreError(f"the database {where}: {exc}") from None
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot read the database {where}: {_reason(exc)}") from exc
        return SchemaStatus("sql", current, migrations.HEAD, migrations.REVISIONS)

    def _upgrade(self, engines: _Engines) -> SchemaStatus:
        where = self.url.render_as_string(hide_password=True)
        try:
            with engines.writer.connect() as conn:
                before = migrations.upgrade(conn, self.prefix, self._tables.metadata)
        except LookupError as exc:
            raise self._version_error(str(exc.args[0])) from None
        except ValueError as exc:
            raise StoreError(f"cannot upgrade the database {where}: {exc}") from None
        except SQLAlchemyError as exc:
            raise StoreError(
                f"upgrading the database {where} failed, nothing was changed: {_reason(exc)}"
            ) from exc
        return SchemaStatus("sql", before, migrations.HEAD, migrations.REVISIONS)

    async def close(self) -> None:
        """Wait for writes still running (their callers may have been cancelled), disconnect."""
        if self._state != "open":
            return
        self._state = "closing"
        engines = self._engines
        assert engines is not None
        try:
            while self._inflight:  # (a write that finishes may start a statistics refresh)
                await asyncio.gather(*self._inflight, return_exceptions=True)
            # after any read still running in the pool's threads
            await _in_thread(engines.threads, engines.engine.dispose)
        finally:
            engines.threads.shutdown(wait=False)
            self._engines = None
            self._state = "closed"

    async def analyze(self) -> None:
        """Refresh the query planner's statistics of this store's tables (``ANALYZE``).

        Without them SQLite guesses, and guesses that ``deleted = false`` is as
        selective as ``owner_id = ?`` -- a rep's 20 latest interactions then
        took 27 ms instead of 2 ms at 100,000 interactions.  On SQLite the
        store runs it itself, sampling (``analysis_limit``, ~30 ms at any
        size): when it opens and each time its writes since opening double
        past 1,000.  PostgreSQL's autovacuum keeps the statistics current; run
        this after a bulk import if the database's autovacuum is off.
        """
        await self._write(self._analyze_tables, lambda exc: StoreError(_reason(exc)))

    def _analyze_tables(self, conn: Connection) -> None:
        quote = conn.dialect.identifier_preparer.quote
        for table in self._tables.metadata.sorted_tables:
            conn.exec_driver_sql(f"ANALYZE {quote(table.name)}")

    async def drop_tables(self) -> None:
        """Drop this store's tables (and its version table) and everything in them, for good
        (tests, uninstalling)."""

        def drop(conn: Connection) -> None:
            self._tables.metadata.drop_all(conn)
            migrations.version_table(self.prefix).drop(conn, checkfirst=True)

        await self._write(drop, lambda exc: StoreError(_reason(exc)))

    # -- running statements --------------------------------------------------

    def _require_open(self) -> _Engines:
        if self._state != "open" or self._engines is None:
            raise StoreError(f"{self!r} is not open")
        return self._engines

    async def _write(
        self,
        work: Work[T],
        duplicate: Callable[[IntegrityError], StoreError],
        records: int = 1,
        *,
        durable: Callable[[T], None] | None = None,
    ) -> T:
        """Run ``work`` in one transaction and commit it; shielded from the caller's cancellation.

        ``records``: how many records it writes (SQLite: when to refresh the statistics).
        ``durable(result)`` is called once committed, even if the caller was cancelled
        meanwhile (the change listeners, ``Store.listen``).
        """
        engines = self._require_open()
        if self.in_transaction():  # it would wait for the transaction's locks, i.e. forever
            raise StoreError(f"{self!r}: inside a transaction, write through it (tx.<collection>)")
        task = asyncio.ensure_future(self._queue_write(engines, work, duplicate, records))
        self._inflight.add(task)
        task.add_done_callback(self._settled)
        if durable is not None:
            task.add_done_callback(
                lambda t: None if t.cancelled() or t.exception() is not None else durable(t.result())
            )
        return await asyncio.shield(task)

    def _settled(self, task: asyncio.Task[Any]) -> None:
        self._inflight.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved: a write whose caller left must not log "never retrieved"

    async def _queue_write(
        self,
        engines: _Engines,
        work: Work[T],
        duplicate: Callable[[IntegrityError], StoreError],
        records: int,
    ) -> T:
        if self._write_lock is None:
            return await _in_thread(engines.threads, self._transaction, engines, work, duplicate)
        async with self._write_lock:
            done = await _in_thread(engines.threads, self._transaction, engines, work, duplicate)
        self._writes += records
        if self._writes >= self._next_analysis:  # SQLite: see analyze()
            self._next_analysis *= 2
            task = asyncio.ensure_future(self.analyze())
            self._inflight.add(task)
            task.add_done_callback(self._settled)
        return done

    def _transaction(
        self, engines: _Engines, work: Work[T], duplicate: Callable[[IntegrityError], StoreError]
    ) -> T:
        """In a worker thread: ``work`` in a transaction, committed, or rolled back on error."""
        try:
            with engines.writer.begin() as conn:
                return work(conn)
        except IntegrityError as exc:
            raise duplicate(exc) from exc
        except SQLAlchemyError as exc:
            if _disk_full(exc):
                raise StorageFullError(
                    f"{self!r}: no space left for the database: {_reason(exc)}; "
                    "the write was not stored"
                ) from exc
            raise StoreError(f"{self!r}: the write failed: {_reason(exc)}") from exc

    async def _read(self, work: Work[T]) -> T:
        engines = self._require_open()
        if self._memory and self._transactions and self._write_lock is not None:
            # One connection, inside the transaction's BEGIN: wait for its end.
            if self.in_transaction():
                raise StoreError(f"{self!r}: inside a transaction, read through it (tx.<collection>)")
            async with self._write_lock:
                return await _in_thread(engines.threads, self._query, engines, work)
        return await _in_thread(engines.threads, self._query, engines, work)

    # -- transactions --------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _unit_of_work(self) -> AsyncIterator[Transaction]:
        """One database transaction on one connection (``transaction.py``)."""
        from storage.sql.transaction import SQLTransaction

        engines = self._require_open()
        # SQLite: the write lock, for the whole transaction; PostgreSQL: one of TRANSACTIONS slots.
        gate: asyncio.Lock | asyncio.Semaphore | None = self._write_lock
        if gate is None:
            if self._transaction_slots is None:
                self._transaction_slots = asyncio.Semaphore(TRANSACTIONS)
            gate = self._transaction_slots
        await gate.acquire()
        handed_off = False  # once the end runs in a task, that task opens the gate
        self._transactions += 1
        thread = ThreadPoolExecutor(1, thread_name_prefix="crm-sql-tx")
        try:
            begin = asyncio.ensure_future(_in_thread(thread, self._begin, engines))
            try:
                conn = await asyncio.shield(begin)
            except asyncio.CancelledError:
                begin.add_done_callback(_close_abandoned)
                raise
            tx = SQLTransaction(self, thread, conn)
            try:
                yield tx
            except BaseException:
                tx.state = "over"
                handed_off = True
                await self._end_transaction(tx, tx.rollback, gate)
                raise
            tx.state = "committing"
            handed_off = True
            if tx.failed is not None:  # the block caught the error and carried on
                await self._end_transaction(tx, tx.rollback, gate)
                raise type(tx.failed)(f"the transaction was aborted: {tx.failed}")
            await self._end_transaction(tx, tx.commit, gate, tell=True)
        finally:
            self._transactions -= 1
            if not handed_off:
                gate.release()
                thread.shutdown(wait=False)

    def _begin(self, engines: _Engines) -> Connection:
        """In a worker thread: a connection of the pool with a transaction begun on it."""
        try:
            conn = engines.writer.connect()
        except SQLAlchemyError as exc:
            raise StoreError(f"{self!r}: cannot begin a transaction: {_reason(exc)}") from exc
        try:
            conn.begin()
        except SQLAlchemyError as exc:
            conn.close()
            raise StoreError(f"{self!r}: cannot begin a transaction: {_reason(exc)}") from exc
        return conn

    async def _end_transaction(
        self,
        tx: SQLTransaction,
        end: Callable[[], None],
        gate: asyncio.Lock | asyncio.Semaphore,
        *,
        tell: bool = False,
    ) -> None:
        """Commit or roll back in a task of its own: the caller's cancellation cannot cut it short."""

        async def finish() -> None:
            try:
                await _in_thread(tx.thread, end)
            finally:
                tx.state = "over"
                gate.release()
                tx.thread.shutdown(wait=False)
            if tell:
                self._writes += tx.records
                tx.tell()  # even if the caller was cancelled meanwhile (Store.listen)

        task = asyncio.ensure_future(finish())
        self._inflight.add(task)
        task.add_done_callback(self._settled)
        await asyncio.shield(task)

    def _query(self, engines: _Engines, work: Work[T]) -> T:
        """In a worker thread: ``work`` on a connection of its own (PostgreSQL: autocommit)."""
        try:
            with engines.reader.connect() as conn:
                return work(conn)
        except SQLAlchemyError as exc:
            raise StoreError(f"{self!r}: the read failed: {_reason(exc)}") from exc


async def _in_thread(threads: ThreadPoolExecutor, function: Callable[..., T], *args: Any) -> T:
    return await asyncio.get_running_loop().run_in_executor(
        threads, functools.partial(function, *args)
    )


def _close_abandoned(begin: asyncio.Future[Connection]) -> None:
    """Give back the connection of a transaction whose caller left while it began."""
    if not begin.cancelled() and begin.exception() is None:
        begin.result().close()


def _configure_sqlite(engine: Engine, *, memory: bool) -> None:
    """WAL, fsync at commit, foreign keys, and transactions that begin when SQLAlchemy says.

    The ``sqlite3`` module's own transaction handling (it issues BEGIN only
    before DML, and a deferred one) is switched off, as SQLAlchemy's SQLite
    documentation recommends: reads then run in a real transaction, and
    writers take the write lock with ``BEGIN IMMEDIATE`` up front -- a
    deferred transaction that reads and then writes can fail with "database
    is locked" at once instead of waiting ``busy_timeout``.
    """

    @event.listens_for(engine, "connect")
    def connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            if not memory:
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA analysis_limit=10000")  # ANALYZE samples: bounded time
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def begin(conn: Connection) -> None:
        writes = conn.get_execution_options().get(_WRITE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")


__all__ = ["SQLCollection", "SQLStore", "database_url"]
