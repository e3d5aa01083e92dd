"""Logging calls, visits, meetings and messages: the wizard, quick log, and correcting an entry.

Ways in:

- the card's "📞 Log a call" button (``log:start:<customer>``), also on reminders;
- ``/log`` or the menu's "📞 Log": pick a customer (recent ones, or type to search);
- ``/log 张伟 called, wants a quote, follow up Friday``: quick log — the customer
  by name (asks with buttons when several match), kind / outcome / follow-up
  from the text (``bot.domain.interactions.parse_quick_log``), straight to the
  confirmation;
- :func:`start_log_for` for other features (a reminder's "done" button).

Steps: kind → outcome (with the direction, outbound by default, as a toggle) →
summary (text, or a voice note kept by ``file_id``) → next follow-up (buttons
or free text in the rep's time zone) → confirmation with Save and one button
per field to change it.  The draft lives in ``user_data`` (persisted) and
every step is decided from the draft, not from the conversation state, so
the wizard's buttons also resume a draft the conversation lost (a restart
past ``conversation_timeout``, or a draft started by :func:`start_log_for`
from another handler).

A logged entry opens from the card's history (``log:view:<id>``), where
whoever may (``bot.domain.access.can_edit_entry``) edits it
(``log:edit:<id>`` reopens the confirmation on it) or deletes it (soft,
``log:del`` → ``log:del_ok``).
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
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
from bot.domain.models import Customer, Direction, InteractionKind, Outcome, Role, StaffUser
from bot.domain.validation import ValidationError, parse_free_text, parse_when
from bot.i18n import gettext_for
from bot.render import render
from bot.services.errors import AccessDenied
from bot.services.interactions import KEEP
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
    services,
    user_zone,
)
from handlers.customer_view import when_text
from handlers.customers import send_card
from handlers.menu import LOG, N_, all_menu_labels, main_menu
from handlers.menu import labels as menu_labels
from handlers.reasons import reason_text

log = logging.getLogger(__name__)

PICK, KIND, OUTCOME, SUMMARY, FOLLOW_UP, CONFIRM = (
    "log:pick", "log:kind", "log:outcome", "log:summary", "log:follow_up", "log:confirm",
)
STEPS = [PICK, KIND, OUTCOME, SUMMARY, FOLLOW_UP, CONFIRM]
# (draft key, step) in wizard order; the confirmation comes once all are filled.
ORDER = [("kind", KIND), ("outcome", OUTCOME), ("summary", SUMMARY), ("follow_up", FOLLOW_UP)]
FIELD_STEPS = {key: step for key, step in ORDER}
DRAFT = "log_draft"
PICK_LIMIT = 8
WIZARD_BUTTONS = r"^log:(pick|kind|dir|out|fu|skip|back|field|save):"
WIZARD_BUTTONS_NO_ARGS = r"^log:(skip|back|save)$"

SAVE_LABEL = N_("✅ Save")
CANCEL_LABEL = N_("✖ Cancel")
BACK_LABEL = N_("« Back")
SKIP_LABEL = N_("Skip")
TOMORROW_LABEL = N_("Tomorrow")
IN_3_DAYS_LABEL = N_("In 3 days")
NEXT_WEEK_LABEL = N_("Next week")
IN_A_MONTH_LABEL = N_("In a month")
NO_FOLLOW_UP_LABEL = N_("No follow-up")
KEEP_FOLLOW_UP_LABEL = N_("Keep %(when)s")
FIELD_KIND_LABEL = N_("Kind")
FIELD_OUTCOME_LABEL = N_("Outcome")
FIELD_SUMMARY_LABEL = N_("Summary")
FIELD_FOLLOW_UP_LABEL = N_("Follow-up")
EDIT_LABEL = N_("✏️ Edit")
DELETE_LABEL = N_("🗑 Delete")
CARD_LABEL = N_("📇 Card")
VOICE_NOTE = N_("voice note")

ALL_TEXT = filters.TEXT & ~filters.COMMAND



def _cb(action: str, *args: str) -> str:
    return callback_data.encode("log", action, *args)


def _draft(context: Context) -> dict[str, Any] | None:
    return context.user_data.get(DRAFT)





def _next_step(draft: dict[str, Any]) -> str:
    if not draft.get("customer_id"):
        return PICK
    for key, step in ORDER:
        if key not in draft:
            return step
    return CONFIRM


def _previous_step(step: str) -> str:
    order = [step for _key, step in ORDER] + [CONFIRM]
    if step in order and order.index(step) > 0:
        return order[order.index(step) - 1]
    return step


def _apply_customer(draft: dict[str, Any], customer: Customer, now: datetime) -> None:
    draft["customer_id"] = customer.id
    draft["customer_name"] = customer.name
    draft["current_follow_up"] = customer.next_follow_up_at.isoformat() if customer.next_follow_up_at else None
    if draft.get("quick") and "follow_up" not in draft and not draft.get("follow_up_reason"):
        # A quick log that names no follow-up leaves a planned one in place (if still ahead).
        upcoming = customer.next_follow_up_at is not None and customer.next_follow_up_at > now
        draft["follow_up"] = "keep" if upcoming else "none"


# ---- presenting ----------------------------------------------------------------------------
def _follow_up_parts(draft: dict[str, Any], language: str, tz: ZoneInfo) -> tuple[str, str | None]:
    """(mode, when) of the draft's follow-up: mode none | keep | at."""
    value = draft.get("follow_up")
    if value in (None, "none"):
        return "none", None
    if value == "keep":
        current = draft.get("current_follow_up")
        return ("keep", when_text(datetime.fromisoformat(current), language, tz)) if current else ("none", None)
    return "at", when_text(datetime.fromisoformat(value), language, tz)


