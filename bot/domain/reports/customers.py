"""The customer base: the tier and stage mix, its movement, and the customers most at risk."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.domain.churn import Reason
from bot.domain.models import Customer, LifecycleStage, ValueTier
from bot.domain.reports._util import ordered
from bot.domain.reports.inputs import AtRiskInput

NO_TIER = "none"


def mix(customers: Iterable[Customer]) -> tuple[dict[str, int], dict[str, int]]:
    tiers: Counter[str] = Counter()
    stages: Counter[str] = Counter()
    for c in customers:
        tier = c.value_tier_override or c.value_tier
        tiers[tier if tier is not None else NO_TIER] += 1
        stages[c.stage_override or c.stage] += 1
    tier_counts = ordered(tiers, ValueTier)
    tier_counts[NO_TIER] = tiers.get(NO_TIER, 0)
    return tier_counts, ordered(stages, LifecycleStage)


def movement(now: Mapping[str, int], before: Any) -> dict[str, int] | None:
    if not isinstance(before, Mapping):
        return None
    keys = list(now) + [k for k in before if k not in now]
    return {k: now.get(k, 0) - int(before.get(k, 0)) for k in keys}



@dataclass(frozen=True)
class AtRiskRow:
    customer_id: str
    name: str
    owner_id: str
    owner_name: str
    score: int
    reasons: tuple[Reason, ...] = ()  # codes and numbers: bot.labels renders them



def top_at_risk(
    items: Iterable[AtRiskInput | tuple[str, int, Sequence[Reason]]],
    customers: Iterable[Customer],
    names: Mapping[str, str],
    limit: int,
) -> tuple[AtRiskRow, ...]:
    by_id = {c.id: c for c in customers}
    scored = []
    for item in items:
        entry = (
            item
            if isinstance(item, AtRiskInput)
            else AtRiskInput(item[0], int(item[1]), tuple(item[2]))
        )
        customer = by_id.get(entry.customer_id)
        if customer is None:  # archived or out of scope
            continue
        scored.append((entry, customer))
    scored.sort(key=lambda pair: (-pair[0].score, pair[1].name, pair[0].customer_id))
    return tuple(
        AtRiskRow(
            customer_id=entry.customer_id,
            name=customer.name,
            owner_id=customer.owner_id,
            owner_name=names.get(customer.owner_id, customer.owner_id),
            score=entry.score,
            reasons=tuple(entry.reasons),
        )
        for entry, customer in scored[:limit]
    )

