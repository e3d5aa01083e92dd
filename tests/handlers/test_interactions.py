"""Logging calls and visits end to end: the wizard, quick log, follow-ups, editing, deleting, access."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from telegram import Update

from bot.domain import churn
from bot.domain.models import (
    Customer,
    Direction,
    InteractionKind,
    Outcome,
    ReminderStatus,
    Role,
    StaffUser,
)
from handlers.common import SERVICES_KEY
from handlers.interactions import DRAFT, start_log_for
from tests.conftest import START
from tests.helpers import add_command, shown_at

REP_EN, REP_ZH, REP_LONDON, REP_WEST, MANAGER_EAST, MANAGER_WEST = 721, 722, 723, 724, 731, 732
NOT_AVAILABLE = "This is not available."


def svc(bot: Any) -> Any:
    return bot.bot_data[SERVICES_KEY]


def said(replies: list[Any], needle: str) -> Any:
    """The reply containing ``needle`` (scheduler messages may arrive in between)."""
    for message in reversed(replies):
        if needle in (message.text or ""):
            return message
    raise AssertionError(f"{needle!r} not in {[m.text for m in replies]}")


def last_with(user: Any, needle: str) -> Any:
    return said(user.bot_messages(), needle)


async def staff(bot: Any, uid: int, name: str, *, role: Role = Role.REP, teams: tuple[str, ...] = ("east",),
                language: str = "en", timezone: str = "Asia/Shanghai") -> None:
    now = svc(bot).clock.now()
    await svc(bot).store.staff.insert(StaffUser(
        id=str(uid), telegram_id=uid, name=name, role=role, teams=list(teams), language=language,
        timezone=timezone, created_at=now, updated_at=now))


async def customer(bot: Any, name: str, owner: int, *, team: str = "east", company: str | None = None,
                   age_days: int = 5, **fields: Any) -> Customer:
    now = svc(bot).clock.now()
    return await svc(bot).store.customers.insert(Customer(
        name=name, owner_id=str(owner), team=team, company=company,
        created_at=now - timedelta(days=age_days), updated_at=now, **fields))


@pytest.fixture
async def people(bot: Any, sandbox: Any) -> dict[str, Any]:
    await staff(bot, REP_EN, "Wang Fang")
    await staff(bot, REP_ZH, "李娜", language="zh")
    await staff(bot, REP_LONDON, "Lucy", timezone="Europe/London")
    await staff(bot, REP_WEST, "Rob", teams=("west",))
    await staff(bot, MANAGER_EAST, "Mia", role=Role.MANAGER)
    await staff(bot, MANAGER_WEST, "Max", role=Role.MANAGER, teams=("west",))
    return {
        "rep": sandbox.user(REP_EN, first_name="Wang", language_code="en"),
        "rep_zh": sandbox.user(REP_ZH, first_name="李娜", language_code="zh-hans"),
        "rep_london": sandbox.user(REP_LONDON, first_name="Lucy", language_code="en"),
        "rep_west": sandbox.user(REP_WEST, first_name="Rob", language_code="en"),
        "manager": sandbox.user(MANAGER_EAST, first_name="Mia", language_code="en"),
        "manager_west": sandbox.user(MANAGER_WEST, first_name="Max", language_code="en"),
    }


async def open_card(user: Any, customer: Customer) -> list[Any]:
    await user.send("/start")
    return await user.press_forged(user.last_message().message_id, f"cust:view:{customer.id}")


async def interactions_of(bot: Any, customer: Customer) -> list[Any]:
    return await svc(bot).store.interactions.find({"customer_id": customer.id}, order_by="occurred_at")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# ---- the wizard ----------------------------------------------------------------------------
async def test_log_a_visit_from_the_card_in_english(people: dict[str, Any], bot: Any, clock: Any) -> None:
    rep = people["rep"]
    zhang = await customer(bot, "Zhang Wei", REP_EN, company="Acme")
    replies = await open_card(rep, zhang)
    said(replies, "Zhang Wei · Acme")
    replies = await rep.press("📞 Log a call")
    said(replies, "What kind of contact?")
    replies = await rep.send("something odd")
    said(replies, "Please choose one of the buttons.")
    replies = await rep.press("visit")
    said(replies, "How did it go?")
    replies = await rep.press("interested")
    said(replies, "What was said?")
    replies = await rep.send("Walked the factory floor; <b>wants</b> 200 units")
    said(replies, "Next follow-up?")
    replies = await rep.send("sometime maybe")
    said(replies, "could not read a time")
    replies = await rep.send("next Tue 3pm")
    confirm = said(replies, "Save this contact?")
    assert "Kind: visit\n" in confirm.text and "Outcome: interested" in confirm.text
    assert "<b>wants</b> 200 units" in confirm.text
    assert f"Next follow-up: {shown_at(2026, 3, 3, 15, weekday=True)}" in confirm.text
    replies = await rep.press("✅ Save")
    card = said(replies, "Zhang Wei · Acme")
    assert f"Next follow-up: {shown_at(2026, 3, 3, 15)}" in card.text

    [logged] = await interactions_of(bot, zhang)
    assert (logged.kind, logged.direction, logged.outcome) == (InteractionKind.VISIT, Direction.OUTBOUND,
                                                              Outcome.INTERESTED)
    assert logged.occurred_at == START and logged.owner_id == str(REP_EN)
    assert logged.next_follow_up_at == utc(2026, 3, 3, 7, 0)  # 15:00 Shanghai
    saved = await svc(bot).store.customers.get(zhang.id)
    assert saved.last_contact_at == START and saved.next_follow_up_at == utc(2026, 3, 3, 7, 0)
    reminder = await svc(bot).store.reminders.get_by("dedupe_key", f"follow_up:{zhang.id}")
    assert reminder.status is ReminderStatus.PENDING and reminder.due_at == utc(2026, 3, 3, 7, 0)
    events = await svc(bot).store.audit.find({"entity_id": logged.id})
    assert [e.action for e in events] == ["create"]
    customer_events = await svc(bot).store.audit.find({"entity_id": zhang.id})
    assert [e.action for e in customer_events] == ["log_interaction"]
    assert bot.user_data[REP_EN].get(DRAFT) is None


async def test_log_in_chinese_with_a_voice_note_and_no_answer(people: dict[str, Any], bot: Any,
                                                             sandbox: Any) -> None:
    rep = people["rep_zh"]
    zhang = await customer(bot, "张伟", REP_ZH)
    await open_card(rep, zhang)
    replies = await rep.press("📞 记录通话")
    said(replies, "联系方式？")
    await rep.press("电话")
    replies = await rep.press("未接通")
    said(replies, "聊了什么？")
    replies = await send_voice(rep, sandbox)
    said(replies, "下次跟进时间？")
    replies = await rep.send("下周二下午三点")
    confirm = said(replies, "保存这次联系记录？")
    assert "记录：🎤 语音留言" in confirm.text and "结果：未接通" in confirm.text
    await rep.press("✅ 保存")
    [logged] = await interactions_of(bot, zhang)
    voice = [m for m in rep.messages() if m.voice is not None][-1].voice
    assert logged.summary == "语音留言" and logged.voice_file_id == voice.file_id
    assert logged.next_follow_up_at == utc(2026, 3, 10, 7, 0)  # 下周二 15:00 Shanghai
    saved = await svc(bot).store.customers.get(zhang.id)
    # No answer is an attempt, not a contact: last_contact_at stays empty.
    assert saved.last_contact_at is None and saved.next_follow_up_at == utc(2026, 3, 10, 7, 0)


async def send_voice(user: Any, sandbox: Any) -> list[Any]:
    return await user.send_voice(b"OggS\x00fake opus", duration=7)


async def test_follow_up_buttons_use_the_reps_time_zone(people: dict[str, Any], bot: Any) -> None:
    rep = people["rep_london"]
    anna = await customer(bot, "Anna Smith", REP_LONDON)
    await open_card(rep, anna)
    await rep.press("📞 Log a call")
    await rep.press("call")
    await rep.press("reached")
    await rep.send("/skip")
    replies = await rep.press("Tomorrow")
    said(replies, f"Next follow-up: {shown_at(2026, 3, 3, 9, weekday=True)}")
    await rep.press("✅ Save")
    saved = await svc(bot).store.customers.get(anna.id)
    assert saved.next_follow_up_at == utc(2026, 3, 3, 9, 0)  # 09:00 in London = 09:00 UTC
    # free text in London: "next Tue 3pm" is 15:00 London time
    await open_card(rep, anna)
    await rep.press("📞 Log a call")
    await rep.press("email")
    await rep.press("quote sent")
    await rep.send("Sent the price list")
    await rep.send("next Tue 3pm")
    await rep.press("✅ Save")
    saved = await svc(bot).store.customers.get(anna.id)
    assert saved.next_follow_up_at == utc(2026, 3, 3, 15, 0)


async def test_back_and_field_buttons_keep_what_was_entered(people: dict[str, Any], bot: Any) -> None:
    rep = people["rep"]
    zhang = await customer(bot, "Zhang Wei", REP_EN)
    await open_card(rep, zhang)
    await rep.press("📞 Log a call")
    await rep.press("meeting")
    await rep.press("deal won")
    replies = await rep.press("« Back")
    said(replies, "How did it go?")
    await rep.press("deal lost")
    await rep.send("Price too high")
    replies = await rep.press("In 3 days")
    confirm = said(replies, "Save this contact?")
    assert "Outcome: deal lost" in confirm.text and "Price too high" in confirm.text
    await rep.press("Summary")
    replies = await rep.send("Price too high; competitor 10% cheaper")
    confirm = said(replies, "Save this contact?")
    assert "competitor 10% cheaper" in confirm.text and f"{shown_at(2026, 3, 5, 9, weekday=True)}" in confirm.text
    await rep.press("Follow-up")
    replies = await rep.press("No follow-up")
    said(replies, "Next follow-up: none")
    await rep.press("✅ Save")
    [logged] = await interactions_of(bot, zhang)
    assert logged.outcome is Outcome.DEAL_LOST and logged.summary.startswith("Price too high;")
    assert logged.next_follow_up_at is None


async def test_cancel_drops_the_draft(people: dict[str, Any], bot: Any) -> None:
    rep = people["rep"]
    zhang = await customer(bot, "Zhang Wei", REP_EN)
    await open_card(rep, zhang)
    await rep.press("📞 Log a call")
    await rep.press("call")
    replies = await rep.send("/cancel")
    said(replies, "Nothing was saved")
    assert await interactions_of(bot, zhang) == []
    assert bot.user_data[REP_EN].get(DRAFT) is None


async def test_log_command_and_menu_pick_a_recent_customer_or_search(people: dict[str, Any], bot: Any) -> None:
    rep = people["rep"]
    await customer(bot, "Zhang Wei", REP_EN, company="Acme")
    li = await customer(bot, "Li Lei", REP_EN)
    await customer(bot, "Secret", REP_WEST, team="west")
    replies = await rep.send("/log")
    prompt = said(replies, "Which customer?")
    labels = [label for row in prompt.button_labels() for label in row]
    assert "Zhang Wei · Acme" in labels and "Li Lei" in labels and "Secret" not in labels
    replies = await rep.send("lilei")
    said(replies, "Which customer?")
    replies = await rep.press("Li Lei")
    said(replies, "What kind of contact?")
    await rep.send("/cancel")
    replies = await rep.press("📞 Log")
    said(replies, "Which customer?")
    replies = await rep.send("Secret")
    said(replies, "No customer of yours matches “Secret”")
    await rep.send("/cancel")
    assert await interactions_of(bot, li) == []


# ---- quick log -----------------------------------------------------------------------------
async def test_quick_log_in_english(people: dict[str, Any], bot: Any) -> None:
    rep = people["rep"]
    zhang = await customer(bot, "Zhang Wei", REP_EN, company="Acme")
    replies = await rep.send("/log Zhang Wei called, wants a quote, follow up Friday")
    confirm = said(replies, "Save this contact?")
    assert "Kind: call · ↗ outbound" in confirm.text and "Outcome: reached" in confirm.text
    assert "Summary: called, wants a quote" in confirm.text
    assert f"Next follow-up: {shown_at(2026, 3, 6, 9, weekday=True)}" in confirm.text
    assert await interactions_of(bot, zhang) == []  # nothing saved before the confirmation
    await rep.press("✅ Save")
    [logged] = await interactions_of(bot, zhang)
    assert logged.kind is InteractionKind.CALL and logged.summary == "called, wants a quote"
    assert logged.next_follow_up_at == utc(2026, 3, 6, 1, 0)  # Friday 09:00 Shanghai


async def test_quick_log_in_chinese(people: dict[str, Any], bot: Any) -> None:
    rep = people["rep_zh"]
    zhang = await customer(bot, "张伟", REP_ZH)
    replies = await rep.send("/log 张伟 拜访了工厂，要报价，下周二下午三点再联系")
    confirm = said(replies, "保存这次联系记录？")
    assert "方式：拜访" in confirm.text and "记录：拜访了工厂，要报价" in confirm.text
    await rep.press("✅ 保存")
    [logged] = await interactions_of(bot, zhang)
    assert logged.kind is InteractionKind.VISIT and logged.summary == "拜访了工厂，要报价"
    assert logged.next_follow_up_at == utc(2026, 3, 10, 7, 0)
    replies = await rep.send("/log 张伟微信聊了，跟进 周五")
    said(replies, "方式：微信")
    await rep.press("✅ 保存")
    logged = (await interactions_of(bot, zhang))[-1]
    assert logged.kind is InteractionKind.WECHAT and logged.next_follow_up_at == utc(2026, 3, 6, 1, 0)


async def test_quick_log_asks_when_ambiguous_and_says_when_nobody(people: dict[str, Any], bot: Any) -> None:
    rep = people["rep"]
    first = await customer(bot, "Zhang Wei", REP_EN, company="Acme")
    second = await customer(bot, "Zhang Wei", REP_EN, company="Globex")
    replies = await rep.send("/log Zhang Wei met at the fair")
    said(replies, "Which customer?")
    replies = await rep.press("Zhang Wei · Globex")
    confirm = said(replies, "Save this contact?")
    assert "Kind: meeting" in confirm.text and "Next follow-up: none" in confirm.text
    await rep.press("✅ Save")
    assert await interactions_of(bot, first) == [] and len(await interactions_of(bot, second)) == 1
    replies = await rep.send("/log Nobody Known called")
    said(replies, "No customer of yours matches “Nobody”")
    await rep.send("/cancel")


async def test_quick_log_without_a_kind_asks_for_it_and_keeps_a_planned_follow_up(
    people: dict[str, Any], bot: Any
) -> None:
    rep = people["rep"]
    planned = utc(2026, 3, 20, 1, 0)
    zhang = await customer(bot, "Zhang Wei", REP_EN, next_follow_up_at=planned)
    replies = await rep.send("/log zhangwei wants a discount")
    said(replies, "What kind of contact?")
    replies = await rep.press("message")
    confirm = said(replies, "Save this contact?")
    assert "(unchanged)" in confirm.text
    await rep.press("✅ Save")
    saved = await svc(bot).store.customers.get(zhang.id)
    assert saved.next_follow_up_at == planned


async def test_quick_log_with_an_unreadable_follow_up_asks_for_it(people: dict[str, Any], bot: Any) -> None:
    rep = people["rep"]
    await customer(bot, "Zhang Wei", REP_EN)
    replies = await rep.send("/log Zhang Wei called, follow up whenever")
    step = said(replies, "Next follow-up?")
    assert "could not read a time" in step.text and "1990" not in step.text
    replies = await rep.press("Next week")
    said(replies, f"Next follow-up: {shown_at(2026, 3, 9, 9, weekday=True)}")
    await rep.send("/cancel")


async def test_quick_log_an_unreadable_follow_up_gets_time_examples_zh(people: dict[str, Any], bot: Any) -> None:
    rep = people["rep_zh"]
    await customer(bot, "张伟", REP_ZH)
    replies = await rep.send("/log 张伟 打电话聊了，跟进 随便哪天")
    step = said(replies, "没能识别时间")
    assert "农历八月十五" not in step.text and "明天下午3点" in step.text
    await rep.send("/cancel")


async def test_quick_log_no_answer_words_zh(people: dict[str, Any], bot: Any) -> None:
    rep = people["rep_zh"]
    zhang = await customer(bot, "张伟", REP_ZH)
    await rep.send("/log 张伟 没打通")
    replies = await rep.press("电话")
    confirm = said(replies, "保存这次联系记录？")
    assert "未接通" in confirm.text
    await rep.press("✅ 保存")
    [logged] = await interactions_of(bot, zhang)
    assert logged.outcome is Outcome.NO_ANSWER
    assert (await svc(bot).store.customers.get(zhang.id)).last_contact_at is None


async def test_quick_log_no_answer_words_en(people: dict[str, Any], bot: Any) -> None:
    rep = people["rep"]
    zhang = await customer(bot, "Zhang Wei", REP_EN)
    replies = await rep.send("/log Zhang Wei called, didn't get through")
    assert "Outcome: no answer" in said(replies, "Save this contact?").text
    await rep.press("✅ Save")
    [logged] = await interactions_of(bot, zhang)
    assert logged.outcome is Outcome.NO_ANSWER


@pytest.mark.parametrize(("text", "when"), [
    ("called, try again tomorrow", (2026, 3, 3, 9)),
    ("called, call back Monday", (2026, 3, 9, 9)),
])
async def test_quick_log_other_follow_up_phrasings_en(people: dict[str, Any], bot: Any, text: str,
                                                      when: tuple[int, int, int, int]) -> None:
    rep = people["rep"]
    zhang = await customer(bot, "Zhang Wei", REP_EN)
    replies = await rep.send(f"/log Zhang Wei {text}")
    confirm = said(replies, "Save this contact?")
    assert f"Next follow-up: {shown_at(*when, weekday=True)}" in confirm.text and "Summary: called" in confirm.text
    await rep.press("✅ Save")
    [logged] = await interactions_of(bot, zhang)
    assert logged.summary == "called"


async def test_quick_log_follow_up_in_two_hours_zh(people: dict[str, Any], bot: Any) -> None:
    rep = people["rep_zh"]
    zhang = await customer(bot, "张伟", REP_ZH)
    replies = await rep.send("/log 张伟 打电话聊了报价，两小时后跟进")
    confirm = said(replies, "保存这次联系记录？")
    assert shown_at(2026, 3, 2, 11, language="zh", weekday=True) in confirm.text
    await rep.press("✅ 保存")
    [logged] = await interactions_of(bot, zhang)
    assert logged.summary == "打电话聊了报价" and logged.next_follow_up_at == utc(2026, 3, 2, 3, 0)


async def test_quick_log_of_another_reps_customer_finds_nothing(people: dict[str, Any], bot: Any) -> None:
    secret = await customer(bot, "Secret Client", REP_WEST, team="west")
    replies = await people["rep"].send("/log Secret Client called")
    said(replies, "No customer of yours matches")
    await people["rep"].send("/cancel")
    assert await interactions_of(bot, secret) == []


# ---- what logging changes ------------------------------------------------------------------
async def test_a_logged_contact_silences_the_no_contact_warning(people: dict[str, Any], bot: Any,
                                                              clock: Any) -> None:
    rep = people["rep"]
    quiet = await customer(bot, "Quiet Customer", REP_EN, age_days=120)

    async def assessment() -> churn.ChurnAssessment:
        store = svc(bot).store
        current = await store.customers.get(quiet.id)
        now = clock.now().astimezone(svc(bot).config.tz)
        return churn.score(current, [], await store.interactions.find({"customer_id": quiet.id}),
                           [], now)

    before = await assessment()
    assert "no_contact" in [r.code for r in before.reasons]
    await rep.send("/log Quiet Customer called, all good, follow up in 3 days")
    await rep.press("✅ Save")
    after = await assessment()
    assert "no_contact" not in [r.code for r in after.reasons]
    reminder = await svc(bot).store.reminders.get_by("dedupe_key", f"follow_up:{quiet.id}")
    assert reminder.status is ReminderStatus.PENDING and reminder.due_at == utc(2026, 3, 5, 1, 0)
    # A later contact with no follow-up cancels the pending one.
    await open_card(rep, quiet)
    await rep.press("📞 Log a call")
    await rep.press("call")
    await rep.press("reached")
    await rep.send("/skip")
    await rep.press("No follow-up")
    await rep.press("✅ Save")
    reminder = await svc(bot).store.reminders.get_by("dedupe_key", f"follow_up:{quiet.id}")
    assert reminder.status is ReminderStatus.CANCELLED
    assert (await svc(bot).store.customers.get(quiet.id)).next_follow_up_at is None


async def test_start_log_for_from_another_feature(people: dict[str, Any], bot: Any) -> None:
    """What a reminder's "done" button does: start the wizard from a handler outside it."""
    rep = people["rep"]
    zhang = await customer(bot, "Zhang Wei", REP_EN)

    async def done(update: Update, context: Any) -> None:
        await start_log_for(update, context, zhang.id)

    add_command(bot, "done", done)
    replies = await rep.send("/done")
    said(replies, "What kind of contact?")
    await rep.press("call")  # the conversation picks the draft up here
    await rep.press("reached")
    await rep.send("Confirmed the delivery date")
    await rep.press("Tomorrow")
    await rep.press("✅ Save")
    [logged] = await interactions_of(bot, zhang)
    assert logged.summary == "Confirmed the delivery date"


