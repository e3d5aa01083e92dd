"""The error handler: log the whole story, tell the user only that something went wrong."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import NetworkError, RetryAfter, TelegramError, TimedOut

from bot.i18n import pick_language
from bot.render import render
from handlers.common import Context, services

log = logging.getLogger(__name__)


async def on_error(update: object, context: Context) -> None:
    error = context.error
    if isinstance(error, (NetworkError, TimedOut, RetryAfter)) and not isinstance(update, Update):
        log.warning("network trouble talking to Telegram: %s", error.__class__.__name__)
        return
    update_id = update.update_id if isinstance(update, Update) else None
    log.error("error while handling update %s", update_id, exc_info=error)
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    config = services(context).config
    tg_user = update.effective_user
    staff = await services(context).staff.get(tg_user.id) if tg_user else None
    language = pick_language(
        staff.language if staff else None,
        tg_user.language_code if tg_user else None,
        config.locale.default_language,
    )
    if update.callback_query is not None:
        try:
            await update.callback_query.answer()
        except TelegramError:
            pass  # already answered before the error, or too old: the message below still goes
    try:
        await context.bot.send_message(update.effective_chat.id, render(language, "error"))
    except Exception:
        log.warning("could not tell the user about the error", exc_info=True)
