"""Copy every collection: the one implementation behind export, backup, restore and migrate-store.

A data set is moved in three steps, whatever the source and the target:

1. **A snapshot** (``Snapshot``): every collection's stored records as of
   *one* moment, taken while the bot runs.

   * TinyDB, inside the process that has the store open (the bot's own
     scheduled backup, ``/backup``): the memtables' record dicts are copied
     by reference in one go on the event loop -- no write can interleave, so
     this is the state at one journal position -- and only once every write
     they may hold is durable (``TinyDBStore._read``).  Stored dicts are
     never changed in place (a write puts a new dict), so the copy can be
     encoded in a worker thread afterwards.
   * TinyDB, from another process (``crm-bot backup`` while the bot runs
     holds the directory's ``LOCK``): the committed files are read without
     the store lock -- ``MANIFEST.json``, the partitions it names and the
     journals after it, each journal line CRC-checked, a torn last line (the
     writer is still appending) ignored.  ``COMPACT.lock`` is held meanwhile
     so no compaction replaces the files under the reader; the result is the
     state after the last complete journal entry read: a prefix of the
     writes, never a torn one.  Nothing in the directory is written.
   * SQL: one read-only ``REPEATABLE READ`` transaction on PostgreSQL (one
     MVCC snapshot for every table), one read transaction on SQLite (WAL
     readers see one snapshot until they end).

2. **Canonical lines** (``canonical``): each stored record decoded (the
   store's fast decoder: it was validated when it was written) and encoded
   again with ``codec.to_dict``, as compact JSON with sorted keys, one line per
   record, ordered by id.  The lines are the archive's JSON Lines files
   byte for byte, so a collection's SHA-256 is the hash of its file, and
   two stores hold the same data exactly when their lines are equal.

3. **A sink**: an archive file (``write_archive``: a zip of
   ``collections/<name>.jsonl`` + ``manifest.json`` [+ ``workbook.xlsx``]),
   or a store (``load``: ``insert_many`` batches per collection, in id
   order, then ``verify`` compares the target's lines with what was meant).

``read_archive`` checks the whole archive -- zip structure, format, every
file's count and checksum, every record's validity -- before anything is
written anywhere: a corrupt or truncated archive is refused with one line
saying what is wrong.

**Resuming.** ``load`` writes a marker (kv ``archive:load``) into the target
before its first batch and removes it after verification.  An interrupted
load leaves the marker and a target holding, per collection, a prefix (by
id) of the records meant for it; run again, it checks exactly that and
copies only the rest.  A non-empty target without the marker is refused
unless ``replace=True``, which first clears it (TinyDB: the directory is
moved aside as ``<dir>.replaced-<time>``; SQL: the tables are dropped and
created again).

The format is documented in ``docs/archive-format.md``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import json
import os
import zipfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.domain.codec import to_dict
from bot.domain.models import KeyValue, Record
from storage.base import SCHEMA, Store, StoreError
from storage.files import PRIVATE_FILE

FORMAT = "crm-bot-archive"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
WORKBOOK = "workbook.xlsx"
COLLECTIONS_DIR = "collections"
MARKER_ID = "archive:load"  # kv id of the resume marker a load keeps in its target
BATCH = 500  # records per insert_many: the TinyDB backend encodes a batch on the event loop
MAX_MEMBER_BYTES = 4 * 1024**3  # a member claiming more than this is not ours (zip bombs)

_Doc = dict[str, Any]


class ArchiveError(StoreError):
    """An archive that cannot be used, or a target that must not be written; one line, why."""


@dataclass
class Snapshot:
    """Every collection's stored dicts as of one moment (shared with nobody who changes them)."""

    docs: dict[str, list[_Doc]]
    position: str  # where it was taken, for the manifest ("journal entry 1234", ...)