def _summary_parts(draft: dict[str, Any], language: str, tz: ZoneInfo) -> list[str]:
    """What is filled in so far, for the header of each step."""
    _ = gettext_for(language)
    parts = []
    if draft.get("kind") in labels.INTERACTION_KINDS:
        parts.append(display_name(language, labels.INTERACTION_KINDS, draft["kind"]))
    if draft.get("outcome") in labels.OUTCOMES:
        parts.append(display_name(language, labels.OUTCOMES, draft["outcome"]))
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


async def ask(
    update: Update, context: Context, language: str, step: str, *, reason: str | None = None,
    candidates: list[Customer] | None = None, no_match: str | None = None,
) -> str:
    """Show one step of the wizard (or the confirmation) and return it as the conversation state."""
    draft = context.user_data.setdefault(DRAFT, {"mode": "new", "direction": "outbound"})
    draft["step"] = step
    if step == CONFIRM:
        return await _confirm(update, context, language, reason=reason)
    staff, _language = await caller(update, context)
    tz = user_zone(staff, services(context).config.tz)
    _ = gettext_for(language)
    rows: list[list[InlineKeyboardButton]] = []
    if step == PICK:
        if candidates is None:
            candidates = await services(context).interactions.recent_customers(staff) if staff else []
        rows += [[InlineKeyboardButton((c.name + (f" · {c.company}" if c.company else ""))[:60],
                                       callback_data=_cb("pick", c.id))] for c in candidates[:PICK_LIMIT]]
        rows.append(_nav(language, back=False))
    elif step == KIND:
        buttons = [InlineKeyboardButton(_(label), callback_data=_cb("kind", kind))
                   for kind, label in labels.INTERACTION_KINDS.items()]
        rows += [buttons[i:i + 3] for i in range(0, len(buttons), 3)]
        rows.append(_nav(language, back=bool(draft.get("review"))))
    elif step == OUTCOME:
        direction = draft.get("direction", "outbound")
        rows.append([InlineKeyboardButton(("• " if d == direction else "") + _(label), callback_data=_cb("dir", d))
                     for d, label in labels.DIRECTIONS.items()])
        buttons = [InlineKeyboardButton(_(label), callback_data=_cb("out", outcome))
                   for outcome, label in labels.OUTCOMES.items()]
        rows += [buttons[i:i + 2] for i in range(0, len(buttons), 2)]
        rows.append(_nav(language))
    elif step == SUMMARY:
        rows.append(_nav(language, skip=True))
    elif step == FOLLOW_UP:
        rows.append([InlineKeyboardButton(_(TOMORROW_LABEL), callback_data=_cb("fu", "tomorrow")),
                     InlineKeyboardButton(_(IN_3_DAYS_LABEL), callback_data=_cb("fu", "3d"))])
        rows.append([InlineKeyboardButton(_(NEXT_WEEK_LABEL), callback_data=_cb("fu", "week")),
                     InlineKeyboardButton(_(IN_A_MONTH_LABEL), callback_data=_cb("fu", "month"))])
        last_row = [InlineKeyboardButton(_(NO_FOLLOW_UP_LABEL), callback_data=_cb("fu", "none"))]
        current = draft.get("current_follow_up")
        if draft.get("mode") != "edit" and current and datetime.fromisoformat(current) > services(context).clock.now():
            when = when_text(datetime.fromisoformat(current), language, tz)
            last_row.append(InlineKeyboardButton((_(KEEP_FOLLOW_UP_LABEL) % {"when": when})[:60],
                                                 callback_data=_cb("fu", "keep")))
        rows.append(last_row)
        rows.append(_nav(language))
    mode, when = _follow_up_parts(draft, language, tz) if "follow_up" in draft else (None, None)
    text = render(
        language, "log_ask", step=step.split(":")[1], reason=reason, name=draft.get("customer_name"),
        parts=_summary_parts(draft, language, tz), no_match=no_match, choices=bool(rows[:-1]),
        follow_up_mode=mode, follow_up=when,
    )
    await reply_html(update, context, text, language, reply_markup=InlineKeyboardMarkup(rows))
    return step


