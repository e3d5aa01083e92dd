"""The CRM's records as plain dataclasses.

Every record has a string ``id``, timezone-aware UTC ``created_at`` /
``updated_at`` and a ``version`` the store uses for optimistic concurrency
(an update must name the version it read; see ``storage.base``).  The
classes validate their own invariants in ``__post_init__`` so that no
backend can ever hold a record that breaks them.  Parsing what a user typed
(phone numbers, dates in zh/en, amounts) is not done here but in the
validation rules that build these records.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    """A 20-hex-digit id that sorts by creation time (ms) and never collides in practice."""
    return f"{int(time.time() * 1000):012x}{os.urandom(4).hex()}"


class ModelError(ValueError):
    """A record breaks one of its invariants; ``field`` names the culprit."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name


def _require_aware(name: str, value: datetime | None) -> None:
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise ModelError(name, "must be a timezone-aware datetime")


def _require_text(name: str, value: str, *, max_length: int, allow_empty: bool = False) -> None:
    if not allow_empty and not value.strip():
        raise ModelError(name, "must not be empty")
    if len(value) > max_length:
        raise ModelError(name, f"is longer than {max_length} characters")


class Role(StrEnum):
    ADMIN = "admin"
    MANAGER = "manager"
    REP = "rep"


class Gender(StrEnum):
    FEMALE = "female"
    MALE = "male"
    OTHER = "other"


class CalendarKind(StrEnum):
    SOLAR = "solar"
    LUNAR = "lunar"


class ValueTier(StrEnum):
    HIGH = "high"
    MID = "mid"
    LOW = "low"


class LifecycleStage(StrEnum):
    PROSPECT = "prospect"
    NEW = "new"
    REPEAT = "repeat"
    AT_RISK = "at_risk"
    CHURNED = "churned"


class NeedsType(StrEnum):
    PRICE = "price"
    QUALITY = "quality"
    SERVICE = "service"


class Source(StrEnum):
    REFERRAL = "referral"
    EVENT = "event"
    AD = "ad"
    COLD_CALL = "cold_call"
    INBOUND = "inbound"
    OTHER = "other"


class InteractionKind(StrEnum):
    CALL = "call"
    VISIT = "visit"
    MEETING = "meeting"
    MESSAGE = "message"
    EMAIL = "email"
    WECHAT = "wechat"


class Direction(StrEnum):
    OUTBOUND = "outbound"
    INBOUND = "inbound"


class Outcome(StrEnum):
    REACHED = "reached"
    NO_ANSWER = "no_answer"
    INTERESTED = "interested"
    NOT_INTERESTED = "not_interested"
    QUOTE_SENT = "quote_sent"
    DEAL_WON = "deal_won"
    DEAL_LOST = "deal_lost"
    OTHER = "other"


class FeedbackKind(StrEnum):
    COMPLAINT = "complaint"
    SUGGESTION = "suggestion"
    PRAISE = "praise"
    QUESTION = "question"


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class FeedbackStatus(StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    CONFIRMED = "confirmed"


class ReminderKind(StrEnum):
    FOLLOW_UP = "follow_up"
    BIRTHDAY = "birthday"
    FESTIVAL = "festival"
    CHURN_WARNING = "churn_warning"
    FEEDBACK_OVERDUE = "feedback_overdue"
    COMPLAINT_ALERT = "complaint_alert"
    DAILY_AGENDA = "daily_agenda"
    WEEKLY_REPORT = "weekly_report"
    MONTHLY_REPORT = "monthly_report"
    CATCH_UP = "catch_up"  # after downtime: the days beyond the catch-up horizon (to admins)
    DELIVERY_FAILURES = "delivery_failures"  # to admins, once a day: reminders given up
    TODO_DUE = "todo_due"  # a to-do's due time (to its assignee)
    TODO_ASSIGNED = "todo_assigned"  # a manager gave a rep a to-do: told at once
    REORDER = "reorder"  # a customer's predicted reorder date is near (bot.domain.reorder)
    DEAL_NUDGE = "deal_nudge"  # to a deal's owner: its close date passed, or it has not moved


class TodoStatus(StrEnum):
    OPEN = "open"
    DONE = "done"


class AttachmentKind(StrEnum):
    VOICE = "voice"
    PHOTO = "photo"
    DOCUMENT = "document"
    AUDIO = "audio"


class ReminderStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(kw_only=True)
class Record:
    """Fields every stored record has."""

    id: str = field(default_factory=new_id)
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)
    version: int = 0

    def __post_init__(self) -> None:
        if not self.id or len(self.id) > 64:
            raise ModelError("id", "must be 1-64 characters")
        _require_aware("created_at", self.created_at)
        _require_aware("updated_at", self.updated_at)
        if self.version < 0:
            raise ModelError("version", "must not be negative")


