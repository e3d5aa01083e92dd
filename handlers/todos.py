"""To-dos (待办): the form (on handlers/wizard.py), ``/todo``, the done button, the pushed reminders.

Ways in:

- ``/todo 周四给张伟寄样品`` / ``/todo send samples to Zhang Wei on Thursday``: the
  due time and the customer read from the line (``bot.domain.todos``), straight
  to the confirmation card;
- the card's "✅ To-do" (``todo:start:<customer>``);
- a logged contact's "✅ As a to-do" (``todo:from:<interaction>``): its summary
  and follow-up time as the to-do's text and due time;
- ``/todo`` alone lists mine — overdue, today, upcoming, undated — each with a
  done button (``todo:done:<todo>``).

Steps: text → due time (buttons or typed, skippable) → confirmation, where a
manager also picks the assignee among the reps of their teams.  The assignee
of somebody else's to-do is told at once; the due reminder comes through the
outbox with done and snooze buttons.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import TelegramError
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot.domain import interactions as interaction_rules
from bot.domain import todos as rules
from bot.domain.dates import parse_when
from bot.domain.models import Reminder, ReminderKind, StaffUser, Todo
from bot.domain.validation import ValidationError, parse_free_text
from bot.i18n import gettext_for
from bot.render import render
from bot.services import Services
from bot.services.errors import AccessDenied
from handlers import callback_data, wizard
from handlers.callback_data import CallbackData
from handlers.common import (
    Context,
    answer_press,
    button_handler,
    caller,
    deny,
    drop_keyboard,
    reply_html,
    send_html,
    services,
    user_zone,
)
from handlers.customer_view import when_text
from handlers.menu import N_
from handlers.reasons import reason_text
from handlers.reminders import Pushed, Rendered, snooze_row
from handlers.wizard import Choice, Kind, Prompt, Step, Turn

log = logging.getLogger(__name__)

DRAFT = "todo_draft"
DONE_LABEL = N_("✅ Done")
CARD_LABEL = N_("📇 Card")
LIST_LABEL = N_("📋 My to-dos")
DUE_LABELS = {"today": N_("Today 17:00"), "tomorrow": N_("Tomorrow"), "3d": N_("In 3 days"),
              "week": N_("Next week")}
GROUP_ICONS = {rules.Group.OVERDUE: "⚠️", rules.Group.TODAY: "📌", rules.Group.UPCOMING: "🗓",
               rules.Group.UNDATED: "•"}
LIST_LIMIT = 30


def _cb(action: str, *args: str) -> str:
    return callback_data.encode("todo", action, *args)


# ---- the form ------------------------------------------------------------------------------
def _parse_text(text: str, _inputs: Any) -> str:
    return parse_free_text(text, rules.TEXT_MAX_LENGTH, field_name="text")


def _due_choices(turn: Turn) -> list[Choice]:
    now, tz = turn.inputs.now, turn.tz
    choices = []
    for code, label in DUE_LABELS.items():
        if code == "today":
            local = now.astimezone(tz)
            moment = local.replace(hour=17, minute=0, second=0, microsecond=0)
            if moment <= local:
                continue
        else:
            moment = interaction_rules.follow_up_choice(code, now=now, tz=tz)
        choices.append(Choice(code, turn._(label), moment.isoformat()))
    return choices


async def _assignee_choices(turn: Turn) -> list[Choice]:
    people = await turn.svc.todos.assignees(turn.staff)
    return [Choice(p.id, p.name[:40], p.id) for p in people]


STEPS = (
    Step("text", Kind.TEXT, _parse_text, label=N_("✏️ Text")),
    Step("due", Kind.WHEN, lambda text, i: parse_when(text, now=i.now, tz=i.tz).isoformat(), choices=_due_choices,
         required=False, columns=2, label=N_("📅 Due")),
    # Only from the card; a rep's only choice is themselves, a manager's the reps of their teams.
    Step("assignee", Kind.CHOICE, choices=_assignee_choices, in_sequence=False, columns=2, required=False,
         label=N_("👤 Assignee")),
)


def _ask(turn: Turn, prompt: Prompt) -> str:
    return render(turn.language, "todo_ask", step=prompt.step.key, reason=prompt.reason,
                  name=turn.draft.get("customer_name", ""))


async def _confirm(turn: Turn, reason: str | None) -> str:
    draft = turn.draft
    due = datetime.fromisoformat(draft["due"]) if draft.get("due") else None
    assignee = None
    if draft.get("assignee") and draft["assignee"] != turn.staff.id:
        assignee = (await turn.svc.staff.names()).get(draft["assignee"], draft["assignee"])
    return turn.card("todo_confirm", reason, text=draft.get("text", ""),
                     due=when_text(due, turn.language, turn.tz, weekday=True) if due else None,
                     assignee=assignee)


async def on_save(turn: Turn) -> None:
    draft, svc = turn.draft, turn.svc
    due = datetime.fromisoformat(draft["due"]) if draft.get("due") else None
    todo, told = await svc.todos.create(turn.staff, draft["text"], due_at=due, customer_id=draft.get("customer_id"),
                                        assignee_id=draft.get("assignee") or None,
                                        interaction_id=draft.get("interaction_id"), record_id=turn.record_id)
    listing = InlineKeyboardMarkup([[InlineKeyboardButton(turn._(LIST_LABEL), callback_data=_cb("list"))]])
    await reply_html(turn.update, turn.context, render(turn.language, "todo_saved", text=todo.text,
                                                       due=when_text(due, turn.language, turn.tz, weekday=True)
                                                       if due else None), turn.language, reply_markup=listing)
    if told is not None:
        await tell_assignee(turn.context, turn.staff, todo, told)


async def _begin_with(update: Update, context: Context, values: dict[str, Any], **options: Any) -> str | int:
    return await wizard.begin(update, context, FORM, values, **options)


async def todo_command(update: Update, context: Context) -> str | int | None:
    """``/todo``: my list; ``/todo <what, when>``: a quick entry, to its confirmation card."""
    staff, language = await caller(update, context)
    if staff is None:
        await deny(update, context, language, "todo without staff")
        return None
    text = (update.effective_message.text or "").partition(" ")[2].strip()
    if not text:
        await show_list(update, context, staff, language)
        return None
    svc = services(context)
    try:
        entry, customer = await svc.todos.quick(staff, text, user_zone(staff, svc.config.tz))
    except ValidationError as error:
        return await _begin_with(update, context, {}, at="text", reason=reason_text(error, language))
    values: dict[str, Any] = {"text": entry.text, "due": entry.due_at.isoformat() if entry.due_at else None}
    if customer is not None:
        values.update(customer_id=customer.id, customer_name=customer.name)
    return await _begin_with(update, context, values, review=True)


@button_handler
async def from_interaction(
    update: Update, context: Context, staff: StaffUser, language: str, data: CallbackData
) -> str | int | None:
    """``todo:from:<interaction>``: a logged contact's next step as a to-do."""
    svc = services(context)
    try:
        interaction, customer = await svc.interactions.get(staff, data.args[0])
    except AccessDenied:
        await deny(update, context, language, f"todo from {data.args[0]}")
        return None
    await answer_press(update)
    due = interaction.next_follow_up_at
    if due is not None and due <= svc.clock.now():
        due = None
    text = (interaction.summary or "").strip()[:rules.TEXT_MAX_LENGTH]
    values: dict[str, Any] = {"customer_id": customer.id, "customer_name": customer.name,
                              "interaction_id": interaction.id, "due": due.isoformat() if due else None}
    if text:
        values["text"] = text
        return await _begin_with(update, context, values, review=True)
    return await _begin_with(update, context, values)


