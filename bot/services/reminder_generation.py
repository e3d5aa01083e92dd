"""Generating the reminders the scheduler owes people (客户关系维护 and 客户流失预警).

Each generator looks at the store as of ``now`` and *schedules* outbox rows
with dedupe keys, so running it twice — a rerun job, a restart, two
replicas, a catch-up after downtime — yields each reminder once. Delivery
is someone else's job (``bot.services.delivery``).

Days are each recipient's local days: a greeting or an agenda is due at
``[reminders] agenda_hour`` in the recipient's own time zone.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import date, datetime, time, timedelta
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

from bot.clock import Clock
from bot.config import Config
from bot.domain import birthdays, catch_up, churn, festivals
from bot.domain.models import (
    Customer,
    FeedbackStatus,
    Reminder,
    ReminderKind,
    ReminderStatus,
    Role,
    StaffUser,
)
from bot.services.reminders import ReminderService, follow_up_key
from storage.base import Range, Store

log = logging.getLogger(__name__)

BOOKMARK = "scheduler:generated_through"
CHURN_STATE = "churn_state"


def greetings_key(owner_id: str, day: date) -> str:
    return f"greetings:{owner_id}:{day.isoformat()}"


def agenda_day(reminder: Reminder) -> date:
    """The day an agenda reminder is about."""
    return date.fromisoformat(reminder.payload.get("day") or reminder.due_at.date().isoformat())


def _zone(user: StaffUser, default: str) -> ZoneInfo:
    try:
        return ZoneInfo(user.timezone)
    except (KeyError, ValueError):
        return ZoneInfo(default)


class ReminderGenerator:
    """Schedules follow-ups, greetings, agendas, churn warnings and overdue-feedback reminders."""

    def __init__(
        self, store: Store, clock: Clock, config: Config, reminders: ReminderService,
        reclassify: Callable[[str], Awaitable[Any]] | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.config = config
        self.reminders = reminders
        self.reclassify = reclassify

    @cached_property
    def festivals(self) -> tuple[festivals.Festival, ...]:
        return festivals.load_festivals(self.config.festivals.calendar_file or None)

    @property
    def churn_rules(self) -> churn.ChurnRules:
        """The ``[churn]`` section, built once at start-up."""
        return self.config.churn

    async def _active_staff(self) -> list[StaffUser]:
        return await self.store.staff.find({"active": True})

    def _at_agenda_hour(self, day: date, tz: ZoneInfo) -> datetime:
        return datetime.combine(day, time(self.config.reminders.agenda_hour), tz)

    # ---- the daily run -------------------------------------------------------------------
    @property
    def horizon(self) -> int:
        """``[reminders] catch_up_days``: how many missed days a run after downtime catches up."""
        return self.config.reminders.catch_up_days

    async def run_daily(self, now: datetime) -> None:
        """Generate what is owed up to each person's today, catching up every missed day.

        The bookmark in the store says which day was generated last, so a restart
        or a long outage is caught up from the store: the greetings of every
        missed day within the horizon come as one "missed" message per rep, with
        their drafts; the days beyond it are named to the admins in one message;
        only today's agenda is sent (older ones are superseded).
        """
        bookmark = await self.store.kv.get(BOOKMARK)
        today = now.astimezone(ZoneInfo(self.config.locale.timezone)).date()
        done = date.fromisoformat(bookmark.value) if bookmark is not None else None
        owed = catch_up.catch_up(done, today, self.horizon)
        await self.sync_follow_ups(now)
        if owed.beyond is not None:
            await self.beyond_horizon(owed.beyond, now)
        if owed.missed is not None:
            await self.missed_greetings(owed.missed, now)
        for day in (today, today + timedelta(days=1)):  # a day ahead: time zones east of the server's
            await self.greetings(day)
        await self.agendas(now)
        if done is None or done < today:  # once a day: the first run of a new day
            await self.reclassify_all()  # stages move with time alone (new → at risk → churned)
            await self.churn_scan(now)
        await self._save_bookmark(max(today, done) if done else today, now)

    async def reclassify_all(self) -> None:
        if self.reclassify is None:
            return
        for customer in await self.store.customers.find({"archived": False}):
            await self.reclassify(customer.id)

    async def _save_bookmark(self, day: date, now: datetime) -> None:
        await self.store.kv.put(BOOKMARK, day.isoformat(), namespace="scheduler", now=now)

    # ---- follow-ups ----------------------------------------------------------------------
    async def sync_follow_ups(self, now: datetime) -> int:
        """Make sure every planned follow-up has its pending reminder (e.g. after an import)."""
        created = 0
        for customer in await self.store.customers.find(
            {"archived": False}, within=Range("next_follow_up_at", now - timedelta(days=self.horizon), None)
        ):
            existing = await self.store.reminders.get_by("dedupe_key", follow_up_key(customer.id))
            if existing is None or (existing.status is ReminderStatus.CANCELLED
                                    and existing.due_at != customer.next_follow_up_at):
                await self.reminders.schedule_follow_up(customer)
                created += 1
        return created

    # ---- birthdays and festivals ---------------------------------------------------------
    async def _customers_by_owner(self) -> tuple[dict[str, StaffUser], dict[str, list[Customer]]]:
        staff = {u.id: u for u in await self._active_staff()}
        by_owner: dict[str, list[Customer]] = defaultdict(list)
        for customer in await self.store.customers.find({"archived": False}):
            if customer.owner_id in staff:
                by_owner[customer.owner_id].append(customer)
        return staff, by_owner

    def _greetings_of(self, customers: list[Customer], day: date) -> list[dict]:
        """The greetings whose reminder day is ``day`` (lead time before the occasion)."""
        items: list[dict] = []
        for customer_id, when in birthdays.birthdays_due(customers, day, self.config.birthdays.lead_days):
            items.append({"customer_id": customer_id, "occasion": "birthday", "date": when.isoformat()})
        for festival, when, ids in festivals.due_greetings(self.festivals, customers, day):
            items += [{"customer_id": cid, "occasion": festival.key, "date": when.isoformat()} for cid in ids]
        return items

    @staticmethod
    def _greeting_kind(items: list[dict]) -> ReminderKind:
        return ReminderKind.BIRTHDAY if all(i["occasion"] == "birthday" for i in items) else ReminderKind.FESTIVAL

    async def greetings(self, day: date) -> None:
        """One message per rep per day listing whose greetings are due (birthdays and festivals)."""
        staff, by_owner = await self._customers_by_owner()
        for owner_id, customers in by_owner.items():
            items = self._greetings_of(customers, day)
            if not items:
                continue
            user = staff[owner_id]
            await self.reminders.schedule(
                kind=self._greeting_kind(items),
                recipient_id=owner_id,
                due_at=self._at_agenda_hour(day, _zone(user, self.config.locale.timezone)),
                dedupe_key=greetings_key(owner_id, day),
                payload={"items": items, "day": day.isoformat()},
            )

    async def missed_greetings(self, days: catch_up.DayRange, now: datetime) -> None:
        """One message per rep, due now, with every greeting whose reminder day passed while down.

        A day whose greetings message went out is skipped; one still pending (generated
        ahead before the outage) is superseded by this message, so nothing comes twice.
        """
        _staff, by_owner = await self._customers_by_owner()
        for owner_id, customers in by_owner.items():
            items: list[dict] = []
            for day in days:
                key = greetings_key(owner_id, day)
                existing = await self.store.reminders.get_by("dedupe_key", key)
                if existing is not None and existing.status is ReminderStatus.SENT:
                    continue
                await self.reminders.cancel(key, "superseded by the missed-greetings message")
                items += [i for i in self._greetings_of(customers, day) if i not in items]
            if items:
                await self.reminders.schedule(
                    kind=self._greeting_kind(items), recipient_id=owner_id, due_at=now,
                    dedupe_key=f"greetings_missed:{owner_id}:{days.first.isoformat()}:{days.last.isoformat()}",
                    payload={"items": items, "missed": True,
                             "from": days.first.isoformat(), "to": days.last.isoformat()},
                )

    async def beyond_horizon(self, days: catch_up.DayRange, now: datetime) -> None:
        """Downtime longer than the horizon: one message to each admin naming what was not caught up."""
        staff, by_owner = await self._customers_by_owner()
        greetings = sum(len(self._greetings_of(customers, day)) for customers in by_owner.values() for day in days)
        for admin in staff.values():
            if admin.role is not Role.ADMIN:
                continue
            await self.reminders.schedule(
                kind=ReminderKind.CATCH_UP, recipient_id=admin.id, due_at=now,
                dedupe_key=f"catch_up:{admin.id}:{days.first.isoformat()}:{days.last.isoformat()}",
                payload={"from": days.first.isoformat(), "to": days.last.isoformat(),
                         "days": days.days, "greetings": greetings, "horizon": self.horizon},
            )

    async def greeting_count(self, user: StaffUser, day: date) -> int:
        """How many greetings the user's greetings reminder of ``day`` lists."""
        greetings = await self.store.reminders.get_by("dedupe_key", greetings_key(user.id, day))
        return len(greetings.payload.get("items", [])) if greetings else 0

    def festival(self, key: str) -> festivals.Festival | None:
        return next((f for f in self.festivals if f.key == key), None)

    # ---- daily agenda --------------------------------------------------------------------
    async def agendas(self, now: datetime) -> None:
        """Each person's agenda for their local today and tomorrow; older pending ones are superseded.

        An agenda is about its own day: one for a day gone by (downtime, a jump
        through quiet hours) is cancelled, never sent.
        """
        for user in await self._active_staff():
            tz = _zone(user, self.config.locale.timezone)
            today = now.astimezone(tz).date()
            for stale in await self.store.reminders.find({
                "kind": ReminderKind.DAILY_AGENDA.value, "recipient_id": user.id,
                "status": ReminderStatus.PENDING.value,
            }):
                if agenda_day(stale) < today:
                    await self.reminders.cancel(stale.dedupe_key, "superseded by a newer agenda")
            if user.role is Role.ADMIN and not await self.store.customers.count({"owner_id": user.id}):
                continue
            for day in (today, today + timedelta(days=1)):
                await self.reminders.schedule(
                    kind=ReminderKind.DAILY_AGENDA, recipient_id=user.id,
                    due_at=self._at_agenda_hour(day, tz),
                    dedupe_key=f"agenda:{user.id}:{day.isoformat()}",
                    payload={"day": day.isoformat()},
                )

    async def agenda(self, user: StaffUser, day: date) -> dict[str, list[Customer]]:
        """What a rep has on their plate today: computed at delivery time, so it is current."""
        tz = _zone(user, self.config.locale.timezone)
        start = datetime.combine(day, time(0), tz)
        end = start + timedelta(days=1)
        mine = await self.store.customers.find({"owner_id": user.id, "archived": False})
        follow_ups = sorted((c for c in mine if c.next_follow_up_at and c.next_follow_up_at < end),
                            key=lambda c: c.next_follow_up_at)
        overdue_feedback = []
        for status in (FeedbackStatus.OPEN, FeedbackStatus.IN_PROGRESS):
            for f in await self.store.feedback.find({"owner_id": user.id, "status": status.value, "deleted": False}):
                if f.due_at and f.due_at < end:
                    customer = await self.store.customers.get(f.customer_id)
                    if customer is not None:
                        overdue_feedback.append(customer)
        at_risk = [c for c in mine if c.effective_stage.value in ("at_risk", "churned")]
        return {"follow_ups": follow_ups, "feedback": overdue_feedback, "at_risk": at_risk}

    # ---- churn ---------------------------------------------------------------------------
    async def churn_scan(self, now: datetime) -> int:
        """Warn the owner once when a customer crosses the churn threshold; one summary per manager."""
        rules = self.churn_rules
        local_now = now.astimezone(ZoneInfo(self.config.locale.timezone))
        staff = {u.id: u for u in await self._active_staff()}
        warned: dict[str, list[str]] = defaultdict(list)  # team -> customer ids
        count = 0
        for customer in await self.store.customers.find({"archived": False}):
            purchases = await self.store.purchases.find({"customer_id": customer.id})
            interactions = await self.store.interactions.find({"customer_id": customer.id, "deleted": False})
            feedback = await self.store.feedback.find({"customer_id": customer.id, "deleted": False})
            assessment = churn.score(customer, purchases, interactions, feedback, local_now, rules)
            state_id = f"{CHURN_STATE}:{customer.id}"
            state = await self.store.kv.get(state_id)
            was_at_risk = bool(state and state.value.get("at_risk"))
            if assessment.at_risk and not was_at_risk and customer.owner_id in staff:
                episode = now.date().isoformat()
                await self.reminders.schedule(
                    kind=ReminderKind.CHURN_WARNING, recipient_id=customer.owner_id, due_at=now,
                    dedupe_key=f"churn:{customer.id}:{episode}", customer_id=customer.id,
                    payload={"score": assessment.score, "reasons": [r.as_dict() for r in assessment.reasons]},
                )
                warned[customer.team or ""].append(customer.id)
                count += 1
            if assessment.at_risk != was_at_risk or state is None:
                value = {"at_risk": assessment.at_risk, "score": assessment.score}
                await self.store.kv.put(state_id, value, namespace=CHURN_STATE, now=now)
        for team, ids in warned.items():
            for manager in staff.values():
                if manager.role is Role.MANAGER and team in manager.teams:
                    await self.reminders.schedule(
                        kind=ReminderKind.CHURN_WARNING, recipient_id=manager.id, due_at=now,
                        dedupe_key=f"churn_summary:{manager.id}:{now.date().isoformat()}:{team}",
                        payload={"summary": True, "customers": ids, "team": team},
                    )
        return count

    # ---- overdue feedback ----------------------------------------------------------------
    async def feedback_scan(self, now: datetime) -> int:
        """Overdue feedback: a reminder to the owner, escalated to managers after a delay."""
        count = 0
        escalate_after = self.config.feedback.escalate_after
        staff = {u.id: u for u in await self._active_staff()}
        for status in (FeedbackStatus.OPEN, FeedbackStatus.IN_PROGRESS):
            for item in await self.store.feedback.find(
                {"status": status.value, "deleted": False}, within=Range("due_at", None, now)
            ):
                customer = await self.store.customers.get(item.customer_id)
                if customer is None or customer.archived:
                    continue
                if customer.owner_id in staff:
                    await self.reminders.schedule(
                        kind=ReminderKind.FEEDBACK_OVERDUE, recipient_id=customer.owner_id, due_at=now,
                        dedupe_key=f"feedback_overdue:{item.id}", customer_id=customer.id,
                        payload={"feedback_id": item.id},
                    )
                    count += 1
                if item.due_at and now >= item.due_at + escalate_after:
                    for manager in staff.values():
                        if manager.role is Role.MANAGER and customer.team in manager.teams:
                            await self.reminders.schedule(
                                kind=ReminderKind.FEEDBACK_OVERDUE, recipient_id=manager.id, due_at=now,
                                dedupe_key=f"feedback_escalated:{item.id}:{manager.id}",
                                customer_id=customer.id, payload={"feedback_id": item.id, "escalated": True},
                            )
        return count


