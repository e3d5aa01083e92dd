"""Manager reports (issue 8): whose figures an actor may see, loading them, the exports, the pushes.

The figures themselves are ``bot.domain.reports.compute_report``; this module
decides what goes into it and keeps what it needs between reports.

**Scope** — what a report covers (:class:`ReportScope`), always narrowed to
what the actor may see (``bot.domain.access``):

- a rep: their own customers and their own activity (interactions, purchases
  and feedback they recorded), whatever they ask for;
- a manager: everything of their team(s) — the customers they may see and
  every record on those customers, whoever logged it — or one rep of those
  teams (that rep's customers and activity);
- an admin: everything, or any one staff member.

Naming any other person raises ``AccessDenied``: scope ids come from buttons
and are never trusted.

**Loading** (issue 15.2; ``docs/performance.md``, "Reports through the service"):
through the ranged indexes, never whole collections decoded at once.  What a
report reads, for the scope's customers:

- the customers themselves (the mix, CLV, who is at risk), by ``created_at``;
- the interactions that occurred from the start of the previous period up to
  now (the activity, the contacts that settle follow-ups, last contacts), and
  those whose follow-up falls due in the two periods, whenever logged; for a
  follow-up set before the periods, the customer's contacts since it was set;
- each customer's last contact before that, one index look-up each (the churn
  score measures from it: it reads no other interaction);
- the purchases up to today (CLV and the purchase rhythm need all of them) and
  the feedback (open complaints and recent ratings, whenever created).

A large scope (a third of all customers or more) reads each collection by
ranges, a small one per customer.  Every read returns at most about
:data:`CHUNK` records and the loop gets a turn between reads, so decoding
never holds up another user for long; the figures — the churn score and
``compute_report`` — run in a worker thread (``asyncio.to_thread``), and so
do the chart (matplotlib, one at a time) and the workbook (openpyxl), both
imported there the first time they are needed.  The cyclic garbage collector
is paused while a report's records are alive (:func:`collector_paused`).  The
figures are those of the old whole-history load
(``tests/bot/services/test_reports_load.py``).

**Reuse**: the report just computed is kept (:class:`ReportCache`) for its
Excel button, keyed by actor, scope and period, as long as the collections hold
as many records as then and for ten minutes at most.

**Tier/stage movement**: the store keeps one snapshot of the counts per local
day and scope (kv ``reports:snapshot:<scope key>``, the last 70 days).  A
report compares with the last snapshot taken before its period started, or
else the earliest one from before today, and says since when; several reports
on one day therefore agree with each other (an export does not reset it).

**Pushes**: ``generate_scheduled`` (hourly) puts each active manager's and
admin's weekly report (the previous week) and monthly report (the previous
month) into the reminder outbox, due at ``[reports]`` weekly/monthly day and
hour in their own time zone, with dedupe keys ``weekly_report:<user>:<ISO week
reported>`` and ``monthly_report:<user>:<YYYY-MM reported>`` — exactly once.
The next one is scheduled ahead; every one that fell due while the bot was
down is caught up, as far back as ``[reminders] catch_up_days`` (the admins
hear of the days beyond it, ``bot.services.reminder_generation``), and a late
one is still sent.  A fresh installation does not send the report that was due
before it first ran.

Periods are cut at midnight in the business time zone (``[locale] timezone``),
so everybody's "this week" has the same figures.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from bot.clock import Clock
from bot.config import WEEKDAYS, Config
from bot.domain import access, churn, reorder
from bot.domain.models import (
    Customer,
    Feedback,
    Interaction,
    KeyValue,
    Outcome,
    Purchase,
    Reminder,
    ReminderKind,
    ReminderStatus,
    Role,
    StaffUser,
)
from bot.domain.reports import (
    AtRiskInput,
    Period,
    PeriodKind,
    Report,
    ReportData,
    ReportSettings,
    compute_report,
)
from bot.domain.reports.pipeline import PipelineFigures, pipeline_figures
from bot.domain.reports.reorders import expected_reorders
from bot.i18n import gettext_for
from bot.services.audit import AuditService
from bot.services.collector import collector_paused
from bot.services.customers import CustomerService, ListFilter
from bot.services.deals import report_deals
from bot.services.errors import AccessDenied
from bot.services.last_contacts import LastContacts
from bot.services.reminders import ReminderService
from storage.base import ConflictError, DuplicateError, Range, Store

NAMESPACE = "reports"
SNAPSHOT_DAYS = 70
SCHEDULE_BOOKMARK = f"{NAMESPACE}:scheduled_through"
WHOLE_COLLECTION_FROM = 300  # customers; from here one ranged read beats per-customer look-ups,
WHOLE_SHARE = 3  # when the scope holds at least a third of all customers
CHUNK = 250  # records per read: decoding them keeps the loop ~5 ms (~25 ms on a loaded machine)
LOOKUPS_PER_TURN = 20  # index look-ups between two turns of the loop
EPSILON = timedelta(microseconds=1)
CACHE_SIZE = 32  # reports kept for their Excel button
CACHE_SECONDS = 600
MAX_CUSTOM_DAYS = 366
ALL = "all"  # the scope token of "everything the actor may see"
EXPORT_FORMATS = ("xlsx", "csv")

# What a caller may ask for; "day", "week" and "month" take an optional date inside the period.
RELATIVE_KINDS = {
    "today": PeriodKind.DAY,
    "this_week": PeriodKind.WEEK,
    "this_month": PeriodKind.MONTH,
}


@dataclass(frozen=True)
class ReportScope:
    """What a report covers; ``token`` is its form in callback data ("all" or a staff id)."""

    kind: str  # "all" (admin: everything) | "team" (a manager's teams) | "rep" (one person)
    key: str  # stable, for the snapshot: "all", "team:east+west", "rep:<id>"
    token: str
    teams: tuple[str, ...] = ()
    owner: StaffUser | None = None


@dataclass(frozen=True)
class ReportResult:
    """A computed report and what presenting it needs."""

    report: Report
    scope: ReportScope
    language: str
    tz: ZoneInfo
    staff_names: Mapping[str, str] = field(hash=False)
    customers: int  # customers in scope (not archived)
    snapshot_at: datetime | None  # when the counts the movement compares with were taken
    pipeline: PipelineFigures | None = None  # the deals' figures (bot/domain/reports/pipeline.py)


@dataclass(frozen=True)
class ReportInputs:
    """What :func:`_compute` works from: the scope's records as :meth:`ReportService.load` read them."""

    customers: Sequence[Customer]
    interactions: Sequence[Interaction]  # the periods' activity and the follow-ups' contacts
    purchases: Sequence[Purchase]  # up to today (CLV, churn)
    feedback: Sequence[Feedback]
    per_customer: set[str] | None  # read per customer (these), or by ranges of the whole collection
    last_contact: Mapping[str, Interaction]  # by live customer: the latest contact up to now
    reminders: Sequence[Reminder]
    staff: Sequence[StaffUser]
    owner_id: str | None


