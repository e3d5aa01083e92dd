"""A consistent read-only snapshot of a SQL store, for ``storage.archive``.

One transaction reads every table: on PostgreSQL ``REPEATABLE READ`` and
``READ ONLY`` (one MVCC snapshot for all statements, no locks that hold
writers up), on SQLite one ``BEGIN`` in WAL mode (a reader sees the
database as of its first read until it ends; writers go on meanwhile).
It runs in one of the store's own worker threads with one of its pooled
connections, so it never waits for a connection the store's calls need
beyond that one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from storage.base import StoreError

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from storage.sql.store import SQLStore

_Doc = dict[str, Any]


async def sql_snapshot(store: SQLStore) -> dict[str, list[_Doc]]:
    from storage.sql.store import _in_thread, _reason

    engines = store._require_open()

    def read() -> dict[str, list[_Doc]]:
        try:
            with engines.engine.connect() as conn:
                if store.dialect == "postgresql":
                    conn = conn.execution_options(
                        isolation_level="REPEATABLE READ", postgresql_readonly=True
                    )
                with conn.begin():
                    return _read_all(store, conn)
        except SQLAlchemyError as exc:
            raise StoreError(f"{store!r}: the snapshot failed: {_reason(exc)}") from exc

    return await _in_thread(engines.threads, read)


def _read_all(store: SQLStore, conn: Connection) -> dict[str, list[_Doc]]:
    out: dict[str, list[_Doc]] = {}
    for name, tables in store._tables.collections.items():
        main = tables.main
        docs = []
        for data, version in conn.execute(select(main.c.data, main.c.version).order_by(main.c.id)):
            if not isinstance(data, dict):
                raise StoreError(f"{name}: a stored record is not a JSON object: {data!r}")
            data["version"] = version  # the column is what update compares; it wins
            docs.append(data)
        out[name] = docs
    return out
