"""Customer feedback end to end: recording, the complaint alert, the life cycle, editing, access."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bot.domain.models import (
    FeedbackKind,
    FeedbackStatus,
    ReminderKind,
    ReminderStatus,
    Role,
    Severity,
)
from handlers.feedback import DRAFT
from tests.conftest import START
from tests.handlers.test_interactions import (
    MANAGER_EAST,
    MANAGER_WEST,
    NOT_AVAILABLE,
    REP_EN,
    REP_WEST,
    REP_ZH,
    customer,
    last_with,
    open_card,
    said,
    staff,
    svc,
    utc,
)
from tests.helpers import shown_at

MANAGER_EAST_2, ADMIN_ID = 733, 501


@pytest.fixture
async def people(bot: Any, sandbox: Any, admin: Any) -> dict[str, Any]:
    await staff(bot, REP_EN, "Wang Fang")
    await staff(bot, REP_ZH, "李娜", language="zh")
    await staff(bot, REP_WEST, "Rob", teams=("west",))
    await staff(bot, MANAGER_EAST, "Mia", role=Role.MANAGER)
    await staff(bot, MANAGER_EAST_2, "陈经理", role=Role.MANAGER, teams=("north", "east"), language="zh")
    await staff(bot, MANAGER_WEST, "Max", role=Role.MANAGER, teams=("west",))
    return {
        "rep": sandbox.user(REP_EN, first_name="Wang", language_code="en"),
        "rep_zh": sandbox.user(REP_ZH, first_name="李娜", language_code="zh-hans"),
        "rep_west": sandbox.user(REP_WEST, first_name="Rob", language_code="en"),
        "manager": sandbox.user(MANAGER_EAST, first_name="Mia", language_code="en"),
        "manager_zh": sandbox.user(MANAGER_EAST_2, first_name="陈", language_code="zh-hans"),
        "manager_west": sandbox.user(MANAGER_WEST, first_name="Max", language_code="en"),
        "admin": admin,
    }


async def feedback_of(bot: Any, customer_id: str) -> list[Any]:
    return await svc(bot).store.feedback.find({"customer_id": customer_id}, order_by="created_at")


async def record_complaint(rep: Any, content: str = "The delivery was a week late") -> list[Any]:
    await rep.press("💬 Feedback")
    await rep.press("complaint")
    await rep.press("high")
    await rep.send(content)
    await rep.press("2")
    await rep.press("Skip")
    return await rep.press("✅ Save")


async def test_complaint_alerts_the_teams_managers_at_once(people: dict[str, Any], bot: Any, sandbox: Any) -> None:
    rep = people["rep"]
    zhang = await customer(bot, "Zhang Wei", REP_EN, company="Acme")
    await open_card(rep, zhang)
    replies = await rep.press("💬 Feedback")
    said(replies, "What kind of feedback?")
    await rep.press("complaint")
    replies = await rep.press("high")
    said(replies, "What did the customer say?")
    await rep.send("The delivery was a week late <again>")
    replies = await rep.press("2")
    said(replies, "recommend us (NPS)")
    replies = await rep.press("Skip")
    confirm = said(replies, "Save this feedback?")
    assert "complaint · severity high" in confirm.text and "CSAT: 2/5 · NPS: —" in confirm.text
    assert f"Respond by: {shown_at(2026, 3, 3, 9, weekday=True)} (default for this severity)" in confirm.text  # 24 h
    assert "managers are alerted" in confirm.text
    replies = await rep.press("✅ Save")
    view = said(replies, "Status: 🔴 open")
    [item] = await feedback_of(bot, zhang.id)
    assert (item.kind, item.severity, item.csat, item.nps) == (FeedbackKind.COMPLAINT, Severity.HIGH, 2, None)
    assert item.due_at == START + timedelta(hours=24) and item.owner_id == str(REP_EN)
    assert "▶️ In progress" in [label for row in view.button_labels() for label in row]

    await sandbox.wait_idle()
    alert = last_with(people["manager"], "Complaint")
    assert "Zhang Wei · Acme" in alert.text and "a week late <again>" in alert.text
    assert "Recorded by Wang Fang" in alert.text
    assert alert.button_labels() == [["🔎 Open"]]
    alert_zh = last_with(people["manager_zh"], "客户投诉")
    assert "（高）" in alert_zh.text
    assert not [m for m in people["manager_west"].bot_messages() if "Zhang Wei" in (m.text or "")]
    reminders = await svc(bot).store.reminders.find({"kind": ReminderKind.COMPLAINT_ALERT.value})
    assert sorted(r.dedupe_key for r in reminders) == sorted(
        f"complaint:{item.id}:{m}" for m in (MANAGER_EAST, MANAGER_EAST_2))
    assert all(r.status is ReminderStatus.SENT and r.sent_at == START for r in reminders)
    assert all(r.payload["feedback_id"] == item.id and r.payload["severity"] == "high" for r in reminders)
    # The manager opens it from the alert.
    replies = await people["manager"].press("🔎 Open")
    said(replies, "The delivery was a week late")
    # Nothing is sent twice: the scheduler finds no pending alert.
    count = len([m for m in people["manager"].bot_messages() if "Zhang Wei" in (m.text or "")])
    await bot.bot_data["scheduler"].tick()
    await sandbox.wait_idle()
    assert len([m for m in people["manager"].bot_messages()
                if "Zhang Wei" in (m.text or "") and "Complaint" in (m.text or "")]) == 1
    assert count >= 1


async def test_a_failed_immediate_alert_stays_pending_for_the_scheduler(people: dict[str, Any], bot: Any,
                                                                      sandbox: Any) -> None:
    rep = people["rep"]
    people["manager"].block()
    zhang = await customer(bot, "Zhang Wei", REP_EN)
    await open_card(rep, zhang)
    await record_complaint(rep)
    [item] = await feedback_of(bot, zhang.id)
    blocked = await svc(bot).store.reminders.get_by("dedupe_key", f"complaint:{item.id}:{MANAGER_EAST}")
    reached = await svc(bot).store.reminders.get_by("dedupe_key", f"complaint:{item.id}:{MANAGER_EAST_2}")
    assert reached.status is ReminderStatus.SENT
    # Not sent, still pending: the scheduler retries it (it may already have tried once).
    assert blocked.status is ReminderStatus.PENDING and blocked.sent_at is None
    assert "blocked" in blocked.last_error


async def test_the_full_life_cycle(people: dict[str, Any], bot: Any, clock: Any) -> None:
    rep = people["rep"]
    zhang = await customer(bot, "Zhang Wei", REP_EN)
    await open_card(rep, zhang)
    await record_complaint(rep)
    [item] = await feedback_of(bot, zhang.id)
    clock.advance(timedelta(hours=2))
    replies = await rep.press("▶️ In progress")
    said(replies, "Status: 🟡 in progress")
    clock.advance(timedelta(hours=3, minutes=30))
    replies = await rep.press("✅ Resolved…")
    said(replies, "How was it resolved?")
    replies = await rep.send("Replaced the parts, 10% discount on the next order")
    view = said(replies, "Status: 🟢 resolved")
    assert f"Resolved: {shown_at(2026, 3, 2, 14, 30)} (5.5 h after it was recorded): Replaced the parts" in view.text
    stored = await svc(bot).store.feedback.get(item.id)
    assert stored.resolved_at == START + timedelta(hours=5, minutes=30)
    assert (stored.resolved_at - stored.created_at) == timedelta(hours=5, minutes=30)
    replies = await rep.press("🤝 Customer confirmed")
    view = said(replies, "confirmed by the customer")
    assert (await svc(bot).store.feedback.get(item.id)).confirmed_at == clock.now()
    replies = await rep.press("↩️ Reopen")
    said(replies, "Status: 🔴 open")
    reopened = await svc(bot).store.feedback.get(item.id)
    assert reopened.status is FeedbackStatus.OPEN and reopened.resolved_at is None and reopened.confirmed_at is None
    events = await svc(bot).store.audit.find({"entity_id": item.id}, order_by="at")
    assert [e.action for e in events] == ["create", "status", "status", "status", "status"]
    assert events[2].note == "resolution time 5.5 h"
    assert events[2].changes["status"] == ["in_progress", "resolved"]


async def test_feedback_in_chinese_with_ratings_and_a_typed_due_date(people: dict[str, Any], bot: Any,
                                                                    sandbox: Any) -> None:
    rep = people["rep_zh"]
    zhang = await customer(bot, "张伟", REP_ZH)
    await open_card(rep, zhang)
    replies = await rep.press("💬 客户反馈")
    said(replies, "反馈类型？")
    await rep.press("建议")
    await rep.press("低")
    await rep.send("希望增加月度对账单")
    replies = await rep.send("六")
    said(replies, "请点选下方按钮之一")
    await rep.press("5")
    replies = await rep.press("9")
    confirm = said(replies, "保存这条反馈？")
    assert "CSAT：5/5 · NPS：9/10" in confirm.text and "（该严重程度的默认期限）" in confirm.text
    replies = await rep.press("📅 期限")
    said(replies, "最迟何时答复？")
    replies = await rep.send("下周二下午三点")
    confirm = said(replies, "保存这条反馈？")
    assert "默认期限" not in confirm.text
    await rep.press("✅ 保存")
    [item] = await feedback_of(bot, zhang.id)
    assert item.kind is FeedbackKind.SUGGESTION and item.severity is Severity.LOW
    assert (item.csat, item.nps) == (5, 9) and item.due_at == utc(2026, 3, 10, 7, 0)
    assert not await svc(bot).store.reminders.find({"kind": ReminderKind.COMPLAINT_ALERT.value})
    assert bot.user_data[REP_ZH].get(DRAFT) is None


async def test_feedback_list_by_role_oldest_first(people: dict[str, Any], bot: Any, clock: Any) -> None:
    rep, west = people["rep"], people["rep_west"]
    first = await customer(bot, "First Customer", REP_EN)
    second = await customer(bot, "Second Customer", REP_EN)
    secret = await customer(bot, "Secret Client", REP_WEST, team="west")
    feedback = svc(bot).feedback
    me = await svc(bot).staff.get(REP_EN)
    rob = await svc(bot).staff.get(REP_WEST)
    await feedback.record(me, second.id, kind=FeedbackKind.QUESTION, severity=Severity.LOW, content="Q1")
    clock.advance(timedelta(hours=1))
    await feedback.record(me, first.id, kind=FeedbackKind.PRAISE, severity=Severity.LOW, content="P1")
    await feedback.record(rob, secret.id, kind=FeedbackKind.SUGGESTION, severity=Severity.MEDIUM, content="S1")
    done, _alerts = await feedback.record(me, first.id, kind=FeedbackKind.QUESTION, severity=Severity.LOW,
                                          content="answered")
    await feedback.set_status(me, done.id, FeedbackStatus.RESOLVED, resolution="told them")
    await feedback.set_status(me, done.id, FeedbackStatus.CONFIRMED)
    clock.advance(timedelta(days=8))  # past the low-severity due dates (168 h)
    replies = await rep.send("/feedback")
    listing = said(replies, "Open feedback")
    assert "Open feedback: 2, oldest first" in listing.text
    assert [label for row in listing.button_labels() for label in row] == [
        "🔴 Second Customer · question", "🔴 First Customer · praise"]
    assert listing.text.count("⏰") == 2
    replies = await people["manager"].send("/feedback")
    assert "Open feedback: 2" in said(replies, "Open feedback").text
    replies = await people["manager_west"].send("/feedback")
    assert [label for row in said(replies, "Open feedback").button_labels() for label in row] == [
        "🔴 Secret Client · suggestion"]
    replies = await people["admin"].send("/feedback")
    assert "Open feedback: 3" in said(replies, "Open feedback").text
    replies = await west.send("/feedback")
    assert "Open feedback: 1" in said(replies, "Open feedback").text
    replies = await rep.press("🔴 First Customer · praise")
    said(replies, "P1")


async def test_edit_and_delete_permissions(people: dict[str, Any], bot: Any, clock: Any) -> None:
    rep, manager, other = people["rep"], people["manager"], people["manager_west"]
    zhang = await customer(bot, "Zhang Wei", REP_EN)
    await open_card(rep, zhang)
    await rep.press("💬 Feedback")
    await rep.press("suggestion")
    await rep.press("medium")
    await rep.send("Add a monthly statment")
    await rep.press("Skip")
    await rep.press("Skip")
    replies = await rep.press("✅ Save")
    [item] = await feedback_of(bot, zhang.id)
    view = said(replies, "Add a monthly statment")
    assert ["✏️ Edit", "🗑 Delete"] in view.button_labels()
    clock.advance(timedelta(hours=20))
    await rep.press("✏️ Edit")
    await rep.press("Content")
    replies = await rep.send("Add a monthly statement")
    said(replies, "Save the changes to this feedback?")
    await rep.press("✅ Save")
    edited = await svc(bot).store.feedback.get(item.id)
    assert edited.content == "Add a monthly statement" and edited.due_at == item.due_at

    clock.advance(timedelta(hours=5))  # 25 h: the rep's window is over
    await rep.send("/start")
    anchor = rep.last_message().message_id
    replies = await rep.press_forged(anchor, f"fb:view:{item.id}")
    assert ["✏️ Edit", "🗑 Delete"] not in said(replies, "monthly statement").button_labels()
    for data in (f"fb:edit:{item.id}", f"fb:del:{item.id}", f"fb:del_ok:{item.id}"):
        await rep.press_forged(anchor, data)
        assert rep.callback_answers[-1]["text"] == NOT_AVAILABLE, data
    # ... but the workflow goes on: the rep still moves it along.
    await rep.press_forged(anchor, f"fb:status:{item.id}:in_progress")
    assert (await svc(bot).store.feedback.get(item.id)).status is FeedbackStatus.IN_PROGRESS

    await other.send("/start")
    for data in (f"fb:view:{item.id}", f"fb:edit:{item.id}", f"fb:del_ok:{item.id}",
                 f"fb:status:{item.id}:open"):
        await other.press_forged(other.last_message().message_id, data)
        assert other.callback_answers[-1]["text"] == NOT_AVAILABLE, data
    await manager.send("/start")
    await manager.press_forged(manager.last_message().message_id, f"fb:view:{item.id}")
    await manager.press("🗑 Delete")
    await manager.press("Yes, delete it")
    deleted = await svc(bot).store.feedback.get(item.id)
    assert deleted.deleted and deleted.status is FeedbackStatus.IN_PROGRESS
    events = await svc(bot).store.audit.find({"entity_id": item.id}, order_by="at")
    assert [e.action for e in events] == ["create", "update", "status", "delete"]
    replies = await rep.send("/feedback")
    assert "Nothing open" in said(replies, "Open feedback").text


async def test_forged_feedback_buttons_change_nothing(people: dict[str, Any], bot: Any) -> None:
    rep = people["rep"]
    secret = await customer(bot, "Secret Client", REP_WEST, team="west")
    mine = await customer(bot, "Zhang Wei", REP_EN)
    rob = await svc(bot).staff.get(REP_WEST)
    me = await svc(bot).staff.get(REP_EN)
    theirs, _alerts = await svc(bot).feedback.record(rob, secret.id, kind=FeedbackKind.COMPLAINT,
                                                     severity=Severity.LOW, content="theirs")
    own, _alerts = await svc(bot).feedback.record(me, mine.id, kind=FeedbackKind.QUESTION,
                                                  severity=Severity.LOW, content="mine")
    await rep.send("/start")
    anchor = rep.last_message().message_id
    for data in (f"fb:start:{secret.id}", f"fb:view:{theirs.id}", f"fb:status:{theirs.id}:in_progress",
                 f"fb:resolve:{theirs.id}", f"fb:edit:{theirs.id}", f"fb:del:{theirs.id}",
                 f"fb:del_ok:{theirs.id}", f"fb:status:{own.id}:confirmed", f"fb:status:{own.id}:resolved",
                 f"fb:status:{own.id}:closed", "fb:kind:rant", "fb:csat:9", "fb:save"):
        await rep.press_forged(anchor, data)
        assert rep.callback_answers[-1]["text"] == NOT_AVAILABLE, data
    assert (await svc(bot).store.feedback.get(theirs.id)).status is FeedbackStatus.OPEN
    assert (await svc(bot).store.feedback.get(own.id)).status is FeedbackStatus.OPEN
    assert not (await svc(bot).store.feedback.get(theirs.id)).deleted
    assert await svc(bot).store.feedback.count() == 2


async def test_the_due_date_changed_with_a_button_on_the_card(people: dict[str, Any], bot: Any) -> None:
    rep = people["rep"]
    zhang = await customer(bot, "Zhang Wei", REP_EN)
    await open_card(rep, zhang)
    await rep.press("💬 Feedback")
    await rep.press("question")
    await rep.press("low")
    await rep.send("Do you ship to Hangzhou?")
    await rep.press("Skip")
    await rep.press("Skip")
    said(await rep.press("📅 Due"), "Respond by when?")
    await rep.press("Tomorrow")
    await rep.press("✅ Save")
    [item] = await feedback_of(bot, zhang.id)
    local = item.due_at.astimezone(svc(bot).config.tz)
    assert local.date() == (item.created_at.astimezone(svc(bot).config.tz) + timedelta(days=1)).date()
