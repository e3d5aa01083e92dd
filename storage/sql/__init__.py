"""The SQL backend: PostgreSQL (several bot replicas sharing one database) or SQLite.

See ``store.py`` for the design and ``schema.py`` for the tables.  Needs
SQLAlchemy 2 with its asyncio extra and a driver: ``psycopg`` (3) for
PostgreSQL, ``aiosqlite`` for SQLite.
"""

from __future__ import annotations

from storage.sql.store import SQLCollection, SQLStore, database_url

__all__ = ["SQLCollection", "SQLStore", "database_url"]
