"""/backup end to end: an admin gets the whole data set in their private chat; others are told
it is for admins (issue 16, points 2-4)."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from bot.app import SCHEDULER_KEY
from bot.config import BackupConfig, Config
from bot.domain.models import Customer
from handlers.common import SERVICES_KEY
from storage import SCHEMA
from storage.archive import read_archive
from tests.conftest import ADMIN_ID
from tests.handlers.test_access_matrix import MANAGER_A, REP_A, reset
from tests.handlers.test_refusals import FOR_ADMINS, speaking, texts
from tests.helpers import SHANGHAI

SENT = {"en": "Everything:", "zh": "全部数据"}


@pytest.fixture
def config(config: Config, tmp_path: Path) -> Config:
    """The bot of these tests takes its daily backup into ``tmp_path / "backups"``."""
    return dataclasses.replace(config, backup=BackupConfig(directory=str(tmp_path / "backups"), hour=3))


async def test_the_running_bot_takes_its_daily_backup_on_its_scheduler(bot: Any, clock: Any, tmp_path: Path) -> None:
    await reset(bot)
    scheduler = bot.bot_data[SCHEDULER_KEY]
    assert "backup" in scheduler.tasks
    local = clock.now().astimezone(SHANGHAI)
    clock.set(local.replace(hour=4, minute=30) + timedelta(days=1))  # past 03:00 local
    await scheduler.tick()
    (backup,) = (tmp_path / "backups").iterdir()
    archive = await asyncio.to_thread(read_archive, backup)
    assert archive.manifest.counts["customers"] == await bot.bot_data[SERVICES_KEY].store.customers.count()
    await scheduler.tick()  # the same day again: nothing new
    assert len(list((tmp_path / "backups").iterdir())) == 1


@pytest.mark.parametrize("language", ["en", "zh"])
async def test_an_admin_gets_everything_as_an_archive(bot: Any, sandbox: Any, language: str) -> None:
    await reset(bot)
    svc = bot.bot_data[SERVICES_KEY]
    store = svc.store
    await store.customers.insert(Customer(id="formula", name="=HYPERLINK(\"x\")", owner_id=str(REP_A),
                                          notes="+1 call back", phones=["+8613800138000"]))
    admin = await speaking(bot, sandbox, ADMIN_ID, language)
    replies = await admin.send("/backup")
    document = admin.last_message()
    assert SENT[language] in texts(replies)
    data, name = sandbox.file_content_for(document)
    assert name.startswith("crm-bot-export-") and name.endswith(".zip")
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        customers = [json.loads(line) for line in zf.read("collections/customers.jsonl").splitlines()]
        book = load_workbook(io.BytesIO(zf.read("workbook.xlsx")), read_only=True)
    assert set(manifest["collections"]) == set(SCHEMA)
    assert manifest["collections"]["customers"]["count"] == await store.customers.count()
    assert {c["id"] for c in customers} >= {"cust0", "cust1", "cust2", "formula"}
    assert set(book.sheetnames) == set(SCHEMA)
    rows = list(book["customers"].iter_rows(values_only=True))
    header, formula = rows[0], next(r for r in rows if "formula" in r)
    assert formula[header.index("name")] == "'=HYPERLINK(\"x\")"  # shown as text, never evaluated
    assert formula[header.index("notes")] == "'+1 call back"
    events = await store.audit.find({"action": "export", "entity_type": "archive"})
    assert events and events[-1].actor_id == str(ADMIN_ID)
    await store.customers.delete("formula")


@pytest.mark.parametrize("language", ["en", "zh"])
async def test_managers_and_reps_are_told_backup_is_for_admins(bot: Any, sandbox: Any, language: str) -> None:
    await reset(bot)
    store = bot.bot_data[SERVICES_KEY].store
    before = await store.audit.count({"action": "export"})
    for who in (MANAGER_A, REP_A):
        user = await speaking(bot, sandbox, who, language)
        replies = await user.send("/backup")
        assert FOR_ADMINS[language] in texts(replies)
        assert all(m.document is None for m in replies)
    assert await store.audit.count({"action": "export"}) == before
