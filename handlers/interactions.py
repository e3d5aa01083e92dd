"""Logging calls, visits, meetings and messages: the form (on handlers/wizard.py), quick log, corrections.

Ways in:

- the card's "📞 Log a call" button (``log:start:<customer>``), also on reminders;
- ``/log`` or the menu's "📞 Log": pick a customer (recent ones, or type to search);
- ``/log 张伟 called, wants a quote, follow up Friday``: quick log — the customer
  by name (asks with buttons when several match), kind / outcome / follow-up
  from the text (``bot.domain.interactions.parse_quick_log``), straight to the
  confirmation;
- :func:`start_log_for` for other features (a reminder's "done" button).

Steps: customer → kind → outcome (with the direction, outbound by default, as a
toggle) → summary (text, or a voice note kept by ``file_id``) → next follow-up
(buttons or free text in the rep's time zone) → confirmation. A logged entry
opens from the card's history (``log:view:<id>``), where whoever may
(``bot.domain.access.can_edit_entry``) edits it (``log:edit:<id>``) or deletes
it (soft, ``log:del`` → ``log:del_ok``).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot import labels
from bot.domain import interactions as rules
from bot.domain.dates import parse_when
from bot.domain.models import Customer, Direction, InteractionKind, Outcome, StaffUser
from bot.domain.validation import ValidationError, parse_free_text
from bot.i18n import gettext_for
from bot.render import render
from bot.services.errors import AccessDenied
from bot.services.interactions import KEEP
from handlers import callback_data, purchases, visits, wizard
from handlers.callback_data import CallbackData
from handlers.common import (
    Context,
    button_handler,
    caller,
    deny,
    display_name,
    reply_html,
    services,
    user_zone,
)
from handlers.customer_card import entry_action, send_card
from handlers.customer_view import money, when_text
from handlers.menu import LOG, N_
from handlers.menu import labels as menu_labels
from handlers.reasons import reason_text
from handlers.wizard import Attachment, Choice, Inputs, Kind, Prompt, Step, Toggle, Turn

log = logging.getLogger(__name__)

DRAFT = "log_draft"
PICK_LIMIT = 8
FOLLOW_UP_LABELS = {"tomorrow": N_("Tomorrow"), "3d": N_("In 3 days"), "week": N_("Next week"),
                    "month": N_("In a month")}
NO_FOLLOW_UP_LABEL = N_("No follow-up")
KEEP_FOLLOW_UP_LABEL = N_("Keep %(when)s")
EDIT_LABEL = N_("✏️ Edit")
AS_TODO_LABEL = N_("✅ As a to-do")
DELETE_LABEL = N_("🗑 Delete")
CARD_LABEL = N_("📇 Card")
VOICE_NOTE = N_("voice note")
RECORD_PURCHASE_LABEL = N_("🛒 Record the purchase")


def _cb(action: str, *args: str) -> str:
    return callback_data.encode("log", action, *args)


def _new(**values: Any) -> dict[str, Any]:
    return {"mode": "new", "direction": Direction.OUTBOUND.value, **values}


def _with_customer(draft: dict[str, Any], customer: Customer, now: datetime) -> dict[str, Any]:
    draft["customer_id"] = customer.id
    draft["customer_name"] = customer.name
    draft["current_follow_up"] = customer.next_follow_up_at.isoformat() if customer.next_follow_up_at else None
    if draft.get("quick") and "follow_up" not in draft and not draft.get("follow_up_reason"):
        # A quick log that names no follow-up leaves a planned one in place (if still ahead).
        upcoming = customer.next_follow_up_at is not None and customer.next_follow_up_at > now
        draft["follow_up"] = "keep" if upcoming else "none"
    return draft


# ---- the steps -----------------------------------------------------------------------------
async def _recent(turn: Turn) -> list[Choice]:
    return wizard.customer_choices((await turn.svc.interactions.recent_customers(turn.staff))[:PICK_LIMIT])


async def _search(turn: Turn, query: str) -> list[Choice]:
    return wizard.customer_choices(await turn.svc.customers.search(turn.staff, query, limit=PICK_LIMIT))


def _pick(turn: Turn, customer: Customer) -> bool:
    if turn.draft.get("mode") == "edit":
        return False
    _with_customer(turn.draft, customer, turn.inputs.now)
    return True


def _kind(text: str, _inputs: Inputs) -> str:
    kind = rules.kind_from_text(text)
    if kind is None:
        raise ValidationError("kind", "choice.use_buttons")
    return kind.value


def _store_summary(draft: dict[str, Any], value: Any) -> None:
    draft.update(value if isinstance(value, dict) else {"summary": value, "voice_file_id": None})


def _voice(turn: Turn, attachment: Attachment) -> dict[str, Any]:
    if attachment.kind != "voice":
        raise ValidationError("summary", "file.unsupported")
    return {"summary": turn._(VOICE_NOTE), "voice_file_id": attachment.file_id}


def _follow_ups(turn: Turn) -> list[Choice]:
    now, tz = turn.inputs.now, turn.tz
    choices = [Choice(code, turn._(label), rules.follow_up_choice(code, now=now, tz=tz).isoformat())
               for code, label in FOLLOW_UP_LABELS.items()]
    choices.append(Choice("none", turn._(NO_FOLLOW_UP_LABEL), "none"))
    current = turn.draft.get("current_follow_up")
    if turn.draft.get("mode") != "edit" and current and datetime.fromisoformat(current) > now:
        when = when_text(datetime.fromisoformat(current), turn.language, tz)
        choices.append(Choice("keep", (turn._(KEEP_FOLLOW_UP_LABEL) % {"when": when})[:60], "keep"))
    return choices


def _outcomes(turn: Turn) -> list[Choice]:
    """The outcomes the draft's kind offers, in its wording (a visit "met the customer")."""
    kind = turn.draft.get("kind")
    table = labels.outcome_labels(kind)
    return [Choice(o.value, turn._(table[o.value]), o.value) for o in rules.outcomes_for(kind)]


