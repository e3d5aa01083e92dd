"""Delivering the reminder outbox: who gets what now, and what happens when sending fails.

``DeliveryService.deliver_due(now, send)`` is the scheduler's delivery job
without Telegram: the Telegram adapter (``handlers/reminders.py``) passes a
``send`` callable that renders and sends one ``Parcel`` and reports the
result in this module's words:

- it returns ``True`` once the Bot API accepted every message of the parcel;
- it returns ``False`` when there is nothing left to say (the customer was
  archived, the feedback resolved): the reminders are cancelled;
- it raises ``RetryLater(seconds)`` when Telegram asks to wait (429), or
  ``TransientFailure`` for a failure that certainly did not deliver
  (connection refused, 503): retried with backoff capped at ``[reminders]
  retry_backoff_max_minutes``, never final; once the reminder is more than
  ``retry_horizon_hours`` past due it goes into the recipient's next digest;
- it raises ``Ambiguous`` when the message may have been delivered although
  the answer says otherwise (a 500, a read timeout, a connection reset after
  the request was sent): the reminder is retried *once* (clear failures of
  that retry do not count); after a second ambiguous failure it counts as
  sent, with ``last_error`` "unconfirmed: …". So a reminder arrives at most
  twice — never more than one duplicate;
- it raises ``RenderFailure`` (or any exception that is not a
  ``SendError``) when our own code failed to render the parcel: that is a
  bug, not Telegram's refusal, so it is logged with its traceback and the
  reminder stays pending, retried with backoff and never final;
- it raises ``Refused`` when Telegram refuses the message or the chat for
  good (the bot was blocked, the chat does not exist, the message was
  rejected as malformed): the reminder is retried and given up (``FAILED``)
  after ``[reminders] max_attempts`` attempts, with the reason recorded, and
  the admins get one "delivery failures" reminder a day listing them.

What the service decides, per recipient, for every pending reminder due by
``now``: an inactive recipient's reminders are cancelled; in the
recipient's quiet hours (their own, else ``[reminders] quiet_hours_*``, in
their time zone) the reminders are postponed to the end of the quiet hours
— not an attempt; more than ``[reminders] digest_threshold`` reminders
overdue by over an hour (downtime) go as one digest parcel, together with
those sent to the digest by failures; everything else one parcel per
reminder.  Every reminder is *claimed* first (an optimistic update, so two
replicas never both send it) and marked sent only after ``send`` returned
True.

``subject(reminder, recipient)`` is the other decision the renderers need:
whether a reminder still has something to say, and the records it is about.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from bot.clock import Clock
from bot.config import Config, RemindersConfig
from bot.domain import access
from bot.domain.models import (
    Customer,
    Feedback,
    FeedbackStatus,
    Interaction,
    Reminder,
    ReminderKind,
    ReminderStatus,
    Role,
    StaffUser,
)
from bot.services.reminders import ReminderService, in_quiet_hours
from storage.base import Store

log = logging.getLogger(__name__)

OVERDUE_FOR_DIGEST = timedelta(hours=1)
BATCH = 2000  # due reminders read and shared out among recipients at a time
DUE_PAGE = 250  # reminders per store read (a short read: the event loop stays free)
RECIPIENTS_AT_ONCE = 100  # recipients served side by side
FINISHED_FEEDBACK = (FeedbackStatus.RESOLVED, FeedbackStatus.CONFIRMED)


class SendError(Exception):
    """What ``send`` raises when a parcel did not go out; ``reason`` is recorded on the reminder."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class RetryLater(SendError):
    """Flood control: try again after ``seconds`` (Telegram's retry_after)."""

    def __init__(self, seconds: float, reason: str = "flood control") -> None:
        super().__init__(reason)
        self.seconds = seconds


class TransientFailure(SendError):
    """Network trouble, a timeout, a server error: retried with backoff, never final."""


class Ambiguous(TransientFailure):
    """The request may have been processed although no success came back: at most one retry."""


class Refused(SendError):
    """Telegram refused the chat or the message: retried, then given up after max_attempts."""


