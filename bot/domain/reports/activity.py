"""Activity figures: new customers, interactions, purchases and follow-ups, per rep.

The hot loop of a report (one pass over the interactions for both periods)
lives here; :class:`PeriodCounts` is what it fills, one per period.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from bot.domain.models import (
    Customer,
    Interaction,
    InteractionKind,
    Purchase,
    Reminder,
    ReminderKind,
    ReminderStatus,
    Role,
    StaffUser,
)
from bot.domain.reports._util import utc
from bot.domain.reports.feedback import FeedbackStats
from bot.domain.reports.periods import Period


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
    checked_in: int = 0  # visits with a verified location (a check-in, 外勤签到)

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



class PeriodCounts:
    """One period's counts, filled in while scanning (internal to the report package)."""

    def __init__(self, period: Period) -> None:
        self.start, self.end = utc(period.start), utc(period.end)
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
        self.checked_in_by_rep: Counter[str] = Counter()  # visits with a check-in location
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


def scan_interactions(
    interactions: Iterable[Interaction], current: PeriodCounts, before: PeriodCounts
) -> dict[str, list[datetime]]:
    """One pass over the interactions for both periods (the hot loop: kept lean).

    Counts interactions per (rep, kind), collects the follow-ups due in each
    period, and returns every customer's contact times (UTC, *unsorted*: the
    caller sorts those of customers with a follow-up) for :func:`score_follow_ups`.
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
            if i.check_in is not None:
                (current if at >= middle else before).checked_in_by_rep[i.owner_id] += 1
        due = i.next_follow_up_at
        if due is not None and low <= due < high:
            key = (i.customer_id, utc(due))
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


def add_reminder_follow_ups(fig: PeriodCounts, reminders: Iterable[Reminder]) -> None:
    """Follow-up reminders not already known from an interaction (same customer and due time)."""
    for r in reminders:
        if (
            r.kind is ReminderKind.FOLLOW_UP
            and r.customer_id is not None
            and r.status is not ReminderStatus.CANCELLED
            and fig.start <= r.due_at < fig.end
        ):
            key = (r.customer_id, utc(r.due_at))
            if key not in fig.due:
                fig.due[key] = (r.recipient_id, utc(r.created_at))


def score_follow_ups(
    fig: PeriodCounts, contacts: Mapping[str, list[datetime]], now: datetime, grace: timedelta
) -> None:
    """Sort ``fig.due`` into on time / overdue / pending (``contacts`` sorted per customer)."""
    on_time = overdue = late = pending = 0
    now = utc(now)
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


def count_customers(fig: PeriodCounts, customers: Iterable[Customer]) -> None:
    start, end = fig.start, fig.end
    for c in customers:
        if start <= c.created_at < end:
            fig.new_customers += 1
            fig.new_by_rep[c.owner_id] += 1


def count_purchases(fig: PeriodCounts, purchases: Iterable[Purchase]) -> None:
    first_day, end_day = fig.first_day, fig.end_day
    revenue = fig.revenue
    for p in purchases:
        if first_day <= p.purchased_on < end_day:
            fig.purchases += 1
            fig.purchases_by_rep[p.owner_id] += 1
            revenue[p.currency] = revenue.get(p.currency, Decimal(0)) + p.amount



def active_rep_ids(staff: Iterable[StaffUser]) -> set[str]:
    return {s.id for s in staff if s.active and s.role is Role.REP}


def rep_rows(
    rep_ids: set[str], names: Mapping[str, str], fig: PeriodCounts
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
            checked_in=fig.checked_in_by_rep.get(rep, 0),
        )
        for rep in ids
    ]
    rows.sort(key=lambda r: (-r.interactions, r.name, r.rep_id))
    return tuple(rows)

