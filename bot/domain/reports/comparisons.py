"""Comparisons: each headline figure now and in the previous period, with a direction."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from bot.domain.reports.activity import PeriodCounts

UP, DOWN, SAME = "up", "down", "same"  # shown as ▲ ▼ ＝ (bot.labels.DIRECTION_SIGNS)


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
        """UP / DOWN / SAME, or "" when there is nothing to compare (floats compared to 1e-9)."""
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



def comparisons(current: PeriodCounts, before: PeriodCounts, rep_ids: set[str]) -> tuple[Comparison, ...]:
    def active(fig: PeriodCounts) -> int:
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

