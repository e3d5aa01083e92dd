"""Adding a purchase from the card: product → amount → quantity → date → confirm (a form on handlers/wizard.py)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from telegram.ext import BaseHandler

from bot.domain.dates import parse_purchase_date
from bot.domain.money import parse_money, parse_quantity
from bot.domain.validation import parse_free_text
from bot.render import render
from handlers import wizard
from handlers.common import reply_html
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


FORM = wizard.Form(
    name="buy", conversation="purchase", draft_key=DRAFT, steps=STEPS, ask=_ask,
    confirm=lambda turn, reason: _screen(turn, "confirm", reason), on_save=on_save,
    customer_start="add", customer_values=lambda c, _svc: {"customer_id": c.id, "customer_name": c.name},
)


def handlers(conversation_timeout: timedelta | None = None) -> list[BaseHandler]:
    return [wizard.conversation(FORM, conversation_timeout)]
