"""The error handler: a service's refusal becomes one localized message; anything else is logged.

Services refuse with ``bot.services.errors.ServiceError`` (kinds access,
invalid, conflict; a stable ``code`` and ``params``).  ``explain`` is the one
place that turns such an error into text for the user — ``MESSAGES`` maps
codes to catalog msgids (zh and en), and every kind has a fallback — so a
handler that does not catch a refusal still answers properly, and one that
wants to re-ask calls ``explain`` itself.

A write the store refused (disk full, damaged data: see
``bot.services.errors.storage_problem``) is not a bug and cannot be helped by
trying again: the user is told it is a storage problem and that an admin
has been told — and the admins are, once per episode (``StorageIncidents``),
and once more when :func:`watch_storage` sees a write succeed again.

Any other exception is a bug: the whole story goes to the log and the user
is told only that something went wrong. Every error this handler saw is
counted in ``bot_data[HANDLED_KEY]`` (the last ones, for tests and the
console to tell whether it ran).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from zoneinfo import ZoneInfo

from telegram import Update
from telegram.error import NetworkError, RetryAfter, TelegramError, TimedOut

from bot.i18n import gettext_for, pick_language
from bot.render import format_datetime, render
from bot.services.errors import Episode, InvitationError, ServiceError, StorageKind, storage_problem
from handlers.common import Context, services, user_zone
from handlers.menu import N_
from storage.base import StoreError

log = logging.getLogger(__name__)

HANDLED_KEY = "errors_handled"
HANDLED_KEPT = 50

#: What the user reads when the store refused the write, by kind of problem.
STORAGE_MESSAGES: dict[str, str] = {
    "full": N_("⚠️ Nothing was saved: the bot's storage is full. An admin has been told. "
               "What you entered so far is kept; trying again will not help until the admin has freed space."),
    "damaged": N_("⚠️ Nothing was saved: the bot's stored data is damaged. An admin has been told. "
                  "What you entered so far is kept; trying again will not help until the admin has repaired it."),
}
#: What the admins read, once per episode.
STORAGE_ALERTS: dict[str, str] = {
    "full": N_("⚠️ Storage problem since %(since)s: the disk holding the bot's data is full, so changes "
               "are refused and not saved (%(detail)s). Free some space: the bot takes writes again by itself. "
               "You are told once per problem."),
    "damaged": N_("⚠️ Storage problem since %(since)s: the bot's stored data is damaged, so changes are "
                  "refused and not saved (%(detail)s). See docs/operations.md, \"Storage problems\": check the "
                  "store and restore from a backup. You are told once per problem."),
}
STORAGE_RECOVERED = N_("✅ Storage works again: the bot takes changes again (%(refused)s refused while it "
                       "did not).")

#: Codes with a message of their own; ``%(name)s`` placeholders take the error's params.
MESSAGES: dict[str, str] = {
    "record.changing": N_("Someone else changed this at the same moment. Please try again."),
    "team.invalid": N_("A team name needs 1 to %(max_length)s characters."),
    "quiet_hours.invalid": N_("Quiet hours are two hours of the day, 0 to 23."),
    "invitation.validity": N_("An invitation is valid for 1, 7 or 30 days."),
    "feedback.note_required": N_("Resolving feedback needs a note on what was done."),
    "feedback.transition": N_("This feedback has moved on meanwhile: open it again to see where it stands."),
}
#: What the user reads when a refusal has no message of its own, by kind.
FALLBACKS: dict[str, str] = {
    "invalid": N_("That cannot be done as asked."),
    "conflict": N_("Someone else changed this at the same moment. Please try again."),
}


def explain(error: ServiceError, language: str) -> str:
    """The user's message for a service's refusal, in their language."""
    if isinstance(error, InvitationError):
        return render(language, "invitation_refused", reason=error.reason)
    _ = gettext_for(language)
    msgid = MESSAGES.get(error.code)
    if msgid is not None:
        try:
            return _(msgid) % error.params if "%(" in msgid else _(msgid)
        except (KeyError, TypeError, ValueError):
            log.warning("message for %s lacks its params %s", error.code, error.params)
    if error.kind == "access":
        return render(language, "not_available")
    return _(FALLBACKS[error.kind])


def _count(context: Context, error: BaseException | None, update_id: int | None) -> None:
    handled = context.application.bot_data.setdefault(HANDLED_KEY, [])
    handled.append((update_id, type(error).__name__, str(error)[:200]))
    del handled[:-HANDLED_KEPT]


async def _language_of(context: Context, telegram_id: int | None, language_code: str | None = None) -> str:
    svc = services(context)
    try:
        staff = await svc.staff.get(telegram_id) if telegram_id is not None else None
    except StoreError:  # a damaged store may not even read: the default language then
        staff = None
    return pick_language(staff.language if staff else None, language_code, svc.config.locale.default_language)


async def _tell_admins(context: Context, text: Callable[[str, ZoneInfo], str]) -> None:
    """One message to each admin, in their language and time zone (``text(language, zone)``)."""
    svc = services(context)
    for chat_id in await svc.storage.admin_chats():
        try:
            staff = await svc.staff.get(chat_id)
        except StoreError:
            staff = None
        language = pick_language(staff.language if staff else None, None, svc.config.locale.default_language)
        try:
            await context.bot.send_message(chat_id, text(language, user_zone(staff, svc.config.tz)), parse_mode=None)
        except Exception:  # one admin out of reach must not keep the others uninformed
            log.warning("could not tell admin %s about the storage problem", chat_id, exc_info=True)


def storage_message(kind: StorageKind, language: str) -> str:
    """The user's message for a write the store refused."""
    return gettext_for(language)(STORAGE_MESSAGES[kind])


