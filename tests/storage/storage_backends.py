"""The backends the storage contract runs against.

A backend is a name and a function that, given a test's temporary directory,
builds an *unopened* store living there; calling it again builds a second
store object over the same data (that is how the tests reopen).

The TinyDB backend takes part three times: with its defaults, compacting
after every few writes (so every test also runs over snapshot files), and
never compacting (so every reopen replays the journal).

The SQL backend takes part twice: on SQLite (a file in the test's directory)
and on PostgreSQL.  PostgreSQL needs a server, so ``sql-postgres`` runs only
when ``CRM_BOT_TEST_DATABASE_URL`` names one (CI sets it) and is skipped
otherwise (``SKIPPED`` holds the reason).  Its tests share that database:
each test's tables carry a prefix derived from the test's directory, and
``discard`` drops them when the test is over.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

from storage import Store, TinyDBStore

DATABASE_URL_VARIABLE = "CRM_BOT_TEST_DATABASE_URL"
POSTGRES_SKIP_REASON = f"set {DATABASE_URL_VARIABLE} to run the PostgreSQL contract tests"


def postgres_url() -> str | None:
    """The PostgreSQL server the SQL tests may use, if any."""
    return os.environ.get(DATABASE_URL_VARIABLE) or None


def table_prefix(tmp: Path) -> str:
    """Table names of one test's data in the shared database (stable across reopens)."""
    return "t" + hashlib.sha1(str(tmp).encode()).hexdigest()[:12] + "_"


def _sql_store(url: str, **options: object) -> Store:
    from storage.sql import SQLStore  # imported late: a TinyDB-only install has no SQLAlchemy

    return SQLStore(url, **options)  # type: ignore[arg-type]


def _sql_available() -> str | None:
    """Why the SQL backend cannot run here, or None."""
    try:
        import aiosqlite  # noqa: F401
        import psycopg  # noqa: F401
        import sqlalchemy.ext.asyncio  # noqa: F401
    except ImportError as exc:
        return f"the sql backend's packages are not installed ({exc})"
    return None


BACKENDS: dict[str, Callable[[Path], Store]] = {
    "tinydb": lambda tmp: TinyDBStore(tmp / "data"),
    "tinydb-compacting": lambda tmp: TinyDBStore(
        tmp / "data", compact_every=3, compact_ratio=0, compactor="thread"
    ),
    "tinydb-journal": lambda tmp: TinyDBStore(
        tmp / "data", compact_every=10**9, compact_on_close=False
    ),
    "sql-sqlite": lambda tmp: _sql_store(f"sqlite:///{tmp / 'crm.sqlite3'}"),
    "sql-postgres": lambda tmp: _sql_store(postgres_url() or "", prefix=table_prefix(tmp)),
}

SKIPPED: dict[str, str] = {}
if reason := _sql_available():
    SKIPPED["sql-sqlite"] = SKIPPED["sql-postgres"] = reason
elif postgres_url() is None:
    SKIPPED["sql-postgres"] = POSTGRES_SKIP_REASON


async def discard(backend: str, tmp: Path) -> None:
    """Remove what a test left outside its temporary directory (the PostgreSQL tables)."""
    if backend != "sql-postgres" or backend in SKIPPED:
        return
    store = BACKENDS[backend](tmp)
    await store.open()
    try:
        await store.drop_tables()  # type: ignore[attr-defined]
    finally:
        await store.close()
