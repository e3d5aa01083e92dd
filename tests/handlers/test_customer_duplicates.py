"""Duplicates (issue 13, point 21): an edited phone is checked as a new one is; a colleague's
customer the rep may not see stops the save, and its card can be asked for from the manager."""

from __future__ import annotations

from typing import Any

import pytest

from bot.domain.models import Customer, Role, StaffUser
from handlers.common import SERVICES_KEY
from tests.conftest import ADMIN_ID

REQUESTER, OWNER, MANAGER, OTHER_MANAGER, OTHER_REP = 741, 742, 743, 744, 745
WORDS = {
    "en": {"save": "✅ Save", "edit": "✏️ Edit", "phone": "✓ Phone", "anyway": "Save anyway",
           "warn": "may already be in the CRM", "stop": "A colleague already has this customer",
           "ask": "🙋 Ask for this customer", "asked": "I asked the customer's manager", "give": "✅ Give to Rita",
           "decline": "✖ Decline", "request": "asks for the card of", "given": "handed you the card",
           "declined": "declined your request", "before": "has answered this request already",
           "for_managers": "for managers and admins", "not_available": "This is not available."},
    "zh": {"save": "✅ 保存", "edit": "✏️ 编辑", "phone": "✓ 电话", "anyway": "仍然保存",
           "warn": "系统里可能已有这位客户", "stop": "这位客户已在同事名下",
           "ask": "🙋 申请接手这位客户", "asked": "已请客户所在团队的经理", "give": "✅ 转给 Rita",
           "decline": "✖ 拒绝", "request": "申请接手客户", "given": "已把客户", "declined": "拒绝了你接手同事客户的申请",
           "before": "已处理过这个申请", "for_managers": "仅限经理和管理员", "not_available": "该内容不可用。"},
}


def svc(bot: Any) -> Any:
    return bot.bot_data[SERVICES_KEY]


@pytest.fixture
async def people(bot: Any, sandbox: Any, request: pytest.FixtureRequest) -> dict[str, Any]:
    language = getattr(request, "param", "en")
    now = svc(bot).clock.now()
    for uid, name, role, team in ((REQUESTER, "Rita", Role.REP, "east"), (OWNER, "Olga", Role.REP, "east"),
                                  (MANAGER, "Mia", Role.MANAGER, "east"), (OTHER_MANAGER, "Max", Role.MANAGER, "west"),
                                  (OTHER_REP, "Rob", Role.REP, "west")):
        await svc(bot).store.staff.insert(StaffUser(id=str(uid), telegram_id=uid, name=name, role=role, teams=[team],
                                                    language=language, created_at=now, updated_at=now))
    users = {label: sandbox.user(uid, first_name=label, language_code=language)
             for label, uid in (("rep", REQUESTER), ("owner", OWNER), ("manager", MANAGER),
                                ("other_manager", OTHER_MANAGER), ("other_rep", OTHER_REP))}
    secret = await svc(bot).store.customers.insert(Customer(
        name="Secret Client", company="Hidden Co", phones=["+8613800138000"], owner_id=str(OWNER), team="east",
        created_at=now, updated_at=now))
    return {**users, "language": language, "words": WORDS[language], "secret": secret}


async def add(user: Any, words: dict[str, str], line: str) -> list[Any]:
    await user.send(f"/add {line}")
    return await user.press(words["save"])


def labels_of(message: Any) -> list[str]:
    return [label for row in message.button_labels() for label in row]


@pytest.mark.parametrize("people", ["en", "zh"], indirect=True)
async def test_a_colleagues_customer_stops_the_save_and_its_card_can_be_asked_for(
    people: dict[str, Any], bot: Any,
) -> None:
    rep, manager, words, secret = people["rep"], people["manager"], people["words"], people["secret"]
    customers = svc(bot).store.customers
    replies = await add(rep, words, "Zhang Wei 13800138000 Acme")
    stop = replies[-1]
    assert words["stop"] in stop.text and "Secret Client" not in stop.text and "Olga" not in stop.text
    assert words["anyway"] not in labels_of(stop) and words["ask"] in labels_of(stop)
    token = next(b["callback_data"] for row in stop.reply_markup["inline_keyboard"] for b in row
                 if b["text"] == words["ask"]).rpartition(":")[2]
    replies = await rep.press_forged(stop.message_id, f"add:force:{token}")  # insisting does not save
    assert words["stop"] in replies[-1].text and await customers.count() == 1
    replies = await rep.press(words["ask"])
    assert words["asked"] in replies[-1].text
    assert await customers.count() == 1
    request = manager.last_message()
    assert words["request"] in request.text and "Rita" in request.text and "Secret Client" in request.text
    assert "Olga" in request.text and words["give"] in labels_of(request) and words["decline"] in labels_of(request)
    assert people["other_manager"].bot_messages() == []  # another team's manager is not told
    replies = await manager.press(words["give"])
    assert (await customers.get(secret.id)).owner_id == str(REQUESTER)
    told = rep.last_message()
    assert words["given"] in told.text and "Secret Client" in told.text
    await manager.press_forged(request.message_id, f"dup:give:{secret.id}:{REQUESTER}")  # pressed twice
    assert words["before"] in manager.callback_answers[-1]["text"]
    events = await svc(bot).store.audit.find({"entity_id": secret.id}, order_by="at")
    assert [e.action for e in events] == ["card_request", "reassign"]


