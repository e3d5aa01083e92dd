"""A full disk under the TinyDB backend: a distinct error, nothing shown that was not stored,
and writes succeed again by themselves once there is space.

Always with ENOSPC injected at the journal's write (a partial write, then
the error, as a file system does); on a real 2 MiB tmpfs where this process
may mount one (root), skipped with the reason elsewhere.
"""

from __future__ import annotations

import asyncio
import dataclasses
import errno
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage import StorageFullError, StoreError, TinyDBStore
from storage.tinydb_store.journal import JournalWriter, scan_journal
from tests.storage.storage_samples import samples


class Full:
    """A disk that takes half of a write and then reports ENOSPC, while ``full``."""

    def __init__(self) -> None:
        self.full = False
        self.refused = 0

    def write(self, fd: int, data: memoryview) -> int:
        if not self.full:
            return os.write(fd, data)
        if len(data) > 1:
            self.refused += 1
            return os.write(fd, data[: len(data) // 2])  # a torn fragment in the file ...
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))  # ... then no space


def injected(store: TinyDBStore) -> Full:
    journal = store._journal
    assert isinstance(journal, JournalWriter)
    disk = Full()
    journal.os_write = disk.write
    return disk


async def test_injected_disk_full_shows_nothing_unstored_and_recovers(tmp_path: Path) -> None:
    directory = tmp_path / "data"
    store = TinyDBStore(directory, compact_on_close=False)
    await store.open()
    first, second, *more = samples("customers", 12)
    await store.customers.insert(first)
    disk = injected(store)
    disk.full = True

    with pytest.raises(StorageFullError, match="no space left"):
        await store.customers.insert(second)
    assert await store.customers.get(second.id) is None
    with pytest.raises(StorageFullError):
        await store.customers.update(first)
    assert (await store.customers.get(first.id)).version == first.version
    with pytest.raises(StorageFullError):
        await store.customers.delete(first.id)
    with pytest.raises(StorageFullError):
        await store.customers.insert_many(more[:3])

    # concurrent writes and reads while full: every write fails, no read sees one of them
    writes = [asyncio.ensure_future(store.customers.insert(r)) for r in more]
    seen = await asyncio.gather(*(store.customers.get(r.id) for r in more))
    outcomes = await asyncio.gather(*writes, return_exceptions=True)
    assert all(isinstance(o, StorageFullError) for o in outcomes)
    assert seen == [None] * len(more)
    assert [r.id for r in await store.customers.find()] == [first.id]
    assert await store.customers.count() == 1
    assert isinstance(StorageFullError("x"), StoreError)  # callers that catch StoreError still do

    disk.full = False  # space returns: no restart needed
    await store.customers.insert(second)
    updated = await store.customers.update(first)
    await store.customers.insert_many(more)
    assert await store.customers.count() == 12
    await store.close()
    assert disk.refused >= 5

    (journal,) = directory.glob("journal-*.log")
    entries, damage = scan_journal(journal)
    assert damage is None  # the torn fragments were cut away, not left for later lines to follow
    assert [seq for seq, _ops in entries] == list(range(1, len(entries) + 1))
    store = TinyDBStore(directory)
    await store.open()
    assert sorted(r.id for r in await store.customers.find()) == sorted(
        r.id for r in [first, second, *more]
    )
    assert await store.customers.get(first.id) == updated
    assert store.damage == ()
    await store.close()


async def test_a_journal_that_cannot_be_cut_back_still_sticks(tmp_path: Path) -> None:
    """Not a full disk but a file that cannot even be truncated: refused until reopened."""
    store = TinyDBStore(tmp_path / "data")
    await store.open()
    journal = store._journal
    assert journal is not None
    first = samples("kv", 1)[0]
    os.close(journal._fd)
    journal._fd = os.open(os.devnull, os.O_RDONLY)  # write and ftruncate both fail
    with pytest.raises(StoreError) as caught:
        await store.kv.insert(first)
    assert not isinstance(caught.value, StorageFullError)
    assert await store.kv.get(first.id) is None
    with pytest.raises(StoreError, match="must be reopened"):
        await store.kv.insert(dataclasses.replace(first, id="ns:other"))
    await store.close()


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs, where this process may mount one."""
    if shutil.which("mount") is None or not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("mounting a 2 MiB tmpfs needs root (the injected disk-full test still runs)")
    point = tmp_path / "small"
    point.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(point)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip() or done.returncode}")
    try:
        yield point
    finally:
        subprocess.run(["umount", "-l", str(point)], capture_output=True, check=False)


def fill(path: Path) -> None:
    with open(path, "wb") as handle:
        try:
            while True:
                handle.write(b"\0" * 65536)
                handle.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC


async def test_a_full_tmpfs_and_space_coming_back(small_tmpfs: Path) -> None:
    directory = small_tmpfs / "data"
    store = TinyDBStore(directory, compactor="thread")
    await store.open()
    records = iter(await asyncio.to_thread(samples, "interactions", 3000))  # 3,000 samples: off the loop
    stored: list = []
    for _ in range(100):
        stored.append(next(records))
        await store.interactions.insert(stored[-1])
    filler = small_tmpfs / "filler"
    try:
        fill(filler)
        refused: list = []
        while len(refused) < 20:  # what fits in the last page still goes in; then it is full
            record = next(records)
            try:
                await store.interactions.insert(record)
                stored.append(record)
            except StorageFullError:
                refused.append(record)
        for record in refused:
            assert await store.interactions.get(record.id) is None
        assert await store.interactions.count() == len(stored)
    finally:
        filler.unlink()  # space returns
    for _ in range(100):
        stored.append(next(records))
        await store.interactions.insert(stored[-1])
    assert await store.interactions.count() == len(stored)
    await store.close()
    store = TinyDBStore(directory)
    await store.open()
    assert {r.id for r in await store.interactions.find()} == {r.id for r in stored}
    assert store.damage == ()
    await store.close()


async def test_sqlite_full_is_storage_full_too() -> None:
    """The SQL backend gives the same distinct error (here SQLite's SQLITE_FULL)."""
    from sqlalchemy import text

    from storage import SQLStore

    store = SQLStore("sqlite://")  # in memory: one connection, so the page limit holds for it
    await store.open()
    try:
        await store.kv.insert(samples("kv", 1)[0])
        assert store._engines is not None
        with store._engines.writer.connect() as conn:
            pages = conn.execute(text("PRAGMA page_count")).scalar()
            conn.execute(text(f"PRAGMA max_page_count = {pages}"))
        big = [dataclasses.replace(r, value="x" * 20_000) for r in samples("kv", 20)[1:]]
        with pytest.raises(StorageFullError, match="no space left"):
            for record in big:
                await store.kv.insert(record)
        assert await store.kv.count() < len(big)
    finally:
        await store.close()