@dataclass(kw_only=True)
class StaffUser(Record):
    """A person allowed to use the bot. ``id`` is the Telegram user id as text."""

    telegram_id: int
    name: str
    role: Role = Role.REP
    teams: list[str] = field(default_factory=list)
    language: str = "zh"
    timezone: str = "Asia/Shanghai"
    active: bool = True
    username: str | None = None
    quiet_hours: tuple[int, int] | None = None  # (start hour, end hour), local time

    def __post_init__(self) -> None:
        super().__post_init__()
        _require_text("name", self.name, max_length=200)
        if self.language not in ("zh", "en"):
            raise ModelError("language", "must be zh or en")
        if self.quiet_hours is not None:
            start, end = self.quiet_hours
            if not (0 <= start <= 23 and 0 <= end <= 23):
                raise ModelError("quiet_hours", "hours must be 0-23")

    @staticmethod
    def id_for(telegram_id: int) -> str:
        return str(telegram_id)


@dataclass(kw_only=True)
class Birthday:
    """A birthday on the solar (Gregorian) or the Chinese lunar calendar; year optional."""

    calendar: CalendarKind
    month: int
    day: int
    year: int | None = None
    leap_month: bool = False  # lunar only: the intercalary month

    def __post_init__(self) -> None:
        if not 1 <= self.month <= 12:
            raise ModelError("birthday", "month must be 1-12")
        max_day = 30 if self.calendar is CalendarKind.LUNAR else 31
        if not 1 <= self.day <= max_day:
            raise ModelError("birthday", f"day must be 1-{max_day}")
        if self.calendar is CalendarKind.SOLAR:
            if self.leap_month:
                raise ModelError("birthday", "only lunar dates have leap months")
            try:
                date(self.year or 2000, self.month, self.day)  # 2000 is a leap year
            except ValueError as exc:
                raise ModelError("birthday", str(exc)) from None
        if self.year is not None and not 1900 <= self.year <= 2100:
            raise ModelError("birthday", "year must be 1900-2100")


@dataclass(kw_only=True)
class GeoPoint:
    """A location the rep's phone shared (外勤签到): where, how precise, when, live or not."""

    latitude: float
    longitude: float
    at: datetime
    accuracy: float | None = None  # metres, as the phone reports it
    live: bool = False  # a live location (its updates arrive as edits)

    def __post_init__(self) -> None:
        if not (-90 <= self.latitude <= 90 and -180 <= self.longitude <= 180):
            raise ModelError("location", "latitude must be -90..90 and longitude -180..180")
        if self.accuracy is not None and self.accuracy < 0:
            raise ModelError("location", "accuracy cannot be negative")
        _require_aware("location", self.at)


