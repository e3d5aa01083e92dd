"""The gate in front of every handler: only active staff get past it.

Registered in group -1, so it runs before any feature handler. Anyone else
gets one polite answer with their Telegram id (to give to an admin) and
nothing more: no menu, no data, no command, no button works. Someone whose
account was deactivated is told so, and whom to ask (their team's managers,
else the admins), instead of being treated as a stranger.

Customer data is answered only in private chats: staff writing in a group
(or pressing a button on a message there) get one line pointing to the
private chat; other group messages and channel posts get no answer at all.
"""

from __future__ import annotations

import logging

from telegram import ReplyKeyboardRemove, Update
from telegram.ext import ApplicationHandlerStop, BaseHandler, TypeHandler

from bot.i18n import pick_language
from bot.render import render
from handlers.common import Context, caller, reply_html, services

log = logging.getLogger(__name__)


async def gate(update: Update, context: Context) -> None:
    tg_user = update.effective_user
    if tg_user is None:
        raise ApplicationHandlerStop
    if update.effective_chat is None and update.inline_query is None:
        raise ApplicationHandlerStop  # nothing else without a chat is handled
    staff, language = await caller(update, context)
    if staff is None and _is_invitation(update):
        return  # /start <code>: the invitation handler decides
    if staff is not None and update.effective_chat is not None and update.effective_chat.type != "private":
        await _outside_private_chat(update, context, language)
    if staff is not None:
        svc = services(context)
        await svc.staff.remember_profile(
            staff, name=tg_user.full_name, username=tg_user.username
        )
        return
    deactivated = await services(context).staff.whom_to_ask(tg_user.id)
    if deactivated is not None:
        log.info("refused update %s from deactivated user %s", update.update_id, tg_user.id)
        gone, ask = deactivated
        language = pick_language(gone.language, tg_user.language_code,
                                 services(context).config.locale.default_language)
        text = render(language, "account_deactivated", ask=[u.name for u in ask], short=False)
        alert = render(language, "account_deactivated", ask=[u.name for u in ask], short=True)
    else:
        log.info("refused update %s from unregistered user %s", update.update_id, tg_user.id)
        text = render(language, "not_registered", telegram_id=tg_user.id)
        alert = render(language, "not_available")
    if update.inline_query is not None:
        await update.inline_query.answer([], cache_time=0, is_personal=True)
    elif update.callback_query is not None:
        await update.callback_query.answer(text=alert[:200], show_alert=True)
    elif update.effective_chat.type == "private":
        await reply_html(update, context, text, language, reply_markup=ReplyKeyboardRemove())
    raise ApplicationHandlerStop


async def _outside_private_chat(update: Update, context: Context, language: str) -> None:
    """Customer data goes to private chats only: in a group, one line pointing there, then nothing."""
    log.info("update %s from staff in %s chat %s: pointed to the private chat", update.update_id,
             update.effective_chat.type, update.effective_chat.id)
    text = render(language, "private_chat_only", bot=context.bot.username or "")
    if update.callback_query is not None:
        await update.callback_query.answer(text=text, show_alert=True)
    elif update.message is not None and (update.message.text or "").startswith("/"):
        await update.message.reply_text(text, parse_mode="HTML")
    raise ApplicationHandlerStop


def _is_invitation(update: Update) -> bool:
    message = update.message
    if message is None or message.chat.type != "private" or not message.text:
        return False
    command, _, payload = message.text.partition(" ")
    return command == "/start" and bool(payload.strip())


def handlers() -> list[BaseHandler]:
    return [TypeHandler(Update, gate)]
