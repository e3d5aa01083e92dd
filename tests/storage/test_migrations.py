"""Schema versions: Alembic migrations of the SQL backend, the TinyDB directory format.

* The migration scripts build exactly the tables ``schema.py`` describes
  (Alembic's autogenerate comparison finds no difference), on SQLite and on
  PostgreSQL.
* A populated database of the old schema -- at revision 0001, or unversioned
  as the ``create_all`` code before migrations left it -- is refused by
  ``open`` with a message naming ``crm-bot db upgrade``; upgrading keeps
  every record; a database newer than the code is refused.
* ``crm-bot db current`` / ``db upgrade`` on both backends, and ``crm-bot
  run`` refusing an old schema.
* A TinyDB directory of format 1 (written before checksums existed) is
  refused, and upgraded to format 2 with its data.

The old schema with data in it is made by filling a store at the head and
migrating it down to 0001 (and, for the unversioned case, dropping the
version table): the test checks the result is 0001's schema exactly.
PostgreSQL tables get a prefix unique to the test; only they are dropped.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine

from bot import cli
from storage import SCHEMA, StoreDamagedError, StoreError, StoreLockedError, TinyDBStore
from storage.base import SchemaOutdatedError, SchemaTooNewError, Store
from storage.sql import SQLStore, migrations
from storage.sql.schema import build_tables
from tests.storage.storage_backends import (
    POSTGRES_PREFIX,
    POSTGRES_SKIP_REASON,
    SKIPPED,
    postgres_url,
)
from tests.storage.storage_samples import samples

REPO = Path(__file__).resolve().parents[2]
COMPOSITE = "status_due_at"  # the index migration 0002 adds
ADDED_LATER = migrations.ADDED_AFTER_FIRST  # collections whose tables came after 0001
AT_FIRST = tuple(name for name in SCHEMA if name not in ADDED_LATER)


def without_later_tables(found: list[Any], prefix: str) -> list[Any]:
    """``found`` less the tables of the collections added after 0001 (checked to be exactly those)."""
    added = {d[1].name for d in found if d[0] == "add_table"}
    assert added == {f"{prefix}{name}" for name in ADDED_LATER}
    return [d for d in found if d[0] != "add_table"
            and not (d[0] == "add_index" and d[1].table.name in added)]


# -- helpers (synchronous: the tests run them in a thread) ----------------------


def alembic(url: str, prefix: str, action: str, target: str) -> None:
    """``alembic upgrade|downgrade|stamp target`` over the database, tables named with ``prefix``."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            getattr(command, action)(migrations.alembic_config(conn, prefix), target)
    finally:
        engine.dispose()


def differences(url: str, prefix: str) -> list[Any]:
    """What Alembic's autogenerate finds between the database and ``schema.py`` (this prefix)."""
    metadata = build_tables(prefix).metadata
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={
                "compare_type": True,
                "include_name": lambda name, type_, _: type_ != "table" or name in metadata.tables,
            })
            return compare_metadata(context, metadata)
    finally:
        engine.dispose()


def drop_version_table(url: str, prefix: str) -> None:
    """What a database created before migrations lacks."""
    engine = create_engine(url)
    try:
        migrations.version_table(prefix).drop(engine)
    finally:
        engine.dispose()


def drop_everything(url: str, prefix: str) -> None:
    """This test's tables (and only those: the prefix is the test's own)."""
    engine = create_engine(url)
    try:
        build_tables(prefix).metadata.drop_all(engine)
        migrations.version_table(prefix).drop(engine, checkfirst=True)
    finally:
        engine.dispose()


async def everything(store: Store) -> dict[str, list[Any]]:
    return {name: sorted(await store.collection(name).find(), key=lambda r: r.id) for name in SCHEMA}


async def fill(store: Store, count: int = 25, names: tuple[str, ...] = tuple(SCHEMA)) -> dict[str, list[Any]]:
    for name in names:
        await store.collection(name).insert_many(samples(name, count))
    return await everything(store)


# -- the SQL backend -------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgres"])
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[tuple[str, str]]:
    """(url, table prefix) of an empty database of this test's own."""
    if request.param == "sqlite":
        if "sql-sqlite" in SKIPPED:
            pytest.skip(SKIPPED["sql-sqlite"])
        yield f"sqlite:///{tmp_path / 'crm.sqlite3'}", ""
        return
    if "sql-postgres" in SKIPPED:
        pytest.skip(SKIPPED["sql-postgres"] or POSTGRES_SKIP_REASON)
    url = postgres_url() or ""
    prefix = f"{POSTGRES_PREFIX}m{secrets.token_hex(2)}_"
    try:
        yield url, prefix
    finally:
        await asyncio.to_thread(drop_everything, url, prefix)