# ---- editing and deleting ------------------------------------------------------------------
async def log_one(rep: Any, name: str = "Zhang Wei", text: str = "called, wants a quote") -> None:
    await rep.send(f"/log {name} {text}")
    await rep.press("✅ Save")


async def test_rep_edits_within_the_window_then_no_longer(people: dict[str, Any], bot: Any, clock: Any) -> None:
    rep = people["rep"]
    zhang = await customer(bot, "Zhang Wei", REP_EN)
    await log_one(rep)
    [logged] = await interactions_of(bot, zhang)
    clock.advance(timedelta(hours=23))
    await open_card(rep, zhang)
    replies = await rep.press("🕘 History")
    said(replies, "history")
    replies = await rep.press(next(label for row in rep.last_message().button_labels() for label in row
                                   if label.startswith("🔎")))
    entry = said(replies, "Logged by Wang Fang")
    assert ["✏️ Edit", "🗑 Delete"] in entry.button_labels()
    await rep.press("✏️ Edit")
    await rep.press("Summary")
    replies = await rep.send("called, wants a quote for 300 units")
    said(replies, "Save the changes to this entry?")
    await rep.press("✅ Save")
    edited = await svc(bot).store.interactions.get(logged.id)
    assert edited.summary == "called, wants a quote for 300 units" and edited.occurred_at == logged.occurred_at
    assert [e.action for e in await svc(bot).store.audit.find({"entity_id": logged.id}, order_by="at")] == [
        "create", "update"]

    clock.advance(timedelta(hours=2))  # 25 h after logging: the window (24 h) is over
    await rep.send("/start")
    anchor = rep.last_message().message_id
    replies = await rep.press_forged(anchor, f"log:view:{logged.id}")
    entry = said(replies, "Logged by Wang Fang")
    assert "can no longer be changed by you" in entry.text and ["✏️ Edit", "🗑 Delete"] not in entry.button_labels()
    for data in (f"log:edit:{logged.id}", f"log:del:{logged.id}", f"log:del_ok:{logged.id}"):
        await rep.press_forged(anchor, data)
        assert rep.callback_answers[-1]["text"] == NOT_AVAILABLE, data
    assert not (await svc(bot).store.interactions.get(logged.id)).deleted


