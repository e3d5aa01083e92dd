"""Adding and editing customers: the wizard, quick add, shared contacts, duplicates, the card.

Adding asks name → phone → company step by step, then shows the draft card
where every other field is one tap away; Save checks for duplicates first.
Editing opens the same draft card on an existing customer. The draft lives
in ``user_data`` (persisted), so nothing typed is lost to a restart, a bad
input or a detour.
"""

from __future__ import annotations

import logging
from datetime import timedelta
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

from bot import labels
from bot.domain import card
from bot.domain.models import Role
from bot.domain.validation import ValidationError, parse_name, parse_phone
from bot.i18n import gettext_for
from bot.render import render
from bot.services.errors import AccessDenied
from handlers import callback_data
from handlers.common import Context, caller, deny, pressed, reply_html, services
from handlers.customer_view import money, render_card, render_draft, value_text, when_text
from handlers.menu import ADD_CUSTOMER, N_, all_menu_labels, main_menu
from handlers.menu import labels as menu_labels
from handlers.reasons import reason_text

log = logging.getLogger(__name__)

ASK, DETAILS, REFERRER, DUPLICATES = "cust:ask", "cust:details", "cust:referrer", "cust:duplicates"
DRAFT = "customer_draft"
WIZARD_STEPS = [f.key for f in card.FIELDS if f.wizard]

SAVE_LABEL = N_("✅ Save")
CANCEL_LABEL = N_("✖ Cancel")
BACK_LABEL = N_("« Back")
SKIP_LABEL = N_("Skip")
SAVE_ANYWAY_LABEL = N_("Save anyway")
OPEN_LABEL = N_("Open %(name)s")
LOG_CALL_LABEL = N_("📞 Log a call")
FEEDBACK_LABEL = N_("💬 Feedback")
PURCHASE_LABEL = N_("🛒 Add purchase")
EDIT_LABEL = N_("✏️ Edit")
HISTORY_LABEL = N_("🕘 History")
ARCHIVE_LABEL = N_("🗄 Archive")
RESTORE_LABEL = N_("♻️ Restore")
PURGE_LABEL = N_("🗑 Delete for good")
PURGE_CONFIRM_LABEL = N_("Yes, delete everything")
REASSIGN_LABEL = N_("👤 Reassign")
AUDIT_LABEL = N_("🧾 Changes")
CLASS_LABEL = N_("🏷 Tier / stage")
AUTO_LABEL = N_("automatic")

ALL_TEXT = filters.TEXT & ~filters.COMMAND


def _cb(feature: str, action: str, *args: str) -> str:
    return callback_data.encode(feature, action, *args)


def _state(context: Context) -> dict[str, Any]:
    return context.user_data.setdefault(DRAFT, {"mode": "add", "draft": {}, "field": None})


# ---- showing the draft and asking for fields ---------------------------------------------
async def _names(context: Context, draft: dict[str, Any]) -> dict[str, str]:
    ref = draft.get("referred_by")
    if not ref:
        return {}
    customer = await services(context).store.customers.get(ref)
    return {ref: customer.name} if customer else {}


async def show_details(update: Update, context: Context, language: str, *, edit: bool = False) -> str:
    state = _state(context)
    state["field"] = None
    state["wizard"] = False
    _ = gettext_for(language)
    draft = state["draft"]
    rows, row = [], []
    for spec in card.FIELDS:
        mark = "✓ " if spec.key in draft else ""
        row.append(InlineKeyboardButton(mark + _(labels.FIELDS[spec.key]), callback_data=_cb("add", "field", spec.key)))
        if len(row) == 3:
            rows.append(row)
            row = []
    if row:
        rows.append(row)
    rows.append([InlineKeyboardButton(_(SAVE_LABEL), callback_data=_cb("add", "save")),
                 InlineKeyboardButton(_(CANCEL_LABEL), callback_data=_cb("add", "cancel"))])
    svc = services(context)
    text = render_draft(draft, language, svc.config, await _names(context, draft),
                        editing=state["mode"] == "edit")
    markup = InlineKeyboardMarkup(rows)
    if edit and update.callback_query is not None:
        await update.callback_query.edit_message_text(text, reply_markup=markup)
    else:
        await reply_html(update, context, text, language, reply_markup=markup)
    return DETAILS