async def _confirm(update: Update, context: Context, language: str, *, reason: str | None = None) -> str:
    draft = context.user_data[DRAFT]
    draft["review"] = True
    staff, _language = await caller(update, context)
    tz = user_zone(staff, services(context).config.tz)
    _ = gettext_for(language)
    mode, when = _follow_up_parts(draft, language, tz)
    text = render(
        language, "log_confirm", reason=reason, editing=draft.get("mode") == "edit",
        name=draft.get("customer_name", ""),
        kind=display_name(language, labels.INTERACTION_KINDS, draft.get("kind")),
        direction=display_name(language, labels.DIRECTIONS, draft.get("direction", "outbound")),
        outcome=display_name(language, labels.OUTCOMES, draft.get("outcome")),
        summary=draft.get("summary") or "", voice=bool(draft.get("voice_file_id")),
        follow_up_mode=mode, follow_up=when,
    )
    markup = InlineKeyboardMarkup([
        [InlineKeyboardButton(_(SAVE_LABEL), callback_data=_cb("save"))],
        [InlineKeyboardButton(_(FIELD_KIND_LABEL), callback_data=_cb("field", "kind")),
         InlineKeyboardButton(_(FIELD_OUTCOME_LABEL), callback_data=_cb("field", "outcome"))],
        [InlineKeyboardButton(_(FIELD_SUMMARY_LABEL), callback_data=_cb("field", "summary")),
         InlineKeyboardButton(_(FIELD_FOLLOW_UP_LABEL), callback_data=_cb("field", "follow_up"))],
        [InlineKeyboardButton(_(CANCEL_LABEL), callback_data=_cb("cancel"))],
    ])
    await reply_html(update, context, text, language, reply_markup=markup)
    return CONFIRM