@dataclass
class Lines:
    """Canonical JSON lines per collection (see the module docstring), sorted by id."""

    by_collection: dict[str, list[str]]
    position: str = ""

    def counts(self) -> dict[str, int]:
        return {name: len(lines) for name, lines in self.by_collection.items()}

    def checksums(self) -> dict[str, str]:
        return {name: checksum(lines) for name, lines in self.by_collection.items()}


@dataclass
class Manifest:
    format_version: int
    app_version: str
    created_at: str
    position: str
    counts: dict[str, int]
    checksums: dict[str, str]
    workbook: str | None = None  # the workbook's SHA-256, when the archive has one
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> bytes:
        body = {
            "format": FORMAT,
            "format_version": self.format_version,
            "app_version": self.app_version,
            "created_at": self.created_at,
            "position": self.position,
            "collections": {
                name: {"file": member_name(name), "count": self.counts[name],
                       "sha256": self.checksums[name]}
                for name in self.counts
            },
            **({"workbook": {"file": WORKBOOK, "sha256": self.workbook}} if self.workbook else {}),
        }
        return json.dumps(body, ensure_ascii=False, indent=2, sort_keys=True).encode("utf-8")


def member_name(collection: str) -> str:
    return f"{COLLECTIONS_DIR}/{collection}.jsonl"


