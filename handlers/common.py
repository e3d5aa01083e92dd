"""What every handler needs: the services, the caller, their language, sending text."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from zoneinfo import ZoneInfo

from telegram import (
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.error import BadRequest, TelegramError
from telegram.ext import ContextTypes, ExtBot

from bot.domain import access
from bot.domain.models import Role, StaffUser
from bot.i18n import gettext_for, pick_language
from bot.render import render
from bot.services import Services
from bot.services.errors import AccessDenied, ServiceError
from bot.textsplit import TELEGRAM_TEXT_LIMIT, split_html
from handlers import callback_data
from handlers.callback_data import CallbackData
from handlers.menu import N_

log = logging.getLogger(__name__)

DELETE_CONFIRM_LABEL = N_("Yes, delete it")
BACK_LABEL = N_("« Back")

Context = ContextTypes.DEFAULT_TYPE
SERVICES_KEY = "services"
ReplyMarkup = InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove | ForceReply


def not_modified(error: TelegramError) -> bool:
    """Telegram's "message is not modified": the message already shows exactly this — a success."""
    return isinstance(error, BadRequest) and "not modified" in str(error).lower()


class EditingBot(ExtBot):
    """The bot's ``ExtBot``: an edit that changes nothing succeeds, and a long edit is split.

    Every edit goes through here, whoever calls it (``CallbackQuery.edit_message_text``,
    ``Message.edit_text``): pressing the page a list already shows, clearing filters that are
    not set, or any screen drawn again unchanged is answered by Telegram with "message is not
    modified" — the message already says what the bot meant to say, so that is the answer.
    A text longer than Telegram's 4,096 characters is split as a send is
    (``bot.textsplit``): the edited message gets the first part, the rest follow as new
    messages, the keyboard on the last (where the eyes are), so what was done is still
    shown as done.
    """

    __slots__ = ()

    async def edit_message_text(self, text: str, *args: Any, **kwargs: Any) -> Message | bool:
        if len(text) > TELEGRAM_TEXT_LIMIT:
            return await self._edit_long(text, *args, **kwargs)
        try:
            return await super().edit_message_text(text, *args, **kwargs)
        except BadRequest as error:
            if not_modified(error):
                return True
            raise

    async def edit_message_reply_markup(self, *args: Any, **kwargs: Any) -> Message | bool:
        try:
            return await super().edit_message_reply_markup(*args, **kwargs)
        except BadRequest as error:
            if not_modified(error):
                return True
            raise

    async def _edit_long(self, text: str, *args: Any, **kwargs: Any) -> Message | bool:
        names = ("chat_id", "message_id", "inline_message_id", "parse_mode", "reply_markup")
        kwargs.update(zip(names, args, strict=False))
        markup = kwargs.pop("reply_markup", None)
        chat_id = kwargs.get("chat_id")
        parts = split_html(text, note="…")
        if chat_id is None or len(parts) == 1:  # an inline message: nothing can follow it, so it is cut short
            return await self.edit_message_text(parts[0], reply_markup=markup, **kwargs)
        edited = await self.edit_message_text(parts[0], **kwargs)
        send = {k: kwargs[k] for k in ("parse_mode",) if kwargs.get(k) is not None}
        for index, part in enumerate(parts[1:], start=2):
            await self.send_message(chat_id, part, reply_markup=markup if index == len(parts) else None, **send)
        return edited


def services(context: Context) -> Services:
    return context.application.bot_data[SERVICES_KEY]


async def caller(update: Update, context: Context) -> tuple[StaffUser | None, str]:
    """The active staff user behind an update (None if not registered) and their language."""
    svc = services(context)
    tg_user = update.effective_user
    if tg_user is None:
        return None, svc.config.locale.default_language
    staff = await svc.staff.active(tg_user.id)
    language = pick_language(
        staff.language if staff else None,
        tg_user.language_code,
        svc.config.locale.default_language,
    )
    return staff, language


async def send_html(
    context: Context,
    chat_id: int,
    text: str,
    language: str,
    *,
    reply_markup: ReplyMarkup | None = None,
    **kwargs: Any,
) -> list[Message]:
    """Send Telegram HTML, split into several messages if longer than Telegram allows.

    The keyboard goes with the last part, where the user's eyes are.
    """
    _ = gettext_for(language)
    parts = split_html(text, note=_("(message truncated: too long to show in full)"))
    sent = []
    for index, part in enumerate(parts):
        markup = reply_markup if index == len(parts) - 1 else None
        sent.append(
            await context.bot.send_message(chat_id, part, reply_markup=markup, **kwargs)
        )
    return sent


async def reply_html(
    update: Update,
    context: Context,
    text: str,
    language: str,
    *,
    reply_markup: ReplyMarkup | None = None,
) -> list[Message]:
    chat = update.effective_chat
    if chat is None:
        return []
    return await send_html(context, chat.id, text, language, reply_markup=reply_markup)