# ---- entry points --------------------------------------------------------------------------
async def start_log_for(update: Update, context: Context, customer_id: str) -> str | None:
    """Start logging a contact with ``customer_id``: the same wizard as the card's button.

    For other features' handlers (e.g. a reminder's "✅ Done — log it"): call it
    from a message or button handler with the customer's id. It checks that
    the caller may see the customer (answering "not available" otherwise and
    returning None), answers the button press if there is one (a press your
    handler already answered is fine), replaces any half-done log draft and
    asks the first question. It returns the wizard's state: a handler inside
    this module's ConversationHandler returns it; a handler elsewhere can
    ignore it — the wizard's buttons are entry points too, so the
    conversation picks the draft up from the first press.
    """
    staff, language = await caller(update, context)
    svc = services(context)
    try:
        if staff is None:
            raise AccessDenied("not staff")
        customer = await svc.customers.visible(staff, customer_id)
    except AccessDenied:
        await deny(update, context, language, f"log for {customer_id}")
        return None
    await answer_press(update)
    draft: dict[str, Any] = {"mode": "new", "direction": Direction.OUTBOUND.value}
    _apply_customer(draft, customer, svc.clock.now())
    context.user_data[DRAFT] = draft
    return await ask(update, context, language, KIND)


async def start_button(update: Update, context: Context) -> str | None:
    """``log:start:<customer>``, from the card and from reminders."""
    result = await pressed(update, context)
    if result is None:
        return None
    _staff, _language, data = result
    return await start_log_for(update, context, data.args[0])


async def log_command(update: Update, context: Context) -> str:
    """``/log`` and the menu button: pick a customer; ``/log <name> <what happened>``: quick log."""
    staff, language = await caller(update, context)
    text = update.effective_message.text or ""
    if text.startswith("/"):
        text = text.partition(" ")[2]
    else:
        text = ""
    if text.strip():
        return await quick_log(update, context, staff, language, text.strip())
    context.user_data[DRAFT] = {"mode": "new", "direction": Direction.OUTBOUND.value}
    return await ask(update, context, language, PICK)


async def quick_log(update: Update, context: Context, staff: StaffUser, language: str, text: str) -> str:
    svc = services(context)
    now = svc.clock.now()
    match = await svc.interactions.match_customer(staff, text)
    draft: dict[str, Any] = {"mode": "new", "direction": Direction.OUTBOUND.value}
    if match.rest:
        parsed = rules.parse_quick_log(match.rest, now=now, tz=user_zone(staff, services(context).config.tz))
        draft.update(quick=True, direction=parsed.direction.value, outcome=parsed.outcome.value,
                     summary=parsed.summary, voice_file_id=None)
        if parsed.kind is not None:
            draft["kind"] = parsed.kind.value
        if parsed.follow_up_at is not None:
            draft["follow_up"] = parsed.follow_up_at.isoformat()
        elif parsed.follow_up_error:
            draft["follow_up_reason"] = parsed.follow_up_error
    context.user_data[DRAFT] = draft
    if len(match.candidates) != 1:
        query = text.split()[0] if text.split() else text
        return await ask(update, context, language, PICK,
                         candidates=match.candidates or None, no_match=None if match.candidates else query[:50])
    _apply_customer(draft, match.candidates[0], now)
    return await _go_next(update, context, language)


async def _go_next(update: Update, context: Context, language: str) -> str:
    draft = context.user_data[DRAFT]
    step = _next_step(draft)
    reason = None
    if step == FOLLOW_UP and draft.get("follow_up_reason"):
        reason = reason_text(ValidationError("when", draft.pop("follow_up_reason")), language)
    return await ask(update, context, language, step, reason=reason)


async def start_edit(update: Update, context: Context) -> str | None:
    """``log:edit:<interaction>``: the confirmation on an existing entry, each field changeable."""
    result = await pressed(update, context)
    if result is None:
        return None
    staff, language, data = result
    svc = services(context)
    try:
        interaction, customer = await svc.interactions.editable(staff, data.args[0])
    except AccessDenied:
        await deny(update, context, language, f"edit interaction {data.args[0]}")
        return None
    await answer_press(update)
    context.user_data[DRAFT] = {
        "mode": "edit", "id": interaction.id, "customer_id": customer.id, "customer_name": customer.name,
        "kind": interaction.kind.value, "direction": interaction.direction.value,
        "outcome": interaction.outcome.value if interaction.outcome else Outcome.OTHER.value,
        "summary": interaction.summary, "voice_file_id": interaction.voice_file_id,
        "follow_up": interaction.next_follow_up_at.isoformat() if interaction.next_follow_up_at else "none",
        "current_follow_up": None,
    }
    return await ask(update, context, language, CONFIRM)