class ReportCache:
    """The last few reports, for their Excel button (bounded, least recently used first out).

    A report is reused for the same actor, scope and period while the store holds as
    many records as when it was computed (the data version: one index count per
    collection) and for at most :data:`CACHE_SECONDS`: an edit that adds or removes no
    record is caught by the age limit.
    """

    def __init__(self, size: int = CACHE_SIZE, seconds: int = CACHE_SECONDS) -> None:
        self.size, self.age = size, timedelta(seconds=seconds)
        self._items: OrderedDict[tuple[str, ...], tuple[tuple[int, ...], datetime, ReportResult]] = OrderedDict()

    def get(self, key: tuple[str, ...], version: tuple[int, ...], now: datetime) -> ReportResult | None:
        item = self._items.get(key)
        if item is None or item[0] != version or not timedelta(0) <= now - item[1] <= self.age:
            return None
        self._items.move_to_end(key)
        return item[2]

    def put(self, key: tuple[str, ...], version: tuple[int, ...], now: datetime, result: ReportResult) -> None:
        self._items[key] = (version, now, result)
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)


def utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is UTC else moment.astimezone(UTC)


def period_token(period: Period) -> tuple[str, str]:
    """``(kind, dates)`` for callback data: "week", "2026-03-02" or "custom", "2026-03-01_2026-03-15"."""
    if period.kind is PeriodKind.CUSTOM:
        return "custom", f"{period.first_day.isoformat()}_{period.last_day.isoformat()}"
    return period.kind.value, period.first_day.isoformat()


def parse_period_token(kind: str, dates: str) -> tuple[str, date, date | None]:
    """The inverse of :func:`period_token`: ``(kind, start, end)``; ValueError if malformed."""
    if kind not in ("day", "week", "month", "custom"):
        raise ValueError(f"period kind {kind!r}")
    if kind == "custom":
        first, _, last = dates.partition("_")
        return kind, date.fromisoformat(first), date.fromisoformat(last)
    return kind, date.fromisoformat(dates), None


def _zone(name: str, default: ZoneInfo) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError):
        return default


def _noon(day: date, tz: tzinfo) -> datetime:
    return datetime.combine(day, time(12), tz)


