"""Delivery at the flood limits' pace (issue 15, point 5): everything due in one run, recipients side by side."""

from __future__ import annotations

import asyncio

from bot.domain.models import Customer, ReminderKind, ReminderStatus, Role, StaffUser
from bot.services import Services
from bot.services.delivery import Parcel, Result, RetryLater
from tests.bot.services.test_delivery import NOW, FakeTelegram, svc  # noqa: F401


async def many(svc: Services, recipient: str, count: int) -> None:  # noqa: F811
    if await svc.store.staff.get(recipient) is None:
        await svc.store.staff.insert(StaffUser(id=recipient, telegram_id=int(recipient), name=f"Rep {recipient}",
                                               role=Role.REP, teams=["east"]))
    for n in range(count):
        customer = await svc.store.customers.insert(Customer(name=f"C{recipient}-{n}", owner_id=recipient))
        await svc.reminders.schedule(kind=ReminderKind.FOLLOW_UP, recipient_id=recipient, due_at=NOW,
                                     dedupe_key=f"follow_up:{customer.id}", customer_id=customer.id)


async def test_one_run_sends_everything_due_not_a_batch(svc: Services) -> None:  # noqa: F811
    await many(svc, "8", 12)
    send = FakeTelegram()
    outcomes = await svc.delivery.deliver_due(NOW, send, limit=5)  # five read at a time
    assert [o.result for o in outcomes] == [Result.SENT] * 12
    assert not await svc.store.reminders.find({"status": ReminderStatus.PENDING.value})


async def test_a_slow_chat_does_not_hold_up_the_other_recipients(svc: Services) -> None:  # noqa: F811
    await many(svc, "8", 3)
    await many(svc, "9", 3)
    sent: list[str] = []
    slow_chat = asyncio.Event()

    async def send(parcel: Parcel) -> bool:
        if parcel.recipient.id == "8":
            await slow_chat.wait()  # this chat is at its rate limit
        sent.append(parcel.recipient.id)
        if sent.count("9") == 3:
            slow_chat.set()  # the other recipient got everything first
        return True

    outcomes = await asyncio.wait_for(svc.delivery.deliver_due(NOW, send), 10)
    assert sent == ["9", "9", "9", "8", "8", "8"]
    assert [o.result for o in outcomes].count(Result.SENT) == 6


async def test_flood_control_pauses_that_chat_only(svc: Services) -> None:  # noqa: F811
    await many(svc, "8", 3)
    await many(svc, "9", 3)
    calls: list[str] = []

    async def send(parcel: Parcel) -> bool:
        calls.append(parcel.recipient.id)
        if parcel.recipient.id == "8":
            raise RetryLater(12)
        return True

    outcomes = await svc.delivery.deliver_due(NOW, send)
    assert calls.count("8") == 1  # its other reminders were not tried into the 429
    assert [o.result for o in outcomes].count(Result.SENT) == 3
    waiting = await svc.store.reminders.find({"recipient_id": "8", "status": ReminderStatus.PENDING.value})
    assert len(waiting) == 3
    retried = [r for r in waiting if r.due_at != NOW]
    assert [(r.due_at - NOW).total_seconds() for r in retried] == [12.0]  # retry_after honoured
    assert all(r.attempts == 0 for r in waiting if r.due_at == NOW)  # the others not even claimed
