"""Customer data on disk is for the bot's own user: every directory 0700, every file 0600.

The stores set the modes themselves, so this holds under a permissive umask
(022, the usual default) too; ``crm-bot`` additionally runs with umask 077.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage import SCHEMA, TinyDBStore
from tests.storage.storage_samples import samples
from tests.storage.test_damage import flip_a_bit_in_the_middle, journal_only


@pytest.fixture(autouse=True)
def permissive_umask() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def modes(top: Path) -> dict[str, str]:
    """Every path below (and including) ``top`` whose mode lets anyone else in: path -> mode."""
    wrong = {}
    for root, dirs, files in os.walk(top):
        for name in [*dirs, *files, *([] if root != str(top) else ["."])]:
            path = Path(root) / name
            mode = stat.S_IMODE(path.stat().st_mode)
            want = 0o700 if path.is_dir() else 0o600
            if mode != want:
                wrong[str(path.relative_to(top.parent))] = oct(mode)
    return wrong


async def test_the_tinydb_data_directory_is_private(tmp_path: Path) -> None:
    directory = tmp_path / "deployment" / "data"  # parents created by the store too
    store = TinyDBStore(directory)
    await store.open()
    for name in SCHEMA:
        await store.collection(name).insert_many(samples(name, 10))
    await store.compact()  # partitions, manifest
    await store.collection("interactions").insert(samples("interactions", 11)[-1])
    await store.close()  # the journal, compacted again on close
    store = TinyDBStore(directory, compact_on_close=False)
    await store.open()
    await store.collection("interactions").insert(samples("interactions", 12)[-1])
    await store.close()  # a journal left in place
    assert list(directory.glob("journal-*.log")) and (directory / "MANIFEST.json").exists()
    assert modes(tmp_path / "deployment") == {}


async def test_a_damaged_file_put_aside_is_private(tmp_path: Path) -> None:
    directory = tmp_path / "data"
    await journal_only(directory, "customers", 30)
    (journal,) = directory.glob("journal-*.log")
    flip_a_bit_in_the_middle(journal)
    os.chmod(directory, 0o755)  # as a data directory made before this rule was
    store = TinyDBStore(directory)
    await store.open()
    assert store.damage and (directory / "damaged").is_dir()
    await store.close()
    assert modes(directory) == {}


async def test_the_sqlite_file_the_sql_backend_creates_is_private(tmp_path: Path) -> None:
    pytest.importorskip("sqlalchemy")
    from storage.sql.store import SQLStore

    store = SQLStore(f"sqlite:///{tmp_path / 'db' / 'crm.sqlite3'}")
    await store.open()
    await store.collection("customers").insert_many(samples("customers", 5))
    await store.close()
    assert (tmp_path / "db" / "crm.sqlite3").stat().st_size > 0
    assert modes(tmp_path / "db") == {}
