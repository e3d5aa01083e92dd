from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from bot.domain.classification import (
    Classification,
    ClassificationRules,
    Reason,
    classify,
    last_contact,
    usual_gap_days,
    value_tier,
)
from bot.domain.models import (
    Customer,
    Interaction,
    InteractionKind,
    LifecycleStage,
    Outcome,
    Purchase,
    ValueTier,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI)
TODAY = NOW.date()
RULES = ClassificationRules()


def customer(**overrides: object) -> Customer:
    return Customer(id="c1", name="张伟", owner_id="rep1", **overrides)  # type: ignore[arg-type]


def bought(days_ago: int, amount: int | str = 1000) -> Purchase:
    return Purchase(customer_id="c1", owner_id="rep1", product="茶叶", amount=Decimal(amount),
                    currency="CNY", purchased_on=TODAY - timedelta(days=days_ago))


def contacted(days_ago: int, outcome: Outcome | None = Outcome.REACHED,
              deleted: bool = False) -> Interaction:
    return Interaction(customer_id="c1", owner_id="rep1", kind=InteractionKind.CALL,
                       occurred_at=NOW - timedelta(days=days_ago), outcome=outcome,
                       deleted=deleted)


def codes(result: Classification) -> list[str]:
    return [r.code for r in result.reasons]


# ----------------------------------------------------------------- value tier


@pytest.mark.parametrize(
    ("purchases", "tier", "reason"),
    [
        ([], None, Reason("tier.no_purchases")),
        ([bought(10, 120_000)], ValueTier.HIGH,
         Reason("tier.high_revenue", {"revenue": Decimal(120_000),
                                      "threshold": Decimal(100_000), "window_days": 365})),
        ([bought(d, 5_000) for d in (10, 40, 70, 100, 130, 160)], ValueTier.HIGH,
         Reason("tier.frequent_buyer", {"revenue": Decimal(30_000), "purchases": 6,
                                        "threshold": Decimal(20_000), "min_purchases": 6,
                                        "window_days": 365})),
        ([bought(10, 15_000), bought(50, 15_000)], ValueTier.MID,
         Reason("tier.mid_revenue", {"revenue": Decimal(30_000), "threshold": Decimal(20_000),
                                     "window_days": 365})),
        ([bought(d, 1_000) for d in (10, 40, 70)], ValueTier.MID,
         Reason("tier.mid_frequency", {"purchases": 3, "min_purchases": 3, "window_days": 365})),
        ([bought(10, 500)], ValueTier.LOW,
         Reason("tier.low", {"revenue": Decimal(500), "purchases": 1, "window_days": 365})),
        # big spender, but more than a year ago: the tier looks at the trailing 12 months
        ([bought(400, 500_000)], ValueTier.LOW,
         Reason("tier.low", {"revenue": Decimal(0), "purchases": 0, "window_days": 365})),
    ],
)
def test_value_tier(purchases: list[Purchase], tier: ValueTier | None, reason: Reason) -> None:
    assert value_tier(purchases, TODAY, RULES) == (tier, reason)


def test_window_boundary() -> None:
    assert value_tier([bought(364, 100_000)], TODAY, RULES)[0] is ValueTier.HIGH
    assert value_tier([bought(365, 100_000)], TODAY, RULES)[0] is ValueTier.LOW
    # a purchase dated in the future (a typo) does not count as revenue yet
    assert value_tier([bought(-5, 100_000)], TODAY, RULES)[0] is ValueTier.LOW


def test_thresholds_are_inclusive_and_configurable() -> None:
    assert value_tier([bought(1, 100_000)], TODAY, RULES)[0] is ValueTier.HIGH
    assert value_tier([bought(1, 20_000)], TODAY, RULES)[0] is ValueTier.MID
    assert value_tier([bought(1, "19999.99")], TODAY, RULES)[0] is ValueTier.LOW
    small_shop = ClassificationRules(high_revenue=Decimal(5000), mid_revenue=Decimal(1000),
                                     high_frequency=4, mid_frequency=2)
    assert value_tier([bought(1, 6000)], TODAY, small_shop)[0] is ValueTier.HIGH
    assert value_tier([bought(1, 600), bought(2, 600)], TODAY, small_shop)[0] is ValueTier.MID


