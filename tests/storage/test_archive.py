"""Archives of every collection: round trips, refusals, consistency under writes (storage.archive)."""

from __future__ import annotations

import asyncio
import json
import zipfile
from pathlib import Path
from typing import Any

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
    try:
        await round_trip_into(target, archive, first, tmp_path)
    finally:
        await drop_and_close(target)


async def drop_and_close(store: Store) -> None:
    from storage.sql import SQLStore

    if isinstance(store, SQLStore) and store.dialect == "postgresql":
        await store.drop_tables()
    await store.close()


async def round_trip_into(target: Store, archive: Any, first: Path, tmp_path: Path) -> None:
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


# -- refusals ----------------------------------------------------------------


@pytest.fixture
async def archive_file(tmp_path: Path) -> Path:
    store = TinyDBStore(tmp_path / "source", fsync=False)
    async with store:
        await fill(store)
        path = tmp_path / "good.zip"
        await export(store, path)
    return path


def damaged_copies(good: Path, tmp: Path) -> dict[str, Path]:
    data = good.read_bytes()
    out = {}

    def put(name: str, content: bytes) -> None:
        out[name] = tmp / f"{name}.zip"
        out[name].write_bytes(content)

    put("truncated", data[: len(data) // 2])
    put("empty", b"")
    put("binary", bytes(range(256)) * 40)
    with zipfile.ZipFile(good) as zf:
        files = {name: zf.read(name) for name in zf.namelist()}

    def rezip(name: str, changed: dict[str, bytes | None]) -> None:
        buffer = tmp / f"{name}.zip"
        with zipfile.ZipFile(buffer, "w") as zf:
            for member, content in {**files, **changed}.items():
                if content is not None:
                    zf.writestr(member, content)
        out[name] = buffer

    customers = files["collections/customers.jsonl"]
    rezip("edited_record", {"collections/customers.jsonl": customers.replace(b'"name":"', b'"name":"X', 1)})
    rezip("missing_record", {"collections/customers.jsonl": b"\n".join(customers.split(b"\n")[1:])})
    rezip("no_manifest", {"manifest.json": None})
    manifest = json.loads(files["manifest.json"])
    manifest["format_version"] = 99
    rezip("future_format", {"manifest.json": json.dumps(manifest).encode()})
    return out


async def test_damaged_archives_are_refused_and_nothing_is_written(
    archive_file: Path, tmp_path: Path
) -> None:
    copies = damaged_copies(archive_file, tmp_path)
    reasons = {}
    for name, path in copies.items():
        with pytest.raises(ArchiveError) as caught:
            await asyncio.to_thread(read_archive, path)
        reasons[name] = str(caught.value)
        assert "nothing was written" in reasons[name], reasons[name]
    assert "truncated" in reasons["truncated"]
    assert "does not match the manifest" in reasons["edited_record"]
    assert "does not match the manifest" in reasons["missing_record"]
    assert "no manifest.json" in reasons["no_manifest"]
    assert "newer" in reasons["future_format"]


async def test_a_non_empty_target_is_refused_unless_replaced(archive_file: Path, tmp_path: Path) -> None:
    archive = await asyncio.to_thread(read_archive, archive_file)
    store = TinyDBStore(tmp_path / "target", fsync=False)
    async with store:
        customer = Customer(name="已有客户", owner_id="rep-x")
        await store.customers.insert(customer)
        with pytest.raises(ArchiveError, match="already holds 1 records"):
            await load(store, archive.lines, source="test")
        assert await stored_count(store) == 1
        result = await load(store, archive.lines, source="test", replace=True)
        assert result.cleared and "moved to" in result.cleared
        assert await store.customers.get(customer.id) is None
        assert await stored_count(store) == PER_COLLECTION * len(SCHEMA)
    aside = [p for p in tmp_path.iterdir() if p.name.startswith("target.replaced-")]
    assert len(aside) == 1  # the old data is kept, not deleted


async def test_an_interrupted_load_resumes_where_it_stopped(archive_file: Path, tmp_path: Path) -> None:
    archive = await asyncio.to_thread(read_archive, archive_file)
    batches = []

    def stop_after_four(name: str, done: int) -> None:
        batches.append((name, done))
        if len(batches) == 4:  # staff: 3 + 3 + 1, then customers: 3
            raise Interrupted

    store = TinyDBStore(tmp_path / "target", fsync=False)
    async with store:
        with pytest.raises(Interrupted):
            await load(store, archive.lines, source="test", batch=3, on_batch=stop_after_four)
    async with TinyDBStore(tmp_path / "target", fsync=False) as store:
        assert await store.kv.get(MARKER_ID) is not None  # the marker says: resume me
        assert 0 < await stored_count(store) < PER_COLLECTION * len(SCHEMA)
        result = await load(store, archive.lines, source="test", batch=3)
        assert result.skipped["staff"] == PER_COLLECTION and result.skipped["customers"] == 3
        assert sum(result.copied.values()) == PER_COLLECTION * len(SCHEMA) - PER_COLLECTION - 3
        assert await store.kv.get(MARKER_ID) is None
        again = await asyncio.to_thread(canonical, await take_snapshot(store))
    assert again.by_collection == archive.lines.by_collection


# -- consistency while writes go on -------------------------------------------


async def write_pairs(store: Store, pairs: int) -> None:
    """Customer, then an interaction about it, ``pairs`` times."""
    for i in range(pairs):
        customer = Customer(name=f"客户{i}", owner_id="rep-a")
        await store.customers.insert(customer)
        await store.interactions.insert(Interaction(
            customer_id=customer.id, owner_id="rep-a", kind=InteractionKind.CALL,
            occurred_at=customer.created_at, summary=f"call {i}"))


def check_consistent(docs: dict[str, list[dict[str, Any]]]) -> tuple[int, int]:
    customers = {doc["id"] for doc in docs["customers"]}
    interactions = docs["interactions"]
    assert all(doc["customer_id"] in customers for doc in interactions), "an interaction without its customer"
    assert len(customers) - len(interactions) in (0, 1)
    return len(customers), len(interactions)


async def snapshots_during(
    store: Store, take: Any, pairs: int = 600, until: Any = lambda: True
) -> tuple[list[tuple[int, int]], Any]:
    """Snapshots taken while a writer adds ``pairs`` pairs (and more, in rounds, until ``until()``
    and at least 3 snapshots, at most 5 rounds: each round takes one at least); each checked for
    consistency."""
    seen, snapshot = [], None
    for _round in range(5):
        writer = asyncio.create_task(write_pairs(store, pairs))
        while not writer.done():
            snapshot = await take()
            seen.append(check_consistent(snapshot.docs))
            await asyncio.sleep(0.01)
        await writer
        if until() and len(seen) >= 3:  # a slow reader may see one round finish between two snapshots
            break
    return seen, snapshot


@pytest.mark.parametrize("how", ["memory", "committed files"])
async def test_tinydb_backup_during_writes_is_a_consistent_prefix(how: str, tmp_path: Path) -> None:
    store = TinyDBStore(tmp_path / "data", fsync=False, compact_every=50, compact_ratio=0,
                        compactor="thread")
    async with store:
        if how == "memory":
            seen, snapshot = await snapshots_during(store, lambda: take_snapshot(store))
        else:
            seen, snapshot = await snapshots_during(
                store, lambda: asyncio.to_thread(committed_snapshot, tmp_path / "data"),
                until=lambda: store.compactions >= 2)
            assert store.compactions >= 2  # the files changed under the readers
    assert len(seen) >= 3 and seen[-1][0] > seen[0][0]  # the snapshots moved on with the writes
    path = tmp_path / "backup.zip"
    lines = await asyncio.to_thread(canonical, snapshot)
    await asyncio.to_thread(write_archive, path, lines, app_version="test")
    archive = await asyncio.to_thread(read_archive, path)
    async with TinyDBStore(tmp_path / "restored", fsync=False) as restored:
        await load(restored, archive.lines, source=str(path))
        assert await restored.customers.count() == archive.manifest.counts["customers"]
        assert await restored.interactions.count() == archive.manifest.counts["interactions"]


async def test_sql_backup_during_writes_is_consistent(make_store: StoreFactory, backend: str) -> None:
    if not backend.startswith("sql"):
        pytest.skip("the TinyDB backend has its own test above")
    store = make_store()
    async with store:
        seen, _snapshot = await snapshots_during(store, lambda: take_snapshot(store), pairs=300)
    assert len(seen) >= 3 and seen[-1][0] > seen[0][0]
