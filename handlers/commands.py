"""The bot's command menu: which commands each role sees, published with setMyCommands."""

from __future__ import annotations

import logging

from telegram import Bot, BotCommand, BotCommandScopeChat
from telegram.error import TelegramError

from bot.domain import access
from bot.domain.models import Role, StaffUser
from bot.i18n import gettext_for
from handlers.menu import N_

log = logging.getLogger(__name__)

# (command, description msgid) as published with setMyCommands, in menu order.
COMMANDS: list[tuple[str, str]] = [
    ("start", N_("Main menu")),
    ("add", N_("Add a customer (or /add name phone company)")),
    ("find", N_("Find a customer")),
    ("list", N_("My customers, with filters")),
    ("log", N_("Log a call or visit (or /log name what happened)")),
    ("deal", N_("New deal (or /deal name title amount stage close date)")),
    ("deals", N_("My open deals by stage")),
    ("visits", N_("Today's visits and check-ins")),
    ("feedback", N_("Open customer feedback")),
    ("todo", N_("My to-dos (or /todo what, when)")),
    ("report", N_("Reports")),
    ("festivals", N_("Coming festivals and birthdays")),
    ("settings", N_("Quiet hours for reminders")),
    ("help", N_("What I can do")),
    ("language", N_("Change language")),
    ("whoami", N_("Who am I")),
    ("cancel", N_("Cancel what you are doing")),
]

# Published only to managers and admins (see bot.app.publish_commands).
MANAGER_COMMANDS: list[tuple[str, str]] = [
    ("staff", N_("Staff and teams")),
    ("invite", N_("Invite a new colleague")),
    ("invitations", N_("Open invitations")),
]
ADMIN_COMMANDS: list[tuple[str, str]] = [
    ("audit", N_("Export the audit log")),
    ("backup", N_("Back up everything (archive sent here)")),
]


ALL_COMMANDS = COMMANDS + MANAGER_COMMANDS + ADMIN_COMMANDS


def commands_for(role: Role) -> list[tuple[str, str]]:
    """The (command, description msgid) list a role sees in Telegram's command menu."""
    return (COMMANDS + (MANAGER_COMMANDS if access.leads_people(role) else [])
            + (ADMIN_COMMANDS if access.sees_everyone(role) else []))


async def publish_user_commands(bot: Bot, user: StaffUser) -> None:
    """A staff user's command menu, by role and language (call again after a role change)."""
    _ = gettext_for(user.language)
    commands = [BotCommand(name, _(description)) for name, description in commands_for(user.role)]
    scope = BotCommandScopeChat(chat_id=user.telegram_id)
    try:
        await bot.set_my_commands(commands, scope=scope)
    except TelegramError as error:  # e.g. the user never opened the chat with the bot
        log.info("could not publish commands for %s: %s", user.id, error)
