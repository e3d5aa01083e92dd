"""Deals (商机): the deal form (on handlers/wizard.py), quick entry, the deal card, ``/deals``.

Ways in:

- ``/deal`` or a customer's "💼 Deals" → "➕ New deal" (``deal:new:<customer>``): the form —
  customer → title → amount → stage → expected close date → confirmation (probability,
  products and the next step are edited from the card);
- ``/deal 张伟 CRM Pro 5万 报价 下月底``: quick entry — the customer by name (asks with buttons
  when several match), amount, stage and close date read (``bot.domain.deals``), straight to
  the confirmation card; a close date already past is flagged there to be confirmed;
- ``/deals``: my open deals grouped by stage, each group with count, total and weighted total;
  managers see their team's, filtered by rep (``dl:rep``), paged like ``/list``.

The deal card (``dl:view:<deal>``) has one button per stage (one tap: ``dl:stage:<deal>:<code>``),
✅ Won and ❌ Lost. Won offers to record the purchase, pre-filled from the deal
(``buy:won:<deal>``, handlers/purchases.py); Lost asks for the reason from ``[deals]
lost_reasons`` (``dl:reason:<deal>:<n>``). Every press re-loads the deal and re-checks access.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.domain import access
from bot.domain import deals as rules
from bot.domain.models import Customer, Deal, Reminder, ReminderKind, Role, StaffUser
from bot.domain.money import parse_money
from bot.domain.reports.pipeline import PipelineFigures
from bot.domain.validation import ValidationError, parse_free_text
from bot.i18n import gettext_for
from bot.render import render
from bot.services import Services
from handlers import callback_data, reminders, wizard
from handlers.callback_data import CallbackData
from handlers.common import (
    Context,
    button_handler,
    caller,
    command_handler,
    deny,
    reply_html,
    services,
)
from handlers.customer_view import money
from handlers.menu import DEALS, N_
from handlers.menu import labels as menu_labels
from handlers.reasons import reason_text
from handlers.wizard import Choice, Inputs, Kind, Prompt, Step, Turn

DRAFT = "deal_draft"
PAGE_SIZE = 8
PICK_LIMIT = 8
FILTER_KEY = "deals_owner"  # user_data: the rep a manager's /deals is narrowed to
WON_LABEL = N_("✅ Won")
LOST_LABEL = N_("❌ Lost")
EDIT_LABEL = N_("✏️ Edit")
CARD_LABEL = N_("📇 Card")
NEW_DEAL_LABEL = N_("➕ New deal")
RECORD_PURCHASE_LABEL = N_("🛒 Record the purchase")
ALL_REPS_LABEL = N_("Everyone")
REP_FILTER_LABEL = N_("👤 By rep")
PREVIOUS_LABEL = N_("◀ Previous")
NEXT_LABEL = N_("Next ▶")
OPEN_DEAL_LABEL = N_("💼 Open the deal")
BACK_LABEL = N_("◀ Back")


def _cb(action: str, *args: str) -> str:
    return callback_data.encode("dl", action, *args)


def _button(label: str, action: str, *args: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(label, callback_data=_cb(action, *args))


def amount_text(amount: Decimal, currency: str, language: str) -> str:
    return money(amount, currency, language)


def totals_text(totals: dict[str, Decimal], language: str, default: str) -> str:
    if not totals:
        return amount_text(Decimal(0), default, language)
    return " + ".join(amount_text(v, c, language) for c, v in sorted(totals.items()))


# ---- the form's steps ------------------------------------------------------------------------
async def _recent(turn: Turn) -> list[Choice]:
    return wizard.customer_choices((await turn.svc.interactions.recent_customers(turn.staff))[:PICK_LIMIT])


async def _search(turn: Turn, query: str) -> list[Choice]:
    return wizard.customer_choices(await turn.svc.customers.search(turn.staff, query, limit=PICK_LIMIT))


def _with_customer(draft: dict[str, Any], customer: Customer) -> dict[str, Any]:
    draft["customer_id"] = customer.id
    draft["customer_name"] = customer.name
    return draft


def _pick(turn: Turn, customer: Customer) -> bool:
    if turn.draft.get("mode") == "edit":
        return False
    _with_customer(turn.draft, customer)
    return True


def _amount(text: str, inputs: Inputs) -> dict[str, str | None]:
    parsed = parse_money(text)
    currency = parsed.currency if parsed.currency and parsed.currency != inputs.currency else None
    return {"amount": str(parsed.amount), "currency": currency}


def _pipeline(turn: Turn) -> rules.Pipeline:
    return turn.svc.config.deals.pipeline


def _stages(turn: Turn) -> list[Choice]:
    return [Choice(s.code, f"{s.name(turn.language)} {s.probability}%", s.code) for s in _pipeline(turn).open_stages]


def _stage_typed(text: str, _inputs: Inputs) -> str:
    raise ValidationError("stage", "choice.use_buttons")


def _store_stage(draft: dict[str, Any], value: Any) -> None:
    draft["stage"] = value
    draft.pop("probability", None)  # the stage's default, unless set by hand afterwards


def _close(text: str, inputs: Inputs) -> str:
    return rules.parse_close_date(text, now=inputs.now, tz=inputs.tz).isoformat()


def _closes(turn: Turn) -> list[Choice]:
    today = turn.inputs.today
    _ = turn._
    return [Choice("m0", _(N_("End of this month")), rules._month_end(today, 0).isoformat()),
            Choice("m1", _(N_("End of next month")), rules._month_end(today, 1).isoformat()),
            Choice("m3", _(N_("In 3 months")), rules._month_end(today, 3).isoformat())]


STEPS = (
    Step("customer_id", Kind.CUSTOMER, action="pick", choices=_recent, search=_search, pick=_pick),
    Step("title", Kind.TEXT, lambda text, _i: rules.parse_title(text), label=N_("Title")),
    Step("amount", Kind.AMOUNT, _amount, store=lambda draft, value: draft.update(value), label=N_("Amount")),
    Step("stage", Kind.CHOICE, _stage_typed, choices=_stages, store=_store_stage, columns=2, label=N_("Stage")),
    Step("expected_close_on", Kind.WHEN, _close, action="close", required=False, choices=_closes,
         label=N_("Close date")),
    Step("probability", Kind.TEXT, lambda text, _i: rules.parse_probability(text), in_sequence=False,
         required=False, label=N_("Probability")),
    Step("products", Kind.TEXT, lambda text, _i: rules.parse_products(text), in_sequence=False,
         required=False, skip_value=[], label=N_("Products")),
    Step("next_step", Kind.TEXT, lambda text, _i: parse_free_text(text, 1000, field_name="next_step"),
         in_sequence=False, required=False, label=N_("Next step")),
)


# ---- the screens ------------------------------------------------------------------------------
def _money_of(turn: Turn) -> str:
    draft = turn.draft
    if "amount" not in draft:
        return ""
    return amount_text(Decimal(draft["amount"]), draft.get("currency") or turn.svc.config.locale.currency,
                       turn.language)


def _probability(turn: Turn) -> int | None:
    if turn.draft.get("probability") is not None:
        return int(turn.draft["probability"])
    stage = _pipeline(turn).stage(turn.draft.get("stage", ""))
    return stage.probability if stage else None


def _ask(turn: Turn, prompt: Prompt) -> str:
    draft = turn.draft
    key = prompt.step.key
    return render(turn.language, "deal_ask", step="pick" if key == "customer_id" else key, reason=prompt.reason,
                  name=draft.get("customer_name"), title=draft.get("title"), amount=_money_of(turn),
                  no_match=prompt.query if prompt.no_match else None, choices=bool(prompt.choices))


def _confirm(turn: Turn, reason: str | None) -> str:
    draft = turn.draft
    close = draft.get("expected_close_on")
    past = bool(close) and date.fromisoformat(close) < turn.inputs.today
    return turn.card(
        "deal_confirm", reason, title=draft.get("title") or "—", amount=_money_of(turn),
        stage=_pipeline(turn).name(draft.get("stage", ""), turn.language), probability=_probability(turn),
        close=close, close_past=past, products=", ".join(draft.get("products") or []),
        next_step=draft.get("next_step") or "",
    )


async def on_save(turn: Turn) -> None:
    draft, svc = turn.draft, turn.svc
    close = date.fromisoformat(draft["expected_close_on"]) if draft.get("expected_close_on") else None
    values: dict[str, Any] = {
        "title": draft["title"], "amount": Decimal(draft["amount"]),
        "currency": draft.get("currency") or svc.config.locale.currency,
        "expected_close_on": close, "products": list(draft.get("products") or []),
        "next_step": draft.get("next_step") or None,
    }
    if draft.get("mode") == "edit":
        if draft.get("stage") and draft["stage"] != draft.get("original_stage"):
            await svc.deals.move(turn.staff, draft["id"], draft["stage"])  # audited as a stage move
        if draft.get("probability") is not None:
            values["probability"] = int(draft["probability"])
        deal = await svc.deals.update(turn.staff, draft["id"], values)
    else:
        deal = await svc.deals.create(
            turn.staff, draft["customer_id"], stage=draft.get("stage"), record_id=turn.record_id,
            probability=int(draft["probability"]) if draft.get("probability") is not None else None, **values)
    await reply_html(turn.update, turn.context, wizard.saved_text(turn), turn.language)
    await show_deal(turn.update, turn.context, turn.staff, turn.language, deal.id)


async def _edit_values(staff: StaffUser, deal_id: str, svc: Services) -> dict[str, Any]:
    """``deal:edit:<deal>``: the confirmation card on an existing deal, each field changeable."""
    deal, customer = await svc.deals.with_customer(staff, deal_id)
    return {
        "id": deal.id, "customer_id": deal.customer_id, "customer_name": customer.name if customer else "—",
        "title": deal.title, "amount": str(deal.amount),
        "currency": deal.currency if deal.currency != svc.config.locale.currency else None,
        "stage": deal.stage, "original_stage": deal.stage, "probability": deal.probability,
        "expected_close_on": deal.expected_close_on.isoformat() if deal.expected_close_on else None,
        "products": list(deal.products), "next_step": deal.next_step,
    }


# ---- quick entry --------------------------------------------------------------------------------
async def deal_command(update: Update, context: Context) -> str | int | None:
    """``/deal`` and the menu: the form; ``/deal 张伟 CRM Pro 5万 报价 下月底``: quick entry."""
    staff, language = await caller(update, context)
    text = update.effective_message.text or ""
    text = text.partition(" ")[2].strip() if text.startswith("/") else ""
    if not text or staff is None:
        return await wizard.begin(update, context, FORM, {"mode": "new"})
    svc = services(context)
    try:
        match = await svc.deals.match_quick(staff, text)
    except ValidationError as error:
        await reply_html(update, context, render(language, "deal_quick_invalid",
                                                 reason=reason_text(error, language)), language)
        return None
    draft: dict[str, Any] = {"mode": "new"}
    parsed = match.parsed
    if parsed is not None:
        draft.update(amount=str(parsed.amount), stage=parsed.stage,
                     currency=parsed.currency if parsed.currency != svc.config.locale.currency else None,
                     expected_close_on=parsed.expected_close_on.isoformat() if parsed.expected_close_on else None)
        if parsed.title:
            draft["title"] = parsed.title
    if len(match.candidates) != 1:
        query = text.split()[0] if text.split() else text
        return await wizard.begin(update, context, FORM, draft, at="customer_id",
                                  choices=wizard.customer_choices(match.candidates) or None, query=query[:50],
                                  no_match=not match.candidates)
    _with_customer(draft, match.candidates[0])
    if "title" not in draft:
        return await wizard.begin(update, context, FORM, draft, at="title")
    return await wizard.begin(update, context, FORM, draft, review=True)


FORM = wizard.Form(
    name="deal", conversation="deal", draft_key=DRAFT, steps=STEPS, ask=_ask, confirm=_confirm,
    on_save=on_save, customer_start="new", edit_button="deal:edit", edit_values=_edit_values,
    customer_values=lambda c, _svc: _with_customer({"mode": "new"}, c),
    entry_points=[CommandHandler("deal", deal_command)],
)


# ---- the deal card ------------------------------------------------------------------------------
def deal_keyboard(deal: Deal, customer: Customer | None, pipeline: rules.Pipeline, language: str) -> InlineKeyboardMarkup:
    _ = gettext_for(language)
    rows: list[list[InlineKeyboardButton]] = []
    if deal.open:
        stage_buttons = [_button(("• " if s.code == deal.stage else "") + s.name(language), "stage", deal.id, s.code)
                         for s in pipeline.open_stages]
        rows.extend(stage_buttons[i:i + 2] for i in range(0, len(stage_buttons), 2))
        rows.append([_button(_(WON_LABEL), "won", deal.id), _button(_(LOST_LABEL), "lost", deal.id)])
    else:
        first = pipeline.open_stages[0]
        rows.append([_button("↩ " + first.name(language), "stage", deal.id, first.code)])
        if deal.stage == rules.WON_STAGE:
            rows.append([InlineKeyboardButton(_(RECORD_PURCHASE_LABEL),
                                              callback_data=callback_data.encode("buy", "won", deal.id))])
    bottom = [InlineKeyboardButton(_(EDIT_LABEL), callback_data=callback_data.encode("deal", "edit", deal.id))]
    if customer is not None:
        bottom.append(InlineKeyboardButton(_(CARD_LABEL), callback_data=callback_data.encode("cust", "view", customer.id)))
    rows.append(bottom)
    return InlineKeyboardMarkup(rows)


def deal_text(deal: Deal, customer: Customer | None, owner: str, svc: Services, language: str) -> str:
    pipeline = svc.config.deals.pipeline
    today = svc.clock.now().astimezone(svc.config.tz).date()
    return render(
        language, "deal_card", deal=deal, name=customer.name if customer else "—", owner=owner,
        amount=amount_text(deal.amount, deal.currency, language),
        weighted=amount_text(rules.weighted(deal), deal.currency, language),
        stage=pipeline.name(deal.stage, language), products=", ".join(deal.products),
        overdue=deal.open and deal.expected_close_on is not None and deal.expected_close_on < today,
        stuck=rules.nudge(deal, pipeline, now=svc.clock.now(), today=today) == rules.NUDGE_STUCK,
        days=(svc.clock.now() - rules.last_moved(deal)).days,
    )


async def show_deal(update: Update, context: Context, staff: StaffUser, language: str, deal_id: str, *,
                    edit: bool = False) -> None:
    svc = services(context)
    deal, customer = await svc.deals.with_customer(staff, deal_id)
    owner = (await svc.staff.names()).get(deal.owner_id, deal.owner_id)
    text = deal_text(deal, customer, owner, svc, language)
    markup = deal_keyboard(deal, customer, svc.config.deals.pipeline, language)
    if edit and update.callback_query is not None:
        await update.callback_query.edit_message_text(text, reply_markup=markup)
        return
    await reply_html(update, context, text, language, reply_markup=markup)


async def _offer_purchase(update: Update, context: Context, language: str, deal: Deal, name: str) -> None:
    _ = gettext_for(language)
    button = InlineKeyboardButton(_(RECORD_PURCHASE_LABEL), callback_data=callback_data.encode("buy", "won", deal.id))
    await reply_html(update, context, render(language, "log_deal_won", name=name,
                                             amount=amount_text(deal.amount, deal.currency, language)),
                     language, reply_markup=InlineKeyboardMarkup([[button]]))


@button_handler
async def on_deal_button(
    update: Update, context: Context, staff: StaffUser, language: str, data: CallbackData
) -> None:
    """``dl:view|stage|won|lost|reason:<deal>[:…]``: the deal re-loaded and access re-checked each time."""
    svc = services(context)
    action, deal_id = data.action, data.args[0]
    pipeline = svc.config.deals.pipeline
    if action == "view":
        await svc.deals.get(staff, deal_id)  # refused before the press is answered
        await update.callback_query.answer()
        await show_deal(update, context, staff, language, deal_id)
        return
    if action == "stage":
        if pipeline.stage(data.args[1]) is None or data.args[1] in (rules.WON_STAGE, rules.LOST_STAGE):
            await deny(update, context, language, f"deal stage {data}")
            return
        await svc.deals.move(staff, deal_id, data.args[1])
        await update.callback_query.answer(pipeline.name(data.args[1], language))
        await show_deal(update, context, staff, language, deal_id, edit=True)
        return
    if action == "won":
        before, deal = await svc.deals.move(staff, deal_id, rules.WON_STAGE)
        await update.callback_query.answer(pipeline.name(rules.WON_STAGE, language))
        await show_deal(update, context, staff, language, deal_id, edit=True)
        if before.stage != deal.stage:
            _deal, customer = await svc.deals.with_customer(staff, deal_id)
            await _offer_purchase(update, context, language, deal, customer.name if customer else "")
        return
    if action == "lost":
        deal = await svc.deals.get(staff, deal_id)
        await update.callback_query.answer()
        buttons = [[_button(pipeline.lost_reason(i, language) or "?", "reason", deal.id, str(i))]
                   for i in range(len(pipeline.lost_reasons))]
        buttons.append([_button(gettext_for(language)(BACK_LABEL), "view", deal.id)])
        await reply_html(update, context, render(language, "deal_lost_ask", title=deal.title), language,
                         reply_markup=InlineKeyboardMarkup(buttons))
        return
    if action == "reason":
        index = int(data.args[1]) if data.args[1].isdigit() else -1
        reason = pipeline.lost_reason(index, language)
        if reason is None:
            await deny(update, context, language, f"lost reason {data}")
            return
        await svc.deals.lose(staff, deal_id, reason)
        await update.callback_query.answer(pipeline.name(rules.LOST_STAGE, language))
        await show_deal(update, context, staff, language, deal_id, edit=True)
        return
    await deny(update, context, language, f"deal button {data}")


# ---- /deals and a customer's deals --------------------------------------------------------------
async def _listing(update: Update, context: Context, staff: StaffUser, language: str, page: int, *,
                   edit: bool = False) -> None:
    svc = services(context)
    owner_id = context.user_data.get(FILTER_KEY) if access.sees_team(staff) else None
    deals = await svc.deals.open_deals(staff, owner_id=owner_id)
    pipeline = svc.config.deals.pipeline
    groups = rules.by_stage(deals, pipeline)
    total, weight = rules.totals(groups)
    currency = svc.config.locale.currency
    ordered = [d for g in groups for d in g.deals]
    pages = max(1, -(-len(ordered) // PAGE_SIZE))
    page = min(max(page, 0), pages - 1)
    shown = {d.id for d in ordered[page * PAGE_SIZE:(page + 1) * PAGE_SIZE]}
    names = await svc.customers.visible_names(staff)
    today = svc.clock.now().astimezone(svc.config.tz).date()
    rows_text = [
        {"name": g.stage.name(language), "probability": g.stage.probability, "count": g.count,
         "total": totals_text(g.total, language, currency), "weighted": totals_text(g.weighted, language, currency),
         "deals": [{"title": d.title, "customer": names.get(d.customer_id, "—"),
                    "amount": amount_text(d.amount, d.currency, language), "close": d.expected_close_on,
                    "overdue": d.expected_close_on is not None and d.expected_close_on < today}
                   for d in g.deals if d.id in shown]}
        for g in groups
    ]
    rep = (await svc.staff.names()).get(owner_id) if owner_id else None
    text = render(language, "deal_list", groups=rows_text, count=len(ordered), rep=rep,
                  total=totals_text(total, language, currency), weighted=totals_text(weight, language, currency),
                  page=page + 1, pages=pages)
    _ = gettext_for(language)
    buttons = [[_button(f"💼 {d.title[:30]} · {amount_text(d.amount, d.currency, language)}", "view", d.id)]
               for d in ordered if d.id in shown]
    nav = []
    if page > 0:
        nav.append(_button(_(PREVIOUS_LABEL), "page", str(page - 1)))
    if page + 1 < pages:
        nav.append(_button(_(NEXT_LABEL), "page", str(page + 1)))
    if nav:
        buttons.append(nav)
    if await svc.deals.reps_with_deals(staff):
        buttons.append([_button(_(REP_FILTER_LABEL), "reps")])
    markup = InlineKeyboardMarkup(buttons) if buttons else None
    if edit and update.callback_query is not None:
        await update.callback_query.edit_message_text(text, reply_markup=markup)
        return
    await reply_html(update, context, text, language, reply_markup=markup)


@command_handler("deals")
async def deals_command(update: Update, context: Context, staff: StaffUser, language: str) -> None:
    await _listing(update, context, staff, language, 0)


@button_handler
async def on_list_button(
    update: Update, context: Context, staff: StaffUser, language: str, data: CallbackData
) -> None:
    """``dl:page:<n>``, ``dl:reps``, ``dl:rep:<staff id|all>``, ``dl:cust:<customer>``."""
    svc = services(context)
    if data.action == "page":
        await update.callback_query.answer()
        await _listing(update, context, staff, language, int(data.args[0]) if data.args[0].isdigit() else 0,
                       edit=True)
        return
    if data.action == "reps":
        reps = await svc.deals.reps_with_deals(staff)
        if not reps:
            await deny(update, context, language, "deal reps", needs=Role.MANAGER)
            return
        await update.callback_query.answer()
        _ = gettext_for(language)
        buttons = [[_button(_(ALL_REPS_LABEL), "rep", "all")]] + [[_button(u.name, "rep", u.id)] for u in reps[:30]]
        await reply_html(update, context, render(language, "deal_reps"), language,
                         reply_markup=InlineKeyboardMarkup(buttons))
        return
    if data.action == "rep":
        if not access.sees_team(staff):
            await deny(update, context, language, "deal rep filter", needs=Role.MANAGER)
            return
        reps = {u.id for u in await svc.deals.reps_with_deals(staff)}
        if data.args[0] != "all" and data.args[0] not in reps:
            await deny(update, context, language, f"deal rep filter {data}")
            return
        context.user_data[FILTER_KEY] = None if data.args[0] == "all" else data.args[0]
        await update.callback_query.answer()
        await _listing(update, context, staff, language, 0)
        return
    if data.action == "cust":
        customer, deals = await svc.deals.for_customer(staff, data.args[0])
        await update.callback_query.answer()
        _ = gettext_for(language)
        pipeline = svc.config.deals.pipeline
        lines = [{"title": d.title, "stage": pipeline.name(d.stage, language),
                  "amount": amount_text(d.amount, d.currency, language), "open": d.open} for d in deals[:20]]
        buttons = [[_button(f"💼 {d.title[:30]} · {pipeline.name(d.stage, language)}", "view", d.id)]
                   for d in deals[:20]]
        buttons.append([InlineKeyboardButton(_(NEW_DEAL_LABEL),
                                             callback_data=callback_data.encode("deal", "new", customer.id))])
        await reply_html(update, context, render(language, "deal_customer", name=customer.name, deals=lines),
                         language, reply_markup=InlineKeyboardMarkup(buttons))
        return
    await deny(update, context, language, f"deals list button {data}")


# ---- the report's pipeline section --------------------------------------------------------------
def pipeline_view(figures: PipelineFigures | None, language: str) -> dict[str, Any] | None:
    """What the report's pipeline section shows (templates/*/report_pipeline.html.j2); None: no deals."""
    if figures is None or figures.empty:
        return None
    cur = figures.currency

    def m(value: Decimal) -> str:
        return amount_text(value, cur, language)

    return {
        "new_count": figures.new_count, "new_amount": m(figures.new_amount),
        "won_count": figures.won_count, "won_amount": m(figures.won_amount),
        "lost_count": figures.lost_count, "lost_amount": m(figures.lost_amount),
        "win_rate": None if figures.win_rate is None else round(figures.win_rate * 100),
        "cycle": None if figures.avg_cycle_days is None else round(figures.avg_cycle_days, 1),
        "stages": [{"name": s.stage.name(language), "count": s.count, "amount": m(s.amount),
                    "weighted": m(s.weighted)} for s in figures.stages],
        "open_count": figures.open_count, "open_amount": m(figures.open_amount),
        "open_weighted": m(figures.open_weighted), "forecast": m(figures.forecast),
        "other_currency": figures.other_currency, "lost_reasons": [{"reason": r, "count": n} for r, n in figures.lost_reasons[:3]],
    }