class ReportService:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        config: Config,
        customers: CustomerService,
        *,
        audit: AuditService | None = None,
        reminders: ReminderService | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.config = config
        self.customers = customers
        self.audit = audit or customers.audit
        self.reminders = reminders or customers.reminders
        self.cache = ReportCache()
        self.last_contacts = LastContacts(store, lambda: self.churn_rules.unanswered_counts_as_contact)

    # ---- settings ------------------------------------------------------------------------
    @property
    def tz(self) -> ZoneInfo:
        return self.config.tz

    @property
    def settings(self) -> ReportSettings:
        return self.config.reports.settings  # built once, with the configuration

    @property
    def churn_rules(self) -> churn.ChurnRules:
        return self.config.churn  # the [churn] section is the rule object

    # ---- periods -------------------------------------------------------------------------
    def period(
        self, kind: str, *, start: date | None = None, end: date | None = None,
        now: datetime | None = None,
    ) -> Period:
        """The period a caller names (today, this_week, this_month, last_week, last_month, day, week, month, custom); ValueError for anything else."""
        tz = self.tz
        now = now or self.clock.now()
        kind = {k: v.value for k, v in RELATIVE_KINDS.items()}.get(kind, kind)
        at = _noon(start, tz) if start is not None else now
        if kind == "day":
            return Period.today(at, tz)
        if kind == "week":
            return Period.this_week(at, tz)
        if kind == "month":
            return Period.this_month(at, tz)
        if kind == "last_week":
            return Period.this_week(now, tz).previous()
        if kind == "last_month":
            return Period.last_month(now, tz)
        if kind == "custom":
            if start is None or end is None:
                raise ValueError("a custom period needs a start and an end date")
            if (end - start).days + 1 > MAX_CUSTOM_DAYS:
                raise ValueError("a custom period is at most a year")
            return Period.custom(start, end, tz)
        raise ValueError(f"unknown period kind {kind!r}")

    # ---- scope ---------------------------------------------------------------------------
    async def scope(self, actor: StaffUser, scope_owner_id: str | None = None) -> ReportScope:
        """The scope ``actor`` asks for (None or "all": all they may see); AccessDenied otherwise."""
        if not access.is_active(actor):
            raise AccessDenied("reports")
        if scope_owner_id in (None, ALL):
            if actor.role is Role.ADMIN:
                return ReportScope("all", "all", ALL)
            if actor.role is Role.MANAGER:
                teams = tuple(sorted(actor.teams))
                return ReportScope("team", "team:" + "+".join(teams), ALL, teams=teams)
            return ReportScope("rep", f"rep:{actor.id}", ALL, owner=actor)
        if scope_owner_id == actor.id:
            return ReportScope("rep", f"rep:{actor.id}", actor.id, owner=actor)
        if actor.role is Role.REP:  # the same answer whoever scope_owner_id names
            raise AccessDenied(f"report scope {scope_owner_id}", needs=access.missing_role(actor, Role.MANAGER))
        target = await self.store.staff.get(scope_owner_id) if len(scope_owner_id) <= 64 else None
        if target is None or not access.manages(actor, target):
            raise AccessDenied(f"report scope {scope_owner_id}")
        return ReportScope("rep", f"rep:{target.id}", target.id, owner=target)

    async def scope_choices(self, actor: StaffUser) -> list[StaffUser]:
        """The people a manager or admin may narrow a report to (active, by name); none for reps."""
        if not access.is_active(actor) or actor.role is Role.REP:
            return []
        people = await self._staff_in_scope(actor, await self.scope(actor))
        return sorted(
            (u for u in people if u.active and u.id != actor.id and access.manages(actor, u)),
            key=lambda u: (u.role is not Role.REP, u.name.lower(), u.id),
        )

    async def _staff_in_scope(self, actor: StaffUser, scope: ReportScope) -> list[StaffUser]:
        if scope.owner is not None:
            return [scope.owner]
        if scope.kind == "all":
            return await self.store.staff.find()
        found: dict[str, StaffUser] = {actor.id: actor}
        for team in scope.teams:
            for user in await self.store.staff.find({"teams": team}):
                found[user.id] = user
        return list(found.values())

    # ---- the report ----------------------------------------------------------------------
    async def report(
        self,
        actor: StaffUser,
        period_kind: str,
        *,
        start: date | None = None,
        end: date | None = None,
        scope_owner_id: str | None = None,
        language: str | None = None,
        reuse: bool = False,
    ) -> ReportResult:
        """The report of ``period_kind`` (see :meth:`period`) for what the actor may see, as of now.

        ``reuse``: the same actor's report of the same scope and period computed a moment
        ago is returned as it was when no record was added or removed since (the Excel
        button of a report just shown); see :class:`ReportCache`.
        """
        scope = await self.scope(actor, scope_owner_id)
        language = language or actor.language
        now = self.clock.now()
        period = self.period(period_kind, start=start, end=end, now=now)
        key = (actor.id, scope.key, *period_token(period))
        version = await self._data_version()
        if reuse:
            cached = self.cache.get(key, version, now)
            if cached is not None:
                return dataclasses.replace(cached, language=language)
        snapshots = await self._snapshots(scope)
        today = now.astimezone(self.tz).date()
        snapshot = _pick_snapshot(snapshots, period, today)
        with collector_paused():
            box = [await self.load(actor, scope, period, now)]  # the worker takes the only reference
            report, names, in_scope = await asyncio.to_thread(
                _figures, box, snapshot=snapshot, period=period, now=now,
                rules=self.churn_rules, settings=self.settings, reorder_rules=self.config.reorder,
            )
        await self._save_snapshot(scope, snapshots, report, today)
        pipeline = await self._pipeline(scope, period)
        result = ReportResult(
            report=report,
            scope=scope,
            language=language,
            tz=self.tz,
            staff_names=names,
            customers=in_scope,
            snapshot_at=datetime.fromisoformat(snapshot["at"]) if snapshot else None,
            pipeline=pipeline,
        )
        self.cache.put(key, version, now, result)
        return result

    async def _pipeline(self, scope: ReportScope, period: Period) -> PipelineFigures:
        """The scope's deal figures of the period (computed in a worker thread)."""
        deals = await report_deals(self.store, kind=scope.kind, teams=scope.teams,
                                   owner_id=scope.owner.id if scope.owner else None,
                                   start=period.start, end=period.end)
        last_day = (period.end - timedelta(microseconds=1)).astimezone(self.tz).date()
        return await asyncio.to_thread(
            pipeline_figures, deals, start=period.start, end=period.end, last_day=last_day,
            pipeline=self.config.deals.pipeline, currency=self.config.locale.currency)

    async def _data_version(self) -> tuple[int, ...]:
        """How many records the report's collections hold (each count is an O(1) index look-up)."""
        store = self.store
        return tuple([
            await collection.count()
            for collection in (store.customers, store.interactions, store.purchases, store.feedback,
                               store.reminders, store.staff, store.deals)
        ])

    async def load(
        self, actor: StaffUser, scope: ReportScope, period: Period, now: datetime
    ) -> ReportInputs:
        """What the report of ``period`` needs, read through the ranged indexes (see the module docstring).

        Every read returns at most about :data:`CHUNK` records and the loop gets a turn
        between reads, so no other user waits behind the decoding.
        """
        customers = [
            c for c in await self._visible_customers(actor, scope)
            if scope.owner is None or c.owner_id == scope.owner.id
        ]
        ids = {c.id for c in customers}
        live = {c.id for c in customers if not c.archived}
        # A ranged read of a whole collection decodes every customer's records: worth it only
        # when the scope holds a good part of them; otherwise per-customer look-ups decode less.
        whole = len(ids) >= WHOLE_COLLECTION_FROM and len(ids) * WHOLE_SHARE >= await self.store.customers.count()
        previous = period.previous()
        low, high = utc(previous.start), utc(period.end)
        not_deleted = {"deleted": False}
        interactions = self.store.interactions
        # the activity of both periods, and what happened since (late follow-ups, last contacts)
        covered_to = max(high, utc(now) + EPSILON)
        seen = {r.id: r for r in await self._records(
            interactions, ids, not_deleted, "occurred_at", low, covered_to, whole)}
        # follow-ups due in the periods, whenever they were set
        dues = await self._records(interactions, ids, not_deleted, "next_follow_up_at", low, high, whole)
        for record in dues:
            seen.setdefault(record.id, record)
        reminders = [
            r for r in await self._slices(self.store.reminders, {"kind": ReminderKind.FOLLOW_UP.value},
                                          "due_at", low, high, ids)
            if scope.owner is None or r.recipient_id == scope.owner.id
        ]
        # a follow-up set before the periods: the contacts between then and the periods
        since = await asyncio.to_thread(_follow_ups_set, seen.values(), reminders, low, high)
        later = await interactions.count(within=Range("occurred_at", covered_to, None))
        for n, (customer_id, first) in enumerate(since):
            where = {"customer_id": customer_id, **not_deleted}
            if first < low:
                for record in await interactions.find(where, within=Range("occurred_at", first, low)):
                    seen.setdefault(record.id, record)
            if later:  # only a record dated in the future can lie beyond
                for record in await interactions.find(where, within=Range("occurred_at", covered_to, None)):
                    seen.setdefault(record.id, record)
            if n % LOOKUPS_PER_TURN == LOOKUPS_PER_TURN - 1:
                await asyncio.sleep(0)
        last_contact = await self._last_contacts(live, list(seen.values()), low, now)
        purchases_to = max(utc(now).astimezone(self.tz).date() + timedelta(days=1), period.end_day)
        purchases = await self._records(self.store.purchases, ids, {}, "purchased_on", None, purchases_to, whole)
        feedback = await self._records(self.store.feedback, ids, not_deleted, "created_at", None, None, whole)
        records = list(seen.values())
        staff = await self._staff_in_scope(actor, scope)
        staff = await self._with_names_of_others(staff, scope, customers, records, purchases, feedback)
        return ReportInputs(
            customers=customers,
            interactions=records,
            purchases=purchases,
            feedback=feedback,
            per_customer=None if whole else ids,
            last_contact=last_contact,
            reminders=reminders,
            staff=staff,
            owner_id=scope.owner.id if scope.owner is not None else None,
        )

    async def _visible_customers(self, actor: StaffUser, scope: ReportScope) -> list[Customer]:
        """``CustomerService.all_visible(actor, archived=None)``, read in slices (same where, same check)."""
        if not access.is_active(actor):
            raise AccessDenied("customers")
        if scope.owner is not None:
            wheres: list[dict[str, Any]] = [{"owner_id": scope.owner.id}]
        elif actor.role is Role.ADMIN:
            wheres = [{}]
        else:
            wheres = [{"owner_id": actor.id}]
            if actor.role is Role.MANAGER:
                wheres += [{"team": team} for team in actor.teams]
        if len(wheres) == 1:
            found = await self._slices(self.store.customers, wheres[0], "created_at", None, None)
        else:
            by_id: dict[str, Customer] = {}
            for where in wheres:
                for customer in await self._slices(self.store.customers, where, "created_at", None, None):
                    by_id.setdefault(customer.id, customer)
            found = list(by_id.values())
        if actor.role is Role.ADMIN:
            return found  # an admin sees every customer
        return [c for c in found if access.can_view_customer(actor, c)]

    async def _records(
        self, collection: Any, ids: set[str], where: Mapping[str, Any], field: str,
        start: datetime | date | None, end: datetime | date | None, whole: bool,
    ) -> list[Any]:
        """The records of these customers with ``start <= field < end``: one ranged read of the
        collection in slices for a large scope, per-customer look-ups for a small one."""
        if whole:
            return await self._slices(collection, dict(where), field, start, end, ids)
        found: list[Any] = []
        within = Range(field, start, end) if start is not None or end is not None else None
        for n, customer_id in enumerate(sorted(ids)):
            found += await collection.find({**where, "customer_id": customer_id}, within=within)
            if n % LOOKUPS_PER_TURN == LOOKUPS_PER_TURN - 1:
                await asyncio.sleep(0)
        return found

    async def _slices(
        self, collection: Any, where: dict[str, Any], field: str,
        start: datetime | date | None, end: datetime | date | None, customers: set[str] | None = None,
    ) -> list[Any]:
        """Every record with ``start <= field < end`` (None: open) matching ``where`` (and of
        ``customers``, if given), read in ranges of at most about :data:`CHUNK` records, the
        loop getting a turn after each read.  Where to cut comes from the range index's count
        of all records in a range (an O(1) look-up; ``where`` only narrows a slice further)."""
        if start is None or end is None:
            first = await collection.find(where, within=Range(field, start, end), order_by=field, limit=1)
            last = await collection.find(where, within=Range(field, start, end), order_by=field,
                                         descending=True, limit=1)
            if not first:
                return []
            start = getattr(first[0], field) if start is None else start
            if end is None:
                end = getattr(last[0], field)
                end = end + (EPSILON if isinstance(end, datetime) else timedelta(days=1))
        out: list[Any] = []
        pending: list[tuple[Any, Any]] = [(start, end)]
        while pending:
            lo, hi = pending.pop()
            within = Range(field, lo, hi)
            count = await collection.count(within=within)
            if not count:
                continue
            middle = _middle(lo, hi)
            if count > CHUNK and middle is not None:
                pending += [(middle, hi), (lo, middle)]  # the earlier half first
                continue
            found = await collection.find(where, within=within)
            out += found if customers is None else [r for r in found if r.customer_id in customers]
            await asyncio.sleep(0)
        return out

    async def _last_contacts(
        self, live: set[str], loaded: Iterable[Interaction], low: datetime, now: datetime
    ) -> dict[str, Interaction]:
        """Each live customer's latest contact up to ``now`` (what the churn score measures from).

        ``loaded`` holds every contact from ``low`` up to ``now``; a customer with none
        there is looked up, latest first, below ``low``.
        """
        counts = self._counts_as_contact
        moment = utc(now)

        def scan() -> dict[str, Interaction]:  # thousands of records: in a worker thread
            latest: dict[str, Interaction] = {}
            for record in loaded:
                cid = record.customer_id
                if cid in live and not record.deleted and utc(record.occurred_at) <= moment and counts(record):
                    known = latest.get(cid)
                    if known is None or record.occurred_at > known.occurred_at:
                        latest[cid] = record
            return latest

        latest = await asyncio.to_thread(scan)
        remembered = self.last_contacts

        async def pause() -> None:
            nonlocal n
            n += 1
            if n % LOOKUPS_PER_TURN == 0:
                await asyncio.sleep(0)

        n = 0
        for cid in sorted(live - set(latest)):
            hit = await remembered.before(cid, low, pause)
            if hit is not None:
                latest[cid] = hit
            await pause()
        return latest

    def _counts_as_contact(self, record: Interaction) -> bool:
        return self.churn_rules.unanswered_counts_as_contact or record.outcome != Outcome.NO_ANSWER

    async def _with_names_of_others(
        self, staff: list[StaffUser], scope: ReportScope, customers: Iterable[Customer],
        *groups: Iterable[Any],
    ) -> list[StaffUser]:
        """Add whoever else owns a customer or recorded something in scope (an admin's call on a
        team customer).

        They are added as *inactive* so that their name shows on their row but they are
        never listed as a rep of this team with no activity.
        """
        if scope.owner is not None:
            return staff
        known = {s.id for s in staff}

        def owners() -> set[str]:  # tens of thousands of records: in a worker thread
            return ({c.owner_id for c in customers} | {r.owner_id for group in groups for r in group}) - known

        others = await asyncio.to_thread(owners)
        extra = []
        for staff_id in sorted(others):
            user = await self.store.staff.get(staff_id)
            if user is not None:
                extra.append(dataclasses.replace(user, active=False))
        return staff + extra

    # ---- snapshots -----------------------------------------------------------------------
    async def _snapshots(self, scope: ReportScope) -> dict[str, Any]:
        record = await self.store.kv.get(f"{NAMESPACE}:snapshot:{scope.key}")
        value = record.value if record is not None else None
        return dict(value.get("days", {})) if isinstance(value, dict) else {}

    async def _save_snapshot(
        self, scope: ReportScope, days: dict[str, Any], report: Report, today: date
    ) -> None:
        days = {**days, today.isoformat(): report.snapshot()}
        oldest = (today - timedelta(days=SNAPSHOT_DAYS)).isoformat()
        days = {day: snap for day, snap in sorted(days.items()) if day >= oldest}
        record_id = f"{NAMESPACE}:snapshot:{scope.key}"
        now = self.clock.now()
        try:
            existing = await self.store.kv.get(record_id)
            if existing is None:
                await self.store.kv.insert(KeyValue(id=record_id, namespace=NAMESPACE, value={"days": days},
                                                    created_at=now, updated_at=now))
            else:
                await self.store.kv.update(dataclasses.replace(existing, value={"days": days}, updated_at=now))
        except (ConflictError, DuplicateError):
            pass  # a report for the same scope saved one a moment ago: as good

    # ---- the chart and the exports (in worker threads: matplotlib and openpyxl load there) --
    async def chart(self, result: ReportResult, language: str | None = None) -> bytes:
        """The report's chart as a PNG, drawn in a worker thread (one at a time: matplotlib)."""
        owner = result.scope.owner
        return await asyncio.to_thread(
            _draw_chart, result.report, language or result.language,
            result.scope.kind, owner.name if owner is not None else ", ".join(result.scope.teams),
            result.pipeline,
        )

    async def report_workbook(self, actor: StaffUser, result: ReportResult) -> bytes:
        """The report as XLSX (built in a worker thread); the export is audited."""
        data = await asyncio.to_thread(_report_workbook, result.report, result.language, result.tz,
                                       result.pipeline)
        await self.audit.record(
            actor.id, "export", "report", result.scope.key,
            note=f"xlsx {result.report.period.label()} ({result.scope.kind})",
        )
        return data

    async def customer_export(
        self,
        actor: StaffUser,
        filters: ListFilter,
        fmt: str,
        *,
        scope_owner_id: str | None = None,
        language: str | None = None,
    ) -> tuple[bytes, int]:
        """The customer list ``/list`` would show with ``filters`` (narrowed to the scope's rep),
        as XLSX or CSV, and how many rows; the export is audited."""
        if fmt not in EXPORT_FORMATS:
            raise AccessDenied(f"export format {fmt}")
        scope = await self.scope(actor, scope_owner_id)
        if scope.owner is not None:
            filters = dataclasses.replace(filters, owner_id=scope.owner.id)
        customers = await self.customers.listing(actor, filters)
        staff = await self._staff_in_scope(actor, scope)
        names = {s.id: s.name for s in staff}
        for customer in customers:
            if customer.owner_id not in names:
                owner = await self.store.staff.get(customer.owner_id)
                names[customer.owner_id] = owner.name if owner else customer.owner_id
        data = await asyncio.to_thread(
            _customer_file, fmt, customers, names, language or actor.language, self.tz
        )
        used = {k: v for k, v in dataclasses.asdict(filters).items() if v}
        await self.audit.record(
            actor.id, "export", "customers", scope.key,
            note=f"{fmt}, {len(customers)} customers, filters {used or 'none'}",
        )
        return data, len(customers)

    # ---- scheduled reports ---------------------------------------------------------------
    async def generate_scheduled(self, now: datetime) -> int:
        """Put the weekly and monthly reports of every active manager and admin into the outbox.

        Idempotent (dedupe keys per person and period reported): run it as often as you like.
        Returns how many reminders were scheduled or confirmed.
        """
        bookmark = await self.store.kv.get(SCHEDULE_BOOKMARK)
        last_run = datetime.fromisoformat(bookmark.value) if bookmark is not None else None
        # Every report that fell due since the last run is owed, up to the catch-up horizon;
        # a fresh installation owes none of the past ones.
        since = max(last_run, now - timedelta(days=self.config.reminders.catch_up_days)) if last_run else now
        cfg = self.config.reports
        count = 0
        for user in await self.store.staff.find({"active": True}):
            if user.role not in (Role.MANAGER, Role.ADMIN):
                continue
            tz = _zone(user.timezone, self.tz)
            for kind, due in (
                *((ReminderKind.WEEKLY_REPORT, d) for d in self._weekly_dues(since, now, tz, cfg.weekly_day)),
                *((ReminderKind.MONTHLY_REPORT, d) for d in self._monthly_dues(since, now, tz)),
            ):
                wanted = self._scheduled_report(user, kind, due)
                existing = await self.store.reminders.get_by("dedupe_key", wanted["dedupe_key"])
                if existing is None or (
                    existing.due_at != wanted["due_at"]
                    and existing.status is ReminderStatus.PENDING
                ):
                    await self.reminders.schedule(**wanted)  # new, or moved (time zone, config)
                count += 1
        await self._save_bookmark(now)
        return count

    def _weekly_dues(self, since: datetime, now: datetime, tz: ZoneInfo, weekday: str) -> list[datetime]:
        """Every weekly due moment after ``since`` up to ``now``, and the next one after ``now``."""
        local = now.astimezone(tz).date()
        monday = local - timedelta(days=local.weekday())
        due = datetime.combine(monday + timedelta(days=WEEKDAYS.index(weekday)),
                               time(self.config.reports.weekly_hour), tz)
        if due.astimezone(UTC) <= now:
            due = datetime.combine(due.date() + timedelta(days=7), due.timetz())
        dues = [due]
        while (earlier := datetime.combine(dues[-1].date() - timedelta(days=7), due.timetz())) > since:
            dues.append(earlier)
        return dues[::-1]

    def _monthly_dues(self, since: datetime, now: datetime, tz: ZoneInfo) -> list[datetime]:
        """Every monthly due moment after ``since`` up to ``now``, and the next one after ``now``."""
        cfg = self.config.reports

        def due_in(month_first: date) -> datetime:
            return datetime.combine(month_first.replace(day=cfg.monthly_day), time(cfg.monthly_hour), tz)

        first = now.astimezone(tz).date().replace(day=1)
        if due_in(first).astimezone(UTC) <= now:
            first = (first + timedelta(days=32)).replace(day=1)
        dues = [due_in(first)]
        while (earlier := due_in((dues[-1].date().replace(day=1) - timedelta(days=1)).replace(day=1))) > since:
            dues.append(earlier)
        return dues[::-1]

    def _scheduled_report(self, user: StaffUser, kind: ReminderKind, due: datetime) -> dict[str, Any]:
        if kind is ReminderKind.WEEKLY_REPORT:
            period = Period.this_week(due, self.tz).previous()
            year, week, _day = period.first_day.isocalendar()
            key = f"weekly_report:{user.id}:{year}-W{week:02d}"
        else:
            period = Period.last_month(due, self.tz)
            key = f"monthly_report:{user.id}:{period.first_day:%Y-%m}"
        token_kind, dates = period_token(period)
        return {
            "kind": kind,
            "recipient_id": user.id,
            "due_at": due.astimezone(UTC),
            "dedupe_key": key,
            "payload": {"period": {"kind": token_kind, "dates": dates}, "scope": ALL},
        }

    async def _save_bookmark(self, now: datetime) -> None:
        existing = await self.store.kv.get(SCHEDULE_BOOKMARK)
        try:
            if existing is None:
                await self.store.kv.insert(KeyValue(id=SCHEDULE_BOOKMARK, namespace=NAMESPACE,
                                                    value=now.isoformat(), created_at=now, updated_at=now))
            elif datetime.fromisoformat(existing.value) < now:
                await self.store.kv.update(dataclasses.replace(existing, value=now.isoformat(), updated_at=now))
        except (ConflictError, DuplicateError):
            pass  # another replica moved it

    async def scheduled_report(self, user: StaffUser, reminder: Reminder, language: str) -> ReportResult | None:
        """The report a pushed reminder stands for, computed now for its recipient.

        None (nothing to send) when the recipient is no longer a manager or admin. A late
        report is still sent (its period is frozen in the reminder): it is always deliverable.
        """
        if not access.is_active(user) or user.role is Role.REP:
            return None
        period = reminder.payload.get("period", {})
        kind, start, end = parse_period_token(str(period.get("kind")), str(period.get("dates")))
        return await self.report(user, kind, start=start, end=end,
                                 scope_owner_id=str(reminder.payload.get("scope", ALL)), language=language)