@dataclass(kw_only=True)
class Customer(Record):
    """The customer management card (客户管理卡)."""

    name: str
    owner_id: str
    team: str | None = None
    gender: Gender | None = None
    birthday: Birthday | None = None
    title: str | None = None
    company: str | None = None
    industry: str | None = None
    phones: list[str] = field(default_factory=list)  # E.164
    email: str | None = None
    handles: dict[str, str] = field(default_factory=dict)  # wechat / telegram / other
    city: str | None = None
    address: str | None = None
    source: Source | None = None
    referred_by: str | None = None  # customer id
    needs_type: NeedsType | None = None
    tags: list[str] = field(default_factory=list)
    preferences: str | None = None
    notes: str | None = None
    value_tier: ValueTier | None = None  # derived
    value_tier_override: ValueTier | None = None
    stage: LifecycleStage = LifecycleStage.PROSPECT  # derived
    stage_override: LifecycleStage | None = None
    last_contact_at: datetime | None = None
    next_follow_up_at: datetime | None = None
    archived: bool = False
    created_by: str | None = None
    location: GeoPoint | None = None  # where the customer is: from the first check-in or the card

    def __post_init__(self) -> None:
        super().__post_init__()
        _require_text("name", self.name, max_length=200)
        for name in ("title", "company", "industry", "city", "email"):
            value = getattr(self, name)
            if value is not None:
                _require_text(name, value, max_length=200)
        for name in ("address", "preferences", "notes"):
            value = getattr(self, name)
            if value is not None:
                _require_text(name, value, max_length=4000, allow_empty=True)
        for phone in self.phones:
            if not (phone.startswith("+") and phone[1:].isdigit() and 8 <= len(phone) <= 16):
                raise ModelError("phones", f"{phone!r} is not in E.164 form")
        for tag in self.tags:
            _require_text("tags", tag, max_length=50)
        _require_aware("last_contact_at", self.last_contact_at)
        _require_aware("next_follow_up_at", self.next_follow_up_at)
        if self.referred_by is not None and self.referred_by == self.id:
            raise ModelError("referred_by", "a customer cannot refer themselves")

    @property
    def effective_tier(self) -> ValueTier | None:
        return self.value_tier_override or self.value_tier

    @property
    def effective_stage(self) -> LifecycleStage:
        return self.stage_override or self.stage


@dataclass(kw_only=True)
class Purchase(Record):
    customer_id: str
    owner_id: str
    product: str
    amount: Decimal
    currency: str
    purchased_on: date
    quantity: int = 1

    def __post_init__(self) -> None:
        super().__post_init__()
        _require_text("product", self.product, max_length=200)
        if not isinstance(self.amount, Decimal) or not self.amount.is_finite():
            raise ModelError("amount", "must be a finite decimal")
        if self.amount < 0:
            raise ModelError("amount", "must not be negative")
        if len(self.currency) != 3 or not self.currency.isalpha() or not self.currency.isupper():
            raise ModelError("currency", "must be a three-letter ISO code")
        if self.quantity < 1:
            raise ModelError("quantity", "must be at least 1")


WON_STAGE = "won"
LOST_STAGE = "lost"
CLOSED_STAGES = (WON_STAGE, LOST_STAGE)


@dataclass(kw_only=True)
class StageChange:
    """A deal entered ``stage`` at ``at`` (by ``by``): the history cycle times are taken from."""

    stage: str
    at: datetime
    by: str | None = None

    def __post_init__(self) -> None:
        _require_text("stage", self.stage, max_length=40)
        _require_aware("at", self.at)


