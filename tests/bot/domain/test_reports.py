"""Manager report figures: a small constructed team with hand-computed numbers.

The fixture is "last week" asked for on Monday 2026-03-09 09:00 Beijing time:
period = Mon 2026-03-02 00:00 – Mon 2026-03-09 00:00 (Asia/Shanghai),
previous = Mon 2026-02-23 00:00 – Mon 2026-03-02 00:00.  Every expected value
is written out literally with the arithmetic beside it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.churn import Reason, ReasonCode
from bot.domain.models import (
    Customer,
    Feedback,
    FeedbackKind,
    FeedbackStatus,
    Interaction,
    InteractionKind,
    LifecycleStage,
    Purchase,
    Reminder,
    ReminderKind,
    ReminderStatus,
    Role,
    StaffUser,
    ValueTier,
)
from bot.domain.reports import (
    DOWN,
    SAME,
    UP,
    AtRiskInput,
    Comparison,
    Period,
    PeriodKind,
    Report,
    ReportData,
    ReportSettings,
    clv_estimates,
    compute_report,
)

# Reasons are codes and numbers (bot.labels renders them in the reader's language).
NO_CONTACT_20 = Reason(ReasonCode.NO_CONTACT, {"days": 20, "usual": 14}, 40)
COMPLAINTS_2 = Reason(ReasonCode.OPEN_COMPLAINTS, {"count": 2}, 30)

SH = ZoneInfo("Asia/Shanghai")
NY = ZoneInfo("America/New_York")
NOW = datetime(2026, 3, 9, 9, 0, tzinfo=SH)
PERIOD = Period.this_week(datetime(2026, 3, 8, 12, 0, tzinfo=SH), SH)


def sh(month: int, day: int, hour: int = 0, minute: int = 0, year: int = 2026) -> datetime:
    """A Beijing-time moment, stored in UTC as the store does."""
    return datetime(year, month, day, hour, minute, tzinfo=SH).astimezone(UTC)


def staff(sid: str, name: str, role: Role = Role.REP, active: bool = True) -> StaffUser:
    return StaffUser(id=sid, telegram_id=int(sid[1:]) + 100, name=name, role=role, active=active)


def customer(cid: str, name: str, owner: str, created: datetime, **kw: object) -> Customer:
    return Customer(id=cid, name=name, owner_id=owner, created_at=created, updated_at=created, **kw)  # type: ignore[arg-type]


def interaction(
    iid: str,
    cid: str,
    owner: str,
    kind: InteractionKind,
    at: datetime,
    due: datetime | None = None,
    deleted: bool = False,
) -> Interaction:
    return Interaction(
        id=iid,
        customer_id=cid,
        owner_id=owner,
        kind=kind,
        occurred_at=at,
        next_follow_up_at=due,
        deleted=deleted,
        created_at=at,
        updated_at=at,
    )


def purchase(pid: str, cid: str, amount: str, currency: str, day: date) -> Purchase:
    return Purchase(
        id=pid,
        customer_id=cid,
        owner_id="r1",
        product="tea",
        amount=Decimal(amount),
        currency=currency,
        purchased_on=day,
    )


def feedback(
    fid: str, cid: str, owner: str, kind: FeedbackKind, created: datetime, **kw: object
) -> Feedback:
    return Feedback(
        id=fid,
        customer_id=cid,
        owner_id=owner,
        kind=kind,
        content="…",
        created_at=created,
        updated_at=created,
        **kw,
    )  # type: ignore[arg-type]


def reminder(
    rid: str,
    cid: str,
    due: datetime,
    created: datetime,
    status: ReminderStatus = ReminderStatus.SENT,
) -> Reminder:
    return Reminder(
        id=rid,
        kind=ReminderKind.FOLLOW_UP,
        recipient_id="r2",
        customer_id=cid,
        due_at=due,
        dedupe_key=f"fu:{rid}",
        status=status,
        created_at=created,
        updated_at=created,
    )


K = InteractionKind


def team_data(snapshot: dict[str, dict[str, int]] | None = None) -> ReportData:
    return ReportData(
        staff=[
            staff("r1", "Alice"),
            staff("r2", "Bob"),
            staff("r3", "Carol"),  # no activity at all
            staff("r4", "Dave", active=False),  # left the company: never listed
            staff("m1", "Mona", Role.MANAGER),  # logs one interaction
        ],
        customers=[
            customer(
                "c1",
                "张三",
                "r1",
                sh(1, 10),
                value_tier=ValueTier.HIGH,
                stage=LifecycleStage.REPEAT,
            ),
            customer("c2", "李四", "r1", sh(3, 3, 10)),  # prospect, no tier, new this week
            # created 23:30 Beijing time on the last day (15:30 UTC): inside the week
            customer("c3", "王五", "r2", sh(3, 8, 23, 30)),
            # created 00:30 on Monday 9 March Beijing time (still 8 March in UTC): outside
            customer(
                "c4",
                "Tom",
                "r2",
                sh(3, 9, 0, 30),
                value_tier=ValueTier.LOW,
                stage=LifecycleStage.NEW,
            ),
            # new last week; the override wins: effective tier high
            customer(
                "c5",
                "赵六",
                "r1",
                sh(2, 25),
                value_tier=ValueTier.LOW,
                value_tier_override=ValueTier.HIGH,
                stage=LifecycleStage.AT_RISK,
            ),
            customer("c6", "Archived", "r2", sh(3, 4), archived=True),  # counts nowhere
        ],
        interactions=[
            interaction("i1", "c1", "r1", K.CALL, sh(3, 2, 9), due=sh(3, 4, 10)),
            interaction("i2", "c1", "r1", K.VISIT, sh(3, 4, 15), due=sh(3, 6, 10)),
            interaction("i3", "c1", "r1", K.WECHAT, sh(3, 8, 23, 30)),  # last day, late evening
            interaction("i4", "c2", "r1", K.CALL, sh(3, 3, 11), due=sh(3, 8, 18)),
            interaction("i5", "c3", "r2", K.MEETING, sh(3, 5, 14), due=sh(3, 6, 9)),
            interaction("i6", "c3", "r2", K.CALL, sh(3, 5, 16), deleted=True),
            interaction("i7", "c4", "r2", K.MESSAGE, sh(3, 9, 0, 30)),  # next week
            interaction("i8", "c5", "m1", K.EMAIL, sh(3, 6, 9)),
            interaction("i9", "c5", "r1", K.CALL, sh(2, 27, 10), due=sh(3, 3, 9)),
            interaction("i10", "c1", "r1", K.CALL, sh(2, 24, 10), due=sh(2, 26, 10)),
            interaction("i11", "c5", "r1", K.CALL, sh(2, 25, 11), due=sh(2, 27, 9)),
        ],
        follow_up_reminders=[
            reminder("rem1", "c4", sh(3, 7, 10), sh(3, 1, 10)),
            reminder("rem2", "c1", sh(3, 4, 10), sh(3, 2, 9)),  # same as i1's: counted once
            reminder("rem3", "c2", sh(3, 5, 10), sh(3, 1), ReminderStatus.CANCELLED),
        ],
        purchases=[
            purchase("p0", "c1", "1200.00", "CNY", date(2024, 3, 9)),
            purchase("p1", "c1", "1000.00", "CNY", date(2026, 3, 2)),  # first day
            purchase("p2", "c1", "500.50", "CNY", date(2026, 3, 8)),  # last day
            purchase("p3", "c5", "200", "USD", date(2026, 3, 5)),
            purchase("p4", "c2", "300", "CNY", date(2026, 3, 9)),  # next week
            purchase("p5", "c1", "800", "CNY", date(2026, 2, 24)),  # previous week
            purchase("p6", "c2", "100", "CNY", date(2026, 3, 9)),  # same day as p4
            purchase("p7", "c6", "999", "CNY", date(2026, 3, 4)),  # archived customer
        ],
        feedback=[
            feedback(
                "f1",
                "c1",
                "r1",
                FeedbackKind.COMPLAINT,
                sh(3, 3, 10),
                status=FeedbackStatus.RESOLVED,
                resolved_at=sh(3, 4, 16),
                csat=4,
                nps=9,
            ),
            feedback("f2", "c2", "r1", FeedbackKind.SUGGESTION, sh(3, 5, 9)),
            feedback(
                "f3",
                "c3",
                "r2",
                FeedbackKind.COMPLAINT,
                sh(2, 27, 9),
                status=FeedbackStatus.CONFIRMED,
                resolved_at=sh(3, 2, 9),
                confirmed_at=sh(3, 3, 9),
                csat=2,
                nps=3,
            ),
            feedback(
                "f4",
                "c5",
                "r1",
                FeedbackKind.PRAISE,
                sh(3, 6, 10),
                status=FeedbackStatus.CONFIRMED,
                resolved_at=sh(3, 6, 12),
                confirmed_at=sh(3, 7, 12),
                csat=5,
                nps=10,
            ),
            feedback(
                "f5", "c1", "r1", FeedbackKind.QUESTION, sh(3, 4), deleted=True, csat=1, nps=0
            ),
            feedback(
                "f6",
                "c4",
                "r2",
                FeedbackKind.QUESTION,
                sh(3, 6),
                status=FeedbackStatus.IN_PROGRESS,
                nps=7,
            ),
        ],
        at_risk=[
            AtRiskInput("c5", 80, (NO_CONTACT_20,)),
            ("c6", 90, [COMPLAINTS_2]),  # archived: dropped
            ("c1", 55, []),
            ("c3", 80, [COMPLAINTS_2]),
            ("zz", 99, [COMPLAINTS_2]),  # not in scope: dropped
        ],
        previous_snapshot=snapshot,
    )


@pytest.fixture
def report() -> Report:
    return compute_report(
        team_data(
            {
                "tiers": {"high": 1, "mid": 1, "low": 1, "none": 2},
                "stages": {"prospect": 3, "new": 0, "repeat": 1, "at_risk": 1, "churned": 0},
            }
        ),
        PERIOD,
        NOW,
        ReportSettings(top_at_risk=2),
    )


# ---------------------------------------------------------------------------
# Periods
# ---------------------------------------------------------------------------


def test_fixture_period_is_last_week_in_shanghai() -> None:
    assert PERIOD.start == datetime(2026, 3, 2, tzinfo=SH)
    assert PERIOD.end == datetime(2026, 3, 9, tzinfo=SH)
    assert PERIOD.kind is PeriodKind.WEEK
    assert PERIOD.previous() == Period(
        datetime(2026, 2, 23, tzinfo=SH), datetime(2026, 3, 2, tzinfo=SH), PeriodKind.WEEK
    )
    assert PERIOD.label() == "2026-03-02 – 2026-03-08"


def test_today_and_week_cut_at_local_midnight() -> None:
    # 01:00 on Monday 9 March in Beijing is still Sunday 8 March, 17:00, in UTC
    now = datetime(2026, 3, 9, 1, 0, tzinfo=SH)
    assert Period.today(now, SH).start == datetime(2026, 3, 9, tzinfo=SH)
    assert Period.today(now, SH).end == datetime(2026, 3, 10, tzinfo=SH)
    assert Period.today(now, UTC).start == datetime(2026, 3, 8, tzinfo=UTC)
    assert Period.this_week(now, SH).start == datetime(2026, 3, 9, tzinfo=SH)  # a Monday
    assert Period.this_week(now, UTC).start == datetime(2026, 3, 2, tzinfo=UTC)
    assert Period.this_week(now, SH).end - Period.this_week(now, SH).start == timedelta(days=7)


def test_months() -> None:
    # 05:00 on 1 March in Beijing is 21:00 on 28 February in UTC
    now = datetime(2026, 3, 1, 5, 0, tzinfo=SH)
    march = Period.this_month(now, SH)
    assert (march.start, march.end) == (
        datetime(2026, 3, 1, tzinfo=SH),
        datetime(2026, 4, 1, tzinfo=SH),
    )
    assert Period.this_month(now, UTC).start == datetime(2026, 2, 1, tzinfo=UTC)
    february = Period.last_month(now, SH)
    assert (february.start, february.end) == (
        datetime(2026, 2, 1, tzinfo=SH),
        datetime(2026, 3, 1, tzinfo=SH),
    )
    # a month's previous period is the calendar month before, not "the 31 days before"
    assert march.previous() == february
    december = Period.last_month(datetime(2026, 1, 15, tzinfo=SH), SH)
    assert (december.start, december.end) == (
        datetime(2025, 12, 1, tzinfo=SH),
        datetime(2026, 1, 1, tzinfo=SH),
    )


def test_custom_is_inclusive_and_previous_has_the_same_length() -> None:
    first_half = Period.custom(date(2026, 3, 1), date(2026, 3, 15), SH)
    assert first_half.end == datetime(2026, 3, 16, tzinfo=SH)
    before = first_half.previous()
    # 15 days before 1 March: 14 February .. 28 February
    assert (before.start, before.end) == (datetime(2026, 2, 14, tzinfo=SH), first_half.start)
    assert before.label() == "2026-02-14 – 2026-02-28"
    with pytest.raises(ValueError):
        Period.custom(date(2026, 3, 2), date(2026, 3, 1), SH)


def test_previous_counts_local_days_across_dst() -> None:
    # New York springs forward on 8 March 2026: that day has 23 hours
    monday = Period.today(datetime(2026, 3, 9, 12, 0, tzinfo=NY), NY)
    sunday = monday.previous()
    assert sunday.start == datetime(2026, 3, 8, tzinfo=NY)
    # (in UTC: Python subtracts datetimes sharing a tzinfo by wall time)
    assert sunday.end.astimezone(UTC) - sunday.start.astimezone(UTC) == timedelta(hours=23)


def test_contains_uses_real_time_in_the_repeated_hour() -> None:
    # New York falls back on 1 November 2026: 01:30 happens twice (fold=0 EDT, fold=1 EST)
    first = datetime(2026, 11, 1, 1, 30, tzinfo=NY)
    second = datetime(2026, 11, 1, 1, 30, fold=1, tzinfo=NY)
    period = Period(first, second)  # the hour between the two 01:30s
    assert period.contains(first.astimezone(UTC) + timedelta(minutes=30))
    assert not period.contains(second)


def test_period_rejects_naive_or_empty_ranges() -> None:
    with pytest.raises(ValueError):
        Period(datetime(2026, 3, 1), datetime(2026, 3, 2, tzinfo=UTC))
    with pytest.raises(ValueError):
        Period(datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 2, tzinfo=UTC))
    with pytest.raises(ValueError):
        Period.today(datetime(2026, 3, 1), SH)


def test_last_evening_belongs_to_the_local_period_not_the_utc_one() -> None:
    march_sh = Period.this_month(datetime(2026, 3, 10, tzinfo=SH), SH)
    march_utc = Period.this_month(datetime(2026, 3, 10, tzinfo=UTC), UTC)
    late = datetime(2026, 3, 31, 23, 30, tzinfo=SH)  # 15:30 UTC
    early = datetime(2026, 3, 1, 0, 30, tzinfo=SH)  # 28 February 16:30 UTC
    assert march_sh.contains(late) and march_sh.contains(early)
    assert march_utc.contains(late) and not march_utc.contains(early)

    data = ReportData(
        staff=[staff("r1", "Alice")],
        interactions=[
            interaction("a", "c", "r1", K.CALL, late.astimezone(UTC)),
            interaction("b", "c", "r1", K.CALL, early.astimezone(UTC)),
        ],
    )
    now = datetime(2026, 4, 2, tzinfo=SH)
    assert compute_report(data, march_sh, now).interactions == 2
    assert compute_report(data, march_utc, now).interactions == 1


# ---------------------------------------------------------------------------
# The figures
# ---------------------------------------------------------------------------


def test_new_customers(report: Report) -> None:
    # c2 (3 March) and c3 (8 March 23:30 local); not c4 (9 March 00:30 local), not archived c6
    assert report.new_customers == 2
    # previous week: c5 (25 February)
    assert report.comparison("new_customers") == Comparison("new_customers", 2, 1)


def test_interactions_by_kind_and_rep(report: Report) -> None:
    # in the week: i1 call, i2 visit, i3 wechat (23:30 on the last day), i4 call, i5 meeting,
    # i8 email; not i6 (deleted) nor i7 (00:30 on Monday 9 March, Beijing time)
    assert report.interactions == 6
    assert report.interactions_by_kind == {
        "call": 2,
        "visit": 1,
        "meeting": 1,
        "message": 0,
        "email": 1,
        "wechat": 1,
    }
    rows = {r.rep_id: r for r in report.reps}
    # Alice: i1 i2 i3 i4; Bob: i5; Mona (a manager): i8; Carol nothing; Dave inactive: absent
    assert [r.name for r in report.reps] == ["Alice", "Bob", "Mona", "Carol"]
    assert rows["r1"].interactions == 4
    assert rows["r1"].by_kind["call"] == 2 and rows["r1"].by_kind["wechat"] == 1
    assert rows["r2"].interactions == 1 and rows["m1"].interactions == 1
    assert "r4" not in rows
    # previous week: i9, i10, i11
    assert report.comparison("interactions") == Comparison("interactions", 6, 3)


def test_rep_activity_and_reps_with_none(report: Report) -> None:
    rows = {r.rep_id: r for r in report.reps}
    alice, bob = rows["r1"], rows["r2"]
    # Alice: new c2; purchases p1 p2 p3 p7 (all recorded by r1 in the week); feedback f1 f2 f4
    assert (alice.new_customers, alice.purchases, alice.feedback) == (1, 4, 3)
    # Bob: new c3; no purchase; feedback f6
    assert (bob.new_customers, bob.purchases, bob.feedback) == (1, 0, 1)
    assert [r.name for r in report.inactive_reps] == ["Carol"]
    # reps (not managers) with any activity: Alice, Bob now; Alice, Bob (f3) before
    assert report.comparison("active_reps") == Comparison("active_reps", 2, 2)
    assert report.comparison("active_reps").direction == SAME  # type: ignore[union-attr]


def test_follow_ups(report: Report) -> None:
    """Due in the week (grace 1 day), as of Monday 9 March 09:00:

    F1 i1  c1 due 4 Mar 10:00 — i2 at 4 Mar 15:00 < 5 Mar 10:00          → on time (grace)
    F2 i2  c1 due 6 Mar 10:00 — next contact i3 8 Mar 23:30 ≥ 7 Mar 10:00 → overdue, late
    F3 i4  c2 due 8 Mar 18:00 — no contact; deadline 9 Mar 18:00 > now    → pending
    F4 i5  c3 due 6 Mar 09:00 — only i6, which is deleted                 → overdue
    F5 i9  c5 due 3 Mar 09:00 — next contact i8 6 Mar 09:00 ≥ 4 Mar 09:00 → overdue, late
    F6 rem1 c4 due 7 Mar 10:00 — next contact i7 9 Mar 00:30 ≥ 8 Mar 10:00 → overdue, late
    rem2 duplicates F1; rem3 is cancelled.
    """
    f = report.follow_ups
    assert (f.due, f.on_time, f.overdue, f.late, f.pending) == (6, 1, 4, 3, 1)
    assert f.on_time_rate == pytest.approx(0.2)  # 1 / (1 + 4)
    rows = {r.rep_id: r for r in report.reps}
    assert (rows["r1"].follow_ups_on_time, rows["r1"].follow_ups_overdue) == (1, 2)  # F1; F2 F5
    assert (rows["r2"].follow_ups_on_time, rows["r2"].follow_ups_overdue) == (0, 2)  # F4 F6
    # previous week: i10 (c1 due 26 Feb, next contact i1 2 Mar → overdue),
    # i11 (c5 due 27 Feb 09:00, i9 27 Feb 10:00 < 28 Feb 09:00 → on time): rate 1/2
    rate = report.comparison("follow_up_on_time_rate")
    assert rate is not None and rate.previous == pytest.approx(0.5)
    assert rate.direction == DOWN and rate.improved is False
    overdue = report.comparison("follow_ups_overdue")
    assert overdue == Comparison("follow_ups_overdue", 4, 1, False)
    assert overdue.direction == UP and overdue.improved is False


def test_feedback(report: Report) -> None:
    fb = report.feedback
    # created in the week, not deleted: f1 complaint, f2 suggestion, f4 praise, f6 question
    assert fb.total == 4
    assert fb.by_kind == {"complaint": 1, "suggestion": 1, "praise": 1, "question": 1}
    assert fb.by_status == {"open": 1, "in_progress": 1, "resolved": 1, "confirmed": 1}
    # resolved in the week: f1 30 h (3 Mar 10:00 → 4 Mar 16:00), f3 72 h (27 Feb 09:00 →
    # 2 Mar 09:00), f4 2 h: (30 + 72 + 2) / 3 = 34.666…
    assert fb.resolved == 3
    assert fb.avg_resolution_hours == pytest.approx(104 / 3)
    # ratings given in the week: f1 (resolved 4 Mar) 4, f3 (confirmed 3 Mar) 2, f4 5
    assert fb.csat_count == 3
    assert fb.csat_avg == pytest.approx(11 / 3)
    # NPS answers: f1 9 P, f3 3 D, f4 10 P, f6 7 passive: (2 − 1) / 4 × 100 = 25
    assert (fb.promoters, fb.passives, fb.detractors) == (2, 1, 1)
    assert fb.nps == pytest.approx(25.0)
    # previous week: f3 created (a complaint), nothing resolved or rated in it
    assert report.comparison("complaints") == Comparison("complaints", 1, 1, False)
    assert report.comparison("feedback") == Comparison("feedback", 4, 1, None)
    csat = report.comparison("csat")
    assert csat is not None and csat.previous is None and csat.direction == ""
    assert csat.delta is None and csat.improved is None


def test_revenue_per_currency(report: Report) -> None:
    # CNY: p1 1000.00 + p2 500.50 = 1500.50 (p4, p6 are next week; p7's customer is archived
    # but the purchase still happened: 1500.50 + 999 = 2499.50); USD: p3 200 — never summed
    assert report.revenue == {"CNY": Decimal("2499.50"), "USD": Decimal(200)}
    assert report.purchases == 4  # p1 p2 p3 p7
    cny = report.comparison("revenue:CNY")
    assert cny == Comparison("revenue:CNY", Decimal("2499.50"), Decimal(800))  # p5
    assert cny.delta == Decimal("1699.50") and cny.direction == UP
    usd = report.comparison("revenue:USD")
    assert usd == Comparison("revenue:USD", Decimal(200), Decimal(0))


def test_tier_and_stage_mix_with_movement(report: Report) -> None:
    # non-archived c1..c5: tiers c1 high, c2 none, c3 none, c4 low, c5 high (override)
    assert report.tiers == {"high": 2, "mid": 0, "low": 1, "none": 2}
    # stages: c1 repeat, c2 prospect, c3 prospect, c4 new, c5 at_risk
    assert report.stages == {"prospect": 2, "new": 1, "repeat": 1, "at_risk": 1, "churned": 0}
    # against the snapshot: high 2−1, mid 0−1, low 1−1, none 2−2; prospect 2−3, new 1−0
    assert report.tier_movement == {"high": 1, "mid": -1, "low": 0, "none": 0}
    assert report.stage_movement == {
        "prospect": -1,
        "new": 1,
        "repeat": 0,
        "at_risk": 0,
        "churned": 0,
    }
    assert report.snapshot()["tiers"] == report.tiers


def test_movement_is_omitted_without_a_snapshot() -> None:
    plain = compute_report(team_data(), PERIOD, NOW)
    assert plain.tier_movement is None and plain.stage_movement is None


def test_top_at_risk(report: Report) -> None:
    # c6 is archived and zz out of scope; c3 and c5 tie at 80: by name, 王五 before 赵六
    assert [(r.customer_id, r.score) for r in report.at_risk] == [("c3", 80), ("c5", 80)]
    first = report.at_risk[0]
    assert (first.name, first.owner_name, first.reasons) == ("王五", "Bob", (COMPLAINTS_2,))


def test_clv(report: Report) -> None:
    """Today 9 March 2026, lifetime 3 years, at least 365 days observed.

    c1 CNY: 1200 (2024-03-09) + 800 + 1000 + 500.50 = 3500.50 over 4 purchase days;
            observed 730 days = 2 years; AOV 875.125 → 875.13; 4 / 2 = 2 orders a year;
            CLV = 3500.50 × 365 × 3 / 730 = 5250.75
    c2 CNY: 300 + 100 on the same day (one order) = 400; observed max(0, 365) = 365;
            CLV = 400 × 1 × 3 = 1200.00
    c5 USD: 200; CLV = 600.00.  c6 is archived: none.
    Average CNY (5250.75 + 1200.00) / 2 = 3225.375 → 3225.38
    """
    by_customer = {(e.customer_id, e.currency): e for e in report.clv.estimates}
    assert set(by_customer) == {("c1", "CNY"), ("c2", "CNY"), ("c5", "USD")}
    c1 = by_customer[("c1", "CNY")]
    assert (c1.total, c1.orders, c1.observed_days) == (Decimal("3500.50"), 4, 730)
    assert (c1.average_order_value, c1.orders_per_year) == (Decimal("875.13"), Decimal("2.00"))
    assert c1.clv == Decimal("5250.75")
    c2 = by_customer[("c2", "CNY")]
    assert (c2.orders, c2.observed_days, c2.clv) == (1, 365, Decimal("1200.00"))
    assert by_customer[("c5", "USD")].clv == Decimal("600.00")
    assert [e.customer_id for e in report.clv.estimates] == ["c1", "c2", "c5"]
    assert report.clv.average == {"CNY": Decimal("3225.38"), "USD": Decimal("600.00")}
    assert report.clv.customers == {"CNY": 2, "USD": 1}


def test_clv_worked_example_from_the_docs() -> None:
    """docs/clv.md: the same numbers."""
    now = datetime(2026, 3, 9, 10, 0, tzinfo=SH)
    wang = customer("w", "王女士", "r1", sh(1, 1, year=2024))
    li = customer("l", "李先生", "r1", sh(2, 1))
    purchases = [
        purchase("a", "w", "1200", "CNY", date(2024, 3, 9)),
        purchase("b", "w", "800", "CNY", date(2025, 1, 15)),
        purchase("c", "w", "1000", "CNY", date(2025, 9, 20)),
        purchase("d", "l", "500", "CNY", date(2026, 2, 7)),
    ]
    summary = clv_estimates([wang, li], purchases, now, SH)
    w, li_estimate = summary.for_customer("w")[0], summary.for_customer("l")[0]
    # 3000 over 3 orders = 1000 AOV; 730 days = 2 years → 1.5 orders a year; × 3 years
    assert (w.average_order_value, w.orders_per_year, w.clv) == (
        Decimal("1000.00"),
        Decimal("1.50"),
        Decimal("4500.00"),
    )
    # one order 30 days ago: observed as a full year → 500 × 1 × 3
    assert (li_estimate.observed_days, li_estimate.clv) == (365, Decimal("1500.00"))
    assert summary.average == {"CNY": Decimal("3000.00")}  # (4500 + 1500) / 2
    # a 5-year lifetime scales it: 4500 × 5 / 3
    five = clv_estimates([wang], purchases, now, SH, ReportSettings(clv_lifetime_years=Decimal(5)))
    assert five.estimates[0].clv == Decimal("7500.00")


def test_empty_data_has_no_division_by_zero() -> None:
    empty = compute_report(ReportData(), PERIOD, NOW)
    assert (empty.new_customers, empty.interactions, empty.purchases) == (0, 0, 0)
    assert empty.reps == () and empty.inactive_reps == ()
    assert empty.follow_ups.on_time_rate is None
    fb = empty.feedback
    assert (fb.avg_resolution_hours, fb.csat_avg, fb.nps) == (None, None, None)
    assert empty.revenue == {} and empty.clv.estimates == () and empty.clv.average == {}
    assert empty.tiers == {"high": 0, "mid": 0, "low": 0, "none": 0}
    for comparison in empty.comparisons:
        assert comparison.direction in (SAME, "")
    assert empty.comparison("nps") == Comparison("nps", None, None)


def test_comparison_directions() -> None:
    assert Comparison("x", 3, 2).direction == UP
    assert Comparison("x", Decimal("1.0"), Decimal("1.00")).direction == SAME
    assert Comparison("x", 0.1 + 0.2, 0.3).direction == SAME  # float noise is no change
    down = Comparison("avg_resolution_hours", 10.0, 12.5, False)
    assert (down.direction, down.delta, down.improved) == (DOWN, -2.5, True)


def test_settings_are_validated() -> None:
    assert ReportSettings(clv_lifetime_years=2.5).clv_lifetime_years == Decimal("2.5")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        ReportSettings(clv_lifetime_years=Decimal(0))
    with pytest.raises(ValueError):
        ReportSettings(follow_up_grace=timedelta(days=-1))


# ---------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------

moments = st.integers(min_value=0, max_value=21 * 24).map(
    lambda h: datetime(2026, 2, 23, tzinfo=SH) + timedelta(hours=h)
)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["c1", "c2", "c3"]),
            st.sampled_from(["r1", "r2"]),
            st.sampled_from(list(InteractionKind)),
            moments,
            st.one_of(st.none(), moments),
            st.booleans(),
        ),
        max_size=40,
    )
)
def test_counts_add_up(rows: list[tuple]) -> None:
    data = ReportData(
        staff=[staff("r1", "Alice"), staff("r2", "Bob")],
        interactions=[
            interaction(
                f"i{n}",
                cid,
                rep,
                kind,
                at.astimezone(UTC),
                due.astimezone(UTC) if due else None,
                deleted,
            )
            for n, (cid, rep, kind, at, due, deleted) in enumerate(rows)
        ],
    )
    result = compute_report(data, PERIOD, NOW)
    assert result.interactions == sum(result.interactions_by_kind.values())
    assert result.interactions == sum(r.interactions for r in result.reps)
    expected = sum(1 for *_, at, _, deleted in rows if not deleted and PERIOD.contains(at))
    assert result.interactions == expected
    f = result.follow_ups
    assert f.on_time + f.overdue + f.pending == f.due
    assert f.late <= f.overdue
    assert f.due == len(
        {
            (cid, due)
            for cid, _, _, _, due, deleted in rows
            if not deleted and due is not None and PERIOD.contains(due)
        }
    )
