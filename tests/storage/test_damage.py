"""Damaged files of the TinyDB backend: refused or worked around, never silently lost.

* A snapshot partition the manifest names must match the checksum the
  manifest recorded: empty, changed or missing, the store refuses to open
  with one line naming the file (``StoreDamagedError``).
* A damaged line in the middle of a journal costs that line only: the
  intact entries after it are kept, the damaged file is put aside (never
  deleted by compaction) and the loss is reported in ``store.damage``,
  across restarts, until the operator clears it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from storage import SCHEMA, StoreDamagedError, TinyDBStore
from tests.storage.storage_samples import samples


async def compacted(directory: Path, count: int = 40) -> dict[str, list]:
    store = TinyDBStore(directory)
    await store.open()
    data = {}
    for name in SCHEMA:
        data[name] = samples(name, count)
        await store.collection(name).insert_many(data[name])
    await store.close()  # compacts: everything is in partitions now
    assert not list(directory.glob("journal-*.log"))
    return data


def a_partition(directory: Path, collection: str = "customers") -> Path:
    manifest = json.loads((directory / "MANIFEST.json").read_text())
    name = sorted(manifest["partitions"][collection].values())[0]
    return directory / name


async def refusal(directory: Path) -> str:
    with pytest.raises(StoreDamagedError) as caught:
        await TinyDBStore(directory).open()
    message = str(caught.value)
    assert "\n" not in message
    assert "backup" in message
    return message


async def test_a_zero_length_partition_is_refused_naming_the_file(tmp_path: Path) -> None:
    directory = tmp_path / "data"
    await compacted(directory)
    part = a_partition(directory)
    part.write_bytes(b"")
    message = await refusal(directory)
    assert str(part) in message and "empty" in message


async def test_a_changed_byte_in_a_partition_is_refused(tmp_path: Path) -> None:
    directory = tmp_path / "data"
    data = await compacted(directory)
    part = a_partition(directory)
    raw = part.read_bytes()
    victim = next(r.name for r in data["customers"] if r.name.encode() in raw)
    changed = raw.replace(victim.encode(), victim[:-1].encode() + b"X", 1)
    assert changed != raw and len(changed) == len(raw)
    json.loads(changed)  # still valid JSON, still a TinyDB file: only the checksum can tell
    part.write_bytes(changed)
    message = await refusal(directory)
    assert str(part) in message and "checksum" in message


async def test_a_deleted_partition_is_one_clear_line(tmp_path: Path) -> None:
    directory = tmp_path / "data"
    await compacted(directory)
    part = a_partition(directory, "interactions")
    part.unlink()
    message = await refusal(directory)
    assert str(part) in message and "missing" in message


async def test_a_manifest_without_checksums_still_opens(tmp_path: Path) -> None:
    """Data directories written before checksums existed open as before, and gain them."""
    directory = tmp_path / "data"
    await compacted(directory, 10)
    path = directory / "MANIFEST.json"
    body = json.loads(path.read_text())
    assert set(body["checksums"]) == {f for p in body["partitions"].values() for f in p.values()}
    del body["checksums"]
    path.write_text(json.dumps(body))
    store = TinyDBStore(directory)
    await store.open()
    assert await store.customers.count() == 10
    await store.customers.insert(samples("customers", 1, start=50)[0])
    await store.close()
    body = json.loads(path.read_text())
    assert len(body["checksums"]) >= 1  # the rewritten partition has one now
