"""The to-do and note services without Telegram: access, audit before/after, the outbox rows."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.clock import SimulatedClock
from bot.config import load_config
from bot.domain.models import (
    AttachmentKind,
    Customer,
    NoteAttachment,
    ReminderKind,
    ReminderStatus,
    Role,
    StaffUser,
    TodoStatus,
)
from bot.services import Services
from bot.services.errors import AccessDenied
from storage import open_store

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


@pytest.fixture
async def svc(tmp_path: Path) -> AsyncIterator[Services]:
    config = load_config(None, environ={}, search=False)
    async with open_store("tinydb", path=tmp_path) as store:
        services = Services(config=config, store=store, clock=SimulatedClock(NOW))
        for uid, role, teams in (("7", Role.REP, ["east"]), ("8", Role.REP, ["west"]), ("9", Role.MANAGER, ["east"])):
            await store.staff.insert(StaffUser(id=uid, telegram_id=int(uid), name=f"U{uid}", role=role, teams=teams))
        await store.customers.insert(Customer(id="c1", name="Wang", owner_id="7", team="east"))
        await store.customers.insert(Customer(id="c2", name="West", owner_id="8", team="west"))
        yield services


async def staff(svc: Services, uid: str) -> StaffUser:
    user = await svc.store.staff.get(uid)
    assert user is not None
    return user


async def test_a_todo_is_scheduled_done_and_audited(svc: Services) -> None:
    rep = await staff(svc, "7")
    todo, told = await svc.todos.create(rep, "call back", due_at=NOW + timedelta(hours=2), customer_id="c1")
    assert told is None
    due = await svc.store.reminders.get_by("dedupe_key", f"todo:{todo.id}")
    assert due.kind is ReminderKind.TODO_DUE and due.recipient_id == "7" and due.status is ReminderStatus.PENDING
    done = await svc.todos.done(rep, todo.id)
    assert done.status is TodoStatus.DONE and done.done_at == NOW
    due = await svc.store.reminders.get_by("dedupe_key", f"todo:{todo.id}")
    assert due.status is ReminderStatus.CANCELLED
    events = await svc.store.audit.find({"entity_id": todo.id}, order_by="at")
    assert [e.action for e in events] == ["create", "done"]
    assert events[1].changes["status"] == ["open", "done"]
    with pytest.raises(AccessDenied):
        await svc.todos.done(rep, todo.id)  # twice: a stale button


async def test_who_sees_a_todo(svc: Services) -> None:
    rep, west, manager = await staff(svc, "7"), await staff(svc, "8"), await staff(svc, "9")
    todo, told = await svc.todos.create(manager, "visit", assignee_id="7", customer_id="c1")
    assert told is not None and told.kind is ReminderKind.TODO_ASSIGNED and told.recipient_id == "7"
    assert (await svc.todos.get(rep, todo.id))[0].id == todo.id
    assert (await svc.todos.get(manager, todo.id))[0].id == todo.id
    with pytest.raises(AccessDenied):
        await svc.todos.get(west, todo.id)
    with pytest.raises(AccessDenied):
        await svc.todos.done(west, todo.id)
    with pytest.raises(AccessDenied):
        await svc.todos.create(rep, "x", customer_id="c2")  # a customer the rep does not see
    assert [t.id for _g, t in await svc.todos.mine(rep)] == [todo.id]
    assert await svc.todos.mine(west) == []


async def test_a_due_reminder_of_a_done_todo_says_nothing(svc: Services) -> None:
    rep = await staff(svc, "7")
    todo, _ = await svc.todos.create(rep, "call", due_at=NOW + timedelta(minutes=5))
    reminder = await svc.store.reminders.get_by("dedupe_key", f"todo:{todo.id}")
    assert await svc.todos.subject(reminder, rep) is not None
    await svc.todos.done(rep, todo.id)
    assert await svc.todos.subject(reminder, rep) is None


async def test_notes_are_the_customers_newest_first_and_audited(svc: Services) -> None:
    rep, west = await staff(svc, "7"), await staff(svc, "8")
    first = await svc.notes.add(rep, "c1", text="first", attachments=[])
    svc.clock.set(NOW + timedelta(minutes=1))
    photo = NoteAttachment(kind=AttachmentKind.PHOTO, file_id="AgAD", file_unique_id="u1", size=10)
    second = await svc.notes.add(rep, "c1", text="", attachments=[photo])
    assert [n.id for n in await svc.notes.for_customer(rep, "c1")] == [second.id, first.id]
    assert (await svc.notes.attachment(rep, second.id, 0))[1].file_id == "AgAD"
    with pytest.raises(AccessDenied):
        await svc.notes.attachment(west, second.id, 0)
    with pytest.raises(AccessDenied):
        await svc.notes.add(west, "c1", text="mine now", attachments=[])
    event = (await svc.store.audit.find({"entity_id": second.id}))[0]
    assert event.action == "create" and event.changes["attachments"][0] is None
    history = await svc.customers.history(rep, "c1")
    assert [i.kind for i in history] == ["note", "note"]


async def test_a_local_copy_is_kept_under_the_data_directory(svc: Services, tmp_path: Path) -> None:
    svc.notes.files_dir = tmp_path / "note_files"
    photo = NoteAttachment(kind=AttachmentKind.PHOTO, file_id="AgAD", file_unique_id="u/../1")
    kept = await svc.notes.keep_copy(photo, b"\x89PNG")
    assert kept.local_path == "note_files/u_.._1"
    assert (tmp_path / "note_files" / "u_.._1").read_bytes() == b"\x89PNG"