# ---- inside the wizard ---------------------------------------------------------------------
async def typed(update: Update, context: Context) -> str | int:
    staff, language = await caller(update, context)
    draft = _draft(context)
    if draft is None or staff is None:
        return await cancel(update, context)
    step = draft.get("step") or _next_step(draft)
    text = update.effective_message.text or ""
    svc = services(context)
    try:
        if step == PICK:
            query = " ".join(text.split())[:100]
            found = await svc.customers.search(staff, query, limit=PICK_LIMIT) if query else []
            return await ask(update, context, language, PICK, candidates=found,
                             no_match=None if found else query[:50])
        if step == KIND:
            kind = rules.kind_from_text(text)
            if kind is None:
                raise ValidationError("kind", "choice.use_buttons")
            draft["kind"] = kind.value
        elif step == SUMMARY:
            draft["summary"] = parse_free_text(text, rules.SUMMARY_MAX_LENGTH, field_name="summary")
            draft["voice_file_id"] = None
        elif step == FOLLOW_UP:
            draft["follow_up"] = parse_when(text, now=svc.clock.now(), tz=user_zone(staff, services(context).config.tz)).isoformat()
        else:  # outcome and the confirmation take buttons only
            raise ValidationError(step, "choice.use_buttons")
    except ValidationError as error:
        return await ask(update, context, language, step, reason=reason_text(error, language))
    return await _go_next(update, context, language)


async def voice(update: Update, context: Context) -> str | int:
    """A voice note at the summary step is the summary: kept as a Telegram file reference."""
    staff, language = await caller(update, context)
    draft = _draft(context)
    if draft is None or staff is None:
        return await cancel(update, context)
    step = draft.get("step") or _next_step(draft)
    if step != SUMMARY:
        return await ask(update, context, language, step,
                         reason=reason_text(ValidationError(step, "choice.use_buttons"), language))
    draft["voice_file_id"] = update.effective_message.voice.file_id
    draft["summary"] = gettext_for(language)(VOICE_NOTE)
    return await _go_next(update, context, language)


async def skip_command(update: Update, context: Context) -> str | int:
    return await _skip(update, context)


async def back_command(update: Update, context: Context) -> str | int:
    return await _back(update, context)


async def _skip(update: Update, context: Context) -> str | int:
    _staff, language = await caller(update, context)
    draft = _draft(context)
    if draft is None:
        return await cancel(update, context)
    step = draft.get("step") or _next_step(draft)
    if step == SUMMARY:
        draft["summary"], draft["voice_file_id"] = "", None
    elif step == FOLLOW_UP:
        draft["follow_up"] = "none"
    else:
        return await ask(update, context, language, step,
                         reason=reason_text(ValidationError(step, "choice.use_buttons"), language))
    return await _go_next(update, context, language)


async def _back(update: Update, context: Context) -> str | int:
    _staff, language = await caller(update, context)
    draft = _draft(context)
    if draft is None:
        return await cancel(update, context)
    step = draft.get("step") or _next_step(draft)
    if step == PICK or not draft.get("customer_id"):
        return await ask(update, context, language, PICK)
    return await ask(update, context, language, _previous_step(step))


