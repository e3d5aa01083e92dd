"""Two store objects on one database: what two bot replicas share.

An SQLite file always; PostgreSQL when ``CRM_BOT_TEST_DATABASE_URL`` is set
(skipped with that reason otherwise), on tables of their own.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from storage.base import Store
from storage.sql import SQLStore

POSTGRES = os.environ.get("CRM_BOT_TEST_DATABASE_URL")
if POSTGRES:  # the driver's first import takes a while: at collection, not inside a test's event loop
    import psycopg.pq.misc  # noqa: F401
    import sqlalchemy.dialects.postgresql.psycopg  # noqa: F401


@pytest.fixture(params=["sqlite", "postgres"])
async def two_stores(request: Any, tmp_path: Path) -> AsyncIterator[tuple[Store, Store]]:
    if request.param == "postgres":
        if not POSTGRES:
            pytest.skip("set CRM_BOT_TEST_DATABASE_URL to run two replicas on PostgreSQL")
        prefix = f"l{uuid.uuid4().hex[:8]}_"
        stores = (SQLStore(POSTGRES, prefix=prefix), SQLStore(POSTGRES, prefix=prefix))
    else:
        url = f"sqlite:///{tmp_path / 'crm.sqlite3'}"
        stores = (SQLStore(url), SQLStore(url))
    for store in stores:
        await store.open()
    yield stores
    if request.param == "postgres":
        await stores[0].drop_tables()
    for store in stores:
        await store.close()


