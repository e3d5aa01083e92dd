"""Churn warning: an explainable 0–100 risk score per customer.

DESIGN.md asks for indicators "contact frequency, purchase frequency and
recency against the customer's own rhythm, complaint rate and low
satisfaction", and for a score a rep can read ("no contact for 47 days, usual
every 14; 2 open complaints").  So the score is nothing but the sum of the
points of the reasons it lists — no hidden terms — capped at 100:

=============================  ==========================================  ===============
reason code (params)           fires when                                  points
=============================  ==========================================  ===============
``no_contact``                 days since the last contact > the tier's    weight × min(1,
(days, usual)                  cadence (high 14 / mid 30 / low 60 /         (days−usual)/usual)
                               untiered 90)
``purchase_overdue``           days since the last purchase > the median   weight × min(1,
(days, usual)                  gap between the customer's purchase days     (days−usual)/usual)
                               (needs ≥ 2 purchase days)
``purchase_frequency_falling`` purchase days in the last 90 days ≤ half     weight ×
(recent, before, days)         those in the 90 before (needs ≥ 2 before)    (before−recent)/before
``open_complaints`` (count)    complaints open or in progress              weight × min(1, count/2)
``low_csat`` (csat)            the latest CSAT (last 180 days) ≤ 2         weight
``nps_detractor`` (nps)        the latest NPS (last 180 days) ≤ 6          weight
``reorder_overdue``            today is past the predicted reorder date     weight × min(1,
(days, usual, tolerance)       plus its tolerance (``bot.domain.reorder``;  days/usual)
                               days = past the window's end)
=============================  ==========================================  ===============

Points round half up and are at least 1 when a reason fires; a reason whose
weight is 0 is switched off.  The customer is *at risk* when the score
reaches ``threshold`` (50 by default: e.g. two missed cadences (40) and one
open complaint (15)).  All numbers are :class:`ChurnRules` fields, the keys of
the ``[churn]`` configuration section.

Contact recency is measured from the latest **non-deleted interaction** —
calls, visits, messages, inbound or outbound; unanswered calls too unless
``unanswered_counts_as_contact`` is off — and never from a cached
``Customer.last_contact_at``: logging a contact must reset the clock at once
(Monica users report reminders that keep nagging after they logged the
call), and deleting a mistaken entry must un-reset it.  A customer nobody
has contacted yet is measured from the card's creation, so a new card gets a
full cadence of grace.  Days are whole calendar days in the time zone of
``now`` (pass ``now`` in the business time zone): a call at 01:00 Beijing
time on 1 March was on 1 March, whatever its UTC date.  Purchase dates are
calendar dates in that same zone.

Archived customers are never at risk.  Pure functions: time is passed in.

The reasons are codes and numbers only; their sentences are msgids in
``bot.labels.CHURN_REASONS``, rendered in the reader's language by
``bot.labels.churn_reasons`` (a reminder payload stores ``Reason.as_dict()``).
"""
# In the Chinese method this is 客户流失预警 (customer churn warning).

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from enum import StrEnum
from fractions import Fraction
from itertools import pairwise
from typing import Any

from bot.domain import reorder
from bot.domain.models import (
    Customer,
    Feedback,
    FeedbackKind,
    FeedbackStatus,
    Interaction,
    Outcome,
    Purchase,
    ValueTier,
)


class ReasonCode(StrEnum):
    """Stable reason codes: stored in reminder payloads and used as message keys."""

    NO_CONTACT = "no_contact"
    PURCHASE_OVERDUE = "purchase_overdue"
    PURCHASE_FREQUENCY_FALLING = "purchase_frequency_falling"
    OPEN_COMPLAINTS = "open_complaints"
    LOW_CSAT = "low_csat"
    NPS_DETRACTOR = "nps_detractor"
    REORDER_OVERDUE = "reorder_overdue"


_CODE_ORDER = {code: index for index, code in enumerate(ReasonCode)}