FORM = wizard.Form(
    name="todo", conversation="todo", draft_key=DRAFT, steps=STEPS, ask=_ask, confirm=_confirm, on_save=on_save,
    customer_start="start",
    customer_values=lambda c, _svc: {"customer_id": c.id, "customer_name": c.name},
    entry_points=[CommandHandler("todo", todo_command),
                  CallbackQueryHandler(from_interaction, pattern=r"^todo:from:")],
)


# ---- telling the assignee ------------------------------------------------------------------
async def tell_assignee(context: Context, actor: StaffUser, todo: Todo, told: Reminder) -> None:
    """Deliver "you have a to-do" now; the outbox row is marked sent only once Telegram accepted it."""
    svc = services(context)
    claimed = await svc.todos.claim_now(told)
    if claimed is None:
        return
    assignee = await svc.todos.assignee(todo)
    rendered = await _assigned(svc, claimed, assignee, assignee.language) if assignee is not None else None
    if rendered is None:
        await svc.todos.not_sent_now(claimed, "nothing to say")
        return
    try:
        await send_html(context, assignee.telegram_id, rendered[0], assignee.language, reply_markup=rendered[1])
    except TelegramError as error:
        log.warning("to-do %s: the assignee %s not told now: %s", todo.id, assignee.id, error)
        await svc.todos.not_sent_now(claimed, str(error))
        return
    await svc.todos.sent_now(claimed)


