"""Churn warning: constructed histories with hand-computed scores and reasons.

Defaults (ChurnRules): cadence high 14 / mid 30 / low 60 / untiered 90 days;
weights no_contact 40, purchase_overdue 30, frequency_falling 20,
open_complaints 30 (full at 2), low_csat 20, nps_detractor 15; threshold 50.
Points = weight × strength, rounded half up, at least 1.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain import churn
from bot.domain.churn import (
    ChurnAssessment,
    ChurnRules,
    Reason,
    ReasonCode,
    score,
)
from bot.domain.models import (
    Customer,
    Feedback,
    FeedbackKind,
    FeedbackStatus,
    Interaction,
    InteractionKind,
    Outcome,
    Purchase,
    ValueTier,
)
from bot.i18n import gettext_for
from bot.labels import churn_reasons

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 3, 15, 10, 0, tzinfo=SHANGHAI)  # 02:00 UTC
TODAY = date(2026, 3, 15)
LONG_AGO = NOW - timedelta(days=400)


def render_reasons(reasons, language: str) -> list[str]:
    """The reasons' sentences, as a reminder or a report renders them (``bot.labels``)."""
    return churn_reasons(reasons, gettext_for(language))


def card(tier: ValueTier | None = None, created: datetime = LONG_AGO, **fields: object) -> Customer:
    return Customer(
        id="c1",
        name="王先生",
        owner_id="rep",
        value_tier=tier,
        created_at=created,
        updated_at=created,
        **fields,  # type: ignore[arg-type]
    )


def call(at: datetime, *, deleted: bool = False, customer_id: str = "c1") -> Interaction:
    return Interaction(
        customer_id=customer_id,
        owner_id="rep",
        kind=InteractionKind.CALL,
        occurred_at=at,
        deleted=deleted,
    )


def bought(days_ago: int, customer_id: str = "c1") -> Purchase:
    return Purchase(
        customer_id=customer_id,
        owner_id="rep",
        product="茶叶",
        amount=Decimal(100),
        currency="CNY",
        purchased_on=TODAY - timedelta(days=days_ago),
    )


def complaint(status: FeedbackStatus = FeedbackStatus.OPEN, **fields: object) -> Feedback:
    return Feedback(
        customer_id="c1",
        owner_id="rep",
        kind=FeedbackKind.COMPLAINT,
        content="送货太慢",
        status=status,
        **fields,  # type: ignore[arg-type]
    )


def rating(
    days_ago: int, *, csat: int | None = None, nps: int | None = None, **fields: object
) -> Feedback:
    at = NOW - timedelta(days=days_ago)
    return Feedback(
        customer_id="c1",
        owner_id="rep",
        kind=FeedbackKind.PRAISE,
        content="回访",
        status=FeedbackStatus.CONFIRMED,
        csat=csat,
        nps=nps,
        created_at=at,
        updated_at=at,
        **fields,  # type: ignore[arg-type]
    )


TODAY_CALL = call(NOW)


def codes(assessment: ChurnAssessment) -> list[str]:
    return [r.code for r in assessment.reasons]


# --- contact recency ---------------------------------------------------------


def test_design_example_no_contact_and_two_open_complaints() -> None:
    feedback = [
        complaint(FeedbackStatus.OPEN),
        complaint(FeedbackStatus.IN_PROGRESS),
        complaint(FeedbackStatus.RESOLVED),  # handled: not open
        complaint(FeedbackStatus.OPEN, deleted=True),
        Feedback(customer_id="c1", owner_id="rep", kind=FeedbackKind.SUGGESTION, content="x"),
        Feedback(customer_id="other", owner_id="rep", kind=FeedbackKind.COMPLAINT, content="x"),
    ]
    result = score(card(ValueTier.HIGH), [], [call(NOW - timedelta(days=47))], feedback, NOW)
    # no contact: (47-14)/14 > 1 → full 40; complaints: 2/2 → full 30.
    assert result == ChurnAssessment(
        score=70,
        at_risk=True,
        reasons=[
            Reason(ReasonCode.NO_CONTACT, {"days": 47, "usual": 14}, 40),
            Reason(ReasonCode.OPEN_COMPLAINTS, {"count": 2}, 30),
        ],
    )
    assert render_reasons(result.reasons, "en") == [
        "no contact for 47 days, usual every 14",
        "2 open complaints",
    ]
    assert render_reasons(result.reasons, "zh") == ["47 天未联系（通常每 14 天）", "2 条投诉未解决"]


