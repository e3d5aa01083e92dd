"""Customer feedback: recording it (a form on handlers/wizard.py), the complaint alert, following it through.

Recording (``fb:start:<customer>``, the card's "💬 Feedback"): kind → severity
→ what the customer said → CSAT 1–5 (or skip) → NPS 0–10 (or skip) →
confirmation, which shows the response due date (by severity, from
``[feedback]``) with a button to change it, and one button per field.

Saving a complaint alerts the team's managers: a reminder row per manager
(the outbox) and, at once, a message from here with an "Open" button
(``fb:view:<feedback>``); the row is marked sent only once Telegram accepted
the message, and left pending for the scheduler if not.

Following through: ``fb:view:<feedback>`` shows an item with the status
buttons its workflow allows (``bot.domain.feedback.TRANSITIONS``):
in progress, resolved (asks for a resolution note: ``fb:resolve``, a one-step
form), confirmed by the customer, reopen; and edit / delete for whoever may.
``/feedback`` lists the caller's unfinished items (a rep's customers, a
manager's team, everything for admins), oldest first.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import TelegramError
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot import labels
from bot.domain import feedback as workflow
from bot.domain import interactions as rules
from bot.domain.dates import parse_when
from bot.domain.models import Feedback, FeedbackKind, FeedbackStatus, Severity, StaffUser
from bot.domain.validation import parse_free_text, parse_rating
from bot.i18n import gettext_for
from bot.render import render
from bot.services.errors import AccessDenied
from bot.services.feedback import ComplaintAlert
from handlers import callback_data, wizard
from handlers.callback_data import CallbackData
from handlers.common import (
    Context,
    answer_press,
    button_handler,
    caller,
    deny,
    display_name,
    drop_keyboard,
    reply_html,
    send_html,
    services,
    user_zone,
)
from handlers.customer_card import entry_action
from handlers.customer_view import when_text
from handlers.menu import N_
from handlers.wizard import Choice, Kind, Prompt, Step, Turn

log = logging.getLogger(__name__)

DRAFT = "feedback_draft"
RESOLVING = "feedback_resolving"
PAGE = 8
DUE_LABELS = {"tomorrow": N_("Tomorrow"), "3d": N_("In 3 days"), "week": N_("Next week")}
DEFAULT_DUE_LABEL = N_("Default: %(when)s")
EDIT_LABEL = N_("✏️ Edit")
DELETE_LABEL = N_("🗑 Delete")
CARD_LABEL = N_("📇 Card")
OPEN_LABEL = N_("🔎 Open")
STATUS_ICONS = {"open": "🔴", "in_progress": "🟡", "resolved": "🟢", "confirmed": "✅"}


def _cb(action: str, *args: str) -> str:
    return callback_data.encode("fb", action, *args)


# ---- recording: the steps and screens ------------------------------------------------------
def _due(turn: Turn) -> tuple[datetime, bool]:
    """The draft's due date and whether it is the severity's default."""
    draft, svc = turn.draft, turn.svc
    if draft.get("due"):
        return datetime.fromisoformat(draft["due"]), False
    severity = Severity(draft.get("severity", Severity.MEDIUM.value))
    created = datetime.fromisoformat(draft["created_at"]) if draft.get("created_at") else svc.clock.now()
    return svc.feedback.default_due(severity, created), True


def _due_choices(turn: Turn) -> list[Choice]:
    now, tz = turn.inputs.now, turn.tz
    default = turn.svc.feedback.default_due(Severity(turn.draft.get("severity", "medium")), now)
    when = when_text(default, turn.language, tz)
    return [Choice("default", (turn._(DEFAULT_DUE_LABEL) % {"when": when})[:60], None),
            *[Choice(code, turn._(label), rules.follow_up_choice(code, now=now, tz=tz).isoformat())
              for code, label in DUE_LABELS.items()]]


def _scale(low: int, high: int) -> Any:
    return lambda turn: [Choice(str(n), str(n), n) for n in range(low, high + 1)]


STEPS = (
    Step("kind", Kind.CHOICE, choices=lambda turn: wizard.options(turn, labels.FEEDBACK_KINDS), columns=4,
         label=N_("Kind")),
    Step("severity", Kind.CHOICE, action="sev", choices=lambda turn: wizard.options(turn, labels.SEVERITIES),
         label=N_("Severity")),
    Step("content", Kind.TEXT, lambda text, _i: parse_free_text(text, rules.CONTENT_MAX_LENGTH, field_name="content"),
         label=N_("Content")),
    Step("csat", Kind.RATING, lambda text, _i: parse_rating(text, 1, 5, field_name="csat"), choices=_scale(1, 5),
         required=False, columns=5, label=N_("CSAT")),
    Step("nps", Kind.RATING, lambda text, _i: parse_rating(text, 0, 10, field_name="nps"), choices=_scale(0, 10),
         required=False, columns=6, label=N_("NPS")),
    Step("due", Kind.WHEN, lambda text, i: parse_when(text, now=i.now, tz=i.tz).isoformat(), choices=_due_choices,
         required=False, in_sequence=False, label=N_("📅 Due")),
)


def _ask(turn: Turn, prompt: Prompt) -> str:
    draft, key = turn.draft, prompt.step.key
    parts = [display_name(turn.language, table, draft.get(k))
             for k, table in (("kind", labels.FEEDBACK_KINDS), ("severity", labels.SEVERITIES)) if draft.get(k) in table]
    default_due = when_text(turn.svc.feedback.default_due(Severity(draft.get("severity", "medium")), turn.inputs.now),
                            turn.language, turn.tz, weekday=True) if key == "due" else None
    return render(turn.language, "feedback_ask", step=key, reason=prompt.reason, name=draft.get("customer_name", ""),
                  parts=parts, default_due=default_due)


def _confirm(turn: Turn, reason: str | None) -> str:
    draft = turn.draft
    due, default = _due(turn)
    return turn.card(
        "feedback_confirm", reason,
        kind=turn.shown(labels.FEEDBACK_KINDS, "kind"), severity=turn.shown(labels.SEVERITIES, "severity"),
        content=draft.get("content", ""), csat=draft.get("csat"), nps=draft.get("nps"),
        due=when_text(due, turn.language, turn.tz, weekday=True), default_due=default,
        complaint=draft.get("kind") == FeedbackKind.COMPLAINT.value and draft.get("mode") != "edit",
    )


async def on_save(turn: Turn) -> None:
    draft, svc = turn.draft, turn.svc
    due, default = _due(turn)
    values = {"kind": FeedbackKind(draft["kind"]), "severity": Severity(draft["severity"]),
              "content": draft["content"], "csat": draft.get("csat"), "nps": draft.get("nps")}
    if draft.get("mode") == "edit":
        item, alerts = await svc.feedback.update(turn.staff, draft["id"], **values, due_at=due)
    else:
        item, alerts = await svc.feedback.record(turn.staff, draft["customer_id"], **values,
                                                 due_at=None if default else due, record_id=turn.record_id)
    await reply_html(turn.update, turn.context, wizard.saved_text(turn), turn.language)
    await send_alerts(turn.context, turn.staff, item, alerts)
    await show_item(turn.update, turn.context, turn.staff, turn.language, item.id)


# ---- entry points --------------------------------------------------------------------------
async def _edit_values(staff: StaffUser, feedback_id: str, svc: Any) -> dict[str, Any]:
    item, customer = await svc.feedback.editable(staff, feedback_id)
    return {
        "id": item.id, "customer_id": customer.id, "customer_name": customer.name,
        "kind": item.kind.value, "severity": item.severity.value, "content": item.content,
        "csat": item.csat, "nps": item.nps, "due": item.due_at.isoformat() if item.due_at else None,
        "created_at": item.created_at.isoformat(),
    }


FORM = wizard.Form(
    name="fb", conversation="feedback", draft_key=DRAFT, steps=STEPS, ask=_ask, confirm=_confirm,
    on_save=on_save, field_columns=3,
    customer_start="start", edit_button="fb:edit", edit_values=_edit_values,
    customer_values=lambda c, _svc: {"mode": "new", "customer_id": c.id, "customer_name": c.name},
)


# ---- resolving: a one-step form ------------------------------------------------------------
@button_handler
async def start_resolve(
    update: Update, context: Context, staff: StaffUser, language: str, data: CallbackData
) -> str | int | None:
    """``fb:resolve:<feedback>``: ask for the resolution note."""
    try:
        item, _customer = await services(context).feedback.get(staff, data.args[0])
        if not workflow.can_transition(item.status, FeedbackStatus.RESOLVED):
            raise AccessDenied(f"resolve from {item.status}")
    except AccessDenied:
        await deny(update, context, language, f"resolve feedback {data.args[0]}")
        return None
    await answer_press(update)
    return await wizard.begin(update, context, RESOLVE_FORM, {"id": item.id})


async def on_resolve(turn: Turn) -> None:
    await turn.svc.feedback.set_status(turn.staff, turn.draft["id"], FeedbackStatus.RESOLVED,
                                       resolution=turn.draft["resolution"])
    await reply_html(turn.update, turn.context, wizard.saved_text(turn), turn.language)
    await show_item(turn.update, turn.context, turn.staff, turn.language, turn.draft["id"])


RESOLVE_FORM = wizard.Form(
    name="fbr", conversation="feedback_resolve", draft_key=RESOLVING, on_save=on_resolve,
    steps=(Step("resolution", Kind.TEXT, lambda text, _i: parse_free_text(
        text, rules.RESOLUTION_MAX_LENGTH, field_name="resolution")),),
    ask=lambda turn, prompt: render(turn.language, "feedback_resolve_ask", reason=prompt.reason),
    entry_points=[CallbackQueryHandler(start_resolve, pattern=r"^fb:resolve:")],
)


async def send_alerts(context: Context, actor: StaffUser, item: Feedback, alerts: list[ComplaintAlert]) -> None:
    """Deliver complaint alerts now; each outbox row is marked sent only once Telegram accepted it."""
    svc = services(context)
    try:
        customer = await svc.customers.visible(actor, item.customer_id)
    except AccessDenied:
        return
    for alert in alerts:
        claimed = await svc.feedback.claim_alert(alert.reminder)
        if claimed is None:
            continue  # already sent, or the scheduler is sending it right now
        manager = alert.manager
        language = manager.language
        _ = gettext_for(language)
        text = render(language, "complaint_alert", c=customer, content=item.content, by=actor.name,
                      severity=_(labels.SEVERITIES[item.severity.value]),
                      due=when_text(item.due_at, language, manager.timezone))
        markup = InlineKeyboardMarkup([[InlineKeyboardButton(_(OPEN_LABEL), callback_data=_cb("view", item.id))]])
        try:
            await send_html(context, manager.telegram_id, text, language, reply_markup=markup)
        except TelegramError as error:
            log.warning("complaint alert %s to %s not sent now: %s", claimed.id, manager.id, error)
            await svc.feedback.alert_not_sent(claimed, str(error))
            continue
        await svc.feedback.alert_sent(claimed)


# ---- one item, the list --------------------------------------------------------------------
async def show_item(update: Update, context: Context, staff: StaffUser, language: str, feedback_id: str) -> None:
    svc = services(context)
    item, customer = await svc.feedback.get(staff, feedback_id)
    tz = user_zone(staff, services(context).config.tz)
    _ = gettext_for(language)
    now = svc.clock.now()
    unfinished = item.status in (FeedbackStatus.OPEN, FeedbackStatus.IN_PROGRESS)
    text = render(
        language, "feedback_view", name=customer.name, item=item,
        kind=_(labels.FEEDBACK_KINDS[item.kind.value]), severity=_(labels.SEVERITIES[item.severity.value]),
        status=_(labels.FEEDBACK_STATUSES[item.status.value]), icon=STATUS_ICONS[item.status.value],
        overdue=unfinished and item.due_at is not None and item.due_at < now,
        created=when_text(item.created_at, language, tz), due=when_text(item.due_at, language, tz),
        resolved=when_text(item.resolved_at, language, tz) if item.resolved_at else None,
        hours=workflow.resolution_hours(item.created_at, item.resolved_at),
        confirmed=when_text(item.confirmed_at, language, tz) if item.confirmed_at else None,
    )
    rows = []
    status_buttons = []
    for status in workflow.next_statuses(item.status):
        data = _cb("resolve", item.id) if status is FeedbackStatus.RESOLVED else _cb("status", item.id, status.value)
        status_buttons.append(InlineKeyboardButton(_(labels.FEEDBACK_STATUS_ACTIONS[status]), callback_data=data))
    if status_buttons:
        rows.append(status_buttons)
    if await svc.feedback.may_edit(staff, item, customer):
        rows.append([InlineKeyboardButton(_(EDIT_LABEL), callback_data=_cb("edit", item.id)),
                     InlineKeyboardButton(_(DELETE_LABEL), callback_data=_cb("del", item.id))])
    rows.append([InlineKeyboardButton(_(CARD_LABEL), callback_data=callback_data.encode("cust", "view", customer.id))])
    await reply_html(update, context, text, language, reply_markup=InlineKeyboardMarkup(rows))


async def list_command(update: Update, context: Context) -> None:
    staff, language = await caller(update, context)
    await _show_list(update, context, staff, language, 0)


async def _show_list(update: Update, context: Context, staff: StaffUser, language: str, page: int) -> None:
    svc = services(context)
    items = await svc.feedback.open_items(staff)
    pages = max(1, -(-len(items) // PAGE))
    page = min(max(page, 0), pages - 1)
    shown = items[page * PAGE:(page + 1) * PAGE]
    tz = user_zone(staff, services(context).config.tz)
    now = svc.clock.now()
    _ = gettext_for(language)
    lines, rows = [], []
    for item, customer in shown:
        kind = _(labels.FEEDBACK_KINDS[item.kind.value])
        overdue = item.status is not FeedbackStatus.RESOLVED and item.due_at is not None and item.due_at < now
        lines.append((customer.name, kind, _(labels.SEVERITIES[item.severity.value]),
                      _(labels.FEEDBACK_STATUSES[item.status.value]), when_text(item.due_at, language, tz), overdue))
        rows.append([InlineKeyboardButton(f"{STATUS_ICONS[item.status.value]} {customer.name} · {kind}"[:60],
                                          callback_data=_cb("view", item.id))])
    nav = []
    if page > 0:
        nav.append(InlineKeyboardButton("‹", callback_data=_cb("list", str(page - 1))))
    if page + 1 < pages:
        nav.append(InlineKeyboardButton("›", callback_data=_cb("list", str(page + 1))))
    if nav:
        rows.append(nav)
    text = render(language, "feedback_list", items=lines, count=len(items), page=page + 1, pages=pages)
    await reply_html(update, context, text, language, reply_markup=InlineKeyboardMarkup(rows) if rows else None)


@button_handler
async def on_item_button(
    update: Update, context: Context, staff: StaffUser, language: str, data: CallbackData
) -> None:
    """``fb:view|status|del|del_ok|list``; the item re-loaded and access re-checked each time."""
    query, svc = update.callback_query, services(context)
    try:
        if data.action == "list":
            await query.answer()
            await _show_list(update, context, staff, language, int(data.args[0]) if data.args[0].isdigit() else 0)
        elif data.action == "status":
            value = data.args[1]
            if value not in FeedbackStatus.__members__.values() or value == FeedbackStatus.RESOLVED.value:
                raise AccessDenied(f"status {value}")
            await svc.feedback.set_status(staff, data.args[0], FeedbackStatus(value))
            await query.answer(render(language, "saved"))
            await drop_keyboard(update)
            await show_item(update, context, staff, language, data.args[0])
        else:
            await entry_action(update, context, staff, language, data, svc.feedback, show_item)
    except AccessDenied as denied:
        await deny(update, context, language, f"feedback button {data} ({denied})")


def handlers(conversation_timeout: timedelta | None = None) -> list[BaseHandler]:
    return [
        wizard.conversation(FORM, conversation_timeout),
        wizard.conversation(RESOLVE_FORM, conversation_timeout),
        CommandHandler("feedback", list_command),
        CallbackQueryHandler(on_item_button, pattern=r"^fb:(view|status|del|del_ok|list):"),
    ]