async def ask_field(
    update: Update, context: Context, language: str, key: str, *, reason: str | None = None
) -> str:
    state = _state(context)
    state["field"] = key
    spec = card.BY_KEY[key]
    _ = gettext_for(language)
    draft = state["draft"]
    svc = services(context)
    current = (
        value_text(key, draft[key], language, svc.config, await _names(context, draft))
        if key in draft else None
    )
    rows: list[list[InlineKeyboardButton]] = []
    if spec.kind == "choice":
        buttons = [
            InlineKeyboardButton(_(labels.CHOICES.get(value, value)), callback_data=_cb("add", "set", key, value))
            for value in spec.choices
        ]
        rows += [buttons[i:i + 3] for i in range(0, len(buttons), 3)]
    nav = [InlineKeyboardButton(_(BACK_LABEL), callback_data=_cb("add", "back"))]
    if not spec.required:
        nav.append(InlineKeyboardButton(_(SKIP_LABEL), callback_data=_cb("add", "skip")))
    nav.append(InlineKeyboardButton(_(CANCEL_LABEL), callback_data=_cb("add", "cancel")))
    rows.append(nav)
    text = render(
        language, "customer_ask", key=key, label=_(labels.FIELDS[key]), reason=reason,
        choices=spec.kind == "choice", free_text=spec.free_text, current=current,
        optional=not spec.required,
    )
    await reply_html(update, context, text, language, reply_markup=InlineKeyboardMarkup(rows))
    return REFERRER if spec.kind == "customer" else ASK


async def _after_field(update: Update, context: Context, language: str) -> str:
    """Where the wizard goes once a field is filled or skipped."""
    state = _state(context)
    key = state.get("field")
    if state.get("wizard") and key in WIZARD_STEPS and WIZARD_STEPS.index(key) + 1 < len(WIZARD_STEPS):
        return await ask_field(update, context, language, WIZARD_STEPS[WIZARD_STEPS.index(key) + 1])
    return await show_details(update, context, language)


# ---- entry points ------------------------------------------------------------------------
async def start_add(update: Update, context: Context) -> str | int:
    _staff, language = await caller(update, context)
    if context.args:
        return await quick_add(update, context, " ".join(context.args))
    context.user_data[DRAFT] = {"mode": "add", "draft": {}, "field": None, "wizard": True}
    return await ask_field(update, context, language, WIZARD_STEPS[0])


async def quick_add(update: Update, context: Context, text: str) -> str:
    """``/add 张伟 13800138000 Acme``: name, then a phone, then the company, straight to the card."""
    _staff, language = await caller(update, context)
    draft, failed, error = card.quick_add_draft(text, services(context).customers.input_context())
    context.user_data[DRAFT] = {"mode": "add", "draft": draft, "field": None, "wizard": False}
    if failed is not None and error is not None:
        return await ask_field(update, context, language, failed, reason=reason_text(error, language))
    return await show_details(update, context, language)


async def from_contact(update: Update, context: Context) -> str:
    """A shared or forwarded Telegram contact starts the wizard with name and phone filled in."""
    _staff, language = await caller(update, context)
    contact = update.effective_message.contact
    draft: dict[str, Any] = {}
    name = " ".join(p for p in (contact.first_name, contact.last_name) if p)
    try:
        draft["name"] = parse_name(name)
    except ValidationError:
        pass
    reason = None
    try:
        draft["phones"] = [parse_phone(contact.phone_number or "", services(context).config.locale.phone_region)]
    except ValidationError as error:
        reason = reason_text(error, language)
    context.user_data[DRAFT] = {"mode": "add", "draft": draft, "field": None, "wizard": True}
    if "name" not in draft:
        return await ask_field(update, context, language, "name")
    if "phones" not in draft:
        return await ask_field(update, context, language, "phones", reason=reason)
    return await ask_field(update, context, language, "company")


async def start_edit(update: Update, context: Context) -> str | int | None:
    result = await pressed(update, context)
    if result is None:
        return None
    staff, language, data = result
    try:
        customer = await services(context).customers.visible(staff, data.args[0])
    except AccessDenied:
        await deny(update, context, language, f"edit {data.args[0]}")
        return None
    await update.callback_query.answer()
    context.user_data[DRAFT] = {
        "mode": "edit", "id": customer.id, "draft": card.draft_from_customer(customer),
        "field": None, "wizard": False,
    }
    return await show_details(update, context, language)