def _directions(turn: Turn) -> list[Choice]:
    """Outbound / inbound, for the kinds that have a direction (none for a visit or a meeting)."""
    kind = turn.draft.get("kind")
    return wizard.options(turn, labels.direction_labels(kind)) if rules.has_direction(kind) else []


STEPS = (
    Step("customer_id", Kind.CUSTOMER, action="pick", choices=_recent, search=_search, pick=_pick),
    Step("kind", Kind.CHOICE, _kind, choices=lambda turn: wizard.options(turn, labels.INTERACTION_KINDS),
         label=N_("Kind")),
    Step("outcome", Kind.CHOICE, action="out", columns=2, label=N_("Outcome"), choices=_outcomes,
         toggle=Toggle("direction", "dir", _directions)),
    Step("summary", Kind.FILE, lambda text, _i: parse_free_text(text, rules.SUMMARY_MAX_LENGTH, field_name="summary"),
         required=False, skip_value="", store=_store_summary, attach=_voice, label=N_("Summary")),
    Step("follow_up", Kind.WHEN, lambda text, i: parse_when(text, now=i.now, tz=i.tz).isoformat(), action="fu",
         required=False, skip_value="none", columns=2, choices=_follow_ups, label=N_("Follow-up")),
)


# ---- the screens ---------------------------------------------------------------------------
def _follow_up_parts(turn: Turn) -> tuple[str | None, str | None]:
    """(mode, when) of the draft's follow-up: mode none | keep | at (None: not chosen yet)."""
    value, current = turn.draft.get("follow_up"), turn.draft.get("current_follow_up")
    if value is None and "follow_up" not in turn.draft:
        return None, None
    if value == "keep" and current:
        return "keep", when_text(datetime.fromisoformat(current), turn.language, turn.tz, weekday=True)
    if value in (None, "none", "keep"):
        return "none", None
    return "at", when_text(datetime.fromisoformat(value), turn.language, turn.tz, weekday=True)


def _ask(turn: Turn, prompt: Prompt) -> str:
    draft, key = turn.draft, prompt.step.key
    reason = prompt.reason
    if key == "follow_up" and draft.get("follow_up_reason") and reason is None:
        reason = reason_text(ValidationError("when", draft.pop("follow_up_reason")), turn.language)
    kind = draft.get("kind")
    parts = [display_name(turn.language, table, draft.get(k))
             for k, table in (("kind", labels.INTERACTION_KINDS), ("outcome", labels.outcome_labels(kind)))
             if draft.get(k) in table]
    mode, when = _follow_up_parts(turn)
    return render(
        turn.language, "log_ask", step="pick" if key == "customer_id" else key, reason=reason,
        name=draft.get("customer_name"), parts=parts, choices=bool(prompt.choices),
        no_match=prompt.query if prompt.no_match else None, follow_up_mode=mode,
        follow_up=when, icon=labels.INTERACTION_ICONS.get(kind, "📞"), direction=rules.has_direction(kind),
    )


