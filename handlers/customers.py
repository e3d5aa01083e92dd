"""Adding and editing customers (a form on handlers/wizard.py), quick add, shared contacts, the card.

Adding asks name → phone → company step by step, then shows the draft card
(the form's confirmation) where every other field of ``bot.domain.card`` is
one tap away; Save checks for duplicates first. Editing opens the same card
on an existing customer.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot import labels
from bot.domain import card
from bot.domain.models import Customer, StaffUser
from bot.domain.phones import parse_phone
from bot.domain.validation import ValidationError, parse_name
from bot.render import render
from bot.services.errors import AccessDenied
from handlers import callback_data, wizard
from handlers.common import BACK_LABEL, Context, caller, reply_html, services
from handlers.customer_card import on_card_button, send_card
from handlers.customer_view import render_draft, value_text
from handlers.menu import ADD_CUSTOMER, N_
from handlers.menu import labels as menu_labels
from handlers.reasons import reason_text
from handlers.wizard import Choice, Kind, Prompt, Step, Turn

log = logging.getLogger(__name__)

DRAFT = "customer_draft"
DUPLICATES = "add:duplicates"
KINDS = {"text": Kind.TEXT, "choice": Kind.CHOICE, "customer": Kind.CUSTOMER}

SAVE_ANYWAY_LABEL = N_("Save anyway")
OPEN_LABEL = N_("Open %(name)s")


def _cb(feature: str, action: str, *args: str) -> str:
    return callback_data.encode(feature, action, *args)


def _button(label: str, feature: str, action: str, *args: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(label, callback_data=_cb(feature, action, *args))


def values(draft: dict[str, Any]) -> dict[str, Any]:
    """The card fields the draft has a value for (a skipped field holds None)."""
    return {k: v for k, v in draft.items() if k in card.BY_KEY and v not in (None, "", [])}


# ---- the form ------------------------------------------------------------------------------
def _step(spec: card.Field) -> Step:
    parse = spec.parse
    choices = (lambda turn: [Choice(v, turn._(labels.CHOICES.get(v, v)), v) for v in spec.choices]) \
        if spec.choices else None
    return Step(
        spec.key, KINDS[spec.kind], required=spec.required, in_sequence=spec.wizard, label=labels.FIELDS[spec.key],
        parse=(lambda text, i: parse(text, card.InputContext(i.phone_region, i.today))) if parse else None,
        choices=choices, action="ref" if spec.kind == "customer" else spec.key,
        search=_referrers if spec.kind == "customer" else None, pick=_pick_referrer,
    )


async def _referrers(turn: Turn, query: str) -> list[Choice]:
    found = await turn.svc.customers.search(turn.staff, query, limit=8)
    return wizard.customer_choices([c for c in found if c.id != turn.draft.get("id")])


def _pick_referrer(turn: Turn, referrer: Customer) -> bool:
    if turn.draft.get("mode") == "edit" and referrer.id == turn.draft.get("id"):
        return False
    turn.draft.update(referred_by=referrer.id)
    return True


HIDDEN_REFERRER_LABEL = N_("(hidden: not your customer)")


async def _names(turn: Turn) -> dict[str, str]:
    """The referrer's name as this user may read it, asked of the service each time it is shown.

    Never from the draft alone: the name the draft remembers may be one the user may no
    longer see (the referrer moved to another team, the user's own teams changed) — a
    referrer the user may not see is "hidden", never named.
    """
    referrer_id = turn.draft.get("referred_by")
    if not referrer_id:
        return {}
    try:
        return {referrer_id: (await turn.svc.customers.visible(turn.staff, referrer_id)).name}
    except AccessDenied:
        return {referrer_id: turn._(HIDDEN_REFERRER_LABEL)}


async def _ask(turn: Turn, prompt: Prompt) -> str:
    key, draft = prompt.step.key, turn.draft
    if prompt.step.kind is Kind.CUSTOMER and prompt.query is not None:
        return render(turn.language, "referrer_matches", count=len(prompt.choices))
    spec = card.BY_KEY[key]
    current = values(draft).get(key)
    return render(
        turn.language, "customer_ask", key=key, label=turn._(labels.FIELDS[key]), reason=prompt.reason,
        choices=spec.kind == "choice", free_text=spec.free_text, optional=not spec.required,
        current=value_text(key, current, turn.language, turn.svc.config, await _names(turn)) if current else None,
    )


async def _confirm(turn: Turn, reason: str | None) -> str:
    text = render_draft(values(turn.draft), turn.language, turn.svc.config, await _names(turn),
                        editing=turn.draft.get("mode") == "edit")
    return f"⚠️ {reason}\n{text}" if reason else text


async def on_save(turn: Turn, force: bool = False) -> str | None:
    svc, draft = turn.svc, values(turn.draft)
    if turn.draft.get("mode") == "edit":
        customer = await svc.customers.update_card(turn.staff, turn.draft["id"], draft)
    else:
        duplicates = None if force else await svc.customers.duplicates(turn.staff, draft, record_id=turn.record_id)
        if duplicates is not None and (duplicates.visible or duplicates.hidden):
            return await _show_duplicates(turn, duplicates)
        customer = await svc.customers.create(turn.staff, draft, record_id=turn.record_id)
    await send_card(turn.update, turn.context, turn.staff, turn.language, customer.id)
    return None


async def _show_duplicates(turn: Turn, duplicates: Any) -> str:
    rows = [[_button(turn._(OPEN_LABEL) % {"name": c.name[:40]}, "cust", "view", c.id)]
            for c, _reason in duplicates.visible]
    rows.append([_button(turn._(SAVE_ANYWAY_LABEL), "add", "force", wizard.draft_token(turn.draft)),
                 InlineKeyboardButton(turn._(BACK_LABEL), callback_data=FORM.cb("back", wizard.CONFIRM))])
    text = render(turn.language, "customer_duplicates", hidden=duplicates.hidden,
                  visible=[(c.name, c.company, reason) for c, reason in duplicates.visible])
    await reply_html(turn.update, turn.context, text, turn.language, reply_markup=InlineKeyboardMarkup(rows))
    return DUPLICATES


async def save_anyway(update: Update, context: Context) -> str | int | None:
    turn = await wizard.current(FORM, update, context)
    data = callback_data.parse(update.callback_query.data)
    if turn is None or data is None:
        return await wizard.cancel(FORM, update, context)
    return await wizard.save(turn, data.args[0], force=True)


async def open_existing(update: Update, context: Context) -> int:
    """From the duplicates screen: drop the draft and open the existing customer instead."""
    context.user_data.pop(DRAFT, None)
    await on_card_button(update, context)
    return wizard.END


# ---- entry points --------------------------------------------------------------------------
async def start_add(update: Update, context: Context) -> str | int:
    _staff, language = await caller(update, context)
    if not context.args:
        return await wizard.begin(update, context, FORM, {"mode": "add"})
    draft, failed, error = card.quick_add_draft(" ".join(context.args), services(context).customers.input_context())
    reason = reason_text(error, language) if error is not None else None
    return await wizard.begin(update, context, FORM, {"mode": "add", **draft}, review=True, at=failed,
                              reason=reason)


async def from_contact(update: Update, context: Context) -> str | int:
    """A shared or forwarded Telegram contact starts the wizard with name and phone filled in."""
    _staff, language = await caller(update, context)
    contact = update.effective_message.contact
    draft: dict[str, Any] = {"mode": "add"}
    reason = None
    try:
        draft["name"] = parse_name(" ".join(p for p in (contact.first_name, contact.last_name) if p))
    except ValidationError:
        pass
    try:
        draft["phones"] = [parse_phone(contact.phone_number or "", services(context).config.locale.phone_region)]
    except ValidationError as error:
        reason = reason_text(error, language) if "name" in draft else None
    return await wizard.begin(update, context, FORM, draft, reason=reason)


async def _edit_values(staff: StaffUser, customer_id: str, svc: Any) -> dict[str, Any]:
    view = await svc.customers.card(staff, customer_id)
    return {"id": view.customer.id, **card.draft_from_customer(view.customer)}


FORM = wizard.Form(
    name="add", conversation="customer", draft_key=DRAFT, steps=tuple(_step(f) for f in card.FIELDS),
    ask=_ask, confirm=_confirm, on_save=on_save, mark_filled=True, field_columns=3,
    edit_button="cust:edit", edit_values=_edit_values,
    entry_points=[
        CommandHandler("add", start_add),
        MessageHandler(filters.Text(menu_labels(ADD_CUSTOMER)), start_add),
        MessageHandler(filters.CONTACT, from_contact),
    ],
    extra_states={DUPLICATES: [CallbackQueryHandler(open_existing, pattern=r"^cust:view:"),
                               CallbackQueryHandler(save_anyway, pattern=r"^add:force:")]},
)


def handlers(conversation_timeout: timedelta | None = None) -> list[BaseHandler]:
    # The form first: it takes "cust:edit" and, on its duplicates screen, "cust:view".
    return [wizard.conversation(FORM, conversation_timeout), CallbackQueryHandler(on_card_button, pattern=r"^cust:")]
