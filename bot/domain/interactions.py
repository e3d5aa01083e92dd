"""Rules for logging contacts (calls, visits, …).

Plain functions over plain data, no I/O; "now" is always an argument.

Logging a contact (客户关系维护):

- **Kind from keywords** (:func:`kind_from_text`): the first keyword in the text
  wins — call/called/phoned/打电话/电话 → call, visit/拜访 → visit,
  met/meet/meeting/见面 → meeting, wechat/微信 → WeChat, email/邮件 → e-mail,
  message/text/sms/短信 → message.  English keywords match whole words
  ("method" is no meeting), Chinese ones anywhere.
- **Quick log** (:func:`parse_quick_log`), the text after the customer's name
  in ``/log 张伟 called, wants a quote, follow up Friday``: the kind from the
  keywords; the direction inbound only when the text says so (来电, "called
  in", …; the rep logs what *they* did, so "called" stays outbound); the
  outcome from a few keywords (no answer/没接 → no answer, 成交/"deal won",
  报价/"sent a quote", …), else *reached* — a logged conversation reached the
  customer; the next follow-up from a "follow up <when>" / "跟进 <when>" /
  "<when>再联系" part or a bare date at the end ("…，下周二"), read with
  :func:`bot.domain.dates.parse_when`; the rest is the summary. An amount in
  the text (:func:`amount_in_text`: "签单了 5万", "closed the deal 50k",
  "¥3000", "2000 USD") is read too, so that a won deal offers to record the
  purchase with it; the summary keeps it as typed.
- **Follow-up buttons** (:func:`follow_up_choice`): tomorrow, in 3 days, next
  week (same weekday), in a month (same day of month, or the month's last
  day) — each at 09:00 in the rep's time zone.
- **Per kind** (:func:`outcomes_for`, :func:`has_direction`): a meeting has
  no "no answer"; a visit or a meeting has no direction (only calls, messages,
  e-mails and WeChat are outbound or inbound).
- **A contact** (:func:`reached_customer`): every outcome but *no answer*
  updates the customer's ``last_contact_at`` — an unanswered call is an
  attempt, as ``bot.domain.classification`` counts it.

Feedback (客户反馈处理) has its own module, ``bot.domain.feedback``.

Editing entries logged by mistake (``bot.domain.access.can_edit_entry``): admins any
time; managers for customers of their teams (and their own) any time; reps
only entries they created themselves, within ``edit_window_hours`` of
creating them.
"""

from __future__ import annotations

import calendar
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.domain.dates import DEFAULT_TIME, parse_when
from bot.domain.models import (
    Direction,
    InteractionKind,
    Outcome,
)
from bot.domain.money import Money, parse_money
from bot.domain.validation import ValidationError

SUMMARY_MAX_LENGTH = 4000
CONTENT_MAX_LENGTH = 4000
RESOLUTION_MAX_LENGTH = 2000
# A bare date at the end of a quick log ("…, next Tuesday") is taken only when short:
# longer segments are sentences, not dates.
BARE_WHEN_MAX_LENGTH = 30
# How many characters before a trailing 跟进/再联系 are tried as the date (下下周二下午三点半).
ZH_WHEN_MAX_LENGTH = 12


# ------------------------------------------------------------------ keywords

def _words(*words: str) -> str:
    return r"\b(?:" + "|".join(words) + r")\b"


# (pattern, kind): English words whole, Chinese anywhere.
KIND_KEYWORDS: tuple[tuple[re.Pattern[str], InteractionKind], ...] = (
    (re.compile(_words("call", "calls", "called", "calling", "phoned", "phone call", "rang")
                + "|打电话|电话|通话|致电|来电"), InteractionKind.CALL),
    (re.compile(_words("visit", "visits", "visited", "visiting") + "|拜访|上门|来访"),
     InteractionKind.VISIT),
    (re.compile(_words("met", "meet", "meets", "meeting", "meetings") + "|见面|会面|开会"),
     InteractionKind.MEETING),
    (re.compile(_words("wechat", "wechatted", "weixin") + "|微信"), InteractionKind.WECHAT),
    (re.compile(_words("email", "emailed", "e-mail", "e-mailed", "mail", "mailed") + "|邮件"),
     InteractionKind.EMAIL),
    (re.compile(_words("message", "messaged", "text", "texted", "sms") + "|短信|留言"),
     InteractionKind.MESSAGE),
)

INBOUND = re.compile(
    _words("inbound", "incoming", "called in", "called us", "called me", "rang us", "rang me",
           "came in", "came by")
    + "|来电|打来|来访|找我|找上门"
)

