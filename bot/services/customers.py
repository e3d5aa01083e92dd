"""Customers: the use cases around the customer card (客户管理卡)."""

from __future__ import annotations

import dataclasses

from bot.clock import Clock
from bot.config import Config
from bot.domain import access
from bot.domain.models import Customer, ReminderStatus, StaffUser
from bot.services.audit import AuditService
from bot.services.errors import AccessDenied
from storage.base import ConflictError, Store


class CustomerService:
    def __init__(self, store: Store, clock: Clock, config: Config, audit: AuditService) -> None:
        self.store = store
        self.clock = clock
        self.config = config
        self.audit = audit

    async def visible(self, actor: StaffUser, customer_id: str) -> Customer:
        """The customer, if the actor may see it; AccessDenied otherwise (also when it does not exist)."""
        customer = await self.store.customers.get(customer_id) if len(customer_id) <= 64 else None
        if customer is None or not access.can_view_customer(actor, customer):
            raise AccessDenied(f"customer {customer_id}")
        return customer

    async def count_owned(self, owner_id: str) -> int:
        return await self.store.customers.count({"owner_id": owner_id})

    async def reassign(self, actor: StaffUser, customer_id: str, new_owner_id: str) -> Customer:
        """Give one customer to another rep; their pending reminders follow the customer."""
        customer = await self.visible(actor, customer_id)
        new_owner = await self.store.staff.get(new_owner_id)
        if new_owner is None or not access.can_reassign(actor, customer, new_owner):
            raise AccessDenied(f"reassign {customer_id} to {new_owner_id}")
        if customer.owner_id == new_owner.id:
            return customer
        team = customer.team if customer.team in new_owner.teams else (
            new_owner.teams[0] if new_owner.teams else None
        )
        updated = dataclasses.replace(
            customer, owner_id=new_owner.id, team=team, updated_at=self.clock.now()
        )
        saved = await self.store.customers.update(updated)
        await self.audit.record_change(actor.id, "reassign", "customer", customer, saved)
        await self._move_reminders(customer.id, customer.owner_id, new_owner.id)
        return saved

    async def reassign_all(self, actor: StaffUser, from_owner_id: str, to_owner_id: str) -> int:
        """Move every customer of one rep to another (a leaving rep). Returns how many moved."""
        moved = 0
        for customer in await self.store.customers.find({"owner_id": from_owner_id}):
            try:
                await self.reassign(actor, customer.id, to_owner_id)
            except ConflictError:
                customer = await self.store.customers.get(customer.id)
                if customer is None or customer.owner_id != from_owner_id:
                    continue
                await self.reassign(actor, customer.id, to_owner_id)
            moved += 1
        return moved

    async def _move_reminders(self, customer_id: str, old_owner: str, new_owner: str) -> None:
        for reminder in await self.store.reminders.find(
            {"customer_id": customer_id, "status": ReminderStatus.PENDING.value}
        ):
            if reminder.recipient_id != old_owner:
                continue  # e.g. a manager's alert about this customer stays with the manager
            reminder.recipient_id = new_owner
            reminder.updated_at = self.clock.now()
            try:
                await self.store.reminders.update(reminder)
            except ConflictError:
                continue  # being delivered right now, to the old owner; nothing is lost
