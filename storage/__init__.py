"""Persistence: the store interface (``storage.base``) and its backends.

``open_store`` builds a store from the configuration's ``[storage]`` section;
the caller opens it (``async with open_store(...) as store:``).
"""

from __future__ import annotations

from pathlib import Path

from storage.base import (
    SCHEMA,
    Collection,
    CollectionSpec,
    ConflictError,
    DuplicateError,
    NotFoundError,
    QueryError,
    Range,
    Store,
    StoreError,
    StoreLockedError,
)
from storage.tinydb_store import StoreCorruptError, TinyDBStore

BACKENDS = ("tinydb", "sql")


def open_store(backend: str, *, path: str | Path | None = None, url: str | None = None) -> Store:
    """A store for ``backend`` ("tinydb" needs ``path``; "sql" will need ``url``), not yet opened."""
    if backend == "tinydb":
        if not path:
            raise StoreError("the tinydb backend needs a data directory ([storage] path)")
        return TinyDBStore(path)
    if backend == "sql":
        raise StoreError("the sql backend is not available yet")
    raise StoreError(f"unknown storage backend {backend!r}; expected one of {', '.join(BACKENDS)}")


__all__ = [
    "BACKENDS",
    "SCHEMA",
    "Collection",
    "CollectionSpec",
    "ConflictError",
    "DuplicateError",
    "NotFoundError",
    "QueryError",
    "Range",
    "Store",
    "StoreCorruptError",
    "StoreError",
    "StoreLockedError",
    "TinyDBStore",
    "open_store",
]
