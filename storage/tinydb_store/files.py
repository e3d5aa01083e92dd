"""The data directory's files: names, the manifest, snapshot partitions, atomic writes.

Layout of a data directory::

    LOCK                                  held (flock) by the process that has the store open
    COMPACT.lock                          held by whoever is folding journals into snapshots
    MANIFEST.json                         which snapshot files are current, and from which
                                          journal generation on the journals must be replayed
    journal-00000007.log                  append-only journal generations (see journal.py)
    interactions-013.00000007.json        a snapshot partition: a plain TinyDB database file
    damaged/                              damaged files put aside, each with a report
      journal-00000003.log.1a2b3c4d       (``put_aside``); never read as data, never deleted
      journal-00000003.log.1a2b3c4d.json  by the store: the operator clears them

Every file that is ever *replaced* is written under a temporary name, flushed,
fsynced and renamed over the old one, and the directory is fsynced, so a
crash leaves either the old or the new file, never half of one.  Snapshot
partitions are never replaced at all: each compaction writes new files whose
names carry the new journal generation and then switches ``MANIFEST.json`` to
them in one atomic rename.  Anything the manifest does not name (a temporary
file, a partition a crashed compaction wrote) is garbage and is deleted when
the store opens; it is never read as data.

The manifest also records each partition's SHA-256 and size.  A partition
that does not match (a changed byte, a file cut to zero length) or is missing
cannot be the result of a crash -- partitions are complete before the
manifest names them -- so opening refuses with ``StoreCorruptError`` (a
``StoreDamagedError``) naming the file; the way out is a restore from a
backup.  A manifest written before checksums existed has none: its
partitions are checked for being non-empty JSON only, and the next
compaction adds checksums for the partitions it writes.

The manifest's ``format`` is ``crm-bot-tinydb/<N>``, the directory's format
version (the TinyDB counterpart of the SQL backend's schema revision):

* 1 -- checksums optional (directories written before they existed have none);
* 2 -- every partition the manifest names has its checksum, so every
  snapshot byte is verified when the store opens.

Opening a directory of an older format refuses (``SchemaOutdatedError``)
naming ``crm-bot db upgrade``, which runs ``upgrade_format``; a newer one
refuses too (``SchemaTooNewError``).  Why not upgrade silently on open,
though 1 -> 2 only rewrites the manifest: an older crm-bot cannot read the
result, so the step that makes going back impossible is one the operator
takes, after the backup the upgrade procedure asks for, the same way on
both backends (docs/operations.md, "Upgrading").
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import zlib
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tinydb import TinyDB
from tinydb.storages import JSONStorage

from storage.base import (
    SCHEMA,
    Damage,
    SchemaOutdatedError,
    SchemaTooNewError,
    SchemaVersionError,
    StoreDamagedError,
)
from storage.files import PRIVATE_FILE, private_dir, private_open, private_touch

FORMAT_NAME = "crm-bot-tinydb"
FORMATS = ("1", "2")
"""Every format version, oldest first (see the module docstring); the last is this code's."""
FORMAT_VERSION = FORMATS[-1]
FORMAT = f"{FORMAT_NAME}/{FORMAT_VERSION}"
UPGRADE_COMMAND = "crm-bot db upgrade"
MANIFEST = "MANIFEST.json"
LOCK = "LOCK"
DAMAGED = "damaged"
COMPACT_LOCK = "COMPACT.lock"

_JOURNAL_RE = re.compile(r"^journal-(\d{8})\.log$")
_PARTITION_RE = re.compile(r"^([a-z_]+)-(\d{3})\.(\d{8})\.json$")

# Hash buckets per collection.  Collections with ``partition_by`` grow with the
# history (calls, purchases, audit) and get many buckets so that a compaction
# rewrites small files; the others get a few (customers, the reminder outbox)
# or one.  The numbers are written into a new directory's manifest, so changing
# them here never re-buckets an existing data set.
DEFAULT_BUCKETS: dict[str, int] = {
    name: (32 if spec.partition_by else 8 if name in ("customers", "reminders") else 1)
    for name, spec in SCHEMA.items()
}