def test_logging_a_call_today_drops_no_contact() -> None:
    """The Monica flaw: a logged contact must reset the cadence at once."""
    history = [call(NOW - timedelta(days=47))]
    complaints = [complaint()]
    before = score(card(ValueTier.HIGH), [], history, complaints, NOW)
    assert codes(before) == ["no_contact", "open_complaints"]
    for logged_at in (NOW, NOW - timedelta(hours=2)):
        after = score(card(ValueTier.HIGH), [], [*history, call(logged_at)], complaints, NOW)
        assert codes(after) == ["open_complaints"]
        assert after.score == 15  # one complaint: 30 × 1/2


def test_unanswered_calls_count_unless_switched_off() -> None:
    unanswered = Interaction(
        customer_id="c1",
        owner_id="rep",
        kind=InteractionKind.CALL,
        occurred_at=NOW,
        outcome=Outcome.NO_ANSWER,
    )
    history = [call(NOW - timedelta(days=47)), unanswered]
    assert score(card(ValueTier.HIGH), [], history, [], NOW).reasons == []
    strict = ChurnRules(unanswered_counts_as_contact=False)
    assert codes(score(card(ValueTier.HIGH), [], history, [], NOW, strict)) == ["no_contact"]


def test_a_stale_last_contact_at_on_the_card_is_not_trusted() -> None:
    stale = card(ValueTier.HIGH, last_contact_at=NOW - timedelta(days=100))
    assert score(stale, [], [TODAY_CALL], [], NOW).reasons == []


def test_deleted_future_and_other_customers_interactions_are_ignored() -> None:
    history = [
        call(NOW - timedelta(days=47)),
        call(NOW - timedelta(hours=1), deleted=True),
        call(NOW + timedelta(days=1)),  # a planned meeting logged ahead
        call(NOW, customer_id="someone_else"),
    ]
    result = score(card(ValueTier.HIGH), [], history, [], NOW)
    assert result.reasons == [Reason(ReasonCode.NO_CONTACT, {"days": 47, "usual": 14}, 40)]


def test_no_interactions_at_all_counts_from_card_creation() -> None:
    result = score(card(None, created=NOW - timedelta(days=100)), [], [], [], NOW)
    # untiered cadence 90: (100-90)/90 × 40 = 4.44 → 4
    assert result == ChurnAssessment(
        score=4,
        at_risk=False,
        reasons=[Reason(ReasonCode.NO_CONTACT, {"days": 100, "usual": 90}, 4)],
    )


def test_a_brand_new_customer_created_yesterday_is_not_at_risk() -> None:
    for tier in (ValueTier.HIGH, None):
        result = score(card(tier, created=NOW - timedelta(days=1)), [], [], [], NOW)
        assert result == ChurnAssessment(score=0, at_risk=False, reasons=[])


def test_partial_strength_rounds_half_up_and_is_at_least_one() -> None:
    mid = score(card(ValueTier.MID), [], [call(NOW - timedelta(days=45))], [], NOW)
    assert mid.reasons == [Reason(ReasonCode.NO_CONTACT, {"days": 45, "usual": 30}, 20)]  # 0.5
    rules = ChurnRules(cadence_high_days=16)
    half = score(card(ValueTier.HIGH), [], [call(NOW - timedelta(days=17))], [], NOW, rules)
    assert half.score == 3  # 40 × 1/16 = 2.5 → 3 (not banker's 2)
    barely = score(card(None), [], [call(NOW - timedelta(days=91))], [], NOW)
    assert barely.score == 1  # 40 × 1/90 = 0.44 → at least 1
    on_time = score(card(None), [], [call(NOW - timedelta(days=90))], [], NOW)
    assert on_time.reasons == []


def test_tier_override_sets_the_cadence() -> None:
    overridden = card(ValueTier.LOW, value_tier_override=ValueTier.HIGH)
    result = score(overridden, [], [call(NOW - timedelta(days=20))], [], NOW)
    assert result.reasons[0].params == {"days": 20, "usual": 14}


def test_days_are_local_calendar_days_in_the_time_zone_of_now() -> None:
    # 2026-02-28 17:30 UTC is 1 March 01:30 in Shanghai: 14 local days before NOW.
    late_call = call(datetime(2026, 2, 28, 17, 30, tzinfo=UTC))
    assert score(card(ValueTier.HIGH), [], [late_call], [], NOW).reasons == []
    next_day = score(card(ValueTier.HIGH), [], [late_call], [], NOW + timedelta(days=1))
    assert next_day.reasons == [Reason(ReasonCode.NO_CONTACT, {"days": 15, "usual": 14}, 3)]
    # The same instant passed in UTC counts UTC days (why callers pass business-local now).
    in_utc = score(card(ValueTier.HIGH), [], [late_call], [], NOW.astimezone(UTC))
    assert in_utc.reasons[0].params == {"days": 15, "usual": 14}


