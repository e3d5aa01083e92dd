"""Customers: the use cases around the customer card (客户管理卡).

Every method takes the acting staff user and checks what they may see or
change with ``bot.domain.access`` — whatever ids a handler passes in came
from a button and are not trusted.
"""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from bot.clock import Clock
from bot.config import Config
from bot.domain import access, card, reorder
from bot.domain.classification import Classification, ClassificationRules, classify
from bot.domain.duplicates import REASONS, find_duplicates
from bot.domain.models import (
    Customer,
    Feedback,
    FeedbackStatus,
    Interaction,
    LifecycleStage,
    Note,
    Purchase,
    ReminderStatus,
    Role,
    StaffUser,
    ValueTier,
)
from bot.domain.reorder import ReorderPrediction
from bot.domain.search import name_sort_key, search_doc
from bot.services.audit import AuditService
from bot.services.drafts import insert_once
from bot.services.errors import AccessDenied, update_or_refuse
from bot.services.reminder_generation import changed
from bot.services.reminders import ReminderService
from bot.services.search_index import CustomerSearchIndex
from storage.base import ConflictError, NotFoundError, Store, Transaction

CARD_REQUESTS = "card_request"  # kv namespace: a rep's open request for a colleague's customer


@dataclass(frozen=True)
class Duplicates:
    """Existing customers a new one may duplicate: the ones the rep may open, and how many others."""

    visible: list[tuple[Customer, str]]  # (customer, reason: phone | name_company)
    hidden: int


@dataclass(frozen=True)
class CardView:
    customer: Customer
    classification: Classification
    owner: StaffUser | None
    referrer: Customer | None
    recent_purchases: list[Purchase]
    open_feedback: list[Feedback]
    revenue_12m: Decimal
    last_contact: datetime | None
    referrer_hidden: bool = False  # a referrer is set but the actor may not see it (``referrer`` is None)
    reorder: ReorderPrediction | None = None  # the predicted next purchase (bot.domain.reorder)


@dataclass(frozen=True)
class TimelineItem:
    at: datetime
    kind: str  # interaction | feedback | purchase | note
    record: Interaction | Feedback | Purchase | Note


@dataclass(frozen=True)
class ListFilter:
    owner_id: str | None = None
    tier: str | None = None
    stage: str | None = None
    tag: str | None = None
    city: str | None = None
    archived: bool = False