async def test_managers_delete_their_teams_entries_any_time(people: dict[str, Any], bot: Any, clock: Any) -> None:
    rep, manager, other = people["rep"], people["manager"], people["manager_west"]
    zhang = await customer(bot, "Zhang Wei", REP_EN)
    await log_one(rep, text="called, follow up Friday")
    [logged] = await interactions_of(bot, zhang)
    assert (await svc(bot).store.customers.get(zhang.id)).next_follow_up_at == utc(2026, 3, 6, 1, 0)
    clock.advance(timedelta(days=3))
    await other.send("/start")
    for data in (f"log:view:{logged.id}", f"log:edit:{logged.id}", f"log:del_ok:{logged.id}"):
        await other.press_forged(other.last_message().message_id, data)
        assert other.callback_answers[-1]["text"] == NOT_AVAILABLE, data
    await manager.send("/start")
    await manager.press_forged(manager.last_message().message_id, f"log:view:{logged.id}")
    await manager.press("🗑 Delete")
    replies = await manager.press("Yes, delete it")
    said(replies, "Deleted.")
    deleted = await svc(bot).store.interactions.get(logged.id)
    assert deleted.deleted
    events = await svc(bot).store.audit.find({"entity_id": logged.id}, order_by="at")
    assert [e.action for e in events] == ["create", "delete"] and events[-1].actor_id == str(MANAGER_EAST)
    # The card forgets what only the deleted entry said.
    saved = await svc(bot).store.customers.get(zhang.id)
    assert saved.last_contact_at is None and saved.next_follow_up_at is None
    reminder = await svc(bot).store.reminders.get_by("dedupe_key", f"follow_up:{zhang.id}")
    assert reminder.status is not ReminderStatus.PENDING


