"""To-dos end to end: quick entry in zh and en, from the card, a manager assigning one (the rep told at
once), the due reminder at its time with done and snooze, and /todo's order."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.app import SCHEDULER_KEY
from bot.domain.models import ReminderKind, ReminderStatus, Role, Todo, TodoStatus
from tests.handlers.test_interactions import (
    MANAGER_EAST,
    MANAGER_WEST,
    NOT_AVAILABLE,
    REP_EN,
    REP_WEST,
    REP_ZH,
    customer,
    open_card,
    said,
    staff,
    svc,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
async def people(bot: Any, sandbox: Any) -> dict[str, Any]:
    await staff(bot, REP_EN, "Wang Fang")
    await staff(bot, REP_ZH, "李娜", language="zh")
    await staff(bot, REP_WEST, "Rob", teams=("west",))
    await staff(bot, MANAGER_EAST, "Mia", role=Role.MANAGER)
    await staff(bot, MANAGER_WEST, "Max", role=Role.MANAGER, teams=("west",))
    return {
        "rep": sandbox.user(REP_EN, first_name="Wang", language_code="en"),
        "rep_zh": sandbox.user(REP_ZH, first_name="李娜", language_code="zh-hans"),
        "rep_west": sandbox.user(REP_WEST, first_name="Rob", language_code="en"),
        "manager": sandbox.user(MANAGER_EAST, first_name="Mia", language_code="en"),
        "manager_west": sandbox.user(MANAGER_WEST, first_name="Max", language_code="en"),
    }


async def todos_of(bot: Any, assignee: int) -> list[Todo]:
    return await svc(bot).store.todos.find({"assignee_id": str(assignee)}, order_by="created_at")


async def run_until(bot: Any, sandbox: Any, clock: Any, until: datetime, step: timedelta) -> None:
    scheduler = bot.bot_data[SCHEDULER_KEY]
    while clock.now() < until:
        clock.set(min(clock.now() + step, until))
        await scheduler.tick()
        await sandbox.wait_idle()


async def test_quick_todo_in_chinese_names_the_customer_and_the_day(people: dict[str, Any], bot: Any) -> None:
    rep = people["rep_zh"]
    zhang = await customer(bot, "张伟", REP_ZH)
    replies = await rep.send("/todo 周四给张伟寄样品")
    card = said(replies, "待办")
    assert "给张伟寄样品" in card.text and "期限" in card.text
    await rep.press("✅ 保存")
    (todo,) = await todos_of(bot, REP_ZH)
    assert todo.text == "给张伟寄样品" and todo.customer_id == zhang.id
    assert todo.due_at is not None and todo.due_at.astimezone(SHANGHAI).weekday() == 3
    due = await svc(bot).store.reminders.get_by("dedupe_key", f"todo:{todo.id}")
    assert due is not None and due.kind is ReminderKind.TODO_DUE and due.due_at == todo.due_at
    audit = await svc(bot).store.audit.find({"entity_id": todo.id})
    assert [e.action for e in audit] == ["create"] and audit[0].changes["text"] == [None, "给张伟寄样品"]


async def test_quick_todo_in_english(people: dict[str, Any], bot: Any) -> None:
    rep = people["rep"]
    zhang = await customer(bot, "Zhang Wei", REP_EN)
    replies = await rep.send("/todo send samples to Zhang Wei on Thursday")
    said(replies, "send samples to Zhang Wei")
    await rep.press("✅ Save")
    (todo,) = await todos_of(bot, REP_EN)
    assert todo.customer_id == zhang.id and todo.due_at.astimezone(SHANGHAI).weekday() == 3


async def test_bad_input_is_asked_again_with_a_reason(people: dict[str, Any], bot: Any) -> None:
    rep = people["rep"]
    await open_card(rep, await customer(bot, "Zhang Wei", REP_EN))
    said(await rep.press("✅ To-do"), "What is to be done?")
    said(await rep.send("x" * 1200), "What is to be done?")  # too long: asked again
    await rep.send("call back about the quote")
    replies = await rep.send("yesterday")
    said(replies, "By when?")
    assert "⚠️" in said(replies, "By when?").text
    await rep.send("tomorrow 3pm")
    await rep.press("✅ Save")
    (todo,) = await todos_of(bot, REP_EN)
    assert todo.due_at.astimezone(SHANGHAI).hour == 15


async def test_a_manager_assigns_a_todo_the_rep_is_told_and_reminded_on_time(
    people: dict[str, Any], bot: Any, sandbox: Any, clock: Any
) -> None:
    manager, rep = people["manager"], people["rep"]
    zhang = await customer(bot, "Zhang Wei", REP_EN)
    start = clock.now()
    due = (start.astimezone(SHANGHAI) + timedelta(days=2)).replace(hour=10, minute=0, second=0, microsecond=0)
    await open_card(manager, zhang)
    await manager.press("✅ To-do")
    await manager.send("visit the new warehouse")
    await manager.send(due.strftime("%Y-%m-%d %H:%M"))
    await manager.press("👤 Assignee")
    await manager.press("Wang Fang")
    said(manager.bot_messages(), "For: Wang Fang")
    await manager.press("✅ Save")
    (todo,) = await todos_of(bot, REP_EN)
    assert todo.created_by == str(MANAGER_EAST) and todo.customer_id == zhang.id
    told = said(rep.bot_messages(), "New to-do from Mia")
    assert "visit the new warehouse" in told.text
    row = await svc(bot).store.reminders.get_by("dedupe_key", f"todo_assigned:{todo.id}")
    assert row.status is ReminderStatus.SENT

    await run_until(bot, sandbox, clock, due - timedelta(minutes=5), timedelta(hours=1))
    assert not [m for m in rep.bot_messages() if "To-do due" in (m.text or "")]
    await run_until(bot, sandbox, clock, due + timedelta(minutes=2), timedelta(minutes=1))
    reminders = [m for m in rep.bot_messages() if "To-do due" in (m.text or "")]
    assert len(reminders) == 1 and "visit the new warehouse" in reminders[0].text
    await rep.press("⏰ 1 hour")  # snooze: it comes again an hour later
    (snoozed,) = await todos_of(bot, REP_EN)
    assert snoozed.snoozed_until is not None and snoozed.due_at == todo.due_at
    await run_until(bot, sandbox, clock, due + timedelta(minutes=65), timedelta(minutes=5))
    assert len([m for m in rep.bot_messages() if "To-do due" in (m.text or "")]) == 2
    await rep.press("✅ Done")
    (todo,) = await todos_of(bot, REP_EN)
    assert todo.status is TodoStatus.DONE and todo.done_by == str(REP_EN)
    # a second press (a stale button) is refused, nothing changes
    await rep.press_forged(rep.last_message().message_id, f"todo:done:{todo.id}")
    assert (await svc(bot).store.audit.count({"entity_id": todo.id, "action": "done"})) == 1


async def test_a_rep_cannot_assign_and_a_manager_only_within_the_team(people: dict[str, Any], bot: Any) -> None:
    services = svc(bot)
    rep = await services.store.staff.get(str(REP_EN))
    west_manager = await services.store.staff.get(str(MANAGER_WEST))
    from bot.services.errors import AccessDenied
    with pytest.raises(AccessDenied):
        await services.todos.create(rep, "do it", assignee_id=str(REP_ZH))
    with pytest.raises(AccessDenied):
        await services.todos.create(west_manager, "do it", assignee_id=str(REP_EN))
    todo, told = await services.todos.create(west_manager, "do it", assignee_id=str(REP_WEST))
    assert told is not None and todo.assignee_id == str(REP_WEST)


async def test_todo_list_overdue_then_today_then_upcoming_with_done_buttons(
    people: dict[str, Any], bot: Any, clock: Any
) -> None:
    services, rep = svc(bot), people["rep_zh"]
    me = await services.store.staff.get(str(REP_ZH))
    now = clock.now()
    for text, delta in (("下周的事", timedelta(days=6)), ("今天的事", timedelta(minutes=30)),
                        ("逾期的事", timedelta(hours=-3)), ("没期限的事", None)):
        await services.store.todos.insert(Todo(text=text, assignee_id=me.id, created_by=me.id,
                                               due_at=now + delta if delta else None,
                                               created_at=now, updated_at=now))
    replies = await rep.send("/todo")
    listing = said(replies, "我的待办").text
    order = [listing.index(t) for t in ("逾期的事", "今天的事", "下周的事", "没期限的事")]
    assert order == sorted(order)
    assert "已逾期" in listing and "今天" in listing
    await rep.press("✅ 逾期的事")
    done = [t for t in await todos_of(bot, REP_ZH) if t.status is TodoStatus.DONE]
    assert [t.text for t in done] == ["逾期的事"]


async def test_todos_are_in_the_daily_agenda(people: dict[str, Any], bot: Any, clock: Any) -> None:
    services = svc(bot)
    me = await services.store.staff.get(str(REP_EN))
    now = clock.now()
    await services.todos.create(me, "send the contract", due_at=now + timedelta(minutes=20))
    day = now.astimezone(SHANGHAI).date()
    agenda = await services.generator.agenda(me, day)
    assert [t.text for t in agenda["todos"]] == ["send the contract"]


async def test_a_logged_contact_becomes_a_todo(people: dict[str, Any], bot: Any, clock: Any) -> None:
    services, rep = svc(bot), people["rep"]
    zhang = await customer(bot, "Zhang Wei", REP_EN)
    me = await services.store.staff.get(str(REP_EN))
    from bot.domain.models import Direction, InteractionKind, Outcome
    logged, *_rest = await services.interactions.log(me, zhang.id, kind=InteractionKind.CALL, outcome=Outcome.INTERESTED, direction=Direction.OUTBOUND,
                                             summary="send the price list",
                                             next_follow_up_at=clock.now() + timedelta(days=1))
    await rep.send("/start")
    said(await rep.press_forged(rep.last_message().message_id, f"todo:from:{logged.id}"), "send the price list")
    await rep.press("✅ Save")
    (todo,) = await todos_of(bot, REP_EN)
    assert todo.interaction_id == logged.id and todo.customer_id == zhang.id
    # another team's rep cannot turn it into theirs
    other = people["rep_west"]
    await other.send("/start")
    await other.press_forged(other.last_message().message_id, f"todo:from:{logged.id}")
    assert other.callback_answers[-1]["text"] == NOT_AVAILABLE
