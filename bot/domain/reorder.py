"""Reorder prediction (需求预测): when is this customer's next purchase due?

From the customer's *own* purchase history only — no model, no other
customers — so a rep can check it by hand on the card:

* **Occasions.** Purchase lines of one day are one occasion (one order with
  three products is one purchase); the occasion's amount is the sum of its
  lines in the currency of the latest purchase.
* **Interval.** The gaps in days between consecutive occasions, weighted
  towards recent ones: gap *i* (0 = oldest) of *n* weighs
  ``0.5 ** ((n-1-i) / half_life_gaps)``.  The usual interval is the
  **weighted median** of the gaps — robust to one odd gap (a holiday order) —
  and follows a rhythm that slowly speeds up or slows down, because the
  recent gaps weigh most.
* **Minimum history.** At least ``min_purchases`` occasions (3 = 2 gaps):
  one gap is a coincidence, not a rhythm.
* **Tolerance.** ``±`` the weighted median absolute deviation of the gaps
  (scaled by 1.4826 to estimate a standard deviation) times
  ``tolerance_factor``, at least ``tolerance_floor_days`` and at least
  ``tolerance_floor_ratio`` of the interval: a perfectly regular buyer still
  gets a window of a few days.
* **Confidence** 0–1 = regularity × history: regularity is
  ``1 - min(1, spread / interval)`` (the coefficient of variation from the
  MAD), history grows with the number of gaps (``gaps / (gaps + 2)``: 2 gaps
  0.5, 6 gaps 0.75, 18 gaps 0.9).  Below ``min_confidence`` the history is
  too irregular to predict anything and :func:`predict` returns ``None``.
* **Expected amount:** the weighted mean of the occasions' amounts, same
  recency weights (by occasion).

Pure functions over plain data: ``today`` is passed in, purchases after it
are ignored (a purchase dated in the future is not history yet).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from itertools import pairwise

from bot.domain.models import Purchase

_MAD_TO_SD = 1.4826
_CENTS = Decimal("0.01")


@dataclass(frozen=True)
class ReorderRules:
    """The tunable numbers, the ``[reorder]`` configuration section."""

    # Whether predictions are shown, reminded and used at all.
    enabled: bool = True
    # Days before the expected date the owner is reminded (0 = on the day).
    remind_days_before: int = 3
    # Fewest purchase occasions (days) for a prediction.
    min_purchases: int = 3
    # Recency weighting: a gap half_life_gaps gaps older weighs half as much.
    half_life_gaps: float = 3.0
    # The window is ± tolerance_factor × the spread (an SD estimate) ...
    tolerance_factor: float = 1.5
    # ... at least this many days ...
    tolerance_floor_days: int = 2
    # ... and at least this share of the interval.
    tolerance_floor_ratio: float = 0.1
    # Below this confidence (0-1) no prediction is made.
    min_confidence: float = 0.2
    # Only the latest N occasions are used (old habits fade).
    max_history: int = 24
    # Reports list the reorders expected in the next N days.
    report_days: int = 30

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "enabled":
                if not isinstance(value, bool):
                    raise ValueError("reorder.enabled: must be true or false")
            elif f.type in ("float", float):
                if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
                    raise ValueError(f"reorder.{f.name}: must be a non-negative number")
            elif not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"reorder.{f.name}: must be a non-negative integer")
        if self.min_purchases < 3:
            raise ValueError("reorder.min_purchases: must be at least 3 (two intervals)")
        if self.max_history < self.min_purchases:
            raise ValueError("reorder.max_history: must be at least min_purchases")
        if self.half_life_gaps <= 0:
            raise ValueError("reorder.half_life_gaps: must be more than 0")
        if self.min_confidence > 1 or self.tolerance_floor_ratio > 1:
            raise ValueError("reorder.min_confidence and tolerance_floor_ratio: at most 1")
        if self.remind_days_before > 365:
            raise ValueError("reorder.remind_days_before: at most 365")


@dataclass(frozen=True)
class ReorderPrediction:
    """The customer usually reorders every ``interval_days``; the next purchase is
    expected on ``expected_on`` ± ``tolerance_days``, for about ``expected_amount``
    (in ``currency``); ``confidence`` 0–1."""

    interval_days: int
    expected_on: date
    tolerance_days: int
    confidence: float
    expected_amount: Decimal | None
    currency: str | None
    last_purchase_on: date
    occasions: int
    last_product: str | None = None  # what the latest purchase was (for the draft message)

    @property
    def window(self) -> tuple[date, date]:
        """The first and last day of the predicted window."""
        delta = timedelta(days=self.tolerance_days)
        return self.expected_on - delta, self.expected_on + delta

    @property
    def latest_on(self) -> date:
        """The last day still inside the window: after it the customer is late."""
        return self.expected_on + timedelta(days=self.tolerance_days)

    def days_late(self, today: date) -> int:
        """Days past the end of the window (0 while inside or before it)."""
        return max(0, (today - self.latest_on).days)

    def reminder_on(self, days_before: int) -> date:
        return self.expected_on - timedelta(days=days_before)

    @property
    def confidence_percent(self) -> int:
        return int(self.confidence * 100 + 0.5)


def weights(count: int, half_life: float) -> list[float]:
    """Recency weights, oldest first: the newest weighs 1, ``half_life`` older 0.5."""
    return [0.5 ** ((count - 1 - i) / half_life) for i in range(count)]


def weighted_median(values: Sequence[float], weights_: Sequence[float]) -> float:
    """The value where the cumulated weight (values sorted) first reaches half;
    the midpoint of two values when it lands exactly on half."""
    pairs = sorted(zip(values, weights_, strict=True))
    total = sum(w for _, w in pairs)
    if not pairs or total <= 0:
        raise ValueError("weighted_median needs values with a positive total weight")
    half = total / 2
    running = 0.0
    for index, (value, weight) in enumerate(pairs):
        running += weight
        if math.isclose(running, half, rel_tol=1e-12) and index + 1 < len(pairs):
            return (value + pairs[index + 1][0]) / 2
        if running > half:
            return value
    return pairs[-1][0]


@dataclass(frozen=True)
class _Occasion:
    day: date
    amount: Decimal | None


def _occasions(purchases: Iterable[Purchase], today: date | None) -> list[_Occasion]:
    lines = [p for p in purchases if today is None or p.purchased_on <= today]
    if not lines:
        return []
    latest = max(lines, key=lambda p: (p.purchased_on, p.created_at))
    currency = latest.currency
    totals: dict[date, Decimal | None] = {}
    for p in lines:
        totals.setdefault(p.purchased_on, None)
        if p.currency == currency:
            totals[p.purchased_on] = (totals[p.purchased_on] or Decimal(0)) + p.amount
    return [_Occasion(day, totals[day]) for day in sorted(totals)]


def predict(
    purchases: Iterable[Purchase],
    *,
    today: date | None = None,
    rules: ReorderRules | None = None,
) -> ReorderPrediction | None:
    """The next purchase of the customer whose purchase lines are ``purchases``.

    ``None`` when the history is too short (fewer than ``rules.min_purchases``
    purchase days) or too irregular (confidence below ``rules.min_confidence``).
    Pass one customer's purchases; ``today`` ignores later-dated ones.
    """
    rules = rules or ReorderRules()
    purchases = list(purchases)
    occasions = _occasions(purchases, today)[-rules.max_history:]
    if len(occasions) < rules.min_purchases:
        return None
    gaps = [float((b.day - a.day).days) for a, b in pairwise(occasions)]
    gap_weights = weights(len(gaps), rules.half_life_gaps)
    interval = weighted_median(gaps, gap_weights)
    deviations = [abs(g - interval) for g in gaps]
    # The weighted MAD alone is 0 for two gaps (the newer one outweighs the
    # older, so the median *is* the newer gap): for short histories the plain
    # MAD around the plain median (half their difference for two gaps) is a floor.
    plain_median = weighted_median(gaps, [1.0] * len(gaps))
    plain_mad = weighted_median([abs(g - plain_median) for g in gaps], [1.0] * len(gaps))
    mad = weighted_median(deviations, gap_weights)
    if len(gaps) <= 3:
        mad = max(mad, plain_mad)
    spread = _MAD_TO_SD * mad
    interval_days = max(1, round(interval))
    tolerance = max(
        float(rules.tolerance_floor_days),
        rules.tolerance_floor_ratio * interval_days,
        rules.tolerance_factor * spread,
    )
    tolerance_days = math.ceil(tolerance - 1e-9)
    regularity = 1.0 - min(1.0, spread / max(interval, 1.0))
    history = len(gaps) / (len(gaps) + 2)
    confidence = round(regularity * history, 4)
    if confidence < rules.min_confidence:
        return None
    last = occasions[-1].day
    amounts = [(o.amount, w) for o, w in zip(
        occasions, weights(len(occasions), rules.half_life_gaps), strict=True
    ) if o.amount is not None]
    expected_amount: Decimal | None = None
    if amounts:
        total_weight = sum(w for _, w in amounts)
        mean = sum(float(a) * w for a, w in amounts) / total_weight
        expected_amount = Decimal(repr(mean)).quantize(_CENTS, rounding=ROUND_HALF_UP)
    latest = max(
        (p for p in purchases if today is None or p.purchased_on <= today),
        key=lambda p: (p.purchased_on, p.created_at),
    )
    currency = latest.currency if expected_amount is not None else None
    return ReorderPrediction(
        interval_days=interval_days,
        expected_on=last + timedelta(days=interval_days),
        tolerance_days=tolerance_days,
        confidence=confidence,
        expected_amount=expected_amount,
        currency=currency,
        last_purchase_on=last,
        occasions=len(occasions),
        last_product=latest.product,
    )


def expected_between(
    predictions: Iterable[tuple[str, ReorderPrediction]], start: date, end: date
) -> list[tuple[str, ReorderPrediction]]:
    """The ``(key, prediction)`` pairs whose expected date falls in ``start..end``
    (inclusive), soonest first."""
    found = [(key, p) for key, p in predictions if start <= p.expected_on <= end]
    found.sort(key=lambda item: (item[1].expected_on, item[0]))
    return found
