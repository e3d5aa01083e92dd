"""Reorder prediction on generated histories with known rhythms and noise."""

from __future__ import annotations

import dataclasses
import random
import statistics
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.reorder_accuracy import evaluate, generate, histories
from bot.domain.models import Purchase
from bot.domain.reorder import (
    ReorderPrediction,
    ReorderRules,
    expected_between,
    predict,
    weighted_median,
)

START = date(2026, 1, 5)
CREATED = datetime(2026, 1, 1, tzinfo=UTC)


def purchase(day: date, amount: str = "100", *, currency: str = "CNY", n: int = 0) -> Purchase:
    return Purchase(
        customer_id="c1",
        owner_id="rep",
        product="tea",
        amount=Decimal(amount),
        currency=currency,
        purchased_on=day,
        created_at=CREATED + timedelta(seconds=n),
    )


def from_gaps(gaps: list[int], amount: str = "100") -> list[Purchase]:
    days = [START]
    for gap in gaps:
        days.append(days[-1] + timedelta(days=gap))
    return [purchase(d, amount, n=i) for i, d in enumerate(days)]


def test_regular_rhythm_is_predicted_exactly_with_a_floor_window() -> None:
    p = predict(from_gaps([30] * 6, "450"))
    assert p is not None
    assert p.interval_days == 30
    assert p.expected_on == START + timedelta(days=30 * 7)
    assert p.last_purchase_on == START + timedelta(days=180)
    # No spread at all: the window is the floor (10 % of 30 = 3 days > 2).
    assert p.tolerance_days == 3
    assert p.expected_amount == Decimal("450.00")
    assert p.currency == "CNY"
    assert p.confidence == pytest.approx(6 / 8)
    assert p.window == (p.expected_on - timedelta(days=3), p.expected_on + timedelta(days=3))


def test_too_short_history_gives_nothing() -> None:
    assert predict([]) is None
    assert predict(from_gaps([])) is None
    assert predict(from_gaps([30])) is None  # one gap is a coincidence
    assert predict(from_gaps([30, 30])) is not None  # three purchases, two gaps


def test_same_day_lines_are_one_occasion() -> None:
    lines = from_gaps([20, 20])
    extra = [purchase(p.purchased_on, "50", n=10 + i) for i, p in enumerate(lines)]
    p = predict(lines + extra)
    assert p is not None
    assert p.occasions == 3
    assert p.interval_days == 20
    assert p.expected_amount == Decimal("150.00")
    # three lines on one day are still one purchase: no prediction from one day
    assert predict([purchase(START, n=i) for i in range(5)]) is None


def test_recent_gaps_weigh_more_than_old_ones() -> None:
    # The customer used to buy every 60 days, lately every 30.
    p = predict(from_gaps([60, 60, 60, 30, 30, 30, 30]))
    assert p is not None
    assert p.interval_days == 30


def test_trending_rhythm_follows_the_recent_gaps() -> None:
    gaps = [20, 22, 24, 26, 28, 30, 32, 34]
    p = predict(from_gaps(gaps))
    assert p is not None
    assert abs(p.interval_days - 34) <= 4  # much nearer the recent gaps than the mean 27
    assert p.interval_days > statistics.mean(gaps)


def test_one_odd_gap_does_not_move_the_rhythm() -> None:
    p = predict(from_gaps([30, 31, 29, 90, 30, 30]))
    assert p is not None
    assert p.interval_days == 30


def test_noisy_rhythm_widens_the_window_and_lowers_confidence() -> None:
    regular = predict(from_gaps([30] * 8))
    noisy = predict(from_gaps([22, 38, 27, 35, 24, 33, 30, 26]))
    assert regular is not None and noisy is not None
    assert noisy.tolerance_days > regular.tolerance_days
    assert noisy.confidence < regular.confidence
    assert 27 <= noisy.interval_days <= 33


def test_irregular_history_has_no_prediction_or_low_confidence() -> None:
    assert predict(from_gaps([3, 90, 10, 120, 5, 60])) is None
    lenient = predict(from_gaps([3, 90, 10, 120, 5, 60]), rules=ReorderRules(min_confidence=0))
    assert lenient is not None and lenient.confidence < 0.2


def test_more_history_more_confidence() -> None:
    short = predict(from_gaps([30, 30]))
    long = predict(from_gaps([30] * 10))
    assert short is not None and long is not None
    assert short.confidence < long.confidence


def test_future_purchases_are_not_history_yet() -> None:
    lines = from_gaps([30, 30, 30])
    today = lines[-2].purchased_on
    p = predict(lines, today=today)
    assert p is not None
    assert p.last_purchase_on == today


def test_amount_in_the_latest_currency_weighted_towards_recent() -> None:
    lines = from_gaps([30, 30, 30], "100")
    lines[-1] = purchase(lines[-1].purchased_on, "200", n=9)
    lines.insert(0, purchase(START - timedelta(days=30), "999", currency="USD", n=99))
    p = predict(lines)
    assert p is not None
    assert p.currency == "CNY"
    # the plain mean of 100, 100, 100, 200 is 125: the newest 200 weighs more
    assert Decimal(125) < p.expected_amount < Decimal(200)  # type: ignore[operator]


def test_lateness_and_reminder_day() -> None:
    p = predict(from_gaps([30] * 4))
    assert p is not None
    assert p.days_late(p.expected_on) == 0
    assert p.days_late(p.latest_on) == 0
    assert p.days_late(p.latest_on + timedelta(days=5)) == 5
    assert p.reminder_on(3) == p.expected_on - timedelta(days=3)


