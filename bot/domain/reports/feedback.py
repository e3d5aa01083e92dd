"""Feedback figures: counts by kind and status, resolution time, CSAT and NPS."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from bot.domain.models import Feedback, FeedbackKind, FeedbackStatus
from bot.domain.reports._util import ordered


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



def _rated_at(f: Feedback) -> datetime:
    """When the rating was given: CSAT/NPS are usually asked on confirmation or resolution."""
    return f.confirmed_at or f.resolved_at or f.created_at


def feedback_stats(
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
        by_kind=ordered(by_kind, FeedbackKind),
        by_status=ordered(by_status, FeedbackStatus),
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

