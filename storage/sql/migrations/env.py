"""Alembic's environment for crm-bot's SQL backend (see ``__init__.py``).

Run by ``storage.sql.migrations.upgrade`` with the connection and table
prefix in ``config.attributes``; migrations run in one transaction, under
the store's advisory lock on PostgreSQL.
"""

from __future__ import annotations

from alembic import context

from storage.sql.migrations import lock, version_table
from storage.sql.schema import build_tables

config = context.config
prefix: str = config.attributes.get("prefix", "")
connection = config.attributes.get("connection")
if connection is None or context.is_offline_mode():
    raise RuntimeError("run the migrations through `crm-bot db upgrade`, not the alembic command")

target = build_tables(prefix).metadata


def include_name(name: str | None, type_: str, _parent: object) -> bool:
    """Autogenerate looks at this data set's tables only (a database may hold others)."""
    return type_ != "table" or name in target.tables


context.configure(
    connection=connection,
    target_metadata=target,
    version_table=version_table(prefix).name,
    include_name=include_name,
    transaction_per_migration=False,
)
with context.begin_transaction():
    lock(connection, prefix)
    context.run_migrations()
