"""The report: every figure of a period and of the one before it, computed in one call."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from bot.domain.models import InteractionKind
from bot.domain.reports._util import ordered, require_aware
from bot.domain.reports.activity import (
    FollowUpStats,
    PeriodCounts,
    RepActivity,
    active_rep_ids,
    add_reminder_follow_ups,
    count_customers,
    count_purchases,
    rep_rows,
    scan_interactions,
    score_follow_ups,
)
from bot.domain.reports.clv import ClvSummary, clv_estimates
from bot.domain.reports.comparisons import Comparison, comparisons
from bot.domain.reports.customers import AtRiskRow, mix, movement, top_at_risk
from bot.domain.reports.feedback import FeedbackStats, feedback_stats
from bot.domain.reports.inputs import ReportData, ReportSettings
from bot.domain.reports.periods import Period
from bot.domain.reports.reorders import ExpectedReorders


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
    # The reorders expected in the coming days (bot.domain.reports.reorders), set by the caller.
    reorders: ExpectedReorders | None = None

    def comparison(self, key: str) -> Comparison | None:
        return next((c for c in self.comparisons if c.key == key), None)

    def snapshot(self) -> dict[str, Any]:
        """JSON-ready counts to store (e.g. a KeyValue) and pass to the next report."""
        return {
            "at": self.generated_at.isoformat(),
            "tiers": dict(self.tiers),
            "stages": dict(self.stages),
        }



def compute_report(
    data: ReportData,
    period: Period,
    now: datetime,
    settings: ReportSettings | None = None,
) -> Report:
    """All the figures of ``period`` and of the period before it, as of ``now``."""
    require_aware("now", now)
    settings = settings or ReportSettings()
    previous = period.previous()
    names = {s.id: s.name for s in data.staff}
    rep_ids = active_rep_ids(data.staff)
    customers = [c for c in data.customers if not c.archived]

    current, before = PeriodCounts(period), PeriodCounts(previous)
    contacts = scan_interactions(data.interactions, current, before)
    for fig in (current, before):
        add_reminder_follow_ups(fig, data.follow_up_reminders)
    for customer_id in {key[0] for fig in (current, before) for key in fig.due}:
        contacts[customer_id].sort()  # only the customers a follow-up asks about
    for fig in (current, before):
        score_follow_ups(fig, contacts, now, settings.follow_up_grace)
        count_customers(fig, customers)
        count_purchases(fig, data.purchases)
        fig.feedback = feedback_stats(data.feedback, fig.start, fig.end, fig.feedback_by_rep)

    reps = rep_rows(rep_ids, names, current)
    tiers, stages = mix(customers)
    snapshot = data.previous_snapshot
    return Report(
        period=period,
        previous_period=previous,
        generated_at=now,
        new_customers=current.new_customers,
        interactions=current.interactions,
        interactions_by_kind=ordered(current.by_kind, InteractionKind),
        reps=reps,
        inactive_reps=tuple(r for r in reps if not r.active and r.rep_id in rep_ids),
        follow_ups=current.follow_ups,
        feedback=current.feedback,
        revenue=dict(sorted(current.revenue.items())),
        purchases=current.purchases,
        tiers=tiers,
        stages=stages,
        tier_movement=movement(tiers, snapshot.get("tiers")) if snapshot else None,
        stage_movement=movement(stages, snapshot.get("stages")) if snapshot else None,
        at_risk=top_at_risk(data.at_risk, customers, names, settings.top_at_risk),
        clv=clv_estimates(customers, data.purchases, now, period.tz or UTC, settings),
        comparisons=comparisons(current, before, rep_ids),
    )