def test_the_revision_list_is_the_scripts_in_order() -> None:
    scripts = ScriptDirectory(str(migrations.SCRIPTS))
    found = [s.revision for s in reversed(list(scripts.walk_revisions()))]
    assert tuple(found) == migrations.REVISIONS
    assert scripts.get_current_head() == migrations.HEAD


def test_the_scripts_are_shipped_in_the_package() -> None:
    """``pip install .`` must carry every file Alembic reads (versions/ is no Python package)."""
    import tomllib

    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    globs = config["tool"]["setuptools"]["package-data"]["storage.sql.migrations"]
    shipped = {p for pattern in globs for p in migrations.SCRIPTS.glob(pattern)}
    needed = {migrations.SCRIPTS / "script.py.mako", *migrations.SCRIPTS.glob("versions/*.py")}
    assert needed <= shipped and len(needed) == len(migrations.REVISIONS) + 1


async def test_the_migrations_build_exactly_the_schema(database: tuple[str, str]) -> None:
    url, prefix = database
    before = await SQLStore(url, prefix=prefix).upgrade()  # every script, from nothing
    assert before.current is None and before.head == migrations.HEAD
    assert await asyncio.to_thread(differences, url, prefix) == []
    status = await SQLStore(url, prefix=prefix).schema_status()
    assert status.state == "current" and status.current == migrations.HEAD

    # and the comparison does see a difference: at 0001 the index of 0002 and the later tables
    # are missing
    await asyncio.to_thread(alembic, url, prefix, "downgrade", migrations.FIRST)
    found = without_later_tables(await asyncio.to_thread(differences, url, prefix), prefix)
    assert [(d[0], d[1].name) for d in found] == [("add_index", f"ix_{prefix}reminders_{COMPOSITE}")]


async def test_an_empty_database_is_created_at_the_head_by_opening(database: tuple[str, str]) -> None:
    url, prefix = database
    store = SQLStore(url, prefix=prefix)
    await store.open()
    await store.close()
    assert (await store.schema_status()).current == migrations.HEAD
    assert await asyncio.to_thread(differences, url, prefix) == []


@pytest.mark.parametrize("versioned", [True, False], ids=["at-0001", "unversioned"])
async def test_a_populated_old_schema_database_is_upgraded_and_keeps_its_data(
    database: tuple[str, str], versioned: bool
) -> None:
    url, prefix = database
    store = SQLStore(url, prefix=prefix)
    await store.open()
    data = await fill(store, names=AT_FIRST)  # what a 0001 database can hold
    due = await store.reminders.find({"status": "pending"}, order_by="due_at")
    await store.close()
    await asyncio.to_thread(alembic, url, prefix, "downgrade", migrations.FIRST)
    if not versioned:
        await asyncio.to_thread(drop_version_table, url, prefix)
    found = without_later_tables(await asyncio.to_thread(differences, url, prefix), prefix)
    assert [d[0] for d in found] == ["add_index"]  # the old schema exactly: 0002 undone

    with pytest.raises(SchemaOutdatedError) as refused:
        await SQLStore(url, prefix=prefix).open()
    message = str(refused.value)
    assert "crm-bot db upgrade" in message and "0001" in message and "older" in message
    assert (await SQLStore(url, prefix=prefix).schema_status()).state == "outdated"

    before = await SQLStore(url, prefix=prefix).upgrade()
    assert before.current == migrations.FIRST and before.head == migrations.HEAD
    assert await asyncio.to_thread(differences, url, prefix) == []
    store = SQLStore(url, prefix=prefix)
    await store.open()
    try:
        assert await everything(store) == data
        assert await store.reminders.find({"status": "pending"}, order_by="due_at") == due
        phoned = next(c for c in data["customers"] if c.phones)  # the side table came through
        assert phoned in await store.customers.find({"phones": phoned.phones[0]})
        await store.customers.insert(samples("customers", 1, start=1000)[0])  # writable
    finally:
        await store.close()
    again = await SQLStore(url, prefix=prefix).upgrade()
    assert again.current == migrations.HEAD  # a second upgrade has nothing to do


