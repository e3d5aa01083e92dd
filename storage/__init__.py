"""Persistence: the store interface (``storage.base``) and its backends.

``open_store`` builds a store from the configuration's ``[storage]`` section;
the caller opens it (``async with open_store(...) as store:``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from storage.base import (
    SCHEMA,
    Collection,
    CollectionSpec,
    ConflictError,
    Damage,
    DuplicateError,
    KeyValues,
    NotFoundError,
    QueryError,
    Range,
    SchemaOutdatedError,
    SchemaStatus,
    SchemaTooNewError,
    SchemaVersionError,
    StorageFullError,
    Store,
    StoreDamagedError,
    StoreError,
    StoreLockedError,
    Transaction,
)
from storage.tinydb_store import StoreCorruptError, TinyDBStore

if TYPE_CHECKING:
    from storage.sql import SQLStore

BACKENDS = ("tinydb", "sql")


def open_store(backend: str, *, path: str | Path | None = None, url: str | None = None) -> Store:
    """A store for ``backend`` ("tinydb" needs ``path``; "sql" needs ``url``), not yet opened."""
    if backend == "tinydb":
        if not path:
            raise StoreError("the tinydb backend needs a data directory ([storage] path)")
        return TinyDBStore(path)
    if backend == "sql":  # SQLAlchemy is loaded only for the sql backend (start-up, memory)
        from storage.sql import SQLStore

        return SQLStore(url or "")  # an empty URL is refused there, with examples
    raise StoreError(f"unknown storage backend {backend!r}; expected one of {', '.join(BACKENDS)}")


__all__ = [
    "BACKENDS",
    "SCHEMA",
    "Collection",
    "CollectionSpec",
    "ConflictError",
    "Damage",
    "DuplicateError",
    "KeyValues",
    "NotFoundError",
    "QueryError",
    "Range",
    "SQLStore",
    "SchemaOutdatedError",
    "SchemaStatus",
    "SchemaTooNewError",
    "SchemaVersionError",
    "StorageFullError",
    "Store",
    "StoreCorruptError",
    "StoreDamagedError",
    "StoreError",
    "StoreLockedError",
    "TinyDBStore",
    "Transaction",
    "open_store",
]


def __getattr__(name: str) -> Any:
    if name == "SQLStore":  # imported on first use, like open_store does
        from storage.sql import SQLStore

        return SQLStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
