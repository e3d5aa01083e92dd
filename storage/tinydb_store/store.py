"""``TinyDBStore``: the embedded store, durable and with flat per-operation cost.

Why not plain TinyDB: its ``JSONStorage`` rewrites the whole file on every
insert (330-540 ms at 10k customers + 100k interactions), re-reads it on
every search, rewrites it in place (a crash corrupts it) and blocks the
event loop.  This backend keeps TinyDB as the *file format* and changes how
the files are used:

* **Memory** holds every record as its encoded dict plus indexes
  (``memtable.py``): reads never touch the disk and cost O(log n + answer).
* **Writes** are checked and applied in memory, then appended to a journal
  (``journal.py``) whose writer thread batches all pending entries into one
  write + fdatasync (group commit).  ``await insert(...)`` returns only when
  its line is on disk; the event loop never waits for the disk.
* **Reads** return what memory holds and then wait for any write still in
  flight to become durable, so nobody acts on a write that a crash could
  still take back.
* **Compaction** (``compactor.py``), after ``max(compact_every,
  compact_ratio * records)`` journal ops, folds the closed journals into
  snapshot partitions -- TinyDB database files, one per collection and hash
  bucket -- in a separate process, rewriting only the partitions that
  changed, each atomically, then switches ``MANIFEST.json``.  Tying the
  trigger to the data size bounds the amortised rewrite work per write.
* **Opening** loads the partitions named by the manifest and replays the
  journals written since, ignoring a torn tail (CRC per line); files a crash
  left half-written are never named by the manifest and are deleted.
* A **lock** on the directory (``LOCK``) keeps a second process out.

What a write costs therefore depends on the size of the record, not on how
many records there are; what a look-up costs depends on the size of its
answer.  The price is memory (every record and index is resident: about
250 MB for 10k customers + 100k interactions, 2.1 GB at ten times that) and
an opening time linear in the data (1 s, 13 s).  ``docs/performance.md``
has the measurements.

Semantics every backend shares (the contract tests pin them down):

* ``update`` bumps ``version`` and nothing else (``updated_at`` is the
  caller's); it neither mutates its argument nor shares lists with it beyond
  what ``dataclasses.replace`` shares.
* ``find`` orders by ``(field, id)``, both in the requested direction, with
  nulls last either way; range bounds must be of the field's type (dates
  for dates, timezone-aware datetimes for datetimes, any UTC offset).
* ``insert_many`` is all or nothing.
* Records returned share nothing with the stored data.

Particular to this backend: a write whose caller was cancelled while it
waited may still have happened (it was already applied and queued).  If the
journal cannot be written (disk full, I/O error), the failed writes -- and
any queued behind them -- are undone in memory before their callers hear of
it (``StorageFullError`` for a full disk, else ``StoreError``), and a read
that saw one of them reads again: nothing that was not stored is ever shown.
The store stays open; the next write tries the disk again, so it recovers by
itself once space returns.  Only a journal that cannot even be cut back to
its last durable length makes the store refuse writes until reopened.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import gc
import logging
import os
import sys
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from filelock import FileLock, Timeout

from bot.domain.codec import _encode as encode_value
from bot.domain.codec import to_dict
from bot.domain.models import KeyValue
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
    R,
    Range,
    SchemaStatus,
    Store,
    StoreError,
    StoreLockedError,
    Transaction,
)
from storage.files import PRIVATE_FILE, private_dir
from storage.tinydb_store.compactor import compaction_lock, merge
from storage.tinydb_store.decode import decoder
from storage.tinydb_store.files import (
    FORMAT_VERSION,
    FORMATS,
    LOCK,
    Manifest,
    StoreCorruptError,
    bucket_of,
    collect_garbage,
    damage_reports,
    format_version,
    has_data_files,
    journal_gens,
    journal_name,
    read_manifest,
    read_partition,
    upgrade_format,
    write_manifest,
)
from storage.tinydb_store.journal import JournalWriter, Op, encode_entry, replay_journal
from storage.tinydb_store.memtable import MemTable

if TYPE_CHECKING:
    from storage.tinydb_store.transaction import TinyDBTransaction

log = logging.getLogger(__name__)

_Doc = dict[str, Any]
_Change = tuple[MemTable, str, "_Doc | None"]  # a table, a record id, its new doc (None: delete)
_T = Any


class TinyDBCollection(Collection[R]):
    """One collection of a ``TinyDBStore``."""

    def __init__(self, store: TinyDBStore, spec: CollectionSpec) -> None:
        self._store = store
        self.spec = spec
        self._decoder = decoder(spec.record_type)

    # -- helpers -----------------------------------------------------------

    def _table(self) -> MemTable:
        return self._store._table(self.spec.name)

    def _encode(self, record: R) -> _Doc:
        if not isinstance(record, self.spec.record_type):
            raise TypeError(
                f"{self.spec.name} holds {self.spec.record_type.__name__}, "
                f"not {type(record).__name__}"
            )
        return to_dict(record)

    def _decode(self, doc: _Doc) -> R:
        return self._decoder(doc)  # type: ignore[no-any-return]

    def _bucket(self, doc: _Doc) -> int:
        key = doc.get(self.spec.partition_by) if self.spec.partition_by else doc["id"]
        return bucket_of(key, self._store._buckets[self.spec.name])

    def _check_unique(self, table: MemTable, doc: _Doc, taken: dict[str, set[Any]] | None) -> None:
        rid = doc["id"]
        for name in self.spec.unique:
            value = doc.get(name)
            if value is None:
                continue
            holder = table.holder(name, value)
            if (holder is not None and holder != rid) or (
                taken is not None and value in taken[name]
            ):
                raise DuplicateError(f"{self.spec.name}.{name} {value!r} is already taken")
            if taken is not None:
                taken[name].add(value)

    def _where(self, where: Mapping[str, Any] | None) -> dict[str, Any]:
        encoded = {}
        for name, value in (where or {}).items():
            key = encode_value(value)
            if isinstance(key, (list, dict)):
                raise QueryError(
                    f"{self.spec.name}.{name}: compare with one value, not {value!r}"
                    " (a list-valued field matches when it contains the value)"
                )
            encoded[name] = key
        return encoded

    def _notify(self, rid: str, record: R | None) -> Callable[[], None]:
        return lambda: self._store.changed(self.spec.name, rid, record)

    # -- writes ------------------------------------------------------------

    async def insert(self, record: R) -> R:
        table = self._store._writable(self.spec.name, outside=True)
        doc = self._encode(record)
        rid = doc["id"]
        if rid in table.docs:
            raise DuplicateError(f"{self.spec.name} {rid!r} already exists")
        self._check_unique(table, doc, None)
        op = [self.spec.name, self._bucket(doc), rid, doc]
        await self._store._commit([op], [(table, rid, doc)], self._notify(rid, record))
        return record

    async def insert_many(self, records: Sequence[R]) -> None:
        """All records in one journal entry: one fsync, and all or nothing."""
        table = self._store._writable(self.spec.name, outside=True)
        docs = [self._encode(record) for record in records]
        if not docs:
            return
        seen: set[str] = set()
        taken: dict[str, set[Any]] = {name: set() for name in self.spec.unique}
        ops: list[Op] = []
        for doc in docs:
            rid = doc["id"]
            if rid in table.docs or rid in seen:
                raise DuplicateError(f"{self.spec.name} {rid!r} already exists")
            seen.add(rid)
            self._check_unique(table, doc, taken)
            ops.append([self.spec.name, self._bucket(doc), rid, doc])

        changed = [(record.id, record) for record in records]
        await self._store._commit(ops, [(table, doc["id"], doc) for doc in docs],
                                  lambda: [self._store.changed(self.spec.name, *c) for c in changed])

    async def update(self, record: R) -> R:
        table = self._store._writable(self.spec.name, outside=True)
        self._encode(record)  # type check
        rid = record.id
        old = table.docs.get(rid)
        if old is None:
            raise NotFoundError(f"{self.spec.name} {rid!r} does not exist")
        if old["version"] != record.version:
            raise ConflictError(
                f"{self.spec.name} {rid!r} changed: stored version {old['version']}, "
                f"the update was made from version {record.version}"
            )
        new = dataclasses.replace(record, version=record.version + 1)  # type: ignore[type-var]
        doc = to_dict(new)
        self._check_unique(table, doc, None)
        bucket, old_bucket = self._bucket(doc), self._bucket(old)
        ops: list[Op] = [[self.spec.name, bucket, rid, doc]]
        if old_bucket != bucket:  # the partition key changed: the record moves
            ops.insert(0, [self.spec.name, old_bucket, rid, None])
        await self._store._commit(ops, [(table, rid, doc)], self._notify(rid, new))
        return new

    async def delete(self, record_id: str) -> bool:
        table = self._store._writable(self.spec.name, outside=True)
        old = table.docs.get(record_id)
        if old is None:
            return False
        op = [self.spec.name, self._bucket(old), record_id, None]
        await self._store._commit([op], [(table, record_id, None)], self._notify(record_id, None))
        return True

    # -- reads -------------------------------------------------------------

    async def get(self, record_id: str) -> R | None:
        def read() -> R | None:
            doc = self._table().docs.get(record_id)
            return None if doc is None else self._decode(doc)

        return await self._store._read(read)  # type: ignore[no-any-return]

    async def find(
        self,
        where: Mapping[str, Any] | None = None,
        *,
        within: Range | None = None,
        order_by: str | None = None,
        descending: bool = False,
        offset: int = 0,
        limit: int | None = None,
    ) -> list[R]:
        self.check_query(where, within, order_by)
        encoded = self._where(where)

        def read() -> list[R]:
            table = self._table()
            ids = table.select(encoded, within, order_by or "id", descending, offset, limit)
            docs = table.docs
            return [self._decode(docs[rid]) for rid in ids]

        return await self._store._read(read)  # type: ignore[no-any-return]

    async def count(
        self, where: Mapping[str, Any] | None = None, *, within: Range | None = None
    ) -> int:
        self.check_query(where, within, None)
        encoded = self._where(where)
        return await self._store._read(  # type: ignore[no-any-return]
            lambda: self._table().count(encoded, within)
        )


class TinyDBKeyValues(TinyDBCollection[KeyValue], KeyValues):
    """The kv collection; ``put`` is the interface's."""


