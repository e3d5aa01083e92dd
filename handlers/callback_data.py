"""Callback data: one small format, parsed in one place, never trusted.

Format: ``<feature>:<action>[:<arg>...]``, ASCII, at most 64 bytes (Telegram's
limit). ``parse`` accepts only the feature/action pairs declared in
``ACTIONS`` with the right number of arguments; anything else — stale
buttons from an older version, forged data — parses to ``None`` and the
caller answers "not available". A parsed value only says what was pressed:
every handler still checks that the caller may do it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_BYTES = 64
_ARG = re.compile(r"^[A-Za-z0-9_.+-]{1,40}$")

# (feature, action) -> number of arguments
ACTIONS: dict[tuple[str, str], int] = {
    ("lang", "set"): 1,
    # visit check-in (handlers/visits.py)
    ("visit", "out"): 1,
    ("visit", "setloc"): 1,
    ("visit", "day"): 1,
    # invitations
    ("inv", "revoke"): 1,
    # staff management
    ("staff", "list"): 0,
    ("staff", "view"): 1,
    ("staff", "role"): 1,
    ("staff", "setrole"): 2,
    ("staff", "team"): 1,
    ("staff", "setteam"): 2,
    ("staff", "newteam"): 1,
    ("staff", "deact"): 1,
    ("staff", "deact_ok"): 1,
    ("staff", "react"): 1,
    ("staff", "move"): 1,
    ("staff", "moveto"): 2,
    ("staff", "move_ok"): 2,
    # the add / edit customer wizard (its buttons: handlers/wizard.py declares them)
    ("add", "force"): 1,
    # the customer card
    ("cust", "view"): 1,
    ("cust", "edit"): 1,
    ("cust", "archive"): 1,
    ("cust", "restore"): 1,
    ("cust", "purge"): 1,
    ("cust", "purge_ok"): 1,
    ("cust", "history"): 2,
    ("cust", "audit"): 1,
    ("cust", "reassign"): 1,
    ("cust", "reassign_to"): 2,
    ("cust", "class"): 1,
    ("cust", "tier"): 2,
    ("cust", "stage"): 2,
    # search and lists
    ("find", "page"): 1,
    ("list", "page"): 1,
    ("list", "tier"): 1,
    ("list", "stage"): 1,
    ("list", "owner"): 1,
    ("list", "archived"): 1,
    ("list", "clear"): 0,
    # purchases
    ("buy", "add"): 1,
    # reminders, greetings, settings ("log:start" is the log-interaction wizard's entry)
    ("log", "start"): 1,
    ("rem", "snooze"): 2,
    ("rem", "open"): 1,  # a digest line's reminder (a report, greetings, an agenda)
    ("greet", "sent"): 2,
    ("set", "quiet"): 1,
    # logging calls and visits (issue 6; "log:start" above is its entry)
    ("log", "view"): 1,
    ("log", "edit"): 1,
    ("log", "del"): 1,
    ("log", "del_ok"): 1,
    # customer feedback (issue 6)
    ("fb", "start"): 1,
    ("fb", "view"): 1,
    ("fb", "status"): 2,
    ("fb", "resolve"): 1,
    ("fb", "edit"): 1,
    ("fb", "del"): 1,
    ("fb", "del_ok"): 1,
    ("fb", "list"): 1,
    # deals (issue 18): the card ("dl"), the form's edit and new buttons ("deal", handlers/wizard.py
    # declares the rest), a won deal's purchase ("buy:won")
    ("dl", "view"): 1,
    ("dl", "stage"): 2,
    ("dl", "won"): 1,
    ("dl", "lost"): 1,
    ("dl", "reason"): 2,
    ("dl", "page"): 1,
    ("dl", "reps"): 0,
    ("dl", "rep"): 1,
    ("dl", "cust"): 1,
    ("deal", "edit"): 1,
    ("deal", "new"): 1,
    ("buy", "won"): 1,
    # manager reports (issue 8); <scope> is "all" or a staff id, <kind>:<dates> a frozen period
    ("rep", "scope"): 1,
    ("rep", "period"): 2,
    ("rep", "custom"): 1,
    ("rep", "xlsx"): 3,
    ("rep", "files"): 3,
    ("rep", "cust"): 2,
    # to-dos and notes (issue 18; their forms declare "todo:…" / "note:…" form buttons)
    ("todo", "start"): 1,  # the card's "✅ To-do": the to-do form's entry
    ("todo", "done"): 1,
    ("todo", "list"): 0,
    ("todo", "from"): 1,  # an interaction's next step as a to-do
    ("note", "start"): 1,  # the card's "📝 Note": the note form's entry
    ("note", "file"): 2,  # re-send a note's file: <note>:<index>
}


@dataclass(frozen=True)
class CallbackData:
    feature: str
    action: str
    args: tuple[str, ...] = ()

    def encode(self) -> str:
        data = ":".join((self.feature, self.action, *self.args))
        if (self.feature, self.action) not in ACTIONS:
            raise ValueError(f"undeclared callback {self.feature}:{self.action}")
        if len(self.args) != ACTIONS[(self.feature, self.action)]:
            raise ValueError(f"wrong argument count for {self.feature}:{self.action}")
        if not all(_ARG.match(arg) for arg in self.args):
            raise ValueError(f"callback argument not encodable: {self.args!r}")
        if len(data.encode()) > MAX_BYTES:
            raise ValueError(f"callback data longer than {MAX_BYTES} bytes: {data!r}")
        return data


def declare(feature: str, action: str, arguments: int) -> None:
    """Add a callback kind; the forms of ``handlers/wizard.py`` declare their buttons here when built."""
    known = ACTIONS.setdefault((feature, action), arguments)
    if known != arguments:
        raise ValueError(f"{feature}:{action} declared with {known} and {arguments} arguments")


def encode(feature: str, action: str, *args: str) -> str:
    return CallbackData(feature, action, tuple(args)).encode()


def parse(data: str | None) -> CallbackData | None:
    if not data or len(data.encode()) > MAX_BYTES:
        return None
    feature, _, rest = data.partition(":")
    action, _, tail = rest.partition(":")
    args = tuple(tail.split(":")) if tail else ()
    if ACTIONS.get((feature, action)) != len(args):
        return None
    if not all(_ARG.match(arg) for arg in args):
        return None
    return CallbackData(feature, action, args)


def pattern(feature: str) -> re.Pattern[str]:
    """A CallbackQueryHandler pattern that routes a feature's buttons."""
    return re.compile(rf"^{re.escape(feature)}:")
