"""A report being built keeps nobody waiting (issue 15.1): "⏳" at once, edited into the report.

The team has a few hundred customers and a few thousand records, so the report takes
the ranged, sliced read.  The figures' computation is held in its worker thread by an
event the test controls: while it is held, another user's /help is answered, and the
manager sees "⏳ Preparing your report…" (in their language); once it is released, that
very message becomes the report and the chart follows.
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

import bot.services.reports as reports_service
from bot.domain.models import Customer, Interaction, InteractionKind, Purchase, Role, StaffUser
from handlers.common import SERVICES_KEY

SH = ZoneInfo("Asia/Shanghai")
MANAGER, REP, OTHER = 871, 872, 873
CUSTOMERS, INTERACTIONS, PURCHASES = 400, 4000, 800


class Gate:
    """Holds ``_compute`` in its worker thread until released; says when it got there."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.reached = asyncio.Event()
        self.release = threading.Event()

    def wrap(self, compute: Any) -> Any:
        def held(*args: Any, **kwargs: Any) -> Any:
            self.loop.call_soon_threadsafe(self.reached.set)
            if not self.release.wait(timeout=60):
                raise TimeoutError("the test never released the report")
            return compute(*args, **kwargs)

        return held


@pytest.fixture
async def gate(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Gate]:
    held = Gate(asyncio.get_running_loop())
    monkeypatch.setattr(reports_service, "_compute", held.wrap(reports_service._compute))
    yield held
    held.release.set()


async def insert_in_batches(collection: Any, records: list[Any]) -> None:
    """A few hundred at a time: encoding thousands in one call would hold the loop."""
    for start in range(0, len(records), 250):
        await collection.insert_many(records[start:start + 250])


@pytest.fixture
async def team(bot: Any, sandbox: Any, clock: Any) -> dict[str, Any]:
    store, now = bot.bot_data[SERVICES_KEY].store, clock.now()
    for uid, name, role, language in ((MANAGER, "Mei", Role.MANAGER, "en"), (REP, "王芳", Role.REP, "zh"),
                                      (OTHER, "Oscar", Role.REP, "en")):
        await store.staff.insert(StaffUser(id=str(uid), telegram_id=uid, name=name, role=role, teams=["east"],
                                           language=language, created_at=now, updated_at=now))
    rnd = random.Random(15)
    customers = []
    for k in range(CUSTOMERS):
        created = now - timedelta(days=rnd.randrange(700))
        customers.append(Customer(name=f"Customer {k}", owner_id=str(REP), team="east",
                                  created_at=created, updated_at=created))
    await insert_in_batches(store.customers, customers)
    interactions = []
    for _ in range(INTERACTIONS):
        at = now - timedelta(minutes=rnd.randrange(60 * 24 * 120))
        interactions.append(Interaction(
            customer_id=rnd.choice(customers).id, owner_id=str(REP), kind=InteractionKind.CALL, occurred_at=at,
            next_follow_up_at=at + timedelta(days=3) if rnd.random() < 0.2 else None,
            created_at=at, updated_at=at))
    await insert_in_batches(store.interactions, interactions)
    await insert_in_batches(store.purchases, [
        Purchase(customer_id=rnd.choice(customers).id, owner_id=str(REP), product="tea",
                 amount=Decimal(rnd.randrange(100, 5000)), currency="CNY",
                 purchased_on=date(2026, 3, 2) - timedelta(days=rnd.randrange(400)),
                 created_at=now, updated_at=now)
        for _ in range(PURCHASES)
    ])
    return {
        "manager": sandbox.user(MANAGER, first_name="Mei", language_code="en"),
        "rep": sandbox.user(REP, first_name="芳", language_code="zh-hans"),
        "other": sandbox.user(OTHER, first_name="Oscar", language_code="en"),
    }


async def built_while_others_are_answered(
    asker: Any, button: str, bystander: Any, gate: Gate, preparing: str, title: str, help_title: str
) -> None:
    await asker.send("/report")
    pressing = asyncio.create_task(asker.press(button, timeout=60))
    await asyncio.wait_for(gate.reached.wait(), timeout=30)  # the figures are being computed now

    placeholder = asker.bot_messages()[-1]
    assert placeholder.text is not None and preparing in placeholder.text

    replies = await bystander.send("/help", timeout=30)
    assert help_title in replies[-1].text
    assert not pressing.done()  # answered while the report is still being built

    gate.release.set()
    replies = await pressing
    report = next(m for m in asker.bot_messages() if m.message_id == placeholder.message_id)
    assert report.edited and title in report.text and preparing not in report.text
    assert any(m.photo is not None for m in replies)


async def test_help_is_answered_while_a_managers_report_is_built_and_the_wait_becomes_the_report(
    team: dict[str, Any], gate: Gate
) -> None:
    await built_while_others_are_answered(
        team["manager"], "This month", team["rep"], gate,
        preparing="Preparing your report", title="Report", help_title="我能做什么")


async def test_the_same_in_chinese(team: dict[str, Any], gate: Gate) -> None:
    await built_while_others_are_answered(
        team["rep"], "本月", team["other"], gate,
        preparing="正在生成报表", title="报表", help_title="What I can do")


async def test_the_excel_button_reuses_the_report_just_shown(
    team: dict[str, Any], gate: Gate, bot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate.release.set()
    manager = team["manager"]
    await manager.send("/report")
    await manager.press("This week", timeout=60)
    computed: list[datetime] = []
    compute = reports_service._compute

    def counted(*args: Any, **kwargs: Any) -> Any:
        computed.append(kwargs["now"])
        return compute(*args, **kwargs)

    monkeypatch.setattr(reports_service, "_compute", counted)
    replies = await manager.press("📊 Report (Excel)", timeout=60)
    assert [m for m in replies if m.document is not None] and computed == []

    store = bot.bot_data[SERVICES_KEY].store  # a record added since: the report is computed again
    customer = (await store.customers.find(limit=1))[0]
    now = datetime(2026, 3, 2, 10, 0, tzinfo=SH)
    await store.interactions.insert(Interaction(customer_id=customer.id, owner_id=str(REP),
                                                kind=InteractionKind.VISIT, occurred_at=now,
                                                created_at=now, updated_at=now))
    replies = await manager.press("📊 Report (Excel)", timeout=60)
    assert [m for m in replies if m.document is not None] and len(computed) == 1