RESTORE_HINT = "restore the data directory from a backup (see docs/operations.md)"


class StoreCorruptError(StoreDamagedError):
    """A data file is unreadable in a way a crash cannot explain (disk damage, foreign files)."""


def journal_name(gen: int) -> str:
    return f"journal-{gen:08d}.log"


def journal_gens(directory: Path) -> list[int]:
    """Generations of the journal files present, ascending."""
    gens = []
    for entry in os.scandir(directory):
        match = _JOURNAL_RE.match(entry.name)
        if match:
            gens.append(int(match.group(1)))
    return sorted(gens)


def partition_name(collection: str, bucket: int, gen: int) -> str:
    return f"{collection}-{bucket:03d}.{gen:08d}.json"


def bucket_of(value: Any, buckets: int) -> int:
    """The partition a record goes to: a stable hash of its partition key (never ``hash()``)."""
    if buckets == 1:
        return 0
    return zlib.crc32(str(value).encode("utf-8")) % buckets


def fsync_dir(directory: Path) -> None:
    """Make renames and new files in ``directory`` durable (no-op where unsupported)."""
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _tmp_path(final: Path) -> Path:
    return final.with_name(f".{final.name}.{os.getpid()}.tmp")


def atomic_write_bytes(final: Path, data: bytes) -> None:
    """Write, flush, fsync, rename over ``final``, fsync the directory."""
    tmp = _tmp_path(final)
    try:
        with os.fdopen(private_open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)  # a failed write (disk full) leaves nothing taking space
        raise
    fsync_dir(final.parent)


@dataclass
class Manifest:
    """What the current durable state is made of."""

    snapshot_seq: int = 0
    journal_gen: int = 1  # journals from this generation on are replayed over the snapshots
    buckets: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_BUCKETS))
    # collection -> bucket (as text) -> partition file name
    partitions: dict[str, dict[str, str]] = field(default_factory=dict)
    # partition file name -> "sha256:<hex> <size>" (absent for files of older manifests)
    checksums: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> bytes:
        files = self.files()
        body = {
            "format": FORMAT,
            "snapshot_seq": self.snapshot_seq,
            "journal_gen": self.journal_gen,
            "buckets": self.buckets,
            "partitions": self.partitions,
            "checksums": {k: v for k, v in self.checksums.items() if k in files},
        }
        return json.dumps(body, indent=1, sort_keys=True).encode("utf-8")

    def files(self) -> set[str]:
        return {name for parts in self.partitions.values() for name in parts.values()}


def _manifest_body(directory: Path) -> tuple[dict[str, Any], str] | None:
    """The manifest's JSON and its format version, or None if there is no manifest."""
    path = directory / MANIFEST
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        body = json.loads(raw)
    except ValueError as exc:
        # The manifest is only ever replaced atomically, so this is not a crash.
        raise StoreCorruptError(f"{path} is not valid JSON: {exc}") from None
    name, _, version = str(body.get("format") if isinstance(body, dict) else None).partition("/")
    if name != FORMAT_NAME or not version.isdigit():
        found = body.get("format") if isinstance(body, dict) else None
        raise StoreCorruptError(f"{path} has format {found!r}, expected {FORMAT!r}")
    return body, version


def format_version(directory: Path) -> str | None:
    """The data directory's format version, None if it has no manifest (nothing stored yet)."""
    found = _manifest_body(directory)
    return None if found is None else found[1]


def format_error(directory: Path, version: str) -> SchemaVersionError:
    """Why a data directory of format ``version`` (not this code's) does not open."""
    if version in FORMATS:
        return SchemaOutdatedError(
            f"the data directory {directory} has format {version}, older than this crm-bot's "
            f"{FORMAT_VERSION}: back it up, stop the bot and run `{UPGRADE_COMMAND}` "
            "(with the same --config), see docs/operations.md",
            version, FORMAT_VERSION,
        )
    return SchemaTooNewError(
        f"the data directory {directory} has format {version}, which this crm-bot (format "
        f"{FORMAT_VERSION}) does not know: a newer crm-bot upgraded it; run that version",
        version, FORMAT_VERSION,
    )