# Checked in order: "not interested" before "interested", "no answer" before anything.
OUTCOME_KEYWORDS: tuple[tuple[re.Pattern[str], Outcome], ...] = (
    (re.compile(_words("no answer", "not answered", "unanswered", "no reply", "voicemail", "no pickup",
                       "not picking up", "didn't get through", "did not get through", "couldn't reach",
                       "could not reach", "did not answer", "didn't answer", "didn't pick up", "did not pick up")
                + "|没接|未接|无人接听|没人接|不接|关机|没打通|打不通|没通|占线|无人应答|没人应"), Outcome.NO_ANSWER),
    (re.compile(_words("not interested", "no interest") + "|没兴趣|不感兴趣|没有兴趣|没意向|无意向"),
     Outcome.NOT_INTERESTED),
    (re.compile(_words("deal lost", "lost the deal", "lost") + "|丢单|输单"), Outcome.DEAL_LOST),
    (re.compile(_words("deal won", "won the deal", "signed", "closed the deal") + "|成交|签单|签约|拿下"),
     Outcome.DEAL_WON),
    (re.compile(_words("quote sent", "sent a quote", "sent the quote", "sent quote", "quoted")
                + "|已报价|发了报价|发报价|报了价"), Outcome.QUOTE_SENT),
    (re.compile(_words("interested") + "|有意向|感兴趣|有兴趣"), Outcome.INTERESTED),
)

# "follow up Friday", "follow-up: next Tue 3pm", "跟进 下周二", "回访：周五"
_FOLLOW_UP_BEFORE = re.compile(
    r"(?:\bfollow[\s-]?up\b|\bf/u\b|\b(?:call|ring|phone|check) (?:them |him |her )?back\b"
    r"|\b(?:try|call|ring) (?:them |him |her )?again\b|\bretry\b|\bremind me\b"
    r"|(?:再)?跟进(?![了过中])|回访(?![了过])|下次联系|再联系|再打|再试)"
    r"\s*(?:\b(?:on|at|by)\b|[:：])?\s*",
    re.IGNORECASE,
)
# "下周二再联系", "周五跟进", "next week follow up"
_FOLLOW_UP_AFTER = re.compile(
    r"(?:再)?(?:跟进|回访|联系|打电话|拜访)$|再打$|再试$|\s*\bfollow[\s-]?up\b$",
    re.IGNORECASE,
)
_SEPARATORS = re.compile(r"[,，;；。.!！?？\n]")
_EDGE = " \t\n,，;；。.、:：-—!！?？"


def _normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower()


def _first_match(text: str, table: Iterable[tuple[re.Pattern[str], object]]) -> object | None:
    best: tuple[int, int, object] | None = None
    for order, (pattern, value) in enumerate(table):
        match = pattern.search(text)
        if match is not None and (best is None or (match.start(), order) < best[:2]):
            best = (match.start(), order, value)
    return best[2] if best else None


def kind_from_text(text: str) -> InteractionKind | None:
    """The interaction kind a text names (the keyword that comes first), or None."""
    found = _first_match(_normalise(text), KIND_KEYWORDS)
    return found if isinstance(found, InteractionKind) else None


def direction_from_text(text: str) -> Direction:
    """Inbound only when the text says so; a rep logs what they did (outbound)."""
    return Direction.INBOUND if INBOUND.search(_normalise(text)) else Direction.OUTBOUND


def outcome_from_text(text: str) -> Outcome:
    """The outcome a few keywords name; otherwise *reached* (a logged conversation)."""
    text = _normalise(text)
    for pattern, outcome in OUTCOME_KEYWORDS:  # order matters: see the table
        if pattern.search(text):
            return outcome
    return Outcome.REACHED


# Which outcomes each kind offers (客户关系维护): a meeting that took place cannot go unanswered;
# every other kind can miss the customer (no answer, nobody there, no reply yet).
KIND_OUTCOMES: dict[InteractionKind, tuple[Outcome, ...]] = {
    kind: tuple(o for o in Outcome if not (kind is InteractionKind.MEETING and o is Outcome.NO_ANSWER))
    for kind in InteractionKind
}
# Face-to-face kinds have no direction: the rep was there (who called whom applies to the rest).
FACE_TO_FACE = frozenset({InteractionKind.VISIT, InteractionKind.MEETING})


def outcomes_for(kind: InteractionKind | str | None) -> tuple[Outcome, ...]:
    """The outcomes a contact of ``kind`` can have (a call's, when the kind is not chosen yet)."""
    return KIND_OUTCOMES[InteractionKind(kind or InteractionKind.CALL)]