def test_purchase_days_are_counted_in_the_local_calendar() -> None:
    # 00:30 on 16 March in Shanghai is still 15 March in UTC.
    just_after_midnight = datetime(2026, 3, 16, 0, 30, tzinfo=SHANGHAI)
    purchases = [bought(days_ago=d) for d in (21, 14, 7)]  # 22 Feb, 1 Mar, 8 Mar: weekly
    contact = [call(just_after_midnight)]
    result = score(card(), purchases, contact, [], just_after_midnight)
    # Local today is 16 March: 8 days since 8 March > 7 → 30 × 1/7 = 4.3 → 4.
    assert result.reasons == [Reason(ReasonCode.PURCHASE_OVERDUE, {"days": 8, "usual": 7}, 4)]
    # Counted on the UTC date (15 March) it would be 7 days: on time.
    utc = just_after_midnight.astimezone(UTC)
    assert score(card(), purchases, contact, [], utc).reasons == []


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        score(card(), [], [], [], datetime(2026, 3, 15, 10, 0))


# --- purchases ---------------------------------------------------------------

# These tests measure the median-gap reasons alone; reorder_overdue has its own tests below.
WITHOUT_REORDER = ChurnRules(weight_reorder_overdue=0)


def test_purchase_overdue_against_the_customers_own_median_gap() -> None:
    # Purchase days 255, 215, 170, 120 days ago: gaps 40, 45, 50 → median 45.
    purchases = [bought(255), bought(215), bought(170), bought(120)]
    result = score(card(), purchases, [TODAY_CALL], [], NOW, WITHOUT_REORDER)
    # overdue: (120-45)/45 > 1 → 30.  Last 90 days: 0 purchase days; the 90
    # before (days 90-179): 170 and 120 → 2; 0 ≤ 2 × 0.5 → falling, (2-0)/2 → 20.
    assert result == ChurnAssessment(
        score=50,
        at_risk=True,
        reasons=[
            Reason(ReasonCode.PURCHASE_OVERDUE, {"days": 120, "usual": 45}, 30),
            Reason(
                ReasonCode.PURCHASE_FREQUENCY_FALLING, {"recent": 0, "before": 2, "days": 90}, 20
            ),
        ],
    )
    assert render_reasons(result.reasons, "en") == [
        "no purchase for 120 days, usual every 45",
        "0 purchases in the last 90 days, 2 in the 90 days before",
    ]
    assert render_reasons(result.reasons, "zh") == [
        "120 天未购买（通常每 45 天）",
        "近 90 天购买 0 次，此前 90 天 2 次",
    ]


def test_purchase_overdue_half_strength() -> None:
    # 350, 250, 150 days ago: gaps 100, 100; (150-100)/100 = 0.5 → 15.  Only one
    # purchase day in days 90-179, so no frequency signal.
    result = score(card(), [bought(350), bought(250), bought(150)], [TODAY_CALL], [], NOW, WITHOUT_REORDER)
    assert result.reasons == [Reason(ReasonCode.PURCHASE_OVERDUE, {"days": 150, "usual": 100}, 15)]


def test_no_purchase_rhythm_without_two_purchase_days() -> None:
    assert score(card(), [bought(400)], [TODAY_CALL], [], NOW).reasons == []
    same_order = [bought(400), bought(400)]  # two lines of one order
    assert score(card(), same_order, [TODAY_CALL], [], NOW).reasons == []
    assert score(card(), [], [TODAY_CALL], [], NOW).reasons == []


def test_median_of_an_even_number_of_gaps_rounds_half_up() -> None:
    # 300, 270, 229 days ago: gaps 30, 41 → median 35.5 → 36.
    result = score(card(), [bought(300), bought(270), bought(229)], [TODAY_CALL], [], NOW, WITHOUT_REORDER)
    assert result.reasons == [Reason(ReasonCode.PURCHASE_OVERDUE, {"days": 229, "usual": 36}, 30)]


