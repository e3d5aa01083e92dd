"""Deals (商机): creating, editing, moving through the stages, winning and losing; the nudges.

Every method takes the acting staff user and re-checks access
(``access.can_view_deal``; creating one needs the customer visible): the ids a
handler passes in came from buttons or typed text and are not trusted.  Every
write is audited with before and after.  A deal belongs to its customer's owner
and team (like a purchase), so "my deals" and "my team's deals" follow the
customer rules.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from bot.clock import Clock
from bot.config import Config
from bot.domain import access
from bot.domain import deals as rules
from bot.domain.models import LOST_STAGE, WON_STAGE, Customer, Deal, ReminderKind, Role, StaffUser
from bot.services.audit import AuditService
from bot.services.customers import CustomerService
from bot.services.drafts import insert_once
from bot.services.errors import AccessDenied, update_or_refuse
from bot.services.interactions import InteractionService
from bot.services.reminders import ReminderService
from storage.base import Range, Store

#: The fields the deal form edits (the rest move with the stage or are derived).
EDITABLE = ("title", "amount", "currency", "expected_close_on", "probability", "products", "next_step")


@dataclass(frozen=True)
class QuickDealMatch:
    """Who a quick entry is about (one, several or none), and what the rest of it said."""

    candidates: list[Customer]
    parsed: rules.QuickDeal | None
    rest: str


class DealService:
    def __init__(self, store: Store, clock: Clock, config: Config, audit: AuditService,
                 customers: CustomerService, interactions: InteractionService,
                 reminders: ReminderService) -> None:
        self.store = store
        self.clock = clock
        self.config = config
        self.audit = audit
        self.customers = customers
        self.interactions = interactions
        self.reminders = reminders

    @property
    def pipeline(self) -> rules.Pipeline:
        return self.config.deals.pipeline

    def today(self) -> date:
        return self.clock.now().astimezone(self.config.tz).date()

    # ---- reading -------------------------------------------------------------------------
    async def get(self, actor: StaffUser, deal_id: str) -> Deal:
        """The deal, if the actor may see it; AccessDenied otherwise (also when it does not exist)."""
        deal = await self.store.deals.get(deal_id) if 0 < len(deal_id) <= 64 else None
        if deal is None or not access.can_view_deal(actor, deal):
            raise AccessDenied(f"deal {deal_id}")
        return deal

    async def with_customer(self, actor: StaffUser, deal_id: str) -> tuple[Deal, Customer | None]:
        deal = await self.get(actor, deal_id)
        customer = await self.store.customers.get(deal.customer_id)
        return deal, customer if customer is not None and access.can_view_customer(actor, customer) else None

    async def open_deals(self, actor: StaffUser, *, owner_id: str | None = None) -> list[Deal]:
        """The open deals the actor may see: a rep's own, a manager's teams' (and own), everyone's
        for an admin; ``owner_id`` narrows to one rep's (managers' filter)."""
        if not access.is_active(actor):
            raise AccessDenied("deals")
        where: dict[str, Any] = {"open": True}
        if owner_id is not None:
            found = await self.store.deals.find({**where, "owner_id": owner_id})
        elif actor.role is Role.ADMIN:
            found = await self.store.deals.find(where)
        else:
            by_id = {d.id: d for d in await self.store.deals.find({**where, "owner_id": actor.id})}
            if actor.role is Role.MANAGER:
                for team in actor.teams:
                    by_id.update({d.id: d for d in await self.store.deals.find({**where, "team": team})})
            found = list(by_id.values())
        return [d for d in found if access.can_view_deal(actor, d)]

    async def for_customer(self, actor: StaffUser, customer_id: str) -> tuple[Customer, list[Deal]]:
        customer = await self.customers.visible(actor, customer_id)
        deals = await self.store.deals.find({"customer_id": customer.id}, order_by="created_at", descending=True)
        return customer, [d for d in deals if access.can_view_deal(actor, d)]

    async def reps_with_deals(self, actor: StaffUser) -> list[StaffUser]:
        """Whom a manager may filter ``/deals`` by: the active people of their teams (or everyone)."""
        if not access.sees_team(actor):
            return []
        people = [u for u in await self.store.staff.find({"active": True}) if u.id != actor.id]
        if actor.role is not Role.ADMIN:
            people = [u for u in people if set(u.teams) & set(actor.teams)]
        return sorted(people, key=lambda u: u.name)

    # ---- quick entry ---------------------------------------------------------------------
    async def match_quick(self, actor: StaffUser, text: str) -> QuickDealMatch:
        """``张伟 CRM Pro 5万 报价 下月底``: the customer by name (as a quick log matches it), then the
        rest parsed (``rules.parse_quick_deal``: ValidationError on a bad amount or date)."""
        match = await self.interactions.match_customer(actor, text)
        now = self.clock.now()
        parsed = rules.parse_quick_deal(match.rest, self.pipeline, now=now, tz=self.config.tz) \
            if match.candidates else None
        return QuickDealMatch(match.candidates, parsed, match.rest)

    # ---- writing -------------------------------------------------------------------------
    async def create(self, actor: StaffUser, customer_id: str, *, title: str, amount: Decimal,
                     currency: str | None = None, stage: str | None = None, probability: int | None = None,
                     expected_close_on: date | None = None, products: list[str] | None = None,
                     next_step: str | None = None, record_id: str | None = None) -> Deal:
        customer = await self.customers.visible(actor, customer_id)
        found = self.pipeline.stage(stage or self.pipeline.open_stages[0].code)
        if found is None:
            raise AccessDenied(f"stage {stage}")
        now = self.clock.now()
        deal = Deal(
            customer_id=customer.id, owner_id=customer.owner_id, team=customer.team, title=title,
            amount=amount, currency=currency or self.config.locale.currency, stage=found.code,
            probability=found.probability if probability is None else probability,
            expected_close_on=expected_close_on, products=list(products or []), next_step=next_step,
            stage_changed_at=now, stage_history=[rules.StageChange(stage=found.code, at=now, by=actor.id)],
            created_by=actor.id, created_at=now, updated_at=now, **({"id": record_id} if record_id else {}),
        )
        if found.code in (WON_STAGE, LOST_STAGE):
            deal = rules.move(dataclasses.replace(deal, stage=self.pipeline.open_stages[0].code, open=True),
                              found, now=now, today=self.today(), by=actor.id)
            deal = dataclasses.replace(deal, stage_history=deal.stage_history[-1:])
        saved = await insert_once(self.store.deals, deal)
        await self.audit.record_change(actor.id, "create", "deal", None, saved)
        return saved

    async def update(self, actor: StaffUser, deal_id: str, values: dict[str, Any]) -> Deal:
        """Change the form's fields (``EDITABLE``) of a deal the actor may see."""
        await self.get(actor, deal_id)
        changes = {k: v for k, v in values.items() if k in EDITABLE}

        def edit(deal: Deal) -> Deal | None:
            if not access.can_view_deal(actor, deal):
                raise AccessDenied(f"deal {deal_id}")
            changed = dataclasses.replace(deal, **changes, updated_at=self.clock.now())
            return None if all(getattr(deal, k) == getattr(changed, k) for k in changes) else changed

        before, after = await update_or_refuse(self.store.deals, deal_id, edit, what=f"deal {deal_id}")
        if after is not before:
            await self.audit.record_change(actor.id, "update", "deal", before, after)
        return after

    async def move(self, actor: StaffUser, deal_id: str, stage_code: str, *,
                   lost_reason: str | None = None) -> tuple[Deal, Deal]:
        """Move a deal to a stage (won and lost too): (before, after); audited as ``stage``."""
        stage = self.pipeline.stage(stage_code)
        if stage is None:
            raise AccessDenied(f"stage {stage_code}")
        await self.get(actor, deal_id)
        now, today = self.clock.now(), self.today()

        def moved(deal: Deal) -> Deal | None:
            if not access.can_view_deal(actor, deal):
                raise AccessDenied(f"deal {deal_id}")
            after = rules.move(deal, stage, now=now, today=today, by=actor.id, lost_reason=lost_reason)
            return None if after is deal else after

        before, after = await update_or_refuse(self.store.deals, deal_id, moved, what=f"deal {deal_id}")
        if after is not before:
            await self.audit.record_change(actor.id, "stage", "deal", before, after)
        return before, after

    async def win(self, actor: StaffUser, deal_id: str) -> Deal:
        return (await self.move(actor, deal_id, WON_STAGE))[1]

    async def lose(self, actor: StaffUser, deal_id: str, reason: str) -> Deal:
        return (await self.move(actor, deal_id, LOST_STAGE, lost_reason=reason))[1]

    # ---- nudges --------------------------------------------------------------------------
    async def nudge_scan(self, now: datetime) -> int:
        """Tell owners about open deals past their close date or stuck in a stage (one nudge per deal
        and state: dedupe keys, ``rules.nudge_key``), through the outbox."""
        today = now.astimezone(self.config.tz).date()
        active = {u.id for u in await self.store.staff.find({"active": True})}
        count = 0
        for deal in await self.store.deals.find({"open": True}):
            reason = rules.nudge(deal, self.pipeline, now=now, today=today)
            if reason is None or deal.owner_id not in active:
                continue
            await self.reminders.schedule(
                kind=ReminderKind.DEAL_NUDGE, recipient_id=deal.owner_id, due_at=now,
                dedupe_key=rules.nudge_key(deal, reason), customer_id=deal.customer_id,
                payload={"deal_id": deal.id, "reason": reason},
            )
            count += 1
        return count

    async def nudged(self, recipient: StaffUser, deal_id: str) -> Deal | None:
        """The deal a nudge is about, if it still is worth one to this person (delivery time)."""
        deal = await self.store.deals.get(deal_id) if deal_id else None
        if deal is None or deal.owner_id != recipient.id:
            return None
        reason = rules.nudge(deal, self.pipeline, now=self.clock.now(), today=self.today())
        return deal if reason is not None else None


async def report_deals(store: Store, *, kind: str, teams: tuple[str, ...], owner_id: str | None,
                       start: datetime, end: datetime) -> list[Deal]:
    """The deals a report's scope covers (``ReportScope``: "all", "team" or "rep"): those created or
    closed in ``[start, end)`` and every open one."""
    by_id: dict[str, Deal] = {}
    for found in (await store.deals.find(within=Range("created_at", start, end)),
                  await store.deals.find(within=Range("closed_at", start, end)),
                  await store.deals.find({"open": True})):
        by_id.update({d.id: d for d in found})
    if kind == "rep":
        return [d for d in by_id.values() if d.owner_id == owner_id]
    if kind == "team":
        return [d for d in by_id.values() if d.team in teams]
    return list(by_id.values())
