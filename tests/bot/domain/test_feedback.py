"""The rules of customer feedback (bot/domain/feedback.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.domain import feedback as rules
from bot.domain.models import FeedbackStatus, Severity

NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


def test_feedback_due_dates_by_severity() -> None:
    default = rules.FeedbackRules()
    assert rules.feedback_due_at(Severity.HIGH, NOW, default) == NOW + timedelta(hours=24)
    assert rules.feedback_due_at(Severity.MEDIUM, NOW, default) == NOW + timedelta(hours=72)
    assert rules.feedback_due_at(Severity.LOW, NOW, default) == NOW + timedelta(hours=168)
    custom = rules.FeedbackRules(due_hours_high=4, due_hours_medium=8, due_hours_low=48)
    assert rules.feedback_due_at(Severity.HIGH, NOW, custom) == NOW + timedelta(hours=4)


def test_status_transitions() -> None:
    open_, progress, resolved, confirmed = (FeedbackStatus.OPEN, FeedbackStatus.IN_PROGRESS,
                                            FeedbackStatus.RESOLVED, FeedbackStatus.CONFIRMED)
    allowed = {(a, b) for a in FeedbackStatus for b in FeedbackStatus if rules.can_transition(a, b)}
    assert allowed == {
        (open_, progress), (open_, resolved),
        (progress, resolved), (progress, open_),
        (resolved, confirmed), (resolved, open_),
        (confirmed, open_),
    }
    assert not rules.can_transition(open_, confirmed)
    assert not rules.can_transition(open_, open_)
    assert rules.next_statuses(resolved) == [open_, confirmed]
    assert rules.is_reopen(confirmed, open_) and not rules.is_reopen(open_, progress)


def test_resolution_time_in_hours() -> None:
    assert rules.resolution_hours(NOW, NOW + timedelta(hours=5, minutes=30)) == 5.5
    assert rules.resolution_hours(NOW, None) is None


def test_rules_refuse_non_positive_hours() -> None:
    with pytest.raises(ValueError, match="escalate_after_hours"):
        rules.FeedbackRules(escalate_after_hours=0)
    assert rules.FeedbackRules().escalate_after == timedelta(hours=48)