def _manifest(body: dict[str, Any]) -> Manifest:
    buckets = dict(DEFAULT_BUCKETS)
    buckets.update(body["buckets"])
    return Manifest(
        snapshot_seq=int(body["snapshot_seq"]),
        journal_gen=int(body["journal_gen"]),
        buckets=buckets,
        partitions={c: dict(p) for c, p in body["partitions"].items()},
        checksums=dict(body.get("checksums") or {}),
    )


def read_manifest(directory: Path) -> Manifest | None:
    """The manifest, None if there is none; ``SchemaVersionError`` if not of this code's format."""
    found = _manifest_body(directory)
    if found is None:
        return None
    body, version = found
    if version != FORMAT_VERSION:
        raise format_error(directory, version)
    manifest = _manifest(body)
    unchecked = sorted(manifest.files() - set(manifest.checksums))
    if unchecked:
        raise StoreCorruptError(
            f"{directory / MANIFEST} (format {version}) has no checksum for {unchecked[0]}; "
            + RESTORE_HINT
        )
    return manifest


def upgrade_format(directory: Path) -> str | None:
    """Bring the directory to this code's format; returns the format it had (None: no manifest).

    The caller holds the directory's locks.  1 -> 2: each partition the
    manifest names is read and checked (against its checksum where it has
    one, else for holding its collection's records), the missing checksums
    are recorded and the manifest is replaced atomically -- data files are
    not touched, so a crash leaves the old manifest or the new one.
    """
    found = _manifest_body(directory)
    if found is None:
        return None
    body, version = found
    if version == FORMAT_VERSION:
        return version
    if version not in FORMATS:
        raise format_error(directory, version)
    manifest = _manifest(body)
    for collection, parts in manifest.partitions.items():
        for name in parts.values():
            path = directory / name
            read_partition(path, collection, manifest.checksums.get(name))
            manifest.checksums.setdefault(name, checksum(path.read_bytes()))
    write_manifest(directory, manifest)
    return version


def write_manifest(directory: Path, manifest: Manifest) -> None:
    atomic_write_bytes(directory / MANIFEST, manifest.to_json())


def checksum(data: bytes) -> str:
    """How the manifest records a partition's content: ``sha256:<hex> <size>``."""
    return f"sha256:{hashlib.sha256(data).hexdigest()} {len(data)}"


