"""Customer lifetime value: AOV × orders per year × expected lifetime (``docs/clv.md``)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from operator import attrgetter

from bot.domain.models import Customer, Purchase
from bot.domain.reports.inputs import DAYS_PER_YEAR, ReportSettings
from bot.domain.reports.periods import local_date

CENT = Decimal("0.01")


@dataclass(frozen=True)
class ClvEstimate:
    """One customer's CLV in one currency (``docs/clv.md``)."""

    customer_id: str
    name: str
    owner_id: str
    currency: str
    orders: int  # purchase days
    total: Decimal
    first_purchase: date
    observed_days: int
    lifetime_years: Decimal
    clv: Decimal  # computed unrounded, then rounded to cents

    @property
    def average_order_value(self) -> Decimal:
        """Total ÷ orders, rounded to cents (for display; CLV does not use the rounded value)."""
        return (self.total / self.orders).quantize(CENT, ROUND_HALF_UP)

    @property
    def orders_per_year(self) -> Decimal:
        """Orders ÷ observed years, rounded to 0.01 (for display)."""
        return (Decimal(self.orders * DAYS_PER_YEAR) / self.observed_days).quantize(
            CENT, ROUND_HALF_UP
        )


@dataclass(frozen=True)
class ClvSummary:
    estimates: tuple[ClvEstimate, ...] = ()  # highest CLV first
    average: Mapping[str, Decimal] = field(default_factory=dict, hash=False)  # per currency
    customers: Mapping[str, int] = field(default_factory=dict, hash=False)  # per currency

    def for_customer(self, customer_id: str) -> list[ClvEstimate]:
        return [e for e in self.estimates if e.customer_id == customer_id]



def clv_estimates(
    customers: Iterable[Customer],
    purchases: Iterable[Purchase],
    now: datetime,
    tz: tzinfo,
    settings: ReportSettings | None = None,
) -> ClvSummary:
    """CLV per customer and currency: AOV × orders per year × expected lifetime (years).

    An *order* is a purchase day (several lines bought on one visit are one
    order, as in ``bot.domain.classification``); AOV = total ÷ orders; orders per
    year = orders ÷ (observed days ÷ 365), observed days = days from the first
    purchase to today, at least ``clv_min_observation_days`` (so one purchase
    last week does not extrapolate to 52 a year).  The product is simply
    total × 365 × lifetime ÷ observed days, computed exactly then rounded to
    cents.  Purchases after today are ignored; archived customers have none.
    """
    settings = settings or ReportSettings()
    today = local_date(now, tz)
    lifetime = settings.clv_lifetime_years
    wanted = {c.id: c for c in customers if not c.archived}
    totals: dict[tuple[str, str], Decimal] = {}
    days: dict[tuple[str, str], set[date]] = {}
    for p in purchases:
        day = p.purchased_on
        if day > today or p.customer_id not in wanted:
            continue
        key = (p.customer_id, p.currency)
        total = totals.get(key)
        if total is None:
            totals[key] = p.amount
            days[key] = {day}
        else:
            totals[key] = total + p.amount
            days[key].add(day)

    factor = DAYS_PER_YEAR * lifetime
    minimum = settings.clv_min_observation_days
    estimates = []
    for key, total in totals.items():
        customer_id, currency = key
        order_days = days[key]
        first = min(order_days)
        observed = max((today - first).days, minimum)
        customer = wanted[customer_id]
        estimates.append(
            ClvEstimate(
                customer_id=customer_id,
                name=customer.name,
                owner_id=customer.owner_id,
                currency=currency,
                orders=len(order_days),
                total=total,
                first_purchase=first,
                observed_days=observed,
                lifetime_years=lifetime,
                clv=(total * factor / observed).quantize(CENT, ROUND_HALF_UP),
            )
        )
    estimates.sort(key=attrgetter("currency", "customer_id"))
    estimates.sort(key=attrgetter("clv"), reverse=True)  # stable: ties stay in that order
    sums: dict[str, Decimal] = defaultdict(Decimal)
    counts: Counter[str] = Counter()
    for e in estimates:
        sums[e.currency] += e.clv
        counts[e.currency] += 1
    average = {cur: (sums[cur] / counts[cur]).quantize(CENT, ROUND_HALF_UP) for cur in sorted(sums)}
    return ClvSummary(estimates=tuple(estimates), average=average, customers=dict(counts))

