"""The main menu: a reply keyboard with the frequent actions, in the user's language.

Features add their entry to ``MENU`` (an English msgid, translated per user);
``labels`` lets a MessageHandler recognise a press in either language.
"""

from __future__ import annotations

from telegram import KeyboardButton, ReplyKeyboardMarkup

from bot.domain import access
from bot.domain.models import Role
from bot.i18n import LANGUAGES, gettext_for


def N_(message: str) -> str:
    """Mark a string for extraction; translated later, per user."""
    return message


HELP = N_("❓ Help")
LANGUAGE = N_("🌐 Language")
STAFF = N_("👥 Staff")
INVITE = N_("➕ Invite")
ADD_CUSTOMER = N_("➕ New customer")
FIND = N_("🔍 Find")
LIST = N_("📋 My customers")
LOG = N_("📞 Log")
REPORT = N_("📊 Report")
DEALS = N_("💼 Deals")

EVERYONE = frozenset(Role)
MANAGERS = frozenset(role for role in Role if access.leads_people(role))

# Rows of the main menu: (msgid, roles that see it).
MENU: list[list[tuple[str, frozenset[Role]]]] = [
    [(ADD_CUSTOMER, EVERYONE), (FIND, EVERYONE), (LIST, EVERYONE)],
    [(LOG, EVERYONE), (DEALS, EVERYONE), (REPORT, EVERYONE)],
    [(STAFF, MANAGERS), (INVITE, MANAGERS)],
    [(HELP, EVERYONE), (LANGUAGE, EVERYONE)],
]


def main_menu(language: str, role: Role = Role.REP) -> ReplyKeyboardMarkup:
    _ = gettext_for(language)
    rows = [
        [KeyboardButton(_(label)) for label, roles in row if role in roles] for row in MENU
    ]
    return ReplyKeyboardMarkup(
        [row for row in rows if row], resize_keyboard=True, is_persistent=True
    )


def labels(msgid: str) -> list[str]:
    """The label of one menu entry in every language."""
    return sorted({gettext_for(language)(msgid) for language in LANGUAGES})


def all_menu_labels() -> list[str]:
    """Every menu label in every language: never taken as a field value in a wizard."""
    return sorted({label for row in MENU for msgid, _roles in row for label in labels(msgid)})
