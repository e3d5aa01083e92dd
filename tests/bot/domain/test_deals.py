"""Deals as plain rules: the pipeline from config, quick entry, close dates, stage moves, weighted
totals, stuck and overdue deals, the report's pipeline figures."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from bot.config import Config, DealsConfig
from bot.domain import deals as rules
from bot.domain.models import Deal, ModelError
from bot.domain.reports.pipeline import pipeline_figures
from bot.domain.validation import ValidationError

PIPELINE = Config().deals.pipeline
NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # Monday 09:00 in Shanghai
TZ = ZoneInfo("Asia/Shanghai")
TODAY = date(2026, 3, 2)


def deal(stage: str = "proposal", amount: str = "50000", **fields: object) -> Deal:
    found = PIPELINE.stage(stage)
    assert found is not None
    values: dict[str, object] = {
        "customer_id": "c1", "owner_id": "rep", "team": "east", "title": "CRM Pro", "amount": Decimal(amount),
        "currency": "CNY", "stage": stage, "probability": found.probability, "open": stage not in ("won", "lost"),
        "created_at": NOW - timedelta(days=10), "updated_at": NOW, "stage_changed_at": NOW - timedelta(days=3),
    }
    values.update(fields)
    return Deal(**values)  # type: ignore[arg-type]


def test_the_default_pipeline() -> None:
    assert [(s.zh, s.en, s.probability) for s in PIPELINE.stages] == [
        ("初步接洽", "Prospecting", 10), ("需求确认", "Qualification", 30), ("方案报价", "Proposal", 60),
        ("商务谈判", "Negotiation", 80), ("赢单", "Won", 100), ("输单", "Lost", 0)]
    assert PIPELINE.match("报价").code == "proposal"
    assert PIPELINE.match("Quote").code == "proposal"
    assert PIPELINE.match("商务谈判").code == "negotiation"
    assert PIPELINE.match("赢单").code == "won"
    assert PIPELINE.match("maybe") is None
    assert PIPELINE.lost_reason(1, "en") == "Chose a competitor"
    assert PIPELINE.lost_reason(1, "zh") == "选择了竞争对手"
    assert PIPELINE.lost_reason(99, "en") is None


@pytest.mark.parametrize(("changes", "message"), [
    ({"probabilities": [10, 30, 60]}, "one entry per stage"),
    ({"names": ["a", "b|B", "c|C", "d|D"]}, "中文|English"),
    ({"stages": ["won", "b", "c", "d"], "aliases": []}, "not won or lost"),
    ({"probabilities": [10, 30, 60, 180]}, "0-100"),
    ({"aliases": ["nosuch=x"]}, "aliases"),
    ({"lost_reasons": []}, "lost_reasons"),
])
def test_a_bad_pipeline_is_refused(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DealsConfig(**changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(("text", "title", "amount", "stage", "close"), [
    ("CRM Pro 5万 报价 下月底", "CRM Pro", "50000", "proposal", date(2026, 4, 30)),
    ("CRM Pro 50k quote end of next month", "CRM Pro", "50000", "proposal", date(2026, 4, 30)),
    ("CRM Pro 5w", "CRM Pro", "50000", "prospecting", None),
    ("Tea 8000 negotiation next Friday", "Tea", "8000", "negotiation", date(2026, 3, 6)),
    ("年度服务 ¥3000 2026-06-30 需求", "年度服务", "3000", "qualification", date(2026, 6, 30)),
    ("Renewal 1.2万 季度末", "Renewal", "12000", "prospecting", date(2026, 3, 31)),
])
def test_quick_entry(text: str, title: str, amount: str, stage: str, close: date | None) -> None:
    parsed = rules.parse_quick_deal(text, PIPELINE, now=NOW, tz=TZ)
    assert (parsed.title, parsed.amount, parsed.stage, parsed.expected_close_on) == (
        title, Decimal(amount), stage, close)


def test_quick_entry_keeps_a_typed_currency() -> None:
    assert rules.parse_quick_deal("Licence $8000", PIPELINE, now=NOW, tz=TZ).currency == "USD"


@pytest.mark.parametrize(("text", "code"), [
    ("CRM -5", "amount.negative"),
    ("CRM 1e308", "amount.not_a_number"),
    ("CRM 五万五", "amount.not_a_number"),
    ("CRM 1000000000000000", "amount.too_large"),
    ("CRM Pro", "deal.no_amount"),
    ("", "deal.no_amount"),
    ("CRM 5万 whenever-ish", "date.unrecognised"),
    ("CRM 5万 2026-02-30", "date.invalid"),
    ("CRM 5万 2040-01-01", "date.too_far"),
])
def test_bad_quick_entry_says_why(text: str, code: str) -> None:
    with pytest.raises(ValidationError) as refused:
        rules.parse_quick_deal(text, PIPELINE, now=NOW, tz=TZ)
    assert refused.value.reason_code == code


def test_a_close_date_in_the_past_is_returned_for_the_caller_to_confirm() -> None:
    assert rules.parse_close_date("2026-02-01", now=NOW, tz=TZ) == date(2026, 2, 1)
    assert rules.parse_close_date("月底", now=NOW, tz=TZ) == date(2026, 3, 31)
    assert rules.parse_close_date("end of the year", now=NOW, tz=TZ) == date(2026, 12, 31)


@pytest.mark.parametrize("text", ["-5", "101", "abc", "5.5"])
def test_a_bad_probability_is_refused(text: str) -> None:
    with pytest.raises(ValidationError):
        rules.parse_probability(text)


def test_the_model_refuses_a_broken_deal() -> None:
    with pytest.raises(ModelError):
        deal(amount="-1")
    with pytest.raises(ModelError):
        deal(probability=120)
    with pytest.raises(ModelError):
        deal(stage="won", open=True)


def test_moving_through_the_stages() -> None:
    start = deal("proposal")
    moved = rules.move(start, PIPELINE.stage("negotiation"), now=NOW, today=TODAY, by="rep")
    assert (moved.stage, moved.probability, moved.open, moved.stage_changed_at) == ("negotiation", 80, True, NOW)
    assert moved.stage_history[-1].stage == "negotiation" and moved.stage_history[-1].by == "rep"
    assert rules.move(moved, PIPELINE.stage("negotiation"), now=NOW, today=TODAY, by="rep") is moved
    won = rules.move(moved, rules.WON, now=NOW, today=TODAY, by="rep")
    assert (won.open, won.won_on, won.closed_at, won.probability) == (False, TODAY, NOW, 100)
    assert rules.cycle_days(won) == pytest.approx(10)
    lost = rules.move(moved, rules.LOST, now=NOW, today=TODAY, by="rep", lost_reason="Price too high")
    assert (lost.open, lost.lost_on, lost.lost_reason, lost.won_on) == (False, TODAY, "Price too high", None)
    reopened = rules.move(lost, PIPELINE.open_stages[0], now=NOW, today=TODAY, by="rep")
    assert (reopened.open, reopened.lost_reason, reopened.closed_at) == (True, None, None)


def test_weighted_totals_by_stage() -> None:
    deals = [deal("proposal", "50000"), deal("proposal", "10000"), deal("negotiation", "20000"),
             deal("won", "99999"), deal("prospecting", "100", currency="USD")]
    groups = {g.stage.code: g for g in rules.by_stage(deals, PIPELINE)}
    assert list(groups) == ["prospecting", "qualification", "proposal", "negotiation"]
    assert groups["proposal"].count == 2 and groups["proposal"].total == {"CNY": Decimal(60000)}
    assert groups["proposal"].weighted == {"CNY": Decimal("36000.00")}
    total, weight = rules.totals(groups.values())
    assert total == {"CNY": Decimal(80000), "USD": Decimal(100)}
    assert weight == {"CNY": Decimal("52000.00"), "USD": Decimal("10.00")}


def test_stuck_and_overdue_deals() -> None:
    fresh = deal("negotiation", stage_changed_at=NOW - timedelta(days=6))
    assert rules.nudge(fresh, PIPELINE, now=NOW, today=TODAY) is None
    stuck = deal("negotiation", stage_changed_at=NOW - timedelta(days=7))
    assert rules.nudge(stuck, PIPELINE, now=NOW, today=TODAY) == rules.NUDGE_STUCK
    overdue = deal("proposal", expected_close_on=TODAY - timedelta(days=1))
    assert rules.nudge(overdue, PIPELINE, now=NOW, today=TODAY) == rules.NUDGE_OVERDUE
    assert rules.nudge(deal("won"), PIPELINE, now=NOW, today=TODAY) is None
    assert rules.nudge_key(stuck, rules.NUDGE_STUCK) != rules.nudge_key(
        rules.move(stuck, PIPELINE.stage("proposal"), now=NOW, today=TODAY, by=None), rules.NUDGE_STUCK)


def test_the_reports_pipeline_figures() -> None:
    start, end = datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)
    won = rules.move(deal("negotiation", created_at=NOW - timedelta(days=20)), rules.WON, now=NOW, today=TODAY, by=None)
    lost = rules.move(deal("proposal", "10000", created_at=NOW - timedelta(days=10)), rules.LOST, now=NOW,
                      today=TODAY, by=None, lost_reason="Price too high")
    open_in = deal("proposal", "20000", created_at=NOW, expected_close_on=date(2026, 3, 20))
    open_later = deal("negotiation", "40000", created_at=NOW - timedelta(days=40), expected_close_on=date(2026, 6, 1))
    usd = deal("proposal", "999", currency="USD", created_at=NOW)
    figures = pipeline_figures([won, lost, open_in, open_later, usd], start=start, end=end,
                               last_day=date(2026, 3, 31), pipeline=PIPELINE, currency="CNY")
    assert (figures.new_count, figures.new_amount) == (2, Decimal(20000))  # the USD deal counted, not summed
    assert (figures.won_count, figures.won_amount, figures.lost_count, figures.lost_amount) == (
        1, Decimal(50000), 1, Decimal(10000))
    assert figures.win_rate == 0.5 and figures.avg_cycle_days == pytest.approx(15)
    stages = {s.stage.code: (s.count, s.amount, s.weighted) for s in figures.stages}
    assert stages["proposal"] == (2, Decimal(20000), Decimal("12000.00"))
    assert stages["negotiation"] == (1, Decimal(40000), Decimal("32000.00"))
    assert figures.forecast == Decimal(50000) + Decimal("12000.00")  # won + weighted closing in the period
    assert figures.other_currency == 1 and figures.lost_reasons == (("Price too high", 1),)


def test_the_deals_an_agenda_lists_and_why() -> None:
    today = deal("proposal", id="d-today", expected_close_on=TODAY, stage_changed_at=NOW - timedelta(days=30))
    late = deal("proposal", id="d-late", expected_close_on=TODAY - timedelta(days=3))
    stuck = deal("negotiation", id="d-stuck", stage_changed_at=NOW - timedelta(days=9))
    quiet = deal("negotiation", id="d-quiet", expected_close_on=TODAY + timedelta(days=5))
    closed = deal("won", id="d-won", expected_close_on=TODAY - timedelta(days=3))
    found = rules.needing_attention([stuck, quiet, closed, late, today], PIPELINE, now=NOW, today=TODAY)
    assert [(a.deal.id, a.reason, a.days) for a in found] == [
        ("d-today", rules.CLOSES_TODAY, 0), ("d-late", rules.NUDGE_OVERDUE, 3), ("d-stuck", rules.NUDGE_STUCK, 9)]
    # the same rules as the scheduler's nudge: whatever it nudges about is on the agenda
    for d in (late, stuck):
        assert rules.attention(d, PIPELINE, now=NOW, today=TODAY).reason == rules.nudge(  # type: ignore[union-attr]
            d, PIPELINE, now=NOW, today=TODAY)
