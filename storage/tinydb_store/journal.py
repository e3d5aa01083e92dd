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

A write that fails (disk full, I/O error) is taken back: the file is cut
back to its last durable length (no torn fragment stays in the middle of
the journal for later lines to follow), every entry of the failed batch and
every entry queued behind it fails, and ``on_failure`` runs on the event
loop *before* those writers hear of it, so the store can undo them in
memory.  Then the writer takes new entries again: once there is space, writes
succeed without a restart.  A full disk fails with ``StorageFullError``.
Only if the file cannot be cut back does the failure stick
(``failed``): the store must then be reopened.
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import os
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from storage.base import StorageFullError, StoreError
from storage.files import private_open
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


_Item = tuple["bytes | _Rotate", "asyncio.Future[None]"]
_SPACE = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))


def _error_for(error: BaseException, directory: Path) -> StoreError:
    if isinstance(error, OSError) and error.errno in _SPACE:
        return StorageFullError(
            f"the journal could not be written: no space left for {directory} ({error}); "
            "the write was not stored"
        )
    return StoreError(f"the journal could not be written: {error}")


class JournalWriter:
    """Owns the current journal file; appends from the event loop, syncs in its thread."""

    def __init__(
        self,
        directory: Path,
        gen: int,
        *,
        fsync: bool,
        on_failure: Callable[[], None] | None = None,
    ) -> None:
        self.directory = directory
        self.gen = gen  # the generation the next entries go to (as the event loop sees it)
        self._fsync = fsync
        self._on_failure = on_failure
        self.os_write: Callable[[int, memoryview], int] = os.write  # tests inject failures here
        self._fd = self._open(gen)
        self._file_gen = gen  # the generation the writer thread has open
        self._size = os.fstat(self._fd).st_size  # durable length of the open file
        self._cond = threading.Condition()
        self._items: list[_Item] = []
        self._future: asyncio.Future[None] | None = None  # shared by the lines of one batch
        self._paused = False  # after a failure, until the event loop has taken it back
        self._closing = False
        self.failed: BaseException | None = None  # a failure that sticks (see the docstring)
        self.tail: asyncio.Future[None] | None = None  # the latest write's future
        self._thread = threading.Thread(target=self._run, name=f"journal-{directory.name}")
        self._thread.daemon = True
        self._thread.start()

    def _open(self, gen: int) -> int:
        path = self.directory / journal_name(gen)
        fd = private_open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
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
            if isinstance(item, _Rotate):  # its own future: a failed rotation fails no line
                future = asyncio.get_running_loop().create_future()
                self._future = None
            else:
                if self._future is None:
                    self._future = asyncio.get_running_loop().create_future()
                future = self._future
            self._items.append((item, future))
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

    def _finish(
        self,
        ok: list[asyncio.Future[None]],
        failed: list[asyncio.Future[None]],
        error: BaseException | None,
    ) -> None:
        """On the event loop: settle a batch; after a failure, take it back and resume."""
        for future in ok:
            if not future.done():
                future.set_result(None)
        if error is None:
            return
        with self._cond:
            failed = failed + [future for _item, future in self._items]
            self._items, self._future = [], None
        self.gen = self._file_gen  # a rotation that never happened
        if self._on_failure is not None:
            try:
                self._on_failure()  # the store undoes every entry not yet durable
            except Exception:
                log.exception("undoing the failed journal writes of %s failed", self.directory)
        exc = _error_for(error, self.directory)
        for future in dict.fromkeys(failed):
            if not future.done():
                future.set_exception(exc)
        with self._cond:
            self._paused = False
            self._cond.notify()

    # -- writer thread ---------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                while (self._paused or not self._items) and not self._closing:
                    self._cond.wait()
                if self._paused or not self._items:  # closing; what is queued fails in _finish
                    break
                items, self._items, self._future = self._items, [], None
            ok, failed, error = self._process(items)
            if error is not None:
                with self._cond:
                    self._paused = True
            loop = items[0][1].get_loop()
            try:
                loop.call_soon_threadsafe(self._finish, ok, failed, error)
            except RuntimeError:  # the loop is gone; nobody is waiting any more
                pass
        os.close(self._fd)

    def _process(
        self, items: list[_Item]
    ) -> tuple[list[asyncio.Future[None]], list[asyncio.Future[None]], BaseException | None]:
        """Write ``items`` in order; returns the futures that succeeded, those that failed, why."""
        ok: list[asyncio.Future[None]] = []
        chunk: list[bytes] = []
        pending: dict[asyncio.Future[None], None] = {}
        try:
            if self.failed is not None:
                raise self.failed
            for item, future in items:
                if isinstance(item, _Rotate):
                    self._write(chunk)
                    ok.extend(pending)
                    chunk, pending = [], {}
                    fd = self._open(item.gen)  # the old file stays open if this fails
                    os.close(self._fd)
                    self._fd, self._file_gen, self._size = fd, item.gen, os.fstat(fd).st_size
                    ok.append(future)
                else:
                    chunk.append(item)
                    pending[future] = None
            self._write(chunk)
            ok.extend(pending)
            return ok, [], None
        except BaseException as exc:  # noqa: BLE001 - handed to every waiting writer
            log.error("journal write failed in %s: %s", self.directory, exc)
            done = set(ok)
            return ok, [f for _item, f in items if f not in done], exc

    def _write(self, chunk: list[bytes]) -> None:
        if not chunk:
            return
        data = b"".join(chunk)
        view = memoryview(data)
        try:
            while view:
                written = self.os_write(self._fd, view)
                view = view[written:]
            if self._fsync:
                _sync(self._fd)
        except BaseException:
            self._cut_back()
            raise
        self._size += len(data)

    def _cut_back(self) -> None:
        """Remove what a failed write left of itself; if that fails, the failure sticks."""
        try:
            os.ftruncate(self._fd, self._size)
            if self._fsync:
                _sync(self._fd)
        except BaseException as exc:
            self.failed = exc
            raise