def test_a_very_short_rhythm_is_floored_at_a_week() -> None:
    # 20, 18, 15 days ago: gaps 2, 3 → median 2.5 → 3, floored to 7; (15-7)/7 > 1 → 30.
    result = score(card(), [bought(20), bought(18), bought(15)], [TODAY_CALL], [], NOW, WITHOUT_REORDER)
    assert result.reasons == [Reason(ReasonCode.PURCHASE_OVERDUE, {"days": 15, "usual": 7}, 30)]


def test_future_and_other_customers_purchases_are_ignored() -> None:
    purchases = [bought(300), bought(200), bought(-5), bought(1, customer_id="other")]
    result = score(card(), purchases, [TODAY_CALL], [], NOW)
    assert result.reasons == [Reason(ReasonCode.PURCHASE_OVERDUE, {"days": 200, "usual": 100}, 30)]


def test_purchase_frequency_falling_one_against_four() -> None:
    # 10 days ago, and 100/120/140/160: gaps 20, 20, 20, 90 → median 20; last 10 days ago
    # → not overdue.  Recent 1, before 4: 1 ≤ 2 → (4-1)/4 × 20 = 15.
    purchases = [bought(10), bought(100), bought(120), bought(140), bought(160)]
    result = score(card(), purchases, [TODAY_CALL], [], NOW)
    assert result == ChurnAssessment(
        score=15,
        at_risk=False,
        reasons=[
            Reason(
                ReasonCode.PURCHASE_FREQUENCY_FALLING, {"recent": 1, "before": 4, "days": 90}, 15
            )
        ],
    )
    assert render_reasons(result.reasons, "en") == [
        "1 purchase in the last 90 days, 4 in the 90 days before"
    ]


def test_purchase_frequency_needs_a_halving() -> None:
    two = [bought(10), bought(20), bought(100), bought(120), bought(140), bought(160)]
    assert [r.points for r in score(card(), two, [TODAY_CALL], [], NOW).reasons] == [10]
    three = [bought(5), *two]
    assert score(card(), three, [TODAY_CALL], [], NOW).reasons == []


def test_window_boundary_and_switching_a_reason_off() -> None:
    rules = ChurnRules(weight_purchase_overdue=0)
    # 89 days ago is recent; 90 and 100 are "before": 1 vs 2 → 0.5 × 20 = 10.
    result = score(card(), [bought(89), bought(90), bought(100)], [TODAY_CALL], [], NOW, rules)
    assert result.reasons == [
        Reason(ReasonCode.PURCHASE_FREQUENCY_FALLING, {"recent": 1, "before": 2, "days": 90}, 10)
    ]


# --- feedback ----------------------------------------------------------------


def test_low_csat_and_nps_detractor_use_the_latest_rating() -> None:
    feedback = [rating(30, csat=5, nps=9), rating(10, csat=2, nps=4)]
    result = score(card(), [], [TODAY_CALL], feedback, NOW)
    assert result.reasons == [
        Reason(ReasonCode.LOW_CSAT, {"csat": 2}, 20),
        Reason(ReasonCode.NPS_DETRACTOR, {"nps": 4}, 15),
    ]
    assert result.score == 35
    assert render_reasons(result.reasons, "en") == [
        "low satisfaction: CSAT 2/5",
        "NPS 4/10 (detractor)",
    ]
    assert render_reasons(result.reasons, "zh") == ["满意度低：2/5", "NPS 4/10（贬损者）"]
    recovered = [rating(30, csat=1, nps=2), rating(10, csat=4, nps=7)]
    assert score(card(), [], [TODAY_CALL], recovered, NOW).reasons == []


def test_rating_thresholds_window_and_deletion() -> None:
    assert codes(score(card(), [], [TODAY_CALL], [rating(1, nps=6)], NOW)) == ["nps_detractor"]
    assert codes(score(card(), [], [TODAY_CALL], [rating(1, csat=3)], NOW)) == []
    stale = [rating(200, csat=1, nps=0)]  # older than 180 days
    assert score(card(), [], [TODAY_CALL], stale, NOW).reasons == []
    deleted = [rating(1, csat=1, deleted=True)]
    assert score(card(), [], [TODAY_CALL], deleted, NOW).reasons == []
    # Rated on confirmation 10 days ago, on feedback created 200 days ago: counts.
    confirmed = [rating(200, csat=1, confirmed_at=NOW - timedelta(days=10))]
    assert codes(score(card(), [], [TODAY_CALL], confirmed, NOW)) == ["low_csat"]


def test_one_open_complaint_is_half_weight() -> None:
    result = score(card(), [], [TODAY_CALL], [complaint()], NOW)
    assert result.reasons == [Reason(ReasonCode.OPEN_COMPLAINTS, {"count": 1}, 15)]
    assert render_reasons(result.reasons, "en") == ["1 open complaint"]


