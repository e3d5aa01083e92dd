"""Manager reports (issue 8): the figures, as pure functions over plain records.

A manager asks "how did my team do this week?" and gets one message, one chart
and, on request, a spreadsheet.  Everything those show is computed here, from
plain lists the caller has already narrowed to the manager's scope (their team,
or everything for an admin), with the time passed in — no store, no clock, no
Telegram, no matplotlib — so the numbers are testable by hand and cheap:
a month of a 50-rep team (10 000 customers, 100 000 interactions, 20 000
purchases, 2 000 feedback) computes in well under a second (``bench/reports.py``).

What the caller passes (:class:`ReportData`): every record of the scope it has,
at least those from the start of :meth:`Period.previous` up to ``now`` —
figures for the previous period are needed for the comparisons, and a
follow-up due in the period may have been set before it and done after it.
Records outside the periods are ignored, never counted.

Definitions (the ones a manager will ask about):

- A moment belongs to a period when ``start <= moment < end`` (aware datetimes,
  so an interaction at 23:30 Beijing time on the last day is inside even though
  it is 15:30 UTC).  A purchase has only a date (``purchased_on``, a calendar
  date in the business time zone); it belongs when that day's local midnight
  does.
- **Deleted** interactions and feedback never count.  **Archived** customers do
  not count as new customers, in the tier/stage mix or in CLV: archiving is how a
  card created by mistake goes away.
- **New customers**: cards created (``created_at``) in the period.
- **Interactions** by kind and by rep: interactions that occurred in the period,
  credited to ``Interaction.owner_id`` (the rep who logged them).
- **Rep activity**: interactions logged, new customers, purchases and feedback
  recorded in the period (by ``owner_id``).  A **rep with no activity** is an
  active staff member with the *rep* role who has none of the four.
- **Follow-ups**: a follow-up is a (customer, due time) pair from a non-deleted
  interaction's ``next_follow_up_at`` — or from a pending/sent follow-up
  :class:`~bot.domain.models.Reminder` — whose due time falls in the period;
  pairs found twice count once.  It was **done on time** when a later
  non-deleted interaction with that customer (after the one that set it, or
  after the reminder was created) occurred before ``due + grace`` (grace 1 day:
  a call the morning after is not a miss).  It is **overdue** when ``due + grace``
  has passed (at ``now``) without one — even if the customer was called later
  (``late`` counts those).  Otherwise it is **pending**.  The on-time rate is
  ``on_time / (on_time + overdue)``: pending ones are not decided yet.
- **Feedback** by kind and by status: feedback created in the period (status as
  it is now).  **Average resolution time**: ``resolved_at − created_at`` in hours
  over feedback *resolved* in the period — created-in-period would leave out
  the slow cases still open.  **CSAT** (average of 1–5) and **NPS**
  (% promoters 9–10 − % detractors 0–6, −100…100) over feedback whose rating was
  given in the period; a rating is taken to be given when the feedback was
  confirmed, else resolved, else created (as in ``bot.domain.churn``).
- **Revenue**: the sum of ``Purchase.amount`` (a purchase's total) per currency —
  never added across currencies — and the number of purchases, in the period,
  archived customers' purchases included (the money did come in).
- **Tier and stage mix**: current non-archived customers by *effective* value
  tier (``none`` for a prospect with no tier) and lifecycle stage.  Stage and
  tier history is not stored, so the mix is "as of now", whatever the period,
  and **movement** is only the change in counts against a snapshot of an
  earlier report (:meth:`Report.snapshot`, stored by the caller) when one is
  passed in; otherwise it is omitted (``None``), never guessed.  Counts cannot
  say *which* customers moved: 3 customers up from mid to high and 3 down look
  like no movement.
- **At-risk customers**: scored elsewhere (``bot.domain.churn``); the report
  keeps the top N by score.
- **CLV**: see ``docs/clv.md`` and :func:`clv_estimates`.
- **Comparisons**: each headline figure with its value for the previous period,
  the difference and a direction ▲ / ▼ / ＝ (nothing when either side has no
  value, e.g. no CSAT given).  Whether up is good is in ``higher_is_better``
  (``False`` for overdue follow-ups, complaints and resolution time).
"""

from __future__ import annotations

import calendar
from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from operator import attrgetter
from typing import Any

from bot.domain.models import (
    Customer,
    Feedback,
    FeedbackKind,
    FeedbackStatus,
    Interaction,
    InteractionKind,
    LifecycleStage,
    Purchase,
    Reminder,
    ReminderKind,
    ReminderStatus,
    Role,
    StaffUser,
    ValueTier,
)

UP, DOWN, SAME = "▲", "▼", "＝"
NO_TIER = "none"
CENT = Decimal("0.01")
DAYS_PER_YEAR = 365