async def test_a_failing_upgrade_changes_nothing(database: tuple[str, str]) -> None:
    """The scripts run in one transaction: one failing late leaves no table of the earlier ones."""
    url, prefix = database
    blocker = f"{prefix}zzz_not_ours"

    def block(create: bool) -> None:  # an index name 0001 wants, taken by another table
        engine = create_engine(url)
        try:
            with engine.begin() as conn:
                if create:
                    conn.exec_driver_sql(f"CREATE TABLE {blocker} (namespace TEXT)")
                    conn.exec_driver_sql(f"CREATE INDEX ix_{prefix}kv_namespace ON {blocker} (namespace)")
                else:
                    conn.exec_driver_sql(f"DROP TABLE {blocker}")
        finally:
            engine.dispose()

    await asyncio.to_thread(block, True)
    try:
        with pytest.raises(StoreError) as failed:
            await SQLStore(url, prefix=prefix).upgrade()
        assert "nothing was changed" in str(failed.value)
        status = await SQLStore(url, prefix=prefix).schema_status()
        assert status.current is None  # no table of 0001, no version table
    finally:
        await asyncio.to_thread(block, False)
    assert (await SQLStore(url, prefix=prefix).upgrade()).current is None
    assert await asyncio.to_thread(differences, url, prefix) == []


async def test_a_database_newer_than_the_code_is_refused(database: tuple[str, str]) -> None:
    url, prefix = database
    store = SQLStore(url, prefix=prefix)
    await store.open()
    await store.close()

    def stamp_newer() -> None:
        engine = create_engine(url)
        try:
            with engine.begin() as conn:
                migrations.stamp(conn, prefix, "9999")
        finally:
            engine.dispose()

    await asyncio.to_thread(stamp_newer)
    for attempt in (SQLStore(url, prefix=prefix).open, SQLStore(url, prefix=prefix).upgrade):
        with pytest.raises(SchemaTooNewError) as refused:
            await attempt()
        assert "9999" in str(refused.value) and "newer crm-bot" in str(refused.value)
    assert (await SQLStore(url, prefix=prefix).schema_status()).state == "too new"


async def test_some_tables_without_a_version_table_are_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'crm.sqlite3'}"

    def half() -> None:
        engine = create_engine(url)
        try:
            build_tables().metadata.tables["customers"].create(engine)
        finally:
            engine.dispose()

    await asyncio.to_thread(half)
    with pytest.raises(StoreError) as refused:
        await SQLStore(url).open()
    assert "staff" in str(refused.value) and "alembic_version" in str(refused.value)


# -- the commands ----------------------------------------------------------------


def write_config(tmp_path: Path, storage: str) -> str:
    path = tmp_path / "config.toml"
    path.write_text(f"[storage]\n{storage}\n", encoding="utf-8")
    return str(path)


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("CRM_BOT_TOKEN", "CRM_BOT_DATA", "CRM_BOT_DATABASE_URL", "CRM_BOT_CONFIG"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.usefixtures("clean_environment")
def test_db_commands_upgrade_an_unversioned_sqlite_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'crm.sqlite3'}"
    alembic(url, "", "upgrade", migrations.FIRST)
    drop_version_table(url, "")  # as crm-bot made it before migrations existed
    config = write_config(tmp_path, f'backend = "sql"\nurl = "{url}"')

    assert cli.main(["db", "current", "--config", config]) == 1
    out = capsys.readouterr().out
    assert "revision 0001" in out and "crm-bot db upgrade" in out

    # the bot itself refuses to start, naming the command (before any network)
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "CRM_BOT_TOKEN": "1:x",
           "HOME": str(tmp_path)}
    run = subprocess.run([sys.executable, "-m", "bot.cli", "run", "--config", config],
                         check=False, capture_output=True, text=True, env=env, timeout=60, cwd=tmp_path)
    assert run.returncode == 2
    assert "crm-bot db upgrade" in run.stderr and "0001" in run.stderr

    assert cli.main(["db", "upgrade", "--config", config]) == 0
    out = capsys.readouterr().out
    assert f"from schema revision 0001 to {migrations.HEAD}" in out
    assert cli.main(["db", "current", "--config", config]) == 0
    assert "up to date" in capsys.readouterr().out
    assert cli.main(["db", "upgrade", "--config", config]) == 0
    assert "nothing to do" in capsys.readouterr().out
    assert differences(url, "") == []


@pytest.mark.usefixtures("clean_environment")
def test_db_upgrade_creates_an_empty_sqlite_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'new' / 'crm.sqlite3'}"
    config = write_config(tmp_path, f'backend = "sql"\nurl = "{url}"')
    assert cli.main(["db", "current", "--config", config]) == 0
    assert "empty" in capsys.readouterr().out
    assert cli.main(["db", "upgrade", "--config", config]) == 0
    assert f"created at schema revision {migrations.HEAD}" in capsys.readouterr().out


