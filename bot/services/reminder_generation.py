"""Generating the reminders the scheduler owes people (客户关系维护 and 客户流失预警).

Each generator looks at the store as of ``now`` and *schedules* outbox rows
with dedupe keys, so running it twice — a rerun job, a restart, two
replicas, a catch-up after downtime — yields each reminder once. Delivery
is someone else's job (``bot.services.delivery``).

Days are each recipient's local days: a greeting or an agenda is due at
``[reminders] agenda_hour`` in the recipient's own time zone.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import logging
import time as timer
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from datetime import date, datetime, time, timedelta
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

from bot.clock import Clock
from bot.config import Config
from bot.domain import birthdays, catch_up, churn, deals, festivals, reorder, rescan
from bot.domain.classification import classify
from bot.domain.models import (
    Customer,
    Feedback,
    FeedbackStatus,
    Interaction,
    Outcome,
    Purchase,
    Reminder,
    ReminderKind,
    ReminderStatus,
    Role,
    StaffUser,
)
from bot.services.collector import collector_paused
from bot.services.reminders import ReminderService, follow_up_key
from storage.base import ConflictError, NotFoundError, Range, Store

log = logging.getLogger(__name__)

BOOKMARK = "scheduler:generated_through"
CHURN_STATE = "churn_state"
SCAN_STATE = "scan:state"  # {"day": the local day last scanned, "at": when that scan started}
DIRTY = "scan_dirty"  # "scan_dirty:<customer id>": an edit the time stamps do not show (see daily_scan)
DUE = "scan_due"  # "scan_due:<day>": customers whose tier, stage or churn risk may move with time that day
SCAN_CHUNK = 200  # customers assessed per worker call
INTERACTIONS_PAGE = 8  # a customer's interactions read at a time, newest first
WRITES_PER_TURN = 4  # scan writes started per turn of the event loop (each encodes its record: ~1–2 ms)
LOOP_SLICE = 0.01  # seconds of store reads on the event loop before it is given back
FREEZE_FROM = 5_000  # customers assessed in one scan from which its rewritten records are frozen (gc.freeze)


async def changed(store: Store, customer_id: str, now: datetime) -> None:
    """Mark the customer for the next daily scan: call it after an edit of an interaction or feedback.

    New records and customer updates need no mark: the scan finds them by
    their ``created_at`` / ``updated_at``.
    """
    await store.kv.put(f"{DIRTY}:{customer_id}", now.isoformat(), namespace=DIRTY, now=now)


@dataclasses.dataclass
class _Assessed:
    """One customer as the scan saw them, and what the rules say (computed in a worker thread)."""

    customer: Customer  # as read
    classified: Customer  # with the derived tier and stage of today (== customer: unchanged)
    assessment: churn.ChurnAssessment
    next_day: date | None  # when time alone may change any of it
    reorder_due: reorder.ReorderPrediction | None = None  # a reorder reminder is due today


def reorder_key(customer_id: str, prediction: reorder.ReorderPrediction) -> str:
    """One reorder reminder per customer and purchase cycle (a new purchase starts a new one)."""
    return f"reorder:{customer_id}:{prediction.last_purchase_on.isoformat()}"


def reorder_reminder(
    purchases: list[Purchase], today: date, rules: reorder.ReorderRules
) -> tuple[reorder.ReorderPrediction | None, date | None]:
    """The prediction if its reminder is due ``today`` (from ``remind_days_before`` the
    expected date up to the date itself), and the later day it falls due, if any."""
    if not rules.enabled:
        return None, None
    prediction = reorder.predict(purchases, today=today, rules=rules)
    if prediction is None:
        return None, None
    remind_on = prediction.reminder_on(rules.remind_days_before)
    if today < remind_on:
        return None, remind_on
    return (prediction if today <= prediction.expected_on else None), None


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

        The cyclic garbage collector is paused meanwhile (``collector_paused``): the
        run keeps thousands of decoded, acyclic records alive for seconds, and each
        full collection would walk them with the loop stopped (0.1-0.2 s at size M).
        """
        with collector_paused():
            await self._run_daily(now)

    async def _run_daily(self, now: datetime) -> None:
        bookmark = await self.store.kv.get(BOOKMARK)
        today = now.astimezone(ZoneInfo(self.config.locale.timezone)).date()
        done = date.fromisoformat(bookmark.value) if bookmark is not None else None
        owed = catch_up.catch_up(done, today, self.horizon)
        await self.sync_follow_ups(now)
        if owed.beyond is not None:
            await self.beyond_horizon(owed.beyond, now)
        if owed.missed is not None:
            await self.missed_greetings(owed.missed, now)
        people = await self._customers_by_owner()
        for day in (today, today + timedelta(days=1)):  # a day ahead: time zones east of the server's
            await self.greetings(day, people)
        await self.agendas(now)
        if done is None or done < today:  # once a day: the first run of a new day
            await self.daily_scan(now)  # stages move with time alone (new → at risk → churned)
        await self._save_bookmark(max(today, done) if done else today, now)

    async def full_scan(self, now: datetime) -> None:
        """The scan as it was before it became incremental: every customer, every day (benchmarks, tests)."""
        await self.reclassify_all()
        await self.churn_scan(now)

    async def reclassify_all(self) -> None:
        if self.reclassify is None:
            return
        for n, customer in enumerate(await self.store.customers.find({"archived": False})):
            await self.reclassify(customer.id)
            if n % 20 == 0:
                await asyncio.sleep(0)  # reads do not suspend: give the loop back now and then

    async def _save_bookmark(self, day: date, now: datetime) -> None:
        await self.store.kv.put(BOOKMARK, day.isoformat(), namespace="scheduler", now=now)

    # ---- follow-ups ----------------------------------------------------------------------
    async def sync_follow_ups(self, now: datetime) -> int:
        """Make sure every planned follow-up has its pending reminder (e.g. after an import)."""
        created = 0
        mark = timer.perf_counter()
        async for customer in self._paged(self.store.customers, {"archived": False},
                                          Range("next_follow_up_at", now - timedelta(days=self.horizon), None),
                                          order_by="next_follow_up_at"):
            if timer.perf_counter() - mark > LOOP_SLICE:  # a read per customer: give the loop back
                await asyncio.sleep(0)
                mark = timer.perf_counter()
            existing = await self.store.reminders.get_by("dedupe_key", follow_up_key(customer.id))
            if existing is None or (existing.status is ReminderStatus.CANCELLED
                                    and existing.due_at != customer.next_follow_up_at):
                await self.reminders.schedule_follow_up(customer)
                created += 1
        return created

    # ---- birthdays and festivals ---------------------------------------------------------
    async def _customers_by_owner(self) -> tuple[dict[str, StaffUser], dict[str, list[Customer]]]:
        """Active staff and their live customers, read owner by owner (short reads, the loop stays free)."""
        staff = {u.id: u for u in await self._active_staff()}
        by_owner: dict[str, list[Customer]] = defaultdict(list)
        for owner_id in staff:
            async for customer in self._paged(self.store.customers, {"owner_id": owner_id, "archived": False}):
                by_owner[owner_id].append(customer)
        return staff, by_owner

    async def _paged(self, collection: Any, where: dict[str, Any] | None = None, within: Range | None = None,
                     *, order_by: str = "id", page: int = 250) -> Any:
        """The records of a find, a page at a time, giving the loop back between pages."""
        offset = 0
        while True:
            found = await collection.find(where, within=within, order_by=order_by, offset=offset, limit=page)
            await asyncio.sleep(0)  # the event loop serves others after each page (reads do not suspend)
            for record in found:
                yield record
            if len(found) < page:
                return
            offset += page

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

    async def greetings(self, day: date, people: tuple[dict[str, StaffUser], dict[str, list[Customer]]] | None = None,
                        ) -> None:
        """One message per rep per day listing whose greetings are due (birthdays and festivals)."""
        staff, by_owner = people or await self._customers_by_owner()
        due = await asyncio.to_thread(
            lambda: {owner: self._greetings_of(customers, day) for owner, customers in by_owner.items()})
        for owner_id, items in due.items():
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

    async def agenda(self, user: StaffUser, day: date) -> dict[str, list[Any]]:
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
        todos = [t for t in await self.store.todos.find({"assignee_id": user.id, "status": "open", "deleted": False})
                 if t.due_at is not None and t.due_at < end]
        todos.sort(key=lambda t: (t.due_at, t.id))
        return {"follow_ups": follow_ups, "feedback": overdue_feedback, "at_risk": at_risk, "todos": todos,
                "deals": await self._deals_needing_attention(user, day, mine)}

    async def _deals_needing_attention(self, user: StaffUser, day: date,
                                       mine: list[Customer]) -> list[tuple[deals.Attention, Customer]]:
        """The owner's open deals closing on ``day`` or past it, or stuck in their stage (issue 18),
        each with its customer (``deals.attention``: the scheduler nudge's own rules)."""
        names = {c.id: c for c in mine}
        found = []
        picked = deals.needing_attention(await self.store.deals.find({"owner_id": user.id, "open": True}),
                                         self.config.deals.pipeline, now=self.clock.now(), today=day)
        for item in picked:
            customer = names.get(item.deal.customer_id) or await self.store.customers.get(item.deal.customer_id)
            if customer is not None and not customer.archived:
                found.append((item, customer))
        return found

    # ---- churn ---------------------------------------------------------------------------
    async def churn_scan(self, now: datetime) -> int:
        """Warn the owner once when a customer crosses the churn threshold; one summary per manager."""
        rules = self.churn_rules
        local_now = now.astimezone(ZoneInfo(self.config.locale.timezone))
        staff = {u.id: u for u in await self._active_staff()}
        warned: dict[str, list[str]] = defaultdict(list)  # team -> customer ids
        count = 0
        for n, customer in enumerate(await self.store.customers.find({"archived": False})):
            if n % 20 == 0:
                await asyncio.sleep(0)  # reads do not suspend: give the loop back now and then
            purchases = await self.store.purchases.find({"customer_id": customer.id})
            interactions = await self.store.interactions.find({"customer_id": customer.id, "deleted": False})
            feedback = await self.store.feedback.find({"customer_id": customer.id, "deleted": False})
            assessment = churn.score(customer, purchases, interactions, feedback, local_now, rules,
                                     self.config.reorder)
            due, _later = reorder_reminder(purchases, local_now.date(), self.config.reorder)
            if due is not None and customer.owner_id in staff:
                await self._schedule_reorder(customer, due, now)
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
        await self._summaries(warned, staff, now)
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



    # ---- the incremental daily scan ------------------------------------------------------
    async def daily_scan(self, now: datetime) -> int:
        """Reclassify and churn-score the customers whose result may have changed since the last scan.

        Those are the customers whose records were written since — found by
        their time stamps (customers updated, purchases, interactions and
        feedback created since the last scan began), and marked by the
        services (:func:`changed`) for the edits time stamps do not show: an
        interaction or feedback corrected, resolved or deleted — and those
        whose next time threshold (``bot.domain.rescan``) fell due since —
        every other customer would
        come out as before. The first scan ever assesses everyone. Store
        reads go in short slices on the event loop, the rules run in a worker
        thread; the outcome is what :meth:`full_scan` gives. Returns how many
        customers were assessed.

        The cyclic garbage collector is paused while it runs (see :meth:`run_daily`);
        after a scan of most customers (the first one), the records it rewrote are
        moved out of the collector's sight (``gc.freeze``), as the store does with
        what it loads.
        """
        with collector_paused():
            assessed = await self._daily_scan(now)
            if assessed >= FREEZE_FROM:  # before the collector is back: its first run would walk them
                gc.freeze()
        return assessed

    async def _daily_scan(self, now: datetime) -> int:
        started = self.clock.now()
        local_now = now.astimezone(ZoneInfo(self.config.locale.timezone))
        today = local_now.date()
        state = await self.store.kv.get(SCAN_STATE)
        if state is not None and state.value.get("day", "") >= today.isoformat():
            return 0
        if state is None:
            ids = await self._every_customer_id()
            due_keys: list[str] = []
        else:
            ids, due_keys = await self._changed_since(state.value, today)
        try:
            assessed = await self._scan(ids, now, local_now)
        except Exception:
            if state is not None:  # their marks were taken: mark them again for the next run
                await _together(changed(self.store, customer_id, now) for customer_id in ids)
            raise
        await _together(self.store.kv.delete(key) for key in due_keys)
        await self.store.kv.put(SCAN_STATE, {"day": today.isoformat(), "at": started.isoformat()},
                                namespace="scheduler", now=now)
        log.info("daily scan %s: %d of the customers assessed", today, assessed)
        return assessed

    async def _scan(self, ids: list[str], now: datetime, local_now: datetime) -> int:
        staff = {u.id: u for u in await self._active_staff()}
        warned: dict[str, list[str]] = defaultdict(list)  # team -> customer ids
        next_days: dict[date, list[str]] = defaultdict(list)
        assessed = 0
        writing: asyncio.Future[None] | None = None
        chunks = [ids[start:start + SCAN_CHUNK] for start in range(0, len(ids), SCAN_CHUNK)]
        records = await self._histories(chunks[0], now) if chunks else []
        for n in range(len(chunks)):
            # The rules in a worker while the previous chunk's writes go on on the loop.
            results = await asyncio.to_thread(self._assess, records, local_now)
            if writing is not None:
                await writing
            # The next chunk is read before this one's writes start: a read waits while a write is
            # in flight (until it is durable), so reads and writes are kept apart.
            records = await self._histories(chunks[n + 1], now) if n + 1 < len(chunks) else []
            writes = []
            for result, churn_state in results:
                writes.append(self._apply(result, churn_state, now, staff, warned))
                if result.next_day is not None:
                    next_days[result.next_day].append(result.customer.id)
            writing = asyncio.ensure_future(_sliced(writes))
            assessed += len(results)
        if writing is not None:
            await writing
        await self._summaries(warned, staff, now)
        await self._index_due(next_days, now)
        return assessed

    async def _every_customer_id(self) -> list[str]:
        # Pages in id order: new customers come last, so a page boundary skips none.
        return [c.id async for c in self._paged(self.store.customers) if not c.archived]

    async def _changed_since(self, state: dict[str, Any], today: date) -> tuple[list[str], list[str]]:
        """The customers marked, written or due since the last scan; the due-index keys read."""
        since = datetime.fromisoformat(state["at"])
        ids: dict[str, None] = {}
        while marks := await self.store.kv.find({"namespace": DIRTY}, limit=250):
            # Taken before their records are read: a write from now on marks again.
            await _together(self.store.kv.delete(mark.id) for mark in marks)
            ids.update(dict.fromkeys(mark.id.removeprefix(f"{DIRTY}:") for mark in marks))
        # Records written since without the services (imports, demo data) are found by their time stamps.
        async for customer in self._paged(self.store.customers, None, Range("updated_at", since, None),
                                          order_by="updated_at"):
            ids[customer.id] = None
        for collection in (self.store.purchases, self.store.interactions, self.store.feedback):
            async for record in self._paged(collection, None, Range("created_at", since, None),
                                            order_by="created_at"):
                ids[record.customer_id] = None
        due_keys = []
        day = date.fromisoformat(state["day"]) + timedelta(days=1)
        while day <= today:
            key = f"{DUE}:{day.isoformat()}"
            bucket = await self.store.kv.get(key)
            if bucket is not None:
                ids.update(dict.fromkeys(bucket.value))
                due_keys.append(key)
            day += timedelta(days=1)
        return sorted(ids), due_keys  # in id order, as the full scan lists them

    async def _latest_interactions(self, customer_id: str, moment: datetime) -> list[Interaction]:
        """The customer's interactions from the newest down to the latest contact made by ``moment``.

        That is all the rules look at: the latest contact (classification,
        the churn score's no-contact reason) and the ones still to come (they
        become contacts on their day); older entries change nothing.
        """
        found: list[Interaction] = []
        while True:
            page = await self.store.interactions.find(
                {"customer_id": customer_id, "deleted": False}, order_by="occurred_at", descending=True,
                offset=len(found), limit=INTERACTIONS_PAGE)
            found += page
            if len(page) < INTERACTIONS_PAGE or any(
                    i.occurred_at <= moment and i.outcome is not Outcome.NO_ANSWER for i in page):
                return found

    async def _histories(
        self, ids: list[str], now: datetime
    ) -> list[tuple[Customer, list[Purchase], list[Interaction], list[Feedback], Any]]:
        """Each live customer with their records and churn state, read in slices that leave the loop free."""
        moment = min(self.clock.now(), now)  # the earlier of the classification's and the churn score's now
        out = []
        mark = timer.perf_counter()
        for customer_id in ids:
            customer = await self.store.customers.get(customer_id)
            if customer is None or customer.archived:
                continue
            purchases = await self.store.purchases.find({"customer_id": customer_id})
            interactions = await self._latest_interactions(customer_id, moment)
            feedback = await self.store.feedback.find({"customer_id": customer_id, "deleted": False})
            state = await self.store.kv.get(f"{CHURN_STATE}:{customer_id}")
            out.append((customer, purchases, interactions, feedback, state))
            if timer.perf_counter() - mark > LOOP_SLICE:
                await asyncio.sleep(0)
                mark = timer.perf_counter()
        return out

    def _assess(self, records: list[tuple[Customer, list[Purchase], list[Interaction], list[Feedback], Any]],
                local_now: datetime) -> list[tuple[_Assessed, Any]]:
        """The rules for one chunk (a worker thread: plain data in, plain data out)."""
        class_now = self.clock.now().astimezone(self.config.tz)
        class_rules, rules = self.config.classification, self.churn_rules
        today = local_now.date()
        results = []
        for customer, purchases, interactions, feedback, state in records:
            classified, class_next = customer, None
            if self.reclassify is not None:
                result = classify(customer, purchases, interactions, class_now, class_rules)
                classified = dataclasses.replace(customer, value_tier=result.derived_tier,
                                                 stage=result.derived_stage)
                class_next = rescan.classification_change(customer, purchases, interactions, class_now,
                                                          class_rules)
            assessment = churn.score(classified, purchases, interactions, feedback, local_now, rules,
                                     self.config.reorder)
            boundary = min((d for d in (class_next, rescan.churn_breakpoints(
                classified, purchases, interactions, feedback, local_now, rules)) if d), default=None)

            def at_risk_on(day: date, c: Customer = classified, p: list = purchases,
                           i: list = interactions, f: list = feedback) -> bool:
                moment = local_now + timedelta(days=(day - today).days)
                return churn.score(c, p, i, f, moment, rules, self.config.reorder).at_risk

            next_day = rescan.next_change(today, boundary, assessment.at_risk, at_risk_on)
            reorder_due, remind_on = reorder_reminder(purchases, today, self.config.reorder)
            next_day = min((d for d in (next_day, remind_on) if d), default=None)
            results.append((_Assessed(customer, classified, assessment, next_day, reorder_due), state))
        return results

    def _apply(self, result: _Assessed, state: Any, now: datetime, staff: dict[str, StaffUser],
               warned: dict[str, list[str]]) -> Awaitable[None]:
        """Store what the rules said for one customer, as ``reclassify`` and ``churn_scan`` would.

        The warning is decided (and listed in ``warned``) at once, in the
        customers' order; the writes are returned to be awaited.
        """
        warn = result.assessment.at_risk and not (state and state.value.get("at_risk")) \
            and result.customer.owner_id in staff
        if warn:
            warned[result.customer.team or ""].append(result.customer.id)
        if result.reorder_due is not None and result.customer.owner_id not in staff:
            result = dataclasses.replace(result, reorder_due=None)
        return self._store_result(result, state, now, warn)

    async def _store_result(self, result: _Assessed, state: Any, now: datetime, warn: bool) -> None:
        customer = result.customer
        if (result.classified.value_tier, result.classified.stage) != (customer.value_tier, customer.stage):
            try:
                await self.store.customers.update(result.classified)
            except (ConflictError, NotFoundError):  # written meanwhile: classify it afresh (and mark it)
                if self.reclassify is not None:
                    try:
                        await self.reclassify(customer.id)
                    except Exception:  # e.g. purged meanwhile; the next scan sees it
                        log.warning("daily scan: could not reclassify %s", customer.id, exc_info=True)
        assessment = result.assessment
        was_at_risk = bool(state and state.value.get("at_risk"))
        if warn:
            await self.reminders.schedule(
                kind=ReminderKind.CHURN_WARNING, recipient_id=customer.owner_id, due_at=now,
                dedupe_key=f"churn:{customer.id}:{now.date().isoformat()}", customer_id=customer.id,
                payload={"score": assessment.score, "reasons": [r.as_dict() for r in assessment.reasons]},
            )
        if result.reorder_due is not None:
            await self._schedule_reorder(customer, result.reorder_due, now)
        if assessment.at_risk != was_at_risk or state is None:
            await self.store.kv.put(f"{CHURN_STATE}:{customer.id}",
                                    {"at_risk": assessment.at_risk, "score": assessment.score},
                                    namespace=CHURN_STATE, now=now)

    async def _schedule_reorder(self, customer: Customer, prediction: reorder.ReorderPrediction,
                                now: datetime) -> None:
        """The owner's reminder that the customer's reorder date is near (rendered with a draft)."""
        await self.reminders.schedule(
            kind=ReminderKind.REORDER, recipient_id=customer.owner_id, due_at=now,
            dedupe_key=reorder_key(customer.id, prediction), customer_id=customer.id,
            payload={
                "last": prediction.last_purchase_on.isoformat(),
                "expected": prediction.expected_on.isoformat(),
                "interval": prediction.interval_days,
                "tolerance": prediction.tolerance_days,
                "amount": str(prediction.expected_amount) if prediction.expected_amount is not None else None,
                "currency": prediction.currency,
            },
        )

    async def _summaries(self, warned: dict[str, list[str]], staff: dict[str, StaffUser], now: datetime) -> None:
        for team, ids in warned.items():
            for manager in staff.values():
                if manager.role is Role.MANAGER and team in manager.teams:
                    await self.reminders.schedule(
                        kind=ReminderKind.CHURN_WARNING, recipient_id=manager.id, due_at=now,
                        dedupe_key=f"churn_summary:{manager.id}:{now.date().isoformat()}:{team}",
                        payload={"summary": True, "customers": ids, "team": team},
                    )

    async def _index_due(self, next_days: dict[date, list[str]], now: datetime) -> None:
        """Add the customers to the due-index bucket of the day they are next due."""
        async def add(day: date, ids: list[str]) -> None:
            key = f"{DUE}:{day.isoformat()}"
            existing = await self.store.kv.get(key)
            merged = list(dict.fromkeys([*(existing.value if existing else []), *ids]))
            await self.store.kv.put(key, merged, namespace=DUE, now=now)

        await _together(add(day, ids) for day, ids in sorted(next_days.items()))


async def _sliced(calls: Iterable[Awaitable[Any]], per_turn: int = WRITES_PER_TURN) -> None:
    """Await the writes side by side, started ``per_turn`` per turn of the event loop.

    A write encodes its record on the loop before it waits for the journal:
    started all at once, 64 of them kept the loop busy for over 100 ms. Started
    a few per turn, they still share the journal's group commits.
    """
    tasks = []
    for n, call in enumerate(calls):
        tasks.append(asyncio.ensure_future(call))
        if n % per_turn == per_turn - 1:
            await asyncio.sleep(0)  # they run their first step now; the loop serves others next turn
    if tasks:
        await asyncio.gather(*tasks)


async def _together(calls: Iterable[Awaitable[Any]], at_once: int = 64) -> None:
    """Await the calls side by side, ``at_once`` at a time (writes share the store's group commits)."""
    pending = list(calls)
    for start in range(0, len(pending), at_once):
        await asyncio.gather(*pending[start:start + at_once])
