"""The backends the storage contract runs against.

A backend is a name and a function that, given a test's temporary directory,
builds an *unopened* store living there; calling it again builds a second
store object over the same data (that is how the tests reopen).

The TinyDB backend takes part three times: with its defaults, compacting
after every few writes (so every test also runs over snapshot files), and
never compacting (so every reopen replays the journal).

The SQL backend takes part twice: on SQLite (a file in the test's
directory) and on PostgreSQL.  PostgreSQL needs a server, so
``sql-postgres`` runs only when ``CRM_BOT_TEST_DATABASE_URL`` names one (CI
sets it) and is skipped otherwise (``SKIPPED`` holds the reason).  Creating
a data set's tables and indexes takes PostgreSQL about 150 ms, more than
most contract tests take, so one run's tests share one set of tables, named
with a prefix unique to the run.  They still behave like a directory: the
first store built for a directory it has not seen before finds the tables
emptied, reopening over the same directory finds its data, and
``drop_postgres_tables`` drops them when the run is over.
"""

from __future__ import annotations

import functools
import importlib
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from storage import Store, TinyDBStore

if TYPE_CHECKING:
    from sqlalchemy import Engine, MetaData

DATABASE_URL_VARIABLE = "CRM_BOT_TEST_DATABASE_URL"
POSTGRES_SKIP_REASON = f"set {DATABASE_URL_VARIABLE} to run the PostgreSQL contract tests"
# Unique to this run (process id and a random part): other runs may share the server.
POSTGRES_PREFIX = f"t{os.getpid()}x{secrets.token_hex(3)}_"


def postgres_url() -> str | None:
    """The PostgreSQL server the SQL tests may use, if any."""
    return os.environ.get(DATABASE_URL_VARIABLE) or None


def sql_store(url: str, **options: object) -> Store:
    from storage.sql import SQLStore  # imported late: a TinyDB-only install has no SQLAlchemy

    return SQLStore(url, **options)  # type: ignore[arg-type]


def _missing(*modules: str) -> str | None:
    """Why the SQL backend cannot run here (a package is not installed), or None."""
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            return f"the sql backend's packages are not installed ({exc})"
    return None


@functools.cache
def _postgres() -> tuple[Engine, MetaData]:
    """A synchronous engine on the test server (tied to no event loop) and this run's tables."""
    from sqlalchemy import create_engine

    from storage.sql.migrations import create_at_head
    from storage.sql.schema import build_tables

    engine = create_engine(postgres_url() or "")
    metadata = build_tables(POSTGRES_PREFIX).metadata
    with engine.begin() as conn:  # at the head revision, stamped, as SQLStore.open makes them
        create_at_head(conn, POSTGRES_PREFIX, metadata)
    return engine, metadata


_postgres_directory: list[Path] = []  # the directory whose data the shared tables hold


def _postgres_store(tmp: Path) -> Store:
    """A store on the shared tables, emptied first if they held another directory's data."""
    if _postgres_directory != [tmp]:
        engine, metadata = _postgres()
        with engine.begin() as conn:  # a few milliseconds, once per test
            for table in reversed(metadata.sorted_tables):  # side tables first
                conn.execute(table.delete())
        _postgres_directory[:] = [tmp]
    return sql_store(postgres_url() or "", prefix=POSTGRES_PREFIX)


BACKENDS: dict[str, Callable[[Path], Store]] = {
    "tinydb": lambda tmp: TinyDBStore(tmp / "data"),
    "tinydb-compacting": lambda tmp: TinyDBStore(
        tmp / "data", compact_every=3, compact_ratio=0, compactor="thread"
    ),
    "tinydb-journal": lambda tmp: TinyDBStore(
        tmp / "data", compact_every=10**9, compact_on_close=False
    ),
    "sql-sqlite": lambda tmp: sql_store(f"sqlite:///{tmp / 'crm.sqlite3'}"),
    "sql-postgres": _postgres_store,
}

SKIPPED: dict[str, str] = {}
if reason := _missing("sqlalchemy"):
    SKIPPED["sql-sqlite"] = reason
if postgres_url() is None:
    SKIPPED["sql-postgres"] = POSTGRES_SKIP_REASON
elif reason := _missing("sqlalchemy", "psycopg"):
    SKIPPED["sql-postgres"] = reason


def create_postgres_tables() -> None:
    """Create this run's PostgreSQL tables now (outside any event loop)."""
    _postgres()


def drop_postgres_tables() -> None:
    """Drop this run's PostgreSQL tables, if it made any."""
    if _postgres.cache_info().currsize == 0:
        return
    from storage.sql.migrations import version_table

    engine, metadata = _postgres()
    metadata.drop_all(engine)
    version_table(POSTGRES_PREFIX).drop(engine, checkfirst=True)
    engine.dispose()
