"""DealService: access on every call (owner, their team's managers, admins), audit with before and
after, stage moves, one nudge per deal and state through the outbox."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bot.clock import SimulatedClock
from bot.config import load_config
from bot.domain.models import Customer, ReminderKind, Role, StaffUser
from bot.services import Services
from bot.services.errors import AccessDenied
from storage import open_store

NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    clock = SimulatedClock(NOW)
    config = load_config(search=False, environ={})
    async with open_store("tinydb", path=tmp_path) as store:
        svc = Services(config=config, store=store, clock=clock)
        people = {}
        for uid, name, role, teams in (("1", "Rita", Role.REP, ["east"]), ("2", "Rob", Role.REP, ["west"]),
                                       ("3", "Mia", Role.MANAGER, ["east"]), ("4", "Max", Role.MANAGER, ["west"]),
                                       ("5", "Ada", Role.ADMIN, [])):
            people[name] = await store.staff.insert(StaffUser(id=uid, telegram_id=int(uid), name=name, role=role,
                                                              teams=teams, created_at=NOW, updated_at=NOW))
        east = await store.customers.insert(Customer(name="Zhang Wei", owner_id="1", team="east",
                                                     created_at=NOW, updated_at=NOW))
        yield {"svc": svc, "store": store, "clock": clock, "east": east, **people}


async def test_who_sees_a_deal(world: dict[str, Any]) -> None:
    svc = world["svc"]
    deal = await svc.deals.create(world["Rita"], world["east"].id, title="CRM Pro", amount=Decimal(50000),
                                  stage="proposal", expected_close_on=date(2026, 4, 30))
    assert (deal.owner_id, deal.team, deal.probability, deal.currency) == ("1", "east", 60, "CNY")
    for name in ("Rita", "Mia", "Ada"):
        assert (await svc.deals.get(world[name], deal.id)).id == deal.id
        assert [d.id for d in await svc.deals.open_deals(world[name])] == [deal.id]
    for name in ("Rob", "Max"):
        with pytest.raises(AccessDenied):
            await svc.deals.get(world[name], deal.id)
        with pytest.raises(AccessDenied):
            await svc.deals.move(world[name], deal.id, "negotiation")
        with pytest.raises(AccessDenied):
            await svc.deals.create(world[name], world["east"].id, title="Mine now", amount=Decimal(1))
        assert await svc.deals.open_deals(world[name]) == []
    assert (await world["store"].deals.get(deal.id)).stage == "proposal"
    with pytest.raises(AccessDenied):
        await svc.deals.get(world["Rita"], "nosuchdeal")


async def test_moves_are_audited_with_before_and_after(world: dict[str, Any]) -> None:
    svc, store = world["svc"], world["store"]
    deal = await svc.deals.create(world["Rita"], world["east"].id, title="CRM Pro", amount=Decimal(50000))
    await svc.deals.move(world["Mia"], deal.id, "negotiation")
    lost = await svc.deals.lose(world["Rita"], deal.id, "Price too high")
    assert (lost.stage, lost.open, lost.lost_reason, lost.probability) == ("lost", False, "Price too high", 0)
    won = await svc.deals.win(world["Rita"], deal.id)
    assert (won.stage, won.lost_reason, won.won_on) == ("won", None, date(2026, 3, 2))
    events = await store.audit.find({"entity_id": deal.id})  # one instant: the clock stands still
    assert sorted(e.action for e in events) == ["create", "stage", "stage", "stage"]
    moves = {tuple(e.changes["stage"]): e for e in events if e.action == "stage"}
    assert set(moves) == {("prospecting", "negotiation"), ("negotiation", "lost"), ("lost", "won")}
    assert moves[("prospecting", "negotiation")].actor_id == "3"  # the manager moved it
    assert moves[("prospecting", "negotiation")].changes["probability"] == [10, 80]
    assert moves[("negotiation", "lost")].changes["lost_reason"] == [None, "Price too high"]
    assert moves[("lost", "won")].changes["lost_reason"] == ["Price too high", None]
    updated = await svc.deals.update(world["Rita"], deal.id, {"next_step": "invoice", "stage": "ignored"})
    assert updated.next_step == "invoice" and updated.stage == "won"
    assert len(await store.audit.find({"entity_id": deal.id, "action": "update"})) == 1
    with pytest.raises(AccessDenied):
        await svc.deals.move(world["Rita"], deal.id, "nosuchstage")


async def test_one_nudge_per_deal_and_state(world: dict[str, Any]) -> None:
    svc, store, clock = world["svc"], world["store"], world["clock"]
    deal = await svc.deals.create(world["Rita"], world["east"].id, title="CRM Pro", amount=Decimal(50000),
                                  stage="negotiation", expected_close_on=date(2026, 3, 20))
    assert await svc.deals.nudge_scan(clock.now()) == 0
    clock.set(NOW + timedelta(days=7))  # negotiation is stuck after 7 days
    assert await svc.deals.nudge_scan(clock.now()) == 1
    assert await svc.deals.nudge_scan(clock.now()) == 1  # scheduled again: the dedupe key keeps one
    nudges = await store.reminders.find({"kind": ReminderKind.DEAL_NUDGE.value})
    assert len(nudges) == 1 and nudges[0].recipient_id == "1" and nudges[0].payload["reason"] == "stuck"
    clock.set(NOW + timedelta(days=20))  # now past its close date too: a second, different nudge
    await svc.deals.nudge_scan(clock.now())
    reasons = sorted(r.payload["reason"] for r in await store.reminders.find({"kind": ReminderKind.DEAL_NUDGE.value}))
    assert reasons == ["overdue", "stuck"]
    assert await svc.deals.nudged(world["Rita"], deal.id) is not None
    await svc.deals.win(world["Rita"], deal.id)
    assert await svc.deals.nudged(world["Rita"], deal.id) is None  # won since: nothing to say
    assert await svc.deals.nudge_scan(clock.now()) == 0


async def test_the_daily_agenda_lists_the_owners_deals_that_need_attention(world: dict[str, Any]) -> None:
    svc, rita, clock = world["svc"], world["Rita"], world["clock"]
    today = NOW.astimezone(svc.config.tz).date()
    closing = await svc.deals.create(rita, world["east"].id, title="Closing", amount=Decimal(1), stage="proposal",
                                     expected_close_on=today)
    late = await svc.deals.create(rita, world["east"].id, title="Late", amount=Decimal(1), stage="proposal",
                                  expected_close_on=today - timedelta(days=2))
    stuck = await svc.deals.create(rita, world["east"].id, title="Stuck", amount=Decimal(1), stage="negotiation")
    await svc.deals.create(rita, world["east"].id, title="Fine", amount=Decimal(1), stage="prospecting",
                           expected_close_on=today + timedelta(days=30))
    lost = await svc.deals.create(rita, world["east"].id, title="Gone", amount=Decimal(1), stage="proposal",
                                  expected_close_on=today - timedelta(days=2))
    await svc.deals.lose(rita, lost.id, "Other")
    first = await svc.generator.agenda(rita, today)
    assert [(a.deal.id, a.reason, a.days, c.name) for a, c in first["deals"]] == [
        (closing.id, "today", 0, "Zhang Wei"), (late.id, "overdue", 2, "Zhang Wei")]
    clock.set(NOW + timedelta(days=8))  # negotiation is stuck after 7 days (proposal after 10)
    day = clock.now().astimezone(svc.config.tz).date()
    agenda = await svc.generator.agenda(rita, day)
    assert [(a.deal.id, a.reason, a.days) for a, _c in agenda["deals"]] == [
        (late.id, "overdue", 10), (closing.id, "overdue", 8), (stuck.id, "stuck", 8)]
    # another rep's agenda does not list Rita's deals
    assert (await svc.generator.agenda(world["Rob"], day))["deals"] == []