# ---- the nudge the scheduler pushes -------------------------------------------------------------
async def _nudge(svc: Services, reminder: Reminder, user: StaffUser, language: str) -> reminders.Rendered | None:
    deal = await svc.deals.nudged(user, str(reminder.payload.get("deal_id", "")))
    if deal is None:
        return None  # moved, closed or given to someone else since: nothing to say
    names = await svc.customers.visible_names(user)
    _ = gettext_for(language)
    today = svc.clock.now().astimezone(svc.config.tz).date()
    reason = rules.nudge(deal, svc.config.deals.pipeline, now=svc.clock.now(), today=today)
    text = render(language, "reminder_deal_nudge", deal=deal, name=names.get(deal.customer_id, "—"),
                  reason=reason, stage=svc.config.deals.pipeline.name(deal.stage, language),
                  amount=amount_text(deal.amount, deal.currency, language),
                  days=(svc.clock.now() - rules.last_moved(deal)).days)
    return text, InlineKeyboardMarkup([[_button(_(OPEN_DEAL_LABEL), "view", deal.id)]])


def pushed() -> reminders.Pushed:
    return reminders.Pushed(renderers={ReminderKind.DEAL_NUDGE: _nudge}, digest_details={})


def handlers(conversation_timeout: timedelta | None = None) -> list[BaseHandler]:
    return [
        wizard.conversation(FORM, conversation_timeout),
        CommandHandler("deals", deals_command),
        MessageHandler(filters.Text(menu_labels(DEALS)), deals_command),
        CallbackQueryHandler(on_deal_button, pattern=r"^dl:(view|stage|won|lost|reason):"),
        CallbackQueryHandler(on_list_button, pattern=r"^dl:(page|reps|rep|cust)(:|$)"),
    ]