# --- the whole ---------------------------------------------------------------


def test_everything_at_once_is_capped_at_100_and_ordered_by_points() -> None:
    purchases = [bought(255), bought(215), bought(170), bought(120)]
    feedback = [complaint(), complaint(), rating(5, csat=1, nps=0)]
    result = score(card(ValueTier.HIGH), purchases, [call(NOW - timedelta(days=47))], feedback, NOW, WITHOUT_REORDER)
    # 40 + 30 + 30 + 20 + 20 + 15 = 155 → 100; ties keep the code order.
    assert [(r.code, r.points) for r in result.reasons] == [
        ("no_contact", 40),
        ("purchase_overdue", 30),
        ("open_complaints", 30),
        ("purchase_frequency_falling", 20),
        ("low_csat", 20),
        ("nps_detractor", 15),
    ]
    assert (result.score, result.at_risk) == (100, True)


def test_archived_customers_are_never_at_risk() -> None:
    feedback = [complaint(), complaint(), rating(5, csat=1, nps=0)]
    result = score(card(ValueTier.HIGH, archived=True), [], [], feedback, NOW)
    assert result == ChurnAssessment(score=0, at_risk=False, reasons=[])


def test_threshold_is_configurable() -> None:
    history = [call(NOW - timedelta(days=47))]
    assert not score(card(ValueTier.HIGH), [], history, [], NOW).at_risk  # 40 < 50
    assert score(card(ValueTier.HIGH), [], history, [], NOW, ChurnRules(threshold=40)).at_risk


@pytest.mark.parametrize(
    "bad",
    [
        {"threshold": 0},
        {"threshold": 101},
        {"cadence_high_days": 0},
        {"weight_no_contact": -1},
        {"low_csat_max": 6},
        {"nps_detractor_max": 11},
        {"frequency_falling_ratio": 0},
        {"frequency_falling_ratio": 1.5},
        {"complaints_for_full_weight": 0},
        {"unanswered_counts_as_contact": 1},
    ],
)
def test_rules_are_validated(bad: dict[str, float]) -> None:
    name = next(iter(bad))
    with pytest.raises(ValueError, match=f"churn.{name}"):
        ChurnRules(**bad)  # type: ignore[arg-type]


def test_cadence_per_tier_defaults() -> None:
    rules = ChurnRules()
    assert [
        rules.cadence_days(t) for t in (ValueTier.HIGH, ValueTier.MID, ValueTier.LOW, None)
    ] == [
        14,
        30,
        60,
        90,
    ]


# --- rendering and payloads ----------------------------------------------------


def test_reasons_round_trip_through_a_reminder_payload() -> None:
    reason = Reason(ReasonCode.NO_CONTACT, {"days": 47, "usual": 14}, 40)
    payload = reason.as_dict()
    assert payload == {"code": "no_contact", "params": {"days": 47, "usual": 14}, "points": 40}
    assert Reason.from_dict(payload) == reason
    future = Reason.from_dict({"code": "new_signal", "params": {"x": 1}, "points": 5})
    assert render_reasons([future], "zh") == ["new_signal"]


def test_render_refuses_an_unknown_language() -> None:
    with pytest.raises(ValueError, match="'fr'"):
        render_reasons([], "fr")


# --- properties ---------------------------------------------------------------

day_counts = st.integers(min_value=0, max_value=500)


@settings(max_examples=150, deadline=None)
@given(
    tier=st.sampled_from([ValueTier.HIGH, ValueTier.MID, ValueTier.LOW, None]),
    created_days_ago=st.integers(min_value=0, max_value=1000),
    calls=st.lists(st.tuples(day_counts, st.booleans()), max_size=5),
    purchase_days=st.lists(day_counts, max_size=8),
    open_complaints=st.integers(min_value=0, max_value=3),
    csat=st.none() | st.integers(min_value=1, max_value=5),
    nps=st.none() | st.integers(min_value=0, max_value=10),
)
def test_score_is_the_capped_sum_and_a_call_today_never_hurts(
    tier: ValueTier | None,
    created_days_ago: int,
    calls: list[tuple[int, bool]],
    purchase_days: list[int],
    open_complaints: int,
    csat: int | None,
    nps: int | None,
) -> None:
    customer = card(tier, created=NOW - timedelta(days=created_days_ago))
    interactions = [call(NOW - timedelta(days=d), deleted=gone) for d, gone in calls]
    purchases = [bought(d) for d in purchase_days]
    feedback = [complaint() for _ in range(open_complaints)]
    if csat is not None or nps is not None:
        feedback.append(rating(3, csat=csat, nps=nps))
    result = score(customer, purchases, interactions, feedback, NOW)
    assert 0 <= result.score <= 100
    assert result.score == min(100, sum(r.points for r in result.reasons))
    assert result.at_risk == (result.score >= ChurnRules().threshold)
    assert all(r.points >= 1 for r in result.reasons)
    assert len({r.code for r in result.reasons}) == len(result.reasons)
    assert len(render_reasons(result.reasons, "zh")) == len(result.reasons)
    after_call = score(customer, purchases, [*interactions, TODAY_CALL], feedback, NOW)
    assert "no_contact" not in codes(after_call)
    assert after_call.score <= result.score


