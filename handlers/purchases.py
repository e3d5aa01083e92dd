"""Adding a purchase from the card: product → amount → quantity → date → confirm (a form on handlers/wizard.py)."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from telegram import InlineKeyboardButton, Update
from telegram.ext import BaseHandler, CallbackQueryHandler

from bot.domain.dates import parse_purchase_date
from bot.domain.money import parse_money, parse_quantity
from bot.domain.validation import ValidationError, parse_free_text
from bot.render import render
from bot.services.errors import AccessDenied
from handlers import callback_data, wizard
from handlers.common import Context, caller, deny, reply_html, services
from handlers.customer_card import send_card
from handlers.customer_view import money
from handlers.menu import N_
from handlers.wizard import Choice, Inputs, Kind, Prompt, Step, Turn

DRAFT = "purchase_draft"
TODAY_LABEL = N_("Today")
YESTERDAY_LABEL = N_("Yesterday")
QUANTITIES = ("1", "2", "3", "5", "10")
SCREEN_NAMES = {"quantity": "qty", "purchased_on": "day"}


def _amount(text: str, inputs: Inputs) -> dict[str, str | None]:
    parsed = parse_money(text)
    currency = parsed.currency if parsed.currency and parsed.currency != inputs.currency else None
    return {"amount": str(parsed.amount), "currency": currency}


def _days(turn: Turn) -> list[Choice]:
    today = turn.inputs.today
    return [Choice("0", turn._(TODAY_LABEL), today.isoformat()),
            Choice("1", turn._(YESTERDAY_LABEL), (today - timedelta(days=1)).isoformat())]


STEPS = (
    Step("product", Kind.TEXT, lambda text, _i: " ".join(parse_free_text(text, 200, field_name="product").split()),
         label=N_("Product")),
    Step("amount", Kind.AMOUNT, _amount, store=lambda draft, value: draft.update(value), label=N_("Amount")),
    Step("quantity", Kind.RATING, lambda text, _i: parse_quantity(text), action="qty", columns=5,
         choices=lambda turn: [Choice(q, q, int(q)) for q in QUANTITIES], label=N_("Quantity")),
    Step("purchased_on", Kind.WHEN, lambda text, i: parse_purchase_date(text, today=i.today).isoformat(),
         action="day", choices=_days, label=N_("Date")),
)


def _screen(turn: Turn, step: str, reason: str | None) -> str:
    draft = turn.draft
    currency = draft.get("currency") or turn.svc.config.locale.currency
    amount = money(Decimal(draft["amount"]), currency, turn.language) if "amount" in draft else ""
    return render(turn.language, "purchase_ask", step=step, reason=reason, draft=draft, amount=amount)


async def on_save(turn: Turn) -> None:
    draft: dict[str, Any] = turn.draft
    await turn.svc.customers.add_purchase(
        turn.staff, draft["customer_id"], product=draft["product"], amount=Decimal(draft["amount"]),
        quantity=int(draft["quantity"]), purchased_on=date.fromisoformat(draft["purchased_on"]),
        currency=draft.get("currency"), record_id=turn.record_id,
    )
    await reply_html(turn.update, turn.context, wizard.saved_text(turn), turn.language)
    await send_card(turn.update, turn.context, turn.staff, turn.language, draft["customer_id"])


def _ask(turn: Turn, prompt: Prompt) -> str:
    return _screen(turn, SCREEN_NAMES.get(prompt.step.key, prompt.step.key), prompt.reason)


# ---- a won deal's purchase (issue 13, point 19): ``buy:deal:<customer>:<amount|->:<currency|->`` ----
callback_data.declare("buy", "deal", 3)
_CURRENCY = re.compile(r"^[A-Z]{3}$")


def deal_button(label: str, customer_id: str, amount: str | None, currency: str | None) -> InlineKeyboardButton:
    """The offer to record a won deal's purchase, with the amount the log named (if any)."""
    return InlineKeyboardButton(label, callback_data=callback_data.encode(
        "buy", "deal", customer_id, amount or "-", currency or "-"))


async def start_for_deal(update: Update, context: Context) -> str | int | None:
    """``buy:deal:…``: the purchase form on the customer (re-checked), the amount filled in.

    The amount and currency come from a button, so they are read again like typed
    input; anything else than an amount is refused, never guessed.
    """
    data = callback_data.parse(update.callback_query.data if update.callback_query else None)
    _staff, language = await caller(update, context)
    amount: dict[str, Any] = {}
    try:
        if data is None:
            raise ValidationError("amount", "amount.not_a_number")
        customer_id, typed, currency = data.args
        if typed != "-":
            amount = {"amount": str(parse_money(typed).amount),
                      "currency": currency if _CURRENCY.match(currency) else None}
    except ValidationError:
        await deny(update, context, language, f"deal purchase {data}")
        return None
    return await wizard.begin_for_customer(update, context, FORM, customer_id, extra=amount)


async def start_for_won_deal(update: Update, context: Context) -> str | int | None:
    """``buy:won:<deal>``: the purchase form pre-filled from a won deal (its title as the product,
    its amount and currency); the deal is re-loaded and access re-checked."""
    data = callback_data.parse(update.callback_query.data if update.callback_query else None)
    staff, language = await caller(update, context)
    svc = services(context)
    try:
        if staff is None or data is None:
            raise AccessDenied("won deal purchase")
        deal = await svc.deals.get(staff, data.args[0])
    except AccessDenied:
        await deny(update, context, language, f"won deal purchase {data}")
        return None
    extra = {"product": deal.products[0] if len(deal.products) == 1 else deal.title, "amount": str(deal.amount),
             "currency": deal.currency if deal.currency != svc.config.locale.currency else None}
    return await wizard.begin_for_customer(update, context, FORM, deal.customer_id, extra=extra)


FORM = wizard.Form(
    name="buy", conversation="purchase", draft_key=DRAFT, steps=STEPS, ask=_ask,
    confirm=lambda turn, reason: _screen(turn, "confirm", reason), on_save=on_save,
    customer_start="add", customer_values=lambda c, _svc: {"customer_id": c.id, "customer_name": c.name},
    entry_points=[CallbackQueryHandler(start_for_deal, pattern=r"^buy:deal:"),
                  CallbackQueryHandler(start_for_won_deal, pattern=r"^buy:won:")],
)


def handlers(conversation_timeout: timedelta | None = None) -> list[BaseHandler]:
    return [wizard.conversation(FORM, conversation_timeout)]
