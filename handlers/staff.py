"""Staff management: /whoami, /staff (list, card, role, team, deactivate, reassign), /audit export."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.domain import access
from bot.domain.models import Role, StaffUser
from bot.exports import audit_csv
from bot.i18n import gettext_for
from bot.labels import ROLES
from bot.persistence import StorePersistence
from bot.render import render
from bot.services.errors import AccessDenied, ServiceError
from handlers import callback_data, common
from handlers.callback_data import CallbackData
from handlers.commands import publish_user_commands
from handlers.invitations import team_token
from handlers.menu import N_, STAFF, labels

if TYPE_CHECKING:
    from telegram.ext import Application, BaseHandler

log = logging.getLogger(__name__)

TYPE_TEAM = "staff:team_text"
TEAM_TARGET = "staff_team_target"


def _button(text: str, action: str, *args: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(text, callback_data=callback_data.encode("staff", action, *args))


CHANGE_ROLE_LABEL = N_("Change role")
CHANGE_TEAM_LABEL = N_("Change team")
DEACTIVATE_LABEL = N_("Deactivate")
REACTIVATE_LABEL = N_("Reactivate")
REASSIGN_LABEL = N_("Reassign customers")
CONFIRM_DEACTIVATE_LABEL = N_("Yes, deactivate")
CONFIRM_MOVE_LABEL = N_("Yes, move them")
NEW_TEAM_LABEL = N_("✏️ New team…")


async def whoami(update: Update, context: common.Context) -> None:
    staff, language = await common.caller(update, context)
    _ = gettext_for(language)
    owned = await common.services(context).customers.count_owned(staff.id)
    await common.reply_html(
        update, context,
        render(language, "whoami", user=staff, role=_(ROLES[staff.role]), customers=owned),
        language,
    )


@common.command_handler("/staff")
async def staff_list(update: Update, context: common.Context, staff: StaffUser, language: str) -> None:
    text, markup = _list_view(await common.services(context).staff.visible(staff), language)
    await common.show(update, context, text, language, markup)


def _list_view(users: list[StaffUser], language: str) -> tuple[str, InlineKeyboardMarkup]:
    _ = gettext_for(language)
    rows = [
        [_button(f"{'' if u.active else '🚫 '}{u.name} · {_(ROLES[u.role])}", "view", u.id)]
        for u in users
    ]
    text = render(language, "staff_list", users=[(u, _(ROLES[u.role])) for u in users])
    return text, InlineKeyboardMarkup(rows)


async def _card(update: Update, context: common.Context, actor: StaffUser, target: StaffUser, language: str) -> None:
    _ = gettext_for(language)
    owned = await common.services(context).customers.count_owned(target.id)
    rows: list[list[InlineKeyboardButton]] = []
    if access.can_change_role(actor, target, target.role):
        rows.append([_button(_(CHANGE_ROLE_LABEL), "role", target.id)])
    if access.can_move_team(actor, target):
        rows.append([_button(_(CHANGE_TEAM_LABEL), "team", target.id)])
    if access.can_deactivate(actor, target):
        if target.active:
            rows.append([_button(_(DEACTIVATE_LABEL), "deact", target.id)])
        else:
            rows.append([_button(_(REACTIVATE_LABEL), "react", target.id)])
    if owned and access.can_reassign_from(actor, target):
        rows.append([_button(_(REASSIGN_LABEL), "move", target.id)])
    rows.append([_button(_(common.BACK_LABEL), "list")])
    text = render(language, "staff_card", user=target, role=_(ROLES[target.role]), customers=owned)
    await update.callback_query.edit_message_text(text, reply_markup=InlineKeyboardMarkup(rows))


@common.button_handler
async def on_button(
    update: Update, context: common.Context, actor: StaffUser, language: str, data: CallbackData
) -> str | int | None:
    """Every ``staff:`` button. The target is re-loaded and re-checked on each press."""
    svc = common.services(context)
    if data.action == "list":
        await staff_list(update, context)
        return None
    _ = gettext_for(language)
    try:
        target = await svc.staff.manageable(actor, data.args[0])
        if data.action == "view":
            await update.callback_query.answer()
            await _card(update, context, actor, target, language)
        elif data.action == "role":
            if not access.can_change_role(actor, target, target.role):
                raise AccessDenied("role", needs=access.missing_role(actor, Role.ADMIN))
            await update.callback_query.answer()
            buttons = [_button(_(ROLES[r]), "setrole", target.id, r.value) for r in Role]
            await update.callback_query.edit_message_text(
                render(language, "staff_choose_role", user=target),
                reply_markup=InlineKeyboardMarkup([buttons, [_button(_(common.BACK_LABEL), "view", target.id)]]),
            )
        elif data.action == "setrole":
            if data.args[1] not in {r.value for r in Role}:
                raise AccessDenied("role value")
            target = await svc.staff.change_role(actor, target.id, Role(data.args[1]))
            await publish_user_commands(context.bot, target)
            await update.callback_query.answer(render(language, "saved"))
            await _card(update, context, actor, target, language)
        elif data.action == "team":
            await update.callback_query.answer()
            teams = await svc.staff.known_teams(actor)
            rows = [[_button(team, "setteam", target.id, team_token(team))] for team in teams]
            if access.can_create_team(actor):
                rows.append([_button(_(NEW_TEAM_LABEL), "newteam", target.id)])
            rows.append([_button(_(common.BACK_LABEL), "view", target.id)])
            await update.callback_query.edit_message_text(
                render(language, "staff_choose_team", user=target), reply_markup=InlineKeyboardMarkup(rows)
            )
        elif data.action == "setteam":
            teams = {team_token(t): t for t in await svc.staff.known_teams(actor)}
            if data.args[1] not in teams:
                raise AccessDenied("team value")
            target = await svc.staff.change_team(actor, target.id, teams[data.args[1]])
            await update.callback_query.answer(render(language, "saved"))
            await _card(update, context, actor, target, language)
        elif data.action == "deact":
            if not access.can_deactivate(actor, target):
                raise AccessDenied("deactivate")
            await update.callback_query.answer()
            owned = await svc.customers.count_owned(target.id)
            await update.callback_query.edit_message_text(
                render(language, "staff_deactivate_confirm", user=target, customers=owned),
                reply_markup=InlineKeyboardMarkup([
                    [_button(_(CONFIRM_DEACTIVATE_LABEL), "deact_ok", target.id)],
                    [_button(_(common.BACK_LABEL), "view", target.id)],
                ]),
            )
        elif data.action == "deact_ok":
            target = await svc.staff.deactivate(actor, target.id)
            await end_sessions(context.application, target.telegram_id)
            await update.callback_query.answer(render(language, "saved"))
            await _card(update, context, actor, target, language)
        elif data.action == "react":
            target = await svc.staff.reactivate(actor, target.id)
            await update.callback_query.answer(render(language, "saved"))
            await _card(update, context, actor, target, language)
        elif data.action == "move":
            await _choose_new_owner(update, context, actor, target, language)
        elif data.action == "moveto":
            new_owner = await svc.staff.manageable(actor, data.args[1])
            if not new_owner.active or new_owner.id == target.id:
                raise AccessDenied("move target")
            await update.callback_query.answer()
            owned = await svc.customers.count_owned(target.id)
            await update.callback_query.edit_message_text(
                render(language, "staff_move_confirm", source=target, target=new_owner, customers=owned),
                reply_markup=InlineKeyboardMarkup([
                    [_button(_(CONFIRM_MOVE_LABEL), "move_ok", target.id, new_owner.id)],
                    [_button(_(common.BACK_LABEL), "view", target.id)],
                ]),
            )
        elif data.action == "move_ok":
            new_owner = await svc.staff.manageable(actor, data.args[1])
            moved = await svc.customers.reassign_all(actor, target.id, new_owner.id)
            await update.callback_query.answer()
            await update.callback_query.edit_message_text(
                render(language, "staff_moved", source=target, target=new_owner, customers=moved),
                reply_markup=InlineKeyboardMarkup([[_button(_(common.BACK_LABEL), "view", target.id)]]),
            )
        elif data.action == "newteam":
            if not access.can_create_team(actor):
                raise AccessDenied("new team", needs=access.missing_role(actor, Role.ADMIN))
            await update.callback_query.answer()
            context.user_data[TEAM_TARGET] = target.id
            await update.callback_query.edit_message_text(render(language, "invite_team_type"))
            return TYPE_TEAM
    except AccessDenied as denied:
        await common.deny(update, context, language, f"staff button {data} ({denied})", denied=denied)
    return None


async def _choose_new_owner(
    update: Update, context: common.Context, actor: StaffUser, source: StaffUser, language: str
) -> None:
    _ = gettext_for(language)
    candidates = await common.services(context).staff.new_owner_candidates(actor, source)
    rows = [[_button(f"{u.name} · {_(ROLES[u.role])}", "moveto", source.id, u.id)] for u in candidates]
    rows.append([_button(_(common.BACK_LABEL), "view", source.id)])
    await update.callback_query.answer()
    await update.callback_query.edit_message_text(
        render(language, "staff_move_choose", user=source), reply_markup=InlineKeyboardMarkup(rows)
    )


async def team_typed(update: Update, context: common.Context) -> str | int:
    actor, language = await common.caller(update, context)
    target_id = context.user_data.get(TEAM_TARGET)
    team = " ".join((update.effective_message.text or "").split())
    if not team or len(team) > 50 or team.startswith("/"):
        await common.reply_html(update, context, render(language, "invite_team_invalid"), language)
        return TYPE_TEAM
    try:
        target = await common.services(context).staff.change_team(actor, target_id or "", team)
    except ServiceError as refused:
        await common.deny(update, context, language, f"team of {target_id} ({refused!r})", denied=refused)
        return ConversationHandler.END
    context.user_data.pop(TEAM_TARGET, None)
    _ = gettext_for(language)
    await common.reply_html(
        update, context, render(language, "staff_card", user=target, role=_(ROLES[target.role]),
                                customers=await common.services(context).customers.count_owned(target.id)),
        language, reply_markup=InlineKeyboardMarkup([[_button(_(common.BACK_LABEL), "view", target.id)]]),
    )
    return ConversationHandler.END


async def cancel_team(update: Update, context: common.Context) -> int:
    _staff, language = await common.caller(update, context)
    context.user_data.pop(TEAM_TARGET, None)
    await common.reply_html(update, context, render(language, "cancelled"), language)
    return ConversationHandler.END


async def export_audit(update: Update, context: common.Context) -> None:
    staff, language = await common.caller(update, context)
    svc = common.services(context)
    try:
        events = await svc.audit.export(staff)
    except AccessDenied as denied:
        await common.deny(update, context, language, "/audit", denied=denied,
                          needs=access.missing_role(staff, Role.ADMIN))
        return
    day = svc.clock.now().astimezone(svc.config.tz).strftime("%Y%m%d")
    await context.bot.send_document(
        update.effective_chat.id,
        audit_csv(events, language, staff.timezone, await svc.staff.names()),
        filename=f"audit-{day}.csv",
        caption=render(language, "audit_export", count=len(events)),
    )


async def end_sessions(application: Application, telegram_id: int) -> None:
    """End every half-finished conversation of a user and forget their drafts.

    In the store first (``StorePersistence.forget``: every replica reads the
    session before each update, so none resumes it), then in this process's
    memory: PTB has no public call to end one key's conversation; ``_update_state``
    is what ConversationHandler itself uses.
    """
    if isinstance(application.persistence, StorePersistence):
        await application.persistence.forget(telegram_id)
    for group in application.handlers.values():
        for handler in group:
            if isinstance(handler, ConversationHandler):
                for key in [k for k in handler._conversations if telegram_id in k]:
                    handler._update_state(ConversationHandler.END, key)
    application.drop_user_data(telegram_id)
    log.info("ended the sessions of user %s", telegram_id)


def handlers(conversation_timeout: timedelta | None = None) -> list[BaseHandler]:
    return [
        CommandHandler("whoami", whoami),
        CommandHandler("staff", staff_list),
        MessageHandler(filters.Text(labels(STAFF)), staff_list),
        CommandHandler("audit", export_audit),
        ConversationHandler(
            entry_points=[CallbackQueryHandler(on_button, pattern=r"^staff:")],
            states={TYPE_TEAM: [MessageHandler(filters.TEXT & ~filters.COMMAND, team_typed)]},
            fallbacks=[CommandHandler("cancel", cancel_team)],
            name="staff",
            persistent=True,
            allow_reentry=True,
            conversation_timeout=conversation_timeout,
        ),
    ]
