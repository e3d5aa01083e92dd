"""/backup end to end: an admin gets the whole data set in their private chat; others are told
it is for admins (issue 16, points 2-4)."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import pytest
from openpyxl import load_workbook

from bot.domain.models import Customer
from handlers.common import SERVICES_KEY
from storage import SCHEMA
from tests.conftest import ADMIN_ID
from tests.handlers.test_access_matrix import MANAGER_A, REP_A, reset
from tests.handlers.test_refusals import FOR_ADMINS, speaking, texts

SENT = {"en": "Everything:", "zh": "全部数据"}


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