@dataclasses.dataclass
class _Loaded:
    lock: FileLock
    manifest: Manifest
    tables: dict[str, MemTable]
    seq: int
    backlog: int  # ops replayed from journals not yet in the snapshots
    gen: int  # the journal generation this session writes
    damage: tuple[Damage, ...]


class TinyDBStore(Store):
    """The embedded store in a data directory (see the module docstring).

    ``fsync=False`` skips the fdatasync of journal writes (a crash of the
    process still loses nothing; a power cut may): for tests and throw-away
    demo data.  ``compactor="thread"`` compacts in a thread instead of a
    child process (no process start-up, but the work then competes with the
    event loop for the GIL).

    ``freeze_gc``: after loading, ``gc.freeze()`` moves every object then
    alive out of the cyclic garbage collector's reach.  The loaded records
    and indexes are millions of long-lived references; without it, each full
    collection traverses all of them (65 ms at 10k customers + 100k
    interactions, 1.1 s at ten times that) while the event loop stands still.
    Nothing the store loads forms reference cycles, so nothing leaks; but a
    cycle some other code left behind before the freeze is never collected,
    and that is process-wide, so the default (``None``) freezes only when
    the data set is big enough for the pauses to matter (50,000 records or
    more) -- never in small test stores.  The collector is also paused
    while loading (it would only re-scan the growing heap).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        fsync: bool = True,
        compact_every: int = 10_000,
        compact_ratio: float = 0.125,
        compact_on_close: bool = True,
        compactor: Literal["process", "thread"] = "process",
        lock_wait: float = 300.0,
        freeze_gc: bool | None = None,
    ) -> None:
        if compact_every < 1 or compact_ratio < 0:
            raise ValueError("compact_every must be at least 1 and compact_ratio not negative")
        if compactor not in ("process", "thread"):
            raise ValueError(f"compactor must be 'process' or 'thread', not {compactor!r}")
        self.path = Path(path)
        self.fsync = fsync
        self.compact_every = compact_every
        self.compact_ratio = compact_ratio
        self.compact_on_close = compact_on_close
        self.compactor = compactor
        self.lock_wait = lock_wait
        self.freeze_gc = freeze_gc
        self._state: Literal["new", "opening", "open", "closing", "closed"] = "new"
        self._tables: dict[str, MemTable] = {}
        self._buckets: dict[str, int] = {}
        self._journal: JournalWriter | None = None
        self._lock: FileLock | None = None
        self._seq = 0
        self._backlog = 0
        self._since_rotation = 0
        self._merged_through = 0
        self._compaction: asyncio.Task[None] | None = None
        self._compact_mutex: asyncio.Lock | None = None
        self.compactions = 0  # completed, for tests and the benchmark
        self._damage: tuple[Damage, ...] = ()
        # writes applied in memory whose journal future has not told yet: (future, seq, undo)
        self._inflight: collections.deque[
            tuple[asyncio.Future[None], int, list[tuple[MemTable, str, _Doc | None]]]
        ] = collections.deque()
        self._compact_hold = 0  # ops a failed compaction waits for before the next try
        for name, spec in SCHEMA.items():
            kind = TinyDBKeyValues if spec.record_type is KeyValue else TinyDBCollection
            setattr(self, name, kind(self, spec))

    def __repr__(self) -> str:
        return f"TinyDBStore({str(self.path)!r}, {self._state})"

    @property
    def damage(self) -> tuple[Damage, ...]:
        """The reports in ``damaged/`` as of opening (see ``Store.damage``)."""
        return self._damage

    @staticmethod
    def damage_in(path: str | Path) -> tuple[Damage, ...]:
        """The damage reports of a data directory, without opening it (``crm-bot check``)."""
        return damage_reports(path)

    # -- opening -------------------------------------------------------------

    async def open(self) -> None:
        if self._state in ("opening", "open", "closing"):
            raise StoreError(f"{self!r} is already open")
        self._state = "opening"
        collecting = gc.isenabled()
        if self.freeze_gc is not False:
            gc.disable()
        load = asyncio.ensure_future(asyncio.to_thread(self._load))
        try:
            loaded = await asyncio.shield(load)
        except asyncio.CancelledError:
            load.add_done_callback(_unlock_abandoned)  # the thread finishes; free what it took
            self._state = "closed"
            raise
        except BaseException:
            self._state = "closed"
            raise
        finally:
            if collecting:
                gc.enable()
        records = sum(len(table.docs) for table in loaded.tables.values())
        if self.freeze_gc or (self.freeze_gc is None and records >= 50_000):
            gc.freeze()
        self._lock = loaded.lock
        self._tables = loaded.tables
        self._buckets = dict(loaded.manifest.buckets)
        self._seq = loaded.seq
        self._backlog = loaded.backlog
        self._damage = loaded.damage
        self._since_rotation = 0
        self._merged_through = loaded.manifest.journal_gen - 1
        self._compact_mutex = asyncio.Lock()
        try:
            self._journal = JournalWriter(
                self.path, loaded.gen, fsync=self.fsync, on_failure=self._undo_failed
            )
        except BaseException:
            loaded.lock.release()
            self._state = "closed"
            raise
        self._state = "open"
        self._maybe_compact()

    def _load(self) -> _Loaded:
        """Lock the directory, read the snapshots, replay the journals (in a thread)."""
        directory = self.path
        private_dir(directory)
        lock = self._lock_directory()
        try:
            return self._load_locked(directory, lock)
        except BaseException:
            lock.release()
            raise

    def _lock_directory(self) -> FileLock:
        directory = self.path
        lock = FileLock(str(directory / LOCK), timeout=0, mode=PRIVATE_FILE, thread_local=False)
        try:
            lock.acquire()
        except Timeout:
            raise StoreLockedError(
                f"the data directory {directory} is in use by another process "
                f"(it holds {directory / LOCK}); stop that process or use another directory"
            ) from None
        return lock

    # -- the format version (crm-bot db current / upgrade) -------------------

    async def schema_status(self) -> SchemaStatus:
        """The data directory's format version (see ``files.py``); nothing is opened or created."""
        current = await asyncio.to_thread(
            lambda: format_version(self.path) if self.path.is_dir() else None
        )
        return SchemaStatus("tinydb", current, FORMAT_VERSION, FORMATS)

    async def upgrade(self) -> SchemaStatus:
        """Bring the data directory to this code's format (``files.upgrade_format``); returns
        where it stood.  Refuses while another process has the directory open."""
        if self._state in ("opening", "open", "closing"):
            raise StoreError(f"{self!r} is open; close it first")
        before = await asyncio.to_thread(self._upgrade)
        return SchemaStatus("tinydb", before, FORMAT_VERSION, FORMATS)

    def _upgrade(self) -> str | None:
        if not self.path.is_dir():
            return None
        lock = self._lock_directory()
        try:
            compact_lock = compaction_lock(self.path, self.lock_wait)
            try:
                compact_lock.acquire()
            except Timeout:
                raise StoreLockedError(
                    f"a compaction process is still working on {self.path} "
                    f"after {self.lock_wait:.0f} s ({self.path / 'COMPACT.lock'})"
                ) from None
            try:
                return upgrade_format(self.path)
            finally:
                compact_lock.release()
        finally:
            lock.release()

    def _load_locked(self, directory: Path, lock: FileLock) -> _Loaded:
        compact_lock = compaction_lock(directory, self.lock_wait)
        try:
            compact_lock.acquire()  # a compactor left by a killed process finishes first
        except Timeout:
            raise StoreLockedError(
                f"a compaction process is still working on {directory} "
                f"after {self.lock_wait:.0f} s ({directory / 'COMPACT.lock'})"
            ) from None
        try:
            manifest = read_manifest(directory)
            if manifest is None:
                if has_data_files(directory):
                    raise StoreCorruptError(
                        f"{directory} has data files but no MANIFEST.json; refusing to guess"
                    )
                manifest = Manifest()
                write_manifest(directory, manifest)
            collect_garbage(directory, manifest)
            docs: dict[str, dict[str, _Doc]] = {name: {} for name in SCHEMA}
            for collection, parts in manifest.partitions.items():
                if collection not in docs:
                    raise StoreCorruptError(f"{directory}: unknown collection {collection!r}")
                target = docs[collection]
                for name in parts.values():
                    expected = manifest.checksums.get(name)
                    for doc in read_partition(directory / name, collection, expected):
                        target[doc["id"]] = doc
            seq, backlog = manifest.snapshot_seq, 0
            gens = [g for g in journal_gens(directory) if g >= manifest.journal_gen]
            for gen in gens:
                for entry_seq, ops in replay_journal(directory, gen):
                    seq = max(seq, entry_seq)
                    for collection, _bucket, rid, doc in ops:
                        target = docs.get(collection)
                        if target is None:
                            raise StoreCorruptError(
                                f"{journal_name(gen)}: unknown collection {collection!r}"
                            )
                        if doc is None:
                            target.pop(rid, None)
                        else:
                            target[rid] = doc
                        backlog += 1
        finally:
            compact_lock.release()
        tables = {}
        for name, spec in SCHEMA.items():
            table = MemTable(spec)
            table.load(docs.pop(name))
            tables[name] = table
        gen = max(gens[-1] if gens else 0, manifest.journal_gen - 1) + 1
        damage = damage_reports(directory)
        for report in damage:
            log.error("DATA LOSS in %s: %s (see docs/operations.md)", directory, report.line())
        return _Loaded(lock, manifest, tables, seq, backlog, gen, damage)

    # -- the write path ------------------------------------------------------

    def _table(self, name: str) -> MemTable:
        if self._state != "open":
            raise StoreError(f"{self!r} is not open")
        return self._tables[name]

    def _writable(self, name: str, *, outside: bool = False) -> MemTable:
        """The table to write to; ``outside``: a write not made through a transaction."""
        table = self._table(name)
        if outside and self.in_transaction():
            raise StoreError(
                f"{self!r}: inside a transaction, write through it (tx.{name}), not the store"
            )
        journal = self._journal
        assert journal is not None
        if journal.failed is not None:
            raise StoreError(
                f"{self.path}: a journal write failed earlier ({journal.failed}); "
                "the store must be reopened"
            )
        return table

    async def _commit(
        self, ops: list[Op], changes: list[_Change], durable: Callable[[], None] | None = None
    ) -> None:
        """Journal ``ops``, apply ``changes`` in memory, and wait until they are durable.

        What each change replaced is kept until the journal says the entry is
        durable, so that a failed write can be undone (``_undo_failed``).
        ``durable`` is called once it is, even if the caller was cancelled
        meanwhile (the change listeners, ``Store.listen``).
        """
        journal = self._journal
        assert journal is not None
        line = encode_entry(self._seq + 1, ops)  # fails (nothing changed) on a non-JSON value
        future = journal.append(line)  # raises (nothing changed) if the journal is unusable
        if durable is not None:
            future.add_done_callback(
                lambda f: None if f.cancelled() or f.exception() is not None else durable()
            )
        self._seq += 1
        undo: list[tuple[MemTable, str, _Doc | None]] = []
        for table, rid, doc in changes:
            undo.append((table, rid, table.docs.get(rid)))
            if doc is None:
                table.remove(rid)
            else:
                table.put(doc)
        inflight = self._inflight
        while inflight and inflight[0][0].done():
            inflight.popleft()
        inflight.append((future, self._seq, undo))
        self._since_rotation += len(ops)
        self._maybe_compact()
        await asyncio.shield(future)

    def _undo_failed(self) -> None:
        """Undo, newest first, every write whose journal entry has not been made durable.

        The journal calls it on the event loop when a write failed, after
        settling the batches that succeeded and before failing the others:
        the writes not done yet are exactly the failed ones.  Their entry
        numbers are given back, so the journal's numbering stays gapless.
        """
        inflight = self._inflight
        while inflight and not inflight[-1][0].done():
            _future, seq, undo = inflight.pop()
            for table, rid, old in reversed(undo):
                if old is None:
                    table.remove(rid)
                else:
                    table.put(old)
            self._seq = seq - 1
        inflight.clear()

    # -- transactions --------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _unit_of_work(self) -> AsyncIterator[Transaction]:
        """Writes kept aside, committed as one journal entry (``transaction.py``)."""
        from storage.tinydb_store.transaction import TinyDBTransaction

        self._writable("kv")  # raises unless open and writable
        tx = TinyDBTransaction(self)
        try:
            yield tx
        except BaseException:
            tx.state = "over"  # nothing was applied: the overlay is dropped
            raise
        tx.state = "committing"
        try:
            if tx.failed is not None:  # the block caught the error and carried on
                raise type(tx.failed)(f"the transaction was aborted: {tx.failed}")
            await self._commit_transaction(tx)
        finally:
            tx.state = "over"

    async def _commit_transaction(self, tx: TinyDBTransaction) -> None:
        """Check the overlay against the tables again and journal it as one entry.

        No ``await`` until ``_commit``'s: the tables cannot change in between.
        """
        ops: list[Op] = []
        changes: list[_Change] = []
        told: list[tuple[str, str, _Doc | None]] = []
        for (name, rid), doc in tx.writes.items():
            table = self._writable(name)
            collection: TinyDBCollection[Any] = getattr(self, name)
            stored = table.docs.get(rid)
            expected = tx.expected[(name, rid)]
            if expected is None:
                if doc is None:
                    continue  # inserted and deleted again: nothing to write
                if stored is not None:
                    raise DuplicateError(f"{name} {rid!r} was inserted meanwhile")
            elif stored is None or stored["version"] != expected:
                raise ConflictError(f"{name} {rid!r} changed meanwhile (it was at version {expected})")
            if doc is None:
                assert stored is not None
                ops.append([name, collection._bucket(stored), rid, None])
            else:
                for field in collection.spec.unique:
                    value = doc.get(field)
                    holders = table.eq[field].get(value, ()) if value is not None else ()
                    if any(h != rid and (name, h) not in tx.writes for h in holders):
                        raise DuplicateError(f"{name}.{field} {value!r} was taken meanwhile")
                bucket = collection._bucket(doc)
                if stored is not None and collection._bucket(stored) != bucket:
                    ops.append([name, collection._bucket(stored), rid, None])
                ops.append([name, bucket, rid, doc])
            changes.append((table, rid, doc))
            told.append((name, rid, doc))
        if not ops:
            return

        def durable() -> None:
            for name, rid, doc in told:
                collection: TinyDBCollection[Any] = getattr(self, name)
                self.changed(name, rid, None if doc is None else collection._decode(doc))

        await self._commit(ops, changes, durable)

    async def _read(self, read: Callable[[], _T]) -> _T:
        """``read()`` from memory, returned once every write it may have seen is durable.

        If one of those writes fails it has been undone by then: read again.
        """
        error: StoreError | None = None
        for _attempt in range(50):
            result = read()
            journal = self._journal
            tail = journal.tail if journal is not None else None
            if tail is None or tail.done():
                return result
            try:
                await asyncio.shield(tail)
            except StoreError as exc:
                error = exc
                continue
            return result
        assert error is not None
        raise error

    # -- compaction ----------------------------------------------------------

    def _maybe_compact(self) -> None:
        if self._compaction is not None or self._state != "open":
            return
        records = sum(len(table.docs) for table in self._tables.values())
        threshold = max(self.compact_every, int(records * self.compact_ratio))
        if self._since_rotation + self._backlog >= threshold + self._compact_hold:
            self._compaction = asyncio.create_task(self._background_compaction())

    async def _background_compaction(self) -> None:
        try:
            await self._compact(self.compactor)
            self._compact_hold = 0
        except Exception:
            log.exception("compaction of %s failed; the journals keep the data", self.path)
            # not again at the very next write (a full disk would start a process per write)
            self._compact_hold = self._since_rotation + self._backlog
        finally:
            self._compaction = None

    async def compact(self) -> None:
        """Fold the journal into the snapshot files now, and wait for it."""
        self._table("kv")  # raises unless open
        await self._compact(self.compactor)

    async def _compact(self, how: str) -> None:
        assert self._compact_mutex is not None and self._journal is not None
        async with self._compact_mutex:
            upto = self._journal.gen
            rotated = self._since_rotation
            self._since_rotation = 0
            try:
                await asyncio.shield(self._journal.rotate(upto + 1))
                if how == "process":
                    await self._merge_in_process_child(upto)
                else:
                    await asyncio.to_thread(merge, self.path, upto, lock_timeout=self.lock_wait)
            except BaseException:
                self._backlog += rotated
                raise
            self._backlog = 0
            self._merged_through = upto
            self.compactions += 1

    async def _merge_in_process_child(self, upto: int) -> None:
        root = str(Path(__file__).resolve().parents[2])  # the directory holding storage/
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        code = "import sys; from storage.tinydb_store.compactor import main; sys.exit(main())"
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-c", code, str(self.path), str(upto), str(os.getpid()),
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        _, errors = await child.communicate()
        message = errors.decode("utf-8", "replace").strip()
        if child.returncode != 0:
            raise StoreError(
                f"compaction process for {self.path} exited {child.returncode}: {message}"
            )
        if message:
            log.warning("compaction of %s: %s", self.path, message)

    # -- closing -------------------------------------------------------------

    async def close(self) -> None:
        """Flush the journal, fold it into the snapshots (``compact_on_close``), unlock."""
        if self._state != "open":
            return
        self._state = "closing"
        journal, lock = self._journal, self._lock
        assert journal is not None and lock is not None
        try:
            if self._compaction is not None:
                await asyncio.gather(self._compaction, return_exceptions=True)
            await journal.close()
            unmerged = self._since_rotation > 0 or self._merged_through < journal.gen - 1
            if self.compact_on_close and unmerged and journal.failed is None:
                try:
                    await asyncio.to_thread(
                        merge, self.path, journal.gen, lock_timeout=self.lock_wait
                    )
                    self.compactions += 1
                except Exception:
                    log.exception(
                        "compaction of %s on close failed; the journals keep the data", self.path
                    )
            elif not unmerged:
                current = self.path / journal_name(journal.gen)
                if current.exists() and current.stat().st_size == 0:
                    current.unlink()
        finally:
            lock.release()
            self._tables = {}
            self._journal = None
            self._lock = None
            self._state = "closed"


def _unlock_abandoned(load: asyncio.Future[_Loaded]) -> None:
    """Release the directory lock of a load whose ``open()`` was cancelled."""
    if not load.cancelled() and load.exception() is None:
        load.result().lock.release()
