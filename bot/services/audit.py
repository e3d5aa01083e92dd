"""The audit trail: who changed what, when, with before → after for each changed field."""

from __future__ import annotations

from typing import Any

from bot.clock import Clock
from bot.domain import access
from bot.domain.codec import to_dict
from bot.domain.models import AuditEvent, Customer, Record, StaffUser
from bot.services.errors import AccessDenied
from storage.base import Range, Store, Transaction

_NOT_AUDITED = {"id", "created_at", "updated_at", "version"}


def diff(before: Record | None, after: Record | None) -> dict[str, list[Any]]:
    """Changed fields as ``{field: [before, after]}`` in their stored (JSON) form."""
    old = to_dict(before) if before is not None else {}
    new = to_dict(after) if after is not None else {}
    return {
        name: [old.get(name), new.get(name)]
        for name in sorted(set(old) | set(new))
        if name not in _NOT_AUDITED and old.get(name) != new.get(name)
    }


class AuditService:
    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    async def record(
        self,
        actor_id: str,
        action: str,
        entity_type: str,
        entity_id: str,
        changes: dict[str, list[Any]] | None = None,
        note: str | None = None,
        *,
        tx: Transaction | None = None,
    ) -> AuditEvent:
        """Store the event; ``tx``: as part of that transaction (with the change it records)."""
        now = self.clock.now()
        return await (tx or self.store).audit.insert(
            AuditEvent(
                actor_id=actor_id, action=action, entity_type=entity_type, entity_id=entity_id,
                at=now, changes=changes or {}, note=note, created_at=now, updated_at=now,
            )
        )

    async def record_change(
        self, actor_id: str, action: str, entity_type: str, before: Record | None, after: Record,
        *, tx: Transaction | None = None,
    ) -> AuditEvent:
        return await self.record(actor_id, action, entity_type, after.id, diff(before, after), tx=tx)

    async def customer_history(self, actor: StaffUser, customer: Customer) -> list[AuditEvent]:
        if not (access.can_read_audit(actor) and access.can_view_customer(actor, customer)):
            raise AccessDenied("audit history")
        return await self.store.audit.find({"entity_id": customer.id}, order_by="at", descending=True)

    async def export(self, actor: StaffUser, since: Any = None, until: Any = None) -> list[AuditEvent]:
        """The whole audit log (admins only); the export itself is audited."""
        if not access.can_export_audit(actor):
            raise AccessDenied("audit export")
        events = await self.store.audit.find(within=Range("at", since, until), order_by="at")
        await self.record(actor.id, "export", "audit", "audit", note=f"{len(events)} events")
        return events
