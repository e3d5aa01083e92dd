"""``crm-bot export / backup / restore / migrate-store`` from the command line."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import archive_cli, cli
from bot.config import load_config
from storage import SCHEMA, TinyDBStore
from storage.archive import Interrupted, read_archive
from tests.bot.test_cli import REPO, clean_env
from tests.storage.storage_backends import postgres_url
from tests.storage.storage_samples import samples


def config_file(tmp_path: Path, name: str, storage: str) -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(f"[storage]\n{storage}\n", encoding="utf-8")
    return path


def tinydb_config(tmp_path: Path, name: str) -> Path:
    return config_file(tmp_path, name, f'backend = "tinydb"\npath = "{tmp_path / name}"')


def fill(directory: Path, n: int = 5) -> None:
    async def go() -> None:
        async with TinyDBStore(directory, fsync=False) as store:
            for name in SCHEMA:
                await store.collection(name).insert_many(samples(name, n))

    asyncio.run(go())


def members(path: Path, *, without: tuple[str, ...] = ()) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {n: zf.read(n) for n in zf.namelist()
                if n.startswith("collections/") and n.removeprefix("collections/").removesuffix(".jsonl") not in without}


def test_export_restore_export_round_trip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tinydb_config(tmp_path, "source")
    fill(tmp_path / "source")
    first = tmp_path / "first.zip"
    assert cli.main(["export", "--config", str(source), "--out", str(first)]) == 0
    assert f"{5 * len(SCHEMA)} records" in capsys.readouterr().out  # 5 of every collection
    with zipfile.ZipFile(first) as zf:
        assert "workbook.xlsx" in zf.namelist() and "manifest.json" in zf.namelist()
    target = tinydb_config(tmp_path, "target")
    assert cli.main(["restore", str(first), "--config", str(target)]) == 0
    assert "verified" in capsys.readouterr().out
    second = tmp_path / "second.zip"
    assert cli.main(["export", "--config", str(target), "--out", str(second)]) == 0
    assert members(first, without=("audit",)) == members(second, without=("audit",))
    audit = {name: read_archive(path).records["audit"] for name, path in (("first", first), ("second", second))}
    # the restore itself is audited in the target; everything else came across unchanged
    assert [e for e in audit["second"] if e.action != "restore"] == audit["first"]
    assert [e.action for e in audit["second"] if e not in audit["first"]] == ["restore"]


def test_restore_refuses_a_non_empty_store_without_force(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tinydb_config(tmp_path, "source")
    fill(tmp_path / "source")
    archive = tmp_path / "a.zip"
    assert cli.main(["export", "--config", str(source), "--out", str(archive)]) == 0
    target = tinydb_config(tmp_path, "target")
    fill(tmp_path / "target", 2)
    capsys.readouterr()
    assert cli.main(["restore", str(archive), "--config", str(target)]) == 2
    err = capsys.readouterr().err
    assert "already holds" in err and "--force" in err
    assert cli.main(["restore", str(archive), "--config", str(target), "--force"]) == 0
    assert "moved to" in capsys.readouterr().out
    assert [p.name.startswith("target.replaced-") for p in tmp_path.iterdir()].count(True) == 1


def test_a_truncated_archive_is_refused_and_nothing_is_written(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tinydb_config(tmp_path, "source")
    fill(tmp_path / "source")
    good = tmp_path / "a.zip"
    assert cli.main(["export", "--config", str(source), "--out", str(good)]) == 0
    bad = tmp_path / "bad.zip"
    bad.write_bytes(good.read_bytes()[:-200])
    capsys.readouterr()
    target = tinydb_config(tmp_path, "target")
    assert cli.main(["restore", str(bad), "--config", str(target)]) == 2
    err = capsys.readouterr().err
    assert "truncated" in err and "nothing was written" in err
    assert not (tmp_path / "target").exists()


async def test_backup_while_the_bot_holds_the_directory(tmp_path: Path) -> None:
    """Another process backs up the directory a running store holds: committed files, read-only."""
    config = tinydb_config(tmp_path, "data")
    async with TinyDBStore(tmp_path / "data", fsync=False) as store:
        for name in SCHEMA:
            await store.collection(name).insert_many(samples(name, 4))
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "backup", "--config", str(config), "--dir", str(tmp_path / "b"),
            env=clean_env(tmp_path), cwd=REPO, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        _out, err = await process.communicate()
        assert process.returncode == 0, err.decode()
        assert "not in its audit trail" in err.decode()
        await store.customers.insert_many(samples("customers", 2, start=100))  # the bot goes on
    (backup,) = (tmp_path / "b").iterdir()
    archive = await asyncio.to_thread(read_archive, backup)
    assert archive.manifest.counts == {name: 4 for name in SCHEMA}
    assert "workbook.xlsx" not in zipfile.ZipFile(backup).namelist()


def test_migrate_store_both_ways_through_sqlite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tinydb_config(tmp_path, "source")
    fill(tmp_path / "source")
    url = f"sqlite:///{tmp_path / 'crm.sqlite3'}"
    assert cli.main(["migrate-store", "--from", str(source), "--to", url]) == 0
    assert "verified" in capsys.readouterr().out
    assert cli.main(["migrate-store", "--from", str(source), "--to", url]) == 2
    assert "already holds" in capsys.readouterr().err
    sql = config_file(tmp_path, "sql", f'backend = "sql"\nurl = "{url}"')
    assert cli.main(["migrate-store", "--from", str(sql), "--to", f"tinydb:{tmp_path / 'back'}"]) == 0
    first, second = tmp_path / "1.zip", tmp_path / "2.zip"
    assert cli.main(["export", "--config", str(source), "--out", str(first)]) == 0
    assert cli.main(["export", "--config", str(tinydb_config(tmp_path, "back")), "--out", str(second)]) == 0
    assert members(first, without=("audit",)) == members(second, without=("audit",))


# -- 10 000 customers with history, both directions, interrupted and resumed --------------


def datagen_fill(directory: Path, customers: int, interactions: int) -> int:
    from bench.datagen import DataSet
    from storage.tinydb_store import TinyDBStore as Store

    data = DataSet(customers=customers, interactions=interactions)

    async def go() -> int:
        async with Store(directory, fsync=False) as store:
            await store.staff.insert_many(data.staff())
            batch: list = []
            for record in data.customer_records():
                batch.append(record)
                if len(batch) == 500:
                    await store.customers.insert_many(batch)
                    batch = []
            await store.customers.insert_many(batch)
            batch = []
            for record in data.interaction_records(data.customer_keys()):
                batch.append(record)
                if len(batch) == 500:
                    await store.interactions.insert_many(batch)
                    batch = []
            await store.interactions.insert_many(batch)
            for name in ("purchases", "feedback", "reminders", "audit", "invitations", "kv"):
                await store.collection(name).insert_many(samples(name, 50))
            return len(data.staff()) + customers + interactions + 6 * 50

    return asyncio.run(go())


@contextlib.contextmanager
def sql_target(tmp_path: Path) -> Iterator[str]:
    """PostgreSQL (a database of its own, dropped afterwards) when the tests have one, else SQLite."""
    url = postgres_url()
    if not url:
        yield f"sqlite:///{tmp_path / 'crm.sqlite3'}"
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"crm_migrate_{os.getpid()}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.mark.slow
def test_migrate_store_ten_thousand_customers_both_ways_resumed(tmp_path: Path) -> None:
    """TinyDB -> PostgreSQL (SQLite without a server) interrupted mid-way and resumed, then back."""
    total = datagen_fill(tmp_path / "source", 10_000, 40_000)
    source = load_config(tinydb_config(tmp_path, "source"), environ={})
    with sql_target(tmp_path) as to:
        batches: list[tuple[str, int]] = []

        def stop_in_interactions(name: str, done: int) -> None:
            batches.append((name, done))
            if name == "interactions" and done >= 20_000:
                raise Interrupted

        with pytest.raises(Interrupted):
            asyncio.run(archive_cli.migrate(source, to, on_batch=stop_in_interactions))
        resumed = asyncio.run(archive_cli.migrate(source, to))
        assert resumed.skipped["customers"] == 10_000 and resumed.skipped["interactions"] == 20_000
        assert sum(resumed.copied.values()) + sum(resumed.skipped.values()) == total
        back = load_config(config_file(tmp_path, "sql", f'backend = "sql"\nurl = "{to}"'), environ={})
        result = asyncio.run(archive_cli.migrate(back, f"tinydb:{tmp_path / 'back'}"))
    assert sum(result.copied.values()) == total
    first, second = tmp_path / "1.zip", tmp_path / "2.zip"
    assert cli.main(["backup", "--config", str(tinydb_config(tmp_path, "source")), "--dir", str(tmp_path / "a")]) == 0
    assert cli.main(["backup", "--config", str(tinydb_config(tmp_path, "back")), "--dir", str(tmp_path / "b")]) == 0
    (first,) = (tmp_path / "a").iterdir()
    (second,) = (tmp_path / "b").iterdir()
    assert members(first, without=("audit",)) == members(second, without=("audit",))


def test_restore_into_sqlite_and_refusal_when_not_empty(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tinydb_config(tmp_path, "source")
    fill(tmp_path / "source")
    archive = tmp_path / "a.zip"
    assert cli.main(["export", "--config", str(source), "--out", str(archive)]) == 0
    sql = config_file(tmp_path, "sql", f'backend = "sql"\nurl = "sqlite:///{tmp_path / "crm.sqlite3"}"')
    assert cli.main(["restore", str(archive), "--config", str(sql)]) == 0
    assert cli.main(["restore", str(archive), "--config", str(sql)]) == 2
    # what fill wrote and the restore's audit event
    assert f"already holds {5 * len(SCHEMA) + 1} records" in capsys.readouterr().err
    assert cli.main(["restore", str(archive), "--config", str(sql), "--force"]) == 0
    assert "tables were dropped" in capsys.readouterr().out
    again = tmp_path / "b.zip"
    assert cli.main(["export", "--config", str(sql), "--out", str(again)]) == 0
    assert members(archive, without=("audit",)) == members(again, without=("audit",))
