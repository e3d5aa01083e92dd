"""The to-do rules: reading a quick entry's due time and customer, the list order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.domain import todos
from bot.domain.models import Todo
from bot.domain.validation import ValidationError

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # Monday 10:00 in Shanghai


@pytest.mark.parametrize(("text", "rest", "weekday", "hour"), [
    ("周四给张伟寄样品", "给张伟寄样品", 3, 9),
    ("明天下午三点给李娜打电话", "给李娜打电话", 1, 15),
    ("给张伟寄样品 下周一", "给张伟寄样品", 0, 9),
    ("send samples to Zhang Wei on Thursday", "send samples to Zhang Wei", 3, 9),
    ("call back tomorrow 3pm", "call back", 1, 15),
    ("tomorrow call Li", "call Li", 1, 9),
    ("send the quote by Friday", "send the quote", 4, 9),
])
def test_the_due_phrase_is_read_at_either_end(text: str, rest: str, weekday: int, hour: int) -> None:
    entry = todos.split_due(text, now=NOW, tz=SHANGHAI)
    assert entry.text == rest
    local = entry.due_at.astimezone(SHANGHAI)
    assert (local.weekday(), local.hour) == (weekday, hour) and entry.due_at > NOW


@pytest.mark.parametrize("text", ["寄样品", "buy 3 boxes", "call 13800138000", "🎉 <b>party</b>"])
def test_no_due_phrase_keeps_the_whole_text(text: str) -> None:
    entry = todos.split_due(text, now=NOW, tz=SHANGHAI)
    assert entry.text == text and entry.due_at is None


@pytest.mark.parametrize("text", ["", "   ", "x" * 1001])
def test_empty_or_huge_is_refused_with_a_reason(text: str) -> None:
    with pytest.raises(ValidationError) as refused:
        todos.split_due(text, now=NOW, tz=SHANGHAI)
    assert refused.value.reason_code in ("text.empty", "text.too_long")


def test_a_customer_is_named_by_the_longest_name_in_the_text() -> None:
    names = {"c1": "张伟", "c2": "张伟明", "c3": "Li", "c4": "Zhang Wei"}
    assert todos.named_customer("给张伟明寄样品", names) == "c2"
    assert todos.named_customer("给张伟寄样品", names) == "c1"
    assert todos.named_customer("send samples to zhang wei", names) == "c4"
    assert todos.named_customer("visit the office", {"c5": "王"}) is None  # one character names nobody


def test_the_list_is_overdue_today_upcoming_undated() -> None:
    def todo(text: str, due: datetime | None, created: int = 0) -> Todo:
        return Todo(text=text, assignee_id="7", created_by="7", due_at=due,
                    created_at=NOW + timedelta(seconds=created), updated_at=NOW)

    items = [todo("undated", None), todo("next week", NOW + timedelta(days=7)),
             todo("tonight", NOW + timedelta(hours=8)), todo("late", NOW - timedelta(days=1)),
             todo("later today", NOW + timedelta(hours=9)), todo("just late", NOW - timedelta(minutes=5))]
    ordered = todos.ordered(items, NOW, SHANGHAI)
    assert [t.text for _g, t in ordered] == ["late", "just late", "tonight", "later today", "next week", "undated"]
    assert [g for g, _t in ordered] == [todos.Group.OVERDUE] * 2 + [todos.Group.TODAY] * 2 + [
        todos.Group.UPCOMING, todos.Group.UNDATED]
