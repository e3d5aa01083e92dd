"""The customer card and its buttons: log, feedback, purchase, edit, history, tier / stage, archive, ...

Every ``cust:`` button re-loads the customer and re-checks access; which
buttons a role sees is ``bot.domain.access``'s decision. Editing opens the
customer form (``handlers/customers.py``).
"""

from __future__ import annotations

from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from bot import labels
from bot.domain import access
from bot.domain.models import Customer, Role, StaffUser
from bot.i18n import gettext_for
from bot.render import render
from bot.services.errors import AccessDenied
from handlers import callback_data, common
from handlers.callback_data import CallbackData
from handlers.customer_view import action_text, change_rows, money, render_card, when_text
from handlers.menu import N_

LOG_CALL_LABEL = N_("📞 Log a call")
FEEDBACK_LABEL = N_("💬 Feedback")
PURCHASE_LABEL = N_("🛒 Add purchase")
EDIT_LABEL = N_("✏️ Edit")
HISTORY_LABEL = N_("🕘 History")
SET_LOCATION_LABEL = N_("📍 Set location")
ARCHIVE_LABEL = N_("🗄 Archive")
RESTORE_LABEL = N_("♻️ Restore")
PURGE_LABEL = N_("🗑 Delete for good")
PURGE_CONFIRM_LABEL = N_("Yes, delete everything")
REASSIGN_LABEL = N_("👤 Reassign")
AUDIT_LABEL = N_("🧾 Changes")
CLASS_LABEL = N_("🏷 Tier / stage")
TODO_LABEL = N_("✅ To-do")
NOTE_LABEL = N_("📝 Note")
NOTE_ICONS = {"photo": "📷", "document": "📎", "voice": "🎤", "audio": "🎵"}
DEALS_LABEL = N_("💼 Deals")
AUTO_LABEL = N_("automatic")
HISTORY_PAGE = 8
#: The card's buttons that only some roles have; anyone below is told which role they are for.
ROLE_NEEDED = {"purge": Role.ADMIN, "purge_ok": Role.ADMIN, "reassign": Role.MANAGER,
               "reassign_to": Role.MANAGER, "audit": Role.MANAGER}


