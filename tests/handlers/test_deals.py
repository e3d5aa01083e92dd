"""Deals (商机) end to end through the sandbox, in zh and en: quick entry → stage moves → won →
purchase recorded → the report's pipeline and forecast; a lost deal with its reason; the form;
/deals by stage; a stuck-deal nudge after simulated days; refusals of bad input."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from bot.app import SCHEDULER_KEY
from bot.domain.models import Customer, Deal, ReminderKind, Role, StaffUser
from handlers.common import SERVICES_KEY

REP, REP_ZH, REP_WEST, MANAGER = 1801, 1802, 1803, 1811


def svc(bot: Any) -> Any:
    return bot.bot_data[SERVICES_KEY]


def said(replies: list[Any], needle: str) -> Any:
    for message in reversed(replies):
        if needle in (message.text or message.caption or ""):
            return message
    raise AssertionError(f"{needle!r} not in {[m.text or m.caption for m in replies]}")


async def staff(bot: Any, uid: int, name: str, *, role: Role = Role.REP, teams: tuple[str, ...] = ("east",),
                language: str = "en") -> None:
    now = svc(bot).clock.now()
    await svc(bot).store.staff.insert(StaffUser(
        id=str(uid), telegram_id=uid, name=name, role=role, teams=list(teams), language=language,
        created_at=now, updated_at=now))


async def customer(bot: Any, name: str, owner: int, *, team: str = "east") -> Customer:
    now = svc(bot).clock.now()
    return await svc(bot).store.customers.insert(Customer(
        name=name, owner_id=str(owner), team=team, created_at=now - timedelta(days=5), updated_at=now))


@pytest.fixture
async def people(bot: Any, sandbox: Any) -> dict[str, Any]:
    await staff(bot, REP, "Wang Fang")
    await staff(bot, REP_ZH, "李娜", language="zh")
    await staff(bot, REP_WEST, "Rob", teams=("west",))
    await staff(bot, MANAGER, "Mia", role=Role.MANAGER)
    return {
        "en": sandbox.user(REP, first_name="Wang", language_code="en"),
        "zh": sandbox.user(REP_ZH, first_name="李娜", language_code="zh-hans"),
        "west": sandbox.user(REP_WEST, first_name="Rob", language_code="en"),
        "manager": sandbox.user(MANAGER, first_name="Mia", language_code="en"),
    }


async def deals_of(bot: Any, customer_id: str) -> list[Deal]:
    return await svc(bot).store.deals.find({"customer_id": customer_id})


LIFE = {
    "en": {"uid": REP, "name": "Zhang Wei", "quick": "/deal Zhang Wei CRM Pro 50k quote end of next month",
           "confirm": "Save this deal?", "stage": "Proposal", "next": "Negotiation", "won": "✅ Won",
           "record": "🛒 Record the purchase", "qty": "1", "today": "Today", "save": "✅ Save",
           "saved_purchase": "tea", "report": "Pipeline", "forecast": "Forecast for the period",
           "won_line": "Won: 1", "month": "This month", "stage_label": "Stage: Negotiation"},
    "zh": {"uid": REP_ZH, "name": "张伟", "quick": "/deal 张伟 CRM Pro 5万 报价 下月底",
           "confirm": "保存这个商机？", "stage": "方案报价", "next": "商务谈判", "won": "✅ 赢单",
           "record": "🛒 记录这笔购买", "qty": "1", "today": "今天", "save": "✅ 保存",
           "saved_purchase": "tea", "report": "销售漏斗", "forecast": "本期预测",
           "won_line": "赢单：1 个", "month": "本月", "stage_label": "阶段：商务谈判"},
}


@pytest.mark.parametrize("language", ["en", "zh"])
async def test_the_life_of_a_deal(people: dict[str, Any], bot: Any, sandbox: Any, language: str) -> None:
    t = LIFE[language]
    rep = people[language]
    zhang = await customer(bot, t["name"], t["uid"])
    await rep.send("/start")
    replies = await rep.send(t["quick"])
    confirm = said(replies, t["confirm"])
    assert "CRM Pro" in confirm.text and t["stage"] in confirm.text and "60%" in confirm.text
    assert "2026-04-30" in confirm.text  # the end of next month, from 2 March
    assert "50,000" in confirm.text
    replies = await rep.press(t["save"])
    card = said(replies, "CRM Pro")
    [deal] = await deals_of(bot, zhang.id)
    assert (deal.amount, deal.stage, deal.probability, deal.expected_close_on) == (
        Decimal("50000.00"), "proposal", 60, date(2026, 4, 30))
    assert deal.owner_id == str(t["uid"]) and deal.team == "east"

    replies = await rep.press(t["next"])  # one tap on the card
    assert t["stage_label"] in said(replies, "CRM Pro").text
    [deal] = await deals_of(bot, zhang.id)
    assert (deal.stage, deal.probability) == ("negotiation", 80)
    assert [c.stage for c in deal.stage_history] == ["proposal", "negotiation"]

    replies = await rep.press(t["won"])
    said(replies, "50,000")
    [deal] = await deals_of(bot, zhang.id)
    assert (deal.stage, deal.open, deal.won_on) == ("won", False, date(2026, 3, 2))
    events = await svc(bot).store.audit.find({"entity_id": deal.id})
    moves = [e for e in events if e.action == "stage"]
    assert {tuple(e.changes["stage"]) for e in moves} == {("proposal", "negotiation"), ("negotiation", "won")}

    # the purchase, pre-filled from the deal: the product and the amount are asked no more
    await rep.press(t["record"])
    await rep.press(t["qty"])
    replies = await rep.press(t["today"])
    await rep.press(t["save"])
    [purchase] = await svc(bot).store.purchases.find({"customer_id": zhang.id})
    assert (purchase.product, purchase.amount, purchase.purchased_on) == ("CRM Pro", Decimal("50000.00"),
                                                                          date(2026, 3, 2))
    del card, replies

    # the report shows it in the pipeline and the forecast
    replies = await rep.send("/report", timeout=30)
    replies = await rep.press(t["month"], timeout=30)
    text = said(replies, t["report"]).text
    assert t["won_line"] in text and t["forecast"] in text
    assert "100%" in text  # the win rate: one won, none lost


async def test_a_lost_deal_with_its_reason(people: dict[str, Any], bot: Any) -> None:
    rep = people["en"]
    zhang = await customer(bot, "Zhang Wei", REP)
    await rep.send("/start")
    await rep.send("/deal Zhang Wei Tea for the office 8000 negotiation next Friday")
    await rep.press("✅ Save")
    replies = await rep.press("❌ Lost")
    said(replies, "Why was “Tea for the office” lost?")
    replies = await rep.press("Chose a competitor")
    card = said(replies, "Tea for the office")
    assert "Chose a competitor" in card.text
    [deal] = await deals_of(bot, zhang.id)
    assert (deal.stage, deal.open, deal.lost_reason, deal.probability) == ("lost", False, "Chose a competitor", 0)
    # a forged reason outside the list is refused
    await rep.press_forged(rep.last_message().message_id, f"dl:reason:{deal.id}:99")
    assert rep.callback_answers[-1]["show_alert"]
    assert (await deals_of(bot, zhang.id))[0].lost_reason == "Chose a competitor"


@pytest.mark.parametrize(("text", "reason"), [
    ("/deal Zhang Wei CRM -5", "cannot be negative"),
    ("/deal Zhang Wei CRM 1e308", "could not read an amount"),
    ("/deal Zhang Wei CRM 五万五", "could not read an amount"),
    ("/deal Zhang Wei CRM", "could not find the deal's amount"),
    ("/deal Zhang Wei CRM 5万 whenever-ish", "could not read a close date"),
])
async def test_bad_quick_entry_is_refused_with_a_reason(people: dict[str, Any], bot: Any, text: str,
                                                         reason: str) -> None:
    rep = people["en"]
    zhang = await customer(bot, "Zhang Wei", REP)
    await rep.send("/start")
    replies = await rep.send(text)
    said(replies, reason)
    assert await deals_of(bot, zhang.id) == []


async def test_a_close_date_in_the_past_asks_to_confirm(people: dict[str, Any], bot: Any) -> None:
    rep = people["en"]
    zhang = await customer(bot, "Zhang Wei", REP)
    await rep.send("/start")
    replies = await rep.send("/deal Zhang Wei CRM Pro 50k quote 2026-02-01")
    assert "has already passed" in said(replies, "Save this deal?").text
    await rep.press("✅ Save")
    [deal] = await deals_of(bot, zhang.id)
    assert deal.expected_close_on == date(2026, 2, 1)


async def test_the_form_from_the_customer_card(people: dict[str, Any], bot: Any) -> None:
    rep = people["zh"]
    zhang = await customer(bot, "张伟", REP_ZH)
    await rep.send("/start")
    await rep.press_forged(rep.last_message().message_id, f"cust:view:{zhang.id}")
    replies = await rep.press("💼 商机")
    said(replies, "张伟 的商机")
    replies = await rep.press("➕ 新建商机")
    said(replies, "商机名称")
    replies = await rep.send("年度服务")
    said(replies, "金额")
    replies = await rep.send("-5")
    said(replies, "金额不能为负")
    replies = await rep.send("3万")
    said(replies, "处于哪个阶段")
    replies = await rep.press("需求确认 30%")
    said(replies, "预计成交日期")
    replies = await rep.press("下月底")
    said(replies, "保存这个商机？")
    await rep.press("✅ 保存")
    [deal] = await deals_of(bot, zhang.id)
    assert (deal.title, deal.amount, deal.stage, deal.probability, deal.expected_close_on) == (
        "年度服务", Decimal("30000.00"), "qualification", 30, date(2026, 4, 30))


async def test_deals_lists_open_deals_by_stage_and_managers_filter_by_rep(people: dict[str, Any], bot: Any) -> None:
    zhang = await customer(bot, "Zhang Wei", REP)
    li = await customer(bot, "Li Na", REP_ZH)
    west = await customer(bot, "West Co", REP_WEST, team="west")
    s = svc(bot)
    owner = await s.store.staff.get(str(REP))
    li_owner = await s.store.staff.get(str(REP_ZH))
    west_owner = await s.store.staff.get(str(REP_WEST))
    await s.deals.create(owner, zhang.id, title="CRM Pro", amount=Decimal(50000), stage="proposal")
    await s.deals.create(owner, zhang.id, title="Training", amount=Decimal(10000), stage="prospecting")
    await s.deals.create(li_owner, li.id, title="Tea", amount=Decimal(20000), stage="proposal")
    await s.deals.create(west_owner, west.id, title="West deal", amount=Decimal(99999), stage="proposal")

    rep = people["en"]
    await rep.send("/start")
    text = said(await rep.send("/deals"), "Open deals").text
    assert "Open deals: 2" in text and "West deal" not in text and "Tea" not in text
    assert "Proposal (60%): 1" in text and "· weighted CN¥30,000.00" in text
    assert "weighted CN¥31,000.00" in text  # 50 000 × 60 % + 10 000 × 10 %

    manager = people["manager"]
    await manager.send("/start")
    text = said(await manager.send("/deals"), "Open deals").text
    assert "Open deals: 3" in text and "Tea" in text and "West deal" not in text
    await manager.press("👤 By rep")
    text = said(await manager.press("李娜"), "Open deals").text
    assert "Open deals of 李娜: 1" in text and "CRM Pro" not in text
    # a forged filter on someone outside the team is refused
    await manager.press_forged(manager.last_message().message_id, f"dl:rep:{REP_WEST}")
    assert manager.callback_answers[-1]["show_alert"] and "not available" in manager.callback_answers[-1]["text"]


async def test_a_stuck_deal_nudges_its_owner_after_simulated_days(people: dict[str, Any], bot: Any,
                                                                  sandbox: Any, clock: Any) -> None:
    rep = people["en"]
    zhang = await customer(bot, "Zhang Wei", REP)
    s = svc(bot)
    owner = await s.store.staff.get(str(REP))
    deal = await s.deals.create(owner, zhang.id, title="CRM Pro", amount=Decimal(50000), stage="negotiation")
    await rep.send("/start")
    scheduler = bot.bot_data[SCHEDULER_KEY]

    async def run_days(days: int) -> None:
        until = clock.now() + timedelta(days=days)
        while clock.now() < until:
            clock.set(min(clock.now() + timedelta(hours=6), until))
            await scheduler.tick()
            await sandbox.wait_idle()

    await run_days(6)  # negotiation: stuck after 7 days
    assert not [m for m in rep.bot_messages() if "has been in Negotiation" in (m.text or "")]
    await run_days(2)
    nudges = [m for m in rep.bot_messages() if "has been in Negotiation" in (m.text or "")]
    assert len(nudges) == 1 and "CRM Pro" in nudges[0].text and "Zhang Wei" in nudges[0].text
    reminders = await s.store.reminders.find({"kind": ReminderKind.DEAL_NUDGE.value})
    assert len(reminders) == 1
    await run_days(1)  # one nudge per state, not one a tick
    assert len([m for m in rep.bot_messages() if "has been in Negotiation" in (m.text or "")]) == 1
    replies = await rep.press("💼 Open the deal")
    said(replies, "Not moved for 9 days")
    del deal


async def test_another_reps_deal_is_not_available(people: dict[str, Any], bot: Any) -> None:
    west = await customer(bot, "West Co", REP_WEST, team="west")
    s = svc(bot)
    west_owner = await s.store.staff.get(str(REP_WEST))
    deal = await s.deals.create(west_owner, west.id, title="West deal", amount=Decimal(99999))
    rep = people["en"]
    await rep.send("/start")
    message = rep.last_message().message_id
    for data in (f"dl:view:{deal.id}", f"dl:stage:{deal.id}:proposal", f"dl:won:{deal.id}",
                 f"dl:lost:{deal.id}", f"dl:reason:{deal.id}:0", f"deal:edit:{deal.id}", f"buy:won:{deal.id}",
                 f"dl:cust:{west.id}", f"deal:new:{west.id}"):
        await rep.press_forged(message, data)
        answer = rep.callback_answers[-1]
        assert answer["show_alert"] and "not available" in answer["text"], (data, answer)
    assert (await s.store.deals.get(deal.id)).stage == "prospecting"


async def test_a_deal_is_edited_from_its_card_and_audited(people: dict[str, Any], bot: Any) -> None:
    rep = people["en"]
    zhang = await customer(bot, "Zhang Wei", REP)
    s = svc(bot)
    owner = await s.store.staff.get(str(REP))
    deal = await s.deals.create(owner, zhang.id, title="CRM Pro", amount=Decimal(50000), stage="proposal")
    await rep.send("/start")
    await rep.press_forged(rep.last_message().message_id, f"dl:view:{deal.id}")
    replies = await rep.press("✏️ Edit")
    said(replies, "Save the changes to this deal?")
    await rep.press("Probability")
    replies = await rep.send("150")
    said(replies, "from 0 to 100")
    replies = await rep.send("75%")
    said(replies, "probability 75%")
    await rep.press("Next step")
    await rep.send("Send the contract on Monday")
    await rep.press("✅ Save")
    saved = await s.store.deals.get(deal.id)
    assert (saved.probability, saved.next_step, saved.stage) == (75, "Send the contract on Monday", "proposal")
    [update] = [e for e in await s.store.audit.find({"entity_id": deal.id}) if e.action == "update"]
    assert update.changes["probability"] == [60, 75] and update.actor_id == str(REP)


async def test_deals_page_like_the_customer_list(people: dict[str, Any], bot: Any) -> None:
    rep = people["en"]
    zhang = await customer(bot, "Zhang Wei", REP)
    s = svc(bot)
    owner = await s.store.staff.get(str(REP))
    for n in range(11):
        await s.deals.create(owner, zhang.id, title=f"Deal {n:02d}", amount=Decimal(1000 + n), stage="proposal")
    await rep.send("/start")
    first = said(await rep.send("/deals"), "Open deals")
    assert "Open deals: 11" in first.text and "Page 1 of 2" in first.text
    second = said(await rep.press("Next ▶"), "Open deals")
    assert "Page 2 of 2" in second.text and "Deal 10" in second.text and "Deal 00" not in second.text
    back = said(await rep.press("◀ Previous"), "Open deals")
    assert "Page 1 of 2" in back.text and "Deal 00" in back.text


async def test_changing_the_stage_from_the_edit_card_moves_the_deal(people: dict[str, Any], bot: Any) -> None:
    rep = people["en"]
    zhang = await customer(bot, "Zhang Wei", REP)
    s = svc(bot)
    owner = await s.store.staff.get(str(REP))
    deal = await s.deals.create(owner, zhang.id, title="CRM Pro", amount=Decimal(50000), stage="proposal")
    await rep.send("/start")
    await rep.press_forged(rep.last_message().message_id, f"deal:edit:{deal.id}")
    await rep.press("Stage")
    replies = await rep.press("Negotiation 80%")
    said(replies, "probability 80%")
    await rep.press("✅ Save")
    saved = await s.store.deals.get(deal.id)
    assert (saved.stage, saved.probability) == ("negotiation", 80)
    assert [c.stage for c in saved.stage_history] == ["proposal", "negotiation"]


@pytest.mark.parametrize("language", ["en", "zh"])
async def test_the_daily_agenda_lists_an_overdue_and_a_stuck_deal(people: dict[str, Any], bot: Any, sandbox: Any,
                                                                  clock: Any, language: str) -> None:
    rep, owner, name = (people["en"], REP, "Zhang Wei") if language == "en" else (people["zh"], REP_ZH, "张伟")
    someone = await customer(bot, name, owner)
    s, now = svc(bot), clock.now()  # Monday 2026-03-02 09:00 in Shanghai
    for title, stage, close, moved in (("Old Quote", "proposal", date(2026, 2, 27), timedelta(days=1)),
                                       ("Big Talk", "negotiation", date(2026, 6, 30), timedelta(days=8))):
        found = s.config.deals.pipeline.stage(stage)
        await s.store.deals.insert(Deal(
            customer_id=someone.id, owner_id=str(owner), team="east", title=title, amount=Decimal(50000),
            currency="CNY", stage=stage, probability=found.probability, open=True, expected_close_on=close,
            created_at=now - timedelta(days=20), updated_at=now, stage_changed_at=now - moved))
    await rep.send("/start")
    scheduler = bot.bot_data[SCHEDULER_KEY]
    while clock.now() < now + timedelta(hours=23, minutes=30):  # to Tuesday 08:30, past the agenda hour
        clock.set(clock.now() + timedelta(minutes=30))
        await scheduler.tick()
        await sandbox.wait_idle()
    heading = {"en": "Your day, 2026-03-03", "zh": "今日安排（2026-03-03）"}[language]
    agendas = [m for m in rep.bot_messages() if heading in (m.text or "")]
    assert len(agendas) == 1, [m.text for m in rep.bot_messages()]
    text = agendas[0].text
    expected = {
        "en": ["Deals to look at (2)", f"{name} — Old Quote (Proposal): ⚠️ 4 days past close",
               f"{name} — Big Talk (Negotiation): not moved for 8 days"],
        "zh": ["需关注的商机（2）", f"{name} — Old Quote（方案报价）：⚠️ 已过预计成交日 4 天",
               f"{name} — Big Talk（商务谈判）：已 8 天未推进"],
    }[language]
    for line in expected:
        assert line in text, text
    labels = [label for row in agendas[0].button_labels() for label in row]
    assert f"💼 {name} · Old Quote" in labels and f"💼 {name} · Big Talk" in labels
    card = said(await rep.press(f"💼 {name} · Big Talk"), "Big Talk")
    assert ("Stage:" if language == "en" else "阶段：") in card.text