def checksum(lines: Iterable[str]) -> str:
    """SHA-256 of the lines as the archive's file holds them (each ending in a newline)."""
    digest = hashlib.sha256()
    for line in lines:
        digest.update(line.encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()


def encode_line(record: Record) -> str:
    return json.dumps(to_dict(record), ensure_ascii=False, sort_keys=True, separators=(",", ":"))


# ---------------------------------------------------------------------------
# Snapshots
# ---------------------------------------------------------------------------


async def take_snapshot(store: Store) -> Snapshot:
    """A consistent snapshot of an open store (see the module docstring)."""
    from storage.tinydb_store import TinyDBStore

    if isinstance(store, TinyDBStore):
        from storage.tinydb_store.snapshot import memory_snapshot

        docs, seq = await memory_snapshot(store)
        return Snapshot(docs, f"tinydb journal entry {seq}")
    from storage.sql import SQLStore

    if isinstance(store, SQLStore):
        from storage.sql.snapshot import sql_snapshot

        return Snapshot(await sql_snapshot(store), f"{store.dialect} read-only transaction")
    # Any other backend: one collection after another (consistent only if nothing writes).
    docs = {}
    for name in SCHEMA:
        docs[name] = [to_dict(record) for record in await store.collection(name).find()]
    return Snapshot(docs, "collection by collection")


def committed_snapshot(directory: str | Path) -> Snapshot:
    """The committed state of a TinyDB data directory, read-only, bot running or not (blocking)."""
    from storage.tinydb_store.snapshot import read_committed

    docs, seq = read_committed(Path(directory))
    return Snapshot(docs, f"tinydb journal entry {seq} (committed files)")


def canonical(snapshot: Snapshot) -> Lines:
    """Every record decoded (validated) and encoded again; sorted by id (blocking: CPU).

    A load's resume marker (kv ``archive:load``) is no data and is left out.
    """
    from storage.tinydb_store.decode import decoder

    out: dict[str, list[str]] = {}
    for name, spec in SCHEMA.items():
        decode = decoder(spec.record_type)
        docs = snapshot.docs.get(name, [])
        lines = []
        for doc in sorted(docs, key=_id):
            if name == "kv" and doc.get("id") == MARKER_ID:
                continue
            try:
                record = decode(doc)
            except (ValueError, TypeError, KeyError) as exc:
                raise ArchiveError(f"{name} record {doc.get('id')!r} is not valid: {exc}") from None
            lines.append(encode_line(record))
        out[name] = lines
    return Lines(out, snapshot.position)


def _id(doc: _Doc) -> str:
    return str(doc.get("id"))


# ---------------------------------------------------------------------------
# Archive files
# ---------------------------------------------------------------------------


def write_archive(
    path: str | Path,
    lines: Lines,
    *,
    app_version: str,
    created_at: datetime | None = None,
    workbook: bytes | None = None,
) -> Manifest:
    """The zip at ``path``, written to a temporary file and renamed (never half there; 0600)."""
    path = Path(path)
    manifest = Manifest(
        format_version=FORMAT_VERSION,
        app_version=app_version,
        created_at=(created_at or datetime.now(UTC)).astimezone(UTC).isoformat(),
        position=lines.position,
        counts=lines.counts(),
        checksums=lines.checksums(),
        workbook=hashlib.sha256(workbook).hexdigest() if workbook is not None else None,
    )
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    try:
        with os.fdopen(fd, "wb") as raw, zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(MANIFEST, manifest.to_json())
            for name, collection_lines in lines.by_collection.items():
                with zf.open(member_name(name), "w", force_zip64=True) as member:
                    buffer = io.BufferedWriter(member, 1 << 20)  # type: ignore[arg-type]
                    for line in collection_lines:
                        buffer.write(line.encode("utf-8"))
                        buffer.write(b"\n")
                    buffer.flush()
            if workbook is not None:
                zf.writestr(WORKBOOK, workbook)
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return manifest


@dataclass
class Archive:
    """A read and fully verified archive."""

    manifest: Manifest
    lines: Lines
    records: dict[str, list[Record]]


def read_archive(path: str | Path) -> Archive:
    """Open, check and decode an archive (blocking); ``ArchiveError`` names what is wrong."""
    path = Path(path)
    where = str(path)
    try:
        zf = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise ArchiveError(f"{where}: no such file") from None
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ArchiveError(
            f"{where} is not a crm-bot archive or is truncated (not a complete zip file: {exc}); "
            "nothing was written"
        ) from None
    with zf:
        try:
            body = json.loads(zf.read(MANIFEST))
        except KeyError:
            raise ArchiveError(f"{where} has no {MANIFEST}: not a crm-bot archive; nothing was written") from None
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
            raise ArchiveError(f"{where}: {MANIFEST} is damaged ({exc}); nothing was written") from None
        manifest = _parse_manifest(where, body)
        lines: dict[str, list[str]] = {}
        records: dict[str, list[Record]] = {}
        for name, spec in SCHEMA.items():
            if name not in manifest.counts:
                lines[name], records[name] = [], []
                continue
            member = member_name(name)
            try:
                info = zf.getinfo(member)
                if info.file_size > MAX_MEMBER_BYTES:
                    raise ArchiveError(f"{where}: {member} claims {info.file_size} bytes; refused")
                data = zf.read(member)
            except KeyError:
                raise ArchiveError(f"{where}: {member} is missing; nothing was written") from None
            except (zipfile.BadZipFile, OSError, EOFError, zlib_error()) as exc:
                raise ArchiveError(
                    f"{where}: {member} is damaged or truncated ({exc}); nothing was written"
                ) from None
            found = hashlib.sha256(data).hexdigest()
            if found != manifest.checksums[name]:
                raise ArchiveError(
                    f"{where}: {member} does not match the manifest (SHA-256 {found[:12]}…, "
                    f"expected {manifest.checksums[name][:12]}…); nothing was written"
                )
            text = data.decode("utf-8")
            collection_lines = text.split("\n")
            if collection_lines and collection_lines[-1] == "":
                collection_lines.pop()
            if len(collection_lines) != manifest.counts[name]:
                raise ArchiveError(
                    f"{where}: {member} holds {len(collection_lines)} records, the manifest "
                    f"says {manifest.counts[name]}; nothing was written"
                )
            decoded: list[Record] = []
            from bot.domain.codec import from_dict

            for number, line in enumerate(collection_lines, start=1):
                try:
                    decoded.append(from_dict(spec.record_type, json.loads(line)))
                except (ValueError, TypeError, KeyError) as exc:
                    raise ArchiveError(
                        f"{where}: {member} line {number} is not a valid {name} record ({exc}); "
                        "nothing was written"
                    ) from None
            # what the store will hold, encoded as ``canonical`` encodes it (what verify compares)
            lines[name], records[name] = [encode_line(r) for r in decoded], decoded
    return Archive(manifest, Lines(lines, manifest.position), records)


def zlib_error() -> type[Exception]:
    import zlib

    return zlib.error


def _parse_manifest(where: str, body: Any) -> Manifest:
    if not isinstance(body, dict) or body.get("format") != FORMAT:
        raise ArchiveError(f"{where}: {MANIFEST} is not a crm-bot archive manifest; nothing was written")
    version = body.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ArchiveError(
            f"{where}: archive format version {version!r} is newer than this crm-bot reads "
            f"({FORMAT_VERSION}); upgrade crm-bot; nothing was written"
        )
    collections = body.get("collections")
    if not isinstance(collections, dict):
        raise ArchiveError(f"{where}: {MANIFEST} lists no collections; nothing was written")
    counts, sums = {}, {}
    for name, entry in collections.items():
        if name not in SCHEMA:
            raise ArchiveError(
                f"{where}: unknown collection {name!r} (this crm-bot knows {', '.join(SCHEMA)}); "
                "nothing was written"
            )
        try:
            counts[name], sums[name] = int(entry["count"]), str(entry["sha256"])
        except (KeyError, TypeError, ValueError):
            raise ArchiveError(f"{where}: {MANIFEST} entry for {name} is malformed; nothing was written") from None
    workbook = body.get("workbook")
    return Manifest(
        format_version=version,
        app_version=str(body.get("app_version", "")),
        created_at=str(body.get("created_at", "")),
        position=str(body.get("position", "")),
        counts=counts,
        checksums=sums,
        workbook=workbook.get("sha256") if isinstance(workbook, dict) else None,
    )


# ---------------------------------------------------------------------------
# Loading into a store (restore, migrate-store)
# ---------------------------------------------------------------------------


async def stored_count(store: Store) -> int:
    """How many records the store holds (the resume marker not counted)."""
    total = 0
    for name in SCHEMA:
        total += await store.collection(name).count()
    if await store.kv.get(MARKER_ID) is not None:
        total -= 1
    return total


async def clear(store: Store) -> str:
    """Empty an open store; returns what was done with the old data (for the message)."""
    from storage.tinydb_store import TinyDBStore

    if isinstance(store, TinyDBStore):
        await store.close()
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        aside = store.path.with_name(f"{store.path.name}.replaced-{stamp}")
        await asyncio.to_thread(os.replace, store.path, aside)
        await store.open()
        return f"the previous data directory was moved to {aside}"
    from storage.sql import SQLStore

    if isinstance(store, SQLStore):
        await store.drop_tables()
        await store.close()
        await store.open()
        return "the previous tables were dropped"
    for name in SCHEMA:
        collection = store.collection(name)
        for record in await collection.find():
            await collection.delete(record.id)
    return "the previous records were deleted"


@dataclass
class LoadResult:
    copied: dict[str, int]  # records written by this run, per collection
    skipped: dict[str, int]  # records already there from an interrupted run
    cleared: str | None = None


class Interrupted(Exception):
    """Raised by a ``stop_after`` hook (tests: an interrupted load)."""


async def load(
    store: Store,
    lines: Lines,
    *,
    source: str,
    records: Mapping[str, list[Record]] | None = None,
    replace: bool = False,
    batch: int = BATCH,
    on_batch: Callable[[str, int], None] | None = None,
) -> LoadResult:
    """Write ``lines`` into ``store`` (open), resuming an interrupted load; then ``verify``.

    ``source`` names where the data comes from (kept in the marker); ``records``, the
    lines already decoded (an archive read with ``read_archive``).  ``on_batch(name,
    done)`` is called after each committed batch (it may raise ``Interrupted``).
    """
    marker = await store.kv.get(MARKER_ID)
    cleared = None
    if marker is None and await stored_count(store) > 0:
        if not replace:
            raise ArchiveError(
                f"the target already holds {await stored_count(store)} records; it must be empty "
                "(use --force to replace its contents)"
            )
        cleared = await clear(store)
    elif marker is not None and replace:
        cleared = await clear(store)
        marker = None
    now = datetime.now(UTC)
    if marker is None:
        await store.kv.put(MARKER_ID, {"source": source, "started_at": now.isoformat(),
                                       "checksums": lines.checksums()},
                           namespace="archive", now=now)
    elif marker.value.get("checksums") != lines.checksums():
        raise ArchiveError(
            f"the target holds an interrupted copy of other data (from {marker.value.get('source')}); "
            "use --force to start over"
        )
    copied, skipped = {}, {}
    for name, spec in SCHEMA.items():
        collection = store.collection(name)
        wanted = lines.by_collection.get(name, [])
        present = await _present_prefix(store, name, wanted)
        skipped[name] = present
        copied[name] = 0
        for start in range(present, len(wanted), batch):
            chunk = wanted[start:start + batch]
            if records is not None:
                decoded = records[name][start:start + batch]
            else:
                decoded = await asyncio.to_thread(_decode_lines, spec.record_type, chunk)
            await collection.insert_many(decoded)
            copied[name] += len(chunk)
            if on_batch is not None:
                on_batch(name, start + len(chunk))
    await verify(store, lines)
    await store.kv.delete(MARKER_ID)
    return LoadResult(copied, skipped, cleared)


def _decode_lines(cls: type[Record], chunk: list[str]) -> list[Record]:
    """Lines ``canonical`` made from stored records: decoded without validating them again."""
    from storage.tinydb_store.decode import decoder

    decode = decoder(cls)
    return [decode(json.loads(line)) for line in chunk]


async def _present_prefix(store: Store, name: str, wanted: list[str]) -> int:
    """How many of ``wanted`` (sorted by id) the target already holds; it must hold a prefix."""
    collection = store.collection(name)
    held = await collection.count() - (1 if name == "kv" and await store.kv.get(MARKER_ID) else 0)
    if held == 0:
        return 0
    records = [r for r in await collection.find(order_by="id") if not (name == "kv" and r.id == MARKER_ID)]
    have = await asyncio.to_thread(lambda: [encode_line(r) for r in records])
    if have != wanted[: len(have)]:
        raise ArchiveError(
            f"the target's {name} are not the start of the data being copied (changed since the "
            "interrupted run?); use --force to start over"
        )
    return len(have)


async def verify(store: Store, expected: Lines) -> None:
    """The store's canonical lines equal ``expected``: counts and checksums per collection."""
    snapshot = await take_snapshot(store)
    found = await asyncio.to_thread(canonical, snapshot)
    problems = []
    for name in SCHEMA:
        want = expected.by_collection.get(name, [])
        have = found.by_collection[name]
        if len(want) != len(have):
            problems.append(f"{name}: {len(have)} records, expected {len(want)}")
        elif checksum(want) != checksum(have):
            problems.append(f"{name}: checksum differs")
    if problems:
        raise ArchiveError("verification failed: " + "; ".join(problems))


def summary(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{name} {count}" for name, count in counts.items())


__all__ = [
    "BATCH",
    "FORMAT",
    "FORMAT_VERSION",
    "MARKER_ID",
    "Archive",
    "ArchiveError",
    "Interrupted",
    "KeyValue",
    "Lines",
    "LoadResult",
    "Manifest",
    "Snapshot",
    "canonical",
    "checksum",
    "clear",
    "committed_snapshot",
    "load",
    "read_archive",
    "stored_count",
    "take_snapshot",
    "verify",
    "write_archive",
]