class RenderFailure(SendError):
    """Our own code failed to build the message (a bug, not Telegram's answer).

    Never a reason to give the reminder up: it is logged with its traceback
    and retried with backoff (the attempt is not counted), so it goes out
    once the bug is fixed. ``send`` may raise it, and any exception that is
    not a ``SendError`` is taken as one.
    """


# Payload keys the delivery keeps on a reminder while it fails.
FIRST_DUE = "first_due"  # the due time before retries moved it
UNCONFIRMED = "unconfirmed"  # ambiguous failures of parcels it was in (on its own or in a digest)
IN_DIGEST = "in_digest"  # past the retry horizon: no longer sent on its own, goes into the next digest
MAX_REPORTED = 50  # failures listed in one admin report


@dataclass(frozen=True)
class Parcel:
    """What one ``send`` call delivers: one reminder, or several as one "while you were away" digest.

    ``customers`` holds the customers a digest mentions (by id), so the
    adapter can name them without reading the store.
    """

    recipient: StaffUser
    reminders: tuple[Reminder, ...]
    digest: bool = False
    customers: Mapping[str, Customer] = field(default_factory=dict)


Send = Callable[[Parcel], Awaitable[bool]]


class Result(StrEnum):
    SENT = "sent"
    CANCELLED = "cancelled"  # nothing left to say, or the recipient left
    POSTPONED = "postponed"  # quiet hours
    RETRYING = "retrying"  # failed this time, due again later
    GAVE_UP = "gave_up"  # refused max_attempts times: final
    UNCONFIRMED = "unconfirmed"  # ambiguous failures used up: counted as (probably) sent
    TAKEN = "taken"  # another worker holds the claim


@dataclass(frozen=True)
class Outcome:
    reminder_id: str
    result: Result
    reason: str | None = None
    retry_after: float | None = None  # flood control: the chat waits this long (seconds)


@dataclass(frozen=True)
class Subject:
    """The records a reminder is about, loaded when it is rendered (so it is current)."""

    customer: Customer | None = None
    feedback: Feedback | None = None
    last_interaction: Interaction | None = None
    customers: Mapping[str, Customer] = field(default_factory=dict)  # greetings, churn summaries