def _button(label: str, feature: str, action: str, *args: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(label, callback_data=callback_data.encode(feature, action, *args))


def card_keyboard(staff: StaffUser, customer: Customer, language: str) -> InlineKeyboardMarkup:
    _ = gettext_for(language)
    cid = customer.id
    rows = [
        [_button(_(LOG_CALL_LABEL), "log", "start", cid), _button(_(FEEDBACK_LABEL), "fb", "start", cid)],
        [_button(_(PURCHASE_LABEL), "buy", "add", cid), _button(_(EDIT_LABEL), "cust", "edit", cid)],
        [_button(_(TODO_LABEL), "todo", "start", cid), _button(_(NOTE_LABEL), "note", "start", cid)],
        [_button(_(HISTORY_LABEL), "cust", "history", cid, "0"), _button(_(CLASS_LABEL), "cust", "class", cid)],
        [_button(_(DEALS_LABEL), "dl", "cust", cid),
         _button(_(SET_LOCATION_LABEL), "visit", "setloc", cid)],  # handlers/deals.py, handlers/visits.py
    ]
    if access.can_reassign_customers(staff):
        rows.append([_button(_(REASSIGN_LABEL), "cust", "reassign", cid),
                     _button(_(AUDIT_LABEL), "cust", "audit", cid)])
    rows.append([_button(_(RESTORE_LABEL), "cust", "restore", cid) if customer.archived
                 else _button(_(ARCHIVE_LABEL), "cust", "archive", cid)])
    if access.can_purge(staff):
        rows[-1].append(_button(_(PURGE_LABEL), "cust", "purge", cid))
    return InlineKeyboardMarkup(rows)


async def send_card(update: Update, context: common.Context, staff: StaffUser, language: str, customer_id: str,
                    *, edit: bool = False) -> None:
    svc = common.services(context)
    view = await svc.customers.card(staff, customer_id)
    text = render_card(view, language, svc.config, staff.timezone, now=svc.clock.now())
    markup = card_keyboard(staff, view.customer, language)
    if edit and update.callback_query is not None:  # the caller answers the press
        await update.callback_query.edit_message_text(text, reply_markup=markup)
        return
    await common.reply_html(update, context, text, language, reply_markup=markup)


@common.button_handler
async def on_card_button(
    update: Update, context: common.Context, staff: StaffUser, language: str, data: CallbackData
) -> None:
    """Every ``cust:`` button; the customer is re-loaded and access re-checked each time."""
    svc = common.services(context)
    _ = gettext_for(language)
    query = update.callback_query
    back = [_button(_(common.BACK_LABEL), "cust", "view", data.args[0])]
    try:
        customer = await svc.customers.visible(staff, data.args[0])  # unseen: "not available", whatever the role
        needs = access.missing_role(staff, ROLE_NEEDED[data.action]) if data.action in ROLE_NEEDED else None
        if needs is not None:
            raise AccessDenied(f"{data.action} {customer.id}", needs=needs)
        if data.action == "view":
            await query.answer()
            await send_card(update, context, staff, language, customer.id)
        elif data.action in ("archive", "restore", "reassign_to", "tier", "stage"):
            await _change(svc, staff, customer, data.action, data.args[1:])
            await query.answer(render(language, "saved"))
            await send_card(update, context, staff, language, customer.id, edit=True)
        elif data.action == "purge":
            if not access.can_purge(staff):
                raise AccessDenied("purge", needs=access.missing_role(staff, Role.ADMIN))
            await query.answer()
            await query.edit_message_text(
                render(language, "customer_purge_confirm", name=customer.name),
                reply_markup=InlineKeyboardMarkup([[_button(_(PURGE_CONFIRM_LABEL), "cust", "purge_ok", customer.id)],
                                                   back]))
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
            names = {**await svc.staff.names(), **await _referrer_names(svc, staff, events)}
            await common.reply_html(update, context, render(
                language, "customer_audit", name=customer.name,
                events=[(when_text(e.at, language, staff.timezone), names.get(e.actor_id, e.actor_id),
                         action_text(e.action, language),
                         change_rows(e.changes, language, svc.config, names, staff.timezone))
                        for e in events[:30]]), language)
        elif data.action == "reassign":
            candidates = access.reassign_candidates(staff, customer, await svc.staff.visible(staff))
            rows = [[_button(u.name[:50], "cust", "reassign_to", customer.id, u.id)] for u in candidates]
            await query.answer()
            await query.edit_message_text(render(language, "customer_reassign", name=customer.name),
                                          reply_markup=InlineKeyboardMarkup([*rows, back]))
        elif data.action == "class":
            await query.answer()
            await _class_menu(update, language, customer)
        else:
            raise AccessDenied(f"card action {data.action}")
    except AccessDenied as denied:
        await common.deny(update, context, language, f"customer button {data} ({denied})", denied=denied)


async def _referrer_names(svc: Any, staff: StaffUser, events: list[Any]) -> dict[str, str]:
    """The names of the customers a change history names as referrers, where the reader may see them."""
    ids = {v for e in events for v in e.changes.get("referred_by", ()) if v}
    names = {}
    for cid in ids:
        try:
            names[cid] = (await svc.customers.visible(staff, cid)).name
        except AccessDenied:
            continue
    return names


async def _change(svc: Any, staff: StaffUser, customer: Customer, action: str, args: tuple[str, ...]) -> None:
    """The card buttons that change the customer and show the card again."""
    if action in ("archive", "restore"):
        await svc.customers.archive(staff, customer.id, archived=action == "archive")
    elif action == "reassign_to":
        await svc.customers.reassign(staff, customer.id, args[0])
    else:
        valid = labels.TIERS if action == "tier" else labels.STAGES
        if args[0] == "auto":
            await svc.customers.set_override(staff, customer.id, **{"clear_" + action: True})
        elif args[0] in valid and args[0] != "none":
            await svc.customers.set_override(staff, customer.id, **{action: args[0]})
        else:
            raise AccessDenied(f"{action} value {args[0]}")


async def _class_menu(update: Update, language: str, customer: Customer) -> None:
    _ = gettext_for(language)
    cid = customer.id
    tiers = [_button(_(labels.TIERS[t]), "cust", "tier", cid, t) for t in ("high", "mid", "low")]
    stages = [_button(_(labels.STAGES[s]), "cust", "stage", cid, s) for s in labels.STAGES]
    await update.callback_query.edit_message_text(
        render(language, "customer_classification", name=customer.name),
        reply_markup=InlineKeyboardMarkup([
            tiers, [_button(_(AUTO_LABEL), "cust", "tier", cid, "auto")], stages[:3], stages[3:],
            [_button(_(AUTO_LABEL), "cust", "stage", cid, "auto")], [_button(_(common.BACK_LABEL), "cust", "view", cid)],
        ]),
    )


async def _history(update: Update, context: common.Context, staff: StaffUser, language: str, customer: Customer,
                   page: int) -> None:
    items = await common.services(context).customers.history(staff, customer.id)
    pages = max(1, -(-len(items) // HISTORY_PAGE))
    page = min(max(page, 0), pages - 1)
    shown = items[page * HISTORY_PAGE:(page + 1) * HISTORY_PAGE]
    _ = gettext_for(language)
    lines = []
    for item in shown:
        record = item.record
        if item.kind == "interaction":
            what, detail = _(labels.INTERACTION_KINDS[record.kind.value]), record.summary
        elif item.kind == "feedback":
            what, detail = _(labels.FEEDBACK_KINDS[record.kind.value]), record.content
        elif item.kind == "note":
            icons = "".join(NOTE_ICONS.get(a.kind.value, "📎") for a in record.attachments)
            what, detail = f"📝{icons}", record.text
        else:
            what, detail = "🛒", f"{record.product} — {money(record.amount, record.currency, language)}"
        lines.append((when_text(item.at, language, staff.timezone), what, detail[:120]))
    # Each logged contact or feedback opens on its own (handlers/interactions.py, handlers/feedback.py),
    # where whoever may edits or deletes it.
    rows = []
    for item, (when, what, _detail) in zip(shown, lines):
        if item.kind in ("interaction", "feedback"):
            rows.append([_button(f"🔎 {when} · {what}"[:60], "log" if item.kind == "interaction" else "fb", "view",
                                 item.record.id)])
        elif item.kind == "note":  # each file of a note opens with one tap: sent again by its file_id
            rows += [[_button(f"{NOTE_ICONS.get(a.kind.value, '📎')} {when} · {a.file_name or ''}"[:60].rstrip(" ·"),
                              "note", "file", item.record.id, str(index))]
                     for index, a in enumerate(item.record.attachments[:5])]
    nav = [_button(label, "cust", "history", customer.id, str(target))
           for label, target, shown_ in (("‹", page - 1, page > 0), ("›", page + 1, page + 1 < pages)) if shown_]
    rows += [nav] if nav else []
    rows.append([_button(_(common.BACK_LABEL), "cust", "view", customer.id)])
    await update.callback_query.edit_message_text(
        render(language, "customer_history", name=customer.name, lines=lines, page=page + 1, pages=pages),
        reply_markup=InlineKeyboardMarkup(rows),
    )


async def entry_action(update: Update, context: common.Context, staff: StaffUser, language: str, data: CallbackData,
                       service: Any, show: Any) -> None:
    """``view|del|del_ok:<id>`` of an entry in a card's history (a contact, a feedback); AccessDenied if refused."""
    query = update.callback_query
    if data.action == "view":
        await service.get(staff, data.args[0])
        await query.answer()
        await show(update, context, staff, language, data.args[0])
    elif data.action == "del":
        entry, _customer = await service.editable(staff, data.args[0])
        await query.answer()
        await common.confirm_delete(update, context, language, data.feature, entry.id)
    elif data.action == "del_ok":
        entry = await service.delete(staff, data.args[0])
        await query.answer(render(language, "entry_deleted"))
        await common.drop_keyboard(update)
        await common.reply_html(update, context, render(language, "entry_deleted"), language)
        await send_card(update, context, staff, language, entry.customer_id)
    else:
        raise AccessDenied(f"{data.feature} action {data.action}")
