"""What is particular to the TinyDB backend: its files, compaction, recovery, failure modes."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from pathlib import Path
from typing import Any

import pytest
from tinydb import Query, TinyDB

from bot.domain.codec import from_dict, to_dict
from bot.domain.models import Customer, ModelError
from storage import SCHEMA, StoreCorruptError, StoreError, StoreLockedError, TinyDBStore
from storage.tinydb_store.compactor import main as compactor_main
from storage.tinydb_store.compactor import merge
from storage.tinydb_store.decode import decoder
from storage.tinydb_store.files import bucket_of, read_manifest
from tests.storage.storage_samples import sample, samples


def manifest(directory: Path) -> dict[str, Any]:
    return json.loads((directory / "MANIFEST.json").read_text())


def partition_files(directory: Path) -> dict[str, dict[str, str]]:
    return manifest(directory)["partitions"]


async def filled(directory: Path, **options: Any) -> tuple[TinyDBStore, dict[str, list[Any]]]:
    store = TinyDBStore(directory, **options)
    await store.open()
    data = {}
    for name in SCHEMA:
        data[name] = samples(name, 40)
        await store.collection(name).insert_many(data[name])
    return store, data


async def test_snapshots_are_plain_tinydb_files(tmp_path: Path) -> None:
    directory = tmp_path / "data"
    store, data = await filled(directory)
    await store.close()  # compacts
    assert not list(directory.glob("journal-*.log"))
    parts = partition_files(directory)
    assert set(parts) == set(SCHEMA)
    for name, records in data.items():
        spec = SCHEMA[name]
        seen = {}
        for bucket, file_name in parts[name].items():
            with TinyDB(directory / file_name, access_mode="r") as db:
                assert db.tables() == {name}
                for doc in db.table(name).all():
                    key = doc[spec.partition_by] if spec.partition_by else doc["id"]
                    assert bucket_of(key, manifest(directory)["buckets"][name]) == int(bucket)
                    seen[doc["id"]] = dict(doc)
        assert seen == {r.id: to_dict(r) for r in records}
    # and TinyDB's own queries work on them
    some = data["interactions"][0]
    bucket = bucket_of(some.customer_id, manifest(directory)["buckets"]["interactions"])
    with TinyDB(directory / parts["interactions"][str(bucket)], access_mode="r") as db:
        found = db.table("interactions").search(Query().id == some.id)
        assert from_dict(type(some), found[0]) == some


async def test_compaction_rewrites_only_changed_partitions(tmp_path: Path) -> None:
    directory = tmp_path / "data"
    store, data = await filled(directory)
    await store.close()
    before = partition_files(directory)
    store = TinyDBStore(directory)
    await store.open()
    target = data["interactions"][5]
    await store.interactions.update(target)
    await store.close()
    after = partition_files(directory)
    bucket = str(bucket_of(target.customer_id, 32))
    changed = {(c, b) for c in after for b in after[c] if after[c][b] != before[c].get(b)}
    assert changed == {("interactions", bucket)}
    assert sorted(p.name for p in directory.glob("*.json")) == sorted(
        ["MANIFEST.json", *(f for parts in after.values() for f in parts.values())]
    )  # the replaced file is gone


async def test_background_compaction_in_a_child_process(tmp_path: Path) -> None:
    directory = tmp_path / "data"
    store = TinyDBStore(directory, compact_every=25, compact_ratio=0, compact_on_close=False)
    await store.open()
    records = samples("customers", 60)
    for record in records:
        await store.customers.insert(record)
    while store._compaction is not None:  # the compaction the inserts started, to its end
        await store._compaction
    assert store.compactions >= 1
    assert manifest(directory)["journal_gen"] > 1
    await store.close()  # no compaction on close: the rest stays in the journal
    reopened = TinyDBStore(directory)
    await reopened.open()
    assert sorted(r.id for r in await reopened.customers.find()) == sorted(r.id for r in records)
    await reopened.close()


@pytest.mark.parametrize("how", ["process", "thread"])
async def test_explicit_compaction_keeps_writing(tmp_path: Path, how: str) -> None:
    directory = tmp_path / "data"
    store, _data = await filled(directory, compactor=how)
    compaction = asyncio.create_task(store.compact())
    extra = samples("interactions", 30, start=100)
    for record in extra:  # writes go on while it runs
        await store.interactions.insert(record)
    await compaction
    assert store.compactions == 1
    await store.close()
    store = TinyDBStore(directory)
    await store.open()
    assert await store.interactions.count() == 70
    await store.close()


async def test_garbage_is_deleted_not_loaded(tmp_path: Path) -> None:
    directory = tmp_path / "data"
    store, _data = await filled(directory)
    await store.close()
    junk = {
        ".customers-000.00000009.json.123.tmp": b'{"customers": {"1": {"id": "ghost"',
        "customers-000.00000099.json": json.dumps(
            {"customers": {"1": to_dict(sample("customers", 99))}}
        ).encode(),
        "journal-00000000.log": b"anything",
    }
    for name, content in junk.items():
        (directory / name).write_bytes(content)
    (directory / "notes.txt").write_text("not ours")
    store = TinyDBStore(directory)
    await store.open()
    assert await store.customers.get(sample("customers", 99).id) is None
    assert await store.customers.count() == 40
    await store.close()
    for name in junk:
        assert not (directory / name).exists()
    assert (directory / "notes.txt").exists()  # files it does not know are left alone


async def test_data_without_manifest_is_refused(tmp_path: Path) -> None:
    directory = tmp_path / "data"
    store, _ = await filled(directory)
    await store.close()
    (directory / "MANIFEST.json").unlink()
    with pytest.raises(StoreCorruptError, match="no MANIFEST.json"):
        await TinyDBStore(directory).open()
    with pytest.raises(StoreError):  # a StoreCorruptError is a StoreError
        await TinyDBStore(directory).open()


async def test_damage_inside_a_journal_keeps_the_intact_lines(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    directory = tmp_path / "data"
    store = TinyDBStore(directory, compact_on_close=False)
    await store.open()
    records = samples("customers", 10)
    for record in records:
        await store.customers.insert(record)
    await store.close()
    (journal,) = directory.glob("journal-*.log")
    lines = journal.read_bytes().split(b"\n")
    lines[5] = lines[5].replace(b"customers", b"custXmers")  # a CRC mismatch in line 6
    journal.write_bytes(b"\n".join(lines))
    store = TinyDBStore(directory)
    with caplog.at_level(logging.WARNING):
        await store.open()
    expected = records[:5] + records[6:]  # every line carries its own CRC: only line 6 is lost
    assert sorted(r.id for r in await store.customers.find()) == sorted(r.id for r in expected)
    assert "DATA LOSS" in caplog.text and "line(s) 6" in caplog.text
    assert "the 4 intact entries after them were kept" in caplog.text
    await store.close()


async def test_unknown_collection_in_journal_is_corruption(tmp_path: Path) -> None:
    directory = tmp_path / "data"
    store = TinyDBStore(directory, compact_on_close=False)
    await store.open()
    await store.kv.insert(sample("kv", 1))
    await store.close()
    from storage.tinydb_store.journal import encode_entry

    (journal,) = directory.glob("journal-*.log")
    journal.write_bytes(journal.read_bytes() + encode_entry(9, [["ghosts", 0, "g1", {"id": "g1"}]]))
    with pytest.raises(StoreCorruptError, match="ghosts"):
        await TinyDBStore(directory).open()


async def test_same_process_second_store_is_locked_out(tmp_path: Path) -> None:
    directory = tmp_path / "data"
    first = TinyDBStore(directory)
    await first.open()
    with pytest.raises(StoreLockedError) as caught:
        await TinyDBStore(directory).open()
    assert str(directory) in str(caught.value)
    with pytest.raises(StoreError, match="already open"):
        await first.open()
    await first.close()
    await first.close()  # closing twice is harmless


async def test_a_failed_journal_write_is_reported_and_sticks(tmp_path: Path) -> None:
    directory = tmp_path / "data"
    store = TinyDBStore(directory)
    await store.open()
    await store.kv.insert(sample("kv", 1))
    journal = store._journal
    assert journal is not None
    os.close(journal._fd)  # the disk goes away under the writer
    journal._fd = os.open(os.devnull, os.O_RDONLY)  # writes now fail with EBADF
    with pytest.raises(StoreError, match="journal could not be written"):
        await store.kv.insert(sample("kv", 2))
    with pytest.raises(StoreError, match="must be reopened"):
        await store.kv.insert(sample("kv", 3))
    await store.close()
    store = TinyDBStore(directory)
    await store.open()
    assert [r.id for r in await store.kv.find()] == [sample("kv", 1).id]
    await store.close()


async def test_without_fsync(tmp_path: Path) -> None:
    store = TinyDBStore(tmp_path / "data", fsync=False)
    await store.open()
    await store.customers.insert_many(samples("customers", 5))
    await store.close()
    store = TinyDBStore(tmp_path / "data", fsync=False)
    await store.open()
    assert await store.customers.count() == 5
    await store.close()


async def test_reads_wait_for_writes_in_flight(tmp_path: Path) -> None:
    store = TinyDBStore(tmp_path / "data")
    await store.open()
    record = sample("customers", 1)
    write = asyncio.create_task(store.customers.insert(record))
    await asyncio.sleep(0)  # the insert is applied and queued, not yet durable
    assert store._journal is not None and store._journal.tail is not None
    assert not store._journal.tail.done()
    found = await store.customers.get(record.id)
    assert found == record
    assert store._journal.tail.done()  # the read returned only once the write was durable
    await write
    await store.close()


def test_compactor_entry_point(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert compactor_main([]) == 2
    directory = tmp_path / "data"
    asyncio.run(_journal_only(directory))
    # a compactor whose parent is gone does nothing
    assert compactor_main([str(directory), "99", "1"]) == 0
    assert "the store process is gone" in capsys.readouterr().err
    assert read_manifest(directory).journal_gen == 1  # type: ignore[union-attr]
    result = merge(directory, 99)
    assert result.ops == 3 and result.partitions_written >= 1
    assert read_manifest(directory).journal_gen == 100  # type: ignore[union-attr]
    assert merge(directory, 50).skipped == "already merged"


async def _journal_only(directory: Path) -> None:
    store = TinyDBStore(directory, compact_on_close=False)
    await store.open()
    await store.audit.insert_many(samples("audit", 3))
    await store.close()


def test_decoder_equals_the_codec() -> None:
    for name, spec in SCHEMA.items():
        decode = decoder(spec.record_type)
        for i in range(12):
            record = sample(name, i)
            data = to_dict(record)
            assert decode(data) == from_dict(spec.record_type, data) == record


def test_stored_records_are_decoded_without_running_validation_again() -> None:
    # What the store holds was validated when it was built; decoding it again was most of the
    # cost of every read (issue 15). A record a newer rule would refuse still reads.
    data = to_dict(sample("customers", 1))
    data["name"] = " "  # refused by Customer(...) today
    decoded = decoder(Customer)(data)
    assert isinstance(decoded, Customer) and decoded.name == " "
    with pytest.raises(ModelError):
        from_dict(Customer, data)


def test_decoding_fills_fields_the_stored_dict_lacks_with_their_defaults() -> None:
    # A record stored before a field existed reads with the field's default, like the codec.
    data = to_dict(sample("customers", 2))
    for name in ("tags", "archived", "stage", "handles"):
        del data[name]
    decoded = decoder(Customer)(data)
    assert decoded == from_dict(Customer, data)
    assert decoded.tags == [] and decoded.handles == {} and decoded.archived is False
    decoded.tags.append("x")  # a fresh default each time, never shared
    assert decoder(Customer)(data).tags == []
    del data["name"]  # a required field missing: refused, as by the constructor
    with pytest.raises(TypeError):
        decoder(Customer)(data)

