"""Benchmark: reorder-prediction accuracy on a held-out last purchase (issue 20.2).

    python bench/reorder_accuracy.py                      # 3000 histories, seed 20
    python bench/reorder_accuracy.py --histories 10000 --seed 7

Histories are generated from one seeded ``random.Random`` (the same on every
run and machine), each with a known rhythm (interval 7-120 days) and one of
these shapes, in equal shares:

* ``regular``  — gaps = interval + Gaussian noise, SD 5 % of the interval;
* ``noisy``    — the same, SD 20 %;
* ``trending`` — the interval drifts by ±1-3 % per purchase, SD 8 % noise;
* ``skips``    — SD 10 % noise, and each gap has a 10 % chance of being a
  skipped order (twice the interval);
* ``bulk``     — SD 10 % noise, and 30 % of the orders come with a second line
  on the same day (one occasion for the predictor).

Each history has 4-16 purchase occasions.  The last one is held out and the
prediction is made from the purchases before it.
Printed per shape and overall: how many histories got a prediction
(coverage), the share whose held-out purchase falls inside the predicted
window, and the median absolute error in days.  The naive baseline, measured
on the same histories in the same run, repeats the last interval; its
"inside" share uses a window of the same width as the predictor's, so the two
are compared at equal window widths.
"""

from __future__ import annotations

import argparse
import platform
import random
import statistics
import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.domain.models import Purchase
from bot.domain.reorder import ReorderRules, predict

SHAPES = ("regular", "noisy", "trending", "skips", "bulk")
START = date(2024, 1, 1)
_CREATED = datetime(2024, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class History:
    shape: str
    interval: int
    purchases: list[Purchase]


def _line(customer_id: str, day: date, amount: Decimal, index: int) -> Purchase:
    return Purchase(
        id=f"{customer_id}-{index}",
        customer_id=customer_id,
        owner_id="rep",
        product="item",
        amount=amount,
        currency="CNY",
        purchased_on=day,
        created_at=_CREATED + timedelta(seconds=index),
        updated_at=_CREATED,
    )


def generate(
    rng: random.Random, shape: str, *, interval: int, occasions: int, customer_id: str = "c"
) -> History:
    """One customer's purchase lines with a known rhythm (see the module doc)."""
    noise = {"regular": 0.05, "noisy": 0.20, "trending": 0.08}.get(shape, 0.10)
    drift = rng.choice((-1, 1)) * rng.uniform(0.01, 0.03) if shape == "trending" else 0.0
    day = START + timedelta(days=rng.randrange(0, 60))
    base_amount = rng.uniform(200, 5000)
    lines: list[Purchase] = []
    current = float(interval)
    for n in range(occasions):
        if n:
            current *= 1 + drift
            gap = rng.gauss(current, noise * current)
            if shape == "skips" and rng.random() < 0.10:
                gap += current
            day += timedelta(days=max(1, round(gap)))
        amount = Decimal(str(round(base_amount * rng.uniform(0.8, 1.2), 2)))
        lines.append(_line(customer_id, day, amount, len(lines)))
        if shape == "bulk" and rng.random() < 0.30:
            lines.append(_line(customer_id, day, Decimal("99.00"), len(lines)))
    return History(shape, interval, lines)


def histories(count: int, seed: int) -> list[History]:
    rng = random.Random(seed)
    return [
        generate(
            rng,
            SHAPES[i % len(SHAPES)],
            interval=rng.randint(7, 120),
            occasions=rng.randint(4, 16),
            customer_id=f"c{i}",
        )
        for i in range(count)
    ]


@dataclass
class Tally:
    total: int = 0
    predicted: int = 0
    inside: int = 0
    baseline_inside: int = 0
    errors: list[int] | None = None
    baseline_errors: list[int] | None = None

    def row(self, name: str) -> str:
        errors = self.errors or [0]
        base = self.baseline_errors or [0]
        predicted = max(1, self.predicted)
        return (
            f"| {name} | {self.total} | {self.predicted / max(1, self.total):.0%} "
            f"| {self.inside / predicted:.1%} | {statistics.median(errors):g} "
            f"| {self.baseline_inside / predicted:.1%} | {statistics.median(base):g} |"
        )


def evaluate(items: list[History], rules: ReorderRules | None = None) -> dict[str, Tally]:
    tallies = {name: Tally(errors=[], baseline_errors=[]) for name in (*SHAPES, "all")}
    for history in items:
        days = sorted({p.purchased_on for p in history.purchases})
        held_out = days[-1]
        known = [p for p in history.purchases if p.purchased_on < held_out]
        for tally in (tallies[history.shape], tallies["all"]):
            tally.total += 1
        prediction = predict(known, rules=rules)
        if prediction is None:
            continue
        error = abs((held_out - prediction.expected_on).days)
        baseline_on = days[-2] + (days[-2] - days[-3])
        baseline_error = abs((held_out - baseline_on).days)
        for tally in (tallies[history.shape], tallies["all"]):
            assert tally.errors is not None and tally.baseline_errors is not None
            tally.predicted += 1
            tally.inside += error <= prediction.tolerance_days
            tally.baseline_inside += baseline_error <= prediction.tolerance_days
            tally.errors.append(error)
            tally.baseline_errors.append(baseline_error)
    return tallies


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--histories", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=20)
    args = parser.parse_args(argv)
    tallies = evaluate(histories(args.histories, args.seed))
    print(
        f"# reorder_accuracy — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
        f"{platform.machine()}, python {platform.python_version()}, "
        f"{args.histories} histories, seed {args.seed}"
    )
    print()
    print(
        "| shape | histories | predicted | inside window | median error (days) "
        "| baseline inside (same width) | baseline median error |"
    )
    print("|---|---|---|---|---|---|---|")
    for name in (*SHAPES, "all"):
        print(tallies[name].row(name))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