# ---- inside the wizard -------------------------------------------------------------------
async def text_for_field(update: Update, context: Context) -> str:
    _staff, language = await caller(update, context)
    state = _state(context)
    key = state.get("field")
    if key is None:
        return await show_details(update, context, language)
    text = update.effective_message.text or ""
    spec = card.BY_KEY[key]
    if spec.kind == "choice" and not spec.free_text:
        return await ask_field(update, context, language, key,
                               reason=reason_text(ValidationError(key, "choice.use_buttons"), language))
    try:
        card.set_field(state["draft"], key, text, services(context).customers.input_context())
    except ValidationError as error:
        return await ask_field(update, context, language, key, reason=reason_text(error, language))
    return await _after_field(update, context, language)


async def skip(update: Update, context: Context) -> str:
    _staff, language = await caller(update, context)
    state = _state(context)
    key = state.get("field")
    if update.callback_query is not None:
        await update.callback_query.answer()
    if key is None:
        return await show_details(update, context, language)
    if not card.clear_field(state["draft"], key):
        return await ask_field(update, context, language, key,
                               reason=reason_text(ValidationError(key, "text.empty"), language))
    return await _after_field(update, context, language)


async def back(update: Update, context: Context) -> str:
    _staff, language = await caller(update, context)
    state = _state(context)
    key = state.get("field")
    if update.callback_query is not None:
        await update.callback_query.answer()
    if state.get("wizard") and key in WIZARD_STEPS and WIZARD_STEPS.index(key) > 0:
        return await ask_field(update, context, language, WIZARD_STEPS[WIZARD_STEPS.index(key) - 1])
    if state.get("wizard") and key == WIZARD_STEPS[0] and not state["draft"]:
        return await ask_field(update, context, language, key)
    return await show_details(update, context, language)


async def on_draft_button(update: Update, context: Context) -> str | int:
    """``add:`` buttons: pick a field, set a choice, choose a referrer, save, save anyway."""
    result = await pressed(update, context)
    state = _state(context)
    if result is None:
        return DETAILS if state.get("field") is None else ASK
    staff, language, data = result
    svc = services(context)
    if data.action == "field" and data.args[0] in card.BY_KEY:
        await update.callback_query.answer()
        return await ask_field(update, context, language, data.args[0])
    if data.action == "set":
        if not card.set_choice(state["draft"], data.args[0], data.args[1]):
            await deny(update, context, language, f"choice {data}")
            return ASK
        await update.callback_query.answer()
        state["field"] = data.args[0]
        return await _after_field(update, context, language)
    if data.action == "ref":
        try:
            referrer = await svc.customers.visible(staff, data.args[0])
        except AccessDenied:
            await deny(update, context, language, f"referrer {data.args[0]}")
            return REFERRER
        if state.get("mode") == "edit" and referrer.id == state.get("id"):
            await deny(update, context, language, "self referral")
            return REFERRER
        state["draft"]["referred_by"] = referrer.id
        await update.callback_query.answer()
        return await show_details(update, context, language)
    if data.action in ("save", "force"):
        return await save(update, context, staff, language, force=data.action == "force")
    await deny(update, context, language, f"draft button {data}")
    return DETAILS


async def referrer_text(update: Update, context: Context) -> str:
    staff, language = await caller(update, context)
    svc = services(context)
    state = _state(context)
    found = [c for c in await svc.customers.search(staff, update.effective_message.text or "", limit=8)
             if c.id != state.get("id")]
    _ = gettext_for(language)
    rows = [[InlineKeyboardButton(f"{c.name}{' · ' + c.company if c.company else ''}"[:60],
                                  callback_data=_cb("add", "ref", c.id))] for c in found]
    rows.append([InlineKeyboardButton(_(BACK_LABEL), callback_data=_cb("add", "back")),
                 InlineKeyboardButton(_(SKIP_LABEL), callback_data=_cb("add", "skip"))])
    await reply_html(update, context, render(language, "referrer_matches", count=len(found)), language,
                     reply_markup=InlineKeyboardMarkup(rows))
    return REFERRER


