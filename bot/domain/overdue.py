"""Overdue: whether something due (a follow-up) has passed, and by how many days.

Plain rules, no I/O: the card and the agenda mark what is overdue and list it first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Overdue:
    """``due`` has passed: ``days`` whole calendar days ago in the reader's zone (0: earlier today)."""

    due: datetime
    days: int


def overdue(due: datetime | None, now: datetime, tz: tzinfo) -> Overdue | None:
    """``Overdue`` if ``due`` is before ``now``; ``None`` if it is still ahead or there is none."""
    if due is None or due >= now:
        return None
    return Overdue(due=due, days=(now.astimezone(tz).date() - due.astimezone(tz).date()).days)


def overdue_first(items: Iterable[T], due_of: Callable[[T], datetime | None], now: datetime) -> list[T]:
    """``items`` with the overdue ones first (longest overdue at the top), then the rest by due time;
    items without a due time last."""
    def key(item: T) -> tuple[int, float]:
        due = due_of(item)
        if due is None:
            return 2, 0.0
        return (0 if due < now else 1), due.timestamp()

    return sorted(items, key=key)
