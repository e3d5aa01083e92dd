"""Schema migrations of the SQL backend, with Alembic.

``versions/`` holds one script per schema revision, in order; the first,
``0001``, is the schema crm-bot created before migrations existed (its
``create_all``), and each later one changes it a step.  ``REVISIONS`` lists
them, oldest first, so that opening a store can tell where a database stands
without loading Alembic (a test checks the list against the scripts, and
that the head builds exactly the tables ``schema.build_tables`` describes).

A database records its revision in ``<prefix>alembic_version`` (Alembic's
own table, named with the store's table prefix so data sets sharing a
database are versioned apart).  Opening a store (``SQLStore.open``):

* an empty database gets the tables at the head revision, and is stamped;
* at the head revision: opens;
* at an older revision, or holding crm-bot's tables but no version table
  (created before migrations existed: revision ``0001``): refused with
  ``SchemaOutdatedError`` naming ``crm-bot db upgrade``;
* at a revision this code does not know (a newer crm-bot upgraded it):
  refused with ``SchemaTooNewError``.

``crm-bot db upgrade`` (``SQLStore.upgrade``) runs the missing scripts, in
one transaction on PostgreSQL (its DDL is transactional) and on SQLite.
On PostgreSQL it holds the same advisory lock as opening, so a replica
starting meanwhile waits for the upgrade and then finds the new revision.

Writing a new migration: add ``versions/NNNN_what.py`` (``down_revision`` the
previous head; table names through ``table()`` so the prefix applies), change
``schema.py`` to match, append its id to ``REVISIONS``; the migration tests
then check that upgrading reaches exactly ``schema.py``'s tables.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Column, MetaData, PrimaryKeyConstraint, String, Table, func, inspect, select

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

REVISIONS = ("0001", "0002", "0003", "0004")
"""Every revision, oldest first; the last is the head this code runs on."""
FIRST, HEAD = REVISIONS[0], REVISIONS[-1]
ADDED_AFTER_FIRST = ("deals", "todos", "notes")
"""Collections whose tables later revisions created (0003, 0004): not in an unversioned (0001) database."""
UNVERSIONED = FIRST  # what a database created before migrations existed holds
SCRIPTS = Path(__file__).parent
UPGRADE_COMMAND = "crm-bot db upgrade"


def version_table(prefix: str) -> Table:
    """``<prefix>alembic_version``, as Alembic itself creates it."""
    name = f"{prefix}alembic_version"
    return Table(
        name,
        MetaData(),
        Column("version_num", String(32), nullable=False),
        PrimaryKeyConstraint("version_num", name=f"{name}_pkc"),
    )


def lock(conn: Connection, prefix: str) -> None:
    """PostgreSQL: one opener or upgrader of this data set at a time (until the transaction ends)."""
    if conn.dialect.name != "postgresql":
        return  # SQLite: BEGIN IMMEDIATE already serialises them
    key = int.from_bytes(
        hashlib.sha256(f"crm-bot:{prefix}".encode()).digest()[:8], "big", signed=True
    )
    conn.execute(select(func.pg_advisory_xact_lock(key)))


def stored_revision(conn: Connection, prefix: str, tables: MetaData) -> str | None:
    """The database's revision: None when it holds none of ``tables`` (empty), ``UNVERSIONED``
    for tables without a version table; raises ``ValueError`` for a part of the tables only."""
    names = set(inspect(conn).get_table_names())
    version = version_table(prefix)
    if version.name in names:
        found = conn.execute(select(version.c.version_num)).scalars().all()
        if len(found) != 1:
            raise ValueError(f"{version.name} holds {len(found)} revisions, not one")
        return str(found[0])
    later = {f"{prefix}{name}{suffix}" for name in ADDED_AFTER_FIRST for suffix in ("", "_values")}
    ours = set(tables.tables) - later
    present = ours & names
    if not present:
        return None
    if present != ours:
        missing = ", ".join(sorted(ours - present))
        raise ValueError(
            f"it holds some of crm-bot's tables but not {missing}, and no {version.name}"
        )
    return UNVERSIONED


def stamp(conn: Connection, prefix: str, revision: str) -> None:
    """Record ``revision`` as the database's (creating the version table if needed)."""
    version = version_table(prefix)
    version.create(conn, checkfirst=True)
    conn.execute(version.delete())
    conn.execute(version.insert().values(version_num=revision))


def create_at_head(conn: Connection, prefix: str, tables: MetaData) -> None:
    """Create ``tables`` (the head revision's, ``schema.build_tables``) and stamp the head.

    Quicker than running every script (one ``create_all``); the migration
    tests check that both give the same tables.
    """
    tables.create_all(conn)
    stamp(conn, prefix, HEAD)


def is_older(revision: str) -> bool:
    return revision in REVISIONS and revision != HEAD


def alembic_config(conn: Connection, prefix: str):  # type: ignore[no-untyped-def]
    """An Alembic ``Config`` running the scripts over ``conn`` for tables named with ``prefix``."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(SCRIPTS))
    config.attributes["connection"] = conn
    config.attributes["prefix"] = prefix
    return config


def upgrade(conn: Connection, prefix: str, tables: MetaData, target: str = "head") -> str | None:
    """Run the scripts up to ``target`` over ``conn``; returns the revision found before.

    An unversioned database (created before migrations) is first stamped ``0001``.
    """
    from alembic import command

    with conn.begin():
        lock(conn, prefix)
        before = stored_revision(conn, prefix, tables)
        if before is not None and before not in REVISIONS:
            raise LookupError(before)
        if before == UNVERSIONED:  # (re)recorded: a database from before migrations has none
            stamp(conn, prefix, UNVERSIONED)
    command.upgrade(alembic_config(conn, prefix), target)
    return before


def table(name: str) -> str:
    """In a migration script: the name of table ``name`` for the prefix being migrated."""
    from alembic import context

    return f"{context.config.attributes.get('prefix', '')}{name}"