async def save(update: Update, context: Context, staff: Any, language: str, *, force: bool) -> str | int:
    state = _state(context)
    svc = services(context)
    draft = state["draft"]
    if "name" not in draft:
        await update.callback_query.answer()
        return await ask_field(update, context, language, "name",
                               reason=reason_text(ValidationError("name", "text.empty"), language))
    try:
        if state.get("mode") == "edit":
            customer = await svc.customers.update_card(staff, state["id"], draft)
        else:
            if not force:
                duplicates = await svc.customers.duplicates(staff, draft)
                if duplicates.visible or duplicates.hidden:
                    await update.callback_query.answer()
                    return await _show_duplicates(update, context, language, duplicates)
            customer = await svc.customers.create(staff, draft)
    except AccessDenied:
        await deny(update, context, language, f"save customer {state.get('id')}")
        return ConversationHandler.END
    context.user_data.pop(DRAFT, None)
    await update.callback_query.answer(render(language, "customer_saved"))
    await update.callback_query.edit_message_reply_markup(None)
    await send_card(update, context, staff, language, customer.id)
    return ConversationHandler.END


async def _show_duplicates(update: Update, context: Context, language: str, duplicates: Any) -> str:
    _ = gettext_for(language)
    rows = [[InlineKeyboardButton(_(OPEN_LABEL) % {"name": c.name[:40]}, callback_data=_cb("cust", "view", c.id))]
            for c, _reason in duplicates.visible]
    rows.append([InlineKeyboardButton(_(SAVE_ANYWAY_LABEL), callback_data=_cb("add", "force")),
                 InlineKeyboardButton(_(BACK_LABEL), callback_data=_cb("add", "back"))])
    text = render(language, "customer_duplicates", hidden=duplicates.hidden,
                  visible=[(c.name, c.company, reason) for c, reason in duplicates.visible])
    await reply_html(update, context, text, language, reply_markup=InlineKeyboardMarkup(rows))
    return DUPLICATES


async def open_existing(update: Update, context: Context) -> int:
    """From the duplicates screen: drop the draft and open the existing customer instead."""
    context.user_data.pop(DRAFT, None)
    await on_card_button(update, context)
    return ConversationHandler.END


async def cancel(update: Update, context: Context) -> int:
    staff, language = await caller(update, context)
    context.user_data.pop(DRAFT, None)
    if update.callback_query is not None:
        await update.callback_query.answer()
        await update.callback_query.edit_message_reply_markup(None)
    await reply_html(update, context, render(language, "cancelled"), language,
                     reply_markup=main_menu(language, staff.role if staff else Role.REP))
    return ConversationHandler.END


# ---- the card ----------------------------------------------------------------------------
def card_keyboard(staff: Any, customer: Any, language: str) -> InlineKeyboardMarkup:
    _ = gettext_for(language)
    cid = customer.id
    rows = [
        [InlineKeyboardButton(_(LOG_CALL_LABEL), callback_data=_cb("log", "start", cid)),
         InlineKeyboardButton(_(FEEDBACK_LABEL), callback_data=_cb("fb", "start", cid))],
        [InlineKeyboardButton(_(PURCHASE_LABEL), callback_data=_cb("buy", "add", cid)),
         InlineKeyboardButton(_(EDIT_LABEL), callback_data=_cb("cust", "edit", cid))],
        [InlineKeyboardButton(_(HISTORY_LABEL), callback_data=_cb("cust", "history", cid, "0")),
         InlineKeyboardButton(_(CLASS_LABEL), callback_data=_cb("cust", "class", cid))],
    ]
    archive = (InlineKeyboardButton(_(RESTORE_LABEL), callback_data=_cb("cust", "restore", cid))
               if customer.archived else
               InlineKeyboardButton(_(ARCHIVE_LABEL), callback_data=_cb("cust", "archive", cid)))
    if staff.role in (Role.MANAGER, Role.ADMIN):
        rows.append([InlineKeyboardButton(_(REASSIGN_LABEL), callback_data=_cb("cust", "reassign", cid)),
                     InlineKeyboardButton(_(AUDIT_LABEL), callback_data=_cb("cust", "audit", cid))])
    rows.append([archive])
    if staff.role is Role.ADMIN:
        rows[-1].append(InlineKeyboardButton(_(PURGE_LABEL), callback_data=_cb("cust", "purge", cid)))
    return InlineKeyboardMarkup(rows)