@pytest.mark.parametrize(
    "kwargs",
    [
        {"mid_revenue": Decimal(200_000)},
        {"mid_frequency": 10},
        {"at_risk_days": 0},
        {"at_risk_days": 400},
        {"at_risk_factor": 0},
        {"window_days": 0},
        {"min_gap_days": 0},
    ],
)
def test_inconsistent_rules_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        ClassificationRules(**kwargs)  # type: ignore[arg-type]


# ------------------------------------------------------------ lifecycle stage


@pytest.mark.parametrize(
    ("purchases", "interactions", "stage", "reasons"),
    [
        ([], [], LifecycleStage.PROSPECT, [Reason("stage.never_purchased")]),
        # a prospect untouched for a year is still a prospect, not "churned"
        ([], [contacted(400)], LifecycleStage.PROSPECT, [Reason("stage.never_purchased")]),
        ([bought(10)], [], LifecycleStage.NEW, [Reason("stage.one_purchase", {"days": 10})]),
        ([bought(20), bought(5)], [], LifecycleStage.NEW,
         [Reason("stage.recent_first_purchase", {"days": 20, "threshold_days": 30})]),
        ([bought(100), bought(70), bought(40), bought(10)], [], LifecycleStage.REPEAT,
         [Reason("stage.repeat_purchases", {"purchases": 4})]),
        # bought every 30 days, now 70 days without: overdue (2 × 30 = 60), though called lately
        ([bought(160), bought(130), bought(100), bought(70)], [contacted(5)],
         LifecycleStage.AT_RISK,
         [Reason("stage.purchase_overdue",
                 {"days": 70, "usual_gap_days": 30, "threshold_days": 60})]),
        # one purchase 65 days ago, never contacted since: no contact for > 60 days
        ([bought(65)], [], LifecycleStage.AT_RISK,
         [Reason("stage.no_contact", {"days": 65, "threshold_days": 60})]),
        # both signals at once
        ([bought(160), bought(130), bought(100), bought(70)], [], LifecycleStage.AT_RISK,
         [Reason("stage.purchase_overdue",
                 {"days": 70, "usual_gap_days": 30, "threshold_days": 60}),
          Reason("stage.no_contact", {"days": 70, "threshold_days": 60})]),
        # no purchase for 200 days and no contact for 190: churned
        ([bought(300), bought(200)], [contacted(190)], LifecycleStage.CHURNED,
         [Reason("stage.inactive", {"days": 190, "threshold_days": 180})]),
        ([bought(181)], [], LifecycleStage.CHURNED,
         [Reason("stage.inactive", {"days": 181, "threshold_days": 180})]),
        # 180 days exactly is not yet "more than 180"
        ([bought(180)], [], LifecycleStage.AT_RISK,
         [Reason("stage.no_contact", {"days": 180, "threshold_days": 60})]),
    ],
)
def test_lifecycle_stage(purchases: list[Purchase], interactions: list[Interaction],
                         stage: LifecycleStage, reasons: list[Reason]) -> None:
    result = classify(customer(), purchases, interactions, NOW)
    assert result.stage is stage
    assert list(result.reasons[1:]) == reasons
    assert result.derived_stage is stage


def test_unanswered_and_deleted_interactions_are_not_contact() -> None:
    purchases = [bought(65)]
    for attempts in ([contacted(2, Outcome.NO_ANSWER)], [contacted(2, deleted=True)]):
        assert classify(customer(), purchases, attempts, NOW).stage is LifecycleStage.AT_RISK
    for reached in ([contacted(2)], [contacted(2, outcome=None)],
                    [contacted(2, Outcome.NOT_INTERESTED)]):
        assert classify(customer(), purchases, reached, NOW).stage is LifecycleStage.NEW


def test_last_contact_at_on_the_card_counts() -> None:
    card = customer(last_contact_at=NOW - timedelta(days=3))
    assert classify(card, [bought(65)], [], NOW).stage is LifecycleStage.NEW
    assert last_contact(card, [contacted(10), contacted(1, Outcome.NO_ANSWER)]) == (
        NOW - timedelta(days=3))
    assert last_contact(customer(), []) is None