def read_partition(path: Path, collection: str, expected: str | None = None) -> list[dict[str, Any]]:
    """The records in a snapshot partition the manifest names, checked against ``expected``.

    The file is a TinyDB database; it is read as TinyDB's ``JSONStorage``
    reads it (one JSON document), from bytes that are first checked against
    the manifest's checksum.  Missing, empty, changed or unreadable: one-line
    ``StoreCorruptError`` naming the file.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise StoreCorruptError(
            f"snapshot partition {path} is missing (MANIFEST.json names it); {RESTORE_HINT}"
        ) from None
    except OSError as exc:
        raise StoreCorruptError(f"snapshot partition {path} cannot be read ({exc}); {RESTORE_HINT}") from None
    if not data.strip():
        raise StoreCorruptError(
            f"snapshot partition {path} is empty ({len(data)} bytes) but MANIFEST.json "
            f"says it holds records; {RESTORE_HINT}"
        )
    if expected is not None and checksum(data) != expected:
        found = checksum(data)
        raise StoreCorruptError(
            f"snapshot partition {path} is damaged: its checksum is {found}, "
            f"MANIFEST.json recorded {expected}; {RESTORE_HINT}"
        )
    try:
        tables = json.loads(data.decode("utf-8"))
    except ValueError as exc:
        raise StoreCorruptError(f"snapshot partition {path} is not valid JSON ({exc}); {RESTORE_HINT}") from None
    table = tables.get(collection) if isinstance(tables, dict) else None
    if not isinstance(table, dict) or not table:
        raise StoreCorruptError(
            f"snapshot partition {path} holds no {collection} records but MANIFEST.json "
            f"says it does; {RESTORE_HINT}"
        )
    return list(table.values())


def write_partition(path: Path, collection: str, docs: Iterable[dict[str, Any]]) -> str:
    """Write a snapshot partition as a TinyDB database, atomically; returns its checksum.

    The file is built through TinyDB itself (its ``JSONStorage`` flushes and
    fsyncs on write) under a temporary name and renamed into place, so the
    result opens with a plain ``tinydb.TinyDB(path)`` and the record's table
    is named after its collection.  The caller fsyncs the directory once for
    all the partitions of a compaction.  A failed write (disk full) leaves no
    temporary file behind to take space.
    """
    tmp = _tmp_path(path)
    tmp.unlink(missing_ok=True)
    try:
        private_touch(tmp)  # TinyDB reads an empty file as an empty database
        db = TinyDB(str(tmp), storage=JSONStorage, encoding="utf-8")
        try:
            db.table(collection, cache_size=0).insert_multiple(docs)
        finally:
            db.close()
        written = checksum(tmp.read_bytes())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return written


def has_data_files(directory: Path) -> bool:
    """Whether the directory holds journals or snapshot partitions."""
    return any(
        _PARTITION_RE.match(entry.name) or _JOURNAL_RE.match(entry.name)
        for entry in os.scandir(directory)
    )


def collect_garbage(directory: Path, manifest: Manifest) -> list[str]:
    """Delete files a crash left behind that the manifest does not reference.

    Only called while holding both the store lock and the compaction lock, so
    nobody is writing any of them.
    """
    keep = manifest.files()
    removed = []
    for entry in os.scandir(directory):
        name = entry.name
        stale = False
        if name.endswith(".tmp"):
            stale = True
        elif _PARTITION_RE.match(name):
            stale = name not in keep
        else:
            match = _JOURNAL_RE.match(name)
            stale = bool(match) and int(match.group(1)) < manifest.journal_gen
        if stale:
            try:
                os.unlink(entry.path)
                removed.append(name)
            except FileNotFoundError:
                pass
    return removed


def put_aside(directory: Path, path: Path, detail: str, lost: int, kept_after: int) -> Damage:
    """Keep a copy of a damaged file in ``damaged/`` with a report beside it; returns the report.

    The copy is a hard link where the file system allows it (the journal is
    never written again, and a compaction that deletes it leaves the copy),
    else a copy.  Named after the content's hash, so finding the same damage
    again (the next start before a compaction) keeps one copy and one report.
    """
    aside = directory / DAMAGED
    private_dir(aside)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:8]
    kept = aside / f"{path.name}.{digest}"
    report_path = kept.with_name(kept.name + ".json")
    if report_path.exists():
        return _read_report(report_path)
    if not kept.exists():
        try:
            os.link(path, kept)
        except OSError:
            shutil.copyfile(path, kept)
            os.chmod(kept, PRIVATE_FILE)
    report = Damage(
        file=str(path),
        detail=detail,
        lost=lost,
        kept_after=kept_after,
        kept=str(kept),
        found_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    atomic_write_bytes(report_path, json.dumps(asdict(report), indent=1).encode("utf-8"))
    return report


def _read_report(path: Path) -> Damage:
    try:
        body = json.loads(path.read_bytes())
        return Damage(**body)
    except (OSError, ValueError, TypeError) as exc:
        return Damage(file=str(path), detail=f"a damage report that cannot be read ({exc})", lost=-1)


def damage_reports(directory: str | Path) -> tuple[Damage, ...]:
    """Every damage report in ``directory/damaged/``, oldest first (read-only; no lock needed)."""
    aside = Path(directory) / DAMAGED
    try:
        names = sorted(entry.name for entry in os.scandir(aside) if entry.name.endswith(".json"))
    except FileNotFoundError:
        return ()
    reports = [_read_report(aside / name) for name in names]
    return tuple(sorted(reports, key=lambda r: (r.found_at, r.file)))
