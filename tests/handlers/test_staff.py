"""Staff management through the bot, and the audit events every mutation writes."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import pytest

from bot import labels
from bot.domain.models import Reminder, ReminderKind, ReminderStatus, Role
from bot.i18n import gettext_for
from handlers.common import SERVICES_KEY
from handlers.invitations import team_token
from tests.conftest import ADMIN_ID
from tests.handlers.test_access_matrix import GONE, MANAGER_A, REP_A, REP_B, REP_C, reset
from tests.handlers.test_invitations import invite
from tests.helpers import SHANGHAI


async def audit_actions(bot: Any) -> list[tuple[str, str, str, dict]]:
    events = await bot.bot_data[SERVICES_KEY].store.audit.find(order_by="at")
    return [(e.actor_id, e.action, e.entity_type, e.changes) for e in events]


async def test_every_mutation_writes_an_audit_event(admin: Any, sandbox: Any, bot: Any) -> None:
    await reset(bot)
    svc = bot.bot_data[SERVICES_KEY]
    store = svc.store
    start = len(await store.audit.find())

    await admin.send("/language")
    await admin.press("中文")
    await admin.press_forged(admin.last_message().message_id, "lang:set:en")
    code = await invite(admin, team="east")
    newcomer = sandbox.user(890, first_name="Neo", language_code="en")
    await newcomer.send(f"/start {code}")
    code2 = await invite(admin, team="east")
    await admin.send("/invitations")
    await admin.press(f"Revoke {code2[:6]}…")

    anchor = admin.last_message().message_id
    await admin.press_forged(anchor, f"staff:setrole:{REP_A}:manager")
    await admin.press_forged(anchor, f"staff:setteam:{REP_B}:{team_token('east')}")
    await admin.press_forged(anchor, f"staff:deact_ok:{REP_C}")
    await admin.press_forged(anchor, f"staff:react:{GONE}")
    await admin.press_forged(anchor, f"staff:move_ok:{REP_A}:{REP_B}")
    await admin.send("/audit")

    events = (await audit_actions(bot))[start:]
    admin_id = str(ADMIN_ID)
    expected = [
        (admin_id, "update", "staff", {"language": ["en", "zh"]}),
        (admin_id, "update", "staff", {"language": ["zh", "en"]}),
        (admin_id, "create", "invitation"),
        (admin_id, "create", "staff", {"role": [None, "rep"], "teams": [None, ["east"]]}),
        (admin_id, "create", "invitation"),
        (admin_id, "revoke", "invitation", {"revoked": [False, True]}),
        (admin_id, "role_change", "staff", {"role": ["rep", "manager"]}),
        (admin_id, "update", "staff", {"teams": [["west"], ["east"]]}),
        (admin_id, "deactivate", "staff", {"active": [True, False]}),
        (admin_id, "reactivate", "staff", {"active": [False, True]}),
        (admin_id, "reassign", "customer"),
        (admin_id, "reassign", "customer"),
        (admin_id, "export", "audit"),
    ]
    assert len(events) == len(expected), events
    for event, want in zip(events, expected, strict=True):
        assert event[:3] == want[:3], (event, want)
        if len(want) == 4:
            assert event[3] == want[3], (event, want)
    reassigned = [e for e in events if e[1] == "reassign"]
    assert all(e[3]["owner_id"] == [str(REP_A), str(REP_B)] for e in reassigned)
    assert all("team" not in e[3] for e in reassigned)  # rep B was moved to east just before

    export = admin.last_message()
    assert export.document is not None
    data, name = sandbox.file_content_for(export)
    assert name.startswith("audit-") and name.endswith(".csv")
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert [r["Action"] for r in rows][-12:] == [
        labels.name(labels.AUDIT_ACTIONS, e[1], gettext_for("en")) for e in events[:-1]
    ][-12:]


async def test_deactivation_ends_sessions_and_reminders(admin: Any, sandbox: Any, bot: Any, clock: Any) -> None:
    await reset(bot)
    store = bot.bot_data[SERVICES_KEY].store
    manager = sandbox.user(MANAGER_A, first_name="Mia", language_code="en")
    await manager.send("/invite")  # a half-finished wizard
    wizard = manager.last_message().message_id
    reminder = await store.reminders.insert(
        Reminder(kind=ReminderKind.FOLLOW_UP, recipient_id=str(MANAGER_A),
                 due_at=clock.now() + timedelta(hours=1), dedupe_key="test:follow-up")
    )
    await admin.send("/start")
    await admin.press_forged(admin.last_message().message_id, f"staff:deact_ok:{MANAGER_A}")
    assert (await store.reminders.get(reminder.id)).status is ReminderStatus.CANCELLED
    replies = await manager.send("/staff")
    assert "deactivated" in replies[-1].text and "not registered" not in replies[-1].text
    await admin.press_forged(admin.last_message().message_id, f"staff:react:{MANAGER_A}")
    await manager.press_forged(wizard, "inv:role:rep")  # the old wizard is gone
    assert manager.callback_answers[-1]["text"] == "This is not available."
    assert (await store.staff.get(str(MANAGER_A))).role is Role.MANAGER


async def test_staff_card_flow_by_buttons(admin: Any, bot: Any) -> None:
    await reset(bot)
    await admin.send("/staff")
    await admin.press("Rita Rep · rep")
    card = admin.last_message().text
    assert "Customers: 2" in card
    await admin.press("Reassign customers")
    await admin.press("Cai Rep · rep")
    assert "Move all 2 customers of Rita Rep to Cai Rep?" in admin.last_message().text
    replies = await admin.press("Yes, move them")
    assert "2 customers moved" in replies[-1].text
    await admin.press("« Back")
    await admin.press("Change team")
    await admin.press("✏️ New team…")
    replies = await admin.send("北区 North")
    assert "北区 North" in replies[-1].text
    staff = await bot.bot_data[SERVICES_KEY].staff.get(REP_A)
    assert staff.teams == ["北区 North"]


@pytest.mark.parametrize(
    ("language", "headers", "action"),
    [
        ("en", ["Time (Asia/Shanghai)", "Staff id", "Staff name", "Action", "Record type"], "created"),
        ("zh", ["时间（Asia/Shanghai）", "员工 ID", "员工姓名", "操作", "记录类型"], "新建"),
    ],
)
async def test_the_audit_export_has_local_times_names_and_headers_in_the_readers_language(
    admin: Any, sandbox: Any, bot: Any, clock: Any, language: str, headers: list[str], action: str
) -> None:
    await reset(bot)
    if language == "zh":
        await admin.send("/language")
        await admin.press("中文")
    await admin.send("/add Zhang Wei 13800138000 Acme")
    await admin.press("✅ Save" if language == "en" else "✅ 保存")
    await admin.send("/audit")
    data, _name = sandbox.file_content_for(admin.last_message())
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0][:5] == headers
    created = [r for r in rows[1:] if r[3] == action and r[4] in ("customer", "客户")][-1]
    admin_user = await bot.bot_data[SERVICES_KEY].store.staff.get(str(ADMIN_ID))
    assert created[1:3] == [str(ADMIN_ID), admin_user.name]
    local = clock.now().astimezone(SHANGHAI).strftime("%Y-%m-%d %H:")
    assert created[0].startswith(local), created
