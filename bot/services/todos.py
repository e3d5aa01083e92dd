"""To-dos (待办): writing them, assigning them, their due reminders, marking them done.

Every method takes the acting staff user and re-checks access
(``bot.domain.access.can_view_todo`` / ``can_assign_todo``): ids come from
buttons and are not trusted.  A to-do with a due time has one due reminder in
the outbox (``todo:<id>``, kind ``todo_due``, to its assignee): the delivery job
sends it with done and snooze buttons; marking the to-do done cancels it, and a
reminder whose to-do is done by the time it falls due says nothing.  A to-do a
manager gives a rep is also an outbox row due at once (``todo_assigned:<id>``),
which the handler delivers immediately (claim, send, mark sent) and leaves to
the scheduler if Telegram refuses.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.clock import Clock
from bot.config import Config
from bot.domain import access
from bot.domain import todos as rules
from bot.domain.models import (
    Customer,
    Reminder,
    ReminderKind,
    Role,
    StaffUser,
    Todo,
    TodoStatus,
)
from bot.services.audit import AuditService
from bot.services.customers import CustomerService
from bot.services.drafts import insert_once
from bot.services.errors import AccessDenied, update_or_refuse
from bot.services.reminders import ReminderService
from storage.base import Store


class TodoService:
    def __init__(self, store: Store, clock: Clock, config: Config, audit: AuditService,
                 customers: CustomerService, reminders: ReminderService) -> None:
        self.store = store
        self.clock = clock
        self.config = config
        self.audit = audit
        self.customers = customers
        self.reminders = reminders

    # ---- reading -------------------------------------------------------------------------
    async def quick(self, actor: StaffUser, text: str, tz: ZoneInfo) -> tuple[rules.QuickTodo, Customer | None]:
        """A one-line entry read: its text, due time and the customer it names (one the actor sees).

        Off the event loop: the date parser is slow the first time."""
        if not access.is_active(actor):
            raise AccessDenied("todos")
        now = self.clock.now()
        entry = await asyncio.to_thread(rules.split_due, text, now=now, tz=tz)
        names = await self.customers.visible_names(actor)
        customer_id = rules.named_customer(entry.text, names)
        customer = None
        if customer_id is not None:
            try:
                customer = await self.customers.visible(actor, customer_id)
            except AccessDenied:
                customer = None
        return entry, customer

    async def get(self, actor: StaffUser, todo_id: str) -> tuple[Todo, Customer | None]:
        """The to-do and its customer (None: none, or one the actor does not see), if the actor may see it."""
        todo = await self.store.todos.get(todo_id) if len(todo_id) <= 64 else None
        if todo is None or todo.deleted:
            raise AccessDenied(f"todo {todo_id}")
        customer = await self.store.customers.get(todo.customer_id) if todo.customer_id else None
        assignee = await self.store.staff.get(todo.assignee_id)
        if not access.can_view_todo(actor, todo.assignee_id, todo.created_by, assignee, customer):
            raise AccessDenied(f"todo {todo_id}")
        if customer is not None and not access.can_view_customer(actor, customer):
            customer = None
        return todo, customer

    async def mine(self, actor: StaffUser) -> list[tuple[rules.Group, Todo]]:
        """The actor's open to-dos: overdue first, then today, upcoming, undated."""
        if not access.is_active(actor):
            raise AccessDenied("todos")
        found = await self.store.todos.find({"assignee_id": actor.id, "status": TodoStatus.OPEN.value,
                                             "deleted": False})
        return rules.ordered(found, self.clock.now(), self.zone(actor))

    async def for_customer(self, actor: StaffUser, customer_id: str) -> list[Todo]:
        """The customer's open to-dos (whoever sees the customer sees them), by due time."""
        customer = await self.customers.visible(actor, customer_id)
        found = await self.store.todos.find({"customer_id": customer.id, "status": TodoStatus.OPEN.value,
                                             "deleted": False})
        return [t for _g, t in rules.ordered(found, self.clock.now(), self.config.tz)]

    async def due_by(self, user: StaffUser, day: date) -> list[Todo]:
        """The daily agenda's to-dos: the user's open ones due by the end of ``day`` (their time)."""
        end = datetime.combine(day + timedelta(days=1), time(0), self.zone(user))
        found = await self.store.todos.find({"assignee_id": user.id, "status": TodoStatus.OPEN.value,
                                             "deleted": False})
        return [t for t in sorted(found, key=lambda t: (t.due_at or end, t.id)) if t.due_at and t.due_at < end]

    async def assignees(self, actor: StaffUser) -> list[StaffUser]:
        """Whom the actor may give a to-do: themselves first, then the reps they manage."""
        people = [actor]
        if actor.role is not Role.REP:
            for user in await self.store.staff.find({"active": True}):
                if user.id != actor.id and access.can_assign_todo(actor, user):
                    people.append(user)
        return people

    async def assignee(self, todo: Todo) -> StaffUser | None:
        return await self.store.staff.get(todo.assignee_id)

    def zone(self, user: StaffUser) -> ZoneInfo:
        try:
            return ZoneInfo(user.timezone)
        except (ValueError, KeyError):
            return self.config.tz

    # ---- writing -------------------------------------------------------------------------
    async def create(self, actor: StaffUser, text: str, *, due_at: datetime | None = None,
                     customer_id: str | None = None, assignee_id: str | None = None,
                     interaction_id: str | None = None, record_id: str | None = None,
                     ) -> tuple[Todo, Reminder | None]:
        """A new to-do; with another assignee also the "you have a to-do" row, due now (returned)."""
        assignee = actor if assignee_id in (None, actor.id) else await self.store.staff.get(assignee_id or "")
        if assignee is None or not access.can_assign_todo(actor, assignee):
            raise AccessDenied(f"assign todo to {assignee_id}")
        customer = await self.customers.visible(actor, customer_id) if customer_id else None
        if interaction_id is not None:
            interaction = await self.store.interactions.get(interaction_id)
            if interaction is None or customer is None or interaction.customer_id != customer.id:
                raise AccessDenied(f"interaction {interaction_id}")
        now = self.clock.now()
        todo = Todo(text=text, assignee_id=assignee.id, created_by=actor.id, due_at=due_at,
                    customer_id=customer.id if customer else None, interaction_id=interaction_id,
                    created_at=now, updated_at=now, **({"id": record_id} if record_id else {}))
        saved = await insert_once(self.store.todos, todo)
        await self.audit.record_change(actor.id, "create", "todo", None, saved)
        await self._schedule(saved)
        told = None
        if assignee.id != actor.id:
            told = await self.reminders.alert_now(
                kind=ReminderKind.TODO_ASSIGNED, recipient_id=assignee.id,
                dedupe_key=rules.assigned_key(saved.id), customer_id=saved.customer_id,
                payload={"todo_id": saved.id, "by": actor.id})
        return saved, told

    async def done(self, actor: StaffUser, todo_id: str) -> Todo:
        """Mark it done (its due reminder is cancelled); done already: refused as a stale button."""
        await self.get(actor, todo_id)

        def finish(todo: Todo) -> Todo:
            if todo.deleted or todo.status is TodoStatus.DONE:
                raise AccessDenied(f"todo {todo_id} is done", code="todo.done")
            now = self.clock.now()
            return dataclasses.replace(todo, status=TodoStatus.DONE, done_at=now, done_by=actor.id, updated_at=now)

        before, saved = await update_or_refuse(self.store.todos, todo_id, finish, what=f"todo {todo_id}")
        await self.audit.record_change(actor.id, "done", "todo", before, saved)
        await self.reminders.cancel(rules.due_key(saved.id), "to-do done")
        return saved

    async def snoozed(self, actor: StaffUser, todo_id: str, until: datetime) -> Todo:
        """Its due reminder was snoozed (``rem:snooze``): the to-do says until when (its due time stays)."""
        await self.get(actor, todo_id)

        def note(todo: Todo) -> Todo | None:
            if todo.status is not TodoStatus.OPEN or todo.snoozed_until == until:
                return None
            return dataclasses.replace(todo, snoozed_until=until, updated_at=self.clock.now())

        before, saved = await update_or_refuse(self.store.todos, todo_id, note, what=f"todo {todo_id}")
        if saved is not before:
            await self.audit.record_change(actor.id, "snooze", "todo", before, saved)
        return saved

    async def _schedule(self, todo: Todo) -> None:
        if todo.due_at is None or todo.status is not TodoStatus.OPEN:
            await self.reminders.cancel(rules.due_key(todo.id), "no due time")
            return
        await self.reminders.schedule(kind=ReminderKind.TODO_DUE, recipient_id=todo.assignee_id, due_at=todo.due_at,
                                      dedupe_key=rules.due_key(todo.id), customer_id=todo.customer_id,
                                      payload={"todo_id": todo.id})

    # ---- the outbox ----------------------------------------------------------------------
    async def subject(self, reminder: Reminder, recipient: StaffUser) -> tuple[Todo, Customer | None] | None:
        """The open to-do a reminder is about, as its recipient may see it; None: nothing left to say."""
        try:
            todo, customer = await self.get(recipient, str(reminder.payload.get("todo_id", "")))
        except AccessDenied:
            return None
        if todo.status is not TodoStatus.OPEN or todo.assignee_id != recipient.id:
            return None
        return todo, customer

    async def claim_now(self, reminder: Reminder) -> Reminder | None:
        """Take a "you have a to-do" row for immediate delivery; None if it is gone or being sent."""
        return await self.reminders.claim_now(reminder)

    async def sent_now(self, claimed: Reminder) -> Reminder:
        return await self.reminders.sent_now(claimed)

    async def not_sent_now(self, claimed: Reminder, error: str) -> Reminder:
        return await self.reminders.not_sent_now(claimed, error)