async def send_card(update: Update, context: Context, staff: Any, language: str, customer_id: str,
                    *, edit: bool = False) -> None:
    svc = services(context)
    view = await svc.customers.card(staff, customer_id)
    text = render_card(view, language, svc.config, staff.timezone)
    markup = card_keyboard(staff, view.customer, language)
    if edit and update.callback_query is not None:
        await update.callback_query.edit_message_text(text, reply_markup=markup)
    else:
        await reply_html(update, context, text, language, reply_markup=markup)


async def on_card_button(update: Update, context: Context) -> None:
    """Every ``cust:`` button; the customer is re-loaded and access re-checked each time."""
    result = await pressed(update, context)
    if result is None:
        return
    staff, language, data = result
    svc = services(context)
    _ = gettext_for(language)
    query = update.callback_query
    customer_id = data.args[0]
    try:
        customer = await svc.customers.visible(staff, customer_id)
        if data.action == "view":
            await query.answer()
            await send_card(update, context, staff, language, customer.id)
        elif data.action in ("archive", "restore"):
            await svc.customers.archive(staff, customer.id, archived=data.action == "archive")
            await query.answer(render(language, "saved"))
            await send_card(update, context, staff, language, customer.id, edit=True)
        elif data.action == "purge":
            if staff.role is not Role.ADMIN:
                raise AccessDenied("purge")
            await query.answer()
            await query.edit_message_text(
                render(language, "customer_purge_confirm", name=customer.name),
                reply_markup=InlineKeyboardMarkup([
                    [InlineKeyboardButton(_(PURGE_CONFIRM_LABEL), callback_data=_cb("cust", "purge_ok", customer.id))],
                    [InlineKeyboardButton(_(BACK_LABEL), callback_data=_cb("cust", "view", customer.id))],
                ]),
            )
        elif data.action == "purge_ok":
            await svc.customers.purge(staff, customer.id)
            await query.answer()
            await query.edit_message_text(render(language, "customer_purged", name=customer.name))
        elif data.action == "history":
            await query.answer()
            await _history(update, context, staff, language, customer, int(data.args[1]) if data.args[1].isdigit() else 0)
        elif data.action == "audit":
            events = await svc.audit.customer_history(staff, customer)
            await query.answer()
            names = {u.id: u.name for u in await svc.store.staff.find()}
            await reply_html(update, context, render(
                language, "customer_audit", name=customer.name, tz=staff.timezone,
                events=[(e, names.get(e.actor_id, e.actor_id)) for e in events[:30]]), language)
        elif data.action == "reassign":
            candidates = [u for u in await svc.staff.visible(staff)
                          if u.active and u.id != customer.owner_id and u.role is not Role.ADMIN]
            rows = [[InlineKeyboardButton(u.name[:50], callback_data=_cb("cust", "reassign_to", customer.id, u.id))]
                    for u in candidates]
            rows.append([InlineKeyboardButton(_(BACK_LABEL), callback_data=_cb("cust", "view", customer.id))])
            await query.answer()
            await query.edit_message_text(render(language, "customer_reassign", name=customer.name),
                                          reply_markup=InlineKeyboardMarkup(rows))
        elif data.action == "reassign_to":
            await svc.customers.reassign(staff, customer.id, data.args[1])
            await query.answer(render(language, "saved"))
            await send_card(update, context, staff, language, customer.id, edit=True)
        elif data.action == "class":
            await query.answer()
            await _class_menu(update, context, language, customer)
        elif data.action in ("tier", "stage"):
            value = data.args[1]
            kwargs: dict[str, Any] = {}
            valid = labels.TIERS if data.action == "tier" else labels.STAGES
            if value == "auto":
                kwargs["clear_" + data.action] = True
            elif value in valid and value != "none":
                kwargs[data.action] = value
            else:
                raise AccessDenied(f"{data.action} value {value}")
            await svc.customers.set_override(staff, customer.id, **kwargs)
            await query.answer(render(language, "saved"))
            await send_card(update, context, staff, language, customer.id, edit=True)
        else:
            raise AccessDenied(f"card action {data.action}")
    except AccessDenied as denied:
        await deny(update, context, language, f"customer button {data} ({denied})")


