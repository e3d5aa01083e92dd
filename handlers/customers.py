"""Adding and editing customers (a form on handlers/wizard.py), quick add, shared contacts, the card.

Adding asks name → phone → company step by step, then shows the draft card
(the form's confirmation) where every other field of ``bot.domain.card`` is
one tap away; Save checks for duplicates first. Editing opens the same card
on an existing customer, and its Save runs the same check when the name,
phones, e-mail or company changed.

Duplicates (issue 13, point 21): one the rep may open is a warning ("Save
anyway"). The same phone as a colleague's customer the rep may not see (or
the same e-mail, were the check to find one: e-mail is not indexed) stops the save — "Save anyway" is not offered and a forged one is refused
— since two cards would split that customer; a similar name in the same
company only warns. Instead the rep may ask for the card (``add:ask``): the
managers who see the customer (and the admins when none of them may hand it
to the rep) get who asks for which customer, with "give" and "decline"
(``dup:give|no:<customer>:<requester>``, re-checked on every press, answered
once). The rep learns neither the existing card nor its owner unless it is
given to them.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import TelegramError
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot import labels
from bot.domain import access, card
from bot.domain.models import Customer, StaffUser
from bot.domain.phones import parse_phone
from bot.domain.validation import ValidationError, parse_name
from bot.i18n import gettext_for
from bot.render import render
from bot.services.errors import AccessDenied
from handlers import callback_data, wizard
from handlers.callback_data import CallbackData
from handlers.common import (
    BACK_LABEL,
    Context,
    answer_press,
    button_handler,
    caller,
    deny,
    drop_keyboard,
    reply_html,
    send_html,
    services,
)
from handlers.customer_card import on_card_button, send_card
from handlers.customer_view import render_draft, value_text
from handlers.menu import ADD_CUSTOMER, N_, main_menu
from handlers.menu import labels as menu_labels
from handlers.reasons import reason_text
from handlers.wizard import Choice, Kind, Prompt, Step, Turn

log = logging.getLogger(__name__)

DRAFT = "customer_draft"
DUPLICATES = "add:duplicates"
KINDS = {"text": Kind.TEXT, "choice": Kind.CHOICE, "customer": Kind.CUSTOMER}

SAVE_ANYWAY_LABEL = N_("Save anyway")
OPEN_LABEL = N_("Open %(name)s")
ASK_CARD_LABEL = N_("🙋 Ask for this customer")
GIVE_LABEL = N_("✅ Give to %(name)s")
DECLINE_LABEL = N_("✖ Decline")
CARD_LABEL = N_("📇 Card")
#: What the duplicate check looks at: an edit that changes none of these is not checked again.
IDENTITY_FIELDS = ("name", "phones", "email", "company")

# A rep's request for a colleague's customer (``add:ask:<draft token>``) and its answer by a
# manager or admin (``dup:give|no:<customer>:<requester>``).
callback_data.declare("add", "ask", 1)
callback_data.declare("dup", "give", 2)
callback_data.declare("dup", "no", 2)


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
    """Save the card: new, or edited. Either way the duplicate check runs first (on an edit,
    when the name, phones, e-mail or company changed): a duplicate the rep may open is a
    warning ("Save anyway" is ``force``); the same phone or e-mail as a colleague's customer
    the rep may not see stops the save, whatever is pressed, and offers to ask for that card."""
    svc, draft = turn.svc, values(turn.draft)
    editing = turn.draft.get("id") if turn.draft.get("mode") == "edit" else None
    if editing is None or await _identity_changed(turn, editing, draft):
        duplicates = await svc.customers.duplicates(turn.staff, draft, record_id=turn.record_id)
        visible = [(c, reason) for c, reason in duplicates.visible if c.id != editing]
        if duplicates.hidden and await _colleagues_blocking(turn, draft):
            return await _show_duplicates(turn, visible, duplicates.hidden, blocked=True)
        if not force and (visible or duplicates.hidden):
            return await _show_duplicates(turn, visible, duplicates.hidden)
    if editing is not None:
        customer = await svc.customers.update_card(turn.staff, editing, draft)
    else:
        customer = await svc.customers.create(turn.staff, draft, record_id=turn.record_id)
    await send_card(turn.update, turn.context, turn.staff, turn.language, customer.id)
    return None


async def _identity_changed(turn: Turn, customer_id: str, draft: dict[str, Any]) -> bool:
    """Whether an edit changes what the duplicate check looks at (name, phones, e-mail, company)."""
    stored = card.draft_from_customer(await turn.svc.customers.visible(turn.staff, customer_id))
    return any(stored.get(key) != draft.get(key) for key in IDENTITY_FIELDS)


async def _colleagues_blocking(turn: Turn, draft: dict[str, Any]) -> list[tuple[Customer, str]]:
    """Colleagues' customers (the rep may not see them) that this draft *is*: same phone or e-mail."""
    found = await turn.svc.customers.colleague_duplicates(turn.staff, draft)
    return [(c, reason) for c, reason in found if access.duplicate_blocks_save(reason)]


async def _show_duplicates(turn: Turn, visible: list[tuple[Customer, str]], hidden: int, *,
                           blocked: bool = False) -> str:
    token = wizard.draft_token(turn.draft)
    rows = [[_button(turn._(OPEN_LABEL) % {"name": c.name[:40]}, "cust", "view", c.id)]
            for c, _reason in visible]
    back = InlineKeyboardButton(turn._(BACK_LABEL), callback_data=FORM.cb("back", wizard.CONFIRM))
    if blocked:
        rows.append([_button(turn._(ASK_CARD_LABEL), "add", "ask", token), back])
        text = render(turn.language, "customer_colleague_duplicate", visible=[c.name for c, _r in visible],
                      editing=turn.draft.get("mode") == "edit")
        await reply_html(turn.update, turn.context, text, turn.language, reply_markup=InlineKeyboardMarkup(rows))
        return DUPLICATES
    rows.append([_button(turn._(SAVE_ANYWAY_LABEL), "add", "force", token), back])
    text = render(turn.language, "customer_duplicates", hidden=hidden,
                  visible=[(c.name, c.company, reason) for c, reason in visible])
    await reply_html(turn.update, turn.context, text, turn.language, reply_markup=InlineKeyboardMarkup(rows))
    return DUPLICATES


