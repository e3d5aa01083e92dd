"""Invitations: /invite (a form on handlers/wizard.py), /invitations (list and revoke), redeeming a deep link."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from telegram import CopyTextButton, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.domain import access
from bot.domain.models import Role, StaffUser
from bot.domain.validation import ValidationError
from bot.i18n import gettext_for
from bot.labels import ROLES
from bot.render import render
from bot.services.errors import AccessDenied, InvitationError
from bot.services.invitations import VALIDITY_DAYS, deep_link
from handlers import callback_data, common, wizard
from handlers.callback_data import CallbackData
from handlers.commands import publish_user_commands
from handlers.menu import INVITE, N_, labels, main_menu
from handlers.wizard import Choice, Inputs, Kind, Prompt, Step, Turn

DRAFT = "invite_draft"
NEW_TEAM = "new"
A_NEW_TEAM = {"new": True}  # the team step's value when the team is typed in next; never a team name
NEW_TEAM_LABEL = N_("✏️ New team…")
NO_TEAM_LABEL = N_("No team")
REVOKE_LABEL = N_("Revoke")
COPY_LABEL = N_("📋 Copy link")
DAY_LABELS = {1: N_("1 day"), 7: N_("7 days"), 30: N_("30 days")}
SCREENS = {"role": "invite_role", "team": "invite_team", "team_name": "invite_team_type", "days": "invite_days"}


def team_token(team: str) -> str:
    """Team names are free text (often Chinese); buttons carry a short hash of the name."""
    return hashlib.sha1(team.encode()).hexdigest()[:10]


def _roles(turn: Turn) -> list[Choice]:
    return [Choice(role.value, turn._(ROLES[role]), role.value) for role in access.inviteable_roles(turn.staff)]


async def _teams(turn: Turn) -> list[Choice]:
    teams = [Choice(team_token(t), t, t) for t in await turn.svc.staff.known_teams(turn.staff)]
    if access.can_name_teams(turn.staff):
        teams.append(Choice(NEW_TEAM, turn._(NEW_TEAM_LABEL), A_NEW_TEAM))
        if access.may_be_without_team(Role(turn.draft.get("role", Role.REP.value))):
            teams.append(Choice("none", turn._(NO_TEAM_LABEL), None))
    return teams


def _team_name(text: str, _inputs: Inputs) -> str:
    team = " ".join(text.split())
    if not team or len(team) > 50 or team.startswith("/"):
        raise ValidationError("team", "team.invalid")
    return team


STEPS = (
    Step("role", Kind.CHOICE, choices=_roles),
    Step("team", Kind.CHOICE, choices=_teams, columns=1),
    Step("team_name", Kind.TEXT, _team_name, applies=lambda draft: draft.get("team") == A_NEW_TEAM),
    Step("days", Kind.CHOICE, choices=lambda turn: [Choice(str(d), turn._(DAY_LABELS[d]), d) for d in VALIDITY_DAYS]),
)


def _ask(turn: Turn, prompt: Prompt) -> str:
    role = turn.draft.get("role")
    text = render(turn.language, SCREENS[prompt.step.key], role=turn._(ROLES[Role(role)]) if role else None)
    return f"⚠️ {prompt.reason}\n{text}" if prompt.reason else text


async def on_save(turn: Turn) -> None:
    draft = turn.draft
    team = draft.get("team_name") if draft.get("team") == A_NEW_TEAM else draft.get("team")
    invitation = await turn.svc.invitations.create(turn.staff, Role(draft["role"]), team, int(draft["days"]),
                                                   record_id=turn.record_id)
    link = deep_link(turn.context.bot.username, invitation.id)
    await common.reply_html(
        turn.update, turn.context, render(turn.language, "invite_created", link=link, invitation=invitation,
                                          role=turn._(ROLES[invitation.role]), tz=turn.staff.timezone),
        turn.language,
        reply_markup=InlineKeyboardMarkup([
            [InlineKeyboardButton(turn._(COPY_LABEL), copy_text=CopyTextButton(link))],
            [InlineKeyboardButton(turn._(REVOKE_LABEL), callback_data=callback_data.encode("inv", "revoke", invitation.id))],
        ]),
    )


async def start_invite(update: Update, context: common.Context) -> str | int:
    staff, language = await common.caller(update, context)
    if not access.inviteable_roles(staff):
        await common.deny(update, context, language, "/invite", needs=access.missing_role(staff, Role.MANAGER))
        return wizard.END
    return await wizard.begin(update, context, FORM, {})


FORM = wizard.Form(
    name="inv", conversation="invite", draft_key=DRAFT, steps=STEPS, ask=_ask, on_save=on_save, back_button=False,
    entry_points=[CommandHandler("invite", start_invite), MessageHandler(filters.Text(labels(INVITE)), start_invite)],
)


@common.command_handler("/invitations", needs=Role.MANAGER)
async def list_invitations(update: Update, context: common.Context, staff: StaffUser, language: str) -> None:
    invitations = await common.services(context).invitations.active(staff)
    _ = gettext_for(language)
    rows = [
        [InlineKeyboardButton(f"{_(REVOKE_LABEL)} {i.id[:6]}…", callback_data=callback_data.encode("inv", "revoke", i.id))]
        for i in invitations
    ]
    text = render(
        language, "invitations_list", tz=staff.timezone,
        invitations=[(i, deep_link(context.bot.username, i.id), _(ROLES[i.role])) for i in invitations],
    )
    await common.reply_html(update, context, text, language, reply_markup=InlineKeyboardMarkup(rows) if rows else None)


@common.button_handler
async def revoke(
    update: Update, context: common.Context, staff: StaffUser, language: str, data: CallbackData
) -> None:
    try:
        invitation = await common.services(context).invitations.revoke(staff, data.args[0])
    except AccessDenied:
        await common.deny(update, context, language, f"revoke {data.args[0]}",
                          needs=access.missing_role(staff, Role.MANAGER))
        return
    await update.callback_query.answer()
    await update.callback_query.edit_message_text(render(language, "invitation_revoked", code=invitation.id))


async def redeem(update: Update, context: common.Context, code: str) -> None:
    """``/start <code>`` from someone not yet registered (the access gate lets exactly this through)."""
    tg_user = update.effective_user
    _staff, language = await common.caller(update, context)
    try:
        user = await common.services(context).invitations.redeem(
            code, telegram_id=tg_user.id, name=tg_user.full_name, username=tg_user.username,
            language=language,
        )
    except InvitationError as error:
        await common.reply_html(update, context, render(language, "invitation_refused", reason=error.reason), language)
        return
    if access.has_team_commands(user):
        await publish_user_commands(context.bot, user)
    await common.reply_html(
        update, context, render(language, "welcome", user=user), language,
        reply_markup=main_menu(language, user.role),
    )


def handlers(conversation_timeout: timedelta | None = None) -> list[BaseHandler]:
    return [
        wizard.conversation(FORM, conversation_timeout),
        CommandHandler("invitations", list_invitations),
        CallbackQueryHandler(revoke, pattern=r"^inv:revoke:"),
    ]
