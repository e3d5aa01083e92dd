"""Consistent read-only snapshots of a TinyDB data set, for ``storage.archive``.

``memory_snapshot``: inside the process that has the store open.  The
memtables' dicts are collected on the event loop in one synchronous step
(every write is applied to memory on the loop, so none can interleave: the
result is the state at one journal entry), through ``TinyDBStore._read``,
which returns only once every write the copy may contain is durable and
retakes it if one of them failed and was undone.  The stored dicts
themselves are not copied: the store never changes one in place (a write
puts a new dict), so they can be encoded later in a worker thread.

``read_committed``: from another process, whether or not a bot holds the
directory's ``LOCK``.  It reads what ``TinyDBStore`` would load -- the
manifest, the partitions it names, the journals since -- but writes
nothing: damaged journal lines are skipped (as opening would, without
putting the file aside), a torn last line (the bot is appending) is
ignored.  ``COMPACT.lock`` is held while reading, so no compaction switches
the manifest or deletes a journal under the reader; a journal rotated after
the listing only holds later entries, so what is read is always a prefix of
the writes.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from filelock import Timeout

from storage.base import SCHEMA, StoreError, StoreLockedError
from storage.tinydb_store.compactor import compaction_lock
from storage.tinydb_store.files import (
    StoreCorruptError,
    has_data_files,
    journal_gens,
    journal_name,
    read_manifest,
    read_partition,
)
from storage.tinydb_store.journal import scan_journal

if TYPE_CHECKING:
    from storage.tinydb_store.store import TinyDBStore

log = logging.getLogger(__name__)
_Doc = dict[str, Any]


async def memory_snapshot(store: TinyDBStore) -> tuple[dict[str, list[_Doc]], int]:
    """Every collection's stored dicts and the journal entry they are the state after."""

    def collect() -> tuple[dict[str, list[_Doc]], int]:
        return {name: list(store._table(name).docs.values()) for name in SCHEMA}, store._seq

    return await store._read(collect)


def read_committed(directory: Path, lock_wait: float = 300.0) -> tuple[dict[str, list[_Doc]], int]:
    """The committed state of ``directory`` (blocking); the last journal entry it includes."""
    if not directory.is_dir():
        raise StoreError(f"{directory} is not a data directory")
    lock = compaction_lock(directory, lock_wait)
    try:
        lock.acquire()
    except Timeout:
        raise StoreLockedError(
            f"a compaction is still working on {directory} after {lock_wait:.0f} s"
        ) from None
    except OSError as exc:
        raise StoreError(f"cannot read {directory}: {exc}") from exc
    try:
        manifest = read_manifest(directory)
        docs: dict[str, dict[str, _Doc]] = {name: {} for name in SCHEMA}
        if manifest is None:
            if has_data_files(directory):
                raise StoreCorruptError(f"{directory} has data files but no MANIFEST.json")
            return {name: [] for name in SCHEMA}, 0
        for collection, parts in manifest.partitions.items():
            if collection not in docs:
                raise StoreCorruptError(f"{directory}: unknown collection {collection!r}")
            for name in parts.values():
                for doc in read_partition(directory / name, collection, manifest.checksums.get(name)):
                    docs[collection][doc["id"]] = doc
        seq = manifest.snapshot_seq
        for gen in (g for g in journal_gens(directory) if g >= manifest.journal_gen):
            try:
                entries, damage = scan_journal(directory / journal_name(gen))
            except FileNotFoundError:  # an empty journal removed by a closing store
                continue
            if damage is not None:
                log.error("%s: %s (skipped in this snapshot)", journal_name(gen), damage.detail())
            for entry_seq, ops in entries:
                seq = max(seq, entry_seq)
                for collection, _bucket, rid, doc in ops:
                    target = docs.get(collection)
                    if target is None:
                        raise StoreCorruptError(f"{journal_name(gen)}: unknown collection {collection!r}")
                    if doc is None:
                        target.pop(rid, None)
                    else:
                        target[rid] = doc
    finally:
        lock.release()
    return {name: list(found.values()) for name, found in docs.items()}, seq
