from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from bot.domain.codec import from_dict, to_dict
from bot.domain.models import (
    AuditEvent,
    Birthday,
    CalendarKind,
    Customer,
    Feedback,
    FeedbackKind,
    Interaction,
    InteractionKind,
    ModelError,
    Purchase,
    Reminder,
    ReminderKind,
    StaffUser,
    new_id,
)

NOW = datetime(2026, 11, 22, 9, 30, tzinfo=UTC)
BEIJING = timezone(timedelta(hours=8))


def full_customer() -> Customer:
    return Customer(
        name="张伟",
        owner_id="1001",
        team="east",
        birthday=Birthday(calendar=CalendarKind.LUNAR, month=8, day=15, leap_month=True),
        phones=["+8613800138000"],
        handles={"wechat": "zhangwei88"},
        tags=["vip", "华东"],
        last_contact_at=datetime(2026, 11, 1, 10, tzinfo=BEIJING),
        created_at=NOW,
        updated_at=NOW,
    )


@pytest.mark.parametrize(
    "record",
    [
        full_customer(),
        StaffUser(telegram_id=5, name="Li", quiet_hours=(22, 7), teams=["east"]),
        Purchase(customer_id="c", owner_id="1", product="Tea", amount=Decimal("1999.90"),
                 currency="CNY", purchased_on=date(2026, 5, 1)),
        Interaction(customer_id="c", owner_id="1", kind=InteractionKind.VISIT, occurred_at=NOW),
        Feedback(customer_id="c", owner_id="1", kind=FeedbackKind.COMPLAINT, content="late",
                 csat=2, nps=3),
        Reminder(kind=ReminderKind.FOLLOW_UP, recipient_id="1", due_at=NOW, dedupe_key="f:c:1",
                 payload={"nested": {"a": [1, 2]}}),
        AuditEvent(actor_id="1", action="update", entity_type="customer", entity_id="c",
                   changes={"name": ["a", "b"]}),
    ],
)
def test_round_trip_through_plain_dicts(record) -> None:
    data = to_dict(record)
    assert from_dict(type(record), data) == record


def test_datetimes_are_stored_in_utc() -> None:
    data = to_dict(full_customer())
    assert data["last_contact_at"] == "2026-11-01T02:00:00+00:00"


@pytest.mark.parametrize(
    ("factory", "field"),
    [
        (lambda: Customer(name="  ", owner_id="1"), "name"),
        (lambda: Customer(name="x" * 201, owner_id="1"), "name"),
        (lambda: Customer(name="a", owner_id="1", phones=["138 0013"]), "phones"),
        (lambda: Customer(name="a", owner_id="1", last_contact_at=datetime(2026, 1, 1)), "last_contact_at"),
        (lambda: Birthday(calendar=CalendarKind.SOLAR, month=2, day=30), "birthday"),
        (lambda: Birthday(calendar=CalendarKind.SOLAR, month=5, day=3, leap_month=True), "birthday"),
        (lambda: Birthday(calendar=CalendarKind.LUNAR, month=13, day=1), "birthday"),
        (lambda: Purchase(customer_id="c", owner_id="1", product="p", amount=Decimal(-1),
                          currency="CNY", purchased_on=date(2026, 1, 1)), "amount"),
        (lambda: Purchase(customer_id="c", owner_id="1", product="p", amount=Decimal("NaN"),
                          currency="CNY", purchased_on=date(2026, 1, 1)), "amount"),
        (lambda: Purchase(customer_id="c", owner_id="1", product="p", amount=Decimal(1),
                          currency="yuan", purchased_on=date(2026, 1, 1)), "currency"),
        (lambda: Feedback(customer_id="c", owner_id="1", kind=FeedbackKind.PRAISE, content="ok", csat=6), "csat"),
        (lambda: Feedback(customer_id="c", owner_id="1", kind=FeedbackKind.PRAISE, content="ok", nps=11), "nps"),
        (lambda: StaffUser(telegram_id=1, name="a", language="fr"), "language"),
        (lambda: Reminder(kind=ReminderKind.BIRTHDAY, recipient_id="1", due_at=NOW, dedupe_key=""), "dedupe_key"),
    ],
)
def test_invariants_are_enforced(factory, field) -> None:
    with pytest.raises(ModelError) as info:
        factory()
    assert info.value.field == field


def test_ids_sort_by_creation_and_are_unique() -> None:
    ids = [new_id() for _ in range(1000)]
    assert len(set(ids)) == 1000
    assert all(a[:12] <= b[:12] for a, b in itertools.pairwise(ids))


def test_overrides_win_over_derived_classification() -> None:
    from bot.domain.models import LifecycleStage, ValueTier

    customer = full_customer()
    customer.value_tier = ValueTier.LOW
    customer.value_tier_override = ValueTier.HIGH
    customer.stage = LifecycleStage.NEW
    assert customer.effective_tier is ValueTier.HIGH
    assert customer.effective_stage is LifecycleStage.NEW