async def button(update: Update, context: Context) -> str | int | None:
    """Every wizard button; values are checked against the model, the customer re-checked on save."""
    result = await pressed(update, context)
    draft = _draft(context)
    if result is None:
        return None
    staff, language, data = result
    if draft is None:
        await deny(update, context, language, f"log button without a draft {data}")
        return ConversationHandler.END
    svc = services(context)
    value = data.args[0] if data.args else ""
    if data.action == "pick":
        try:
            customer = await svc.customers.visible(staff, value)
        except AccessDenied:
            await deny(update, context, language, f"log pick {value}")
            return draft.get("step") or PICK
        if draft.get("mode") == "edit":
            await deny(update, context, language, "log pick while editing")
            return draft.get("step") or CONFIRM
        await answer_press(update)
        _apply_customer(draft, customer, svc.clock.now())
        return await _go_next(update, context, language)
    if data.action == "save":
        return await save(update, context, staff, language)
    if data.action == "skip":
        await answer_press(update)
        return await _skip(update, context)
    if data.action == "back":
        await answer_press(update)
        return await _back(update, context)
    if data.action == "field" and value in FIELD_STEPS and draft.get("customer_id"):
        await answer_press(update)
        return await ask(update, context, language, FIELD_STEPS[value])
    if data.action == "kind" and value in InteractionKind.__members__.values():
        draft["kind"] = value
    elif data.action == "dir" and value in Direction.__members__.values():
        draft["direction"] = value
        await answer_press(update)
        return await ask(update, context, language, OUTCOME)
    elif data.action == "out" and value in Outcome.__members__.values():
        draft["outcome"] = value
    elif data.action == "fu" and value in (*rules.FOLLOW_UP_CHOICES, "none", "keep"):
        if value in rules.FOLLOW_UP_CHOICES:
            moment = rules.follow_up_choice(value, now=svc.clock.now(), tz=user_zone(staff, services(context).config.tz))
            draft["follow_up"] = moment.isoformat()
        else:
            draft["follow_up"] = value
        draft.pop("follow_up_reason", None)
    else:
        await deny(update, context, language, f"log button {data}")
        return draft.get("step") or _next_step(draft)
    await answer_press(update)
    return await _go_next(update, context, language)


def _follow_up_value(draft: dict[str, Any]) -> datetime | None | Any:
    value = draft.get("follow_up")
    if value == "keep":
        return KEEP
    if value in (None, "none"):
        return None
    return datetime.fromisoformat(value)


async def save(update: Update, context: Context, staff: StaffUser, language: str) -> str | int:
    draft = context.user_data[DRAFT]
    step = _next_step(draft)
    if step != CONFIRM:
        await answer_press(update)
        return await ask(update, context, language, step)
    svc = services(context)
    values = {
        "kind": InteractionKind(draft["kind"]), "direction": Direction(draft.get("direction", "outbound")),
        "outcome": Outcome(draft["outcome"]), "summary": draft.get("summary") or "",
        "voice_file_id": draft.get("voice_file_id"),
    }
    try:
        if draft.get("mode") == "edit":
            follow_up = _follow_up_value(draft)
            await svc.interactions.update(staff, draft["id"], **values,
                                          next_follow_up_at=None if follow_up is KEEP else follow_up)
        else:
            await svc.interactions.log(staff, draft["customer_id"], **values,
                                       next_follow_up_at=_follow_up_value(draft))
    except AccessDenied:
        context.user_data.pop(DRAFT, None)
        await deny(update, context, language, f"log save {draft.get('customer_id')}")
        return ConversationHandler.END
    context.user_data.pop(DRAFT, None)
    await answer_press(update, render(language, "customer_saved"))
    await drop_keyboard(update)
    await reply_html(update, context, render(language, "customer_saved"), language)
    try:
        await send_card(update, context, staff, language, draft["customer_id"])
    except AccessDenied:
        pass
    return ConversationHandler.END


async def cancel(update: Update, context: Context) -> int:
    staff, language = await caller(update, context)
    context.user_data.pop(DRAFT, None)
    await answer_press(update)
    await drop_keyboard(update)
    await reply_html(update, context, render(language, "cancelled"), language,
                     reply_markup=main_menu(language, staff.role if staff else Role.REP))
    return ConversationHandler.END