def _pick_snapshot(days: Mapping[str, Any], period: Period, today: date) -> Mapping[str, Any] | None:
    """The last snapshot taken before the period started, else the earliest from before today."""
    earlier = [(day, snap) for day, snap in sorted(days.items()) if day < today.isoformat()]
    if not earlier:
        return None
    start = period.start.astimezone(UTC)
    before = [snap for _day, snap in earlier if datetime.fromisoformat(snap["at"]) <= start]
    return before[-1] if before else earlier[0][1]


def _figures(box: list[ReportInputs], **options: Any) -> tuple[Report, dict[str, str], int]:
    """In the worker thread: the report, the staff names and how many customers are in scope;
    then the records are let go of here, a slice at a time (freeing 100 000 objects in one
    go would hold the GIL, and so the event loop, for a tenth of a second)."""
    inputs = box.pop()
    report = _compute(inputs, **options)
    names = {s.id: s.name for s in inputs.staff}
    in_scope = sum(1 for c in inputs.customers if not c.archived)
    for records in (inputs.customers, inputs.interactions, inputs.purchases, inputs.feedback):
        if isinstance(records, list):
            while records:
                del records[-CHUNK:]
    contacts = inputs.last_contact
    if isinstance(contacts, dict):
        while contacts:
            for _ in range(min(CHUNK, len(contacts))):
                contacts.popitem()
    return report, names, in_scope


