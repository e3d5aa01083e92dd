"""The reminder outbox's Telegram side: the sending adapter, the renderers, the buttons.

``deliver_due`` is the scheduler's delivery job: ``bot.services.delivery``
decides what goes to whom and when (claims, quiet hours, the digest rule,
retries, giving up, marking sent); this module only renders each parcel in
the recipient's language, sends it and translates the Bot API's answer into
the service's words (``RetryLater``, ``TransientFailure``, ``Refused``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import date, datetime, time, timedelta
from http import HTTPStatus
from typing import Any
from zoneinfo import ZoneInfo

from telegram import CopyTextButton, InlineKeyboardButton, InlineKeyboardMarkup, Update
import httpx
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, RetryAfter, TelegramError
from telegram.ext import Application, BaseHandler, CallbackQueryHandler, CommandHandler

from bot import labels
from bot.domain import churn
from bot.domain.models import (
    Direction,
    InteractionKind,
    Outcome,
    Reminder,
    ReminderKind,
    StaffUser,
)
from bot.i18n import gettext_for
from bot.render import render
from bot.services import Services
from bot.services.delivery import (
    Ambiguous,
    Parcel,
    Refused,
    Result,
    RetryLater,
    SendError,
    TransientFailure,
)
from bot.services.errors import AccessDenied
from bot.telegram_request import ServerError
from bot.textsplit import split_html
from handlers import callback_data
from handlers.common import (
    SERVICES_KEY,
    Context,
    caller,
    deny,
    pressed,
    reply_html,
    services,
    user_zone,
)
from handlers.customer_view import when_text
from handlers.menu import N_

log = logging.getLogger(__name__)

Rendered = tuple[str, InlineKeyboardMarkup | None]
Renderer = Callable[[Services, Reminder, StaffUser, str], Awaitable[Rendered | None]]
RENDERERS: dict[ReminderKind, Renderer] = {}
COPY_LIMIT = 256

DONE_LABEL = N_("✅ Done — log it")
SNOOZE_HOUR_LABEL = N_("⏰ 1 hour")
SNOOZE_TOMORROW_LABEL = N_("Tomorrow 9:00")
SNOOZE_WEEK_LABEL = N_("Next week")
SNOOZE_DAYS_LABEL = N_("😴 Snooze 7 days")
OPEN_CARD_LABEL = N_("📇 Open card")
OPEN_FEEDBACK_LABEL = N_("💬 Open feedback")
LOG_CALL_LABEL = N_("📞 Log a call")
COPY_LABEL = N_("📋 %(name)s")
SENT_LABEL = N_("✓ Sent to %(name)s")
BIRTHDAY_LABEL = N_("birthday")


def renderer(kind: ReminderKind) -> Callable[[Renderer], Renderer]:
    def register(function: Renderer) -> Renderer:
        RENDERERS[kind] = function
        return function

    return register


def _cb(feature: str, action: str, *args: str) -> str:
    return callback_data.encode(feature, action, *args)


# ---- delivery ----------------------------------------------------------------------------
async def deliver_due(application: Application, now: datetime) -> int:
    """Send every due reminder once; returns how many were sent."""
    svc: Services = application.bot_data[SERVICES_KEY]

    async def send(parcel: Parcel) -> bool:
        rendered = await _render(svc, parcel)
        if rendered is None:
            return False
        await _send_telegram(application, parcel.recipient, *rendered)
        return True

    outcomes = await svc.delivery.deliver_due(now, send)
    return sum(1 for outcome in outcomes if outcome.result is Result.SENT)


async def _render(svc: Services, parcel: Parcel) -> Rendered | None:
    """The parcel as one message (text and buttons); None when there is nothing to say."""
    user = parcel.recipient
    try:
        if parcel.digest:
            return _digest(parcel)
        (reminder,) = parcel.reminders
        function = RENDERERS.get(reminder.kind)
        return await function(svc, reminder, user, user.language) if function else None
    except Exception as error:  # one broken reminder must not stop the others
        log.exception("rendering reminders %s failed", [r.id for r in parcel.reminders])
        raise Refused(f"render: {type(error).__name__}") from error


async def _send_telegram(application: Application, user: StaffUser, text: str,
                         markup: InlineKeyboardMarkup | None) -> None:
    """Send, translating the Bot API's answer into the delivery service's words."""
    note = gettext_for(user.language)("(message truncated: too long to show in full)")
    parts = split_html(text, note=note)
    for index, part in enumerate(parts):
        try:
            await application.bot.send_message(
                user.telegram_id, part, reply_markup=markup if index == len(parts) - 1 else None)
        except TelegramError as error:
            raise send_error(error, delivered_before=index > 0) from error


# A server error that says the request was not handled (safe to send again).
NOT_HANDLED = (HTTPStatus.SERVICE_UNAVAILABLE,)
# Transport failures before the request reached the server.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def send_error(error: TelegramError, *, delivered_before: bool = False) -> SendError:
    """The delivery service's word for a failed sendMessage.

    Clear: 429 (``RetryLater``), 403/400 (``Refused``), a 503 or a connection
    that never opened (``TransientFailure``). Anything after which Telegram may
    have delivered the message — a 500 or other server error, a read timeout, a
    connection reset, an unreadable answer — is ``Ambiguous``, and so is any
    failure once an earlier part of the same parcel was accepted.
    """
    reason = f"{type(error).__name__}: {error}"
    if isinstance(error, RetryAfter) and not delivered_before:
        wait = error.retry_after
        return RetryLater(wait.total_seconds() if isinstance(wait, timedelta) else float(wait))
    if isinstance(error, (Forbidden, BadRequest)):  # 403, or 400: this chat or message is refused
        return Refused(reason)
    clear = (
        isinstance(error, RetryAfter)
        or (isinstance(error, ServerError) and error.status in NOT_HANDLED)
        or isinstance(error.__cause__, NOT_SENT)
        or isinstance(error, (InvalidToken, Conflict))  # refused before any processing
    )
    if clear and not delivered_before:
        return TransientFailure(reason)
    return Ambiguous(reason)


def _digest(parcel: Parcel) -> Rendered:
    user, language = parcel.recipient, parcel.recipient.language
    _ = gettext_for(language)
    lines, rows = [], []
    for reminder in parcel.reminders:
        customer = parcel.customers.get(reminder.customer_id or "")
        lines.append((when_text(reminder.due_at, language, user.timezone), _(KIND_LABELS[reminder.kind]),
                      customer.name if customer else ""))
        if customer is not None and len(rows) < 20:
            rows.append([InlineKeyboardButton(customer.name[:40], callback_data=_cb("cust", "view", customer.id))])
    return render(language, "reminder_digest", lines=lines), InlineKeyboardMarkup(rows) if rows else None


KIND_LABELS = {
    ReminderKind.FOLLOW_UP: N_("follow-up"),
    ReminderKind.BIRTHDAY: N_("birthday greetings"),
    ReminderKind.FESTIVAL: N_("festival greetings"),
    ReminderKind.CHURN_WARNING: N_("churn warning"),
    ReminderKind.FEEDBACK_OVERDUE: N_("overdue feedback"),
    ReminderKind.COMPLAINT_ALERT: N_("complaint"),
    ReminderKind.DAILY_AGENDA: N_("daily agenda"),
    ReminderKind.WEEKLY_REPORT: N_("weekly report"),
    ReminderKind.MONTHLY_REPORT: N_("monthly report"),
    ReminderKind.DELIVERY_FAILURES: N_("delivery failures"),
}


# ---- renderers ---------------------------------------------------------------------------
def _snooze_row(reminder: Reminder, language: str) -> list[InlineKeyboardButton]:
    _ = gettext_for(language)
    return [InlineKeyboardButton(_(SNOOZE_HOUR_LABEL), callback_data=_cb("rem", "snooze", reminder.id, "1h")),
            InlineKeyboardButton(_(SNOOZE_TOMORROW_LABEL), callback_data=_cb("rem", "snooze", reminder.id, "tomorrow")),
            InlineKeyboardButton(_(SNOOZE_WEEK_LABEL), callback_data=_cb("rem", "snooze", reminder.id, "week"))]


@renderer(ReminderKind.FOLLOW_UP)
async def _follow_up(svc: Services, reminder: Reminder, user: StaffUser, language: str) -> Rendered | None:
    subject = await svc.delivery.subject(reminder, user)
    if subject is None or subject.customer is None:
        return None
    customer, last = subject.customer, subject.last_interaction
    _ = gettext_for(language)
    phone = customer.phones[0] if customer.phones else None
    from bot.domain.validation import format_phone

    text = render(language, "reminder_follow_up", c=customer,
                  phone=format_phone(phone, svc.config.locale.phone_region) if phone else None,
                  due=when_text(reminder.due_at, language, user.timezone),
                  last=last,
                  last_when=when_text(last.occurred_at, language, user.timezone) if last else None)
    markup = InlineKeyboardMarkup([
        [InlineKeyboardButton(_(DONE_LABEL), callback_data=_cb("log", "start", customer.id)),
         InlineKeyboardButton(_(OPEN_CARD_LABEL), callback_data=_cb("cust", "view", customer.id))],
        _snooze_row(reminder, language),
    ])
    return text, markup


async def _greeting_items(svc: Services, reminder: Reminder, user: StaffUser, language: str) -> Rendered | None:
    subject = await svc.delivery.subject(reminder, user)
    if subject is None:
        return None
    _ = gettext_for(language)
    entries, rows = [], []
    for item in reminder.payload.get("items", []):
        customer = subject.customers.get(item["customer_id"])
        if customer is None:
            continue
        occasion = item["occasion"]
        festival = svc.generator.festival(occasion) if occasion != "birthday" else None
        template = "greeting_birthday" if festival is None else f"greeting_{festival.template}"
        try:
            draft = render(language, template, c=customer)
        except LookupError:
            draft = render(language, "greeting_generic", c=customer,
                           occasion=festival.name(language) if festival else occasion)
        occasion_name = festival.name(language) if festival else _(BIRTHDAY_LABEL)
        entries.append((customer.name, occasion_name, item["date"], draft))
        if len(rows) < 48:
            rows.append([
                InlineKeyboardButton(_(COPY_LABEL) % {"name": customer.name[:20]},
                                     copy_text=CopyTextButton(draft[:COPY_LIMIT])),
                InlineKeyboardButton(_(SENT_LABEL) % {"name": customer.name[:20]},
                                     callback_data=_cb("greet", "sent", customer.id, occasion)),
            ])
    if not entries:
        return None
    return render(language, "reminder_greetings", entries=entries), InlineKeyboardMarkup(rows)


RENDERERS[ReminderKind.BIRTHDAY] = _greeting_items
RENDERERS[ReminderKind.FESTIVAL] = _greeting_items


@renderer(ReminderKind.CHURN_WARNING)
async def _churn(svc: Services, reminder: Reminder, user: StaffUser, language: str) -> Rendered | None:
    _ = gettext_for(language)
    subject = await svc.delivery.subject(reminder, user)
    if subject is None:
        return None
    if reminder.payload.get("summary"):
        names = [c.name for c in subject.customers.values()]
        return render(language, "reminder_churn_summary", names=names, team=reminder.payload.get("team")), None
    customer = subject.customer
    reasons = labels.churn_reasons(
        [churn.Reason.from_dict(r) for r in reminder.payload.get("reasons", [])], _)
    markup = InlineKeyboardMarkup([
        [InlineKeyboardButton(_(LOG_CALL_LABEL), callback_data=_cb("log", "start", customer.id)),
         InlineKeyboardButton(_(OPEN_CARD_LABEL), callback_data=_cb("cust", "view", customer.id))],
        [InlineKeyboardButton(_(SNOOZE_DAYS_LABEL), callback_data=_cb("rem", "snooze", reminder.id, "7d"))],
    ])
    return render(language, "reminder_churn", c=customer, score=reminder.payload.get("score"), reasons=reasons), markup


@renderer(ReminderKind.FEEDBACK_OVERDUE)
async def _feedback_overdue(svc: Services, reminder: Reminder, user: StaffUser, language: str) -> Rendered | None:
    subject = await svc.delivery.subject(reminder, user)
    if subject is None or subject.feedback is None or subject.customer is None:
        return None
    item, customer = subject.feedback, subject.customer
    _ = gettext_for(language)
    markup = InlineKeyboardMarkup([
        [InlineKeyboardButton(_(OPEN_FEEDBACK_LABEL), callback_data=_cb("fb", "view", item.id)),
         InlineKeyboardButton(_(OPEN_CARD_LABEL), callback_data=_cb("cust", "view", customer.id))],
    ])
    return render(language, "reminder_feedback_overdue", c=customer, item=item,
                  escalated=bool(reminder.payload.get("escalated")),
                  due=when_text(item.due_at, language, user.timezone)), markup


@renderer(ReminderKind.COMPLAINT_ALERT)
async def _complaint(svc: Services, reminder: Reminder, user: StaffUser, language: str) -> Rendered | None:
    subject = await svc.delivery.subject(reminder, user)
    if subject is None or subject.feedback is None or subject.customer is None:
        return None
    item, customer = subject.feedback, subject.customer
    _ = gettext_for(language)
    return render(language, "reminder_complaint", c=customer, item=item), InlineKeyboardMarkup(
        [[InlineKeyboardButton(_(OPEN_FEEDBACK_LABEL), callback_data=_cb("fb", "view", item.id)),
          InlineKeyboardButton(_(OPEN_CARD_LABEL), callback_data=_cb("cust", "view", customer.id))]])


@renderer(ReminderKind.DAILY_AGENDA)
async def _agenda(svc: Services, reminder: Reminder, user: StaffUser, language: str) -> Rendered | None:
    day = date.fromisoformat(reminder.payload.get("day", reminder.due_at.date().isoformat()))
    agenda = await svc.generator.agenda(user, day)
    greeting_count = await svc.generator.greeting_count(user, day)
    if not any(agenda.values()) and not greeting_count:
        return None
    rows = [[InlineKeyboardButton(f"📞 {c.name}"[:40], callback_data=_cb("cust", "view", c.id))]
            for c in agenda["follow_ups"][:10]]
    follow_ups = [(c.name, when_text(c.next_follow_up_at, language, user.timezone)) for c in agenda["follow_ups"]]
    return render(language, "reminder_agenda", day=day.isoformat(), follow_ups=follow_ups,
                  feedback=[c.name for c in agenda["feedback"]], at_risk=[c.name for c in agenda["at_risk"]],
                  greetings=greeting_count), InlineKeyboardMarkup(rows) if rows else None


@renderer(ReminderKind.DELIVERY_FAILURES)
async def _delivery_failures(svc: Services, reminder: Reminder, user: StaffUser, language: str) -> Rendered | None:
    """An admin's daily list of the reminders Telegram refused for good."""
    _ = gettext_for(language)
    kinds = {kind.value: _(label) for kind, label in KIND_LABELS.items()}
    failures = [(item.get("recipient", ""), kinds.get(item.get("kind", ""), item.get("kind", "")),
                 item.get("reason", "")) for item in reminder.payload.get("failures", [])]
    if not failures:
        return None
    return render(language, "reminder_delivery_failures", day=reminder.payload.get("day", ""),
                  failures=failures, more=int(reminder.payload.get("more", 0))), None


