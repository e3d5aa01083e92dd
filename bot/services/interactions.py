"""Logging calls, visits, meetings and messages (客户关系维护), and correcting them.

Every method takes the acting staff user and re-checks access: the ids a
handler passes in came from buttons or typed text and are not trusted.

What logging a contact changes, in this order:

1. the interaction (``occurred_at`` = now, ``owner_id`` = whoever logged it —
   reports credit interactions to the rep who logged them) and its audit event;
2. the customer: ``last_contact_at`` = now when the outcome reached the
   customer (not *no answer*: an attempt, not a contact — the same rule
   ``bot.domain.classification`` uses), and ``next_follow_up_at`` as chosen
   (``KEEP`` leaves it, ``None`` clears it); audited as ``log_interaction``;
3. the derived tier/stage (``CustomerService.reclassify``);
4. the follow-up reminder (``ReminderService.schedule_follow_up``: moved,
   created or cancelled).  The churn rules read the latest interaction, so a
   logged contact silences a pending "no contact" warning at once.
"""

from __future__ import annotations

import asyncio
import dataclasses
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.clock import Clock
from bot.config import Config
from bot.domain import access
from bot.domain import interactions as rules
from bot.domain.models import Customer, Direction, Interaction, InteractionKind, Outcome, StaffUser
from bot.services.audit import AuditService
from bot.services.customers import CustomerService
from bot.services.drafts import insert_once
from bot.services.errors import AccessDenied, update_or_refuse
from bot.services.reminder_generation import changed
from bot.services.reminders import ReminderService
from storage.base import Store


class _Keep:
    """Sentinel: leave the customer's next follow-up as it is."""

    def __repr__(self) -> str:
        return "KEEP"


KEEP: Any = _Keep()
RECENT_CUSTOMERS = 6


#: A quick log matches names on the loop up to this many (a rep's: ~1 ms per 100 names).
NAMES_ON_LOOP = 400


@dataclass(frozen=True)
class QuickLogMatch:
    """Who a quick log is about: one customer, several to choose from, or none."""

    candidates: list[Customer]
    rest: str  # the text after the customer's name