def _compute(
    inputs: ReportInputs,
    *,
    snapshot: Mapping[str, Any] | None,
    period: Period,
    now: datetime,
    rules: churn.ChurnRules,
    settings: ReportSettings,
    reorder_rules: reorder.ReorderRules | None = None,
) -> Report:
    """Score the churn risk and compute the figures (CPU-bound: runs in a worker thread).

    The churn score reads each customer's whole history, whoever recorded it (of the
    interactions only the latest contact matters to it); the figures of a one-person
    scope count only that person's own activity.
    """
    local_now = now.astimezone(period.tz or UTC)
    at_risk = []
    purchases = _grouped(inputs.purchases, inputs.per_customer)
    feedback = _grouped(inputs.feedback, inputs.per_customer)
    last_contact = inputs.last_contact
    for customer in inputs.customers:
        if customer.archived:
            continue
        contact = last_contact.get(customer.id)
        assessment = churn.score(
            customer, purchases.get(customer.id, ()), (contact,) if contact is not None else (),
            feedback.get(customer.id, ()), local_now, rules, reorder_rules,
        )
        if assessment.at_risk:
            at_risk.append(AtRiskInput(customer.id, assessment.score, tuple(assessment.reasons)))

    owner_id = inputs.owner_id

    def own(records: Iterable[Any]) -> list[Any]:
        return [r for r in records if owner_id is None or r.owner_id == owner_id]

    data = ReportData(
        staff=inputs.staff,
        customers=inputs.customers,
        purchases=own(r for group in purchases.values() for r in group),
        interactions=own(inputs.interactions),
        feedback=own(r for group in feedback.values() for r in group),
        follow_up_reminders=inputs.reminders,
        at_risk=at_risk,
        previous_snapshot=snapshot,
    )
    report = compute_report(data, period, now, settings)
    if reorder_rules is None:  # the expected reorders were not asked for (benchmarks' baselines)
        return report
    coming = expected_reorders(inputs.customers, purchases, local_now.date(), reorder_rules.report_days,
                               reorder_rules, {s.id: s.name for s in inputs.staff})
    return dataclasses.replace(report, reorders=coming)