async def test_forged_buttons_for_another_reps_customer_change_nothing(people: dict[str, Any], bot: Any) -> None:
    rep, west = people["rep"], people["rep_west"]
    secret = await customer(bot, "Secret Client", REP_WEST, team="west")
    await log_one(west, name="Secret Client")
    [theirs] = await interactions_of(bot, secret)
    await customer(bot, "Zhang Wei", REP_EN)
    await rep.send("/log")
    anchor = rep.last_message().message_id
    for data in (f"log:start:{secret.id}", f"log:pick:{secret.id}", f"log:view:{theirs.id}",
                 f"log:edit:{theirs.id}", f"log:del:{theirs.id}", f"log:del_ok:{theirs.id}",
                 "log:kind:telepathy", "log:fu:someday", "log:field:owner"):
        await rep.press_forged(anchor, data)
        assert rep.callback_answers[-1]["text"] == NOT_AVAILABLE, data
    await rep.send("/cancel")
    assert len(await interactions_of(bot, secret)) == 1
    assert not (await svc(bot).store.interactions.get(theirs.id)).deleted
    assert await svc(bot).store.interactions.count({"owner_id": str(REP_EN)}) == 0


def buttons(message: Any) -> list[str]:
    markup = message.reply_markup
    return [b["text"] for row in (markup or {}).get("inline_keyboard", ()) for b in row]