class InteractionService:
    def __init__(
        self, store: Store, clock: Clock, config: Config, audit: AuditService,
        customers: CustomerService, reminders: ReminderService,
    ) -> None:
        self.store = store
        self.clock = clock
        self.config = config
        self.audit = audit
        self.customers = customers
        self.reminders = reminders

    # ---- reading -------------------------------------------------------------------------
    async def get(self, actor: StaffUser, interaction_id: str) -> tuple[Interaction, Customer]:
        """The interaction and its customer, if the actor may see them (not deleted)."""
        interaction = await self.store.interactions.get(interaction_id) if len(interaction_id) <= 64 else None
        if interaction is None or interaction.deleted:
            raise AccessDenied(f"interaction {interaction_id}")
        customer = await self.customers.visible(actor, interaction.customer_id)
        return interaction, customer

    def may_edit(self, actor: StaffUser, interaction: Interaction, customer: Customer) -> bool:
        return access.can_edit_entry(actor, customer, interaction.owner_id, interaction.created_at,
                                     self.clock.now(), self.config.feedback.edit_window_hours)

    async def editable(self, actor: StaffUser, interaction_id: str) -> tuple[Interaction, Customer]:
        interaction, customer = await self.get(actor, interaction_id)
        if not self.may_edit(actor, interaction, customer):
            raise AccessDenied(f"edit interaction {interaction_id}")
        return interaction, customer

    async def recent_customers(self, actor: StaffUser, limit: int = RECENT_CUSTOMERS) -> list[Customer]:
        """Customers the actor logged contacts with lately, then those due for a follow-up soonest."""
        seen: dict[str, Customer] = {}
        for interaction in await self.store.interactions.find(
            {"owner_id": actor.id, "deleted": False}, order_by="occurred_at", descending=True, limit=50
        ):
            if interaction.customer_id in seen:
                continue
            customer = await self.store.customers.get(interaction.customer_id)
            if customer is not None and not customer.archived and access.can_view_customer(actor, customer):
                seen[customer.id] = customer
            if len(seen) >= limit:
                return list(seen.values())
        mine = sorted(
            (c for c in await self.customers.all_visible(actor) if c.id not in seen),
            key=lambda c: (c.next_follow_up_at is None, c.next_follow_up_at or c.updated_at, c.name),
        )
        return (list(seen.values()) + mine)[:limit]

    async def match_customer(self, actor: StaffUser, text: str) -> QuickLogMatch:
        """The customer a quick log names at its start: by full name, else by search on its first word."""
        names = await self.customers.visible_names(actor)
        if len(names) > NAMES_ON_LOOP:  # a manager's teams, an admin's everyone: off the loop
            ids, rest = await asyncio.to_thread(rules.name_prefix_matches, text, names)
        else:
            ids, rest = rules.name_prefix_matches(text, names)
        if ids:
            # The index only proposes: read them by id and check access again (archived too).
            named = await self.customers.visible_by_id(actor, ids)
            if named:
                return QuickLogMatch(named, rest)
        first, _, rest = text.strip().partition(" ")
        first = unicodedata.normalize("NFKC", first).rstrip(",:")  # full-width ，： too
        found = await self.customers.search(actor, first, limit=6) if first else []
        return QuickLogMatch(found, rest.strip())

    # ---- logging -------------------------------------------------------------------------
    async def log(
        self, actor: StaffUser, customer_id: str, *, kind: InteractionKind, direction: Direction,
        outcome: Outcome | None, summary: str = "", voice_file_id: str | None = None,
        next_follow_up_at: datetime | None | Any = KEEP, record_id: str | None = None,
    ) -> tuple[Interaction, Customer]:
        """Record a contact and everything it changes (see the module docstring).

        ``record_id``: the id of a form's draft (``bot.services.drafts``); taken already, the
        contact was logged before: ``AlreadySaved``, nothing changes.
        """
        customer = await self.customers.visible(actor, customer_id)
        now = self.clock.now()
        follow_up = customer.next_follow_up_at if next_follow_up_at is KEEP else next_follow_up_at
        interaction = Interaction(
            customer_id=customer.id, owner_id=actor.id, kind=kind, direction=direction,
            outcome=outcome, occurred_at=now, summary=summary, voice_file_id=voice_file_id,
            next_follow_up_at=follow_up, created_at=now, updated_at=now, **({"id": record_id} if record_id else {}),
        )
        saved = await insert_once(self.store.interactions, interaction)
        await self.audit.record_change(actor.id, "create", "interaction", None, saved)
        changes: dict[str, Any] = {}
        if rules.reached_customer(outcome):
            changes["last_contact_at"] = now
        if next_follow_up_at is not KEEP:
            changes["next_follow_up_at"] = next_follow_up_at
        updated = await self._update_customer(actor, customer.id, changes, "log_interaction")
        return saved, await self._after_change(updated)

    async def update(
        self, actor: StaffUser, interaction_id: str, *, kind: InteractionKind, direction: Direction,
        outcome: Outcome | None, summary: str, voice_file_id: str | None,
        next_follow_up_at: datetime | None,
    ) -> Interaction:
        """Correct an entry (edit-window rules apply); the customer's follow-up follows it."""
        _interaction, customer = await self.editable(actor, interaction_id)

        def correct(interaction: Interaction) -> Interaction | None:
            if interaction.deleted:
                raise AccessDenied(f"interaction {interaction_id}")
            updated = dataclasses.replace(
                interaction, kind=kind, direction=direction, outcome=outcome, summary=summary,
                voice_file_id=voice_file_id, next_follow_up_at=next_follow_up_at,
                updated_at=self.clock.now(),
            )
            unchanged = updated == dataclasses.replace(interaction, updated_at=updated.updated_at)
            return None if unchanged else updated

        interaction, saved = await update_or_refuse(self.store.interactions, interaction_id, correct,
                                                    what=f"interaction {interaction_id}")
        if saved is interaction:
            return interaction
        await changed(self.store, saved.customer_id, self.clock.now())  # the daily scan looks at the customer
        await self.audit.record_change(actor.id, "update", "interaction", interaction, saved)
        await self._resync_customer(actor, customer.id, old=interaction, new=saved)
        return saved

    async def delete(self, actor: StaffUser, interaction_id: str) -> Interaction:
        """Soft delete (``deleted=True``), audited; the customer's contact and follow-up un-done."""
        _interaction, customer = await self.editable(actor, interaction_id)

        def mark_deleted(interaction: Interaction) -> Interaction:
            if interaction.deleted:
                raise AccessDenied(f"interaction {interaction_id}")
            return dataclasses.replace(interaction, deleted=True, updated_at=self.clock.now())

        interaction, saved = await update_or_refuse(self.store.interactions, interaction_id,
                                                    mark_deleted, what=f"interaction {interaction_id}")
        await changed(self.store, saved.customer_id, self.clock.now())  # the daily scan looks at the customer
        await self.audit.record_change(actor.id, "delete", "interaction", interaction, saved)
        await self._resync_customer(actor, customer.id, old=interaction, new=None)
        return saved

    # ---- keeping the customer in step ----------------------------------------------------
    async def _resync_customer(
        self, actor: StaffUser, customer_id: str, *, old: Interaction, new: Interaction | None
    ) -> None:
        """After an edit or delete: recompute what the customer card caches from this entry."""
        customer = await self.store.customers.get(customer_id)
        if customer is None:
            return
        remaining = await self.store.interactions.find({"customer_id": customer_id, "deleted": False})
        changes: dict[str, Any] = {}
        was_contact = rules.reached_customer(old.outcome) and customer.last_contact_at == old.occurred_at
        is_contact = new is not None and rules.reached_customer(new.outcome)
        if was_contact and not is_contact:
            contacts = [i.occurred_at for i in remaining if rules.reached_customer(i.outcome)]
            changes["last_contact_at"] = max(contacts) if contacts else None
        elif (new is not None and is_contact and not rules.reached_customer(old.outcome)
              and (customer.last_contact_at is None or customer.last_contact_at < new.occurred_at)):
            changes["last_contact_at"] = new.occurred_at
        if customer.next_follow_up_at == old.next_follow_up_at:
            if new is not None:
                changes["next_follow_up_at"] = new.next_follow_up_at
            else:
                latest = max(remaining, key=lambda i: i.occurred_at, default=None)
                planned = latest.next_follow_up_at if latest is not None else None
                changes["next_follow_up_at"] = planned if planned and planned > self.clock.now() else None
        updated = await self._update_customer(actor, customer_id, changes, "update")
        await self._after_change(updated)

    async def _update_customer(
        self, actor: StaffUser, customer_id: str, changes: dict[str, Any], action: str
    ) -> Customer:
        def apply(customer: Customer) -> Customer | None:
            if all(getattr(customer, k) == v for k, v in changes.items()):
                return None
            return dataclasses.replace(customer, **changes, updated_at=self.clock.now())

        customer, saved = await update_or_refuse(self.store.customers, customer_id, apply,
                                                 what=f"customer {customer_id}")
        if saved is not customer:
            await self.audit.record_change(actor.id, action, "customer", customer, saved)
        return saved

    async def _after_change(self, customer: Customer) -> Customer:
        customer = await self.customers.reclassify(customer.id)
        await self.reminders.schedule_follow_up(customer)
        return customer