def test_expected_between_is_inclusive_and_sorted() -> None:
    a = predict(from_gaps([30] * 3))
    b = predict(from_gaps([20] * 3))
    assert a is not None and b is not None
    found = expected_between([("a", a), ("b", b)], b.expected_on, a.expected_on)
    assert [key for key, _ in found] == ["b", "a"]
    assert expected_between([("a", a)], a.expected_on + timedelta(days=1), date.max) == []


def test_weighted_median() -> None:
    assert weighted_median([1, 2, 3], [1, 1, 1]) == 2
    assert weighted_median([1, 2], [1, 1]) == 1.5
    assert weighted_median([1, 100], [1, 3]) == 100
    with pytest.raises(ValueError):
        weighted_median([], [])


def test_rules_are_checked() -> None:
    with pytest.raises(ValueError, match="min_purchases"):
        ReorderRules(min_purchases=2)
    with pytest.raises(ValueError, match="remind_days_before"):
        ReorderRules(remind_days_before=-1)
    with pytest.raises(ValueError, match="enabled"):
        ReorderRules(enabled="yes")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("shape", "slack", "share"),
    [("regular", 0.1, 1.0), ("noisy", 0.3, 0.8), ("trending", 0.4, 0.8),
     ("skips", 0.2, 0.8), ("bulk", 0.2, 0.9)],
)
def test_generated_rhythms_are_recovered(shape: str, slack: float, share: float) -> None:
    """The recovered rhythm is near the true one for most customers of each shape
    (trending ones drift away from their start, a late skip can mislead)."""
    rng = random.Random(shape)
    near = 0
    for _ in range(50):
        interval = rng.randint(10, 90)
        history = generate(rng, shape, interval=interval, occasions=12)
        p = predict(history.purchases)
        if shape == "regular":
            assert p is not None
        near += p is not None and abs(p.interval_days - interval) <= max(3, slack * interval)
    assert near >= share * 50


def test_held_out_accuracy_beats_the_naive_baseline() -> None:
    tallies = evaluate(histories(500, seed=3))["all"]
    assert tallies.predicted >= 0.95 * tallies.total
    assert tallies.inside / tallies.predicted >= 0.75
    assert tallies.errors is not None and tallies.baseline_errors is not None
    assert statistics.median(tallies.errors) <= statistics.median(tallies.baseline_errors)
    assert tallies.inside >= tallies.baseline_inside


@settings(max_examples=150, deadline=None)
@given(
    gaps=st.lists(st.integers(min_value=0, max_value=400), min_size=0, max_size=30),
    amounts=st.lists(st.integers(min_value=0, max_value=10**6), min_size=31, max_size=31),
)
def test_properties(gaps: list[int], amounts: list[int]) -> None:
    days = [START]
    for gap in gaps:
        days.append(days[-1] + timedelta(days=gap))
    lines = [purchase(d, str(amounts[i]), n=i) for i, d in enumerate(days)]
    p = predict(lines, rules=ReorderRules(min_confidence=0))
    distinct = len(set(days))
    if distinct < 3:
        assert p is None
        return
    assert isinstance(p, ReorderPrediction)
    assert p.interval_days >= 1
    assert p.expected_on == max(days) + timedelta(days=p.interval_days)
    assert p.tolerance_days >= 2
    assert 0 <= p.confidence < 1
    assert p.expected_amount is not None
    assert min(amounts[: len(days)]) - 1 <= p.expected_amount <= max(amounts[: len(days)]) + 1
    # the rhythm is one of the customer's own gaps, or between two of them
    real_gaps = [b - a for a, b in zip(sorted(set(days)), sorted(set(days))[1:], strict=False)]
    assert min(g.days for g in real_gaps) - 1 <= p.interval_days <= max(g.days for g in real_gaps) + 1
    # order of the input does not matter
    assert predict(list(reversed(lines)), rules=ReorderRules(min_confidence=0)) == p


def test_reports_list_the_reorders_expected_in_the_coming_days() -> None:
    from bot.domain.models import Customer
    from bot.domain.reports.reorders import expected_reorders

    soon, later, archived = (Customer(name=n, owner_id="rep", archived=n == "old") for n in ("soon", "later", "old"))
    today = START + timedelta(days=70)
    histories = {
        soon.id: [dataclasses.replace(p, customer_id=soon.id) for p in from_gaps([30, 30], "300")],  # due day 90
        later.id: [dataclasses.replace(p, customer_id=later.id) for p in from_gaps([35, 35], "100")],  # day 105
        archived.id: [dataclasses.replace(p, customer_id=archived.id) for p in from_gaps([30, 30])],
    }
    coming = expected_reorders([later, soon, archived], histories, today, 30, owner_names={"rep": "Wang"})
    assert [r.name for r in coming.rows] == ["soon"]
    (row,) = coming.rows
    assert row.expected_on == START + timedelta(days=90) and row.owner_name == "Wang"
    assert coming.totals == {"CNY": Decimal("300.00")}
    assert coming.end == today + timedelta(days=30)
    wider = expected_reorders([later, soon], histories, today, 120)
    assert [r.name for r in wider.rows] == ["soon", "later"]
    assert wider.totals == {"CNY": Decimal("400.00")}
    assert expected_reorders([soon], histories, today, 30, ReorderRules(enabled=False)).rows == ()
