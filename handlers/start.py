"""/start, /help, /language and the main menu."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.i18n import gettext_for
from bot.render import render
from handlers import callback_data
from handlers.common import Context, caller, reply_html, services
from handlers.menu import HELP, LANGUAGE, N_, labels, main_menu

# (command, description msgid) as published with setMyCommands, in menu order.
COMMANDS: list[tuple[str, str]] = [
    ("start", N_("Main menu")),
    ("help", N_("What I can do")),
    ("language", N_("Change language")),
    ("cancel", N_("Cancel what you are doing")),
]

LANGUAGE_NAMES = {"zh": "中文", "en": "English"}


async def start(update: Update, context: Context) -> None:
    staff, language = await caller(update, context)
    assert staff is not None  # the access gate let only staff through
    text = render(language, "welcome", user=staff)
    await reply_html(update, context, text, language, reply_markup=main_menu(language))


async def help_command(update: Update, context: Context) -> None:
    staff, language = await caller(update, context)
    assert staff is not None
    _ = gettext_for(language)
    commands = [(command, _(description)) for command, description in COMMANDS]
    text = render(language, "help", user=staff, commands=commands)
    await reply_html(update, context, text, language, reply_markup=main_menu(language))


async def language_command(update: Update, context: Context) -> None:
    _, language = await caller(update, context)
    buttons = [
        InlineKeyboardButton(name, callback_data=callback_data.encode("lang", "set", code))
        for code, name in LANGUAGE_NAMES.items()
    ]
    text = render(language, "language_choose")
    await reply_html(update, context, text, language, reply_markup=InlineKeyboardMarkup([buttons]))


async def language_chosen(update: Update, context: Context) -> None:
    query = update.callback_query
    staff, language = await caller(update, context)
    parsed = callback_data.parse(query.data)
    if staff is None or parsed is None or parsed.args[0] not in LANGUAGE_NAMES:
        await query.answer(render(language, "not_available"), show_alert=True)
        return
    staff = await services(context).staff.set_language(staff, parsed.args[0])
    language = staff.language
    await query.answer()
    await query.edit_message_text(render(language, "language_set", name=LANGUAGE_NAMES[language]))
    await reply_html(
        update, context, render(language, "welcome", user=staff), language,
        reply_markup=main_menu(language),
    )


async def cancel_outside_conversation(update: Update, context: Context) -> None:
    _, language = await caller(update, context)
    await reply_html(
        update, context, render(language, "nothing_to_cancel"), language,
        reply_markup=main_menu(language),
    )


async def unknown(update: Update, context: Context) -> None:
    """Anything no feature understood: say so and show the menu instead of staying silent."""
    _, language = await caller(update, context)
    await reply_html(
        update, context, render(language, "unknown_input"), language,
        reply_markup=main_menu(language),
    )


def handlers() -> list[BaseHandler]:
    return [
        CommandHandler("start", start),
        CommandHandler("help", help_command),
        MessageHandler(filters.Text(labels(HELP)), help_command),
        CommandHandler("language", language_command),
        MessageHandler(filters.Text(labels(LANGUAGE)), language_command),
        CallbackQueryHandler(language_chosen, pattern=callback_data.pattern("lang")),
        CommandHandler("cancel", cancel_outside_conversation),
    ]


def fallback_handlers() -> list[BaseHandler]:
    """Registered last: whatever nothing else handled."""
    return [MessageHandler(filters.ALL & ~filters.StatusUpdate.ALL, unknown)]