@dataclass(kw_only=True)
class Deal(Record):
    """A sales opportunity (商机): what a rep is chasing with a customer, and where it stands.

    ``stage`` is a code of ``[deals] stages`` in config.toml or ``won`` / ``lost``;
    ``open`` is derived from it (indexed, so "my open deals" is one look-up).
    """

    customer_id: str
    owner_id: str
    title: str
    amount: Decimal
    currency: str
    stage: str
    probability: int
    team: str | None = None
    expected_close_on: date | None = None
    products: list[str] = field(default_factory=list)
    next_step: str | None = None
    lost_reason: str | None = None
    won_on: date | None = None
    lost_on: date | None = None
    closed_at: datetime | None = None
    stage_changed_at: datetime | None = None
    stage_history: list[StageChange] = field(default_factory=list)
    open: bool = True
    created_by: str | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        _require_text("title", self.title, max_length=200)
        if not isinstance(self.amount, Decimal) or not self.amount.is_finite():
            raise ModelError("amount", "must be a finite decimal")
        if self.amount < 0:
            raise ModelError("amount", "must not be negative")
        if len(self.currency) != 3 or not self.currency.isalpha() or not self.currency.isupper():
            raise ModelError("currency", "must be a three-letter ISO code")
        _require_text("stage", self.stage, max_length=40)
        if not 0 <= self.probability <= 100:
            raise ModelError("probability", "must be 0-100")
        for product in self.products:
            _require_text("products", product, max_length=200)
        for name in ("next_step", "lost_reason"):
            value = getattr(self, name)
            if value is not None:
                _require_text(name, value, max_length=1000)
        _require_aware("closed_at", self.closed_at)
        _require_aware("stage_changed_at", self.stage_changed_at)
        if self.open == (self.stage in CLOSED_STAGES):
            raise ModelError("open", "a deal is open exactly when its stage is not won or lost")


@dataclass(kw_only=True)
class Interaction(Record):
    """A call, visit, meeting or message with a customer."""

    customer_id: str
    owner_id: str
    kind: InteractionKind
    occurred_at: datetime
    direction: Direction = Direction.OUTBOUND
    outcome: Outcome | None = None
    summary: str = ""
    voice_file_id: str | None = None
    next_follow_up_at: datetime | None = None
    deleted: bool = False
    # a visit's check-in (外勤签到): where the rep was, the customer's address then, how far
    # from the customer's saved location (metres, None when it had none), when the visit ended
    check_in: GeoPoint | None = None
    check_in_address: str | None = None
    check_in_distance_m: float | None = None
    checked_out_at: datetime | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        _require_aware("occurred_at", self.occurred_at)
        _require_aware("checked_out_at", self.checked_out_at)
        _require_aware("next_follow_up_at", self.next_follow_up_at)
        _require_text("summary", self.summary, max_length=4000, allow_empty=True)


@dataclass(kw_only=True)
class Feedback(Record):
    """Customer feedback (客户反馈) and where its handling stands."""

    customer_id: str
    owner_id: str
    kind: FeedbackKind
    content: str
    severity: Severity = Severity.MEDIUM
    status: FeedbackStatus = FeedbackStatus.OPEN
    csat: int | None = None  # 1-5
    nps: int | None = None  # 0-10
    due_at: datetime | None = None
    resolution: str | None = None
    resolved_at: datetime | None = None
    confirmed_at: datetime | None = None
    deleted: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        _require_text("content", self.content, max_length=4000)
        if self.csat is not None and not 1 <= self.csat <= 5:
            raise ModelError("csat", "must be 1-5")
        if self.nps is not None and not 0 <= self.nps <= 10:
            raise ModelError("nps", "must be 0-10")
        for name in ("due_at", "resolved_at", "confirmed_at"):
            _require_aware(name, getattr(self, name))


@dataclass(kw_only=True)
class Reminder(Record):
    """One message the scheduler owes somebody: a row in the outbox.

    ``dedupe_key`` is unique in the store, so generating the same reminder
    twice (a rerun job, two replicas) yields one row.
    """

    kind: ReminderKind
    recipient_id: str
    due_at: datetime
    dedupe_key: str
    status: ReminderStatus = ReminderStatus.PENDING
    customer_id: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    attempts: int = 0
    last_error: str | None = None
    sent_at: datetime | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        _require_aware("due_at", self.due_at)
        _require_aware("sent_at", self.sent_at)
        _require_text("dedupe_key", self.dedupe_key, max_length=200)
        if self.attempts < 0:
            raise ModelError("attempts", "must not be negative")