# ---- one entry: view, delete ---------------------------------------------------------------
async def show_entry(update: Update, context: Context, staff: StaffUser, language: str, interaction_id: str) -> None:
    svc = services(context)
    interaction, customer = await svc.interactions.get(staff, interaction_id)
    tz = user_zone(staff, services(context).config.tz)
    _ = gettext_for(language)
    author = await svc.store.staff.get(interaction.owner_id)
    editable = svc.interactions.may_edit(staff, interaction, customer)
    text = render(
        language, "log_entry", name=customer.name, when=when_text(interaction.occurred_at, language, tz),
        kind=_(labels.INTERACTION_KINDS[interaction.kind.value]),
        direction=_(labels.DIRECTIONS[interaction.direction.value]),
        outcome=_(labels.OUTCOMES[interaction.outcome.value]) if interaction.outcome else "—",
        summary=interaction.summary, voice=bool(interaction.voice_file_id),
        follow_up=when_text(interaction.next_follow_up_at, language, tz) if interaction.next_follow_up_at else None,
        by=author.name if author else interaction.owner_id, editable=editable,
    )
    rows = []
    if editable:
        rows.append([InlineKeyboardButton(_(EDIT_LABEL), callback_data=_cb("edit", interaction.id)),
                     InlineKeyboardButton(_(DELETE_LABEL), callback_data=_cb("del", interaction.id))])
    rows.append([InlineKeyboardButton(_(CARD_LABEL), callback_data=callback_data.encode("cust", "view", customer.id))])
    await reply_html(update, context, text, language, reply_markup=InlineKeyboardMarkup(rows))


async def on_entry_button(update: Update, context: Context) -> None:
    """``log:view|del|del_ok:<interaction>``; the entry re-loaded and access re-checked each time."""
    result = await pressed(update, context)
    if result is None:
        return
    staff, language, data = result
    svc = services(context)
    _ = gettext_for(language)
    query = update.callback_query
    try:
        if data.action == "view":
            await svc.interactions.get(staff, data.args[0])
            await query.answer()
            await show_entry(update, context, staff, language, data.args[0])
        elif data.action == "del":
            interaction, _customer = await svc.interactions.editable(staff, data.args[0])
            await query.answer()
            await confirm_delete(update, context, language, "log", interaction.id)
        elif data.action == "del_ok":
            interaction = await svc.interactions.delete(staff, data.args[0])
            await query.answer(render(language, "entry_deleted"))
            await drop_keyboard(update)
            await reply_html(update, context, render(language, "entry_deleted"), language)
            await send_card(update, context, staff, language, interaction.customer_id)
        else:
            raise AccessDenied(f"log action {data.action}")
    except AccessDenied as denied:
        await deny(update, context, language, f"log entry button {data} ({denied})")


def handlers(conversation_timeout: timedelta | None = None) -> list[BaseHandler]:
    text = ALL_TEXT & ~filters.Text(all_menu_labels())
    step_handlers: list[BaseHandler] = [
        CommandHandler("skip", skip_command),
        CommandHandler("back", back_command),
        MessageHandler(text, typed),
        MessageHandler(filters.VOICE, voice),
    ]
    wizard_buttons = re.compile(f"{WIZARD_BUTTONS}|{WIZARD_BUTTONS_NO_ARGS}")
    return [
        ConversationHandler(
            entry_points=[
                CommandHandler("log", log_command),
                MessageHandler(filters.Text(menu_labels(LOG)), log_command),
                CallbackQueryHandler(start_button, pattern=r"^log:start:"),
                CallbackQueryHandler(start_edit, pattern=r"^log:edit:"),
                CallbackQueryHandler(cancel, pattern=r"^log:cancel$"),
                # A draft without a conversation (started elsewhere, or after a timeout) resumes.
                CallbackQueryHandler(button, pattern=wizard_buttons),
            ],
            states={step: step_handlers for step in STEPS},
            fallbacks=[
                CommandHandler("cancel", cancel),
                CallbackQueryHandler(cancel, pattern=r"^log:cancel$"),
                CallbackQueryHandler(button, pattern=wizard_buttons),
            ],
            name="interaction",
            persistent=True,
            allow_reentry=True,
            conversation_timeout=conversation_timeout,
        ),
        CallbackQueryHandler(on_entry_button, pattern=r"^log:(view|del|del_ok):"),
    ]
