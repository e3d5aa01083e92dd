"""Benchmark: a manager's monthly report for a 50-rep team, against a naive baseline.

    python bench/reports.py                 # March 2026, 10k customers, 100k interactions/month
    python bench/reports.py --runs 7 --naive-runs 1

The data set is generated from one seeded ``random.Random`` (the same records
on every run and machine): 50 reps and a manager; 10 000 customers created
over the two years before the report; and, for **each** of the report month
and the month before it (``compute_report`` needs both, for the comparisons),
100 000 interactions (30 % setting a follow-up, 1 % deleted), 20 000 purchases
(5 % in USD) and 2 000 feedback items — so the input is twice the month's
volume.  Customers are picked with Pareto weights: a few are called far more
often than the rest, as in real teams.

Timed (median of ``--runs``, after one warm-up): ``compute_report``, the pipeline figures
(``pipeline_figures`` over ``--deals`` deals, 20 000 by default, from ``bench/datagen.py``),
``report_chart`` and ``report_xlsx`` (both with the pipeline's stage bars and sheet).  The baseline, measured in the same run
on the same data, is the straightforward way to get the report's per-rep table
and follow-up figures: for each rep, scan every interaction, customer,
purchase and feedback item; for each follow-up, scan the customer's
interactions for a later contact.  It is checked to produce the same numbers.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.datagen import deal_records
from bot.charts import report_chart
from bot.config import Config
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
    Role,
    StaffUser,
    ValueTier,
)
from bot.domain.reports import (
    AtRiskInput,
    Period,
    Report,
    ReportData,
    ReportSettings,
    compute_report,
)
from bot.domain.reports.pipeline import pipeline_figures
from bot.i18n import gettext_for
from bot.reports_export import report_xlsx

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 4, 1, 9, 0, tzinfo=TZ)  # the report is asked for on 1 April
REPS = 50
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚华玉萍红玲芬燕彬鑫婷雪慧琳晨浩宇欣怡"


def _name(rnd: random.Random) -> str:
    return rnd.choice(SURNAMES) + "".join(rnd.choice(GIVEN) for _ in range(rnd.choice((1, 2))))


def _moment(rnd: random.Random, start: datetime, end: datetime) -> datetime:
    span = int((end - start).total_seconds())
    return (start + timedelta(seconds=rnd.randrange(span))).astimezone(UTC)


def generate(
    customers: int, interactions: int, purchases: int, feedback: int, seed: int
) -> ReportData:
    """The data set described in the module docstring (per-month volumes, two months)."""
    rnd = random.Random(seed)
    period = Period.last_month(NOW, TZ)
    months = [period.previous(), period]
    staff = [
        StaffUser(id=str(800_000 + k), telegram_id=800_000 + k, name=_name(rnd), role=Role.REP)
        for k in range(REPS)
    ]
    staff.append(StaffUser(id="900000", telegram_id=900_000, name="经理", role=Role.MANAGER))
    reps = [s.id for s in staff[:REPS]]
    # two reps sit idle all month: the report must name them
    working = reps[:-2]

    two_years_ago = NOW - timedelta(days=730)
    people = []
    for k in range(customers):
        created = _moment(rnd, two_years_ago, NOW)
        people.append(
            Customer(
                id=f"c{k:06d}",
                name=_name(rnd),
                owner_id=working[k % len(working)],
                value_tier=rnd.choice((*ValueTier, None)),
                stage=rnd.choice(tuple(LifecycleStage)),
                archived=rnd.random() < 0.02,
                created_at=created,
                updated_at=created,
            )
        )
    weights = [rnd.paretovariate(2.0) for _ in people]
    kinds = tuple(InteractionKind)
    records: list[Interaction] = []
    bought: list[Purchase] = []
    said: list[Feedback] = []
    for month in months:
        picks = rnd.choices(people, weights=weights, k=interactions)
        for n, customer in enumerate(picks):
            at = _moment(rnd, month.start, month.end)
            records.append(
                Interaction(
                    id=f"i{len(records):07d}",
                    customer_id=customer.id,
                    owner_id=customer.owner_id,
                    kind=kinds[n % len(kinds)],
                    occurred_at=at,
                    next_follow_up_at=at + timedelta(days=rnd.randint(1, 14))
                    if rnd.random() < 0.3
                    else None,
                    deleted=rnd.random() < 0.01,
                    created_at=at,
                    updated_at=at,
                )
            )
        first_day = month.start.date()
        days = (month.end.date() - first_day).days
        for customer in rnd.choices(people, weights=weights, k=purchases):
            day = first_day + timedelta(days=rnd.randrange(days))
            bought.append(
                Purchase(
                    id=f"p{len(bought):07d}",
                    customer_id=customer.id,
                    owner_id=customer.owner_id,
                    product="茶叶礼盒",
                    amount=Decimal(rnd.randrange(10_000, 5_000_000)) / 100,
                    currency="USD" if rnd.random() < 0.05 else "CNY",
                    purchased_on=day,
                )
            )
        for customer in rnd.choices(people, k=feedback):
            created = _moment(rnd, month.start, month.end)
            status = rnd.choice(tuple(FeedbackStatus))
            resolved = (
                created + timedelta(hours=rnd.randint(1, 240))
                if status in (FeedbackStatus.RESOLVED, FeedbackStatus.CONFIRMED)
                else None
            )
            said.append(
                Feedback(
                    id=f"f{len(said):06d}",
                    customer_id=customer.id,
                    owner_id=customer.owner_id,
                    kind=rnd.choice(tuple(FeedbackKind)),
                    content="物流太慢",
                    status=status,
                    resolved_at=resolved,
                    csat=rnd.randint(1, 5) if rnd.random() < 0.5 else None,
                    nps=rnd.randint(0, 10) if rnd.random() < 0.4 else None,
                    created_at=created,
                    updated_at=created,
                )
            )
    at_risk = [
        AtRiskInput(c.id, rnd.randint(50, 100),
                    (Reason(ReasonCode.NO_CONTACT, {"days": 30, "usual": 14}, 40),))
        for c in rnd.sample(people, 300)
    ]
    return ReportData(
        staff=staff,
        customers=people,
        purchases=bought,
        interactions=records,
        feedback=said,
        at_risk=at_risk,
        previous_snapshot={"tiers": {"high": 2400, "mid": 2500}, "stages": {"new": 1900}},
    )


# ---------------------------------------------------------------------------
# The baseline
# ---------------------------------------------------------------------------


def naive_rep_table(
    data: ReportData, period: Period, now: datetime, grace: timedelta
) -> dict[str, tuple[int, ...]]:
    """Per rep: (interactions, new customers, purchases, feedback, on time, overdue), naively."""
    table = {}
    reps = {s.id for s in data.staff if s.active and s.role is Role.REP}
    rep_ids = sorted({s.id for s in data.staff} | {i.owner_id for i in data.interactions})
    first, end_day = period.first_day, period.end_day
    for rep in rep_ids:
        mine = [
            i
            for i in data.interactions
            if i.owner_id == rep and not i.deleted and period.contains(i.occurred_at)
        ]
        new = [
            c
            for c in data.customers
            if c.owner_id == rep and not c.archived and period.contains(c.created_at)
        ]
        sold = [
            p for p in data.purchases if p.owner_id == rep and first <= p.purchased_on < end_day
        ]
        heard = [
            f
            for f in data.feedback
            if f.owner_id == rep and not f.deleted and period.contains(f.created_at)
        ]
        due: dict[tuple[str, datetime], datetime] = {}
        for i in data.interactions:
            if (
                i.owner_id == rep
                and not i.deleted
                and i.next_follow_up_at is not None
                and period.contains(i.next_follow_up_at)
            ):
                key = (i.customer_id, i.next_follow_up_at)
                if key not in due or i.occurred_at < due[key]:
                    due[key] = i.occurred_at
        on_time = overdue = 0
        for (customer_id, at), since in due.items():
            later = _later_contacts(data, customer_id, since)
            if later and min(later) < at + grace:
                on_time += 1
            elif now >= at + grace:
                overdue += 1
        counts = (len(mine), len(new), len(sold), len(heard), on_time, overdue)
        if any(counts) or rep in reps:
            table[rep] = counts
    return table


_BY_CUSTOMER: dict[int, dict[str, list[Interaction]]] = {}


def _later_contacts(data: ReportData, customer_id: str, since: datetime) -> list[datetime]:
    """A customer's contacts after ``since``: a linear scan of their interactions.

    (The customer index is built once per data set — scanning all 200 000
    interactions per follow-up would make the baseline run for hours.)
    """
    index = _BY_CUSTOMER.get(id(data))
    if index is None:
        index = defaultdict(list)
        for i in data.interactions:
            index[i.customer_id].append(i)
        _BY_CUSTOMER[id(data)] = index
    return [j.occurred_at for j in index[customer_id] if not j.deleted and j.occurred_at > since]


def fast_rep_table(report: Report) -> dict[str, tuple[int, ...]]:
    return {
        r.rep_id: (
            r.interactions,
            r.new_customers,
            r.purchases,
            r.feedback,
            r.follow_ups_on_time,
            r.follow_ups_overdue,
        )
        for r in report.reps
    }


# ---------------------------------------------------------------------------


def timed(fn: Callable[[], Any], runs: int, warm: bool = True) -> tuple[list[float], Any]:
    """Seconds of each of ``runs`` calls (after a warm-up call), and the last result."""
    result = fn() if warm else None
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        samples.append(time.perf_counter() - start)
    return samples, result


def line(step: str, samples: list[float], note: str = "") -> str:
    median, best = statistics.median(samples) * 1000, min(samples) * 1000
    return f"{step:<36}{median:>9.0f} ms{best:>9.0f} ms{note}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--interactions", type=int, default=100_000, help="per month")
    parser.add_argument("--purchases", type=int, default=20_000, help="per month")
    parser.add_argument("--feedback", type=int, default=2_000, help="per month")
    parser.add_argument("--deals", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=20260401)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--naive-runs", type=int, default=1)
    args = parser.parse_args(argv)

    print(
        f"python {platform.python_version()} on {platform.machine()}, "
        f"{platform.system()} {platform.release()}"
    )
    start = time.perf_counter()
    data = generate(args.customers, args.interactions, args.purchases, args.feedback, args.seed)
    print(
        f"data: {REPS} reps, {len(data.customers):,} customers, "
        f"{len(data.interactions):,} interactions, {len(data.purchases):,} purchases, "
        f"{len(data.feedback):,} feedback (report month + the month before; "
        f"generated in {time.perf_counter() - start:.1f} s)"
    )
    period = Period.last_month(NOW, TZ)
    settings = ReportSettings()

    deals = deal_records([(c.id, c.owner_id, c.team) for c in data.customers], args.deals, now=NOW)
    pipeline = Config().deals.pipeline
    last_day = (period.end - timedelta(microseconds=1)).astimezone(TZ).date()

    def figures() -> Any:
        return pipeline_figures(deals, start=period.start, end=period.end, last_day=last_day,
                                pipeline=pipeline, currency="CNY")

    t_report, report = timed(lambda: compute_report(data, period, NOW, settings), args.runs)
    t_pipeline, deal_figures = timed(figures, args.runs)
    t_chart, png = timed(lambda: report_chart(report, gettext_for("zh"), pipeline=deal_figures, language="zh"),
                         args.runs)
    t_xlsx, xlsx = timed(lambda: report_xlsx(report, gettext_for("zh"), pipeline=deal_figures, language="zh"),
                         args.runs)
    fast_table = fast_rep_table(report)
    t_naive, naive_table = timed(
        lambda: naive_rep_table(data, period, NOW, settings.follow_up_grace),
        args.naive_runs,
        warm=False,
    )
    if naive_table != fast_table:
        raise SystemExit("the naive baseline disagrees with compute_report")

    print(
        f"period {period.label()} ({TZ.key}); report: {report.interactions:,} interactions, "
        f"{report.follow_ups.due:,} follow-ups due, {len(report.reps)} reps "
        f"({len(report.inactive_reps)} idle), {len(report.clv.estimates):,} CLV rows; "
        f"{args.runs} runs, load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    print(f"{'step':<36}{'median':>12}{'min':>12}")
    print(f"pipeline: {len(deals):,} deals; {deal_figures.new_count:,} new, {deal_figures.won_count:,} won, "
          f"{deal_figures.lost_count:,} lost in the period, {deal_figures.open_count:,} open")
    print(line("compute_report", t_report))
    print(line("pipeline_figures", t_pipeline))
    print(line(f"report_chart (PNG, {len(png):,} B)", t_chart))
    print(line(f"report_xlsx ({len(xlsx):,} B)", t_xlsx))
    total = [a + b + c + d for a, b, c, d in zip(t_report, t_pipeline, t_chart, t_xlsx, strict=True)]
    print(line("total", total))
    ratio = statistics.median(t_naive) / statistics.median(t_report)
    print(
        line(
            "naive: rep table + follow-ups only",
            t_naive,
            f"  same numbers; {ratio:.1f}x all of compute_report",
        )
    )


if __name__ == "__main__":
    main()