# -- the TinyDB backend ------------------------------------------------------------


async def old_format_directory(directory: Path) -> dict[str, list[Any]]:
    """A format-1 data directory holding data, in snapshot partitions and in a journal."""
    store = TinyDBStore(directory)
    await store.open()
    await fill(store, 20)
    await store.close()  # compacts: partitions
    store = TinyDBStore(directory, compact_on_close=False)
    await store.open()
    await store.customers.insert_many(samples("customers", 5, start=500))  # in the journal only
    data = await everything(store)
    await store.close()
    assert list(directory.glob("journal-*.log"))
    manifest = directory / "MANIFEST.json"
    body = json.loads(manifest.read_text())
    body["format"] = "crm-bot-tinydb/1"
    del body["checksums"]  # format 1 as written before checksums existed
    manifest.write_text(json.dumps(body))
    return data


def manifest_of(directory: Path) -> dict[str, Any]:
    return json.loads((directory / "MANIFEST.json").read_text())  # type: ignore[no-any-return]


async def test_an_old_tinydb_format_is_refused_then_upgraded_with_its_data(tmp_path: Path) -> None:
    directory = tmp_path / "data"
    data = await old_format_directory(directory)

    with pytest.raises(SchemaOutdatedError) as refused:
        await TinyDBStore(directory).open()
    message = str(refused.value)
    assert "crm-bot db upgrade" in message and "format 1" in message and "\n" not in message
    status = await TinyDBStore(directory).schema_status()
    assert (status.state, status.current, status.head) == ("outdated", "1", "2")

    before = await TinyDBStore(directory).upgrade()
    assert before.current == "1"
    body = manifest_of(directory)
    assert body["format"] == "crm-bot-tinydb/2"
    assert set(body["checksums"]) == {f for p in body["partitions"].values() for f in p.values()}
    store = TinyDBStore(directory)
    await store.open()
    try:
        assert await everything(store) == data
    finally:
        await store.close()
    assert (await TinyDBStore(directory).upgrade()).current == "2"  # nothing left to do


async def test_a_tinydb_upgrade_waits_for_no_one_and_checks_the_partitions(tmp_path: Path) -> None:
    directory = tmp_path / "data"
    await old_format_directory(directory)
    holder = TinyDBStore(directory)
    holder._lock = await asyncio.to_thread(holder._lock_directory)  # another process's bot
    try:
        with pytest.raises(StoreLockedError):
            await TinyDBStore(directory).upgrade()
    finally:
        holder._lock.release()
    assert manifest_of(directory)["format"] == "crm-bot-tinydb/1"

    body = manifest_of(directory)
    partition = directory / min(body["partitions"]["customers"].values())
    partition.write_bytes(b"")  # damage: the upgrade must not bless it with a checksum
    with pytest.raises(StoreDamagedError) as refused:
        await TinyDBStore(directory).upgrade()
    assert partition.name in str(refused.value)
    assert manifest_of(directory)["format"] == "crm-bot-tinydb/1"


async def test_a_newer_tinydb_format_is_refused(tmp_path: Path) -> None:
    directory = tmp_path / "data"
    store = TinyDBStore(directory)
    await store.open()
    await store.close()
    body = manifest_of(directory)
    body["format"] = "crm-bot-tinydb/7"
    (directory / "MANIFEST.json").write_text(json.dumps(body))
    for attempt in (TinyDBStore(directory).open, TinyDBStore(directory).upgrade):
        with pytest.raises(SchemaTooNewError) as refused:
            await attempt()
        assert "format 7" in str(refused.value) and "newer crm-bot" in str(refused.value)


@pytest.mark.usefixtures("clean_environment")
def test_db_commands_on_a_tinydb_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    directory = tmp_path / "data"
    data = asyncio.run(old_format_directory(directory))
    config = write_config(tmp_path, f'backend = "tinydb"\npath = "{directory}"')
    assert cli.main(["db", "current", "--config", config]) == 1
    assert "format 1" in capsys.readouterr().out
    assert cli.main(["db", "upgrade", "--config", config]) == 0
    assert "upgraded from format 1 to 2" in capsys.readouterr().out

    async def read() -> dict[str, list[Any]]:
        store = TinyDBStore(directory)
        await store.open()
        try:
            return await everything(store)
        finally:
            await store.close()

    assert asyncio.run(read()) == data