@dataclass(kw_only=True)
class Todo(Record):
    """A to-do (待办): something somebody promised to do, by a time, optionally about a customer.

    ``assignee_id`` does it (the reminders go to them), ``created_by`` asked for it
    (a manager may assign to a rep of their team).  ``snoozed_until`` moves the
    due reminder without moving the due time itself.
    """

    text: str
    assignee_id: str
    created_by: str
    due_at: datetime | None = None
    customer_id: str | None = None
    interaction_id: str | None = None
    status: TodoStatus = TodoStatus.OPEN
    done_at: datetime | None = None
    done_by: str | None = None
    snoozed_until: datetime | None = None
    deleted: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        _require_text("text", self.text, max_length=1000)
        for name in ("due_at", "done_at", "snoozed_until"):
            _require_aware(name, getattr(self, name))
        if self.status is TodoStatus.DONE and self.done_at is None:
            raise ModelError("done_at", "a done to-do has its done time")


@dataclass(kw_only=True)
class NoteAttachment:
    """A file of a note, kept by Telegram's ``file_id`` (the bytes stay with Telegram).

    ``local_path``: where a copy was kept under the data directory (TinyDB, ``[notes]
    keep_local_copies``), relative to it.
    """

    kind: AttachmentKind
    file_id: str
    file_unique_id: str | None = None
    file_name: str | None = None
    mime_type: str | None = None
    size: int | None = None
    local_path: str | None = None

    def __post_init__(self) -> None:
        if not self.file_id or len(self.file_id) > 300:
            raise ModelError("attachments", "file_id must be 1-300 characters")
        if self.file_name is not None and len(self.file_name) > 300:
            raise ModelError("attachments", "file_name is longer than 300 characters")
        if self.size is not None and self.size < 0:
            raise ModelError("attachments", "size must not be negative")


@dataclass(kw_only=True)
class Note(Record):
    """A dated note on a customer's card: text, voice notes, photos, documents, in any mix.

    ``owner_id`` is the customer's owner when the note was written (visibility),
    ``author_id`` who wrote it.  ``legacy``: the customer's old single ``notes`` field,
    moved here (``bot.services.notes.NoteService.migrate_legacy``).
    """

    customer_id: str
    owner_id: str
    author_id: str
    text: str = ""
    attachments: list[NoteAttachment] = field(default_factory=list)
    legacy: bool = False
    deleted: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        _require_text("text", self.text, max_length=4000, allow_empty=True)
        if not self.text.strip() and not self.attachments:
            raise ModelError("text", "a note has a text or a file")
        if len(self.attachments) > 20:
            raise ModelError("attachments", "at most 20 files")


@dataclass(kw_only=True)
class AuditEvent(Record):
    """Who changed what, when: ``changes`` maps a field to ``[before, after]``."""

    actor_id: str
    action: str  # create / update / archive / restore / reassign / role_change / export / ...
    entity_type: str
    entity_id: str
    at: datetime = field(default_factory=utcnow)
    changes: dict[str, list[Any]] = field(default_factory=dict)
    note: str | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        _require_aware("at", self.at)
        _require_text("action", self.action, max_length=50)


@dataclass(kw_only=True)
class Invitation(Record):
    """A one-time code that registers whoever redeems it with ``role`` in ``team``.

    ``id`` is the code itself (unguessable; it travels in a t.me deep link).
    """

    role: Role
    team: str | None
    created_by: str
    expires_at: datetime
    redeemed_by: str | None = None
    redeemed_at: datetime | None = None
    revoked: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        _require_aware("expires_at", self.expires_at)
        _require_aware("redeemed_at", self.redeemed_at)
        if self.team is not None:
            _require_text("team", self.team, max_length=50)

    def usable(self, now: datetime) -> bool:
        return not self.revoked and self.redeemed_by is None and now < self.expires_at


@dataclass(kw_only=True)
class KeyValue(Record):
    """Opaque JSON state (python-telegram-bot persistence, scheduler bookmarks).

    ``id`` is ``"<namespace>:<key>"``.
    """

    namespace: str
    value: Any = None


ALL_RECORD_TYPES: tuple[type[Record], ...] = (
    StaffUser,
    Customer,
    Purchase,
    Deal,
    Interaction,
    Feedback,
    Reminder,
    AuditEvent,
    Invitation,
    KeyValue,
    Todo,
    Note,
)
