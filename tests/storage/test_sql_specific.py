"""What the SQL backend promises beyond the shared contract.

Its reason to exist is several bot replicas sharing one database, so these
tests open *several* ``SQLStore`` objects on one database -- as separate
processes would -- and check that the compare-and-set update lets exactly
one of them claim a reminder, that the unique ``dedupe_key`` holds across
them, and that each sees what the others wrote.  They run on SQLite (a
file) and, when ``CRM_BOT_TEST_DATABASE_URL`` is set, on PostgreSQL, where
each test gets tables of its own (a random prefix) and drops them after.
"""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from bot.domain.models import Reminder, ReminderStatus
from storage import (
    SCHEMA,
    ConflictError,
    DuplicateError,
    NotFoundError,
    StoreError,
    TinyDBStore,
    open_store,
)
from tests.storage.storage_backends import SKIPPED, postgres_url
from tests.storage.storage_samples import PHONES, reference_find, sample, samples

if "sql-sqlite" in SKIPPED:
    pytest.skip(SKIPPED["sql-sqlite"], allow_module_level=True)

from sqlalchemy import create_engine, inspect

from storage.sql import SQLStore

Replicas = Callable[[], Awaitable[SQLStore]]


@pytest.fixture(params=["sql-sqlite", "sql-postgres"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str]:
    """(URL, table prefix) of a database for this test alone."""
    if request.param in SKIPPED:
        pytest.skip(SKIPPED[request.param])
    if request.param == "sql-sqlite":
        return f"sqlite:///{tmp_path / 'shared.sqlite3'}", ""
    return postgres_url() or "", f"s{secrets.token_hex(4)}_"


@pytest.fixture
async def replicas(database: tuple[str, str]) -> AsyncIterator[Replicas]:
    """Opens another ``SQLStore`` on the test's database; closes them all (and drops the tables)."""
    url, prefix = database
    opened: list[SQLStore] = []

    async def replica() -> SQLStore:
        store = SQLStore(url, prefix=prefix)
        await store.open()
        opened.append(store)
        return store

    yield replica
    for store in opened:
        await store.close()
    if prefix:
        cleaner = SQLStore(url, prefix=prefix)
        await cleaner.open()
        await cleaner.drop_tables()
        await cleaner.close()


def _reminder() -> Reminder:
    reminder = sample("reminders", 1)
    assert isinstance(reminder, Reminder)
    return dataclasses.replace(reminder, status=ReminderStatus.PENDING, sent_at=None)


# -- replicas ------------------------------------------------------------------


async def test_two_replicas_claiming_one_reminder_exactly_one_wins(replicas: Replicas) -> None:
    first, second = await replicas(), await replicas()
    await first.reminders.insert(_reminder())
    for attempt in range(15):
        seen_first = await first.reminders.get(_reminder().id)
        seen_second = await second.reminders.get(_reminder().id)
        assert seen_first == seen_second and seen_first is not None  # both read one version
        claims = [
            first.reminders.update(dataclasses.replace(seen_first, attempts=2 * attempt)),
            second.reminders.update(dataclasses.replace(seen_second, attempts=2 * attempt + 1)),
        ]
        results = await asyncio.gather(*claims, return_exceptions=True)
        winners = [r for r in results if isinstance(r, Reminder)]
        losers = [r for r in results if not isinstance(r, Reminder)]
        assert len(winners) == 1, results
        assert len(losers) == 1 and isinstance(losers[0], ConflictError), results
        assert winners[0].version == seen_first.version + 1
        assert await first.reminders.get(seen_first.id) == winners[0]
        assert await second.reminders.get(seen_first.id) == winners[0]


async def test_many_claimers_on_several_replicas_one_winner(replicas: Replicas) -> None:
    stores = [await replicas() for _ in range(3)]
    reminder = _reminder()
    await stores[0].reminders.insert(reminder)
    claims = [
        store.reminders.update(dataclasses.replace(reminder, attempts=10 * k + n))
        for k, store in enumerate(stores)
        for n in range(5)
    ]
    results = await asyncio.gather(*claims, return_exceptions=True)
    winners = [r for r in results if isinstance(r, Reminder)]
    assert len(winners) == 1
    assert all(isinstance(r, ConflictError) for r in results if not isinstance(r, Reminder))
    for store in stores:
        assert await store.reminders.get(reminder.id) == winners[0]


async def test_the_dedupe_key_is_unique_across_replicas(replicas: Replicas) -> None:
    first, second = await replicas(), await replicas()
    one = _reminder()
    other = dataclasses.replace(sample("reminders", 2), dedupe_key=one.dedupe_key)
    results = await asyncio.gather(
        first.reminders.insert(one), second.reminders.insert(other), return_exceptions=True
    )
    assert sum(isinstance(r, Reminder) for r in results) == 1, results
    assert sum(isinstance(r, DuplicateError) for r in results) == 1, results
    assert await first.reminders.count() == 1
    assert (await second.reminders.get_by("dedupe_key", one.dedupe_key)) in (one, other)


async def test_replicas_see_each_others_writes_and_a_reopen_sees_everything(
    replicas: Replicas, database: tuple[str, str]
) -> None:
    writer, reader = await replicas(), await replicas()
    expected: dict[str, dict[str, Any]] = {}
    for name in sorted(SCHEMA):
        records = samples(name, 12)
        collection = writer.collection(name)
        await collection.insert_many(records[:6])
        for record in records[6:]:
            await collection.insert(record)
        updated = await collection.update(records[3])
        assert await collection.delete(records[4].id)
        expected[name] = {r.id: r for r in records if r.id != records[4].id}
        expected[name][updated.id] = updated
        assert {r.id: r for r in await reader.collection(name).find()} == expected[name]
    customers = list(expected["customers"].values())
    assert [c.id for c in await reader.customers.find({"phones": PHONES[1]})] == [
        c.id for c in reference_find(customers, "customers", {"phones": PHONES[1]})
    ]
    await writer.close()
    await reader.close()
    url, prefix = database
    async with SQLStore(url, prefix=prefix) as again:
        for name in sorted(SCHEMA):
            assert {r.id: r for r in await again.collection(name).find()} == expected[name], name


async def test_stores_opening_together_create_the_tables_once(replicas: Replicas) -> None:
    stores = await asyncio.gather(*(replicas() for _ in range(4)))
    await stores[0].customers.insert(sample("customers", 1))
    assert [await s.customers.count() for s in stores] == [1, 1, 1, 1]


async def test_a_cancelled_write_still_completes_before_close(
    replicas: Replicas, database: tuple[str, str]
) -> None:
    store = await replicas()
    reminder = _reminder()
    await store.reminders.insert(reminder)
    claim = asyncio.ensure_future(store.reminders.update(reminder))
    await asyncio.sleep(0)  # the write is under way
    claim.cancel()
    with pytest.raises(asyncio.CancelledError):
        await claim
    await store.close()  # waits for it
    url, prefix = database
    async with SQLStore(url, prefix=prefix) as again:
        assert (await again.reminders.get(reminder.id)).version == reminder.version + 1


async def test_update_of_a_record_another_replica_deleted(replicas: Replicas) -> None:
    first, second = await replicas(), await replicas()
    reminder = _reminder()
    await first.reminders.insert(reminder)
    assert await second.reminders.delete(reminder.id)
    with pytest.raises(NotFoundError):
        await first.reminders.update(reminder)


# -- what is in the database ---------------------------------------------------


async def test_tables_columns_and_indexes(replicas: Replicas, database: tuple[str, str]) -> None:
    """One table per collection, an index per searchable field, unique ones unique."""
    await replicas()

    def check(url: str, prefix: str) -> None:  # reflection is synchronous: off the loop
        engine = create_engine(url)
        try:
            inspector = inspect(engine)
            tables = set(inspector.get_table_names())
            for name, spec in SCHEMA.items():
                table = f"{prefix}{name}"
                assert table in tables
                columns = {c["name"] for c in inspector.get_columns(table)}
                assert {"id", "version", "data"} <= columns
                indexes = {
                    tuple(i["column_names"]): bool(i["unique"]) for i in inspector.get_indexes(table)
                }
                for field in (*spec.indexed, *spec.ranged):
                    if field in ("phones", "tags", "teams"):
                        assert field not in columns  # a side table holds list elements
                        continue
                    assert (field,) in indexes, (table, field)
                    assert indexes[(field,)] is (field in spec.unique), (table, field)
            assert {f"{prefix}customers_values", f"{prefix}staff_values"} <= tables
        finally:
            engine.dispose()

    await asyncio.to_thread(check, *database)


async def test_in_memory_sqlite_works_as_one_connection() -> None:
    async with SQLStore("sqlite://") as store:
        reminder = _reminder()
        await store.reminders.insert(reminder)
        results = await asyncio.gather(
            *(store.reminders.update(reminder) for _ in range(5)), return_exceptions=True
        )
        assert sum(isinstance(r, Reminder) for r in results) == 1
        assert await store.reminders.count() == 1


async def test_odd_where_values_answer_as_on_tinydb(tmp_path: Path) -> None:
    """Mismatched types: a database would cast or refuse; the TinyDB backend uses Python's ==."""
    staff, customers = samples("staff", 6), samples("customers", 10)
    probes: list[tuple[str, dict[str, Any]]] = [
        ("staff", {"telegram_id": "5001"}),
        ("staff", {"telegram_id": 5001.0}),
        ("staff", {"telegram_id": True}),
        ("staff", {"telegram_id": 2**70}),
        ("staff", {"active": 1}),
        ("staff", {"active": 0}),
        ("staff", {"active": -1}),
        ("staff", {"active": "true"}),
        ("staff", {"teams": None}),
        ("staff", {"teams": 5}),
        ("customers", {"owner_id": 5}),
        ("customers", {"team": None}),
        ("customers", {"id": 3}),
    ]
    answers = []
    for store in (TinyDBStore(tmp_path / "tiny"), SQLStore(f"sqlite:///{tmp_path / 'x.db'}")):
        async with store:
            await store.staff.insert_many(staff)
            await store.customers.insert_many(customers)
            answers.append(
                [[r.id for r in await store.collection(name).find(where)] for name, where in probes]
            )
            assert await store.customers.get(3) is None  # type: ignore[arg-type]
            assert await store.customers.delete(3) is False  # type: ignore[arg-type]
    assert answers[0] == answers[1]


# -- URLs and the factory --------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "needs a database URL"),
        ("   ", "needs a database URL"),
        ("not a url", "is not a database URL"),
        ("mysql://crm:secret@db/crm", "PostgreSQL or SQLite"),
        ("postgresql+psycopg2://crm:secret@db/crm", "through psycopg"),
        ("sqlite:///x.db?x=1", None),  # fine: parsed, not opened
    ],
)
def test_bad_urls_are_refused_clearly(url: str, message: str | None) -> None:
    if message is None:
        assert isinstance(open_store("sql", url=url), SQLStore)
        return
    with pytest.raises(StoreError, match=message) as caught:
        open_store("sql", url=url)
    assert "secret" not in str(caught.value)