def has_direction(kind: InteractionKind | str | None) -> bool:
    """Whether ``kind`` has a direction (outbound / inbound) worth asking and showing."""
    return InteractionKind(kind or InteractionKind.CALL) not in FACE_TO_FACE


def reached_customer(outcome: Outcome | None) -> bool:
    """Whether a logged interaction is a contact (sets ``last_contact_at``): all but no answer."""
    return outcome is not Outcome.NO_ANSWER


# ------------------------------------------------------------------ quick log

@dataclass(frozen=True)
class QuickLog:
    """What a one-line log says, apart from the customer."""

    kind: InteractionKind | None
    direction: Direction
    outcome: Outcome
    summary: str
    follow_up_at: datetime | None = None
    # A follow-up was asked for ("follow up xyz") but its date could not be read:
    # the text and the ValidationError reason code, so the wizard can ask again.
    follow_up_text: str | None = None
    follow_up_error: str | None = None
    amount: Money | None = None  # an amount the text names ("5万", "50k", "¥3000")


# A number with a unit (万, k …) or a currency (¥, 元, USD …) on either side: an amount, not a
# date, a time or a phone number. Latin units and codes end at a word's end ("5kg" is no amount).
_MONEY_WORD = r"(?:¥|\$|hk\$|€|£|rmb|cny|usd|eur|gbp|hkd|jpy)"
_AMOUNT_IN_TEXT = re.compile(
    rf"(?P<pre>{_MONEY_WORD}\s*)?"
    r"(?P<num>(?<![\d.,])\d{1,3}(?:,\d{3})+(?:\.\d+)?|(?<![\d.,])\d+(?:\.\d+)?)\s*"
    r"(?P<unit>百万|万|萬|千|亿|億|(?:w|k)(?![a-z]))?\s*"
    rf"(?P<post>元|块钱|块|人民币|美元|美金|欧元|英镑|港币|港元|日元|{_MONEY_WORD}(?![a-z]))?"
)


def amount_in_text(text: str) -> Money | None:
    """The first amount a text names with a unit or a currency, or None (bare numbers are not
    taken: "3" in "called 3 times" is no amount)."""
    for match in _AMOUNT_IN_TEXT.finditer(_normalise(text)):
        if not (match["pre"] or match["unit"] or match["post"]):
            continue
        try:
            return parse_money(match.group(0).strip())
        except ValidationError:
            continue
    return None


