"""The bot end to end on the SQL backend: SQLite always, PostgreSQL when a URL is given."""

from __future__ import annotations

import dataclasses
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from handlers.common import SERVICES_KEY
from storage.sql import SQLStore
from tests.conftest import ADMIN_ID
from tests.helpers import bot_in_sandbox

POSTGRES = os.environ.get("CRM_BOT_TEST_DATABASE_URL")


@pytest.fixture(params=["sqlite", "postgres"])
async def sql_store(request: Any, tmp_path: Path) -> AsyncIterator[SQLStore]:
    if request.param == "postgres":
        if not POSTGRES:
            pytest.skip("set CRM_BOT_TEST_DATABASE_URL to run the bot on PostgreSQL")
        store = SQLStore(POSTGRES, prefix=f"t{uuid.uuid4().hex[:8]}_")
    else:
        store = SQLStore(f"sqlite:///{tmp_path / 'crm.sqlite3'}")
    yield store
    if request.param == "postgres":
        await store.open()
        await store.drop_tables()
        await store.close()


async def test_add_customer_and_restart_on_sql(sql_store: SQLStore, sandbox: Any, config: Any, clock: Any) -> None:
    config = dataclasses.replace(
        config,
        telegram=dataclasses.replace(config.telegram, api_base_url=sandbox.base_url,
                                     file_base_url=sandbox.file_base_url),
    )
    admin = sandbox.user(ADMIN_ID, first_name="Ada", language_code="en")
    async with bot_in_sandbox(sandbox, config, clock=clock, store=sql_store,
                              auto_tick=False) as app:
        await admin.send("/add Zhang Wei 13800138000 Acme")
        replies = await admin.press("✅ Save")
        assert "Zhang Wei · Acme" in replies[-1].text
        await admin.send("/add Li Na")  # a half-finished wizard survives the restart
        assert app.bot_data[SERVICES_KEY].store is sql_store
    async with bot_in_sandbox(sandbox, config, clock=clock, store=sql_store,
                              auto_tick=False):
        replies = await admin.press("✅ Save")
        assert "Li Na" in replies[-1].text
        replies = await admin.send("/find zhang")
        # an admin's results name each customer's owner (13.21)
        assert replies[-1].reply_markup["inline_keyboard"][0][0]["text"] == "Zhang Wei · Acme · 👤 Ada"