async def deny(
    update: Update, context: Context, language: str, what: str, *,
    denied: ServiceError | None = None, needs: Role | str | None = None,
) -> None:
    """Answer a refusal — to a button as an alert, to a message as text — and log it.

    When the caller's role is what is missing (``needs``, or the ``needs`` a service put on
    its ``AccessDenied``), the answer names the role required; otherwise it is "not
    available", which never says whether the thing asked for exists.
    """
    user = update.effective_user
    log.warning("refused %s to user %s", what, user.id if user else None)
    text = refusal_text(language, denied=denied, needs=needs)
    if update.callback_query is not None:
        await update.callback_query.answer(text, show_alert=True)
    elif update.effective_chat is not None:
        await context.bot.send_message(update.effective_chat.id, text)


def refusal_text(language: str, *, denied: ServiceError | None = None, needs: Role | str | None = None) -> str:
    """The words of a refusal: the role required when that is the reason, else "not available"."""
    needs = needs or (denied.params.get("needs") if denied is not None else None)
    if needs:
        return render(language, "needs_role", role=Role(needs).value)
    return render(language, "not_available")


async def pressed(
    update: Update, context: Context
) -> tuple[StaffUser, str, CallbackData] | None:
    """The caller and the parsed button of a callback query; None (already answered) if refused."""
    staff, language = await caller(update, context)
    parsed = callback_data.parse(update.callback_query.data if update.callback_query else None)
    if staff is None or parsed is None:
        await deny(update, context, language, f"button {update.callback_query.data!r}")
        return None
    return staff, language, parsed


async def show(
    update: Update, context: Context, text: str, language: str, markup: InlineKeyboardMarkup | None
) -> None:
    """A screen: from a button it replaces the pressed message, from typed text it is a new one."""
    if update.callback_query is not None:
        await answer_press(update)
        await update.callback_query.edit_message_text(text, reply_markup=markup)
    else:
        await reply_html(update, context, text, language, reply_markup=markup)


ButtonCallback = Callable[[Update, Context, StaffUser, str, CallbackData], Awaitable[Any]]


def button_handler(handle: ButtonCallback) -> Callable[[Update, Context], Awaitable[Any]]:
    """A button's callback, given the caller and the parsed data; a refused press never reaches it.

    The data is only parsed here, never trusted: ``handle`` re-checks access
    on the records it names.
    """

    @functools.wraps(handle)
    async def callback(update: Update, context: Context) -> Any:
        result = await pressed(update, context)
        if result is None:
            return None
        staff, language, data = result
        try:
            return await handle(update, context, staff, language, data)
        except AccessDenied as denied:
            await deny(update, context, language, f"button {data} ({denied})", denied=denied)
            return None

    return callback


CommandCallback = Callable[[Update, Context, StaffUser, str], Awaitable[Any]]


def command_handler(
    what: str, *, needs: Role | None = None
) -> Callable[[CommandCallback], Callable[[Update, Context], Awaitable[Any]]]:
    """A command's callback, given the caller; what the service refuses is answered with its reason.

    ``needs``: the least role the command is for; anyone below it is told so and ``handle``
    is not called.
    """

    def wrap(handle: CommandCallback) -> Callable[[Update, Context], Awaitable[Any]]:
        @functools.wraps(handle)
        async def callback(update: Update, context: Context) -> Any:
            staff, language = await caller(update, context)
            missing = access.missing_role(staff, needs) if needs is not None else None
            if missing is not None:
                await deny(update, context, language, what, needs=missing)
                return None
            try:
                return await handle(update, context, staff, language)
            except AccessDenied as denied:
                await deny(update, context, language, f"{what} ({denied})", denied=denied)
                return None

        return callback

    return wrap


def display_name(language: str, table: dict[str, str], key: Any) -> str:
    """The translated display name of an enum value (a ``bot.labels`` table), "—" when unknown."""
    msgid = table.get(key) if isinstance(key, str) else None
    return gettext_for(language)(msgid) if msgid else "—"


def user_zone(user: StaffUser | None, default: ZoneInfo) -> ZoneInfo:
    """The user's own time zone, or ``default`` when none is set or it is unknown."""
    try:
        return ZoneInfo(user.timezone) if user else default
    except (ValueError, KeyError):
        return default


async def answer_press(update: Update, text: str | None = None) -> None:
    """Answer a button press once; another handler (a reminder's) may have answered it already."""
    if update.callback_query is None:
        return
    try:
        await update.callback_query.answer(text)
    except TelegramError:
        pass


async def drop_keyboard(update: Update) -> None:
    """Remove the buttons of the message a press came from (already gone or too old: fine)."""
    if update.callback_query is None:
        return
    try:
        await update.callback_query.edit_message_reply_markup(None)
    except TelegramError:
        pass


async def confirm_delete(update: Update, context: Context, language: str, feature: str, entry_id: str) -> None:
    """Ask "delete it?" for a logged entry: ``<feature>:del_ok:<id>`` or back to ``<feature>:view:<id>``."""
    _ = gettext_for(language)
    await reply_html(
        update, context, render(language, "entry_delete_confirm"), language,
        reply_markup=InlineKeyboardMarkup([
            [InlineKeyboardButton(_(DELETE_CONFIRM_LABEL),
                                  callback_data=callback_data.encode(feature, "del_ok", entry_id))],
            [InlineKeyboardButton(_(BACK_LABEL), callback_data=callback_data.encode(feature, "view", entry_id))],
        ]),
    )
