"""Customer feedback: recording it, the manager alert on complaints, and following it through.

Recording (``fb:start:<customer>``, the card's "💬 Feedback"): kind → severity
→ what the customer said → CSAT 1–5 (or skip) → NPS 0–10 (or skip) →
confirmation, which shows the response due date (by severity, from
``[feedback]``) with a button to change it, and one button per field.
The draft lives in ``user_data`` (persisted); steps are decided from the
draft, so the wizard's buttons also resume a draft the conversation lost.

Saving a complaint alerts the team's managers: a reminder row per manager
(the outbox) and, at once, a message from here with an "Open" button
(``fb:view:<feedback>``); the row is marked sent only once Telegram accepted
the message, and left pending for the scheduler if not.

Following through: ``fb:view:<feedback>`` shows an item with the status
buttons its workflow allows (``bot.domain.interactions.TRANSITIONS``):
in progress, resolved (asks for a resolution note: ``fb:resolve``, a step of
this conversation), confirmed by the customer, reopen; and edit / delete
for whoever may.  ``/feedback`` lists the caller's unfinished items (a rep's
customers, a manager's team, everything for admins), oldest first.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import TelegramError
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot import labels
from bot.domain import interactions as rules
from bot.domain.models import Feedback, FeedbackKind, FeedbackStatus, Role, Severity, StaffUser
from bot.domain.validation import ValidationError, parse_free_text, parse_when
from bot.i18n import gettext_for
from bot.render import render
from bot.services.errors import AccessDenied
from bot.services.feedback import ComplaintAlert
from handlers import callback_data
from handlers.common import (
    Context,
    answer_press,
    caller,
    confirm_delete,
    deny,
    display_name,
    drop_keyboard,
    pressed,
    reply_html,
    send_html,
    services,
    user_zone,
)
from handlers.customer_view import when_text
from handlers.customers import send_card
from handlers.menu import N_, all_menu_labels, main_menu
from handlers.reasons import reason_text

log = logging.getLogger(__name__)

KIND, SEVERITY, CONTENT, CSAT, NPS, DUE, CONFIRM, RESOLVE = (
    "fb:kind", "fb:severity", "fb:content", "fb:csat", "fb:nps", "fb:due", "fb:confirm", "fb:resolve",
)
STEPS = [KIND, SEVERITY, CONTENT, CSAT, NPS, DUE, CONFIRM]
ORDER = [("kind", KIND), ("severity", SEVERITY), ("content", CONTENT), ("csat", CSAT), ("nps", NPS)]
FIELD_STEPS = {**{key: step for key, step in ORDER}, "due": DUE}
DRAFT = "feedback_draft"
RESOLVING = "feedback_resolving"
PAGE = 8
DUE_CHOICES = ("tomorrow", "3d", "week")
WIZARD_BUTTONS = r"^fb:(kind|sev|csat|nps|due|field):|^fb:(skip|back|save)$"

SAVE_LABEL = N_("✅ Save")
CANCEL_LABEL = N_("✖ Cancel")
BACK_LABEL = N_("« Back")
SKIP_LABEL = N_("Skip")
TOMORROW_LABEL = N_("Tomorrow")
IN_3_DAYS_LABEL = N_("In 3 days")
NEXT_WEEK_LABEL = N_("Next week")
DEFAULT_DUE_LABEL = N_("Default: %(when)s")
FIELD_LABELS = {
    "kind": N_("Kind"),
    "severity": N_("Severity"),
    "content": N_("Content"),
    "csat": N_("CSAT"),
    "nps": N_("NPS"),
    "due": N_("📅 Due"),
}
STATUS_LABELS = {
    FeedbackStatus.IN_PROGRESS: N_("▶️ In progress"),
    FeedbackStatus.RESOLVED: N_("✅ Resolved…"),
    FeedbackStatus.CONFIRMED: N_("🤝 Customer confirmed"),
    FeedbackStatus.OPEN: N_("↩️ Reopen"),
}
EDIT_LABEL = N_("✏️ Edit")
DELETE_LABEL = N_("🗑 Delete")
CARD_LABEL = N_("📇 Card")
OPEN_LABEL = N_("🔎 Open")
STATUS_ICONS = {"open": "🔴", "in_progress": "🟡", "resolved": "🟢", "confirmed": "✅"}

ALL_TEXT = filters.TEXT & ~filters.COMMAND



def _cb(action: str, *args: str) -> str:
    return callback_data.encode("fb", action, *args)





def _next_step(draft: dict[str, Any]) -> str:
    for key, step in ORDER:
        if key not in draft:
            return step
    return CONFIRM


def _previous_step(step: str) -> str:
    order = [step for _key, step in ORDER] + [CONFIRM]
    if step == DUE:
        return CONFIRM
    if step in order and order.index(step) > 0:
        return order[order.index(step) - 1]
    return step


def _due(draft: dict[str, Any], now: datetime, svc: Any) -> tuple[datetime, bool]:
    """The draft's due date and whether it is the severity's default."""
    if draft.get("due"):
        return datetime.fromisoformat(draft["due"]), False
    severity = Severity(draft.get("severity", Severity.MEDIUM.value))
    if draft.get("mode") == "edit" and draft.get("created_at"):
        return svc.feedback.default_due(severity, datetime.fromisoformat(draft["created_at"])), True
    return svc.feedback.default_due(severity, now), True


def _parts(draft: dict[str, Any], language: str) -> list[str]:
    _ = gettext_for(language)
    parts = []
    if draft.get("kind") in labels.FEEDBACK_KINDS:
        parts.append(display_name(language, labels.FEEDBACK_KINDS, draft["kind"]))
    if draft.get("severity") in labels.SEVERITIES:
        parts.append(display_name(language, labels.SEVERITIES, draft["severity"]))
    return parts


def _nav(language: str, *, back: bool = True, skip: bool = False) -> list[InlineKeyboardButton]:
    _ = gettext_for(language)
    row = []
    if back:
        row.append(InlineKeyboardButton(_(BACK_LABEL), callback_data=_cb("back")))
    if skip:
        row.append(InlineKeyboardButton(_(SKIP_LABEL), callback_data=_cb("skip")))
    row.append(InlineKeyboardButton(_(CANCEL_LABEL), callback_data=_cb("cancel")))
    return row


async def ask(update: Update, context: Context, language: str, step: str, *, reason: str | None = None) -> str:
    draft = context.user_data.setdefault(DRAFT, {"mode": "new"})
    draft["step"] = step
    if step == CONFIRM:
        return await _confirm(update, context, language, reason=reason)
    staff, _language = await caller(update, context)
    svc = services(context)
    tz = user_zone(staff, services(context).config.tz)
    _ = gettext_for(language)
    rows: list[list[InlineKeyboardButton]] = []
    default_due = None
    if step == KIND:
        rows.append([InlineKeyboardButton(_(label), callback_data=_cb("kind", kind))
                     for kind, label in labels.FEEDBACK_KINDS.items()])
        rows.append(_nav(language, back=bool(draft.get("review"))))
    elif step == SEVERITY:
        rows.append([InlineKeyboardButton(_(label), callback_data=_cb("sev", severity))
                     for severity, label in labels.SEVERITIES.items()])
        rows.append(_nav(language))
    elif step == CONTENT:
        rows.append(_nav(language))
    elif step == CSAT:
        rows.append([InlineKeyboardButton(str(n), callback_data=_cb("csat", str(n))) for n in range(1, 6)])
        rows.append(_nav(language, skip=True))
    elif step == NPS:
        rows.append([InlineKeyboardButton(str(n), callback_data=_cb("nps", str(n))) for n in range(6)])
        rows.append([InlineKeyboardButton(str(n), callback_data=_cb("nps", str(n))) for n in range(6, 11)])
        rows.append(_nav(language, skip=True))
    elif step == DUE:
        default = svc.feedback.default_due(Severity(draft.get("severity", "medium")), svc.clock.now())
        default_due = when_text(default, language, tz)
        rows.append([InlineKeyboardButton((_(DEFAULT_DUE_LABEL) % {"when": default_due})[:60],
                                          callback_data=_cb("due", "default"))])
        rows.append([InlineKeyboardButton(_(TOMORROW_LABEL), callback_data=_cb("due", "tomorrow")),
                     InlineKeyboardButton(_(IN_3_DAYS_LABEL), callback_data=_cb("due", "3d")),
                     InlineKeyboardButton(_(NEXT_WEEK_LABEL), callback_data=_cb("due", "week"))])
        rows.append(_nav(language))
    text = render(language, "feedback_ask", step=step.split(":")[1], reason=reason,
                  name=draft.get("customer_name", ""), parts=_parts(draft, language), default_due=default_due)
    await reply_html(update, context, text, language, reply_markup=InlineKeyboardMarkup(rows))
    return step


async def _confirm(update: Update, context: Context, language: str, *, reason: str | None = None) -> str:
    draft = context.user_data[DRAFT]
    draft["review"] = True
    staff, _language = await caller(update, context)
    svc = services(context)
    _ = gettext_for(language)
    due, default = _due(draft, svc.clock.now(), svc)
    text = render(
        language, "feedback_confirm", reason=reason, editing=draft.get("mode") == "edit",
        name=draft.get("customer_name", ""),
        kind=display_name(language, labels.FEEDBACK_KINDS, draft.get("kind")),
        severity=display_name(language, labels.SEVERITIES, draft.get("severity")),
        content=draft.get("content", ""), csat=draft.get("csat"), nps=draft.get("nps"),
        due=when_text(due, language, user_zone(staff, services(context).config.tz)), default_due=default,
        complaint=draft.get("kind") == FeedbackKind.COMPLAINT.value and draft.get("mode") != "edit",
    )
    fields = [InlineKeyboardButton(_(label), callback_data=_cb("field", key)) for key, label in FIELD_LABELS.items()]
    markup = InlineKeyboardMarkup([
        [InlineKeyboardButton(_(SAVE_LABEL), callback_data=_cb("save"))],
        fields[:3], fields[3:],
        [InlineKeyboardButton(_(CANCEL_LABEL), callback_data=_cb("cancel"))],
    ])
    await reply_html(update, context, text, language, reply_markup=markup)
    return CONFIRM


# ---- entry points --------------------------------------------------------------------------
async def start(update: Update, context: Context) -> str | None:
    """``fb:start:<customer>`` from the card."""
    result = await pressed(update, context)
    if result is None:
        return None
    staff, language, data = result
    try:
        customer = await services(context).customers.visible(staff, data.args[0])
    except AccessDenied:
        await deny(update, context, language, f"feedback for {data.args[0]}")
        return None
    await answer_press(update)
    context.user_data[DRAFT] = {"mode": "new", "customer_id": customer.id, "customer_name": customer.name}
    return await ask(update, context, language, KIND)


async def start_edit(update: Update, context: Context) -> str | None:
    result = await pressed(update, context)
    if result is None:
        return None
    staff, language, data = result
    try:
        item, customer = await services(context).feedback.editable(staff, data.args[0])
    except AccessDenied:
        await deny(update, context, language, f"edit feedback {data.args[0]}")
        return None
    await answer_press(update)
    context.user_data[DRAFT] = {
        "mode": "edit", "id": item.id, "customer_id": customer.id, "customer_name": customer.name,
        "kind": item.kind.value, "severity": item.severity.value, "content": item.content,
        "csat": item.csat, "nps": item.nps, "due": item.due_at.isoformat() if item.due_at else None,
        "created_at": item.created_at.isoformat(),
    }
    return await ask(update, context, language, CONFIRM)


async def start_resolve(update: Update, context: Context) -> str | None:
    """``fb:resolve:<feedback>``: ask for the resolution note."""
    result = await pressed(update, context)
    if result is None:
        return None
    staff, language, data = result
    try:
        item, _customer = await services(context).feedback.get(staff, data.args[0])
        if not rules.can_transition(item.status, FeedbackStatus.RESOLVED):
            raise AccessDenied(f"resolve from {item.status}")
    except AccessDenied:
        await deny(update, context, language, f"resolve feedback {data.args[0]}")
        return None
    await answer_press(update)
    context.user_data[RESOLVING] = item.id
    _ = gettext_for(language)
    await reply_html(update, context, render(language, "feedback_resolve_ask", reason=None), language,
                     reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton(_(CANCEL_LABEL), callback_data=_cb("cancel"))]]))
    return RESOLVE


# ---- inside the wizard ---------------------------------------------------------------------
async def typed(update: Update, context: Context) -> str | int:
    staff, language = await caller(update, context)
    draft = context.user_data.get(DRAFT)
    if draft is None or staff is None:
        return await cancel(update, context)
    step = draft.get("step") or _next_step(draft)
    text = update.effective_message.text or ""
    svc = services(context)
    try:
        if step == CONTENT:
            draft["content"] = parse_free_text(text, rules.CONTENT_MAX_LENGTH, field_name="content")
        elif step == CSAT and text.strip() in {str(n) for n in range(1, 6)}:
            draft["csat"] = int(text.strip())
        elif step == NPS and text.strip() in {str(n) for n in range(11)}:
            draft["nps"] = int(text.strip())
        elif step == DUE:
            draft["due"] = parse_when(text, now=svc.clock.now(), tz=user_zone(staff, services(context).config.tz)).isoformat()
        else:
            raise ValidationError(step, "choice.use_buttons")
    except ValidationError as error:
        return await ask(update, context, language, step, reason=reason_text(error, language))
    return await ask(update, context, language, _next_step(draft))


async def resolution_typed(update: Update, context: Context) -> str | int:
    staff, language = await caller(update, context)
    feedback_id = context.user_data.get(RESOLVING)
    if feedback_id is None or staff is None:
        return await cancel(update, context)
    svc = services(context)
    try:
        note = parse_free_text(update.effective_message.text or "", rules.RESOLUTION_MAX_LENGTH,
                               field_name="resolution")
    except ValidationError as error:
        await reply_html(update, context, render(language, "feedback_resolve_ask",
                                                 reason=reason_text(error, language)), language)
        return RESOLVE
    try:
        await svc.feedback.set_status(staff, feedback_id, FeedbackStatus.RESOLVED, resolution=note)
    except AccessDenied:
        context.user_data.pop(RESOLVING, None)
        await deny(update, context, language, f"resolve feedback {feedback_id}")
        return ConversationHandler.END
    context.user_data.pop(RESOLVING, None)
    await reply_html(update, context, render(language, "customer_saved"), language)
    await show_item(update, context, staff, language, feedback_id)
    return ConversationHandler.END


async def skip_command(update: Update, context: Context) -> str | int:
    return await _skip(update, context)


async def back_command(update: Update, context: Context) -> str | int:
    return await _back(update, context)


async def _skip(update: Update, context: Context) -> str | int:
    _staff, language = await caller(update, context)
    draft = context.user_data.get(DRAFT)
    if draft is None:
        return await cancel(update, context)
    step = draft.get("step") or _next_step(draft)
    if step == CSAT:
        draft["csat"] = None
    elif step == NPS:
        draft["nps"] = None
    elif step == DUE:
        draft["due"] = None
    else:
        return await ask(update, context, language, step,
                         reason=reason_text(ValidationError(step, "choice.use_buttons"), language))
    return await ask(update, context, language, _next_step(draft))


async def _back(update: Update, context: Context) -> str | int:
    _staff, language = await caller(update, context)
    draft = context.user_data.get(DRAFT)
    if draft is None:
        return await cancel(update, context)
    step = draft.get("step") or _next_step(draft)
    return await ask(update, context, language, _previous_step(step))


async def button(update: Update, context: Context) -> str | int | None:
    result = await pressed(update, context)
    draft = context.user_data.get(DRAFT)
    if result is None:
        return None
    staff, language, data = result
    if draft is None:
        await deny(update, context, language, f"feedback button without a draft {data}")
        return ConversationHandler.END
    svc = services(context)
    value = data.args[0] if data.args else ""
    if data.action == "save":
        return await save(update, context, staff, language)
    if data.action == "skip":
        await answer_press(update)
        return await _skip(update, context)
    if data.action == "back":
        await answer_press(update)
        return await _back(update, context)
    if data.action == "field" and value in FIELD_STEPS:
        await answer_press(update)
        return await ask(update, context, language, FIELD_STEPS[value])
    if data.action == "kind" and value in FeedbackKind.__members__.values():
        draft["kind"] = value
    elif data.action == "sev" and value in Severity.__members__.values():
        draft["severity"] = value
    elif data.action == "csat" and value in {str(n) for n in range(1, 6)}:
        draft["csat"] = int(value)
    elif data.action == "nps" and value in {str(n) for n in range(11)}:
        draft["nps"] = int(value)
    elif data.action == "due" and value in (*DUE_CHOICES, "default"):
        if value == "default":
            draft["due"] = None
        else:
            draft["due"] = rules.follow_up_choice(value, now=svc.clock.now(), tz=user_zone(staff, services(context).config.tz)).isoformat()
    else:
        await deny(update, context, language, f"feedback button {data}")
        return draft.get("step") or _next_step(draft)
    await answer_press(update)
    return await ask(update, context, language, _next_step(draft))


async def save(update: Update, context: Context, staff: StaffUser, language: str) -> str | int:
    draft = context.user_data[DRAFT]
    step = _next_step(draft)
    if step != CONFIRM:
        await answer_press(update)
        return await ask(update, context, language, step)
    svc = services(context)
    due, _default = _due(draft, svc.clock.now(), svc)
    values = {"kind": FeedbackKind(draft["kind"]), "severity": Severity(draft["severity"]),
                  "content": draft["content"], "csat": draft.get("csat"), "nps": draft.get("nps")}
    try:
        if draft.get("mode") == "edit":
            item, alerts = await svc.feedback.update(staff, draft["id"], **values, due_at=due)
        else:
            item, alerts = await svc.feedback.record(staff, draft["customer_id"], **values,
                                                     due_at=None if _default else due)
    except AccessDenied:
        context.user_data.pop(DRAFT, None)
        await deny(update, context, language, f"feedback save {draft.get('customer_id')}")
        return ConversationHandler.END
    context.user_data.pop(DRAFT, None)
    await answer_press(update, render(language, "customer_saved"))
    await drop_keyboard(update)
    await reply_html(update, context, render(language, "customer_saved"), language)
    await send_alerts(context, staff, item, alerts)
    await show_item(update, context, staff, language, item.id)
    return ConversationHandler.END


async def send_alerts(context: Context, actor: StaffUser, item: Feedback, alerts: list[ComplaintAlert]) -> None:
    """Deliver complaint alerts now; each outbox row is marked sent only once Telegram accepted it."""
    svc = services(context)
    customer = await svc.store.customers.get(item.customer_id)
    if customer is None:
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


async def cancel(update: Update, context: Context) -> int:
    staff, language = await caller(update, context)
    context.user_data.pop(DRAFT, None)
    context.user_data.pop(RESOLVING, None)
    await answer_press(update)
    await drop_keyboard(update)
    await reply_html(update, context, render(language, "cancelled"), language,
                     reply_markup=main_menu(language, staff.role if staff else Role.REP))
    return ConversationHandler.END


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
        hours=rules.resolution_hours(item.created_at, item.resolved_at),
        confirmed=when_text(item.confirmed_at, language, tz) if item.confirmed_at else None,
    )
    rows = []
    status_buttons = []
    for status in rules.next_statuses(item.status):
        data = _cb("resolve", item.id) if status is FeedbackStatus.RESOLVED else _cb("status", item.id, status.value)
        status_buttons.append(InlineKeyboardButton(_(STATUS_LABELS[status]), callback_data=data))
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


async def on_item_button(update: Update, context: Context) -> None:
    """``fb:view|status|del|del_ok|list``; the item re-loaded and access re-checked each time."""
    result = await pressed(update, context)
    if result is None:
        return
    staff, language, data = result
    svc = services(context)
    _ = gettext_for(language)
    query = update.callback_query
    try:
        if data.action == "list":
            await query.answer()
            await _show_list(update, context, staff, language, int(data.args[0]) if data.args[0].isdigit() else 0)
        elif data.action == "view":
            await svc.feedback.get(staff, data.args[0])
            await query.answer()
            await show_item(update, context, staff, language, data.args[0])
        elif data.action == "status":
            value = data.args[1]
            if value not in FeedbackStatus.__members__.values() or value == FeedbackStatus.RESOLVED.value:
                raise AccessDenied(f"status {value}")
            await svc.feedback.set_status(staff, data.args[0], FeedbackStatus(value))
            await query.answer(render(language, "saved"))
            await drop_keyboard(update)
            await show_item(update, context, staff, language, data.args[0])
        elif data.action == "del":
            item, _customer = await svc.feedback.editable(staff, data.args[0])
            await query.answer()
            await confirm_delete(update, context, language, "fb", item.id)
        elif data.action == "del_ok":
            item = await svc.feedback.delete(staff, data.args[0])
            await query.answer(render(language, "entry_deleted"))
            await drop_keyboard(update)
            await reply_html(update, context, render(language, "entry_deleted"), language)
            await send_card(update, context, staff, language, item.customer_id)
        else:
            raise AccessDenied(f"feedback action {data.action}")
    except AccessDenied as denied:
        await deny(update, context, language, f"feedback button {data} ({denied})")


def handlers(conversation_timeout: timedelta | None = None) -> list[BaseHandler]:
    text = ALL_TEXT & ~filters.Text(all_menu_labels())
    step_handlers: list[BaseHandler] = [
        CommandHandler("skip", skip_command),
        CommandHandler("back", back_command),
        MessageHandler(text, typed),
    ]
    states: dict[object, list[BaseHandler]] = {step: step_handlers for step in STEPS}
    states[RESOLVE] = [MessageHandler(text, resolution_typed)]
    wizard_buttons = re.compile(WIZARD_BUTTONS)
    return [
        ConversationHandler(
            entry_points=[
                CallbackQueryHandler(start, pattern=r"^fb:start:"),
                CallbackQueryHandler(start_edit, pattern=r"^fb:edit:"),
                CallbackQueryHandler(start_resolve, pattern=r"^fb:resolve:"),
                CallbackQueryHandler(cancel, pattern=r"^fb:cancel$"),
                # A draft without a conversation (after a timeout) resumes from its buttons.
                CallbackQueryHandler(button, pattern=wizard_buttons),
            ],
            states=states,
            fallbacks=[
                CommandHandler("cancel", cancel),
                CallbackQueryHandler(cancel, pattern=r"^fb:cancel$"),
                CallbackQueryHandler(button, pattern=wizard_buttons),
            ],
            name="feedback",
            persistent=True,
            allow_reentry=True,
            conversation_timeout=conversation_timeout,
        ),
        CommandHandler("feedback", list_command),
        CallbackQueryHandler(on_item_button, pattern=r"^fb:(view|status|del|del_ok|list):"),
    ]