# ---- buttons -----------------------------------------------------------------------------
def snooze_until(choice: str, now: datetime, tz: ZoneInfo) -> datetime | None:
    local = now.astimezone(tz)
    if choice == "1h":
        return now + timedelta(hours=1)
    if choice == "tomorrow":
        return datetime.combine(local.date() + timedelta(days=1), time(9), tz)
    if choice == "week":
        return datetime.combine(local.date() + timedelta(days=7 - local.weekday()), time(9), tz)
    if choice == "7d":
        return datetime.combine(local.date() + timedelta(days=7), time(9), tz)
    return None


async def on_button(update: Update, context: Context) -> Any:
    result = await pressed(update, context)
    if result is None:
        return None
    staff, language, data = result
    svc = services(context)
    try:
        reminder = await svc.reminders.get_for(staff, data.args[0])
        if data.action == "snooze":
            until = snooze_until(data.args[1], svc.clock.now(), user_zone(staff, svc.config.tz))
            if until is None:
                raise AccessDenied(f"snooze {data.args[1]}")
            await svc.reminders.snooze(staff, reminder.id, until)
            await update.callback_query.answer(render(language, "reminder_snoozed",
                                                      until=when_text(until, language, staff.timezone)))
            await update.callback_query.edit_message_reply_markup(None)
            return None
        raise AccessDenied(f"reminder action {data.action}")
    except AccessDenied as denied:
        await deny(update, context, language, f"reminder button {data} ({denied})")
    return None