async def save_anyway(update: Update, context: Context) -> str | int | None:
    turn = await wizard.current(FORM, update, context)
    data = callback_data.parse(update.callback_query.data)
    if turn is None or data is None:
        return await wizard.cancel(FORM, update, context)
    return await wizard.save(turn, data.args[0], force=True)


async def ask_for_card(update: Update, context: Context) -> str | int | None:
    """From the stop screen: ask the managers of the colleague's customer for its card.

    What is asked for is found again from the current draft (the button carries only the
    draft's token), so a forged press asks for nothing the rep did not type. The draft is
    put away: the customer exists already, and comes to the rep if the manager agrees.
    """
    _staff, language = await caller(update, context)
    turn = await wizard.current(FORM, update, context)
    data = callback_data.parse(update.callback_query.data)
    if turn is None or data is None or data.args[0] != wizard.draft_token(turn.draft):
        await deny(update, context, language, f"card request {data}")
        return None if turn is not None else wizard.END
    svc, draft = turn.svc, values(turn.draft)
    wanted = await _colleagues_blocking(turn, draft)
    if not wanted:  # nothing stops the save any more (the colleague's card moved, or was edited)
        await answer_press(update)
        return await wizard.show_confirm(turn)
    asked, names = 0, await svc.staff.names()
    for customer, reason in wanted:
        for recipient in await svc.customers.request_card(turn.staff, customer):
            asked += await _send_card_request(context, recipient, turn.staff, customer, reason,
                                              names.get(customer.owner_id, "—"))
    await answer_press(update)
    await drop_keyboard(update)
    context.user_data.pop(DRAFT, None)
    await wizard.write_through(update, context, FORM, None)
    await reply_html(update, context, render(turn.language, "card_requested", asked=asked), turn.language,
                     reply_markup=main_menu(turn.language, turn.staff.role))
    return wizard.END


async def _send_card_request(context: Context, recipient: StaffUser, requester: StaffUser, customer: Customer,
                             reason: str, owner: str) -> int:
    """Tell one manager (or admin) who asks for which customer, with the buttons to answer; 1 if sent."""
    language = recipient.language
    _ = gettext_for(language)
    can_give = access.can_reassign(recipient, customer, requester)
    answer = [_button(_(DECLINE_LABEL), "dup", "no", customer.id, requester.id)]
    if can_give:
        answer.insert(0, _button((_(GIVE_LABEL) % {"name": requester.name})[:60], "dup", "give", customer.id,
                                 requester.id))
    text = render(language, "card_request", requester=requester.name, name=customer.name,
                  company=customer.company, owner=owner, reason=reason, can_give=can_give)
    try:
        await send_html(context, recipient.telegram_id, text, language, reply_markup=InlineKeyboardMarkup(
            [answer, [_button(_(CARD_LABEL), "cust", "view", customer.id)]]))
    except TelegramError as error:
        log.warning("card request for %s to %s not sent: %s", customer.id, recipient.id, error)
        return 0
    return 1


@button_handler
async def on_card_request(
    update: Update, context: Context, staff: StaffUser, language: str, data: CallbackData
) -> None:
    """``dup:give|no:<customer>:<requester>``: a manager answers a card request, re-checked on each press."""
    svc = services(context)
    customer, requester, answered_by = await svc.customers.answer_card_request(
        staff, data.args[0], data.args[1], give=data.action == "give")
    names = await svc.staff.names()
    if answered_by is not None:
        await answer_press(update, render(language, "card_request_answered", by=names.get(answered_by, "—"),
                                          name=customer.name, requester=requester.name, outcome="before"))
        await drop_keyboard(update)
        return
    outcome = "given" if data.action == "give" else "declined"
    await answer_press(update)
    await update.callback_query.edit_message_text(
        render(language, "card_request_answered", by=staff.name, name=customer.name, requester=requester.name,
               outcome=outcome),
        reply_markup=InlineKeyboardMarkup([[_button(gettext_for(language)(CARD_LABEL), "cust", "view", customer.id)]]))
    theirs = requester.language
    markup = InlineKeyboardMarkup([[_button(gettext_for(theirs)(CARD_LABEL), "cust", "view", customer.id)]]) \
        if outcome == "given" else None
    try:
        await send_html(context, requester.telegram_id, render(
            theirs, "card_request_result", by=staff.name, outcome=outcome,
            name=customer.name if outcome == "given" else None), theirs, reply_markup=markup)
    except TelegramError as error:
        log.warning("card request answer for %s to %s not sent: %s", customer.id, requester.id, error)


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
                               CallbackQueryHandler(save_anyway, pattern=r"^add:force:"),
                               CallbackQueryHandler(ask_for_card, pattern=r"^add:ask:")]},
)


def handlers(conversation_timeout: timedelta | None = None) -> list[BaseHandler]:
    # The form first: it takes "cust:edit" and, on its duplicates screen, "cust:view".
    return [wizard.conversation(FORM, conversation_timeout), CallbackQueryHandler(on_card_button, pattern=r"^cust:"),
            CallbackQueryHandler(on_card_request, pattern=r"^dup:")]