class CustomerService:
    def __init__(
        self, store: Store, clock: Clock, config: Config, audit: AuditService, reminders: ReminderService
    ) -> None:
        self.store = store
        self.clock = clock
        self.config = config
        self.audit = audit
        self.reminders = reminders
        self.search_index = CustomerSearchIndex(store)

    @property
    def rules(self) -> ClassificationRules:
        """The ``[classification]`` section, built once at start-up."""
        return self.config.classification

    def input_context(self) -> card.InputContext:
        return card.InputContext(
            phone_region=self.config.locale.phone_region,
            today=self.clock.now().astimezone(self.config.tz).date(),
        )

    # ---- reading -------------------------------------------------------------------------
    async def visible(self, actor: StaffUser, customer_id: str) -> Customer:
        """The customer, if the actor may see it; AccessDenied otherwise (also when it does not exist)."""
        customer = await self.store.customers.get(customer_id) if len(customer_id) <= 64 else None
        if customer is None or not access.can_view_customer(actor, customer):
            raise AccessDenied(f"customer {customer_id}")
        return customer

    async def all_visible(self, actor: StaffUser, *, archived: bool | None = False) -> list[Customer]:
        """Every customer the actor may see: their own, their teams', or all (admins)."""
        if not access.is_active(actor):
            raise AccessDenied("customers")
        where: dict[str, Any] = {} if archived is None else {"archived": archived}
        if actor.role is Role.ADMIN:
            found = await self.store.customers.find(where)
        else:
            by_id = {c.id: c for c in await self.store.customers.find({**where, "owner_id": actor.id})}
            if actor.role is Role.MANAGER:
                for team in actor.teams:
                    by_id.update({c.id: c for c in await self.store.customers.find({**where, "team": team})})
            found = list(by_id.values())
        return [c for c in found if access.can_view_customer(actor, c)]

    async def count_owned(self, owner_id: str) -> int:
        return await self.store.customers.count({"owner_id": owner_id})

    async def card(self, actor: StaffUser, customer_id: str) -> CardView:
        customer = await self.visible(actor, customer_id)
        purchases = await self.store.purchases.find({"customer_id": customer.id}, order_by="purchased_on",
                                                    descending=True)
        interactions = await self.store.interactions.find({"customer_id": customer.id, "deleted": False})
        feedback = await self.store.feedback.find({"customer_id": customer.id, "deleted": False})
        now = self.clock.now().astimezone(self.config.tz)
        result = classify(customer, purchases, interactions, now, self.rules)
        since = now.date() - timedelta(days=self.rules.window_days)
        revenue = sum((p.amount for p in purchases if p.purchased_on > since), Decimal(0))
        referrer = None
        if customer.referred_by:
            ref = await self.store.customers.get(customer.referred_by)
            referrer = ref if ref is not None and access.can_view_customer(actor, ref) else None
        contacts = [i.occurred_at for i in interactions]
        if customer.last_contact_at:
            contacts.append(customer.last_contact_at)
        return CardView(
            customer=customer,
            classification=result,
            owner=await self.store.staff.get(customer.owner_id),
            referrer=referrer,
            recent_purchases=purchases[:3],
            open_feedback=[f for f in feedback if f.status in (FeedbackStatus.OPEN, FeedbackStatus.IN_PROGRESS)],
            revenue_12m=revenue,
            last_contact=max(contacts) if contacts else None,
            referrer_hidden=bool(customer.referred_by) and referrer is None,
            reorder=self._predict(purchases, now.date()),
        )

    def _predict(self, purchases: list[Purchase], today: date) -> ReorderPrediction | None:
        rules = self.config.reorder
        return reorder.predict(purchases, today=today, rules=rules) if rules.enabled else None

    async def reorder_prediction(self, actor: StaffUser, customer_id: str) -> ReorderPrediction | None:
        """The customer's predicted next purchase, now (None: too little or too irregular history)."""
        customer = await self.visible(actor, customer_id)
        purchases = await self.store.purchases.find({"customer_id": customer.id})
        return self._predict(purchases, self.clock.now().astimezone(self.config.tz).date())

    async def search(self, actor: StaffUser, query: str, limit: int = 50) -> list[Customer]:
        """Customers the actor may see, best match first (names, pinyin, phone digits, tags…).

        Ranked by the store's search index (``bot/services/search_index.py``),
        then read by id and checked again: the index only proposes.
        """
        if not access.is_active(actor):
            raise AccessDenied("customers")
        matches = await self.search_index.rank(actor, query, limit)
        return await self._visible_by_id(actor, [m.id for m in matches])

    async def visible_names(self, actor: StaffUser) -> dict[str, str]:
        """id → name of every customer the actor may see, archived ones too, from the search
        index (no record is read): what ``all_visible(actor, archived=None)`` would name."""
        if not access.is_active(actor):
            raise AccessDenied("customers")
        return await self.search_index.names(actor)

    async def visible_by_id(self, actor: StaffUser, ids: list[str]) -> list[Customer]:
        """Those of ``ids`` that exist and the actor may see, in that order."""
        return await self._visible_by_id(actor, ids)

    async def _visible_by_id(self, actor: StaffUser, ids: list[str]) -> list[Customer]:
        found = await asyncio.gather(*(self.store.customers.get(i) for i in ids))
        return [c for c in found if c is not None and access.can_view_customer(actor, c)]

    async def listing(self, actor: StaffUser, filters: ListFilter) -> list[Customer]:
        customers = await self.all_visible(actor, archived=filters.archived)
        result = []
        for c in customers:
            if filters.owner_id and c.owner_id != filters.owner_id:
                continue
            if filters.tier and (c.effective_tier.value if c.effective_tier else "none") != filters.tier:
                continue
            if filters.stage and c.effective_stage.value != filters.stage:
                continue
            if filters.tag and filters.tag not in c.tags:
                continue
            if filters.city and (c.city or "") != filters.city:
                continue
            result.append(c)
        return await asyncio.to_thread(sorted, result, key=_by_name)

    async def history(self, actor: StaffUser, customer_id: str) -> list[TimelineItem]:
        customer = await self.visible(actor, customer_id)
        items = [TimelineItem(i.occurred_at, "interaction", i)
                 for i in await self.store.interactions.find({"customer_id": customer.id, "deleted": False})]
        items += [TimelineItem(f.created_at, "feedback", f)
                  for f in await self.store.feedback.find({"customer_id": customer.id, "deleted": False})]
        items += [TimelineItem(n.created_at, "note", n)
                  for n in await self.store.notes.find({"customer_id": customer.id, "deleted": False})]
        tz = self.config.tz
        items += [TimelineItem(datetime.combine(p.purchased_on, datetime.min.time(), tz), "purchase", p)
                  for p in await self.store.purchases.find({"customer_id": customer.id})]
        return sorted(items, key=lambda item: item.at, reverse=True)

    # ---- creating ------------------------------------------------------------------------
    async def duplicates(self, actor: StaffUser, draft: dict[str, Any], *, record_id: str | None = None
                         ) -> Duplicates:
        """Same phone anywhere, or a very similar name in the same company (Zoho/Fxiaoke-style 查重).

        Phones are looked up in the store's index (everyone's customers);
        the same e-mail or a similar name in the same company among the
        customers the actor may see, in the search index — no customer is
        decoded but the ones reported. ``record_id``: the draft's own record, if an earlier
        save of it was stored — not a duplicate.
        """
        candidates: dict[str, Customer] = {}
        for phone in draft.get("phones", []):
            for c in await self.store.customers.find({"phones": phone}):
                candidates[c.id] = c
        new = card.customer_from_draft(draft, owner_id=actor.id, team=None, created_by=actor.id,
                                       now=self.clock.now())
        strongest = {d.customer_id: d for d in find_duplicates(new, list(candidates.values()))}
        for duplicate in await self.search_index.similar(actor, search_doc(new)):
            known = strongest.get(duplicate.customer_id)
            if known is None or REASONS.index(duplicate.reason) < REASONS.index(known.reason):
                strongest[duplicate.customer_id] = duplicate
        strongest.pop(record_id or "", None)
        missing = [i for i in strongest if i not in candidates]
        for customer in await asyncio.gather(*(self.store.customers.get(i) for i in missing)):
            if customer is not None:
                candidates[customer.id] = customer
        found = sorted((d for d in strongest.values() if d.customer_id in candidates),
                       key=lambda d: REASONS.index(d.reason))
        visible, hidden = [], 0
        for duplicate in found:
            customer = candidates[duplicate.customer_id]
            if access.can_view_customer(actor, customer):
                visible.append((customer, duplicate.reason))
            else:
                hidden += 1
        return Duplicates(visible, hidden)

    async def colleague_duplicates(self, actor: StaffUser, draft: dict[str, Any]) -> list[tuple[Customer, str]]:
        """The customers behind ``duplicates().hidden``: colleagues' the actor may not open, each
        with its reason (phone | email | name_company). Never shown to the actor: the handler
        stops the save on them (``access.duplicate_blocks_save``) and offers a card request."""
        candidates: dict[str, Customer] = {}
        for phone in draft.get("phones", []):
            candidates.update((c.id, c) for c in await self.store.customers.find({"phones": phone}))
        if not candidates:
            return []
        new = card.customer_from_draft(draft, owner_id=actor.id, team=None, created_by=actor.id,
                                       now=self.clock.now())
        return [(candidates[d.customer_id], d.reason) for d in find_duplicates(new, list(candidates.values()))
                if not access.can_view_customer(actor, candidates[d.customer_id])]

    # ---- asking a colleague's manager for a card (issue 13, point 21) ----------------------
    @staticmethod
    def _request_key(customer_id: str, requester_id: str) -> str:
        return f"{CARD_REQUESTS}:{customer_id}:{requester_id}"

    async def request_card(self, actor: StaffUser, customer: Customer) -> list[StaffUser]:
        """Record ``actor``'s request for a colleague's ``customer`` and return whom to ask: the
        managers who see it, and the admins when none of those may hand it to ``actor``
        (``access.card_request_recipients``). The caller found ``customer`` as a duplicate
        of what ``actor`` typed (``colleague_duplicates``); nothing here is shown to ``actor``."""
        if not access.is_active(actor) or access.can_view_customer(actor, customer):
            raise AccessDenied(f"card request {customer.id}")
        now = self.clock.now()
        await self.store.kv.put(self._request_key(customer.id, actor.id),
                                {"status": "open", "at": now.isoformat()}, namespace=CARD_REQUESTS, now=now)
        await self.audit.record(actor.id, "card_request", "customer", customer.id, note="asked for the card")
        staff = await self.store.staff.find({"active": True})
        return access.card_request_recipients(customer, actor, staff)

    async def answer_card_request(
        self, actor: StaffUser, customer_id: str, requester_id: str, *, give: bool
    ) -> tuple[Customer, StaffUser, str | None]:
        """A manager's (or admin's) answer to a card request: hand the customer to the requester,
        or decline. Returns (customer, requester, who answered it first — None: this answer).

        Re-checked on every press: the request must exist, the actor must see the customer and
        (to give it) may reassign it to the requester; the first answer wins."""
        customer = await self.visible(actor, customer_id)
        requester = await self.store.staff.get(requester_id) if len(requester_id) <= 64 else None
        key = self._request_key(customer_id, requester_id)
        request = await self.store.kv.get(key)
        if requester is None or request is None or not access.can_reassign_customers(actor):
            raise AccessDenied(f"card request {customer_id} by {requester_id}",
                               needs=access.missing_role(actor, Role.MANAGER))
        now = self.clock.now()
        outcome = "given" if give else "declined"

        def claim(kv: Any) -> Any:  # compare-and-set: of two answers at once, one wins
            if kv.value.get("status") != "open":
                return None
            return dataclasses.replace(kv, value={**kv.value, "status": outcome, "by": actor.id}, updated_at=now)

        before, after = await update_or_refuse(self.store.kv, key, claim, what=f"card request {key}")
        if after is before:
            return customer, requester, before.value.get("by")
        if give:
            try:
                customer = await self.reassign(actor, customer_id, requester_id)
            except AccessDenied:  # may not hand it to them (another team, deactivated): still open
                await self.store.kv.put(key, before.value, namespace=CARD_REQUESTS, now=now)
                raise
        if not give:
            await self.audit.record(actor.id, "card_request_declined", "customer", customer_id,
                                    note=f"request by {requester_id} declined")
        return customer, requester, None

    async def create(self, actor: StaffUser, draft: dict[str, Any], *, record_id: str | None = None) -> Customer:
        """A new customer from a draft; ``record_id`` (the draft's token, ``bot.services.drafts``) is
        its id, so a repeated save is refused by the store (``AlreadySaved``) instead of storing a second."""
        if not access.is_active(actor):
            raise AccessDenied("create customer")
        now = self.clock.now()
        team = actor.teams[0] if actor.teams else None
        customer = card.customer_from_draft(draft, owner_id=actor.id, team=team, created_by=actor.id, now=now)
        if record_id:
            customer = dataclasses.replace(customer, id=record_id)
        await self._check_referrer(actor, customer)
        customer = await self._classified(customer, [], [])
        saved = await insert_once(self.store.customers, customer)
        await self.audit.record_change(actor.id, "create", "customer", None, saved)
        return saved

    async def _check_referrer(self, actor: StaffUser, customer: Customer) -> None:
        if customer.referred_by:
            await self.visible(actor, customer.referred_by)

    # ---- changing ------------------------------------------------------------------------
    async def update_card(self, actor: StaffUser, customer_id: str, draft: dict[str, Any]) -> Customer:
        """Save the edited card fields (the draft holds every card field the customer should have)."""
        customer = await self.visible(actor, customer_id)
        if not access.can_edit_customer(actor, customer):
            raise AccessDenied(f"edit {customer_id}")
        updated = card.apply_draft(customer, draft, self.clock.now())
        if updated.referred_by != customer.referred_by:  # a referrer kept as it was need not be visible
            await self._check_referrer(actor, updated)
        return await self._save(actor, "update", customer, updated)

    async def set_override(
        self, actor: StaffUser, customer_id: str, *, tier: str | None = None, stage: str | None = None,
        clear_tier: bool = False, clear_stage: bool = False,
    ) -> Customer:
        customer = await self.visible(actor, customer_id)
        changes: dict[str, Any] = {}
        if tier is not None or clear_tier:
            changes["value_tier_override"] = None if clear_tier else ValueTier(tier)
        if stage is not None or clear_stage:
            changes["stage_override"] = None if clear_stage else LifecycleStage(stage)
        updated = dataclasses.replace(customer, **changes, updated_at=self.clock.now())
        return await self._save(actor, "update", customer, updated)

    async def archive(self, actor: StaffUser, customer_id: str, archived: bool = True) -> Customer:
        customer = await self.visible(actor, customer_id)
        if customer.archived == archived:
            return customer
        updated = dataclasses.replace(customer, archived=archived, updated_at=self.clock.now())
        saved = await self._save(actor, "archive" if archived else "restore", customer, updated)
        if archived:
            for reminder in await self.store.reminders.find(
                {"customer_id": customer.id, "status": ReminderStatus.PENDING.value}
            ):
                reminder.status = ReminderStatus.CANCELLED
                reminder.last_error = "customer archived"
                reminder.updated_at = self.clock.now()
                try:
                    await self.store.reminders.update(reminder)
                except ConflictError:
                    continue
        return saved

    async def purge(self, actor: StaffUser, customer_id: str) -> None:
        """Delete a customer and everything recorded about them, for good (admins only).

        One transaction, its audit event included: a crash or an error half-way
        leaves the customer whole, never a customer without its history or
        history without its customer.
        """
        customer = await self.visible(actor, customer_id)
        if not access.can_purge(actor):
            raise AccessDenied(f"purge {customer_id}")

        async def purge(tx: Transaction) -> None:
            for collection in (tx.purchases, tx.interactions, tx.feedback, tx.notes, tx.todos,
                               tx.reminders):
                for record in await collection.find({"customer_id": customer.id}):
                    await collection.delete(record.id)
            await tx.customers.delete(customer.id)
            await self.audit.record(actor.id, "purge", "customer", customer.id,
                                    {"name": [customer.name, None]}, note="deleted for good", tx=tx)

        await self.store.atomic(purge)

    async def add_purchase(
        self, actor: StaffUser, customer_id: str, *, product: str, amount: Decimal,
        quantity: int, purchased_on: date, currency: str | None = None, record_id: str | None = None,
    ) -> tuple[Purchase, Customer]:
        """``record_id``: a form draft's (``bot.services.drafts``); taken already: ``AlreadySaved``."""
        customer = await self.visible(actor, customer_id)
        now = self.clock.now()
        purchase = Purchase(
            customer_id=customer.id, owner_id=customer.owner_id, product=product, amount=amount,
            currency=currency or self.config.locale.currency, quantity=quantity,
            purchased_on=purchased_on, created_at=now, updated_at=now, **({"id": record_id} if record_id else {}),
        )
        saved = await insert_once(self.store.purchases, purchase)
        await self.audit.record_change(actor.id, "create", "purchase", None, saved)
        await changed(self.store, customer.id, now)  # the daily scan re-predicts the reorder date
        return saved, await self.reclassify(customer.id)

    async def reclassify(self, customer_id: str, *, tx: Transaction | None = None) -> Customer:
        """Recompute the derived tier and stage after the customer's history changed.

        ``tx``: inside that transaction (a conflict then aborts it: the caller runs it again).
        """
        where = tx or self.store

        async def classified(customer: Customer) -> Customer | None:
            purchases = await where.purchases.find({"customer_id": customer_id})
            interactions = await where.interactions.find({"customer_id": customer_id, "deleted": False})
            updated = await self._classified(customer, purchases, interactions)
            unchanged = (updated.value_tier, updated.stage) == (customer.value_tier, customer.stage)
            return None if unchanged else updated

        try:
            _before, after = await where.customers.update_with(customer_id, classified, attempts=3)
        except NotFoundError:
            raise AccessDenied(f"customer {customer_id}") from None
        except ConflictError:  # busy: the next change or the daily run classifies it
            if tx is not None:
                raise  # the transaction is aborted: only running it again helps
            current = await self.store.customers.get(customer_id)
            if current is None:
                raise AccessDenied(f"customer {customer_id}") from None
            return current
        return after

    async def _classified(
        self, customer: Customer, purchases: list[Purchase], interactions: list[Interaction]
    ) -> Customer:
        now = self.clock.now().astimezone(self.config.tz)
        result = classify(customer, purchases, interactions, now, self.rules)
        return dataclasses.replace(customer, value_tier=result.derived_tier, stage=result.derived_stage)

    async def _save(self, actor: StaffUser, action: str, before: Customer, after: Customer) -> Customer:
        if before == dataclasses.replace(after, updated_at=before.updated_at):
            return before
        saved = await self.store.customers.update(after)
        await self.audit.record_change(actor.id, action, "customer", before, saved)
        return saved

    # ---- reassignment --------------------------------------------------------------------
    async def reassign(self, actor: StaffUser, customer_id: str, new_owner_id: str) -> Customer:
        """Give one customer to another rep; their pending reminders follow the customer."""
        new_owner = await self.store.staff.get(new_owner_id)

        async def reassign(tx: Transaction) -> Customer:
            customer = await tx.customers.get(customer_id) if len(customer_id) <= 64 else None
            if customer is None or not access.can_view_customer(actor, customer):
                raise AccessDenied(f"customer {customer_id}")
            return await self._reassign(tx, actor, customer, new_owner)

        return await self.store.atomic(reassign)

    async def reassign_all(self, actor: StaffUser, from_owner_id: str, to_owner_id: str) -> int:
        """Move every customer of one rep to another (a leaving rep). Returns how many moved.

        One transaction: the customers, their reminders and the audit events move
        together or not at all (a refusal or a crash half-way moves none).
        """
        new_owner = await self.store.staff.get(to_owner_id)

        async def reassign_all(tx: Transaction) -> int:
            moved = 0
            for customer in await tx.customers.find({"owner_id": from_owner_id}):
                if not access.can_view_customer(actor, customer):
                    raise AccessDenied(f"customer {customer.id}")
                await self._reassign(tx, actor, customer, new_owner)
                moved += 1
            return moved

        return await self.store.atomic(reassign_all)

    async def _reassign(
        self, tx: Transaction, actor: StaffUser, customer: Customer, new_owner: StaffUser | None
    ) -> Customer:
        if new_owner is None or not access.can_reassign(actor, customer, new_owner):
            raise AccessDenied(f"reassign {customer.id} to {new_owner.id if new_owner else None}")
        if customer.owner_id == new_owner.id:
            return customer
        team = customer.team if customer.team in new_owner.teams else (
            new_owner.teams[0] if new_owner.teams else None
        )
        updated = dataclasses.replace(
            customer, owner_id=new_owner.id, team=team, updated_at=self.clock.now()
        )
        saved = await tx.customers.update(updated)
        await self.audit.record_change(actor.id, "reassign", "customer", customer, saved, tx=tx)
        await self._move_reminders(tx, customer.id, customer.owner_id, new_owner.id)
        return saved

    async def _move_reminders(self, tx: Transaction, customer_id: str, old_owner: str, new_owner: str) -> None:
        """Pending reminders of the old owner follow the customer (one being delivered meanwhile
        is a conflict: the transaction runs again, and finds it no longer pending)."""
        for reminder in await tx.reminders.find(
            {"customer_id": customer_id, "status": ReminderStatus.PENDING.value}
        ):
            if reminder.recipient_id != old_owner:
                continue  # e.g. a manager's alert about this customer stays with the manager
            reminder.recipient_id = new_owner
            reminder.updated_at = self.clock.now()
            await tx.reminders.update(reminder)


def _by_name(customer: Customer) -> tuple[str, str, str]:
    """Lists sort by name as Chinese contact lists do: by pinyin, Latin names among them."""
    return (*name_sort_key(customer.name), customer.id)