def _clean(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip(_EDGE)


_ZH_DIGITS = {"零": 0, "一": 1, "两": 2, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
# 两小时后, 三天后, 十五分钟后, 半小时后: a Chinese count before a unit, as digits for parse_when.
_ZH_COUNT = re.compile(r"([零一两二三四五六七八九十]+|半)个?(小时|钟头|分钟|天|周|星期|礼拜)(?=之?后|以后)")


def _zh_count(text: str) -> int | None:
    if "十" not in text:
        return int("".join(str(_ZH_DIGITS[c]) for c in text)) if all(c in _ZH_DIGITS for c in text) else None
    tens, _, ones = text.partition("十")
    if any(c not in _ZH_DIGITS for c in tens + ones) or len(tens) > 1 or len(ones) > 1:
        return None
    return (_ZH_DIGITS[tens] if tens else 1) * 10 + (_ZH_DIGITS[ones] if ones else 0)


def _zh_counts_as_digits(text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        count, unit = match.group(1), match.group(2)
        if count == "半":
            return "30分钟" if unit in ("小时", "钟头") else match.group(0)
        number = _zh_count(count)
        unit = {"钟头": "小时", "星期": "周", "礼拜": "周"}.get(unit, unit)
        return f"{number}{unit}" if number is not None else match.group(0)

    return _ZH_COUNT.sub(replace, text)


def _try_when(text: str, now: datetime, tz: ZoneInfo) -> tuple[datetime | None, str | None]:
    text = _clean(text)
    if not text:
        return None, "text.empty"
    try:
        return parse_when(_zh_counts_as_digits(text), now=now, tz=tz), None
    except ValidationError as error:
        return None, error.reason_code


def split_follow_up(
    text: str, *, now: datetime, tz: ZoneInfo
) -> tuple[str, datetime | None, str | None, str | None]:
    """Find the follow-up in a quick log: (rest of the text, when, unread when-text, reason code)."""
    marker = _FOLLOW_UP_BEFORE.search(text)
    if marker is not None:
        after = text[marker.end():]
        cut = _SEPARATORS.search(after)
        when_text = after[:cut.start()] if cut else after
        before, tail = text[:marker.start()].rstrip(), after[cut.start():] if cut else ""
        if before[-1:] in tuple(",，;；、") and tail[:1] in tuple(",，;；、"):
            tail = tail[1:]  # "a, follow up Friday, b" → "a, b"
        rest = before + tail
        when, error = _try_when(when_text, now, tz)
        if when is not None:
            return _clean(rest), when, None, None
        if _clean(when_text):
            return _clean(text), None, _clean(when_text), error
    body = text.rstrip(_EDGE)
    cuts = [m.end() for m in _SEPARATORS.finditer(body)]
    head, last = (body[:cuts[-1]], body[cuts[-1]:].strip()) if cuts else ("", body.strip())
    if not last:
        return _clean(text), None, None, None
    trailing = _FOLLOW_UP_AFTER.search(last)
    if trailing is not None:
        before = last[:trailing.start()].strip()
        # 下周二再联系 / 电话沟通了报价下周二再联系: the longest tail that is a date.
        for size in range(min(len(before), ZH_WHEN_MAX_LENGTH), 0, -1):
            when, _error = _try_when(before[-size:], now, tz)
            if when is not None:
                return _clean(head + " " + before[:-size]), when, None, None
    if cuts and len(last) <= BARE_WHEN_MAX_LENGTH:
        when, _error = _try_when(last, now, tz)
        if when is not None:
            return _clean(head), when, None, None
    return _clean(text), None, None, None


def parse_quick_log(text: str, *, now: datetime, tz: ZoneInfo) -> QuickLog:
    """Read the part of ``/log <customer> …`` after the customer's name (see the module doc)."""
    summary, when, unread, error = split_follow_up(text, now=now, tz=tz)
    return QuickLog(
        kind=kind_from_text(text),
        direction=direction_from_text(text),
        outcome=outcome_from_text(text),
        summary=summary[:SUMMARY_MAX_LENGTH],
        follow_up_at=when,
        follow_up_text=unread,
        follow_up_error=error,
        amount=amount_in_text(summary),
    )


def _name_key(text: str) -> str:
    return re.sub(r"\s+", " ", _normalise(text)).strip()


def _is_cjk(char: str) -> bool:
    return "\u3400" <= char <= "\u9fff" or "\uf900" <= char <= "\ufaff"


def name_prefix_matches(text: str, names: Mapping[str, str]) -> tuple[list[str], str]:
    """Customers whose name starts the text: (their ids, the text after the name).

    ``names`` maps id → name.  The longest matching name wins ("张伟明" over
    "张伟"); several customers with that same name are all returned (the
    caller asks which one).  A Latin name must end at a word boundary
    ("Li" does not start "Lisa called"); a Chinese name may run into the
    text ("张伟打电话了").
    """
    key = _name_key(text)
    best: list[str] = []
    best_length = 0
    for customer_id, name in names.items():
        name_key = _name_key(name)
        if not name_key or not key.startswith(name_key):
            continue
        following = key[len(name_key):len(name_key) + 1]
        if following and following.isalnum() and not (_is_cjk(following) or _is_cjk(name_key[-1])):
            continue
        if len(name_key) > best_length:
            best, best_length = [customer_id], len(name_key)
        elif len(name_key) == best_length:
            best.append(customer_id)
    if not best:
        return [], text
    # Cut the same number of normalised characters from the original text.
    rest = _cut_prefix(text, best_length)
    return sorted(best), rest.strip(_EDGE)


def _cut_prefix(text: str, length: int) -> str:
    """The text after its first ``length`` characters as ``_name_key`` counts them."""
    for index in range(len(text) + 1):
        if len(_name_key(text[:index])) >= length:
            return text[index:]
    return ""


# ------------------------------------------------------------------ follow-up buttons

FOLLOW_UP_CHOICES = ("tomorrow", "3d", "week", "month")


def _add_month(day: date) -> date:
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def follow_up_choice(choice: str, *, now: datetime, tz: ZoneInfo) -> datetime:
    """The moment a follow-up button stands for: that day at 09:00 in ``tz``."""
    today = now.astimezone(tz).date()
    days = {"tomorrow": 1, "3d": 3, "week": 7}
    if choice in days:
        day = today + timedelta(days=days[choice])
    elif choice == "month":
        day = _add_month(today)
    else:
        raise ValueError(f"unknown follow-up choice {choice!r}")
    return datetime.combine(day, DEFAULT_TIME, tzinfo=tz)