@pytest.mark.parametrize("people", ["en", "zh"], indirect=True)
async def test_a_card_request_can_be_declined_and_every_answer_is_rechecked(people: dict[str, Any], bot: Any) -> None:
    rep, manager, words, secret = people["rep"], people["manager"], people["words"], people["secret"]
    customers = svc(bot).store.customers
    await add(rep, words, "Zhang Wei 13800138000 Acme")
    await rep.press(words["ask"])
    request = manager.last_message()
    # nobody else may answer it: the requester, a rep, another team's manager; a forged requester neither
    for user, data, refusal in (
        (rep, f"dup:give:{secret.id}:{REQUESTER}", words["not_available"]),  # rep cannot see it
        (people["owner"], f"dup:give:{secret.id}:{REQUESTER}", words["for_managers"]),
        (people["other_manager"], f"dup:give:{secret.id}:{REQUESTER}", words["not_available"]),
        (manager, f"dup:give:{secret.id}:{OTHER_REP}", words["not_available"]),  # never asked
    ):
        await user.send("/start")
        await user.press_forged(user.last_message().message_id, data)
        assert refusal in user.callback_answers[-1]["text"], (user, data, user.callback_answers[-1])
    assert (await customers.get(secret.id)).owner_id == str(OWNER)
    replies = await manager.press_forged(request.message_id, f"dup:no:{secret.id}:{REQUESTER}")
    assert "Rita" in replies[-1].text
    told = rep.last_message()
    assert words["declined"] in told.text and "Secret Client" not in told.text
    await manager.press_forged(request.message_id, f"dup:give:{secret.id}:{REQUESTER}")  # after declining
    assert words["before"] in manager.callback_answers[-1]["text"]
    assert (await customers.get(secret.id)).owner_id == str(OWNER)


async def test_a_request_across_teams_goes_to_the_admins_too(people: dict[str, Any], bot: Any, sandbox: Any) -> None:
    admin = sandbox.user(ADMIN_ID, first_name="Admin", language_code="en")
    words = people["words"]
    rob, secret = people["other_rep"], people["secret"]  # Rob is in west; the customer in east
    await add(rob, words, "Zhang Wei 13800138000 Acme")
    await rob.press(words["ask"])
    to_mia = people["manager"].last_message()
    assert "Rob" in to_mia.text and "ask an admin" in to_mia.text and "✅ Give to Rob" not in labels_of(to_mia)
    to_admin = admin.last_message()
    assert "Rob" in to_admin.text and "✅ Give to Rob" in labels_of(to_admin)
    await admin.press("✅ Give to Rob")
    assert (await svc(bot).store.customers.get(secret.id)).owner_id == str(OTHER_REP)


@pytest.mark.parametrize("people", ["en", "zh"], indirect=True)
async def test_editing_a_phone_to_another_customers_number_runs_the_duplicate_check(
    people: dict[str, Any], bot: Any,
) -> None:
    rep, words = people["rep"], people["words"]
    customers = svc(bot).store.customers
    await add(rep, words, "Zhang Wei 13900000001 Acme")
    await add(rep, words, "Li Na 13900000002 Globex")
    li = next(c for c in await customers.find({"owner_id": str(REQUESTER)}) if c.name == "Li Na")
    await rep.press(words["edit"])
    await rep.press(words["phone"])
    await rep.send("13900000001")  # Zhang Wei's number: a warning, exactly as on create
    replies = await rep.press(words["save"])
    assert words["warn"] in replies[-1].text and "Zhang Wei" in replies[-1].text
    assert words["anyway"] in labels_of(replies[-1])
    assert (await customers.get(li.id)).phones == ["+8613900000002"]
    await rep.press(words["anyway"])
    assert (await customers.get(li.id)).phones == ["+8613900000001"]
    # an edit that changes nothing the check looks at is not stopped by that known pair again
    await rep.send("/find Li Na")
    await rep.press("Li Na · Globex")
    await rep.press(words["edit"])
    await rep.press("City" if people["language"] == "en" else "城市")
    await rep.send("Shanghai")
    await rep.press(words["save"])
    assert (await customers.get(li.id)).city == "Shanghai"
    # a colleague's customer's number stops the edit as it stops a new card
    await rep.press(words["edit"])
    await rep.press(words["phone"])
    await rep.send("13800138000")
    replies = await rep.press(words["save"])
    assert words["stop"] in replies[-1].text and words["anyway"] not in labels_of(replies[-1])
    assert (await customers.get(li.id)).phones == ["+8613900000001"]