def _todo_markup(todo: Todo, reminder: Reminder | None, language: str, *, with_snooze: bool) -> InlineKeyboardMarkup:
    _ = gettext_for(language)
    first = [InlineKeyboardButton(_(DONE_LABEL), callback_data=_cb("done", todo.id))]
    if todo.customer_id:
        first.append(InlineKeyboardButton(_(CARD_LABEL), callback_data=callback_data.encode("cust", "view",
                                                                                            todo.customer_id)))
    rows = [first]
    if with_snooze and reminder is not None:
        rows.append(snooze_row(reminder, language))
    return InlineKeyboardMarkup(rows)


async def _due(svc: Services, reminder: Reminder, user: StaffUser, language: str) -> Rendered | None:
    subject = await svc.todos.subject(reminder, user)
    if subject is None:
        return None
    todo, customer = subject
    tz = user_zone(user, svc.config.tz)
    text = render(language, "todo_due", text=todo.text, customer=customer.name if customer else None,
                  due=when_text(todo.due_at, language, tz, weekday=True) if todo.due_at else None)
    return text, _todo_markup(todo, reminder, language, with_snooze=True)


async def _assigned(svc: Services, reminder: Reminder, user: StaffUser, language: str) -> Rendered | None:
    subject = await svc.todos.subject(reminder, user)
    if subject is None:
        return None
    todo, customer = subject
    tz = user_zone(user, svc.config.tz)
    by = (await svc.staff.names()).get(todo.created_by, todo.created_by)
    text = render(language, "todo_assigned", text=todo.text, by=by, customer=customer.name if customer else None,
                  due=when_text(todo.due_at, language, tz, weekday=True) if todo.due_at else None)
    return text, _todo_markup(todo, None, language, with_snooze=False)


def pushed() -> Pushed:
    return Pushed(renderers={ReminderKind.TODO_DUE: _due, ReminderKind.TODO_ASSIGNED: _assigned},
                  digest_details={})


# ---- the list, done ------------------------------------------------------------------------
async def show_list(update: Update, context: Context, staff: StaffUser, language: str) -> None:
    svc = services(context)
    items = await svc.todos.mine(staff)
    tz = user_zone(staff, svc.config.tz)
    _ = gettext_for(language)
    names = await svc.customers.visible_names(staff) if items else {}
    lines, rows = [], []
    for group, todo in items[:LIST_LIMIT]:
        lines.append((group.name.lower(), GROUP_ICONS[group], todo.text,
                      when_text(todo.due_at, language, tz, weekday=True) if todo.due_at else None,
                      names.get(todo.customer_id or "")))
        rows.append([InlineKeyboardButton(f"✅ {todo.text}"[:60], callback_data=_cb("done", todo.id))])
    text = render(language, "todo_list", items=lines, count=len(items))
    await reply_html(update, context, text, language, reply_markup=InlineKeyboardMarkup(rows) if rows else None)


@button_handler
async def on_button(update: Update, context: Context, staff: StaffUser, language: str, data: CallbackData) -> None:
    """``todo:done:<todo>`` and ``todo:list``; the to-do re-loaded and access re-checked each time."""
    svc = services(context)
    try:
        if data.action == "list":
            await answer_press(update)
            await show_list(update, context, staff, language)
            return
        todo = await svc.todos.done(staff, data.args[0])
        await answer_press(update, render(language, "todo_done", text=todo.text))
        await drop_keyboard(update)
        await reply_html(update, context, render(language, "todo_done", text=todo.text), language)
    except AccessDenied as denied:
        await deny(update, context, language, f"todo button {data} ({denied})", denied=denied)


def handlers(conversation_timeout: timedelta | None = None) -> list[BaseHandler]:
    return [
        wizard.conversation(FORM, conversation_timeout),
        CallbackQueryHandler(on_button, pattern=r"^todo:(done|list)(:|$)"),
    ]