def _confirm(turn: Turn, reason: str | None) -> str:
    mode, when = _follow_up_parts(turn)
    kind = turn.draft.get("kind")
    return turn.card(
        "log_confirm", reason,
        kind=turn.shown(labels.INTERACTION_KINDS, "kind"), icon=labels.INTERACTION_ICONS.get(kind, "📞"),
        direction=turn.shown(labels.direction_labels(kind), "direction", "outbound")
        if rules.has_direction(kind) else None,
        outcome=turn.shown(labels.outcome_labels(kind), "outcome"),
        summary=turn.draft.get("summary") or "", voice=bool(turn.draft.get("voice_file_id")),
        follow_up_mode=mode or "none", follow_up=when,
        deal_amount=_deal_amount(turn) if turn.draft.get("outcome") == Outcome.DEAL_WON.value else None,
    )


def _follow_up_value(draft: dict[str, Any]) -> datetime | None | Any:
    value = draft.get("follow_up")
    if value == "keep":
        return KEEP
    return None if value in (None, "none") else datetime.fromisoformat(value)


async def on_save(turn: Turn) -> None:
    draft, svc = turn.draft, turn.svc
    values = {
        "kind": InteractionKind(draft["kind"]), "direction": Direction(draft.get("direction", "outbound")),
        "outcome": Outcome(draft["outcome"]), "summary": draft.get("summary") or "",
        "voice_file_id": draft.get("voice_file_id"),
    }
    follow_up = _follow_up_value(draft)
    if draft.get("mode") == "edit":
        await svc.interactions.update(turn.staff, draft["id"], **values,
                                      next_follow_up_at=None if follow_up is KEEP else follow_up)
    else:
        await svc.interactions.log(turn.staff, draft["customer_id"], **values, next_follow_up_at=follow_up,
                                   record_id=turn.record_id)
    await reply_html(turn.update, turn.context, wizard.saved_text(turn), turn.language)
    try:
        await send_card(turn.update, turn.context, turn.staff, turn.language, draft["customer_id"])
    except AccessDenied:
        return
    if draft.get("mode") != "edit" and values["outcome"] is Outcome.DEAL_WON:
        await _offer_purchase(turn)
    if draft.get("mode") != "edit" and values["kind"] is InteractionKind.VISIT:
        await visits.offer_check_in(turn.update, turn.context, turn.language, draft.get("customer_name", ""))


def _deal_amount(turn: Turn) -> str | None:
    """The amount the quick log named, as the confirmation and the purchase offer show it."""
    amount = turn.draft.get("deal_amount")
    if not amount:
        return None
    return money(Decimal(amount), turn.draft.get("deal_currency") or turn.svc.config.locale.currency, turn.language)


async def _offer_purchase(turn: Turn) -> None:
    """A won deal: offer to record its purchase, with the amount the log named already filled in."""
    draft = turn.draft
    button = purchases.deal_button(turn._(RECORD_PURCHASE_LABEL), draft["customer_id"],
                                   draft.get("deal_amount"), draft.get("deal_currency"))
    await reply_html(turn.update, turn.context,
                     render(turn.language, "log_deal_won", name=draft.get("customer_name", ""),
                            amount=_deal_amount(turn)),
                     turn.language, reply_markup=InlineKeyboardMarkup([[button]]))


# ---- entry points --------------------------------------------------------------------------
async def start_log_for(update: Update, context: Context, customer_id: str) -> str | int | None:
    """Start logging a contact with ``customer_id``: the same form as the card's button.

    For other features' handlers (e.g. a reminder's "✅ Done — log it"): call it
    from a message or button handler with the customer's id. It checks that
    the caller may see the customer (answering "not available" otherwise and
    returning None), answers the button press if there is one, replaces any
    half-done log draft and asks the first question. It returns the form's
    state: a handler elsewhere can ignore it — the form's buttons resume the
    draft, so the conversation picks it up from the first press.
    """
    return await wizard.begin_for_customer(update, context, FORM, customer_id)


async def log_command(update: Update, context: Context) -> str | int:
    """``/log`` and the menu button: pick a customer; ``/log <name> <what happened>``: quick log."""
    staff, _language = await caller(update, context)
    text = update.effective_message.text or ""
    text = text.partition(" ")[2].strip() if text.startswith("/") else ""
    if not text or staff is None:
        return await wizard.begin(update, context, FORM, _new())
    svc = services(context)
    now = svc.clock.now()
    match = await svc.interactions.match_customer(staff, text)
    draft = _new()
    if match.rest:
        parsed = rules.parse_quick_log(match.rest, now=now, tz=user_zone(staff, svc.config.tz))
        draft.update(quick=True, direction=parsed.direction.value, outcome=parsed.outcome.value,
                     summary=parsed.summary, voice_file_id=None)
        if parsed.kind is not None:
            draft["kind"] = parsed.kind.value
        if parsed.amount is not None:  # offered as the purchase of a won deal (see on_save)
            draft["deal_amount"] = str(parsed.amount.amount)
            draft["deal_currency"] = parsed.amount.currency
        if parsed.follow_up_at is not None:
            draft["follow_up"] = parsed.follow_up_at.isoformat()
        elif parsed.follow_up_error:
            draft["follow_up_reason"] = parsed.follow_up_error
    if len(match.candidates) != 1:
        query = text.split()[0] if text.split() else text
        return await wizard.begin(update, context, FORM, draft, at="customer_id",
                                  choices=wizard.customer_choices(match.candidates) or None, query=query[:50],
                                  no_match=not match.candidates)
    _with_customer(draft, match.candidates[0], now)
    return await wizard.begin(update, context, FORM, draft)