def test_contact_days_count_in_the_teams_time_zone() -> None:
    # 23:30 UTC on 31 Dec is already 1 Jan in Shanghai: 60 days before NOW, not 61,
    # so "no contact for more than 60 days" does not apply yet
    late_call = Interaction(customer_id="c1", owner_id="rep1", kind=InteractionKind.CALL,
                            occurred_at=datetime(2025, 12, 31, 23, 30, tzinfo=ZoneInfo("UTC")))
    assert (TODAY - date(2026, 1, 1)).days == 60
    result = classify(customer(), [bought(200)], [late_call], NOW)
    assert result.stage is LifecycleStage.AT_RISK
    assert codes(result) == ["tier.low", "stage.purchase_overdue"]


@pytest.mark.parametrize(
    ("days", "expected"),
    [
        ([], 90),
        ([TODAY], 90),
        ([TODAY, TODAY], 90),  # one distinct day: no rhythm to measure
        ([date(2026, 1, 1), date(2026, 1, 3)], 14),  # 2-day gap floored at 14
        ([date(2026, 1, 1), date(2026, 1, 11), date(2026, 1, 31), date(2026, 4, 1)], 20),
        ([date(2026, 1, 1), date(2026, 2, 1), date(2026, 4, 1)], 45),  # median of 31 and 59
    ],
)
def test_usual_gap_days(days: list[date], expected: int) -> None:
    assert usual_gap_days(days, RULES) == expected


def test_tiny_gaps_do_not_make_a_customer_at_risk_overnight() -> None:
    # bought twice in five days, last one 20 days ago: usual gap floored to 14, overdue after 28
    assert classify(customer(), [bought(25), bought(20)], [], NOW).stage is LifecycleStage.NEW
    result = classify(customer(), [bought(50), bought(45)], [contacted(1)], NOW)
    assert result.stage is LifecycleStage.AT_RISK
    assert result.reasons[1] == Reason("stage.purchase_overdue",
                                       {"days": 45, "usual_gap_days": 14, "threshold_days": 28})


# ------------------------------------------------------------------ overrides


def test_overrides_win_and_are_explained() -> None:
    card = customer(value_tier_override=ValueTier.HIGH, stage_override=LifecycleStage.REPEAT)
    result = classify(card, [bought(10, 500)], [], NOW)
    assert (result.tier, result.stage) == (ValueTier.HIGH, LifecycleStage.REPEAT)
    assert (result.derived_tier, result.derived_stage) == (ValueTier.LOW, LifecycleStage.NEW)
    assert codes(result) == ["tier.low", "stage.one_purchase", "tier.override", "stage.override"]
    assert result.reasons[2].params == {"tier": "high", "derived": "low"}
    assert result.reasons[3].params == {"stage": "repeat", "derived": "new"}


def test_override_of_a_prospects_tier() -> None:
    result = classify(customer(value_tier_override=ValueTier.MID), [], [], NOW)
    assert result.tier is ValueTier.MID and result.derived_tier is None
    assert result.reasons[-1] == Reason("tier.override", {"tier": "mid", "derived": None})


def test_classify_uses_the_given_rules() -> None:
    patient = ClassificationRules(at_risk_days=100, churned_days=400, default_gap_days=200)
    assert classify(customer(), [bought(65)], [], NOW, patient).stage is LifecycleStage.NEW
    assert classify(customer(), [bought(65)], [], NOW).stage is LifecycleStage.AT_RISK


def test_classify_needs_an_aware_now() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        classify(customer(), [], [], datetime(2026, 3, 2, 9))


def test_full_example() -> None:
    """A real-looking history, checked by hand.

    Purchases 300, 240, 180, 120 and 60 days ago of ¥25,000 each: the trailing
    year holds all five (¥125,000 ≥ ¥100,000 → high).  Usual gap 60 days,
    overdue after 120; last purchase 60 days ago, last call 10 days ago → not
    at risk; five purchases, first 300 days ago → repeat.
    """
    purchases = [bought(d, 25_000) for d in (300, 240, 180, 120, 60)]
    result = classify(customer(), purchases, [contacted(10), contacted(3, Outcome.NO_ANSWER)],
                      NOW)
    assert (result.tier, result.stage) == (ValueTier.HIGH, LifecycleStage.REPEAT)
    assert codes(result) == ["tier.high_revenue", "stage.repeat_purchases"]
