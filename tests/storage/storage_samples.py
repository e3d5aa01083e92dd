"""Sample records for every collection, and a naive reference implementation of ``find``.

``sample(collection, i)`` builds a record with (nearly) every field set, the
values drawn from small pools so that equality look-ups hit several records,
optional fields sometimes ``None``, and datetimes in several UTC offsets.
``reference_find`` answers a query by scanning plain dataclasses: it is the
oracle the contract tests compare each backend with.
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from bot.domain.codec import type_hints
from bot.domain.models import (
    AttachmentKind,
    AuditEvent,
    Birthday,
    CalendarKind,
    Customer,
    Deal,
    Direction,
    Feedback,
    FeedbackKind,
    FeedbackStatus,
    Gender,
    GeoPoint,
    Interaction,
    InteractionKind,
    Invitation,
    KeyValue,
    LifecycleStage,
    NeedsType,
    Note,
    NoteAttachment,
    Outcome,
    Purchase,
    Record,
    Reminder,
    ReminderKind,
    ReminderStatus,
    Role,
    Severity,
    Source,
    StaffUser,
    StageChange,
    Todo,
    TodoStatus,
    ValueTier,
)
from storage.base import SCHEMA, Range

T0 = datetime(2024, 3, 1, 9, 30, tzinfo=UTC)
TZS = (
    UTC,
    timezone(timedelta(hours=8)),
    timezone(timedelta(hours=-5, minutes=-30)),
    ZoneInfo("Asia/Shanghai"),
    ZoneInfo("America/New_York"),
)
OWNERS = ("rep-a", "rep-b", "rep-c")
CUSTOMER_IDS = ("cust-1", "cust-2", "cust-3", "cust-4")
PHONES = ("+8613800000001", "+8613800000002", "+8613900000003", "+14155550100")
TAGS = ("vip", "wholesale", "老客户", "tea")
TEAMS = ("east", "west", None)


def at(i: int, *, hours: float = 0) -> datetime:
    """A datetime that moves with ``i``, expressed in one of several time zones."""
    moment = T0 + timedelta(hours=7 * i + hours, minutes=i % 3 * 20, microseconds=(i % 2) * 1500)
    return moment.astimezone(TZS[i % len(TZS)])


def maybe(i: int, value: Any, every: int = 3) -> Any:
    return None if i % every == 0 else value


def pick(pool: tuple[Any, ...], i: int) -> Any:
    return pool[i % len(pool)]


def _staff(i: int) -> StaffUser:
    return StaffUser(
        id=str(5000 + i),
        telegram_id=5000 + i,
        name=f"员工 {i}",
        role=pick(tuple(Role), i),
        teams=[t for t in TEAMS[: i % 3] if t],
        language=pick(("zh", "en"), i),
        timezone=pick(("Asia/Shanghai", "Europe/Berlin"), i),
        active=i % 4 != 0,
        username=maybe(i, f"user{i}"),
        quiet_hours=maybe(i, (22, 7)),
        created_at=at(i),
        updated_at=at(i, hours=1),
    )


def _customer(i: int) -> Customer:
    return Customer(
        id=f"c{i:04d}",
        name=pick(("张伟", "Alice Wong", "李娜", "Bob Smith"), i) + f" {i}",
        owner_id=pick(OWNERS, i),
        team=pick(TEAMS, i),
        gender=maybe(i, pick(tuple(Gender), i)),
        birthday=maybe(
            i,
            Birthday(calendar=pick(tuple(CalendarKind), i), month=1 + i % 12, day=1 + i % 28)
            if i % 2
            else Birthday(calendar=CalendarKind.LUNAR, month=8, day=15, year=1980, leap_month=True),
        ),
        title=maybe(i, "采购经理"),
        company=maybe(i, pick(("ACME", "华为", "Tea House"), i)),
        industry=maybe(i, "retail"),
        phones=[PHONES[i % 4], PHONES[(i + 1) % 4]][: i % 3],
        email=maybe(i, f"c{i}@example.com"),
        handles=maybe(i, {"wechat": f"wx{i}", "telegram": f"@t{i}"}, every=2) or {},
        city=maybe(i, pick(("上海", "Beijing", "深圳"), i), every=4),
        address=maybe(i, "Nanjing Rd 1\nFloor 2"),
        source=maybe(i, pick(tuple(Source), i)),
        referred_by=maybe(i, f"c{(i + 1):04d}", every=2),
        needs_type=maybe(i, pick(tuple(NeedsType), i)),
        tags=[t for k, t in enumerate(TAGS) if (i >> k) & 1],
        preferences=maybe(i, "green tea, no calls before 10"),
        notes=maybe(i, ""),
        value_tier=maybe(i, pick(tuple(ValueTier), i)),
        value_tier_override=maybe(i, ValueTier.HIGH, every=5),
        stage=pick(tuple(LifecycleStage), i),
        stage_override=maybe(i, LifecycleStage.AT_RISK, every=4),
        last_contact_at=maybe(i, at(i, hours=-30)),
        next_follow_up_at=maybe(i, at(i, hours=50), every=2),
        archived=i % 5 == 0,
        created_by=maybe(i, pick(OWNERS, i + 1)),
        location=maybe(i, GeoPoint(latitude=31.2 + (i % 1000) / 1000, longitude=121.47, at=at(i)), every=2),
        created_at=at(i),
        updated_at=at(i, hours=3),
    )


def _purchase(i: int) -> Purchase:
    return Purchase(
        id=f"p{i:04d}",
        customer_id=pick(CUSTOMER_IDS, i),
        owner_id=pick(OWNERS, i),
        product=pick(("龙井 500g", "Tea set"), i),
        amount=Decimal("1234.50") + i,
        currency=pick(("CNY", "USD"), i),
        purchased_on=date(2024, 1, 1) + timedelta(days=3 * i),
        quantity=1 + i % 4,
        created_at=at(i),
        updated_at=at(i),
    )


def _deal(i: int) -> Deal:
    stage = pick(("prospecting", "proposal", "negotiation", "won", "lost"), i)
    closed = stage in ("won", "lost")
    return Deal(
        id=f"d{i:04d}",
        customer_id=pick(CUSTOMER_IDS, i),
        owner_id=pick(OWNERS, i),
        team=pick(TEAMS, i),
        title=pick(("CRM Pro 年度版", "Tea for the office"), i),
        amount=Decimal("50000.00") + i,
        currency=pick(("CNY", "USD"), i),
        stage=stage,
        probability=pick((10, 60, 80, 100, 0), i),
        expected_close_on=maybe(i, date(2024, 4, 1) + timedelta(days=5 * i)),
        products=["CRM Pro", "培训"][: i % 3],
        next_step=maybe(i, "发报价单 / send the quote"),
        lost_reason="价格" if stage == "lost" else None,
        won_on=date(2024, 5, 1) + timedelta(days=i) if stage == "won" else None,
        lost_on=date(2024, 5, 2) + timedelta(days=i) if stage == "lost" else None,
        closed_at=at(i, hours=90) if closed else None,
        stage_changed_at=maybe(i, at(i, hours=20), every=4),
        stage_history=[StageChange(stage="prospecting", at=at(i)),
                       StageChange(stage=stage, at=at(i, hours=20), by=maybe(i, "rep-a"))][: 1 + i % 2],
        open=not closed,
        created_by=maybe(i, pick(OWNERS, i + 1)),
        created_at=at(i),
        updated_at=at(i, hours=2),
    )


def _interaction(i: int) -> Interaction:
    return Interaction(
        id=f"i{i:04d}",
        customer_id=pick(CUSTOMER_IDS, i),
        owner_id=pick(OWNERS, i + 1),
        kind=pick(tuple(InteractionKind), i),
        occurred_at=at(i, hours=-2),
        direction=pick(tuple(Direction), i),
        outcome=maybe(i, pick(tuple(Outcome), i)),
        summary=f"通话 {i}: discussed the order",
        voice_file_id=maybe(i, f"voice-{i}", every=2),
        next_follow_up_at=maybe(i, at(i, hours=72), every=2),
        deleted=i % 6 == 0,
        check_in=maybe(i, GeoPoint(latitude=-33.86, longitude=151.2 + (i % 100) / 100, at=at(i, hours=-2),
                                   accuracy=maybe(i, 12.5 + i), live=i % 4 == 1), every=2),
        check_in_address=maybe(i, "上海市 世纪大道 88号", every=2),
        check_in_distance_m=maybe(i, 420.5 + i, every=2),
        checked_out_at=maybe(i, at(i, hours=-1), every=2),
        created_at=at(i),
        updated_at=at(i),
    )


def _feedback(i: int) -> Feedback:
    return Feedback(
        id=f"f{i:04d}",
        customer_id=pick(CUSTOMER_IDS, i),
        owner_id=pick(OWNERS, i),
        kind=pick(tuple(FeedbackKind), i),
        content="包装破损 / broken box",
        severity=pick(tuple(Severity), i),
        status=pick(tuple(FeedbackStatus), i),
        csat=maybe(i, 1 + i % 5),
        nps=maybe(i, i % 11),
        due_at=maybe(i, at(i, hours=48)),
        resolution=maybe(i, "refunded", every=2),
        resolved_at=maybe(i, at(i, hours=24), every=2),
        confirmed_at=maybe(i, at(i, hours=30), every=4),
        deleted=i % 7 == 0,
        created_at=at(i),
        updated_at=at(i),
    )


def _reminder(i: int) -> Reminder:
    return Reminder(
        id=f"r{i:04d}",
        kind=pick(tuple(ReminderKind), i),
        recipient_id=pick(OWNERS, i),
        due_at=at(i, hours=5),
        dedupe_key=f"follow_up:{i}",
        status=pick(tuple(ReminderStatus), i),
        customer_id=maybe(i, pick(CUSTOMER_IDS, i)),
        payload={"n": i, "nested": {"list": [1, "二", None, True]}, "price": "9.90"},
        attempts=i % 3,
        last_error=maybe(i, "429 retry_after=3", every=2),
        sent_at=maybe(i, at(i, hours=6), every=2),
        created_at=at(i),
        updated_at=at(i),
    )


def _audit(i: int) -> AuditEvent:
    return AuditEvent(
        id=f"a{i:04d}",
        actor_id=pick(OWNERS, i),
        action=pick(("create", "update", "reassign"), i),
        entity_type=pick(("customer", "feedback"), i),
        entity_id=pick(CUSTOMER_IDS, i),
        at=at(i, hours=1),
        changes={"owner_id": ["rep-a", "rep-b"], "tags": [[], ["vip"]]} if i % 2 else {},
        note=maybe(i, "bulk import"),
        created_at=at(i),
        updated_at=at(i),
    )


def _invitation(i: int) -> Invitation:
    return Invitation(
        id=f"inv-{i:04d}-9f8e7d",
        role=pick(tuple(Role), i),
        team=pick(TEAMS, i),
        created_by=pick(OWNERS, i),
        expires_at=at(i, hours=48),
        redeemed_by=maybe(i, pick(OWNERS, i + 1), every=2),
        redeemed_at=maybe(i, at(i, hours=5), every=2),
        revoked=i % 5 == 0,
        created_at=at(i),
        updated_at=at(i),
    )


def _kv(i: int) -> KeyValue:
    namespace = pick(("ptb.user_data", "ptb.conversations", "scheduler"), i)
    return KeyValue(
        id=f"{namespace}:{i}",
        namespace=namespace,
        value=maybe(i, {"state": i, "items": [1.5, "x", {"deep": None}]}, every=4),
        created_at=at(i),
        updated_at=at(i),
    )


def _todo(i: int) -> Todo:
    done = i % 3 == 0
    return Todo(
        id=f"t{i:04d}",
        text=pick(("寄样品", "send the quote", "call back ☎"), i),
        assignee_id=pick(OWNERS, i),
        created_by=pick(OWNERS, i + 1),
        due_at=maybe(i, at(i, hours=30), every=4),
        customer_id=maybe(i, pick(CUSTOMER_IDS, i)),
        interaction_id=maybe(i, f"i{i:04d}", every=2),
        status=TodoStatus.DONE if done else TodoStatus.OPEN,
        done_at=at(i, hours=31) if done else None,
        done_by=pick(OWNERS, i) if done else None,
        snoozed_until=maybe(i, at(i, hours=33), every=2),
        deleted=i % 7 == 0,
        created_at=at(i),
        updated_at=at(i),
    )


def _note(i: int) -> Note:
    files = [NoteAttachment(kind=pick(tuple(AttachmentKind), i), file_id=f"AgAD{i}x", file_unique_id=f"u{i}",
                            file_name=maybe(i, f"报价 {i}.pdf"), mime_type=maybe(i, "application/pdf"),
                            size=maybe(i, 1000 + i), local_path=maybe(i, f"files/u{i}.pdf", every=2))
             ] if i % 2 else []
    return Note(
        id=f"n{i:04d}",
        customer_id=pick(CUSTOMER_IDS, i),
        owner_id=pick(OWNERS, i),
        author_id=pick(OWNERS, i + 2),
        text="" if files and i % 4 == 1 else pick(("客户想要样品", "met at the fair <b>", "📷"), i),
        attachments=files,
        legacy=i % 5 == 0,
        deleted=i % 7 == 0,
        created_at=at(i),
        updated_at=at(i),
    )


SAMPLES: dict[str, Callable[[int], Record]] = {
    "staff": _staff,
    "customers": _customer,
    "purchases": _purchase,
    "deals": _deal,
    "interactions": _interaction,
    "feedback": _feedback,
    "reminders": _reminder,
    "audit": _audit,
    "invitations": _invitation,
    "kv": _kv,
    "todos": _todo,
    "notes": _note,
}


def sample(collection: str, i: int) -> Record:
    if collection not in SAMPLES:
        raise AssertionError(f"add a sample builder for the new collection {collection!r}")
    return SAMPLES[collection](i)


def samples(collection: str, n: int, start: int = 0) -> list[Record]:
    return [sample(collection, i) for i in range(start, start + n)]


def list_fields(collection: str) -> set[str]:
    hints = type_hints(SCHEMA[collection].record_type)  # resolved once per class, not per record
    return {name for name, hint in hints.items() if typing.get_origin(hint) is list}


def matches(record: Record, collection: str, where: Mapping[str, Any]) -> bool:
    listy = list_fields(collection)
    for name, value in where.items():
        current = getattr(record, name)
        if name in listy:
            if value not in current:
                return False
        elif current != value:
            return False
    return True


def reference_find(
    records: Iterable[Record],
    collection: str,
    where: Mapping[str, Any] | None = None,
    *,
    within: Range | None = None,
    order_by: str | None = None,
    descending: bool = False,
    offset: int = 0,
    limit: int | None = None,
) -> list[Record]:
    """``find`` by brute force over dataclasses (the semantics every backend must have)."""
    rows = [r for r in records if matches(r, collection, where or {})]
    if within is not None:
        rows = [
            r
            for r in rows
            if (v := getattr(r, within.field)) is not None
            and (within.start is None or v >= within.start)
            and (within.end is None or v < within.end)
        ]
    key = order_by or "id"
    present = [r for r in rows if getattr(r, key) is not None]
    absent = [r for r in rows if getattr(r, key) is None]
    present.sort(key=lambda r: (getattr(r, key), r.id), reverse=descending)
    absent.sort(key=lambda r: r.id, reverse=descending)
    result = (present + absent)[offset:]
    return result if limit is None else result[:limit]
