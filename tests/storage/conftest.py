"""Fixtures that run the storage contract against every backend.

The backends are listed in ``storage_backends.BACKENDS``; one that cannot
run here (PostgreSQL without ``CRM_BOT_TEST_DATABASE_URL``) is skipped with
the reason ``storage_backends.SKIPPED`` gives.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from storage import Store
from tests.storage.storage_backends import (
    BACKENDS,
    SKIPPED,
    create_postgres_tables,
    drop_postgres_tables,
)

StoreFactory = Callable[[], Store]


@pytest.fixture(scope="session", autouse=True)
def _shared_database_tables() -> Iterator[None]:
    """Creates the tables the PostgreSQL tests share before any test's loop runs (SQLAlchemy's
    first DDL is synchronous), and drops them once they are all done."""
    if "sql-postgres" not in SKIPPED:
        with contextlib.suppress(Exception):  # unreachable: each PostgreSQL test says so itself
            create_postgres_tables()
    yield
    drop_postgres_tables()


@pytest.fixture(params=sorted(BACKENDS))
def backend(request: pytest.FixtureRequest) -> str:
    if request.param in SKIPPED:
        pytest.skip(SKIPPED[request.param])
    return request.param


@pytest.fixture
def make_store(backend: str, tmp_path: Path) -> StoreFactory:
    """Builds unopened stores over this test's data."""
    return lambda: BACKENDS[backend](tmp_path)


class Reopener:
    """Closes a store and opens a new one over the same data; closes all at the end."""

    def __init__(self, factory: StoreFactory) -> None:
        self.factory = factory
        self.opened: list[Store] = []

    async def open(self) -> Store:
        store = self.factory()
        await store.open()
        self.opened.append(store)
        return store

    async def __call__(self, store: Store) -> Store:
        await store.close()
        return await self.open()

    async def close_all(self) -> None:
        for store in self.opened:
            await store.close()


@pytest.fixture
async def reopen(make_store: StoreFactory) -> AsyncIterator[Reopener]:
    reopener = Reopener(make_store)
    yield reopener
    await reopener.close_all()


@pytest.fixture
async def store(reopen: Reopener) -> Store:
    """An open, empty store (closed at the end of the test)."""
    return await reopen.open()