async def greeting_sent(update: Update, context: Context) -> None:
    """"✓ Sent": the greeting went out by WeChat/SMS — log it as a contact."""
    result = await pressed(update, context)
    if result is None:
        return
    staff, language, data = result
    svc = services(context)
    try:
        customer = await svc.customers.visible(staff, data.args[0])
    except AccessDenied:
        await deny(update, context, language, f"greeting {data.args[0]}")
        return
    occasion = data.args[1]
    festival = svc.generator.festival(occasion)
    label = festival.name(language) if festival else gettext_for(language)(BIRTHDAY_LABEL)
    await svc.interactions.log(staff, customer.id, kind=InteractionKind.MESSAGE, direction=Direction.OUTBOUND,
                               outcome=Outcome.REACHED,
                               summary=render(language, "greeting_logged", occasion=label))
    await update.callback_query.answer(render(language, "greeting_logged", occasion=label))


async def festivals_command(update: Update, context: Context) -> None:
    """/festivals: the coming festivals and birthdays, with how many of my customers each concerns."""
    from bot.domain import birthdays, festivals

    staff, language = await caller(update, context)
    svc = services(context)
    today = svc.clock.now().astimezone(user_zone(staff, svc.config.tz)).date()
    end = today + timedelta(days=60)
    customers = await svc.customers.all_visible(staff)
    lines = []
    for day, festival in festivals.occurrences(svc.generator.festivals, today, end):
        count = sum(1 for c in customers if festival.applies(c))
        lines.append((day.isoformat(), festival.name(language), count))
    upcoming = []
    for customer in customers:
        if customer.birthday is not None:
            when = birthdays.next_birthday(customer.birthday, today)
            if when <= end:
                upcoming.append((when.isoformat(), customer.name))
    await reply_html(update, context, render(language, "festivals", festivals=lines,
                                             birthdays=sorted(upcoming)[:30]), language)


