"""The report's pipeline figures (deals): a plain function over deals and the period.

* new: deals created in the period (count, amount);
* won / lost: deals closed so in the period (count, amount); the win rate is
  won ÷ (won + lost) of those, None when none closed;
* the average cycle time: days from creation to close of the deals closed in
  the period (won and lost);
* the pipeline by stage: the deals open now, per open stage (count, amount,
  weighted amount = amount × probability);
* the forecast for the period: what was won in it plus the weighted amount of
  the open deals expected to close in it (or already overdue).

Amounts are in the company currency; deals in another currency are counted
but their amounts are left out (``other_currency`` says how many), never
converted at a guessed rate.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from bot.domain.deals import Pipeline, Stage, cycle_days, weighted
from bot.domain.models import LOST_STAGE, WON_STAGE, Deal


@dataclass(frozen=True)
class StageFigures:
    stage: Stage
    count: int
    amount: Decimal
    weighted: Decimal


@dataclass(frozen=True)
class PipelineFigures:
    currency: str
    new_count: int = 0
    new_amount: Decimal = Decimal(0)
    won_count: int = 0
    won_amount: Decimal = Decimal(0)
    lost_count: int = 0
    lost_amount: Decimal = Decimal(0)
    win_rate: float | None = None  # 0..1
    avg_cycle_days: float | None = None
    stages: tuple[StageFigures, ...] = ()
    open_count: int = 0
    open_amount: Decimal = Decimal(0)
    open_weighted: Decimal = Decimal(0)
    forecast: Decimal = Decimal(0)
    other_currency: int = 0
    lost_reasons: tuple[tuple[str, int], ...] = field(default=())  # most given first

    @property
    def empty(self) -> bool:
        return not (self.new_count or self.won_count or self.lost_count or self.open_count)


def _within(moment: datetime | None, start: datetime, end: datetime) -> bool:
    return moment is not None and start <= moment < end


def pipeline_figures(deals: Iterable[Deal], *, start: datetime, end: datetime, last_day: date,
                     pipeline: Pipeline, currency: str) -> PipelineFigures:
    """The figures of ``[start, end)`` (``last_day``: the period's last local day, for close dates)."""
    zero = Decimal(0)
    new_count = won_count = lost_count = other = 0
    new_amount = won_amount = lost_amount = forecast = zero
    cycles: list[float] = []
    reasons: dict[str, int] = {}
    stages = {s.code: [0, zero, zero] for s in pipeline.open_stages}
    for deal in deals:
        same = deal.currency == currency
        if not same:
            other += 1
        amount = deal.amount if same else zero
        if _within(deal.created_at, start, end):
            new_count += 1
            new_amount += amount
        if _within(deal.closed_at, start, end):
            days = cycle_days(deal)
            if days is not None:
                cycles.append(days)
            if deal.stage == WON_STAGE:
                won_count += 1
                won_amount += amount
                forecast += amount
            elif deal.stage == LOST_STAGE:
                lost_count += 1
                lost_amount += amount
                if deal.lost_reason:
                    reasons[deal.lost_reason] = reasons.get(deal.lost_reason, 0) + 1
        if deal.open and deal.stage in stages:
            slot = stages[deal.stage]
            slot[0] += 1
            slot[1] += amount
            share = weighted(deal) if same else zero
            slot[2] += share
            if deal.expected_close_on is not None and deal.expected_close_on <= last_day:
                forecast += share
    closed = won_count + lost_count
    by_code = {s.code: s for s in pipeline.open_stages}
    figures = tuple(StageFigures(by_code[code], int(c), a, w) for code, (c, a, w) in stages.items())
    return PipelineFigures(
        currency=currency, new_count=new_count, new_amount=new_amount, won_count=won_count,
        won_amount=won_amount, lost_count=lost_count, lost_amount=lost_amount,
        win_rate=won_count / closed if closed else None,
        avg_cycle_days=sum(cycles) / len(cycles) if cycles else None,
        stages=figures, open_count=sum(f.count for f in figures),
        open_amount=sum((f.amount for f in figures), zero), open_weighted=sum((f.weighted for f in figures), zero),
        forecast=forecast, other_currency=other,
        lost_reasons=tuple(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))),
    )