@pytest.mark.loop_blocking("the first import of psycopg (once a session) runs on the loop")
async def test_an_unreachable_server_is_a_clear_store_error() -> None:
    store = SQLStore("postgresql://crm:secret@127.0.0.1:1/crm")
    with pytest.raises(StoreError, match="cannot open the database") as caught:
        await store.open()
    assert "secret" not in str(caught.value) and "127.0.0.1" in str(caught.value)
    with pytest.raises(StoreError, match="not open"):
        await store.customers.get("x")


async def test_an_unusable_sqlite_file_is_a_clear_store_error(tmp_path: Path) -> None:
    (tmp_path / "a-directory.sqlite3").mkdir()
    store = SQLStore(f"sqlite:///{tmp_path / 'a-directory.sqlite3'}")
    with pytest.raises(StoreError, match="cannot open the database"):
        await store.open()


def test_open_store_builds_an_unopened_sql_store(tmp_path: Path) -> None:
    store = open_store("sql", url=f"sqlite:///{tmp_path / 'sub' / 'crm.sqlite3'}")
    assert isinstance(store, SQLStore)
    assert not (tmp_path / "sub").exists()  # not opened yet
    postgres = open_store("sql", url="postgresql://crm@db/crm")
    assert isinstance(postgres, SQLStore) and postgres.url.drivername == "postgresql+psycopg"
    with pytest.raises(StoreError, match="unknown storage backend"):
        open_store("mongo", url="mongodb://x")


async def test_a_sqlite_store_makes_its_directory(tmp_path: Path) -> None:
    async with SQLStore(f"sqlite:///{tmp_path / 'new' / 'dir' / 'crm.sqlite3'}") as store:
        await store.kv.insert(sample("kv", 1))
    assert (tmp_path / "new" / "dir" / "crm.sqlite3").is_file()