QUIET_PRESETS = {"21-8": (21, 8), "22-7": (22, 7), "20-9": (20, 9), "off": None}
OFF_LABEL = N_("off")


async def settings_command(update: Update, context: Context) -> None:
    staff, language = await caller(update, context)
    svc = services(context)
    _ = gettext_for(language)
    quiet = svc.delivery.quiet_hours(staff)
    current = None if quiet is None or quiet[0] == quiet[1] else quiet
    buttons = [
        InlineKeyboardButton(("• " if current == value else "") + (f"{value[0]}:00–{value[1]}:00" if value else _(OFF_LABEL)),
                             callback_data=_cb("set", "quiet", key))
        for key, value in QUIET_PRESETS.items()
    ]
    await reply_html(update, context, render(language, "settings", quiet=quiet, timezone=staff.timezone),
                     language, reply_markup=InlineKeyboardMarkup([buttons]))


async def settings_button(update: Update, context: Context) -> None:
    result = await pressed(update, context)
    if result is None:
        return
    staff, language, data = result
    if data.action != "quiet" or data.args[0] not in QUIET_PRESETS:
        await deny(update, context, language, f"settings {data}")
        return
    svc = services(context)
    saved = await svc.staff.set_quiet_hours(staff, QUIET_PRESETS[data.args[0]])
    await update.callback_query.answer(render(language, "saved"))
    await update.callback_query.edit_message_text(
        render(language, "settings", quiet=svc.delivery.quiet_hours(saved), timezone=saved.timezone))


def handlers() -> list[BaseHandler]:
    return [
        CallbackQueryHandler(on_button, pattern=r"^rem:"),
        CallbackQueryHandler(greeting_sent, pattern=r"^greet:"),
        CommandHandler("festivals", festivals_command),
        CommandHandler("settings", settings_command),
        CallbackQueryHandler(settings_button, pattern=r"^set:"),
    ]