@pytest.mark.parametrize(
    ("who", "kinds"),
    [
        ("rep", {"call": ("📞", "no answer", ["↗ outbound", "↙ inbound"], "Kind: call · ↗ outbound"),
                 "visit": ("🚶", "customer not there", [], "Kind: visit\n"),
                 "meeting": ("🤝", None, [], "Kind: meeting\n"),
                 "WeChat": ("🟢", "no reply yet", ["↗ sent", "↙ received"], "Kind: WeChat · ↗ sent")}),
        ("rep_zh", {"电话": ("📞", "未接通", ["↗ 呼出", "↙ 呼入"], "方式：电话 · ↗ 呼出"),
                    "拜访": ("🚶", "未见到客户", [], "方式：拜访\n"),
                    "会面": ("🤝", None, [], "方式：会面\n"),
                    "微信": ("🟢", "暂未回复", ["↗ 发出", "↙ 收到"], "方式：微信 · ↗ 发出")}),
    ],
)
async def test_each_kind_offers_its_own_outcomes_direction_and_icon(
    people: dict[str, Any], bot: Any, who: str, kinds: dict[str, tuple[str, str | None, list[str], str]]
) -> None:
    user = people[who]
    owner = REP_EN if who == "rep" else REP_ZH
    zhang = await customer(bot, "Zhang Wei", owner)
    en = who == "rep"
    for kind, (icon, missed, directions, confirm_line) in kinds.items():
        await open_card(user, zhang)
        await user.press("📞 Log a call" if en else "📞 记录通话")
        replies = await user.press(kind)
        outcome_screen = replies[-1]
        assert outcome_screen.text.startswith(f"{icon} "), outcome_screen.text
        offered = buttons(outcome_screen)
        assert [b.removeprefix("• ") for b in offered if "↗" in b or "↙" in b] == directions, offered
        no_answer = "no answer" if en else "未接通"
        if missed is None:
            assert no_answer not in offered and all("未" not in b and "no " not in b for b in offered), offered
        else:
            assert missed in offered, offered
            if missed != no_answer:
                assert no_answer not in offered, offered
        await user.press(offered[len(directions)])
        await user.send("/skip")
        replies = await user.press("No follow-up" if en else "不再跟进")
        confirm = replies[-1]
        assert confirm_line in confirm.text + "\n", confirm.text
        assert f"{icon} <b>Zhang Wei</b>" in (confirm.html or ""), confirm.html
        await user.send("/cancel")


