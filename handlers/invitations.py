"""Invitations: /invite (a wizard), /invitations (list and revoke), and redeeming a deep link."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from telegram import CopyTextButton, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.domain import access
from bot.domain.models import Role, StaffUser
from bot.i18n import gettext_for
from bot.render import render
from bot.services.errors import AccessDenied, InvitationError
from bot.services.invitations import VALIDITY_DAYS, deep_link
from handlers import callback_data
from handlers.commands import publish_user_commands
from handlers.common import Context, caller, deny, pressed, reply_html, services
from handlers.menu import INVITE, N_, labels, main_menu

CHOOSE_ROLE, CHOOSE_TEAM, TYPE_TEAM, CHOOSE_DAYS = "inv:role", "inv:team", "inv:team_text", "inv:days"
DRAFT = "invite_draft"
NEW_TEAM = "new"
CANCEL_LABEL = N_("✖ Cancel")
NEW_TEAM_LABEL = N_("✏️ New team…")
NO_TEAM_LABEL = N_("No team")
REVOKE_LABEL = N_("Revoke")
COPY_LABEL = N_("📋 Copy link")
DAY_LABELS = {1: N_("1 day"), 7: N_("7 days"), 30: N_("30 days")}
ROLE_LABELS = {Role.REP: N_("rep"), Role.MANAGER: N_("manager"), Role.ADMIN: N_("admin")}


def team_token(team: str) -> str:
    """Team names are free text (often Chinese); buttons carry a short hash of the name."""
    return hashlib.sha1(team.encode()).hexdigest()[:10]


def _cancel_row(language: str) -> list[InlineKeyboardButton]:
    _ = gettext_for(language)
    return [InlineKeyboardButton(_(CANCEL_LABEL), callback_data=callback_data.encode("inv", "cancel"))]


async def start_invite(update: Update, context: Context) -> str | int:
    staff, language = await caller(update, context)
    if staff is None or staff.role not in (Role.ADMIN, Role.MANAGER):
        await deny(update, context, language, "/invite")
        return ConversationHandler.END
    context.user_data[DRAFT] = {}
    _ = gettext_for(language)
    roles = [Role.REP] if staff.role is Role.MANAGER else [Role.REP, Role.MANAGER, Role.ADMIN]
    buttons = [
        InlineKeyboardButton(_(ROLE_LABELS[role]), callback_data=callback_data.encode("inv", "role", role.value))
        for role in roles
    ]
    await reply_html(
        update, context, render(language, "invite_role"), language,
        reply_markup=InlineKeyboardMarkup([buttons, _cancel_row(language)]),
    )
    return CHOOSE_ROLE


async def role_chosen(update: Update, context: Context) -> str | int:
    result = await pressed(update, context)
    if result is None:
        return CHOOSE_ROLE
    staff, language, data = result
    if data.action != "role" or data.args[0] not in {r.value for r in Role}:
        await deny(update, context, language, f"invite role {data}")
        return CHOOSE_ROLE
    role = Role(data.args[0])
    if not any(access.can_invite(staff, role, team) for team in [*staff.teams, None]):
        await deny(update, context, language, f"invite role {role}")
        return CHOOSE_ROLE
    context.user_data.setdefault(DRAFT, {})["role"] = role.value
    await update.callback_query.answer()
    return await _ask_team(update, context, staff, language)


async def _ask_team(update: Update, context: Context, staff: StaffUser, language: str) -> str:
    _ = gettext_for(language)
    teams = await services(context).staff.known_teams(staff)
    rows = [
        [InlineKeyboardButton(team, callback_data=callback_data.encode("inv", "team", team_token(team)))]
        for team in teams
    ]
    if staff.role is Role.ADMIN:
        rows.append([InlineKeyboardButton(_(NEW_TEAM_LABEL), callback_data=callback_data.encode("inv", "team", NEW_TEAM))])
        if context.user_data[DRAFT].get("role") != Role.REP.value:
            rows.append([InlineKeyboardButton(_(NO_TEAM_LABEL), callback_data=callback_data.encode("inv", "team", "none"))])
    rows.append(_cancel_row(language))
    await update.callback_query.edit_message_text(
        render(language, "invite_team", role=_(ROLE_LABELS[Role(context.user_data[DRAFT]["role"])])),
        reply_markup=InlineKeyboardMarkup(rows),
    )
    return CHOOSE_TEAM


async def team_chosen(update: Update, context: Context) -> str | int:
    result = await pressed(update, context)
    if result is None:
        return CHOOSE_TEAM
    staff, language, data = result
    token = data.args[0] if data.action == "team" else ""
    if token == NEW_TEAM and staff.role is Role.ADMIN:
        await update.callback_query.answer()
        await update.callback_query.edit_message_text(render(language, "invite_team_type"))
        return TYPE_TEAM
    if token == "none" and staff.role is Role.ADMIN:
        team = None
    else:
        teams = {team_token(t): t for t in await services(context).staff.known_teams(staff)}
        if token not in teams:
            await deny(update, context, language, f"invite team {token}")
            return CHOOSE_TEAM
        team = teams[token]
    context.user_data[DRAFT]["team"] = team
    await update.callback_query.answer()
    await update.callback_query.edit_message_text(
        render(language, "invite_days"), reply_markup=_days_keyboard(language)
    )
    return CHOOSE_DAYS


async def team_typed(update: Update, context: Context) -> str:
    _staff, language = await caller(update, context)
    team = " ".join((update.effective_message.text or "").split())
    if not team or len(team) > 50 or team.startswith("/"):
        await reply_html(update, context, render(language, "invite_team_invalid"), language)
        return TYPE_TEAM
    context.user_data[DRAFT]["team"] = team
    await reply_html(
        update, context, render(language, "invite_days"), language, reply_markup=_days_keyboard(language)
    )
    return CHOOSE_DAYS


def _days_keyboard(language: str) -> InlineKeyboardMarkup:
    _ = gettext_for(language)
    buttons = [
        InlineKeyboardButton(_(DAY_LABELS[days]), callback_data=callback_data.encode("inv", "days", str(days)))
        for days in VALIDITY_DAYS
    ]
    return InlineKeyboardMarkup([buttons, _cancel_row(language)])


async def days_chosen(update: Update, context: Context) -> str | int:
    result = await pressed(update, context)
    if result is None:
        return CHOOSE_DAYS
    staff, language, data = result
    draft = context.user_data.get(DRAFT, {})
    if data.action != "days" or not data.args[0].isdigit() or "role" not in draft:
        await deny(update, context, language, f"invite days {data}")
        return CHOOSE_DAYS
    try:
        invitation = await services(context).invitations.create(
            staff, Role(draft["role"]), draft.get("team"), int(data.args[0])
        )
    except (AccessDenied, ValueError):
        await deny(update, context, language, f"invite {draft}")
        return CHOOSE_DAYS
    context.user_data.pop(DRAFT, None)
    await update.callback_query.answer()
    link = deep_link(context.bot.username, invitation.id)
    _ = gettext_for(language)
    await update.callback_query.edit_message_text(
        render(language, "invite_created", link=link, invitation=invitation,
               role=_(ROLE_LABELS[invitation.role]), tz=staff.timezone),
        reply_markup=InlineKeyboardMarkup([
            [InlineKeyboardButton(_(COPY_LABEL), copy_text=CopyTextButton(link))],
            [InlineKeyboardButton(_(REVOKE_LABEL), callback_data=callback_data.encode("inv", "revoke", invitation.id))],
        ]),
    )
    return ConversationHandler.END


async def cancel(update: Update, context: Context) -> int:
    staff, language = await caller(update, context)
    context.user_data.pop(DRAFT, None)
    text = render(language, "cancelled")
    if update.callback_query is not None:
        await update.callback_query.answer()
        await update.callback_query.edit_message_text(text)
    else:
        await reply_html(update, context, text, language,
                         reply_markup=main_menu(language, staff.role if staff else Role.REP))
    return ConversationHandler.END


async def list_invitations(update: Update, context: Context) -> None:
    staff, language = await caller(update, context)
    try:
        invitations = await services(context).invitations.active(staff)
    except AccessDenied:
        await deny(update, context, language, "/invitations")
        return
    _ = gettext_for(language)
    rows = [
        [InlineKeyboardButton(f"{_(REVOKE_LABEL)} {i.id[:6]}…", callback_data=callback_data.encode("inv", "revoke", i.id))]
        for i in invitations
    ]
    text = render(
        language, "invitations_list", tz=staff.timezone,
        invitations=[(i, deep_link(context.bot.username, i.id), _(ROLE_LABELS[i.role])) for i in invitations],
    )
    await reply_html(update, context, text, language, reply_markup=InlineKeyboardMarkup(rows) if rows else None)


async def revoke(update: Update, context: Context) -> None:
    result = await pressed(update, context)
    if result is None:
        return
    staff, language, data = result
    try:
        invitation = await services(context).invitations.revoke(staff, data.args[0])
    except AccessDenied:
        await deny(update, context, language, f"revoke {data.args[0]}")
        return
    await update.callback_query.answer()
    await update.callback_query.edit_message_text(render(language, "invitation_revoked", code=invitation.id))


async def redeem(update: Update, context: Context, code: str) -> None:
    """``/start <code>`` from someone not yet registered (the access gate lets exactly this through)."""
    tg_user = update.effective_user
    _staff, language = await caller(update, context)
    try:
        user = await services(context).invitations.redeem(
            code, telegram_id=tg_user.id, name=tg_user.full_name, username=tg_user.username,
            language=language,
        )
    except InvitationError as error:
        await reply_html(update, context, render(language, "invitation_refused", reason=error.reason), language)
        return
    if user.role is not Role.REP:
        await publish_user_commands(context.bot, user)
    await reply_html(
        update, context, render(language, "welcome", user=user), language,
        reply_markup=main_menu(language, user.role),
    )


def handlers(conversation_timeout: timedelta | None = None) -> list[BaseHandler]:
    return [
        ConversationHandler(
            entry_points=[
                CommandHandler("invite", start_invite),
                MessageHandler(filters.Text(labels(INVITE)), start_invite),
            ],
            states={
                CHOOSE_ROLE: [CallbackQueryHandler(role_chosen, pattern=r"^inv:role:")],
                CHOOSE_TEAM: [CallbackQueryHandler(team_chosen, pattern=r"^inv:team:")],
                TYPE_TEAM: [MessageHandler(filters.TEXT & ~filters.COMMAND, team_typed)],
                CHOOSE_DAYS: [CallbackQueryHandler(days_chosen, pattern=r"^inv:days:")],
            },
            fallbacks=[
                CommandHandler("cancel", cancel),
                CallbackQueryHandler(cancel, pattern=r"^inv:cancel$"),
            ],
            name="invite",
            persistent=True,
            allow_reentry=True,
            conversation_timeout=conversation_timeout,
        ),
        CommandHandler("invitations", list_invitations),
        CallbackQueryHandler(revoke, pattern=r"^inv:revoke:"),
    ]
