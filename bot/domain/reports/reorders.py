"""Reorders expected in the coming days (issue 20.2), for the manager's report.

A plain function over the scope's customers and their purchase histories:
each live customer's :func:`bot.domain.reorder.predict` whose expected date
falls from ``today`` to ``today + days`` (inclusive), soonest first, with the
expected amount; and the total expected per currency.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from bot.domain import reorder
from bot.domain.models import Customer, Purchase


@dataclass(frozen=True)
class ExpectedReorder:
    customer_id: str
    name: str
    owner_id: str
    owner_name: str
    expected_on: date
    tolerance_days: int
    interval_days: int
    expected_amount: Decimal | None
    currency: str | None


@dataclass(frozen=True)
class ExpectedReorders:
    start: date
    end: date  # inclusive
    rows: tuple[ExpectedReorder, ...] = ()
    totals: Mapping[str, Decimal] = field(default_factory=dict, hash=False)  # per currency


def expected_reorders(
    customers: Iterable[Customer],
    purchases: Mapping[str, Sequence[Purchase]],
    today: date,
    days: int,
    rules: reorder.ReorderRules | None = None,
    owner_names: Mapping[str, str] | None = None,
) -> ExpectedReorders:
    """The live customers whose next purchase is expected in ``today .. today + days``."""
    rules = rules or reorder.ReorderRules()
    end = today + timedelta(days=days)
    if not rules.enabled:
        return ExpectedReorders(today, end)
    rows: list[ExpectedReorder] = []
    for customer in customers:
        if customer.archived:
            continue
        prediction = reorder.predict(purchases.get(customer.id, ()), today=today, rules=rules)
        if prediction is None or not today <= prediction.expected_on <= end:
            continue
        rows.append(ExpectedReorder(
            customer.id, customer.name, customer.owner_id,
            (owner_names or {}).get(customer.owner_id, customer.owner_id), prediction.expected_on,
            prediction.tolerance_days, prediction.interval_days, prediction.expected_amount,
            prediction.currency,
        ))
    rows.sort(key=lambda r: (r.expected_on, r.name, r.customer_id))
    totals: dict[str, Decimal] = {}
    for row in rows:
        if row.expected_amount is not None and row.currency:
            totals[row.currency] = totals.get(row.currency, Decimal(0)) + row.expected_amount
    return ExpectedReorders(today, end, tuple(rows), totals)
