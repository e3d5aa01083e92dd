"""Visit check-in (外勤签到) end to end: check in with a location, distance and flag, check-out, /visits."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bot.domain.geo import haversine_m
from bot.domain.models import GeoPoint, Role
from tests.handlers.test_interactions import (
    NOT_AVAILABLE,
    customer,
    interactions_of,
    open_card,
    said,
    staff,
    svc,
)

REP, REP_ZH, OTHER_REP, MANAGER = 741, 742, 743, 751
OFFICE = (31.2304, 121.4737)  # the customer's saved location
NEAR = (31.2350, 121.4737)  # about 510 m north
FAR = (31.2500, 121.4737)  # about 2.2 km north


@pytest.fixture
async def people(bot: Any, sandbox: Any) -> dict[str, Any]:
    await staff(bot, REP, "Wang Fang")
    await staff(bot, REP_ZH, "李娜", language="zh")
    await staff(bot, OTHER_REP, "Rob")
    await staff(bot, MANAGER, "Mia", role=Role.MANAGER)
    return {
        "rep": sandbox.user(REP, first_name="Wang", language_code="en"),
        "rep_zh": sandbox.user(REP_ZH, first_name="李娜", language_code="zh-hans"),
        "other": sandbox.user(OTHER_REP, first_name="Rob", language_code="en"),
        "manager": sandbox.user(MANAGER, first_name="Mia", language_code="en"),
    }


def located(bot: Any, latitude: float, longitude: float) -> GeoPoint:
    return GeoPoint(latitude=latitude, longitude=longitude, at=svc(bot).clock.now() - timedelta(days=30))


async def log_visit(user: Any, zh: bool = False) -> list[Any]:
    """Card → log → visit → met → no summary → no follow-up → save; returns the replies to saving."""
    await user.press("📞 记录通话" if zh else "📞 Log a call")
    await user.press("拜访" if zh else "visit")
    await user.press("见到客户" if zh else "met the customer")
    await user.send("/skip")
    await user.press("不再跟进" if zh else "No follow-up")
    return await user.press("✅ 保存" if zh else "✅ Save")


def reply_keyboard(user: Any) -> list[dict[str, Any]]:
    return [button for row in (user._chat.reply_keyboard or {}).get("keyboard", []) for button in row]


async def test_check_in_near_then_check_out_in_english(people: dict[str, Any], bot: Any, clock: Any) -> None:
    rep = people["rep"]
    zhang = await customer(bot, "Zhang Wei", REP, address="88 Century Ave", location=located(bot, *OFFICE))
    await open_card(rep, zhang)
    replies = await log_visit(rep)
    said(replies, "Check in at")
    [button] = reply_keyboard(rep)
    assert button["text"] == "📍 Check in" and button["request_location"] is True

    rep.device_location = (*NEAR, 15.0)
    replies = await rep.press("📍 Check in")
    checked = said(replies, "Checked in at")
    expected = haversine_m(*OFFICE, *NEAR)
    assert f"{expected:.0f} m" in checked.text and "88 Century Ave" in checked.text and "±15 m" in checked.text
    assert "Far from" not in checked.text
    [visit] = await interactions_of(bot, zhang)
    assert visit.check_in is not None and (visit.check_in.latitude, visit.check_in.longitude) == NEAR
    assert visit.check_in.accuracy == 15.0 and not visit.check_in.live
    assert visit.check_in_address == "88 Century Ave"
    assert visit.check_in_distance_m == pytest.approx(expected)
    assert visit.checked_out_at is None

    clock.advance(timedelta(minutes=40))
    replies = await rep.press("🏁 Check out")
    out = said(replies, "Checked out of")
    assert "40 min" in out.text
    [visit] = await interactions_of(bot, zhang)
    assert visit.checked_out_at - visit.check_in.at == timedelta(minutes=40)
    events = [e.action for e in await svc(bot).store.audit.find({"entity_id": visit.id})]
    assert events == ["create", "check_in", "check_out"]
    # pressing again changes nothing
    await rep.press("🏁 Check out")
    [again] = await interactions_of(bot, zhang)
    assert again.checked_out_at == visit.checked_out_at

    replies = await rep.send("/visits")
    day = said(replies, "Visits of Wang Fang")
    assert "Zhang Wei" in day.text and f"{expected:.0f} m" in day.text and "40 min" in day.text
    assert "far" not in day.text
    # the logged entry shows its check-in
    replies = await rep.press_forged(day.message_id, f"log:view:{visit.id}")
    entry = said(replies, "📍 Checked in")
    assert f"{expected:.0f} m from the customer" in entry.text and "40 min" in entry.text


async def test_far_check_in_is_flagged_not_refused_and_listed_in_order(
    people: dict[str, Any], bot: Any, clock: Any
) -> None:
    rep = people["rep"]
    zhang = await customer(bot, "Zhang Wei", REP, location=located(bot, *OFFICE))
    li = await customer(bot, "Li Lei", REP)
    await open_card(rep, zhang)
    await log_visit(rep)
    replies = await rep.send_location(*FAR)
    checked = said(replies, "Checked in at")
    assert "Far from the customer's saved location" in checked.text and "2.2 km" in checked.text
    assert "\n⚠️ Far" in checked.text
    [visit] = await interactions_of(bot, zhang)
    assert visit.check_in is not None and visit.check_in_distance_m > 2000
    saved = await svc(bot).store.customers.get(zhang.id)
    assert (saved.location.latitude, saved.location.longitude) == OFFICE  # a check-in never moves it

    clock.advance(timedelta(minutes=20))
    replies = await rep.send_location(*FAR)  # a second location is the check-out
    said(replies, "20 min")
    clock.advance(timedelta(hours=1))
    await open_card(rep, li)
    await log_visit(rep)  # not checked in
    replies = await rep.send("/visits")
    day = said(replies, "Visits of Wang Fang")
    assert day.text.index("Zhang Wei") < day.text.index("Li Lei")
    assert [line.split(".")[0] for line in day.text.splitlines()[1:]] == ["1", "2"]  # one line each
    assert "⚠️ far" in day.text and "not checked in" in day.text


async def test_check_in_in_chinese_saves_the_location_then_checks_out(
    people: dict[str, Any], bot: Any, clock: Any
) -> None:
    rep = people["rep_zh"]
    zhang = await customer(bot, "张伟", REP_ZH, address="上海市浦东新区世纪大道88号")
    await open_card(rep, zhang)
    replies = await log_visit(rep, zh=True)
    said(replies, "签到")
    [button] = reply_keyboard(rep)
    assert button["text"] == "📍 签到" and button["request_location"] is True
    rep.device_location = (*OFFICE, None)
    replies = await rep.press("📍 签到")
    checked = said(replies, "已在")
    assert "此位置已保存为客户位置" in checked.text and "世纪大道88号" in checked.text
    saved = await svc(bot).store.customers.get(zhang.id)
    assert (saved.location.latitude, saved.location.longitude) == OFFICE
    clock.advance(timedelta(minutes=30))
    replies = await rep.press("🏁 签退")
    out = said(replies, "已从")
    assert "拜访时长：30 分钟" in out.text
    replies = await rep.send("/visits")
    day = said(replies, "李娜 的拜访")
    assert "张伟" in day.text and "30 分钟" in day.text

    # the next visit shows its distance from the saved location, in metres and 公里
    clock.advance(timedelta(hours=1))
    await open_card(rep, zhang)
    await log_visit(rep, zh=True)
    replies = await rep.send_location(*FAR)
    checked = said(replies, "已在")
    assert "2.2公里" in checked.text and "较远" in checked.text


async def test_live_location_serves_as_check_out(people: dict[str, Any], bot: Any, clock: Any) -> None:
    rep = people["rep"]
    zhang = await customer(bot, "Zhang Wei", REP, location=located(bot, *OFFICE))
    await open_card(rep, zhang)
    await log_visit(rep)
    replies = await rep.send_location(*NEAR, live_period=7200)
    checked = said(replies, "Checked in at")
    assert "Live location" in checked.text
    live = [m for m in rep.messages() if not m.from_bot and m.location][-1]
    clock.advance(timedelta(minutes=25))
    await rep.move_live_location(live.message_id, *OFFICE)
    [visit] = await interactions_of(bot, zhang)
    assert visit.check_in.live and visit.checked_out_at - visit.check_in.at == timedelta(minutes=25)
    clock.advance(timedelta(minutes=10))
    await rep.move_live_location(live.message_id, *NEAR)
    [visit] = await interactions_of(bot, zhang)
    assert visit.checked_out_at - visit.check_in.at == timedelta(minutes=35)  # its last update
    replies = await rep.send("/visits")
    assert "35 min" in said(replies, "Visits of Wang Fang").text
    # "🏁 Check out" ends it for good: later updates of the live location no longer move the end
    clock.advance(timedelta(minutes=5))
    await rep.press("🏁 Check out")
    clock.advance(timedelta(minutes=30))
    await rep.move_live_location(live.message_id, *FAR)
    [visit] = await interactions_of(bot, zhang)
    assert visit.checked_out_at - visit.check_in.at == timedelta(minutes=40) and not visit.check_in.live


async def test_set_location_from_the_card(people: dict[str, Any], bot: Any) -> None:
    rep = people["rep"]
    zhang = await customer(bot, "Zhang Wei", REP)
    await open_card(rep, zhang)
    replies = await rep.press("📍 Set location")
    said(replies, "Send the location of")
    rep.device_location = (*OFFICE, 20.0)
    replies = await rep.press("📍 Send this location")
    said(replies, "Saved: the location of")
    saved = await svc(bot).store.customers.get(zhang.id)
    assert (saved.location.latitude, saved.location.longitude) == OFFICE
    # no visit waiting: a location explains what to do, and changes nothing
    replies = await rep.send_location(*FAR)
    said(replies, "No visit waiting for a check-in")
    assert (await svc(bot).store.customers.get(zhang.id)).location == saved.location


async def test_access_other_rep_and_manager(people: dict[str, Any], bot: Any, clock: Any) -> None:
    rep, other, manager = people["rep"], people["other"], people["manager"]
    zhang = await customer(bot, "Zhang Wei", REP, location=located(bot, *OFFICE))
    await open_card(rep, zhang)
    await log_visit(rep)
    await rep.send_location(*NEAR)
    [visit] = await interactions_of(bot, zhang)
    await other.send("/start")
    last = other.last_message().message_id
    for forged in (f"visit:out:{visit.id}", f"visit:setloc:{zhang.id}", f"visit:day:{REP}"):
        await other.press_forged(last, forged)
        assert other.callback_answers[-1]["text"] == NOT_AVAILABLE, forged
    [visit] = await interactions_of(bot, zhang)
    assert visit.checked_out_at is None
    assert (await svc(bot).store.customers.get(zhang.id)).location.latitude == OFFICE[0]
    # the other rep's location does not touch someone else's visit
    await other.send_location(*FAR)
    [visit] = await interactions_of(bot, zhang)
    assert visit.checked_out_at is None
    # a manager sees the team's reps' visits through the picker
    replies = await manager.send("/visits")
    day = said(replies, "Visits of Mia")
    labels = [label for row in day.button_labels() for label in row]
    assert "Wang Fang" in labels and "Rob" in labels
    replies = await manager.press("Wang Fang")
    assert "Zhang Wei" in said(replies, "Visits of Wang Fang").text


async def test_the_report_counts_visits_with_a_verified_location_per_rep(
    people: dict[str, Any], bot: Any, clock: Any
) -> None:
    rep, manager = people["rep"], people["manager"]
    zhang = await customer(bot, "Zhang Wei", REP, location=located(bot, *OFFICE))
    li = await customer(bot, "Li Lei", REP)
    await open_card(rep, zhang)
    await log_visit(rep)
    await rep.send_location(*NEAR)
    await rep.press("🏁 Check out")
    await open_card(rep, li)
    await log_visit(rep)  # never checked in: not counted
    clock.advance(timedelta(minutes=5))
    await manager.send("/report")
    replies = await manager.press("Today")
    text = " ".join(m.text or m.caption or "" for m in replies)
    assert "Wang Fang: 2" in text and "📍 1 checked-in visit" in text