@pytest.mark.parametrize(("language", "typed", "weekday"), [
    ("en", "/log Zhang Wei called, wants a quote, follow up Friday", "Fri"),
    ("zh", "/log 张伟 打过电话，要报价，周五跟进", "周五"),
])
async def test_a_confirmed_follow_up_names_its_weekday(
    people: dict[str, Any], bot: Any, language: str, typed: str, weekday: str
) -> None:
    rep, owner, name = (people["rep"], REP_EN, "Zhang Wei") if language == "en" else (people["rep_zh"], REP_ZH, "张伟")
    await customer(bot, name, owner)
    confirm = said(await rep.send(typed), "Save this contact?" if language == "en" else "保存这次联系记录？")
    friday = shown_at(2026, 3, 6, 9, language=language, weekday=True)
    assert weekday in friday and friday in confirm.text, confirm.text


# ---- a won deal's amount is offered as its purchase (issue 13, point 19) -----------------------
DEAL = {
    "en": {"user": "rep", "owner": REP_EN, "text": "/log Zhang Wei closed the deal 50k", "confirm": "Save this contact?",
           "amount": "Amount: CN¥50,000.00", "save": "✅ Save", "offer": "Deal won with", "record": "🛒 Record the purchase",
           "product_q": "What did they buy?", "product": "Tea set", "qty": "How many?", "day": "Today",
           "save_q": "Save this purchase?", "kind": "call"},
    "zh": {"user": "rep_zh", "owner": REP_ZH, "text": "/log 张伟 签单了 5万", "confirm": "保存这次联系记录？",
           "amount": "金额：¥50,000.00", "save": "✅ 保存", "offer": "已与", "record": "🛒 记录这笔购买",
           "product_q": "购买了什么产品？", "product": "茶具", "qty": "数量？", "day": "今天",
           "save_q": "保存这笔购买记录？", "kind": "电话"},
}


