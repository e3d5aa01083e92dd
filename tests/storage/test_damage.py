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
    name = min(manifest["partitions"][collection].values())
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


async def test_a_manifest_missing_a_checksum_is_refused(tmp_path: Path) -> None:
    """Format 2 records every partition's checksum: one missing is damage, not an old directory.

    (A format-1 directory, written before checksums existed, is upgraded by
    ``crm-bot db upgrade``: tests/storage/test_migrations.py.)"""
    directory = tmp_path / "data"
    await compacted(directory, 10)
    path = directory / "MANIFEST.json"
    body = json.loads(path.read_text())
    name = min(body["checksums"])
    del body["checksums"][name]
    path.write_text(json.dumps(body))
    message = await refusal(directory)
    assert name in message and "checksum" in message


async def journal_only(directory: Path, collection: str, count: int) -> list:
    """``count`` records written one by one, left in one journal (no compaction); returns them."""
    store = TinyDBStore(directory, compact_on_close=False)
    await store.open()
    records = samples(collection, count)
    for record in records:
        await store.collection(collection).insert(record)
    await store.close()
    assert store.damage == ()
    return records


def flip_a_bit_in_the_middle(path: Path) -> int:
    """Flip the low bit of a byte in the middle of ``path`` (never making or breaking a newline)."""
    raw = bytearray(path.read_bytes())
    at = len(raw) // 2
    while raw[at] in (0x0A, 0x0B):
        at += 1
    raw[at] ^= 0x01
    path.write_bytes(bytes(raw))
    return raw[: at].count(b"\n") + 1  # the damaged line's number


async def test_a_flipped_bit_mid_journal_loses_one_write_and_is_reported(tmp_path: Path) -> None:
    directory = tmp_path / "data"
    records = await journal_only(directory, "interactions", 200)  # acknowledged, one line each
    (journal,) = directory.glob("journal-*.log")
    original = journal.read_bytes()
    line = flip_a_bit_in_the_middle(journal)
    damaged_bytes = journal.read_bytes()

    store = TinyDBStore(directory)
    await store.open()
    kept = {r.id for r in await store.interactions.find()}
    expected = {r.id for r in records} - {records[line - 1].id}
    assert kept == expected  # 199 of 200: only the damaged line's write is gone
    (report,) = store.damage
    assert report.file == str(journal) and report.lost == 1 and report.kept_after == 200 - line
    assert f"line(s) {line}" in report.line() and "1 write(s) lost" in report.line()
    assert report.kept is not None and Path(report.kept).read_bytes() == damaged_bytes
    await store.close()  # compacts: the journal itself is folded in and deleted ...
    assert not journal.exists()
    assert Path(report.kept).read_bytes() == damaged_bytes  # ... but its copy is kept
    assert damaged_bytes != original

    store = TinyDBStore(directory)
    await store.open()
    assert {r.id for r in await store.interactions.find()} == expected
    assert store.damage == (report,)  # reported at every start until the operator clears it
    await store.close()
    assert TinyDBStore.damage_in(directory) == (report,)  # and readable without opening


async def test_damage_found_twice_is_reported_once(tmp_path: Path) -> None:
    directory = tmp_path / "data"
    await journal_only(directory, "customers", 30)
    (journal,) = directory.glob("journal-*.log")
    flip_a_bit_in_the_middle(journal)
    for _ in range(2):  # no compaction in between: the same damage is found again
        store = TinyDBStore(directory, compact_on_close=False)
        await store.open()
        assert len(store.damage) == 1 and await store.customers.count() == 29
        await store.close()
    assert len(list((directory / "damaged").iterdir())) == 2  # one copy, one report


async def test_a_torn_tail_is_not_damage(tmp_path: Path) -> None:
    directory = tmp_path / "data"
    await journal_only(directory, "customers", 10)
    (journal,) = directory.glob("journal-*.log")
    raw = journal.read_bytes()
    journal.write_bytes(raw[:-30] + b"\0" * 29 + b"\n")  # the last line garbage, as after a crash
    store = TinyDBStore(directory)
    await store.open()
    assert await store.customers.count() == 9
    assert store.damage == ()
    await store.close()
    assert not (directory / "damaged").exists()


async def test_crm_bot_check_reports_the_damage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import main

    directory = tmp_path / "data"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CRM_BOT_DATA", str(directory))
    monkeypatch.delenv("CRM_BOT_DATABASE_URL", raising=False)
    monkeypatch.setenv("CRM_BOT_TOKEN", "123456:TEST")  # a complete configuration: no warnings
    monkeypatch.setenv("CRM_BOT_ADMINS", "501")
    await journal_only(directory, "customers", 20)
    assert main(["check"]) == 0
    assert "DAMAGED" not in capsys.readouterr().out
    (journal,) = directory.glob("journal-*.log")
    flip_a_bit_in_the_middle(journal)
    store = TinyDBStore(directory)
    await store.open()  # finds the damage, puts the journal aside
    await store.close()
    assert main(["check"]) == 1
    out = capsys.readouterr().out
    assert "configuration OK" in out
    assert f"storage DAMAGED: {journal}" in out and "1 write(s) lost" in out
