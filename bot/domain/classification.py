"""Customer classification: value tier and lifecycle stage, with reasons.

Both are derived from the customer's own history so that a rep never has to
maintain them by hand, and both come with machine-readable reasons so the
card can say *why* ("¥128,000 in the last 12 months", "no purchase for 210
days, usually every 60") — a label nobody can explain is a label nobody
trusts.  A manual override stored on the customer
(``value_tier_override`` / ``stage_override``) always wins; the derived
value is still returned so the store keeps it current underneath.

Value tier (RFM-style, over the trailing ``window_days``):

- **high**: revenue ≥ ``high_revenue``, or revenue ≥ ``mid_revenue`` with at
  least ``high_frequency`` purchases;
- **mid**: revenue ≥ ``mid_revenue``, or at least ``mid_frequency`` purchases;
- **low**: bought at some point, but neither of the above;
- **None**: never bought — a prospect has no value yet, and calling it "low"
  would bury leads under real low-value customers in every list.

Lifecycle stage, first rule that applies:

1. **prospect**: never bought (a cold lead stays a prospect; churn is about
   losing a customer);
2. **churned**: neither a purchase nor a contact for more than
   ``churned_days``;
3. **at_risk**: no purchase for more than ``at_risk_factor`` × the customer's
   own usual gap (median days between purchases, at least ``min_gap_days``;
   ``default_gap_days`` with fewer than two purchases), or no contact for
   more than ``at_risk_days``;
4. **new**: exactly one purchase, or the first purchase is at most
   ``new_days`` old;
5. **repeat** (a returning customer): two or more purchases.

"Contact" is the latest non-deleted interaction that reached the customer
(an unanswered call is an attempt, not a contact), the customer's
``last_contact_at``, or a purchase — whichever is latest.

Reasons are codes and numbers; ``bot.labels.CLASSIFICATION_REASONS`` holds
their msgids and ``bot.labels.classification_reason`` renders one (the card
shows them).

Amounts are summed as they are: the thresholds assume the team's single
currency (convert before calling if a team sells in several).  A purchase's
``amount`` is its total, not a unit price.
"""

# In the Chinese method: 客户划分 (customer classification); "repeat" is 老客户.
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from itertools import pairwise
from statistics import median
from typing import Any

from bot.domain.models import (
    Customer,
    Interaction,
    LifecycleStage,
    Outcome,
    Purchase,
    ValueTier,
)


