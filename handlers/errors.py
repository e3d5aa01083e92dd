"""The error handler: a service's refusal becomes one localized message; anything else is logged.

Services refuse with ``bot.services.errors.ServiceError`` (kinds access,
invalid, conflict; a stable ``code`` and ``params``).  ``explain`` is the one
place that turns such an error into text for the user — ``MESSAGES`` maps
codes to catalog msgids (zh and en), and every kind has a fallback — so a
handler that does not catch a refusal still answers properly, and one that
wants to re-ask calls ``explain`` itself.  Any other exception is a bug: the
whole story goes to the log and the user is told only that something went
wrong.
"""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import NetworkError, RetryAfter, TelegramError, TimedOut

from bot.i18n import gettext_for, pick_language
from bot.render import render
from bot.services.errors import InvitationError, ServiceError
from handlers.common import Context, services
from handlers.menu import N_

log = logging.getLogger(__name__)

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


async def on_error(update: object, context: Context) -> None:
    error = context.error
    if isinstance(error, (NetworkError, TimedOut, RetryAfter)) and not isinstance(update, Update):
        log.warning("network trouble talking to Telegram: %s", error.__class__.__name__)
        return
    update_id = update.update_id if isinstance(update, Update) else None
    if isinstance(error, ServiceError):
        user = update.effective_user if isinstance(update, Update) else None
        log.warning("refused %r to user %s (update %s)", error, user.id if user else None, update_id)
    else:
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
    text = explain(error, language) if isinstance(error, ServiceError) else render(language, "error")
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
