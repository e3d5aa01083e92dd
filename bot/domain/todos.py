"""To-dos (待办): the rules as plain functions — reading a quick entry, ordering a list.

A quick entry is one line, ``/todo 周四给张伟寄样品`` or ``/todo send samples to
Zhang Wei on Thursday``: the due time is a phrase at its start or its end that
``bot.domain.dates.parse_when`` reads (周四, 明天下午三点, "on Thursday", "by
Fri 3pm"); the rest is the to-do's text.  A customer is named when the text
contains the name of one the author sees (the longest such name wins).

A list puts overdue first, then today's, then upcoming ones, then those with
no due time; within a group by due time, then by when they were written.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import IntEnum
from zoneinfo import ZoneInfo

from bot.domain.dates import parse_when
from bot.domain.models import Todo
from bot.domain.validation import ValidationError, parse_free_text

TEXT_MAX_LENGTH = 1000
PHRASE_MAX_WORDS = 5  # an English due phrase: "next Tuesday at 3 pm" at most
PHRASE_MAX_CHARS = 12  # a Chinese one: "下周二下午三点半" and the like
_CJK = re.compile(r"[\u3400-\u9fff]")
_LEAD_IN = re.compile(r"^(on|by|at|before|due|until|in)\s+", re.IGNORECASE)
_TRAIL_IN = re.compile(r"\s+(on|by|at|before|due|until)$", re.IGNORECASE)
_ZH_LINK = "前之内的,，、 "


class Group(IntEnum):
    OVERDUE = 0
    TODAY = 1
    UPCOMING = 2
    UNDATED = 3


@dataclass(frozen=True)
class QuickTodo:
    text: str
    due_at: datetime | None


def _try_when(phrase: str, now: datetime, tz: ZoneInfo) -> datetime | None:
    phrase = phrase.strip(" ,，")
    if not phrase or phrase.isdigit():
        return None
    try:
        return parse_when(phrase, now=now, tz=tz)
    except ValidationError as error:
        if error.reason_code in ("date.in_past", "date.too_far"):
            raise
        return None


def split_due(text: str, *, now: datetime, tz: ZoneInfo) -> QuickTodo:
    """The to-do's text and its due time (None: no date phrase found) from one typed line.

    A phrase naming a time gone by is refused (``date.in_past``) rather than read as text.
    """
    cleaned = parse_free_text(text, TEXT_MAX_LENGTH, field_name="text")
    line = " ".join(cleaned.split())
    if _CJK.search(line):
        compact = line
        for size in range(min(PHRASE_MAX_CHARS, len(compact) - 1), 1, -1):
            head, rest = compact[:size], compact[size:]
            if (when := _try_when(head, now, tz)) is not None and rest.strip(_ZH_LINK):
                return QuickTodo(rest.strip(_ZH_LINK), when)
            tail, rest = compact[-size:], compact[:-size]
            if (when := _try_when(tail, now, tz)) is not None and rest.strip(_ZH_LINK):
                return QuickTodo(rest.strip(_ZH_LINK), when)
        return QuickTodo(cleaned, None)
    words = line.split(" ")
    for size in range(min(PHRASE_MAX_WORDS, len(words) - 1), 0, -1):
        tail, rest = " ".join(words[-size:]), " ".join(words[:-size])
        if (when := _try_when(_LEAD_IN.sub("", tail), now, tz)) is not None:
            return QuickTodo(_TRAIL_IN.sub("", rest).strip(" ,"), when)
        head, rest = " ".join(words[:size]), " ".join(words[size:])
        if (when := _try_when(_LEAD_IN.sub("", head), now, tz)) is not None:
            return QuickTodo(rest.strip(" ,"), when)
    return QuickTodo(cleaned, None)


def named_customer(text: str, names: Mapping[str, str]) -> str | None:
    """The id of the customer whose name the text contains (the longest name; case-insensitive)."""
    lowered = text.lower()
    best: tuple[int, str] | None = None
    for customer_id, name in names.items():
        name = name.strip().lower()
        if len(name) >= 2 and name in lowered and (best is None or len(name) > best[0]):
            best = (len(name), customer_id)
    return best[1] if best else None


def group(todo: Todo, now: datetime, tz: ZoneInfo) -> Group:
    if todo.due_at is None:
        return Group.UNDATED
    if todo.due_at < now:
        return Group.OVERDUE
    end_of_today = datetime.combine(now.astimezone(tz).date() + timedelta(days=1), datetime.min.time(), tz)
    return Group.TODAY if todo.due_at < end_of_today else Group.UPCOMING


def ordered(todos: Sequence[Todo], now: datetime, tz: ZoneInfo) -> list[tuple[Group, Todo]]:
    """Overdue, today, upcoming, undated; each by due time, then by when written."""
    far = datetime.max.replace(tzinfo=tz)
    keyed = [(group(t, now, tz), t) for t in todos]
    return sorted(keyed, key=lambda pair: (pair[0], pair[1].due_at or far, pair[1].created_at, pair[1].id))


def due_key(todo_id: str) -> str:
    """The outbox row of a to-do's due reminder: one per to-do, moved when its due time moves."""
    return f"todo:{todo_id}"


def assigned_key(todo_id: str) -> str:
    return f"todo_assigned:{todo_id}"
