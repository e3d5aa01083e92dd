"""/start, /help, /language and the main menu."""

from __future__ import annotations

from babel import Locale
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.i18n import gettext_for
from bot.render import render
from handlers import callback_data, invitations
from handlers.commands import commands_for
from handlers.common import Context, caller, deny, reply_html, services
from handlers.menu import HELP, LANGUAGE, labels, main_menu
from handlers.search import CARD_PREFIX, open_card

# Each language by its own name, from CLDR (Babel): 中文, English.
LANGUAGE_NAMES = {code: Locale.parse(code).get_display_name(code) for code in ("zh", "en")}


async def start(update: Update, context: Context) -> None:
    staff, language = await caller(update, context)
    if staff is None:  # the gate lets strangers through only with an invitation code
        await invitations.redeem(update, context, context.args[0] if context.args else "")
        return
    if context.args and context.args[0].startswith(CARD_PREFIX):
        await open_card(update, context, context.args[0][len(CARD_PREFIX):])
        return
    if context.args:
        await reply_html(update, context, render(language, "invitation_refused", reason="registered"), language)
    text = render(language, "welcome", user=staff)
    await reply_html(update, context, text, language, reply_markup=main_menu(language, staff.role))


async def help_command(update: Update, context: Context) -> None:
    staff, language = await caller(update, context)
    assert staff is not None
    _ = gettext_for(language)
    commands = [(command, _(description)) for command, description in commands_for(staff.role)]
    text = render(language, "help", user=staff, commands=commands)
    await reply_html(update, context, text, language, reply_markup=main_menu(language, staff.role))


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
        await deny(update, context, language, f"language button {query.data!r}")
        return
    staff = await services(context).staff.set_language(staff, parsed.args[0])
    language = staff.language
    await query.answer()
    await query.edit_message_text(render(language, "language_set", name=LANGUAGE_NAMES[language]))
    await reply_html(
        update, context, render(language, "welcome", user=staff), language,
        reply_markup=main_menu(language, staff.role),
    )


async def cancel_outside_conversation(update: Update, context: Context) -> None:
    staff, language = await caller(update, context)
    await reply_html(
        update, context, render(language, "nothing_to_cancel"), language,
        reply_markup=main_menu(language, staff.role),
    )


async def unknown(update: Update, context: Context) -> None:
    """Anything no feature understood: say so and show the menu instead of staying silent."""
    staff, language = await caller(update, context)
    await reply_html(
        update, context, render(language, "unknown_input"), language,
        reply_markup=main_menu(language, staff.role),
    )


async def stale_button(update: Update, context: Context) -> None:
    """A button no handler took: from an old message, a finished wizard, or forged."""
    _, language = await caller(update, context)
    await deny(update, context, language, f"unhandled button {update.callback_query.data!r}")


def handlers() -> list[BaseHandler]:
    return [
        CommandHandler("start", start),
        CommandHandler("help", help_command),
        MessageHandler(filters.Text(labels(HELP)), help_command),
        CommandHandler("language", language_command),
        MessageHandler(filters.Text(labels(LANGUAGE)), language_command),
        CallbackQueryHandler(language_chosen, pattern=callback_data.pattern("lang")),
    ]


def fallback_handlers() -> list[BaseHandler]:
    """Registered last: whatever nothing else handled."""
    return [
        CommandHandler("cancel", cancel_outside_conversation),  # every wizard's own /cancel comes first
        MessageHandler(filters.ALL & ~filters.StatusUpdate.ALL, unknown),
        CallbackQueryHandler(stale_button),
    ]