@dataclass(frozen=True)
class ChurnRules:
    """Tunable numbers of the churn score, with the documented defaults.

    This *is* the ``[churn]`` section of the configuration: ``bot.config`` builds
    it once, from ``config.toml`` and the environment, and the services use it.
    """

    # Expected contact cadence (days) per value tier; "untiered" = no tier yet.
    cadence_high_days: int = 14
    cadence_mid_days: int = 30
    cadence_low_days: int = 60
    cadence_untiered_days: int = 90
    # Points a reason is worth at full strength (0 switches the reason off).
    weight_no_contact: int = 40
    weight_purchase_overdue: int = 30
    weight_purchase_frequency_falling: int = 20
    weight_open_complaints: int = 30
    weight_low_csat: int = 20
    weight_nps_detractor: int = 15
    weight_reorder_overdue: int = 20
    # At risk when the score reaches this.
    threshold: int = 50
    # Open complaints reaching full weight (fewer count pro rata).
    complaints_for_full_weight: int = 2
    # CSAT (1-5) at or below this is low; NPS (0-10) at or below this is a detractor.
    low_csat_max: int = 2
    nps_detractor_max: int = 6
    # Only ratings given within this many days count (older ones are stale).
    rating_window_days: int = 180
    # Purchase frequency compares the last N days with the N days before.
    frequency_window_days: int = 90
    # ... and needs at least this many purchase days in the earlier window,
    frequency_min_before: int = 2
    # ... and fires when recent <= before * this ratio.
    frequency_falling_ratio: float = 0.5
    # A purchase rhythm shorter than this is taken as this (same-week re-orders
    # should not make a customer "overdue" after three days).
    min_purchase_gap_days: int = 7
    # Whether a logged attempt that did not reach the customer (outcome
    # "no_answer") resets the contact clock.  True: the rep did their part and
    # is not nagged again; False: only reaching the customer counts (what
    # ``classification.last_contact`` does).
    unanswered_counts_as_contact: bool = True

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "unanswered_counts_as_contact":
                if not isinstance(value, bool):
                    raise ValueError(f"churn.{f.name}: must be true or false")
            elif f.name == "frequency_falling_ratio":
                if not isinstance(value, int | float) or not 0 < value <= 1:
                    raise ValueError(f"churn.{f.name}: must be more than 0 and at most 1")
            elif not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"churn.{f.name}: must be a non-negative integer")
        for name in (
            "cadence_high_days",
            "cadence_mid_days",
            "cadence_low_days",
            "cadence_untiered_days",
            "complaints_for_full_weight",
            "frequency_window_days",
            "frequency_min_before",
            "min_purchase_gap_days",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"churn.{name}: must be at least 1")
        if not 1 <= self.threshold <= 100:
            raise ValueError("churn.threshold: must be 1-100")
        if not 1 <= self.low_csat_max <= 5:
            raise ValueError("churn.low_csat_max: must be 1-5")
        if not 0 <= self.nps_detractor_max <= 10:
            raise ValueError("churn.nps_detractor_max: must be 0-10")

    def cadence_days(self, tier: ValueTier | None) -> int:
        """How often a customer of ``tier`` is expected to be contacted."""
        return {
            ValueTier.HIGH: self.cadence_high_days,
            ValueTier.MID: self.cadence_mid_days,
            ValueTier.LOW: self.cadence_low_days,
            None: self.cadence_untiered_days,
        }[tier]