async def _edit_values(staff: StaffUser, interaction_id: str, svc: Any) -> dict[str, Any]:
    """``log:edit:<interaction>``: the confirmation on an existing entry, each field changeable."""
    interaction, customer = await svc.interactions.editable(staff, interaction_id)
    return {
        "id": interaction.id, "customer_id": customer.id, "customer_name": customer.name,
        "kind": interaction.kind.value, "direction": interaction.direction.value,
        "outcome": interaction.outcome.value if interaction.outcome else Outcome.OTHER.value,
        "summary": interaction.summary, "voice_file_id": interaction.voice_file_id,
        "follow_up": interaction.next_follow_up_at.isoformat() if interaction.next_follow_up_at else "none",
        "current_follow_up": None,
    }


FORM = wizard.Form(
    name="log", conversation="interaction", draft_key=DRAFT, steps=STEPS, ask=_ask, confirm=_confirm,
    on_save=on_save, customer_start="start", edit_button="log:edit", edit_values=_edit_values,
    customer_values=lambda c, svc: _with_customer(_new(), c, svc.clock.now()),
    entry_points=[
        CommandHandler("log", log_command),
        MessageHandler(filters.Text(menu_labels(LOG)), log_command),
    ],
)


# ---- one entry: view, delete ---------------------------------------------------------------
async def show_entry(update: Update, context: Context, staff: StaffUser, language: str, interaction_id: str) -> None:
    svc = services(context)
    interaction, customer = await svc.interactions.get(staff, interaction_id)
    tz = user_zone(staff, services(context).config.tz)
    _ = gettext_for(language)
    author = (await svc.staff.names()).get(interaction.owner_id)
    editable = svc.interactions.may_edit(staff, interaction, customer)
    kind = interaction.kind.value
    text = render(
        language, "log_entry", name=customer.name, when=when_text(interaction.occurred_at, language, tz),
        kind=_(labels.INTERACTION_KINDS[kind]), icon=labels.INTERACTION_ICONS[kind],
        direction=_(labels.direction_labels(kind)[interaction.direction.value])
        if rules.has_direction(kind) else None,
        outcome=_(labels.outcome_labels(kind)[interaction.outcome.value]) if interaction.outcome else "—",
        summary=interaction.summary, voice=bool(interaction.voice_file_id),
        follow_up=when_text(interaction.next_follow_up_at, language, tz, weekday=True) if interaction.next_follow_up_at else None,
        by=author or interaction.owner_id, editable=editable,
        check_in=visits.check_in_summary(interaction, language, tz),
    )
    rows = [[InlineKeyboardButton(_(AS_TODO_LABEL), callback_data=callback_data.encode("todo", "from", interaction.id))]]
    if editable:
        rows.append([InlineKeyboardButton(_(EDIT_LABEL), callback_data=_cb("edit", interaction.id)),
                     InlineKeyboardButton(_(DELETE_LABEL), callback_data=_cb("del", interaction.id))])
    rows.append([InlineKeyboardButton(_(CARD_LABEL), callback_data=callback_data.encode("cust", "view", customer.id))])
    await reply_html(update, context, text, language, reply_markup=InlineKeyboardMarkup(rows))


@button_handler
async def on_entry_button(
    update: Update, context: Context, staff: StaffUser, language: str, data: CallbackData
) -> None:
    """``log:view|del|del_ok:<interaction>``; the entry re-loaded and access re-checked each time."""
    try:
        await entry_action(update, context, staff, language, data, services(context).interactions, show_entry)
    except AccessDenied as denied:
        await deny(update, context, language, f"log entry button {data} ({denied})")


def handlers(conversation_timeout: timedelta | None = None) -> list[BaseHandler]:
    return [
        wizard.conversation(FORM, conversation_timeout),
        CallbackQueryHandler(on_entry_button, pattern=r"^log:(view|del|del_ok):"),
    ]