async def _class_menu(update: Update, context: Context, language: str, customer: Any) -> None:
    _ = gettext_for(language)
    cid = customer.id
    tiers = [InlineKeyboardButton(_(labels.TIERS[t]), callback_data=_cb("cust", "tier", cid, t))
             for t in ("high", "mid", "low")]
    stages = [InlineKeyboardButton(_(labels.STAGES[s]), callback_data=_cb("cust", "stage", cid, s))
              for s in labels.STAGES]
    await update.callback_query.edit_message_text(
        render(language, "customer_classification", name=customer.name),
        reply_markup=InlineKeyboardMarkup([
            tiers,
            [InlineKeyboardButton(_(AUTO_LABEL), callback_data=_cb("cust", "tier", cid, "auto"))],
            stages[:3], stages[3:],
            [InlineKeyboardButton(_(AUTO_LABEL), callback_data=_cb("cust", "stage", cid, "auto"))],
            [InlineKeyboardButton(_(BACK_LABEL), callback_data=_cb("cust", "view", cid))],
        ]),
    )


HISTORY_PAGE = 8


async def _history(update: Update, context: Context, staff: Any, language: str, customer: Any, page: int) -> None:
    svc = services(context)
    items = await svc.customers.history(staff, customer.id)
    pages = max(1, -(-len(items) // HISTORY_PAGE))
    page = min(max(page, 0), pages - 1)
    shown = items[page * HISTORY_PAGE:(page + 1) * HISTORY_PAGE]
    _ = gettext_for(language)
    lines = []
    for item in shown:
        record = item.record
        if item.kind == "interaction":
            what = _(labels.INTERACTION_KINDS[record.kind.value])
            detail = record.summary
        elif item.kind == "feedback":
            what = _(labels.FEEDBACK_KINDS[record.kind.value])
            detail = record.content
        else:
            what = "🛒"
            detail = f"{record.product} — {money(record.amount, record.currency, language)}"
        lines.append((when_text(item.at, language, staff.timezone), what, detail[:120]))
    nav = []
    if page > 0:
        nav.append(InlineKeyboardButton("‹", callback_data=_cb("cust", "history", customer.id, str(page - 1))))
    if page + 1 < pages:
        nav.append(InlineKeyboardButton("›", callback_data=_cb("cust", "history", customer.id, str(page + 1))))
    rows = [nav] if nav else []
    # Each logged contact or feedback opens on its own (handlers/interactions.py, handlers/feedback.py),
    # where whoever may edits or deletes it.
    rows[:0] = [[InlineKeyboardButton(f"🔎 {when} · {what}"[:60], callback_data=_cb(
        "log" if item.kind == "interaction" else "fb", "view", item.record.id))]
        for item, (when, what, _detail) in zip(shown, lines) if item.kind in ("interaction", "feedback")]
    rows.append([InlineKeyboardButton(_(BACK_LABEL), callback_data=_cb("cust", "view", customer.id))])
    await update.callback_query.edit_message_text(
        render(language, "customer_history", name=customer.name, lines=lines, page=page + 1, pages=pages),
        reply_markup=InlineKeyboardMarkup(rows),
    )


def handlers(conversation_timeout: timedelta | None = None) -> list[BaseHandler]:
    field_text = ALL_TEXT & ~filters.Text(all_menu_labels())
    return [
        ConversationHandler(
            entry_points=[
                CommandHandler("add", start_add),
                MessageHandler(filters.Text(menu_labels(ADD_CUSTOMER)), start_add),
                MessageHandler(filters.CONTACT, from_contact),
                CallbackQueryHandler(start_edit, pattern=r"^cust:edit:"),
            ],
            states={
                ASK: [
                    CommandHandler("skip", skip),
                    CommandHandler("back", back),
                    MessageHandler(field_text, text_for_field),
                ],
                REFERRER: [
                    CommandHandler("skip", skip),
                    CommandHandler("back", back),
                    MessageHandler(field_text, referrer_text),
                ],
                DETAILS: [MessageHandler(field_text, text_for_field)],
                DUPLICATES: [CallbackQueryHandler(open_existing, pattern=r"^cust:view:")],
            },
            fallbacks=[
                CommandHandler("cancel", cancel),
                CallbackQueryHandler(cancel, pattern=r"^add:cancel$"),
                CallbackQueryHandler(skip, pattern=r"^add:skip$"),
                CallbackQueryHandler(back, pattern=r"^add:back$"),
                CallbackQueryHandler(on_draft_button, pattern=r"^add:"),
            ],
            name="customer",
            persistent=True,
            allow_reentry=True,
            conversation_timeout=conversation_timeout,
        ),
        CallbackQueryHandler(on_card_button, pattern=r"^cust:"),
    ]