@dataclass(frozen=True)
class ClassificationRules:
    """Thresholds for tier and stage; the defaults suit a small B2B/B2C team selling in CNY.

    This *is* the ``[classification]`` section of the configuration: ``bot.config``
    builds it once, from ``config.toml`` and the environment, and every service
    uses that one object.
    """

    window_days: int = 365
    high_revenue: Decimal = Decimal(100_000)
    mid_revenue: Decimal = Decimal(20_000)
    high_frequency: int = 6
    mid_frequency: int = 3
    new_days: int = 30
    at_risk_factor: float = 2.0
    default_gap_days: int = 90
    min_gap_days: int = 14
    at_risk_days: int = 60
    churned_days: int = 180

    def __post_init__(self) -> None:
        for name in ("high_revenue", "mid_revenue"):  # an int or float from config: exact from here on
            value = getattr(self, name)
            if not isinstance(value, Decimal):
                object.__setattr__(self, name, Decimal(str(value)))
        if not 0 <= self.mid_revenue <= self.high_revenue:
            raise ValueError("mid_revenue must be between 0 and high_revenue")
        if not 1 <= self.mid_frequency <= self.high_frequency:
            raise ValueError("mid_frequency must be between 1 and high_frequency")
        if not 0 < self.at_risk_days <= self.churned_days:
            raise ValueError("at_risk_days must be positive and at most churned_days")
        for name in ("window_days", "new_days", "default_gap_days", "min_gap_days"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        if self.at_risk_factor <= 0:
            raise ValueError("at_risk_factor must be positive")


@dataclass(frozen=True)
class Reason:
    """One fact behind a decision: a stable ``code`` the handlers translate, and its values.

    Codes and params:

    - ``tier.no_purchases`` {}
    - ``tier.high_revenue`` {revenue, threshold, window_days}
    - ``tier.frequent_buyer`` {revenue, purchases, threshold, min_purchases, window_days}
    - ``tier.mid_revenue`` {revenue, threshold, window_days}
    - ``tier.mid_frequency`` {purchases, min_purchases, window_days}
    - ``tier.low`` {revenue, purchases, window_days}
    - ``tier.override`` {tier, derived}
    - ``stage.never_purchased`` {}
    - ``stage.inactive`` {days, threshold_days} — no purchase and no contact
    - ``stage.purchase_overdue`` {days, usual_gap_days, threshold_days}
    - ``stage.no_contact`` {days, threshold_days}
    - ``stage.one_purchase`` {days}
    - ``stage.recent_first_purchase`` {days, threshold_days}
    - ``stage.repeat_purchases`` {purchases}
    - ``stage.override`` {stage, derived}

    Revenue values are ``Decimal``; days and counts ``int``; tiers and
    stages their enum's string value.
    """

    code: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Classification:
    """The effective tier and stage (overrides applied), the derived ones, and why."""

    tier: ValueTier | None
    stage: LifecycleStage
    reasons: tuple[Reason, ...]
    derived_tier: ValueTier | None
    derived_stage: LifecycleStage


def _days(later: date, earlier: date) -> int:
    return (later - earlier).days


def value_tier(purchases: Sequence[Purchase], today: date,
               rules: ClassificationRules) -> tuple[ValueTier | None, Reason]:
    """The derived value tier and the reason for it (see the module docstring)."""
    if not purchases:
        return None, Reason("tier.no_purchases")
    recent = [p for p in purchases if 0 <= _days(today, p.purchased_on) < rules.window_days]
    revenue = sum((p.amount for p in recent), Decimal(0))
    count = len(recent)
    window = rules.window_days
    if revenue >= rules.high_revenue:
        return ValueTier.HIGH, Reason("tier.high_revenue", {
            "revenue": revenue, "threshold": rules.high_revenue, "window_days": window})
    if revenue >= rules.mid_revenue and count >= rules.high_frequency:
        return ValueTier.HIGH, Reason("tier.frequent_buyer", {
            "revenue": revenue, "purchases": count, "threshold": rules.mid_revenue,
            "min_purchases": rules.high_frequency, "window_days": window})
    if revenue >= rules.mid_revenue:
        return ValueTier.MID, Reason("tier.mid_revenue", {
            "revenue": revenue, "threshold": rules.mid_revenue, "window_days": window})
    if count >= rules.mid_frequency:
        return ValueTier.MID, Reason("tier.mid_frequency", {
            "purchases": count, "min_purchases": rules.mid_frequency, "window_days": window})
    return ValueTier.LOW, Reason("tier.low", {
        "revenue": revenue, "purchases": count, "window_days": window})


def usual_gap_days(purchase_days: Sequence[date], rules: ClassificationRules) -> int:
    """The customer's own rhythm: median days between distinct purchase days.

    Floored at ``min_gap_days`` (two orders on one day must not make the
    customer "at risk" the next morning); ``default_gap_days`` when there
    are fewer than two distinct days to measure.
    """
    days = sorted(set(purchase_days))
    if len(days) < 2:
        return rules.default_gap_days
    gaps = [_days(b, a) for a, b in pairwise(days)]
    return max(rules.min_gap_days, round(median(gaps)))


def last_contact(customer: Customer, interactions: Sequence[Interaction]) -> datetime | None:
    """When the customer was last reached: unanswered calls and deleted entries do not count."""
    moments = [
        i.occurred_at for i in interactions
        if not i.deleted and i.outcome is not Outcome.NO_ANSWER
    ]
    if customer.last_contact_at is not None:
        moments.append(customer.last_contact_at)
    return max(moments, default=None)


def lifecycle_stage(customer: Customer, purchases: Sequence[Purchase],
                    interactions: Sequence[Interaction], now: datetime,
                    rules: ClassificationRules) -> tuple[LifecycleStage, list[Reason]]:
    """The derived lifecycle stage and the reasons for it (see the module docstring)."""
    if not purchases:
        return LifecycleStage.PROSPECT, [Reason("stage.never_purchased")]
    today = now.date()
    purchase_days = [p.purchased_on for p in purchases]
    first, last = min(purchase_days), max(purchase_days)
    contact = last_contact(customer, interactions)
    contact_day = max(last, contact.astimezone(now.tzinfo).date()) if contact else last
    since_purchase = _days(today, last)
    since_contact = _days(today, contact_day)

    if since_contact > rules.churned_days:
        return LifecycleStage.CHURNED, [Reason("stage.inactive", {
            "days": since_contact, "threshold_days": rules.churned_days})]

    gap = usual_gap_days(purchase_days, rules)
    overdue_after = round(rules.at_risk_factor * gap)
    risks: list[Reason] = []
    if since_purchase > overdue_after:
        risks.append(Reason("stage.purchase_overdue", {
            "days": since_purchase, "usual_gap_days": gap, "threshold_days": overdue_after}))
    if since_contact > rules.at_risk_days:
        risks.append(Reason("stage.no_contact", {
            "days": since_contact, "threshold_days": rules.at_risk_days}))
    if risks:
        return LifecycleStage.AT_RISK, risks

    if len(purchases) == 1:
        return LifecycleStage.NEW, [Reason("stage.one_purchase", {
            "days": _days(today, first)})]
    if _days(today, first) <= rules.new_days:
        return LifecycleStage.NEW, [Reason("stage.recent_first_purchase", {
            "days": _days(today, first), "threshold_days": rules.new_days})]
    return LifecycleStage.REPEAT, [Reason("stage.repeat_purchases", {
        "purchases": len(purchases)})]


def classify(customer: Customer, purchases: Sequence[Purchase],
             interactions: Sequence[Interaction], now: datetime,
             rules: ClassificationRules | None = None) -> Classification:
    """Tier and stage for ``customer`` from its purchases and interactions as of ``now``.

    ``now`` must be timezone-aware, in the team's time zone: purchase dates
    are calendar dates, and "today" is ``now.date()``.  Pass only this
    customer's records.  Overrides on the customer win and add a
    ``*.override`` reason after the derived ones.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    rules = rules or ClassificationRules()
    derived_tier, tier_reason = value_tier(purchases, now.date(), rules)
    derived_stage, stage_reasons = lifecycle_stage(customer, purchases, interactions, now, rules)
    reasons = [tier_reason, *stage_reasons]
    tier, stage = derived_tier, derived_stage
    if customer.value_tier_override is not None:
        tier = customer.value_tier_override
        reasons.append(Reason("tier.override", {
            "tier": tier.value, "derived": derived_tier.value if derived_tier else None}))
    if customer.stage_override is not None:
        stage = customer.stage_override
        reasons.append(Reason("stage.override", {
            "stage": stage.value, "derived": derived_stage.value}))
    return Classification(tier=tier, stage=stage, reasons=tuple(reasons),
                          derived_tier=derived_tier, derived_stage=derived_stage)
