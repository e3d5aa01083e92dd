"""Delivering the outbox without Telegram: ``send`` is a fake that records parcels or fails on cue."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.clock import SimulatedClock
from bot.config import load_config
from bot.domain.models import (
    Customer,
    Feedback,
    FeedbackKind,
    FeedbackStatus,
    Reminder,
    ReminderKind,
    ReminderStatus,
    Role,
    Severity,
    StaffUser,
)
from bot.services import Services
from bot.services.delivery import (
    Ambiguous,
    Parcel,
    Refused,
    Result,
    RetryLater,
    TransientFailure,
)
from storage import open_store

# Monday 2 March 2026, 10:00 in Shanghai (the default time zone): outside the default quiet hours.
NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
NIGHT = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # 23:00 in Shanghai


class FakeTelegram:
    """A ``send`` that records every parcel; ``fail_with`` makes the next calls raise."""

    def __init__(self) -> None:
        self.parcels: list[Parcel] = []
        self.fail_with: list[Exception] = []
        self.nothing_to_say = False

    async def __call__(self, parcel: Parcel) -> bool:
        if self.fail_with:
            raise self.fail_with.pop(0)
        if self.nothing_to_say:
            return False
        self.parcels.append(parcel)
        return True


@pytest.fixture
async def svc(tmp_path: Path) -> AsyncIterator[Services]:
    clock = SimulatedClock(NOW)
    config = load_config(None, environ={}, search=False)
    async with open_store("tinydb", path=tmp_path) as store:
        services = Services(config=config, store=store, clock=clock)
        await store.staff.insert(StaffUser(id="7", telegram_id=7, name="Rep", role=Role.REP, teams=["east"]))
        await store.customers.insert(Customer(id="c1", name="Wang", owner_id="7", team="east"))
        yield services


async def follow_up(svc: Services, key: str = "c1", due: datetime = NOW, **changes: Any) -> Reminder:
    return await svc.reminders.schedule(kind=ReminderKind.FOLLOW_UP, recipient_id="7", due_at=due,
                                        dedupe_key=f"follow_up:{key}", customer_id="c1", **changes)


async def status(svc: Services, reminder: Reminder) -> Reminder:
    stored = await svc.store.reminders.get(reminder.id)
    assert stored is not None
    return stored


async def test_a_due_reminder_is_sent_once_and_marked_sent_after_acceptance(svc: Services) -> None:
    reminder = await follow_up(svc)
    send = FakeTelegram()
    outcomes = await svc.delivery.deliver_due(NOW, send)
    assert [(o.reminder_id, o.result) for o in outcomes] == [(reminder.id, Result.SENT)]
    assert [p.reminders[0].id for p in send.parcels] == [reminder.id] and not send.parcels[0].digest
    stored = await status(svc, reminder)
    assert stored.status is ReminderStatus.SENT and stored.sent_at == NOW
    assert "lease_until" not in stored.payload
    assert await svc.delivery.deliver_due(NOW + timedelta(minutes=5), send) == []
    assert len(send.parcels) == 1


async def test_not_due_yet_is_not_sent(svc: Services) -> None:
    await follow_up(svc, due=NOW + timedelta(minutes=1))
    send = FakeTelegram()
    assert await svc.delivery.deliver_due(NOW, send) == []
    assert send.parcels == []


async def test_quiet_hours_postpone_without_counting_an_attempt(svc: Services) -> None:
    reminder = await follow_up(svc, due=NIGHT)
    send = FakeTelegram()
    outcomes = await svc.delivery.deliver_due(NIGHT, send)
    assert [o.result for o in outcomes] == [Result.POSTPONED]
    stored = await status(svc, reminder)
    assert stored.status is ReminderStatus.PENDING and stored.attempts == 0
    assert stored.due_at == datetime(2026, 3, 3, 0, 0, tzinfo=UTC)  # 08:00 in Shanghai
    assert send.parcels == []


async def test_own_quiet_hours_off_lets_night_reminders_through(svc: Services) -> None:
    rep = await svc.store.staff.get("7")
    await svc.staff.set_quiet_hours(rep, None)
    await follow_up(svc, due=NIGHT)
    send = FakeTelegram()
    assert [o.result for o in await svc.delivery.deliver_due(NIGHT, send)] == [Result.SENT]


async def test_flood_control_retries_after_telegrams_wait_and_is_never_final(svc: Services) -> None:
    reminder = await follow_up(svc)
    send = FakeTelegram()
    max_attempts = svc.config.reminders.max_attempts
    now = NOW
    for _ in range(max_attempts + 2):  # more often than refusals would be tolerated
        send.fail_with = [RetryLater(30)]
        outcomes = await svc.delivery.deliver_due(now, send)
        assert [o.result for o in outcomes] == [Result.RETRYING]
        stored = await status(svc, reminder)
        assert stored.status is ReminderStatus.PENDING
        assert stored.due_at == now + timedelta(seconds=30)
        now = stored.due_at
    assert [o.result for o in await svc.delivery.deliver_due(now, send)] == [Result.SENT]
    assert (await status(svc, reminder)).status is ReminderStatus.SENT


async def test_transient_failures_back_off_and_are_never_final(svc: Services) -> None:
    reminder = await follow_up(svc)
    send = FakeTelegram()
    now = NOW
    delays = []
    for _ in range(svc.config.reminders.max_attempts + 3):
        send.fail_with = [TransientFailure("NetworkError: connection reset")]
        await svc.delivery.deliver_due(now, send)
        stored = await status(svc, reminder)
        assert stored.status is ReminderStatus.PENDING and stored.sent_at is None
        assert stored.last_error == "NetworkError: connection reset"
        delays.append(stored.due_at - now)
        now = stored.due_at
    assert delays == sorted(delays) and delays[0] == timedelta(seconds=30)
    assert max(delays) <= timedelta(hours=1)


async def test_refusals_are_retried_then_given_up_with_the_reason(svc: Services) -> None:
    reminder = await follow_up(svc)
    send = FakeTelegram()
    max_attempts = svc.config.reminders.max_attempts
    now, results = NOW, []
    for _ in range(max_attempts):
        send.fail_with = [Refused("Forbidden: bot was blocked by the user")]
        results += [o.result for o in await svc.delivery.deliver_due(now, send)]
        now = (await status(svc, reminder)).due_at
    assert results == [Result.RETRYING] * (max_attempts - 1) + [Result.GAVE_UP]
    stored = await status(svc, reminder)
    assert stored.status is ReminderStatus.FAILED
    assert stored.attempts == max_attempts
    assert "Forbidden" in stored.last_error
    assert await svc.delivery.deliver_due(now + timedelta(days=1), send) == []


async def test_nothing_left_to_say_cancels(svc: Services) -> None:
    reminder = await follow_up(svc)
    send = FakeTelegram()
    send.nothing_to_say = True
    assert [o.result for o in await svc.delivery.deliver_due(NOW, send)] == [Result.CANCELLED]
    assert (await status(svc, reminder)).status is ReminderStatus.CANCELLED


async def test_an_inactive_recipient_gets_nothing(svc: Services) -> None:
    reminder = await follow_up(svc)
    rep = await svc.store.staff.get("7")
    await svc.store.staff.update(dataclasses.replace(rep, active=False))
    send = FakeTelegram()
    assert [o.result for o in await svc.delivery.deliver_due(NOW, send)] == [Result.CANCELLED]
    assert (await status(svc, reminder)).status is ReminderStatus.CANCELLED
    assert send.parcels == []


async def test_many_overdue_reminders_after_downtime_arrive_as_one_digest(svc: Services) -> None:
    threshold = svc.config.reminders.digest_threshold
    overdue = [await follow_up(svc, key=f"old{i}", due=NOW - timedelta(days=2, minutes=i))
               for i in range(threshold + 1)]
    fresh = await follow_up(svc, key="fresh", due=NOW - timedelta(minutes=5))
    send = FakeTelegram()
    outcomes = await svc.delivery.deliver_due(NOW, send)
    assert sorted(o.result for o in outcomes) == [Result.SENT] * (threshold + 2)
    digest, single = send.parcels
    assert digest.digest and {r.id for r in digest.reminders} == {r.id for r in overdue}
    assert digest.customers["c1"].name == "Wang"  # named without the adapter reading the store
    assert not single.digest and single.reminders[0].id == fresh.id
    for reminder in [*overdue, fresh]:
        assert (await status(svc, reminder)).status is ReminderStatus.SENT


async def test_a_failed_digest_keeps_every_reminder_pending(svc: Services) -> None:
    threshold = svc.config.reminders.digest_threshold
    overdue = [await follow_up(svc, key=f"old{i}", due=NOW - timedelta(days=1, minutes=i))
               for i in range(threshold + 1)]
    send = FakeTelegram()
    send.fail_with = [TransientFailure("TimedOut")]
    outcomes = await svc.delivery.deliver_due(NOW, send)
    assert {o.result for o in outcomes} == {Result.RETRYING}
    for reminder in overdue:
        assert (await status(svc, reminder)).status is ReminderStatus.PENDING


async def test_two_workers_never_send_the_same_reminder(svc: Services) -> None:
    await follow_up(svc)
    first, second = FakeTelegram(), FakeTelegram()
    results = await asyncio.gather(svc.delivery.deliver_due(NOW, first),
                                   svc.delivery.deliver_due(NOW, second))
    assert len(first.parcels) + len(second.parcels) == 1
    assert sorted(o.result for outcomes in results for o in outcomes) in (
        [Result.SENT], [Result.SENT, Result.TAKEN])


async def test_subject_says_when_a_reminder_has_nothing_left_to_say(svc: Services) -> None:
    rep = await svc.store.staff.get("7")
    reminder = await follow_up(svc)
    subject = await svc.delivery.subject(reminder, rep)
    assert subject is not None and subject.customer.name == "Wang"
    customer = await svc.store.customers.get("c1")
    await svc.store.customers.update(dataclasses.replace(customer, owner_id="8"))  # reassigned
    assert await svc.delivery.subject(reminder, rep) is None
    # a feedback reminder about a customer the recipient no longer sees names nobody (issue 14.10) ...
    item = await svc.store.feedback.insert(Feedback(
        customer_id="c1", owner_id="7", kind=FeedbackKind.COMPLAINT, severity=Severity.HIGH,
        content="late", status=FeedbackStatus.OPEN))
    overdue = await svc.reminders.schedule(
        kind=ReminderKind.FEEDBACK_OVERDUE, recipient_id="7", due_at=NOW, customer_id="c1",
        dedupe_key=f"feedback_overdue:{item.id}", payload={"feedback_id": item.id})
    assert await svc.delivery.subject(overdue, rep) is None
    customer = await svc.store.customers.get("c1")
    await svc.store.customers.update(dataclasses.replace(customer, owner_id="7"))  # ... theirs again: it does
    assert (await svc.delivery.subject(overdue, rep)).feedback.id == item.id
    await svc.store.feedback.update(dataclasses.replace(item, status=FeedbackStatus.RESOLVED))
    assert await svc.delivery.subject(overdue, rep) is None


# ---- outages, ambiguous failures, permanent refusals (issue 14, points 2 and 3) -------------------
async def test_transient_backoff_is_capped_and_past_the_horizon_the_reminder_goes_into_the_digest(
    svc: Services,
) -> None:
    await svc.staff.set_quiet_hours(await svc.store.staff.get("7"), None)  # a day and a night of trouble
    reminder = await follow_up(svc)
    send = FakeTelegram()
    horizon = timedelta(hours=svc.config.reminders.retry_horizon_hours)
    cap = timedelta(minutes=svc.config.reminders.retry_backoff_max_minutes)
    now = NOW
    while now - NOW <= horizon + cap:  # the last failure falls past the horizon
        send.fail_with = [TransientFailure("ConnectError")]
        outcomes = await svc.delivery.deliver_due(now, send)
        assert [o.result for o in outcomes] == [Result.RETRYING]
        stored = await status(svc, reminder)
        assert stored.status is ReminderStatus.PENDING
        assert stored.due_at - now <= cap
        now = stored.due_at
    outcomes = await svc.delivery.deliver_due(now, send)
    assert [o.result for o in outcomes] == [Result.SENT]
    (parcel,) = send.parcels
    assert parcel.digest and [r.id for r in parcel.reminders] == [reminder.id]


async def test_an_ambiguous_failure_gets_one_retry_then_counts_as_sent_unconfirmed(svc: Services) -> None:
    reminder = await follow_up(svc)
    attempts: list[bool] = []  # one entry per send of this reminder: digest or not

    async def maybe_delivered(parcel: Parcel) -> bool:
        attempts.append(parcel.digest)
        raise Ambiguous("NetworkError: Internal Server Error (500)")

    now, results = NOW, []
    for _ in range(4):
        results += [o.result for o in await svc.delivery.deliver_due(now, maybe_delivered)]
        now = (await status(svc, reminder)).due_at + timedelta(hours=1)
    assert attempts == [False, False]  # sent at most twice: never more than one duplicate
    assert results == [Result.RETRYING, Result.UNCONFIRMED]
    stored = await status(svc, reminder)
    assert stored.status is ReminderStatus.SENT and stored.last_error.startswith("unconfirmed: ")


async def test_clear_failures_after_an_ambiguous_one_do_not_use_up_the_retry(svc: Services) -> None:
    reminder = await follow_up(svc)
    send = FakeTelegram()
    now = NOW
    for error in [Ambiguous("TimedOut"), *[TransientFailure("ConnectError")] * 5]:
        send.fail_with = [error]
        await svc.delivery.deliver_due(now, send)
        now = (await status(svc, reminder)).due_at
    assert [o.result for o in await svc.delivery.deliver_due(now, send)] == [Result.SENT]
    assert not send.parcels[0].digest  # still its own message: the one retry was not used up


async def test_a_permanent_refusal_is_reported_to_the_admins_once_a_day(svc: Services) -> None:
    await svc.store.staff.insert(StaffUser(id="1", telegram_id=1, name="Ada", role=Role.ADMIN))
    await svc.store.customers.insert(Customer(id="c2", name="Li", owner_id="7", team="east"))
    first = await follow_up(svc)
    second = await svc.reminders.schedule(kind=ReminderKind.FOLLOW_UP, recipient_id="7", due_at=NOW,
                                          dedupe_key="follow_up:c2", customer_id="c2")
    send = FakeTelegram()
    now = NOW
    for _ in range(svc.config.reminders.max_attempts):
        send.fail_with = [Refused("Forbidden: bot was blocked by the user")] * 2
        await svc.delivery.deliver_due(now, send)
        now = max((await status(svc, first)).due_at, (await status(svc, second)).due_at)
    assert (await status(svc, first)).status is ReminderStatus.FAILED
    assert (await status(svc, second)).status is ReminderStatus.FAILED
    reports = await svc.store.reminders.find({"kind": ReminderKind.DELIVERY_FAILURES.value})
    assert len(reports) == 1  # one a day, listing both
    (report,) = reports
    assert report.recipient_id == "1" and report.status is ReminderStatus.PENDING
    assert {f["reminder_id"] for f in report.payload["failures"]} == {first.id, second.id}
    assert all("blocked" in f["reason"] for f in report.payload["failures"])
    assert report.due_at == datetime(2026, 3, 3, 0, 0, tzinfo=UTC)  # next morning, 08:00 in Shanghai
    outcomes = await svc.delivery.deliver_due(report.due_at, send)
    assert [o.result for o in outcomes] == [Result.SENT]
    assert send.parcels[-1].recipient.id == "1"