_CHART_LOCK = threading.Lock()  # matplotlib is not safe with figures drawn side by side


def _draw_chart(report: Report, language: str, scope_kind: str, scope_name: str,
                pipeline: PipelineFigures | None = None) -> bytes:
    """In a worker thread: matplotlib is imported here, the first time a chart is drawn."""
    from bot.charts import report_chart

    with _CHART_LOCK:
        return report_chart(report, gettext_for(language), scope_kind=scope_kind, scope_name=scope_name,
                            pipeline=pipeline, language=language)


def _report_workbook(report: Report, language: str, tz: ZoneInfo, pipeline: PipelineFigures | None = None) -> bytes:
    """In a worker thread: openpyxl is imported here, the first time a workbook is built."""
    from bot.reports_export import report_xlsx

    return report_xlsx(report, gettext_for(language), tz, pipeline=pipeline, language=language)


def _customer_file(
    fmt: str, customers: Sequence[Customer], names: Mapping[str, str], language: str, tz: ZoneInfo
) -> bytes:
    from bot.reports_export import customers_csv, customers_xlsx

    writer = customers_xlsx if fmt == "xlsx" else customers_csv
    return writer(customers, names, gettext_for(language), tz)


def _follow_ups_set(
    interactions: Iterable[Interaction], reminders: Iterable[Reminder], low: datetime, high: datetime
) -> list[tuple[str, datetime]]:
    """(customer, when the earliest of their follow-ups due in ``[low, high)`` was set), by customer."""
    since: dict[str, datetime] = {}
    for record in interactions:
        due = record.next_follow_up_at
        if due is not None and low <= due < high:
            at = utc(record.occurred_at)
            since[record.customer_id] = min(at, since.get(record.customer_id, at))
    for r in reminders:
        at = utc(r.created_at)
        since[r.customer_id] = min(at, since.get(r.customer_id, at))  # type: ignore[index]
    return sorted(since.items())


def _by_id(record: Any) -> str:
    return record.id  # type: ignore[no-any-return]


def _grouped(records: Iterable[Any], order: set[str] | None) -> dict[str, list[Any]]:
    """Records by customer, in the order the whole-collection read gave them (by id, each
    customer where their first record is), or, for per-customer reads, by customer id."""
    grouped: dict[str, list[Any]] = {cid: [] for cid in sorted(order)} if order is not None else {}
    for record in sorted(records, key=_by_id):
        grouped.setdefault(record.customer_id, []).append(record)
    return {cid: group for cid, group in grouped.items() if group}


def _middle(lo: datetime | date, hi: datetime | date) -> datetime | date | None:
    """Where to cut ``[lo, hi)`` in two; None when it is too short to cut."""
    if isinstance(lo, datetime):
        assert isinstance(hi, datetime)
        return lo + (hi - lo) / 2 if hi - lo > timedelta(milliseconds=2) else None
    days = (hi - lo).days
    return lo + timedelta(days=days // 2) if days >= 2 else None
