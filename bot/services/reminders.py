"""The reminder outbox: rows in the store, each a message owed to somebody at a time.

Features *schedule* reminders here (idempotently, by dedupe key); the
delivery job (``bot.services.delivery``) *claims* due rows, has them sent
through Telegram and marks them sent only once Telegram accepted the message.
A claim is an optimistic update of the row, so two replicas — or a job and
a restart — never both send the same reminder; a crash between Telegram's
acceptance and the "sent" mark is the one window in which a reminder can
be sent twice (the claim's lease expires and it is retried).
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.clock import Clock
from bot.config import Config
from bot.domain.models import Customer, Reminder, ReminderKind, ReminderStatus, StaffUser
from bot.services.errors import AccessDenied
from storage.base import ConflictError, DuplicateError, Range, Store

LEASE = timedelta(minutes=2)
MAX_BACKOFF = timedelta(hours=1)


def follow_up_key(customer_id: str) -> str:
    """One pending follow-up per customer: rescheduling moves it, it never piles up."""
    return f"follow_up:{customer_id}"


def in_quiet_hours(moment: datetime, tz: ZoneInfo, quiet: tuple[int, int] | None) -> datetime | None:
    """If ``moment`` falls in the quiet hours (local, start..end, may wrap midnight), when they end."""
    if quiet is None or quiet[0] == quiet[1]:
        return None
    start, end = quiet
    local = moment.astimezone(tz)
    hour = local.hour
    quiet_now = (start <= hour < end) if start < end else (hour >= start or hour < end)
    if not quiet_now:
        return None
    day = local.date() if (start < end or hour < end) else local.date() + timedelta(days=1)
    return datetime.combine(day, time(end, 0), tz)


class ReminderService:
    def __init__(self, store: Store, clock: Clock, config: Config) -> None:
        self.store = store
        self.clock = clock
        self.config = config

    async def schedule(
        self,
        *,
        kind: ReminderKind,
        recipient_id: str,
        due_at: datetime,
        dedupe_key: str,
        customer_id: str | None = None,
        payload: dict[str, Any] | None = None,
    ) -> Reminder:
        """Create the reminder, or move a still-pending one with the same key to the new time."""
        now = self.clock.now()
        existing = await self.store.reminders.get_by("dedupe_key", dedupe_key)
        if existing is not None:
            if existing.status is not ReminderStatus.PENDING:
                if kind is not ReminderKind.FOLLOW_UP:
                    return existing  # generated before and already handled: exactly once
                await self.store.reminders.delete(existing.id)  # a new follow-up for the customer
            else:
                updated = dataclasses.replace(
                    existing, due_at=due_at, recipient_id=recipient_id, customer_id=customer_id,
                    payload=payload or existing.payload, attempts=0, last_error=None, updated_at=now,
                )
                return await self.store.reminders.update(updated)
        reminder = Reminder(
            kind=kind, recipient_id=recipient_id, due_at=due_at, dedupe_key=dedupe_key,
            customer_id=customer_id, payload=payload or {}, created_at=now, updated_at=now,
        )
        try:
            return await self.store.reminders.insert(reminder)
        except DuplicateError:  # another job generated it a moment ago
            return await self.store.reminders.get_by("dedupe_key", dedupe_key) or reminder

    async def schedule_follow_up(self, customer: Customer) -> Reminder | None:
        """Keep the customer's follow-up reminder in step with ``next_follow_up_at`` and the owner."""
        key = follow_up_key(customer.id)
        if customer.next_follow_up_at is None or customer.archived:
            await self.cancel(key, "no follow-up planned")
            return None
        return await self.schedule(
            kind=ReminderKind.FOLLOW_UP, recipient_id=customer.owner_id,
            due_at=customer.next_follow_up_at, dedupe_key=key, customer_id=customer.id,
        )

    async def alert_now(
        self, *, kind: ReminderKind, recipient_id: str, dedupe_key: str,
        customer_id: str | None = None, payload: dict[str, Any] | None = None,
    ) -> Reminder:
        """A reminder due immediately (e.g. a complaint alert to a manager)."""
        return await self.schedule(kind=kind, recipient_id=recipient_id, due_at=self.clock.now(),
                                   dedupe_key=dedupe_key, customer_id=customer_id, payload=payload)

    async def cancel(self, dedupe_key: str, why: str) -> None:
        existing = await self.store.reminders.get_by("dedupe_key", dedupe_key)
        if existing is not None and existing.status is ReminderStatus.PENDING:
            try:
                await self.store.reminders.update(dataclasses.replace(
                    existing, status=ReminderStatus.CANCELLED, last_error=why, updated_at=self.clock.now()))
            except ConflictError:
                pass  # being delivered at this moment

    async def due(self, now: datetime, limit: int = 200, offset: int = 0) -> list[Reminder]:
        """Pending reminders due by ``now``, oldest first (including ones whose claim lapsed)."""
        return await self.store.reminders.find(
            {"status": ReminderStatus.PENDING.value},
            within=Range("due_at", None, now + timedelta(microseconds=1)),  # due at ``now`` counts
            order_by="due_at", offset=offset, limit=limit,
        )

    async def next_due(self) -> datetime | None:
        """When the earliest pending reminder falls due (the delivery worker sleeps until then)."""
        first = await self.store.reminders.find({"status": ReminderStatus.PENDING.value},
                                                order_by="due_at", limit=1)
        return first[0].due_at if first else None

    async def claim(self, reminder: Reminder, now: datetime) -> Reminder | None:
        """Take the reminder for delivery; None if another worker holds or took it."""
        lease = reminder.payload.get("lease_until")
        if lease and datetime.fromisoformat(lease) > now:
            return None
        claimed = dataclasses.replace(
            reminder, attempts=reminder.attempts + 1, updated_at=now,
            payload={**reminder.payload, "lease_until": (now + LEASE).isoformat()},
        )
        try:
            return await self.store.reminders.update(claimed)
        except ConflictError:
            return None

    async def claim_now(self, reminder: Reminder) -> Reminder | None:
        """Take a row a handler delivers at once (a complaint alert, "you have a to-do"); None if it
        is no longer pending or the scheduler is sending it."""
        current = await self.store.reminders.get(reminder.id)
        if current is None or current.status is not ReminderStatus.PENDING:
            return None
        return await self.claim(current, self.clock.now())

    async def sent_now(self, claimed: Reminder) -> Reminder:
        return await self.mark_sent(claimed, self.clock.now())

    async def not_sent_now(self, claimed: Reminder, error: str) -> Reminder:
        """Give the claim back: the row stays pending, due now, for the scheduler's next run."""
        return await self.postpone(claimed, self.clock.now(), f"immediate send failed: {error}"[:500])

    async def mark_sent(self, reminder: Reminder, now: datetime, note: str | None = None,
                        payload: dict[str, Any] | None = None) -> Reminder:
        """Sent; ``note`` when that is only likely (Telegram's answer was lost), kept as the reason."""
        payload = {k: v for k, v in (payload or reminder.payload).items() if k != "lease_until"}
        return await self.store.reminders.update(dataclasses.replace(
            reminder, status=ReminderStatus.SENT, sent_at=now, updated_at=now, payload=payload,
            last_error=note[:500] if note else None))

    async def postpone(self, reminder: Reminder, until: datetime, why: str) -> Reminder:
        """Not an attempt: e.g. quiet hours. The attempt the claim counted is given back."""
        payload = {k: v for k, v in reminder.payload.items() if k != "lease_until"}
        return await self.store.reminders.update(dataclasses.replace(
            reminder, due_at=until, attempts=max(0, reminder.attempts - 1), payload=payload,
            last_error=why, updated_at=self.clock.now()))

    async def failed(
        self, reminder: Reminder, now: datetime, error: str, *, retry_after: float | None = None,
        max_attempts: int | None = 5, max_backoff: timedelta = MAX_BACKOFF, payload: dict[str, Any] | None = None,
    ) -> Reminder:
        """Retry with exponential backoff (or Telegram's retry_after); give up after max_attempts.

        ``max_attempts=None``: a transient failure, retried however often it takes.
        """
        payload = {k: v for k, v in (payload or reminder.payload).items() if k != "lease_until"}
        if max_attempts is not None and reminder.attempts >= max_attempts:
            return await self.store.reminders.update(dataclasses.replace(
                reminder, status=ReminderStatus.FAILED, last_error=error[:500], payload=payload,
                updated_at=now))
        delay = timedelta(seconds=retry_after) if retry_after else min(
            max_backoff, timedelta(seconds=30 * 2 ** min(20, max(0, reminder.attempts - 1))))
        return await self.store.reminders.update(dataclasses.replace(
            reminder, due_at=now + delay, last_error=error[:500], payload=payload, updated_at=now))

    async def snooze(self, actor: StaffUser, reminder_id: str, until: datetime) -> Reminder:
        """Deliver a sent reminder again later (the recipient only)."""
        reminder = await self.store.reminders.get(reminder_id) if len(reminder_id) <= 64 else None
        if reminder is None or reminder.recipient_id != actor.id:
            raise AccessDenied(f"reminder {reminder_id}")
        payload = {k: v for k, v in reminder.payload.items() if k != "lease_until"}
        payload["snoozed"] = payload.get("snoozed", 0) + 1
        return await self.store.reminders.update(dataclasses.replace(
            reminder, status=ReminderStatus.PENDING, due_at=until, sent_at=None, attempts=0,
            payload=payload, updated_at=self.clock.now()))

    async def get_for(self, actor: StaffUser, reminder_id: str) -> Reminder:
        reminder = await self.store.reminders.get(reminder_id) if len(reminder_id) <= 64 else None
        if reminder is None or reminder.recipient_id != actor.id:
            raise AccessDenied(f"reminder {reminder_id}")
        return reminder