@pytest.mark.parametrize("language", ["en", "zh"])
async def test_quick_log_of_a_won_deal_offers_its_purchase_with_the_amount(
    people: dict[str, Any], bot: Any, language: str,
) -> None:
    words = DEAL[language]
    rep = people[words["user"]]
    zhang = await customer(bot, "Zhang Wei" if language == "en" else "张伟", words["owner"])
    await rep.send(words["text"])  # no kind named: asked for, then the confirmation
    confirm = said(await rep.press(words["kind"]), words["confirm"])
    assert words["amount"] in confirm.text, confirm.text  # seen before saving, never dropped
    replies = await rep.press(words["save"])
    [logged] = await interactions_of(bot, zhang)
    assert logged.outcome is Outcome.DEAL_WON and ("50k" in logged.summary or "5万" in logged.summary)
    offer = said(replies, words["offer"])
    assert "50,000.00" in offer.text and [words["record"]] in offer.button_labels()
    replies = await rep.press(words["record"])
    said(replies, words["product_q"])
    replies = await rep.send(words["product"])  # the amount is filled in: straight to the quantity
    said(replies, words["qty"])
    await rep.press("1")
    replies = await rep.press(words["day"])
    assert "50,000.00" in said(replies, words["save_q"]).text
    await rep.press(words["save"])
    [purchase] = await svc(bot).store.purchases.find({"customer_id": zhang.id})
    assert str(purchase.amount) == "50000.00" and purchase.product == words["product"]


async def test_a_forged_deal_button_is_refused(people: dict[str, Any], bot: Any) -> None:
    rep = people["rep"]
    theirs = await customer(bot, "Rob's Client", REP_WEST, team="west")
    mine = await customer(bot, "Zhang Wei", REP_EN)
    await rep.send("/start")
    anchor = rep.last_message().message_id
    for data in (f"buy:deal:{theirs.id}:50000.00:-", f"buy:deal:{mine.id}:lots:-", f"buy:deal:{mine.id}:-5:-"):
        await rep.press_forged(anchor, data)
        assert rep.callback_answers[-1]["text"] == NOT_AVAILABLE, data
    replies = await rep.press_forged(anchor, f"buy:deal:{mine.id}:-:-")  # a won deal with no amount named
    said(replies, "What did they buy?")
    await rep.send("Tea")
    said(await rep.press_forged(rep.last_message().message_id, "buy:back:amount"), "What did they buy?")