def _require_aware(name: str, value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime")


# ---------------------------------------------------------------------------
# Periods
# ---------------------------------------------------------------------------


class PeriodKind(StrEnum):
    """What a period is, so that :meth:`Period.previous` can step by calendar units."""

    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    CUSTOM = "custom"


@dataclass(frozen=True)
class Period:
    """``[start, end)``: timezone-aware, ``end`` exclusive.

    Build one with the constructors, which cut at local midnights in the
    business time zone (a Shanghai manager's "today" starts at 00:00 Beijing
    time, 16:00 UTC the day before).  ``tz`` is the zone the period was cut in
    (``start``'s own zone when built directly); purchase dates are read in it.
    """

    start: datetime
    end: datetime
    kind: PeriodKind = PeriodKind.CUSTOM
    tz: tzinfo | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        _require_aware("Period.start", self.start)
        _require_aware("Period.end", self.end)
        if not self.start.astimezone(UTC) < self.end.astimezone(UTC):
            raise ValueError("Period.start must be before Period.end")
        if self.tz is None:
            object.__setattr__(self, "tz", self.start.tzinfo)

    # -- constructors ------------------------------------------------------

    @classmethod
    def today(cls, now: datetime, tz: tzinfo) -> Period:
        day = _local_date(now, tz)
        return cls(_midnight(day, tz), _midnight(day + timedelta(days=1), tz), PeriodKind.DAY, tz)

    @classmethod
    def this_week(cls, now: datetime, tz: tzinfo) -> Period:
        """Monday 00:00 to next Monday 00:00 (the week as China and ISO 8601 count it)."""
        monday = _local_date(now, tz)
        monday -= timedelta(days=monday.weekday())
        return cls(
            _midnight(monday, tz), _midnight(monday + timedelta(days=7), tz), PeriodKind.WEEK, tz
        )

    @classmethod
    def this_month(cls, now: datetime, tz: tzinfo) -> Period:
        first = _local_date(now, tz).replace(day=1)
        return cls._month(first, tz)

    @classmethod
    def last_month(cls, now: datetime, tz: tzinfo) -> Period:
        first = _local_date(now, tz).replace(day=1)
        return cls._month((first - timedelta(days=1)).replace(day=1), tz)

    @classmethod
    def custom(cls, start_date: date, end_date: date, tz: tzinfo) -> Period:
        """From ``start_date`` to ``end_date`` *inclusive*, as a person says "1–15 March"."""
        if end_date < start_date:
            raise ValueError("the end date is before the start date")
        return cls(
            _midnight(start_date, tz),
            _midnight(end_date + timedelta(days=1), tz),
            PeriodKind.CUSTOM,
            tz,
        )

    @classmethod
    def _month(cls, first: date, tz: tzinfo) -> Period:
        days = calendar.monthrange(first.year, first.month)[1]
        return cls(
            _midnight(first, tz),
            _midnight(first + timedelta(days=days), tz),
            PeriodKind.MONTH,
            tz,
        )

    # -- queries -----------------------------------------------------------

    def previous(self) -> Period:
        """The period of the same length just before this one.

        Length is counted in local calendar days when both ends are local
        midnights (so a day across a DST change is still the day before), and
        a calendar month's previous period is the calendar month before:
        comparing March with "the 31 days before" would compare it with 3 days
        of January and all of February.
        """
        tz = self.tz or UTC
        if self.kind is PeriodKind.MONTH:
            first = self.start.astimezone(tz).date()
            return Period._month((first - timedelta(days=1)).replace(day=1), tz)
        local_start, local_end = self.start.astimezone(tz), self.end.astimezone(tz)
        if local_start.time() == time() and local_end.time() == time():
            days = (local_end.date() - local_start.date()).days
            new_start = local_start.date() - timedelta(days=days)
            return Period(_midnight(new_start, tz), self.start, self.kind, tz)
        start, end = self.start.astimezone(UTC), self.end.astimezone(UTC)  # real, not wall, time
        return Period((start - (end - start)).astimezone(tz), self.start, self.kind, tz)

    def contains(self, moment: datetime) -> bool:
        # In UTC: Python compares two datetimes sharing a tzinfo by wall time, which is
        # wrong in the repeated hour when clocks go back.
        return self.start.astimezone(UTC) <= moment.astimezone(UTC) < self.end.astimezone(UTC)

    @property
    def first_day(self) -> date:
        """The first local calendar day whose midnight is in the period."""
        local = self.start.astimezone(self.tz)
        return local.date() if local.time() == time() else local.date() + timedelta(days=1)

    @property
    def end_day(self) -> date:
        """The first local calendar day (at or after the end) whose midnight is not in it."""
        local = self.end.astimezone(self.tz)
        return local.date() if local.time() == time() else local.date() + timedelta(days=1)

    @property
    def last_day(self) -> date:
        """The last local calendar day the period touches (for "1–31 March" labels)."""
        return (self.end - timedelta(microseconds=1)).astimezone(self.tz).date()

    def contains_day(self, day: date) -> bool:
        return self.first_day <= day < self.end_day

    def label(self) -> str:
        first = self.start.astimezone(self.tz).date()
        last = self.last_day
        return first.isoformat() if first == last else f"{first.isoformat()} – {last.isoformat()}"


def _local_date(now: datetime, tz: tzinfo) -> date:
    _require_aware("now", now)
    return now.astimezone(tz).date()


def _midnight(day: date, tz: tzinfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=tz)


# ---------------------------------------------------------------------------
# Input and settings
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AtRiskInput:
    """One customer scored by ``bot.domain.churn`` (reasons already rendered to text)."""

    customer_id: str
    score: int
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReportData:
    """Plain records of the scope, already filtered by the caller (see the module docstring).

    ``at_risk`` items may be :class:`AtRiskInput` or plain
    ``(customer_id, score, reasons)`` tuples.  ``previous_snapshot`` is what
    :meth:`Report.snapshot` returned for an earlier report; without it tier and
    stage movement is omitted.
    """

    staff: Sequence[StaffUser] = ()
    customers: Sequence[Customer] = ()
    purchases: Sequence[Purchase] = ()
    interactions: Sequence[Interaction] = ()
    feedback: Sequence[Feedback] = ()
    follow_up_reminders: Sequence[Reminder] = ()
    at_risk: Sequence[AtRiskInput | tuple[str, int, Sequence[str]]] = ()
    previous_snapshot: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class ReportSettings:
    """The knobs, meant to be configuration keys under ``[reports]``."""

    follow_up_grace: timedelta = timedelta(days=1)
    top_at_risk: int = 10
    clv_lifetime_years: Decimal = Decimal(3)
    clv_min_observation_days: int = DAYS_PER_YEAR

    def __post_init__(self) -> None:
        if not isinstance(self.clv_lifetime_years, Decimal):  # an int or float from config
            object.__setattr__(self, "clv_lifetime_years", Decimal(str(self.clv_lifetime_years)))
        if self.follow_up_grace < timedelta(0):
            raise ValueError("reports.follow_up_grace must not be negative")
        if self.top_at_risk < 0:
            raise ValueError("reports.top_at_risk must not be negative")
        if not self.clv_lifetime_years > 0:
            raise ValueError("reports.clv_lifetime_years must be positive")
        if self.clv_min_observation_days < 1:
            raise ValueError("reports.clv_min_observation_days must be at least 1")


# ---------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RepActivity:
    """One rep's figures for the period."""

    rep_id: str
    name: str
    interactions: int = 0
    by_kind: Mapping[str, int] = field(default_factory=dict, hash=False)
    new_customers: int = 0
    purchases: int = 0
    feedback: int = 0
    follow_ups_on_time: int = 0
    follow_ups_overdue: int = 0

    @property
    def active(self) -> bool:
        return bool(self.interactions or self.new_customers or self.purchases or self.feedback)


@dataclass(frozen=True)
class FollowUpStats:
    """Follow-ups due in the period (see the module docstring for the definitions)."""

    due: int = 0
    on_time: int = 0
    overdue: int = 0
    late: int = 0  # overdue ones that were done after the grace, by now
    pending: int = 0

    @property
    def on_time_rate(self) -> float | None:
        decided = self.on_time + self.overdue
        return self.on_time / decided if decided else None


@dataclass(frozen=True)
class FeedbackStats:
    total: int = 0
    by_kind: Mapping[str, int] = field(default_factory=dict, hash=False)
    by_status: Mapping[str, int] = field(default_factory=dict, hash=False)
    resolved: int = 0  # resolved in the period (the base of the average)
    avg_resolution_hours: float | None = None
    csat_count: int = 0
    csat_avg: float | None = None
    nps_count: int = 0
    promoters: int = 0
    passives: int = 0
    detractors: int = 0

    @property
    def nps(self) -> float | None:
        if not self.nps_count:
            return None
        return 100.0 * (self.promoters - self.detractors) / self.nps_count

    @property
    def complaints(self) -> int:
        return self.by_kind.get(FeedbackKind.COMPLAINT.value, 0)


@dataclass(frozen=True)
class AtRiskRow:
    customer_id: str
    name: str
    owner_id: str
    owner_name: str
    score: int
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class ClvEstimate:
    """One customer's CLV in one currency (``docs/clv.md``)."""

    customer_id: str
    name: str
    owner_id: str
    currency: str
    orders: int  # purchase days
    total: Decimal
    first_purchase: date
    observed_days: int
    lifetime_years: Decimal
    clv: Decimal  # computed unrounded, then rounded to cents

    @property
    def average_order_value(self) -> Decimal:
        """Total ÷ orders, rounded to cents (for display; CLV does not use the rounded value)."""
        return (self.total / self.orders).quantize(CENT, ROUND_HALF_UP)

    @property
    def orders_per_year(self) -> Decimal:
        """Orders ÷ observed years, rounded to 0.01 (for display)."""
        return (Decimal(self.orders * DAYS_PER_YEAR) / self.observed_days).quantize(
            CENT, ROUND_HALF_UP
        )


@dataclass(frozen=True)
class ClvSummary:
    estimates: tuple[ClvEstimate, ...] = ()  # highest CLV first
    average: Mapping[str, Decimal] = field(default_factory=dict, hash=False)  # per currency
    customers: Mapping[str, int] = field(default_factory=dict, hash=False)  # per currency

    def for_customer(self, customer_id: str) -> list[ClvEstimate]:
        return [e for e in self.estimates if e.customer_id == customer_id]


Number = int | float | Decimal


@dataclass(frozen=True)
class Comparison:
    """A headline figure now and in the previous period."""

    key: str  # "new_customers", "revenue:CNY", … (label(key) gives the display name)
    current: Number | None
    previous: Number | None
    higher_is_better: bool | None = True

    @property
    def delta(self) -> Number | None:
        if self.current is None or self.previous is None:
            return None
        return self.current - self.previous  # type: ignore[operator]

    @property
    def direction(self) -> str:
        """▲ / ▼ / ＝, or "" when there is nothing to compare (floats compared to 1e-9)."""
        delta = self.delta
        if delta is None:
            return ""
        if isinstance(delta, float) and abs(delta) < 1e-9:
            return SAME
        return UP if delta > 0 else DOWN if delta < 0 else SAME

    @property
    def improved(self) -> bool | None:
        """Whether the change is good news (``None``: no change, no value, or neutral)."""
        direction = self.direction
        if direction in ("", SAME) or self.higher_is_better is None:
            return None
        return (direction == UP) == self.higher_is_better


@dataclass(frozen=True)
class Report:
    """Everything a manager's report shows.  Mappings are read-only by convention."""

    period: Period
    previous_period: Period
    generated_at: datetime
    new_customers: int
    interactions: int
    interactions_by_kind: Mapping[str, int] = field(hash=False)
    reps: tuple[RepActivity, ...]  # most interactions first
    inactive_reps: tuple[RepActivity, ...]
    follow_ups: FollowUpStats
    feedback: FeedbackStats
    revenue: Mapping[str, Decimal] = field(hash=False)  # per currency
    purchases: int
    tiers: Mapping[str, int] = field(hash=False)  # "high" … "low", "none"
    stages: Mapping[str, int] = field(hash=False)
    tier_movement: Mapping[str, int] | None = field(hash=False)
    stage_movement: Mapping[str, int] | None = field(hash=False)
    at_risk: tuple[AtRiskRow, ...]
    clv: ClvSummary
    comparisons: tuple[Comparison, ...]

    def comparison(self, key: str) -> Comparison | None:
        return next((c for c in self.comparisons if c.key == key), None)

    def snapshot(self) -> dict[str, Any]:
        """JSON-ready counts to store (e.g. a KeyValue) and pass to the next report."""
        return {
            "at": self.generated_at.isoformat(),
            "tiers": dict(self.tiers),
            "stages": dict(self.stages),
        }


# ---------------------------------------------------------------------------
# Computing
# ---------------------------------------------------------------------------


def compute_report(
    data: ReportData,
    period: Period,
    now: datetime,
    settings: ReportSettings | None = None,
) -> Report:
    """All the figures of ``period`` and of the period before it, as of ``now``."""
    _require_aware("now", now)
    settings = settings or ReportSettings()
    previous = period.previous()
    names = {s.id: s.name for s in data.staff}
    rep_ids = _active_rep_ids(data.staff)
    customers = [c for c in data.customers if not c.archived]

    current, before = _Figures(period), _Figures(previous)
    contacts = _scan_interactions(data.interactions, current, before)
    for fig in (current, before):
        _add_reminder_follow_ups(fig, data.follow_up_reminders)
    for customer_id in {key[0] for fig in (current, before) for key in fig.due}:
        contacts[customer_id].sort()  # only the customers a follow-up asks about
    for fig in (current, before):
        _score_follow_ups(fig, contacts, now, settings.follow_up_grace)
        _count_customers(fig, customers)
        _count_purchases(fig, data.purchases)
        fig.feedback = _feedback_stats(data.feedback, fig.start, fig.end, fig.feedback_by_rep)

    reps = _rep_rows(rep_ids, names, current)
    tiers, stages = _mix(customers)
    snapshot = data.previous_snapshot
    return Report(
        period=period,
        previous_period=previous,
        generated_at=now,
        new_customers=current.new_customers,
        interactions=current.interactions,
        interactions_by_kind=_ordered(current.by_kind, InteractionKind),
        reps=reps,
        inactive_reps=tuple(r for r in reps if not r.active and r.rep_id in rep_ids),
        follow_ups=current.follow_ups,
        feedback=current.feedback,
        revenue=dict(sorted(current.revenue.items())),
        purchases=current.purchases,
        tiers=tiers,
        stages=stages,
        tier_movement=_movement(tiers, snapshot.get("tiers")) if snapshot else None,
        stage_movement=_movement(stages, snapshot.get("stages")) if snapshot else None,
        at_risk=_top_at_risk(data.at_risk, customers, names, settings.top_at_risk),
        clv=clv_estimates(customers, data.purchases, now, period.tz or UTC, settings),
        comparisons=_comparisons(current, before, rep_ids),
    )


def _utc(moment: datetime) -> datetime:
    # Records are stored in UTC; comparing datetimes that share the UTC tzinfo
    # object skips a utcoffset() call per comparison (hundreds of thousands here).
    return moment if moment.tzinfo is UTC else moment.astimezone(UTC)


class _Figures:
    """One period's counts, filled in while scanning (never leaves this module)."""

    def __init__(self, period: Period) -> None:
        self.start, self.end = _utc(period.start), _utc(period.end)
        self.first_day, self.end_day = period.first_day, period.end_day
        self.new_customers = 0
        self.new_by_rep: Counter[str] = Counter()
        self.interactions = 0
        self.by_kind: Counter[str] = Counter()
        self.by_rep: Counter[str] = Counter()
        self.by_rep_kind: Counter[tuple[str, str]] = Counter()
        self.purchases = 0
        self.purchases_by_rep: Counter[str] = Counter()
        self.revenue: dict[str, Decimal] = {}
        self.feedback_by_rep: Counter[str] = Counter()
        # (customer, due) -> (rep, since): what set the follow-up, and when
        self.due: dict[tuple[str, datetime], tuple[str, datetime]] = {}
        self.follow_ups = FollowUpStats()
        self.on_time_by_rep: Counter[str] = Counter()
        self.overdue_by_rep: Counter[str] = Counter()
        self.feedback = FeedbackStats()

    def active_reps(self) -> set[str]:
        return (
            set(self.by_rep)
            | set(self.new_by_rep)
            | set(self.purchases_by_rep)
            | set(self.feedback_by_rep)
        )


def _scan_interactions(
    interactions: Iterable[Interaction], current: _Figures, before: _Figures
) -> dict[str, list[datetime]]:
    """One pass over the interactions for both periods (the hot loop: kept lean).

    Counts interactions per (rep, kind), collects the follow-ups due in each
    period, and returns every customer's contact times (UTC, *unsorted*: the
    caller sorts those of customers with a follow-up) for :func:`_score_follow_ups`.
    ``before`` ends where ``current`` starts (``Period.previous``), so one range
    test sorts a moment into either.
    """
    low, middle, high = before.start, current.start, current.end
    if before.end != middle:
        raise ValueError("the previous period must end where the current one starts")
    counts = (before.by_rep_kind, current.by_rep_kind)
    dues = (before.due, current.due)
    contacts: dict[str, list[datetime]] = defaultdict(list)
    for i in interactions:
        if i.deleted:
            continue
        at = i.occurred_at
        if at.tzinfo is not UTC:
            at = at.astimezone(UTC)
        contacts[i.customer_id].append(at)
        if low <= at < high:
            counts[at >= middle][(i.owner_id, i.kind)] += 1
        due = i.next_follow_up_at
        if due is not None and low <= due < high:
            key = (i.customer_id, _utc(due))
            follow_ups = dues[due >= middle]
            known = follow_ups.get(key)
            if known is None or at < known[1]:
                follow_ups[key] = (i.owner_id, at)
    for fig in (before, current):
        for (rep, kind), count in fig.by_rep_kind.items():
            fig.by_rep[rep] += count
            fig.by_kind[kind] += count
        fig.interactions = sum(fig.by_rep_kind.values())
    return contacts


def _add_reminder_follow_ups(fig: _Figures, reminders: Iterable[Reminder]) -> None:
    """Follow-up reminders not already known from an interaction (same customer and due time)."""
    for r in reminders:
        if (
            r.kind is ReminderKind.FOLLOW_UP
            and r.customer_id is not None
            and r.status is not ReminderStatus.CANCELLED
            and fig.start <= r.due_at < fig.end
        ):
            key = (r.customer_id, _utc(r.due_at))
            if key not in fig.due:
                fig.due[key] = (r.recipient_id, _utc(r.created_at))


def _score_follow_ups(
    fig: _Figures, contacts: Mapping[str, list[datetime]], now: datetime, grace: timedelta
) -> None:
    """Sort ``fig.due`` into on time / overdue / pending (``contacts`` sorted per customer)."""
    on_time = overdue = late = pending = 0
    now = _utc(now)
    for (customer_id, due), (rep, since) in fig.due.items():
        times = contacts.get(customer_id, [])
        index = bisect_right(times, since)  # the first contact strictly after "since"
        next_contact = times[index] if index < len(times) else None
        deadline = due + grace
        if next_contact is not None and next_contact < deadline:
            on_time += 1
            fig.on_time_by_rep[rep] += 1
        elif now >= deadline:
            overdue += 1
            fig.overdue_by_rep[rep] += 1
            if next_contact is not None and next_contact <= now:
                late += 1
        else:
            pending += 1
    fig.follow_ups = FollowUpStats(
        due=len(fig.due), on_time=on_time, overdue=overdue, late=late, pending=pending
    )


def _count_customers(fig: _Figures, customers: Iterable[Customer]) -> None:
    start, end = fig.start, fig.end
    for c in customers:
        if start <= c.created_at < end:
            fig.new_customers += 1
            fig.new_by_rep[c.owner_id] += 1


def _count_purchases(fig: _Figures, purchases: Iterable[Purchase]) -> None:
    first_day, end_day = fig.first_day, fig.end_day
    revenue = fig.revenue
    for p in purchases:
        if first_day <= p.purchased_on < end_day:
            fig.purchases += 1
            fig.purchases_by_rep[p.owner_id] += 1
            revenue[p.currency] = revenue.get(p.currency, Decimal(0)) + p.amount


def _rated_at(f: Feedback) -> datetime:
    """When the rating was given: CSAT/NPS are usually asked on confirmation or resolution."""
    return f.confirmed_at or f.resolved_at or f.created_at


def _feedback_stats(
    feedback: Iterable[Feedback], start: datetime, end: datetime, by_rep: Counter[str]
) -> FeedbackStats:
    by_kind: Counter[str] = Counter()
    by_status: Counter[str] = Counter()
    resolution_hours: list[float] = []
    csat: list[int] = []
    promoters = passives = detractors = 0
    for f in feedback:
        if f.deleted:
            continue
        if start <= f.created_at < end:
            by_kind[f.kind.value] += 1
            by_status[f.status.value] += 1
            by_rep[f.owner_id] += 1
        if f.resolved_at is not None and start <= f.resolved_at < end:
            hours = (f.resolved_at - f.created_at).total_seconds() / 3600
            if hours >= 0:
                resolution_hours.append(hours)
        if f.csat is None and f.nps is None:
            continue
        if start <= _rated_at(f) < end:
            if f.csat is not None:
                csat.append(f.csat)
            if f.nps is not None:
                if f.nps >= 9:
                    promoters += 1
                elif f.nps >= 7:
                    passives += 1
                else:
                    detractors += 1
    return FeedbackStats(
        total=sum(by_kind.values()),
        by_kind=_ordered(by_kind, FeedbackKind),
        by_status=_ordered(by_status, FeedbackStatus),
        resolved=len(resolution_hours),
        avg_resolution_hours=(
            sum(resolution_hours) / len(resolution_hours) if resolution_hours else None
        ),
        csat_count=len(csat),
        csat_avg=sum(csat) / len(csat) if csat else None,
        nps_count=promoters + passives + detractors,
        promoters=promoters,
        passives=passives,
        detractors=detractors,
    )


def _ordered(counts: Mapping[str, int], enum: type[StrEnum]) -> dict[str, int]:
    """Every member of ``enum`` in declaration order (zeros included: stable tables)."""
    return {member.value: counts.get(member.value, 0) for member in enum}


def _active_rep_ids(staff: Iterable[StaffUser]) -> set[str]:
    return {s.id for s in staff if s.active and s.role is Role.REP}


def _rep_rows(
    rep_ids: set[str], names: Mapping[str, str], fig: _Figures
) -> tuple[RepActivity, ...]:
    """Every active rep, plus anybody else (a manager, a departed rep) active in the period."""
    ids = rep_ids | fig.active_reps()
    kinds = [k.value for k in InteractionKind]
    rows = [
        RepActivity(
            rep_id=rep,
            name=names.get(rep, rep),
            interactions=fig.by_rep.get(rep, 0),
            by_kind={k: fig.by_rep_kind.get((rep, k), 0) for k in kinds},
            new_customers=fig.new_by_rep.get(rep, 0),
            purchases=fig.purchases_by_rep.get(rep, 0),
            feedback=fig.feedback_by_rep.get(rep, 0),
            follow_ups_on_time=fig.on_time_by_rep.get(rep, 0),
            follow_ups_overdue=fig.overdue_by_rep.get(rep, 0),
        )
        for rep in ids
    ]
    rows.sort(key=lambda r: (-r.interactions, r.name, r.rep_id))
    return tuple(rows)


def _mix(customers: Iterable[Customer]) -> tuple[dict[str, int], dict[str, int]]:
    tiers: Counter[str] = Counter()
    stages: Counter[str] = Counter()
    for c in customers:
        tier = c.value_tier_override or c.value_tier
        tiers[tier if tier is not None else NO_TIER] += 1
        stages[c.stage_override or c.stage] += 1
    tier_counts = _ordered(tiers, ValueTier)
    tier_counts[NO_TIER] = tiers.get(NO_TIER, 0)
    return tier_counts, _ordered(stages, LifecycleStage)


def _movement(now: Mapping[str, int], before: Any) -> dict[str, int] | None:
    if not isinstance(before, Mapping):
        return None
    keys = list(now) + [k for k in before if k not in now]
    return {k: now.get(k, 0) - int(before.get(k, 0)) for k in keys}


def _top_at_risk(
    items: Iterable[AtRiskInput | tuple[str, int, Sequence[str]]],
    customers: Iterable[Customer],
    names: Mapping[str, str],
    limit: int,
) -> tuple[AtRiskRow, ...]:
    by_id = {c.id: c for c in customers}
    scored = []
    for item in items:
        entry = (
            item
            if isinstance(item, AtRiskInput)
            else AtRiskInput(item[0], int(item[1]), tuple(item[2]))
        )
        customer = by_id.get(entry.customer_id)
        if customer is None:  # archived or out of scope
            continue
        scored.append((entry, customer))
    scored.sort(key=lambda pair: (-pair[0].score, pair[1].name, pair[0].customer_id))
    return tuple(
        AtRiskRow(
            customer_id=entry.customer_id,
            name=customer.name,
            owner_id=customer.owner_id,
            owner_name=names.get(customer.owner_id, customer.owner_id),
            score=entry.score,
            reasons=tuple(str(r) for r in entry.reasons),
        )
        for entry, customer in scored[:limit]
    )


def clv_estimates(
    customers: Iterable[Customer],
    purchases: Iterable[Purchase],
    now: datetime,
    tz: tzinfo,
    settings: ReportSettings | None = None,
) -> ClvSummary:
    """CLV per customer and currency: AOV × orders per year × expected lifetime (years).

    An *order* is a purchase day (several lines bought on one visit are one
    order, as in ``bot.domain.classification``); AOV = total ÷ orders; orders per
    year = orders ÷ (observed days ÷ 365), observed days = days from the first
    purchase to today, at least ``clv_min_observation_days`` (so one purchase
    last week does not extrapolate to 52 a year).  The product is simply
    total × 365 × lifetime ÷ observed days, computed exactly then rounded to
    cents.  Purchases after today are ignored; archived customers have none.
    """
    settings = settings or ReportSettings()
    today = _local_date(now, tz)
    lifetime = settings.clv_lifetime_years
    wanted = {c.id: c for c in customers if not c.archived}
    totals: dict[tuple[str, str], Decimal] = {}
    days: dict[tuple[str, str], set[date]] = {}
    for p in purchases:
        day = p.purchased_on
        if day > today or p.customer_id not in wanted:
            continue
        key = (p.customer_id, p.currency)
        total = totals.get(key)
        if total is None:
            totals[key] = p.amount
            days[key] = {day}
        else:
            totals[key] = total + p.amount
            days[key].add(day)

    factor = DAYS_PER_YEAR * lifetime
    minimum = settings.clv_min_observation_days
    estimates = []
    for key, total in totals.items():
        customer_id, currency = key
        order_days = days[key]
        first = min(order_days)
        observed = max((today - first).days, minimum)
        customer = wanted[customer_id]
        estimates.append(
            ClvEstimate(
                customer_id=customer_id,
                name=customer.name,
                owner_id=customer.owner_id,
                currency=currency,
                orders=len(order_days),
                total=total,
                first_purchase=first,
                observed_days=observed,
                lifetime_years=lifetime,
                clv=(total * factor / observed).quantize(CENT, ROUND_HALF_UP),
            )
        )
    estimates.sort(key=attrgetter("currency", "customer_id"))
    estimates.sort(key=attrgetter("clv"), reverse=True)  # stable: ties stay in that order
    sums: dict[str, Decimal] = defaultdict(Decimal)
    counts: Counter[str] = Counter()
    for e in estimates:
        sums[e.currency] += e.clv
        counts[e.currency] += 1
    average = {cur: (sums[cur] / counts[cur]).quantize(CENT, ROUND_HALF_UP) for cur in sorted(sums)}
    return ClvSummary(estimates=tuple(estimates), average=average, customers=dict(counts))


def _comparisons(current: _Figures, before: _Figures, rep_ids: set[str]) -> tuple[Comparison, ...]:
    def active(fig: _Figures) -> int:
        return len(fig.active_reps() & rep_ids) if rep_ids else len(fig.active_reps())

    cf, bf = current.feedback, before.feedback
    cu, bu = current.follow_ups, before.follow_ups
    rows = [
        Comparison("new_customers", current.new_customers, before.new_customers),
        Comparison("interactions", current.interactions, before.interactions),
        Comparison("active_reps", active(current), active(before)),
        Comparison("follow_ups_due", cu.due, bu.due, None),
        Comparison("follow_ups_on_time", cu.on_time, bu.on_time),
        Comparison("follow_ups_overdue", cu.overdue, bu.overdue, False),
        Comparison("follow_up_on_time_rate", cu.on_time_rate, bu.on_time_rate),
        Comparison("feedback", cf.total, bf.total, None),
        Comparison("complaints", cf.complaints, bf.complaints, False),
        Comparison("avg_resolution_hours", cf.avg_resolution_hours, bf.avg_resolution_hours, False),
        Comparison("csat", cf.csat_avg, bf.csat_avg),
        Comparison("nps", cf.nps, bf.nps),
        Comparison("purchases", current.purchases, before.purchases),
    ]
    for currency in sorted(set(current.revenue) | set(before.revenue)):
        rows.append(
            Comparison(
                f"revenue:{currency}",
                current.revenue.get(currency, Decimal(0)),
                before.revenue.get(currency, Decimal(0)),
            )
        )
    return tuple(rows)


# ---------------------------------------------------------------------------
# Display names (shared by the chart, the spreadsheet and the message)
# ---------------------------------------------------------------------------

LABELS: dict[str, dict[str, str]] = {
    "en": {
        "new_customers": "New customers",
        "interactions": "Interactions",
        "active_reps": "Active reps",
        "follow_ups_due": "Follow-ups due",
        "follow_ups_on_time": "Follow-ups on time",
        "follow_ups_overdue": "Follow-ups overdue",
        "follow_up_on_time_rate": "Follow-up on-time rate",
        "feedback": "Feedback",
        "complaints": "Complaints",
        "avg_resolution_hours": "Avg. resolution (hours)",
        "csat": "CSAT (1–5)",
        "nps": "NPS",
        "purchases": "Purchases",
        "revenue": "Revenue",
        "clv_average": "Average CLV",
        "others": "Others",
        "none": "No tier",
        "call": "Call",
        "visit": "Visit",
        "meeting": "Meeting",
        "message": "Message",
        "email": "Email",
        "wechat": "WeChat",
        "complaint": "Complaint",
        "suggestion": "Suggestion",
        "praise": "Praise",
        "question": "Question",
        "open": "Open",
        "in_progress": "In progress",
        "resolved": "Resolved",
        "confirmed": "Confirmed",
        "high": "High",
        "mid": "Mid",
        "low": "Low",
        "prospect": "Prospect",
        "new": "New",
        "repeat": "Repeat",
        "at_risk": "At risk",
        "churned": "Churned",
    },
    "zh": {
        "new_customers": "新客户",
        "interactions": "跟进次数",
        "active_reps": "活跃销售",
        "follow_ups_due": "应跟进",
        "follow_ups_on_time": "按时跟进",
        "follow_ups_overdue": "逾期跟进",
        "follow_up_on_time_rate": "跟进按时率",
        "feedback": "反馈",
        "complaints": "投诉",
        "avg_resolution_hours": "平均处理时长（小时）",
        "csat": "满意度（1–5）",
        "nps": "NPS",
        "purchases": "成交笔数",
        "revenue": "销售额",
        "clv_average": "平均客户终身价值",
        "others": "其他",
        "none": "未分级",
        "call": "电话",
        "visit": "拜访",
        "meeting": "会面",
        "message": "短信",
        "email": "邮件",
        "wechat": "微信",
        "complaint": "投诉",
        "suggestion": "建议",
        "praise": "表扬",
        "question": "咨询",
        "open": "待处理",
        "in_progress": "处理中",
        "resolved": "已解决",
        "confirmed": "已确认",
        "high": "高价值",
        "mid": "中价值",
        "low": "低价值",
        "prospect": "潜在客户",
        "new": "新客户",
        "repeat": "老客户",
        "at_risk": "流失风险",
        "churned": "已流失",
    },
}


def label(key: str, language: str) -> str:
    """The display name of a figure or an enum value; ``revenue:CNY`` → "Revenue (CNY)"."""
    table = LABELS.get(language, LABELS["en"])
    base, _, currency = key.partition(":")
    if currency and base in table:
        return f"{table[base]} ({currency})"
    return table.get(key, key)
