"""The append-only journal and its group-commit writer.

Every write is one journal *entry*: one line ``<crc32 hex> <json>\\n`` whose
JSON is ``{"s": seq, "ops": [[collection, bucket, id, doc-or-null], ...]}``.
An op carries the record's complete new state (or null for a delete), so
replaying an entry twice, or over a snapshot that already has it, gives the
same result: recovery and compaction need no bookkeeping beyond "which
journal generations are not yet in the snapshots".  ``insert_many`` is one
entry, so it is all-or-nothing.

A crash can leave the last line of a journal torn (cut short, or garbage
where the file system had not yet written).  The CRC catches that, and a bad
line with no intact line after it is such a torn tail: it was never
acknowledged, and it is ignored without a word.  A bad line *followed* by
intact ones is damage (a flipped bit, a bad sector): every line carries its
own CRC, so the intact entries after it are still replayed -- each op holds
a record's complete state, so a lost entry costs the changes it made and
nothing else -- and ``scan_journal`` reports the damage: which lines, and
how many entries are missing (entries are numbered consecutively, so the gap
in ``s`` counts them).  The store then puts the file aside and lists the
loss in ``store.damage`` (see ``files.put_aside``).

The writer is a dedicated thread.  Writes from the event loop land in a
buffer; the thread takes *everything* buffered at that moment, writes it with
one ``write`` and makes it durable with one ``fdatasync`` (group commit), then
resolves the one future all those writers await.  The event loop never waits
on the disk, and a burst of concurrent writes costs one fsync, not one each.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from storage.base import StoreError
from storage.tinydb_store.files import fsync_dir, journal_name, put_aside

log = logging.getLogger(__name__)

Op = list[Any]  # [collection, bucket, record id, doc dict or None]

_sync = getattr(os, "fdatasync", os.fsync)


def encode_entry(seq: int, ops: list[Op]) -> bytes:
    body = json.dumps({"s": seq, "ops": ops}, ensure_ascii=False, separators=(",", ":"))
    raw = body.encode("utf-8")
    return b"%08x %s\n" % (zlib.crc32(raw), raw)


def _decode_line(line: bytes) -> tuple[int, list[Op]] | None:
    if len(line) < 10 or line[8:9] != b" ":
        return None
    raw = line[9:]
    try:
        if int(line[:8], 16) != zlib.crc32(raw):
            return None
        body = json.loads(raw)
        return int(body["s"]), body["ops"]
    except (ValueError, KeyError, TypeError):
        return None


Entry = tuple[int, list[Op]]


@dataclass
class JournalDamage:
    """Bad lines in a journal with intact lines after them (not a torn tail)."""

    lines: list[int]  # 1-based numbers of the damaged lines
    lost: int  # entries missing (at least; from the gaps in the entry numbers)
    kept_after: int  # intact entries after the first damaged line, still replayed

    def detail(self) -> str:
        shown = ", ".join(str(n) for n in self.lines[:10])
        more = f" and {len(self.lines) - 10} more" if len(self.lines) > 10 else ""
        return (
            f"damaged journal line(s) {shown}{more}; "
            f"the {self.kept_after} intact entries after them were kept"
        )


def scan_journal(path: Path) -> tuple[list[Entry], JournalDamage | None]:
    """The intact entries of one journal file, and the damage in it if there is any."""
    data = path.read_bytes()
    lines = data.split(b"\n")
    lines.pop()  # after the last newline: b"" or the torn fragment of an unfinished line
    entries: list[Entry] = []
    bad: list[int] = []  # damaged lines seen since the last intact one
    damaged: list[int] = []
    lost = kept_after = 0
    for number, line in enumerate(lines, start=1):
        entry = _decode_line(line)
        if entry is None:
            bad.append(number)
            continue
        if bad:  # intact after bad: damage, not a torn tail
            damaged.extend(bad)
            gap = entry[0] - entries[-1][0] - 1 if entries else len(bad)
            lost += max(gap, 1)
            bad = []
        if damaged:
            kept_after += 1
        entries.append(entry)
    if not damaged:
        return entries, None  # at most a torn tail, which was never acknowledged
    return entries, JournalDamage(damaged, lost, kept_after)


def read_journal(path: Path) -> list[Entry]:
    """The intact entries of one journal file (see ``scan_journal``)."""
    entries, damage = scan_journal(path)
    if damage is not None:
        log.error("%s: %s; %d entries lost", path, damage.detail(), damage.lost)
    return entries


def replay_journal(directory: Path, gen: int) -> list[Entry]:
    """The intact entries of journal ``gen``; damage is put aside and reported, loudly."""
    path = directory / journal_name(gen)
    entries, damage = scan_journal(path)
    if damage is not None:
        report = put_aside(directory, path, damage.detail(), damage.lost, damage.kept_after)
        log.error("DATA LOSS in %s: %s", directory, report.line())
    return entries


@dataclass
class _Rotate:
    gen: int


class JournalWriter:
    """Owns the current journal file; appends from the event loop, syncs in its thread."""

    def __init__(self, directory: Path, gen: int, *, fsync: bool) -> None:
        self.directory = directory
        self.gen = gen
        self._fsync = fsync
        self._fd = self._open(gen)
        self._cond = threading.Condition()
        self._items: list[bytes | _Rotate] = []
        self._future: asyncio.Future[None] | None = None
        self._closing = False
        self.failed: BaseException | None = None
        self.tail: asyncio.Future[None] | None = None  # the latest write's future
        self._thread = threading.Thread(target=self._run, name=f"journal-{directory.name}")
        self._thread.daemon = True
        self._thread.start()

    def _open(self, gen: int) -> int:
        path = self.directory / journal_name(gen)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_CLOEXEC", 0))
        fsync_dir(self.directory)  # the new file's directory entry must survive a crash too
        return fd

    # -- event-loop side -------------------------------------------------

    def _enqueue(self, item: bytes | _Rotate) -> asyncio.Future[None]:
        if self.failed is not None:
            raise StoreError(
                f"the journal could not be written, the store is unusable: {self.failed}"
            )
        if self._closing:
            raise StoreError("the journal is closed")
        with self._cond:
            if self._future is None:
                self._future = asyncio.get_running_loop().create_future()
            future = self._future
            self._items.append(item)
            self._cond.notify()
        self.tail = future
        return future

    def append(self, line: bytes) -> asyncio.Future[None]:
        """Queue one entry; the future resolves once it (and all before it) is durable."""
        return self._enqueue(line)

    def rotate(self, gen: int) -> asyncio.Future[None]:
        """Switch to a new journal generation after everything queued so far."""
        future = self._enqueue(_Rotate(gen))
        self.gen = gen
        return future

    async def close(self) -> None:
        with self._cond:
            self._closing = True
            self._cond.notify()
        await asyncio.to_thread(self._thread.join)

    # -- writer thread ---------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._items and not self._closing:
                    self._cond.wait()
                items, future = self._items, self._future
                self._items, self._future = [], None
                if not items and self._closing:
                    break
            error: BaseException | None = None
            try:
                if self.failed is not None:
                    raise self.failed
                chunk: list[bytes] = []
                for item in items:
                    if isinstance(item, _Rotate):
                        self._write(chunk)
                        chunk = []
                        os.close(self._fd)
                        self._fd = self._open(item.gen)
                    else:
                        chunk.append(item)
                self._write(chunk)
            except BaseException as exc:  # handed to every waiting writer
                log.exception("journal write failed in %s", self.directory)
                self.failed = error = exc
            if future is not None:
                try:
                    future.get_loop().call_soon_threadsafe(_settle, future, error)
                except RuntimeError:  # the loop is gone; nobody is waiting any more
                    pass
        os.close(self._fd)

    def _write(self, chunk: list[bytes]) -> None:
        if not chunk:
            return
        view = memoryview(b"".join(chunk))
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        if self._fsync:
            _sync(self._fd)


def _settle(future: asyncio.Future[None], error: BaseException | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(StoreError(f"the journal could not be written: {error}"))
