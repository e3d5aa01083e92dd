"""The TinyDB backend: TinyDB files as durable snapshots, an in-memory index, a journal.

See ``store.py`` for the design and why it keeps every operation's cost flat.
"""

from __future__ import annotations

from storage.tinydb_store.files import StoreCorruptError
from storage.tinydb_store.store import TinyDBCollection, TinyDBStore

__all__ = ["StoreCorruptError", "TinyDBCollection", "TinyDBStore"]