# ---- the integer arithmetic (issue 15: the report scores 10 000 customers) is the exact one ----


def _points_by_fractions(weight: int, strength: Fraction) -> int:
    """The rule as first written, with exact fractions."""
    if weight <= 0:
        return 0
    exact = weight * min(Fraction(1), max(Fraction(0), strength))
    return max(1, math.floor(exact + Fraction(1, 2)))


@given(
    weight=st.integers(min_value=0, max_value=100),
    num=st.integers(min_value=-50, max_value=400),
    den=st.integers(min_value=1, max_value=400),
)
def test_points_in_integers_equal_the_exact_fractions(weight: int, num: int, den: int) -> None:
    assert churn._points(weight, num, den) == _points_by_fractions(weight, Fraction(num, den))


@settings(max_examples=300)
@given(
    gaps=st.lists(st.integers(min_value=1, max_value=120), min_size=1, max_size=12),
    minimum=st.integers(min_value=1, max_value=60),
)
def test_the_usual_purchase_gap_is_the_median_rounded_half_up(gaps: list[int], minimum: int) -> None:
    today = date(2026, 6, 1)
    days, day = [], today - timedelta(days=sum(gaps))
    days.append(day)
    for gap in gaps:
        day += timedelta(days=gap)
        days.append(day)
    rules = ChurnRules(min_purchase_gap_days=minimum)
    late = today + timedelta(days=10_000)  # far overdue, so the reason always shows its "usual"
    found = [r for r in churn._purchase_reasons([dataclasses.replace(bought(0), purchased_on=d) for d in days], late, rules) if r is not None]
    expected = max(minimum, math.floor(statistics.median(Fraction(g) for g in gaps) + Fraction(1, 2)))
    assert found and found[0].params["usual"] == expected


# --- reorder overdue (bot.domain.reorder) ------------------------------------


def test_reorder_overdue_is_a_reason_in_words_past_the_window() -> None:
    # Bought every 30 days: 150, 120, 90, 60 days ago → expected 30 days ago, ±3.
    purchases = [bought(150), bought(120), bought(90), bought(60)]
    result = score(card(), purchases, [TODAY_CALL], [], NOW, ChurnRules(weight_purchase_overdue=0))
    reorder = [r for r in result.reasons if r.code == ReasonCode.REORDER_OVERDUE]
    # 30 days past the expected date, 27 past the window's end: 20 × 27/30 = 18.
    assert reorder == [Reason(ReasonCode.REORDER_OVERDUE, {"days": 27, "usual": 30, "tolerance": 3}, 18)]
    from bot import labels
    from bot.i18n import gettext_for
    (text,) = labels.churn_reasons(reorder, gettext_for("en"))
    assert "27 days late" in text and "30" in text
    (zh,) = labels.churn_reasons(reorder, gettext_for("zh"))
    assert "27" in zh and "复购" in zh


def test_no_reorder_reason_inside_the_window_or_when_switched_off() -> None:
    from bot.domain.reorder import ReorderRules
    purchases = [bought(92), bought(62), bought(32), bought(2)]
    assert all(r.code != ReasonCode.REORDER_OVERDUE
               for r in score(card(), purchases, [TODAY_CALL], [], NOW).reasons)
    late = [bought(150), bought(120), bought(90), bought(60)]
    assert all(r.code != ReasonCode.REORDER_OVERDUE
               for r in score(card(), late, [TODAY_CALL], [], NOW, WITHOUT_REORDER).reasons)
    assert all(r.code != ReasonCode.REORDER_OVERDUE
               for r in score(card(), late, [TODAY_CALL], [], NOW,
                              reorder_rules=ReorderRules(enabled=False)).reasons)
