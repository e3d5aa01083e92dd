"""The SQL backend: PostgreSQL (several bot replicas sharing one database) or SQLite.

See ``store.py`` for the design and ``schema.py`` for the tables.  Needs
SQLAlchemy 2 and, for PostgreSQL, ``psycopg`` (3); SQLite is the standard
library's ``sqlite3``.
"""

from __future__ import annotations

from storage.sql.store import SQLCollection, SQLStore, database_url

__all__ = ["SQLCollection", "SQLStore", "database_url"]