@dataclass(frozen=True)
class Reason:
    """One signal behind a churn score: a stable ``code``, the numbers to
    render it with (``params``) and the ``points`` it adds to the score."""

    code: str  # a ReasonCode (an unknown one only when read back from a newer version)
    params: Mapping[str, int] = field(hash=False)
    points: int

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, for a reminder payload (rendered later in the recipient's language)."""
        return {"code": str(self.code), "params": dict(self.params), "points": self.points}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Reason:
        code = str(data["code"])
        known = code in ReasonCode.__members__.values()
        return cls(ReasonCode(code) if known else code, dict(data["params"]), int(data["points"]))


@dataclass(frozen=True)
class ChurnAssessment:
    """The score (0–100, the capped sum of the reasons' points), whether it
    reaches the threshold, and the reasons, strongest first."""

    score: int
    at_risk: bool
    reasons: list[Reason] = field(default_factory=list, hash=False)


def score(
    customer: Customer,
    purchases: Iterable[Purchase],
    interactions: Iterable[Interaction],
    feedback: Iterable[Feedback],
    now: datetime,
    rules: ChurnRules | None = None,
    reorder_rules: reorder.ReorderRules | None = None,
) -> ChurnAssessment:
    """Assess ``customer``'s churn risk at ``now`` (timezone-aware, business time zone).

    Pass the customer's history (records of other customers are ignored);
    all of the interactions, or at least the latest ones.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime")
    rules = rules or ChurnRules()
    if customer.archived:
        return ChurnAssessment(score=0, at_risk=False, reasons=[])
    today = now.date()
    own_purchases = [p for p in purchases if p.customer_id == customer.id]
    own_interactions = [i for i in interactions if i.customer_id == customer.id and not i.deleted]
    own_feedback = [f for f in feedback if f.customer_id == customer.id and not f.deleted]

    found: list[Reason | None] = [
        _no_contact(customer, own_interactions, now, rules),
        *_purchase_reasons(own_purchases, today, rules),
        _open_complaints(own_feedback, rules),
        *_rating_reasons(own_feedback, now, rules),
        _reorder_overdue(own_purchases, today, rules, reorder_rules),
    ]
    reasons = sorted(
        (r for r in found if r is not None),
        key=lambda r: (-r.points, _CODE_ORDER.get(r.code, len(_CODE_ORDER))),
    )
    total = min(100, sum(r.points for r in reasons))
    return ChurnAssessment(score=total, at_risk=total >= rules.threshold, reasons=reasons)


def _points(weight: int, num: int, den: int) -> int:
    """``weight × num/den`` (the strength, clamped to 0–1) rounded half up, at least 1.

    Exact integer arithmetic, so that the points are what a person computes by hand
    (40 × 1/16 = 2.5 → 3), never a float artefact: ``floor(w·n/d + 1/2)`` is
    ``(2·w·n + d) // (2·d)``.  0 only when the weight is 0.
    """
    if weight <= 0:
        return 0
    if den <= 0:  # not a strength the rules produce; kept exact all the same
        exact = weight * min(Fraction(1), max(Fraction(0), Fraction(num, den)))
        return max(1, math.floor(exact + Fraction(1, 2)))
    num = min(den, max(0, num))
    return max(1, (2 * weight * num + den) // (2 * den))


def _reason(
    code: ReasonCode, params: dict[str, int], weight: int, num: int, den: int = 1
) -> Reason | None:
    points = _points(weight, num, den)
    return Reason(code, params, points) if points else None


def _local_day(moment: datetime, now: datetime) -> date:
    return moment.astimezone(now.tzinfo).date()


def _no_contact(
    customer: Customer, interactions: list[Interaction], now: datetime, rules: ChurnRules
) -> Reason | None:
    past = [
        i.occurred_at
        for i in interactions
        if i.occurred_at <= now
        and (rules.unanswered_counts_as_contact or i.outcome != Outcome.NO_ANSWER)
    ]
    since = max(past) if past else customer.created_at
    days = (now.date() - _local_day(since, now)).days
    usual = rules.cadence_days(customer.effective_tier)
    if days <= usual:
        return None
    return _reason(
        ReasonCode.NO_CONTACT,
        {"days": days, "usual": usual},
        rules.weight_no_contact,
        days - usual,
        usual,
    )


def _purchase_reasons(
    purchases: list[Purchase], today: date, rules: ChurnRules
) -> list[Reason | None]:
    """Purchase recency against the customer's own rhythm, and a falling frequency.

    Both count purchase *days*: the lines of one order (same customer, same
    day) are one purchase occasion.
    """
    days = sorted({p.purchased_on for p in purchases if p.purchased_on <= today})
    reasons: list[Reason | None] = []
    if len(days) >= 2:
        gaps = sorted((later - earlier).days for earlier, later in pairwise(days))
        # the median gap rounded half up: x.5 for an even count, so (a + b + 1) // 2
        half = len(gaps) // 2
        median = gaps[half] if len(gaps) % 2 else (gaps[half - 1] + gaps[half] + 1) // 2
        usual = max(rules.min_purchase_gap_days, median)
        since = (today - days[-1]).days
        if since > usual:
            reasons.append(
                _reason(
                    ReasonCode.PURCHASE_OVERDUE,
                    {"days": since, "usual": usual},
                    rules.weight_purchase_overdue,
                    since - usual,
                    usual,
                )
            )
    window = rules.frequency_window_days
    ages = [(today - d).days for d in days]
    recent = sum(1 for age in ages if age < window)
    before = sum(1 for age in ages if window <= age < 2 * window)
    if before >= rules.frequency_min_before and recent <= before * rules.frequency_falling_ratio:
        reasons.append(
            _reason(
                ReasonCode.PURCHASE_FREQUENCY_FALLING,
                {"recent": recent, "before": before, "days": window},
                rules.weight_purchase_frequency_falling,
                before - recent,
                before,
            )
        )
    return reasons


def _open_complaints(feedback: list[Feedback], rules: ChurnRules) -> Reason | None:
    count = sum(
        1
        for f in feedback
        if f.kind == FeedbackKind.COMPLAINT
        and f.status in (FeedbackStatus.OPEN, FeedbackStatus.IN_PROGRESS)
    )
    if not count:
        return None
    return _reason(
        ReasonCode.OPEN_COMPLAINTS,
        {"count": count},
        rules.weight_open_complaints,
        count,
        rules.complaints_for_full_weight,
    )


def _rated_at(f: Feedback) -> datetime:
    """When the rating was given: CSAT/NPS are usually asked on confirmation or resolution."""
    return f.confirmed_at or f.resolved_at or f.created_at


def _rating_reasons(
    feedback: list[Feedback], now: datetime, rules: ChurnRules
) -> list[Reason | None]:
    """The *latest* rating decides: a good score after a bad one clears the signal."""
    recent = [f for f in feedback if 0 <= (now - _rated_at(f)).days < rules.rating_window_days]
    recent.sort(key=_rated_at)
    reasons: list[Reason | None] = []
    csat = [f.csat for f in recent if f.csat is not None]
    if csat and csat[-1] <= rules.low_csat_max:
        reasons.append(
            _reason(ReasonCode.LOW_CSAT, {"csat": csat[-1]}, rules.weight_low_csat, 1)
        )
    nps = [f.nps for f in recent if f.nps is not None]
    if nps and nps[-1] <= rules.nps_detractor_max:
        reasons.append(
            _reason(
                ReasonCode.NPS_DETRACTOR, {"nps": nps[-1]}, rules.weight_nps_detractor, 1
            )
        )
    return reasons


def _reorder_overdue(
    purchases: list[Purchase],
    today: date,
    rules: ChurnRules,
    reorder_rules: reorder.ReorderRules | None,
) -> Reason | None:
    """Past the predicted reorder date plus its tolerance: strength = days past
    the window's end / the usual interval."""
    reorder_rules = reorder_rules or reorder.ReorderRules()
    if not reorder_rules.enabled or rules.weight_reorder_overdue <= 0:
        return None
    prediction = reorder.predict(purchases, today=today, rules=reorder_rules)
    if prediction is None:
        return None
    late = prediction.days_late(today)
    if late <= 0:
        return None
    return _reason(
        ReasonCode.REORDER_OVERDUE,
        {"days": late, "usual": prediction.interval_days, "tolerance": prediction.tolerance_days},
        rules.weight_reorder_overdue,
        late,
        prediction.interval_days,
    )
