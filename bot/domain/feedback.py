"""Rules of customer feedback (客户反馈处理): due dates, escalation, the status workflow.

Plain functions over plain data, no I/O; "now" is always an argument.

- **Due date** (:func:`feedback_due_at`): created + ``[feedback] due_hours_<severity>``.
- **Escalation**: an item still unanswered ``escalate_after_hours`` after its
  due time goes to the owner's managers as well (``bot.services.reminder_generation``).
- **Editing**: reps may edit or delete their own entries for
  ``edit_window_hours`` (the rule itself is ``bot.domain.access.can_edit_entry``).
- **Status workflow** (:data:`TRANSITIONS`, :func:`can_transition`):
  open → in progress → resolved → confirmed by the customer; open may jump
  straight to resolved; a resolved or confirmed item can be reopened (back to
  open, its resolved/confirmed times cleared so that the resolution time
  counts the final resolution).

:class:`FeedbackRules` *is* the ``[feedback]`` section of the configuration
(``bot.config`` builds it once from ``config.toml`` and the environment).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime, timedelta

from bot.domain.models import FeedbackStatus, Severity


@dataclass(frozen=True)
class FeedbackRules:
    """How soon feedback must be answered, by severity, and when an overdue one goes to the manager."""

    due_hours_high: int = 24
    due_hours_medium: int = 72
    due_hours_low: int = 168
    escalate_after_hours: int = 48
    edit_window_hours: int = 24  # reps may edit or delete their own entries this long

    def __post_init__(self) -> None:
        for f in fields(self):
            if getattr(self, f.name) <= 0:
                raise ValueError(f"{f.name} must be positive")

    def due_hours(self, severity: Severity) -> int:
        return {
            Severity.HIGH: self.due_hours_high,
            Severity.MEDIUM: self.due_hours_medium,
            Severity.LOW: self.due_hours_low,
        }[severity]

    @property
    def escalate_after(self) -> timedelta:
        return timedelta(hours=self.escalate_after_hours)


def feedback_due_at(severity: Severity, created_at: datetime, rules: FeedbackRules) -> datetime:
    """When a response is due: created + the severity's hours."""
    return created_at + timedelta(hours=rules.due_hours(severity))


TRANSITIONS: dict[FeedbackStatus, frozenset[FeedbackStatus]] = {
    FeedbackStatus.OPEN: frozenset({FeedbackStatus.IN_PROGRESS, FeedbackStatus.RESOLVED}),
    FeedbackStatus.IN_PROGRESS: frozenset({FeedbackStatus.RESOLVED, FeedbackStatus.OPEN}),
    FeedbackStatus.RESOLVED: frozenset({FeedbackStatus.CONFIRMED, FeedbackStatus.OPEN}),
    FeedbackStatus.CONFIRMED: frozenset({FeedbackStatus.OPEN}),
}


def can_transition(current: FeedbackStatus, new: FeedbackStatus) -> bool:
    """Whether feedback may move from ``current`` to ``new`` (see :data:`TRANSITIONS`)."""
    return new in TRANSITIONS.get(current, frozenset())


def next_statuses(current: FeedbackStatus) -> list[FeedbackStatus]:
    """The statuses ``current`` may move to, in workflow order."""
    return [s for s in FeedbackStatus if can_transition(current, s)]


def is_reopen(current: FeedbackStatus, new: FeedbackStatus) -> bool:
    return new is FeedbackStatus.OPEN and current is not FeedbackStatus.OPEN


def resolution_hours(created_at: datetime, resolved_at: datetime | None) -> float | None:
    """Resolution time in hours (resolved − created), None while unresolved."""
    if resolved_at is None:
        return None
    return round((resolved_at - created_at).total_seconds() / 3600, 2)
