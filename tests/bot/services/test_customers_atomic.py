"""Purge and reassign-all are one transaction each: a refusal or a failure half-way changes nothing.

(Kill -9 in the middle of each: ``test_purge_reassign_crash.py``.)
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.clock import SimulatedClock
from bot.config import load_config
from bot.domain.models import Customer, Reminder, ReminderKind, Role, StaffUser
from bot.services import Services
from bot.services.errors import AccessDenied
from storage import Store, TinyDBStore
from storage.sql import SQLStore

NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
REP_A = StaffUser(id="ra", telegram_id=1, name="Rep A", teams=["east", "west"])
REP_B = StaffUser(id="rb", telegram_id=2, name="Rep B", teams=["east"])
MANAGER = StaffUser(id="m1", telegram_id=3, name="Manager", role=Role.MANAGER, teams=["east"])
ADMIN = StaffUser(id="a1", telegram_id=4, name="Admin", role=Role.ADMIN)


@pytest.fixture(params=["tinydb", "sqlite"])
async def store(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    if request.param == "tinydb":
        store: Store = TinyDBStore(tmp_path / "data", fsync=False)
    else:
        store = SQLStore(f"sqlite:///{tmp_path / 'crm.sqlite3'}")
    await store.open()
    await store.staff.insert_many([REP_A, REP_B, MANAGER, ADMIN])
    try:
        yield store
    finally:
        await store.close()


def services(store: Store) -> Services:
    return Services(load_config(None, environ={}, search=False), store, SimulatedClock(NOW))


async def test_reassign_all_refused_half_way_moves_nothing(store: Store) -> None:
    # The manager sees the east customers but not c2, in the west: the move is refused as a whole.
    teams = ["east", "east", "west", "east"]
    await store.customers.insert_many([
        Customer(id=f"c{i}", name=f"客户 {i}", owner_id=REP_A.id, team=team, created_at=NOW, updated_at=NOW)
        for i, team in enumerate(teams)
    ])  # fmt: skip
    await store.reminders.insert_many([
        Reminder(id=f"r{i}", kind=ReminderKind.FOLLOW_UP, recipient_id=REP_A.id, due_at=NOW,
                 dedupe_key=f"k{i}", customer_id=f"c{i}")
        for i in range(len(teams))
    ])  # fmt: skip
    svc = services(store)
    with pytest.raises(AccessDenied):
        await svc.customers.reassign_all(MANAGER, REP_A.id, REP_B.id)
    assert await store.customers.count({"owner_id": REP_A.id}) == 4
    assert await store.reminders.count({"recipient_id": REP_A.id}) == 4
    assert await store.audit.count() == 0
    assert await svc.customers.reassign_all(ADMIN, REP_A.id, REP_B.id) == 4
    assert await store.customers.count({"owner_id": REP_B.id}) == 4
    assert await store.reminders.count({"recipient_id": REP_B.id}) == 4
    assert await store.audit.count({"action": "reassign"}) == 4


async def test_purge_removes_the_customer_its_history_and_records_it(store: Store) -> None:
    await store.customers.insert(Customer(id="v", name="王芳", owner_id=REP_A.id, team="east"))
    await store.reminders.insert(Reminder(id="r", kind=ReminderKind.FOLLOW_UP, recipient_id=REP_A.id,
                                          due_at=NOW, dedupe_key="k", customer_id="v"))
    heard: list[str] = []
    store.listen(lambda name, rid, record: heard.append(f"{name}:{rid}"))
    await services(store).customers.purge(ADMIN, "v")
    assert await store.customers.get("v") is None and await store.reminders.count() == 0
    (event,) = await store.audit.find({"entity_id": "v"})
    assert event.action == "purge" and event.changes == {"name": ["王芳", None]}
    assert {"customers:v", "reminders:r", f"audit:{event.id}"} <= set(heard)
