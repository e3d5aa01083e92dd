"""Adding a purchase from the card: product → amount → quantity → date → confirm."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.domain.purchases import parse_purchase_date
from bot.domain.validation import ValidationError, parse_free_text, parse_money, parse_quantity
from bot.i18n import gettext_for
from bot.render import render
from bot.services.errors import AccessDenied
from handlers import callback_data
from handlers.common import Context, caller, deny, pressed, reply_html, services
from handlers.customer_view import money
from handlers.customers import send_card
from handlers.menu import N_, all_menu_labels
from handlers.reasons import reason_text

PRODUCT, AMOUNT, QUANTITY, DAY, CONFIRM = "buy:product", "buy:amount", "buy:qty", "buy:day", "buy:confirm"
DRAFT = "purchase_draft"
STEPS = [PRODUCT, AMOUNT, QUANTITY, DAY, CONFIRM]
TODAY_LABEL = N_("Today")
YESTERDAY_LABEL = N_("Yesterday")
SAVE_LABEL = N_("✅ Save")
CANCEL_LABEL = N_("✖ Cancel")
QUANTITIES = ("1", "2", "3", "5", "10")


def _cb(action: str, *args: str) -> str:
    return callback_data.encode("buy", action, *args)


def _cancel_row(language: str) -> list[InlineKeyboardButton]:
    return [InlineKeyboardButton(gettext_for(language)(CANCEL_LABEL), callback_data=_cb("cancel"))]


async def start(update: Update, context: Context) -> str | None:
    result = await pressed(update, context)
    if result is None:
        return None
    staff, language, data = result
    try:
        customer = await services(context).customers.visible(staff, data.args[0])
    except AccessDenied:
        await deny(update, context, language, f"purchase for {data.args[0]}")
        return None
    await update.callback_query.answer()
    context.user_data[DRAFT] = {"customer_id": customer.id, "customer_name": customer.name}
    return await ask(update, context, language, PRODUCT)


async def ask(update: Update, context: Context, language: str, step: str, reason: str | None = None) -> str:
    _ = gettext_for(language)
    draft = context.user_data.get(DRAFT, {})
    rows: list[list[InlineKeyboardButton]] = []
    if step == QUANTITY:
        rows.append([InlineKeyboardButton(q, callback_data=_cb("qty", q)) for q in QUANTITIES])
    if step == DAY:
        rows.append([InlineKeyboardButton(_(TODAY_LABEL), callback_data=_cb("day", "0")),
                     InlineKeyboardButton(_(YESTERDAY_LABEL), callback_data=_cb("day", "1"))])
    if step == CONFIRM:
        rows.append([InlineKeyboardButton(_(SAVE_LABEL), callback_data=_cb("save"))])
    rows.append(_cancel_row(language))
    currency = services(context).config.locale.currency
    amount = money(Decimal(draft["amount"]), draft.get("currency") or currency, language) if "amount" in draft else ""
    text = render(language, "purchase_ask", step=step.split(":")[1], reason=reason, draft=draft, amount=amount)
    await reply_html(update, context, text, language, reply_markup=InlineKeyboardMarkup(rows))
    return step


async def typed(update: Update, context: Context) -> str:
    _staff, language = await caller(update, context)
    draft = context.user_data.setdefault(DRAFT, {})
    step = _current_step(draft)
    text = update.effective_message.text or ""
    svc = services(context)
    try:
        if step == PRODUCT:
            draft["product"] = " ".join(parse_free_text(text, 200, field_name="product").split())
        elif step == AMOUNT:
            parsed = parse_money(text)
            if parsed.currency and parsed.currency != svc.config.locale.currency:
                draft["currency"] = parsed.currency
            draft["amount"] = str(parsed.amount)
        elif step == QUANTITY:
            draft["quantity"] = parse_quantity(text)
        elif step == DAY:
            today = svc.clock.now().astimezone(svc.config.tz).date()
            draft["purchased_on"] = parse_purchase_date(text, today=today).isoformat()
        else:
            return await ask(update, context, language, CONFIRM)
    except ValidationError as error:
        return await ask(update, context, language, step, reason=reason_text(error, language))
    return await ask(update, context, language, _current_step(draft))


def _current_step(draft: dict[str, Any]) -> str:
    for step, key in ((PRODUCT, "product"), (AMOUNT, "amount"), (QUANTITY, "quantity"), (DAY, "purchased_on")):
        if key not in draft:
            return step
    return CONFIRM


async def button(update: Update, context: Context) -> str | int:
    result = await pressed(update, context)
    draft = context.user_data.get(DRAFT)
    if result is None or draft is None:
        return ConversationHandler.END if draft is None else _current_step(draft)
    staff, language, data = result
    svc = services(context)
    await update.callback_query.answer()
    if data.action == "qty" and data.args[0] in QUANTITIES:
        draft["quantity"] = int(data.args[0])
    elif data.action == "day" and data.args[0] in ("0", "1"):
        today = svc.clock.now().astimezone(svc.config.tz).date()
        draft["purchased_on"] = (today - timedelta(days=int(data.args[0]))).isoformat()
    elif data.action == "save" and _current_step(draft) == CONFIRM:
        try:
            await svc.customers.add_purchase(
                staff, draft["customer_id"], product=draft["product"], amount=Decimal(draft["amount"]),
                quantity=int(draft["quantity"]), purchased_on=date.fromisoformat(draft["purchased_on"]),
                currency=draft.get("currency"),
            )
        except AccessDenied:
            await deny(update, context, language, f"purchase save {draft.get('customer_id')}")
            return ConversationHandler.END
        context.user_data.pop(DRAFT, None)
        await update.callback_query.edit_message_reply_markup(None)
        await reply_html(update, context, render(language, "customer_saved"), language)
        await send_card(update, context, staff, language, draft["customer_id"])
        return ConversationHandler.END
    return await ask(update, context, language, _current_step(draft))


async def cancel(update: Update, context: Context) -> int:
    _staff, language = await caller(update, context)
    context.user_data.pop(DRAFT, None)
    if update.callback_query is not None:
        await update.callback_query.answer()
        await update.callback_query.edit_message_reply_markup(None)
    await reply_html(update, context, render(language, "cancelled"), language)
    return ConversationHandler.END


def handlers(conversation_timeout: timedelta | None = None) -> list[BaseHandler]:
    text = filters.TEXT & ~filters.COMMAND & ~filters.Text(all_menu_labels())
    return [
        ConversationHandler(
            entry_points=[CallbackQueryHandler(start, pattern=r"^buy:add:")],
            states={step: [MessageHandler(text, typed)] for step in STEPS},
            fallbacks=[
                CommandHandler("cancel", cancel),
                CallbackQueryHandler(cancel, pattern=r"^buy:cancel$"),
                CallbackQueryHandler(button, pattern=r"^buy:"),
            ],
            name="purchase",
            persistent=True,
            allow_reentry=True,
            conversation_timeout=conversation_timeout,
        ),
    ]
