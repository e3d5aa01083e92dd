"""What a report is computed from: the scope's plain records, and the knobs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from bot.domain.churn import Reason
from bot.domain.models import Customer, Feedback, Interaction, Purchase, Reminder, StaffUser

DAYS_PER_YEAR = 365


@dataclass(frozen=True)
class AtRiskInput:
    """One customer scored by ``bot.domain.churn``: its score and reasons (codes and numbers)."""

    customer_id: str
    score: int
    reasons: tuple[Reason, ...] = ()


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
    at_risk: Sequence[AtRiskInput | tuple[str, int, Sequence[Reason]]] = ()
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

