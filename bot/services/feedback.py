"""Customer feedback (客户反馈处理): recording it, alerting managers, following it through.

Every method takes the acting staff user and re-checks access (ids come from
buttons and are not trusted): whoever may see the customer may record
feedback and move it through its workflow; editing and deleting follow the
edit-window rule of ``bot.domain.access.can_edit_entry``.

``Feedback.owner_id`` is the customer's owner when the feedback is
recorded: the rep responsible for the follow-through (the daily agenda and
reports read it).  Who *recorded* it is the actor of its audited "create"
event.

Complaints: every complaint alerts the managers of the customer's team
(active managers whose teams include it; not the person who recorded it)
through the reminder outbox, at once (``ReminderService.alert_now``, one
row per manager, dedupe key ``complaint:<feedback>:<manager>``).  The
handler then tries to deliver each alert immediately: it *claims* the row
(so the scheduler cannot send it at the same moment), sends, and marks it
sent only once Telegram accepted it; if the send fails the claim is given
back and the row stays pending for the scheduler.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.clock import Clock
from bot.config import Config
from bot.domain import access
from bot.domain import feedback as workflow
from bot.domain.models import (
    Customer,
    Feedback,
    FeedbackKind,
    FeedbackStatus,
    Reminder,
    ReminderKind,
    ReminderStatus,
    Role,
    Severity,
    StaffUser,
)
from bot.services.audit import AuditService, diff
from bot.services.customers import CustomerService
from bot.services.drafts import insert_once
from bot.services.errors import AccessDenied, update_or_refuse
from bot.services.reminder_generation import changed
from bot.services.reminders import ReminderService
from storage.base import Store

# Listed by /feedback: everything still needing an action (resolved awaits the customer's word).
UNFINISHED = (FeedbackStatus.OPEN, FeedbackStatus.IN_PROGRESS, FeedbackStatus.RESOLVED)


@dataclass(frozen=True)
class ComplaintAlert:
    """A complaint alert owed to one manager: the outbox row to deliver and mark."""

    manager: StaffUser
    reminder: Reminder


def complaint_key(feedback_id: str, manager_id: str) -> str:
    return f"complaint:{feedback_id}:{manager_id}"


class FeedbackService:
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

    @property
    def rules(self) -> workflow.FeedbackRules:
        """The ``[feedback]`` section, built once at start-up."""
        return self.config.feedback

    def default_due(self, severity: Severity, created_at: datetime | None = None) -> datetime:
        return workflow.feedback_due_at(severity, created_at or self.clock.now(), self.rules)

    # ---- reading -------------------------------------------------------------------------
    async def get(self, actor: StaffUser, feedback_id: str) -> tuple[Feedback, Customer]:
        """The feedback and its customer, if the actor may see them (not deleted)."""
        item = await self.store.feedback.get(feedback_id) if len(feedback_id) <= 64 else None
        if item is None or item.deleted:
            raise AccessDenied(f"feedback {feedback_id}")
        customer = await self.customers.visible(actor, item.customer_id)
        return item, customer

    async def created_by(self, item: Feedback) -> str | None:
        """Who recorded the feedback: the actor of its "create" audit event."""
        for event in await self.store.audit.find({"entity_id": item.id, "action": "create"}, limit=1):
            return event.actor_id
        return None

    async def may_edit(self, actor: StaffUser, item: Feedback, customer: Customer) -> bool:
        return access.can_edit_entry(actor, customer, await self.created_by(item), item.created_at,
                                     self.clock.now(), self.rules.edit_window_hours)

    async def editable(self, actor: StaffUser, feedback_id: str) -> tuple[Feedback, Customer]:
        item, customer = await self.get(actor, feedback_id)
        if not await self.may_edit(actor, item, customer):
            raise AccessDenied(f"edit feedback {feedback_id}")
        return item, customer

    async def open_items(self, actor: StaffUser) -> list[tuple[Feedback, Customer]]:
        """Unfinished feedback on the customers the actor sees (theirs / team / all), oldest first."""
        if not access.is_active(actor):
            raise AccessDenied("customers")
        found: list[Feedback] = []
        for status in UNFINISHED:  # few at any time, whatever the number of customers
            found += await self.store.feedback.find({"status": status.value, "deleted": False})
        # Only their customers are read (not every visible one), each checked for access.
        wanted = sorted({f.customer_id for f in found})
        visible = {c.id: c for c in await self.customers.visible_by_id(actor, wanted)}
        items = [(f, visible[f.customer_id]) for f in found if f.customer_id in visible]
        return sorted(items, key=lambda pair: (pair[0].created_at, pair[0].id))

    # ---- recording -----------------------------------------------------------------------
    async def record(
        self, actor: StaffUser, customer_id: str, *, kind: FeedbackKind, severity: Severity,
        content: str, csat: int | None = None, nps: int | None = None, due_at: datetime | None = None,
        record_id: str | None = None,
    ) -> tuple[Feedback, list[ComplaintAlert]]:
        """``record_id``: a form draft's (``bot.services.drafts``); taken already: ``AlreadySaved``."""
        customer = await self.customers.visible(actor, customer_id)
        now = self.clock.now()
        item = Feedback(
            customer_id=customer.id, owner_id=customer.owner_id, kind=kind, severity=severity,
            content=content, csat=csat, nps=nps, due_at=due_at or self.default_due(severity, now),
            created_at=now, updated_at=now, **({"id": record_id} if record_id else {}),
        )
        saved = await insert_once(self.store.feedback, item)
        await self.audit.record_change(actor.id, "create", "feedback", None, saved)
        alerts = await self._alert(actor, saved, customer) if kind is FeedbackKind.COMPLAINT else []
        return saved, alerts

    async def update(
        self, actor: StaffUser, feedback_id: str, *, kind: FeedbackKind, severity: Severity,
        content: str, csat: int | None, nps: int | None, due_at: datetime | None,
    ) -> tuple[Feedback, list[ComplaintAlert]]:
        """Correct an entry; one that becomes a complaint alerts the managers then."""
        _item, customer = await self.editable(actor, feedback_id)

        def correct(item: Feedback) -> Feedback | None:
            if item.deleted:
                raise AccessDenied(f"feedback {feedback_id}")
            updated = dataclasses.replace(item, kind=kind, severity=severity, content=content, csat=csat,
                                          nps=nps, due_at=due_at, updated_at=self.clock.now())
            return None if updated == dataclasses.replace(item, updated_at=updated.updated_at) else updated

        item, saved = await update_or_refuse(self.store.feedback, feedback_id, correct,
                                             what=f"feedback {feedback_id}")
        if saved is item:
            return item, []
        await changed(self.store, saved.customer_id, self.clock.now())  # the daily scan looks at the customer
        await self.audit.record_change(actor.id, "update", "feedback", item, saved)
        alerts = []
        if kind is FeedbackKind.COMPLAINT and item.kind is not FeedbackKind.COMPLAINT:
            alerts = await self._alert(actor, saved, customer)
        return saved, alerts

    async def delete(self, actor: StaffUser, feedback_id: str) -> Feedback:
        """Soft delete, audited; alerts about it still waiting in the outbox are cancelled."""
        _item, customer = await self.editable(actor, feedback_id)

        def mark_deleted(item: Feedback) -> Feedback:
            if item.deleted:
                raise AccessDenied(f"feedback {feedback_id}")
            return dataclasses.replace(item, deleted=True, updated_at=self.clock.now())

        item, saved = await update_or_refuse(self.store.feedback, feedback_id, mark_deleted,
                                             what=f"feedback {feedback_id}")
        await changed(self.store, saved.customer_id, self.clock.now())  # the daily scan looks at the customer
        await self.audit.record_change(actor.id, "delete", "feedback", item, saved)
        for reminder in await self.store.reminders.find(
            {"customer_id": customer.id, "status": ReminderStatus.PENDING.value}
        ):
            if reminder.payload.get("feedback_id") == item.id:
                await self.reminders.cancel(reminder.dedupe_key, "feedback deleted")
        return saved

    # ---- the workflow --------------------------------------------------------------------
    async def set_status(
        self, actor: StaffUser, feedback_id: str, status: FeedbackStatus, *, resolution: str | None = None
    ) -> Feedback:
        """Move feedback along open → in progress → resolved → confirmed (or reopen it).

        Resolving needs a resolution note and sets ``resolved_at`` (resolution
        time = resolved_at − created_at, noted in the audit event); confirming
        sets ``confirmed_at``; reopening clears both.  A step the workflow does
        not allow (a stale button) is refused with code ``feedback.transition``,
        resolving without a note with ``feedback.note_required`` — as AccessDenied
        for now, because handlers/feedback.py answers those presses "not
        available"; they become ``Invalid`` once it catches ``ServiceError``.
        """
        await self.get(actor, feedback_id)  # may they see it at all

        def move(item: Feedback) -> Feedback:
            if item.deleted:
                raise AccessDenied(f"feedback {feedback_id}")
            if not workflow.can_transition(item.status, status):
                raise AccessDenied(f"feedback {feedback_id}: {item.status} → {status}",
                                   code="feedback.transition", current=item.status.value,
                                   wanted=status.value)
            if status is FeedbackStatus.RESOLVED and not (resolution or "").strip():
                raise AccessDenied(f"feedback {feedback_id}: resolving needs a note",
                                   code="feedback.note_required")
            now = self.clock.now()
            changes: dict[str, Any] = {"status": status, "updated_at": now}
            if status is FeedbackStatus.RESOLVED:
                changes.update(resolved_at=now, resolution=resolution, confirmed_at=None)
            elif status is FeedbackStatus.CONFIRMED:
                changes["confirmed_at"] = now
            elif workflow.is_reopen(item.status, status):
                changes.update(resolved_at=None, confirmed_at=None)
            return dataclasses.replace(item, **changes)

        item, saved = await update_or_refuse(self.store.feedback, feedback_id, move,
                                             what=f"feedback {feedback_id}")
        await changed(self.store, saved.customer_id, self.clock.now())  # the daily scan looks at the customer
        hours = workflow.resolution_hours(saved.created_at, saved.resolved_at)
        note = f"resolution time {hours} h" if status is FeedbackStatus.RESOLVED else None
        await self.audit.record(actor.id, "status", "feedback", saved.id, diff(item, saved), note=note)
        return saved

    # ---- complaint alerts ----------------------------------------------------------------
    async def managers_for(self, customer: Customer) -> list[StaffUser]:
        """Active managers whose teams include the customer's team."""
        if customer.team is None:
            return []
        return [u for u in await self.store.staff.find({"active": True, "role": Role.MANAGER.value})
                if customer.team in u.teams and access.is_active(u)]

    async def _alert(self, actor: StaffUser, item: Feedback, customer: Customer) -> list[ComplaintAlert]:
        alerts = []
        for manager in await self.managers_for(customer):
            if manager.id == actor.id:
                continue  # the manager recorded it: they know
            reminder = await self.reminders.alert_now(
                kind=ReminderKind.COMPLAINT_ALERT, recipient_id=manager.id,
                dedupe_key=complaint_key(item.id, manager.id), customer_id=customer.id,
                payload={"feedback_id": item.id, "severity": item.severity.value},
            )
            alerts.append(ComplaintAlert(manager, reminder))
        return alerts

    async def claim_alert(self, reminder: Reminder) -> Reminder | None:
        """Take an alert for immediate delivery; None if it is no longer pending or the scheduler has it."""
        return await self.reminders.claim_now(reminder)

    async def alert_sent(self, claimed: Reminder) -> Reminder:
        return await self.reminders.sent_now(claimed)

    async def alert_not_sent(self, claimed: Reminder, error: str) -> Reminder:
        """Give the claim back: the row stays pending, due now, for the scheduler's next run."""
        return await self.reminders.not_sent_now(claimed, error)