class DeliveryService:
    def __init__(self, store: Store, clock: Clock, config: Config, reminders: ReminderService) -> None:
        self.store = store
        self.clock = clock
        self.config = config
        self.reminders = reminders

    @property
    def rules(self) -> RemindersConfig:
        return self.config.reminders

    def quiet_hours(self, user: StaffUser) -> tuple[int, int] | None:
        """The user's own quiet hours, else the configured ones; None or (h, h) means off."""
        return user.quiet_hours if user.quiet_hours is not None else self.rules.quiet_hours

    def zone(self, user: StaffUser) -> ZoneInfo:
        try:
            return ZoneInfo(user.timezone)
        except (ValueError, KeyError):
            return self.config.tz

    # ---- the job -------------------------------------------------------------------------
    async def deliver_due(self, now: datetime, send: Send, *, limit: int = BATCH,
                          recipients_at_once: int = RECIPIENTS_AT_ONCE) -> list[Outcome]:
        """Deliver every reminder due by ``now`` once; one outcome per reminder looked at.

        Everything due goes out in one call, ``limit`` reminders read at a
        time. Recipients are served side by side (up to ``recipients_at_once``),
        each recipient's reminders one after the other, oldest first: so the
        pace is set by ``send`` — the Telegram adapter paces each chat at its
        own rate and all of delivery at its share of the global one — and one
        recipient with many reminders never holds up the others. A reminder
        that fails is due again later, so a call ends.
        """
        outcomes: list[Outcome] = []
        seen: set[str] = set()
        gate = asyncio.Semaphore(max(1, recipients_at_once))

        async def deliver_to(recipient_id: str, reminders: list[Reminder]) -> list[Outcome]:
            async with gate:
                return await self._deliver_to(recipient_id, reminders, now, send)

        while True:
            by_recipient: dict[str, list[Reminder]] = defaultdict(list)
            for reminder in await self._due_page(now, limit, seen):
                by_recipient[reminder.recipient_id].append(reminder)
                seen.add(reminder.id)
            if not by_recipient:
                return outcomes
            for done in await asyncio.gather(*(deliver_to(rid, rs) for rid, rs in by_recipient.items())):
                outcomes += done

    async def _due_page(self, now: datetime, limit: int, seen: set[str]) -> list[Reminder]:
        """Up to ``limit`` due reminders not looked at yet in this call (read in short pages)."""
        found: list[Reminder] = []
        offset = 0
        while len(found) < limit:
            page = await self.reminders.due(now, limit=DUE_PAGE, offset=offset)
            found += [r for r in page if r.id not in seen]
            if len(page) < DUE_PAGE:
                break
            offset += DUE_PAGE
            await asyncio.sleep(0)  # the event loop serves others between pages
        return found[:limit]

    async def _deliver_to(
        self, recipient_id: str, reminders: list[Reminder], now: datetime, send: Send
    ) -> list[Outcome]:
        user = await self.store.staff.get(recipient_id)
        if user is None or not user.active:
            for reminder in reminders:
                await self.reminders.cancel(reminder.dedupe_key, "recipient not active")
            return [Outcome(r.id, Result.CANCELLED, "recipient not active") for r in reminders]
        quiet_end = in_quiet_hours(now, self.zone(user), self.quiet_hours(user))
        if quiet_end is not None:
            return [await self._postpone(r, quiet_end.astimezone(now.tzinfo), now) for r in reminders]
        outcomes: list[Outcome] = []
        digest = [r for r in reminders if r.payload.get(IN_DIGEST)]
        overdue = [r for r in reminders if not r.payload.get(IN_DIGEST) and now - r.due_at > OVERDUE_FOR_DIGEST]
        if len(overdue) > self.rules.digest_threshold:
            digest += overdue
        if digest:
            outcomes += await self._send_digest(user, digest, now, send)
            reminders = [r for r in reminders if r not in digest]
        for reminder in reminders:
            outcome = await self._send_one(user, reminder, now, send)
            outcomes.append(outcome)
            if outcome.retry_after is not None:
                break  # flood control for this chat: its other reminders wait (still due), the others go on
        return outcomes

    async def _postpone(self, reminder: Reminder, until: datetime, now: datetime) -> Outcome:
        claimed = await self.reminders.claim(reminder, now)
        if claimed is None:
            return Outcome(reminder.id, Result.TAKEN)
        await self.reminders.postpone(claimed, until, "quiet hours")
        return Outcome(reminder.id, Result.POSTPONED, "quiet hours")

    async def _send_one(self, user: StaffUser, reminder: Reminder, now: datetime, send: Send) -> Outcome:
        claimed = await self.reminders.claim(reminder, now)
        if claimed is None:
            return Outcome(reminder.id, Result.TAKEN)
        return (await self._send([claimed], Parcel(user, (claimed,)), now, send))[0]

    async def _send_digest(
        self, user: StaffUser, reminders: list[Reminder], now: datetime, send: Send
    ) -> list[Outcome]:
        claimed = [c for r in reminders if (c := await self.reminders.claim(r, now)) is not None]
        taken = [Outcome(r.id, Result.TAKEN) for r in reminders if r.id not in {c.id for c in claimed}]
        if not claimed:
            return taken
        customers: dict[str, Customer] = {}
        for reminder in claimed:
            if reminder.customer_id and reminder.customer_id not in customers:
                customer = await self.store.customers.get(reminder.customer_id)
                if customer is not None and access.can_view_customer(user, customer):
                    customers[customer.id] = customer
        parcel = Parcel(user, tuple(claimed), digest=True, customers=customers)
        return taken + await self._send(claimed, parcel, now, send)

    async def _send(self, claimed: list[Reminder], parcel: Parcel, now: datetime, send: Send) -> list[Outcome]:
        """Send one parcel of claimed reminders and record what happened to each."""
        try:
            delivered = await send(parcel)
        except RetryLater as error:
            return [await self._retry(r, now, error.reason, retry_after=error.seconds) for r in claimed]
        except Ambiguous as error:
            log.warning("reminders %s to %s: delivery unknown: %s", [r.id for r in claimed],
                        parcel.recipient.id, error.reason)
            return [await self._ambiguous(r, now, error.reason) for r in claimed]
        except TransientFailure as error:
            return [await self._retry(r, now, error.reason) for r in claimed]
        except Refused as error:
            log.warning("reminders %s to %s refused: %s", [r.id for r in claimed], parcel.recipient.id,
                        error.reason)
            return [await self._refused(r, parcel.recipient, now, error.reason) for r in claimed]
        except Exception as error:  # RenderFailure, or a bug anywhere in ``send``: never final
            reason = error.reason if isinstance(error, RenderFailure) else f"bug: {type(error).__name__}: {error}"
            log.error("reminders %s to %s could not be rendered or sent (a bug; kept pending): %s",
                      [r.id for r in claimed], parcel.recipient.id, reason, exc_info=error)
            return [await self._retry(r, now, reason) for r in claimed]
        if not delivered:
            for reminder in claimed:
                await self.reminders.cancel(reminder.dedupe_key, "nothing left to say")
            return [Outcome(r.id, Result.CANCELLED, "nothing left to say") for r in claimed]
        for reminder in claimed:
            await self.reminders.mark_sent(reminder, now)
        return [Outcome(r.id, Result.SENT) for r in claimed]

    def _failing(self, reminder: Reminder) -> dict[str, Any]:
        """The reminder's payload, remembering when it first fell due."""
        return {FIRST_DUE: reminder.due_at.isoformat(), **reminder.payload}

    def _max_backoff(self) -> timedelta:
        return timedelta(minutes=self.rules.retry_backoff_max_minutes)

    async def _retry(
        self, reminder: Reminder, now: datetime, reason: str, *, retry_after: float | None = None,
        payload: dict[str, Any] | None = None,
    ) -> Outcome:
        """A transient failure: due again later, never final (the attempt is not counted).

        Past the horizon (``retry_horizon_hours`` after it first fell due) the
        reminder stops going on its own and waits for the recipient's digest.
        """
        payload = payload or self._failing(reminder)
        first_due = datetime.fromisoformat(payload[FIRST_DUE])
        if now - first_due > timedelta(hours=self.rules.retry_horizon_hours):
            payload[IN_DIGEST] = True
        await self.reminders.failed(reminder, now, reason, retry_after=retry_after, max_attempts=None,
                                    max_backoff=self._max_backoff(), payload=payload)
        return Outcome(reminder.id, Result.RETRYING, reason, retry_after=retry_after)

    async def _ambiguous(self, reminder: Reminder, now: datetime, reason: str) -> Outcome:
        """Maybe delivered: one retry, and after a second such failure it counts as sent (unconfirmed)."""
        payload = self._failing(reminder)
        payload[UNCONFIRMED] = int(payload.get(UNCONFIRMED, 0)) + 1
        if payload[UNCONFIRMED] < 2:
            return await self._retry(reminder, now, reason, payload=payload)
        await self.reminders.mark_sent(reminder, now, note=f"unconfirmed: {reason}", payload=payload)
        return Outcome(reminder.id, Result.UNCONFIRMED, reason)

    async def _refused(self, reminder: Reminder, recipient: StaffUser, now: datetime, reason: str) -> Outcome:
        saved = await self.reminders.failed(reminder, now, reason, max_attempts=self.rules.max_attempts,
                                            max_backoff=self._max_backoff())
        if saved.status is not ReminderStatus.FAILED:
            return Outcome(reminder.id, Result.RETRYING, reason)
        if reminder.kind is not ReminderKind.DELIVERY_FAILURES:
            await self._report_failure(saved, recipient, now, reason)
        return Outcome(reminder.id, Result.GAVE_UP, reason)

    # ---- telling the admins, once a day --------------------------------------------------
    def report_due(self, now: datetime) -> tuple[str, datetime]:
        """The day a failure at ``now`` belongs to, and when that day's report goes out (next morning)."""
        day = now.astimezone(self.config.tz).date()
        due = datetime.combine(day + timedelta(days=1), time(self.rules.agenda_hour), self.config.tz)
        return day.isoformat(), due

    async def _report_failure(self, reminder: Reminder, recipient: StaffUser, now: datetime, reason: str) -> None:
        """Add the given-up reminder to each admin's report of the day (one reminder per admin and day)."""
        day, due = self.report_due(now)
        entry = {"reminder_id": reminder.id, "kind": reminder.kind.value, "recipient": recipient.name,
                 "recipient_id": recipient.id, "reason": reason[:200], "at": now.isoformat()}
        for admin in await self.store.staff.find({"role": Role.ADMIN.value}):
            if not admin.active:
                continue
            key = f"delivery_failures:{admin.id}:{day}"
            existing = await self.store.reminders.get_by("dedupe_key", key)
            failures = list(existing.payload.get("failures", [])) if existing is not None else []
            if existing is not None and existing.status is not ReminderStatus.PENDING:
                continue  # that day's report went out already
            more = int(existing.payload.get("more", 0)) if existing is not None else 0
            if len(failures) < MAX_REPORTED:
                failures.append(entry)
            else:
                more += 1
            await self.reminders.schedule(
                kind=ReminderKind.DELIVERY_FAILURES, recipient_id=admin.id, due_at=due, dedupe_key=key,
                payload={"day": day, "failures": failures, "more": more})

    # ---- what a reminder is about --------------------------------------------------------
    async def subject(self, reminder: Reminder, recipient: StaffUser) -> Subject | None:
        """The records ``reminder`` is about, or None when it has nothing left to say.

        A rep's reminder about a customer holds only while the customer is
        theirs and not archived; feedback reminders while the feedback is
        unfinished; greetings for the customers still theirs; a churn summary
        for the customers that still exist.
        """
        kind = reminder.kind
        if kind is ReminderKind.FOLLOW_UP:
            customer = await self._owned(reminder.customer_id, recipient)
            if customer is None:
                return None
            last = await self.store.interactions.find({"customer_id": customer.id, "deleted": False},
                                                      order_by="occurred_at", descending=True, limit=1)
            return Subject(customer=customer, last_interaction=last[0] if last else None)
        if kind in (ReminderKind.BIRTHDAY, ReminderKind.FESTIVAL):
            customers = {}
            for item in reminder.payload.get("items", []):
                customer = await self._owned(item.get("customer_id"), recipient)
                if customer is not None:
                    customers[customer.id] = customer
            return Subject(customers=customers) if customers else None
        if kind in (ReminderKind.CHURN_WARNING, ReminderKind.REORDER):
            if reminder.payload.get("summary"):
                found = {}
                for customer_id in reminder.payload.get("customers", []):
                    customer = await self.store.customers.get(customer_id)
                    if customer is not None and access.can_view_customer(recipient, customer):
                        found[customer.id] = customer
                return Subject(customers=found) if found else None
            customer = await self._owned(reminder.customer_id, recipient)
            return Subject(customer=customer) if customer is not None else None
        if kind in (ReminderKind.FEEDBACK_OVERDUE, ReminderKind.COMPLAINT_ALERT):
            item = await self.store.feedback.get(str(reminder.payload.get("feedback_id", "")))
            customer = await self.store.customers.get(reminder.customer_id or "")
            # moved to a team the recipient does not see since: nothing to say to them, not its name
            if item is None or customer is None or not access.can_view_customer(recipient, customer):
                return None
            if kind is ReminderKind.FEEDBACK_OVERDUE and (item.deleted or item.status in FINISHED_FEEDBACK):
                return None
            return Subject(customer=customer, feedback=item)
        return Subject()

    async def _owned(self, customer_id: str | None, recipient: StaffUser) -> Customer | None:
        customer = await self.store.customers.get(customer_id) if customer_id else None
        if customer is None or customer.archived or customer.owner_id != recipient.id:
            return None
        return customer
