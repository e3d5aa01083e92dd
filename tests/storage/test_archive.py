"""Archives of every collection: round trips, refusals, consistency under writes (storage.archive)."""

from __future__ import annotations

import asyncio
import json
import zipfile
from pathlib import Path

import pytest

from bot.domain.models import Customer, Interaction, InteractionKind
from storage import SCHEMA, Store, TinyDBStore
from storage.archive import (
    MARKER_ID,
    ArchiveError,
    Interrupted,
    canonical,
    committed_snapshot,
    load,
    read_archive,
    stored_count,
    take_snapshot,
    write_archive,
)
from tests.storage.conftest import Reopener, StoreFactory
from tests.storage.storage_samples import samples

PER_COLLECTION = 7


async def fill(store: Store, n: int = PER_COLLECTION) -> None:
    for name in SCHEMA:
        await store.collection(name).insert_many(samples(name, n))


async def export(store: Store, path: Path) -> bytes:
    snapshot = await take_snapshot(store)
    lines = await asyncio.to_thread(canonical, snapshot)
    await asyncio.to_thread(write_archive, path, lines, app_version="test")
    return path.read_bytes()


def members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist() if name != "manifest.json"}


async def test_export_restore_export_is_identical(
    make_store: StoreFactory, reopen: Reopener, tmp_path: Path
) -> None:
    source = await reopen.open()
    await fill(source)
    first = tmp_path / "first.zip"
    await export(source, first)
    archive = await asyncio.to_thread(read_archive, first)
    assert archive.manifest.counts == {name: PER_COLLECTION for name in SCHEMA}
    # the same backend, emptied: a fresh data set of the same kind
    await source.close()
    target_dir = tmp_path / "again"
    target_dir.mkdir()
    target = make_store_over(make_store, target_dir, tmp_path)
    await target.open()
    reopen.opened.append(target)
    assert await stored_count(target) == 0
    result = await load(target, archive.lines, source=str(first))
    assert sum(result.copied.values()) == PER_COLLECTION * len(SCHEMA)
    assert await target.kv.get(MARKER_ID) is None
    second = tmp_path / "second.zip"
    await export(target, second)
    assert members(first) == members(second)
    restored = await target.customers.get(archive.records["customers"][0].id)
    assert restored == archive.records["customers"][0]


def make_store_over(make_store: StoreFactory, directory: Path, tmp_path: Path) -> Store:
    """A second, empty store of the same backend (TinyDB/SQLite: another place)."""
    store = make_store()
    if isinstance(store, TinyDBStore):
        return TinyDBStore(directory / "data", fsync=False)
    from storage.sql import SQLStore

    assert isinstance(store, SQLStore)
    if store.dialect == "sqlite":
        return SQLStore(f"sqlite:///{directory / 'crm.sqlite3'}")
    return SQLStore(str(store.url.render_as_string(hide_password=False)), prefix=store.prefix[:-1] + "r_")