def storage_alert(episode: Episode, language: str, zone: ZoneInfo) -> str:
    """The admins' message when a storage problem begins."""
    since = format_datetime(episode.since, language, zone)
    return gettext_for(language)(STORAGE_ALERTS[episode.kind]) % {"since": since, "detail": episode.detail}


async def _storage_refused(context: Context, kind: StorageKind, error: BaseException) -> None:
    episode = services(context).storage.refused(kind, str(error))
    if episode is not None:
        await _tell_admins(context, lambda language, zone: storage_alert(episode, language, zone))


async def watch_storage(update: object, context: Context) -> None:
    """Before every update while a storage problem is open: has the store recovered? Then say so."""
    episode = await services(context).storage.recovered()
    if episode is not None:
        await _tell_admins(
            context, lambda language, _zone: gettext_for(language)(STORAGE_RECOVERED) % {"refused": episode.refused})


async def on_error(update: object, context: Context) -> None:
    error = context.error
    if isinstance(error, (NetworkError, TimedOut, RetryAfter)) and not isinstance(update, Update):
        log.warning("network trouble talking to Telegram: %s", error.__class__.__name__)
        return
    update_id = update.update_id if isinstance(update, Update) else None
    _count(context, error, update_id)
    storage = storage_problem(error)
    if storage is not None:
        log.error("storage problem (%s) while handling update %s: %s", storage, update_id, error)
        await _storage_refused(context, storage, error)
    elif isinstance(error, ServiceError):
        user = update.effective_user if isinstance(update, Update) else None
        log.warning("refused %r to user %s (update %s)", error, user.id if user else None, update_id)
    else:
        log.error("error while handling update %s", update_id, exc_info=error)
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    tg_user = update.effective_user
    language = await _language_of(context, tg_user.id if tg_user else None,
                                  tg_user.language_code if tg_user else None)
    if storage is not None:
        text = storage_message(storage, language)
    elif isinstance(error, ServiceError):
        text = explain(error, language)
    else:
        text = render(language, "error")
    if update.callback_query is not None:
        try:
            if isinstance(error, ServiceError):  # a refused button: the answer is the message
                await update.callback_query.answer(text, show_alert=True)
                return
            await update.callback_query.answer()
        except TelegramError:
            pass  # already answered before the error, or too old: the message below still goes
    try:
        await context.bot.send_message(update.effective_chat.id, text)
    except Exception:
        log.warning("could not tell the user about the error", exc_info=True)
