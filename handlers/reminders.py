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
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from http import HTTPStatus
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from telegram import CopyTextButton, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, RetryAfter, TelegramError
from telegram.ext import Application, BaseHandler, CallbackQueryHandler, CommandHandler

from bot import labels
from bot.domain import catch_up, churn
from bot.domain.models import (
    Direction,
    InteractionKind,
    Outcome,
    Reminder,
    ReminderKind,
    StaffUser,
)
from bot.domain.overdue import overdue, overdue_first
from bot.domain.phones import format_phone
from bot.i18n import gettext_for
from bot.pacing import DeliveryPacer
from bot.render import render
from bot.services import Services
from bot.services.delivery import (
    Ambiguous,
    Parcel,
    Refused,
    RenderFailure,
    Result,
    RetryLater,
    SendError,
    TransientFailure,
)
from bot.services.errors import AccessDenied
from bot.services.reminder_generation import agenda_day
from bot.telegram_request import ServerError
from bot.textsplit import split_html
from handlers import callback_data
from handlers.callback_data import CallbackData
from handlers.common import (
    SERVICES_KEY,
    Context,
    button_handler,
    caller,
    deny,
    reply_html,
    services,
    user_zone,
)
from handlers.customer_view import day_text, reorder_context, when_text
from handlers.menu import N_

log = logging.getLogger(__name__)

Rendered = tuple[str, InlineKeyboardMarkup | None]
Renderer = Callable[[Services, Reminder, StaffUser, str], Awaitable[Rendered | None]]
RENDERERS: dict[ReminderKind, Renderer] = {}
COPY_LIMIT = 256
DEAL_BUTTONS = 5  # the agenda's deal buttons (the rest are listed in the text)
PACER_KEY = "delivery_pacer"

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
OPEN_LABEL = N_("📂 %(what)s: %(detail)s")


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


def delivery_pacer(application: Application) -> DeliveryPacer:
    """The pace of reminder sends (``bot/pacing.py``), one per application, over its rate limiter."""
    pacer = application.bot_data.get(PACER_KEY)
    if pacer is None:
        pacer = application.bot_data[PACER_KEY] = DeliveryPacer(getattr(application.bot, "rate_limiter", None))
    return pacer


async def _render(svc: Services, parcel: Parcel) -> Rendered | None:
    """The parcel as one message (text and buttons); None when there is nothing to say."""
    user = parcel.recipient
    try:
        if parcel.digest:
            return await _digest(svc, parcel)
        (reminder,) = parcel.reminders
        function = RENDERERS.get(reminder.kind)
        return await function(svc, reminder, user, user.language) if function else None
    except Exception as error:  # one broken reminder must not stop the others; the service logs it
        raise RenderFailure(f"render: {type(error).__name__}: {error}") from error


async def _send_telegram(application: Application, user: StaffUser, text: str,
                         markup: InlineKeyboardMarkup | None) -> None:
    """Send, translating the Bot API's answer into the delivery service's words."""
    note = gettext_for(user.language)("(message truncated: too long to show in full)")
    parts = split_html(text, note=note)
    for index, part in enumerate(parts):
        try:
            async with delivery_pacer(application).turn(user.telegram_id):  # the chat's rate, delivery's share
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


async def _digest(svc: Services, parcel: Parcel) -> Rendered:
    """One line per reminder; each keeps a button: the customer's card, else one that opens it."""
    user, language = parcel.recipient, parcel.recipient.language
    _ = gettext_for(language)
    lines, rows = [], []
    for reminder in parcel.reminders:
        customer = parcel.customers.get(reminder.customer_id or "")
        what = _(labels.REMINDER_KINDS[reminder.kind])
        detail_of = DIGEST_DETAILS.get(reminder.kind)
        detail = customer.name if customer else (detail_of(svc, reminder, language) if detail_of else "")
        lines.append((when_text(reminder.due_at, language, user.timezone), what, detail))
        if len(rows) >= DIGEST_BUTTONS:
            continue
        if customer is not None:
            rows.append([InlineKeyboardButton(customer.name[:40], callback_data=_cb("cust", "view", customer.id))])
        elif reminder.kind in RENDERERS:  # a report, greetings, an agenda: open it from here
            label = _(OPEN_LABEL) % {"what": what, "detail": detail or when_text(reminder.due_at, language,
                                                                                user.timezone)}
            rows.append([InlineKeyboardButton(label[:60], callback_data=_cb("rem", "open", reminder.id))])
    return render(language, "reminder_digest", lines=lines), InlineKeyboardMarkup(rows) if rows else None


DigestDetail = Callable[[Services, Reminder, str], str]
# What a digest line says about a reminder that is not about one customer (a report's period).
DIGEST_DETAILS: dict[ReminderKind, DigestDetail] = {}
DIGEST_BUTTONS = 90  # Telegram allows 100 buttons a message


def _agenda_detail(svc: Services, reminder: Reminder, language: str) -> str:
    return day_text(agenda_day(reminder), language)


def _greetings_detail(svc: Services, reminder: Reminder, language: str) -> str:
    return str(len(reminder.payload.get("items", [])))




# ---- renderers ---------------------------------------------------------------------------
def snooze_row(reminder: Reminder, language: str) -> list[InlineKeyboardButton]:
    _ = gettext_for(language)
    return [InlineKeyboardButton(_(SNOOZE_HOUR_LABEL), callback_data=_cb("rem", "snooze", reminder.id, "1h")),
            InlineKeyboardButton(_(SNOOZE_TOMORROW_LABEL), callback_data=_cb("rem", "snooze", reminder.id, "tomorrow")),
            InlineKeyboardButton(_(SNOOZE_WEEK_LABEL), callback_data=_cb("rem", "snooze", reminder.id, "week"))]


async def _follow_up(svc: Services, reminder: Reminder, user: StaffUser, language: str) -> Rendered | None:
    subject = await svc.delivery.subject(reminder, user)
    if subject is None or subject.customer is None:
        return None
    customer, last = subject.customer, subject.last_interaction
    _ = gettext_for(language)
    phone = customer.phones[0] if customer.phones else None
    text = render(language, "reminder_follow_up", c=customer,
                  phone=format_phone(phone, svc.config.locale.phone_region) if phone else None,
                  due=when_text(reminder.due_at, language, user.timezone),
                  last=last,
                  last_when=when_text(last.occurred_at, language, user.timezone) if last else None)
    markup = InlineKeyboardMarkup([
        [InlineKeyboardButton(_(DONE_LABEL), callback_data=_cb("log", "start", customer.id)),
         InlineKeyboardButton(_(OPEN_CARD_LABEL), callback_data=_cb("cust", "view", customer.id))],
        snooze_row(reminder, language),
    ])
    return text, markup


async def _greeting_items(svc: Services, reminder: Reminder, user: StaffUser, language: str) -> Rendered | None:
    subject = await svc.delivery.subject(reminder, user)
    if subject is None:
        return None
    _ = gettext_for(language)
    today = svc.clock.now().astimezone(user_zone(user, svc.config.tz)).date()
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
        day = date.fromisoformat(item["date"])
        entries.append({"name": customer.name, "occasion": occasion_name, "draft": draft,
                        "day": day_text(day, language), "relation": catch_up.relation(day, today).value})
        if len(rows) < 48:
            rows.append([
                InlineKeyboardButton(_(COPY_LABEL) % {"name": customer.name[:20]},
                                     copy_text=CopyTextButton(draft[:COPY_LIMIT])),
                InlineKeyboardButton(_(SENT_LABEL) % {"name": customer.name[:20]},
                                     callback_data=_cb("greet", "sent", customer.id, occasion)),
            ])
    if not entries:
        return None
    return render(language, "reminder_greetings", entries=entries,
                  missed=bool(reminder.payload.get("missed"))), InlineKeyboardMarkup(rows)




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


async def _reorder(svc: Services, reminder: Reminder, user: StaffUser, language: str) -> Rendered | None:
    """The customer's predicted reorder date is near: the rhythm, the date, a draft to send."""
    subject = await svc.delivery.subject(reminder, user)
    if subject is None or subject.customer is None:
        return None
    customer = subject.customer
    prediction = await svc.customers.reorder_prediction(user, customer.id)
    if prediction is None or prediction.last_purchase_on.isoformat() != reminder.payload.get("last"):
        return None  # bought since (or the rhythm is gone): nothing to remind
    _ = gettext_for(language)
    draft = render(language, "reorder_draft", c=customer, product=prediction.last_product)
    phone = customer.phones[0] if customer.phones else None
    text = render(language, "reminder_reorder", c=customer, draft=draft,
                  phone=format_phone(phone, svc.config.locale.phone_region) if phone else None,
                  **reorder_context(prediction, language))
    markup = InlineKeyboardMarkup([
        [InlineKeyboardButton(_(COPY_LABEL) % {"name": customer.name[:20]},
                              copy_text=CopyTextButton(draft[:COPY_LIMIT])),
         InlineKeyboardButton(_(DONE_LABEL), callback_data=_cb("log", "start", customer.id))],
        [InlineKeyboardButton(_(OPEN_CARD_LABEL), callback_data=_cb("cust", "view", customer.id))],
        snooze_row(reminder, language),
    ])
    return text, markup


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


async def _complaint(svc: Services, reminder: Reminder, user: StaffUser, language: str) -> Rendered | None:
    subject = await svc.delivery.subject(reminder, user)
    if subject is None or subject.feedback is None or subject.customer is None:
        return None
    item, customer = subject.feedback, subject.customer
    _ = gettext_for(language)
    return render(language, "reminder_complaint", c=customer, item=item), InlineKeyboardMarkup(
        [[InlineKeyboardButton(_(OPEN_FEEDBACK_LABEL), callback_data=_cb("fb", "view", item.id)),
          InlineKeyboardButton(_(OPEN_CARD_LABEL), callback_data=_cb("cust", "view", customer.id))]])


async def _agenda(svc: Services, reminder: Reminder, user: StaffUser, language: str) -> Rendered | None:
    day = agenda_day(reminder)
    if day < svc.clock.now().astimezone(user_zone(user, svc.config.tz)).date():
        return None  # superseded: an agenda is about its own day, never sent after it
    agenda = await svc.generator.agenda(user, day)
    greeting_count = await svc.generator.greeting_count(user, day)
    if not any(agenda.values()) and not greeting_count:
        return None
    now, tz = svc.clock.now(), user_zone(user, svc.config.tz)
    due = overdue_first(agenda["follow_ups"], lambda c: c.next_follow_up_at, now)
    rows = [[InlineKeyboardButton(f"{'⚠️' if overdue(c.next_follow_up_at, now, tz) else '📞'} {c.name}"[:40],
                                  callback_data=_cb("cust", "view", c.id))] for c in due[:10]]
    follow_ups = [(c.name, when_text(c.next_follow_up_at, language, tz),
                   late.days if (late := overdue(c.next_follow_up_at, now, tz)) else None) for c in due]
    todos = [(t.text, when_text(t.due_at, language, tz), t.due_at < now) for t in agenda.get("todos", [])]
    pipeline = svc.config.deals.pipeline
    deals = [(c.name, a.deal.title, pipeline.name(a.deal.stage, language), a.reason, a.days)
             for a, c in agenda.get("deals", [])]
    rows += [[InlineKeyboardButton(f"💼 {c.name} · {a.deal.title}"[:40], callback_data=_cb("dl", "view", a.deal.id))]
             for a, c in agenda.get("deals", [])[:DEAL_BUTTONS]]
    return render(language, "reminder_agenda", day=day.isoformat(), follow_ups=follow_ups, todos=todos, deals=deals,
                  feedback=[c.name for c in agenda["feedback"]], at_risk=[c.name for c in agenda["at_risk"]],
                  greetings=greeting_count), InlineKeyboardMarkup(rows) if rows else None


async def _catch_up(svc: Services, reminder: Reminder, user: StaffUser, language: str) -> Rendered | None:
    payload = reminder.payload
    return render(language, "reminder_catch_up",
                  first=day_text(date.fromisoformat(payload["from"]), language),
                  last=day_text(date.fromisoformat(payload["to"]), language),
                  days=payload.get("days", 0), greetings=payload.get("greetings", 0),
                  horizon=payload.get("horizon", svc.config.reminders.catch_up_days)), None


async def _delivery_failures(svc: Services, reminder: Reminder, user: StaffUser, language: str) -> Rendered | None:
    """An admin's daily list of the reminders Telegram refused for good."""
    _ = gettext_for(language)
    kinds = {kind: _(label) for kind, label in labels.REMINDER_KINDS.items()}
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


@button_handler
async def on_button(
    update: Update, context: Context, staff: StaffUser, language: str, data: CallbackData
) -> Any:
    svc = services(context)
    try:
        reminder = await svc.reminders.get_for(staff, data.args[0])
        if data.action == "snooze":
            until = snooze_until(data.args[1], svc.clock.now(), user_zone(staff, svc.config.tz))
            if until is None:
                raise AccessDenied(f"snooze {data.args[1]}")
            await svc.reminders.snooze(staff, reminder.id, until)
            if reminder.kind is ReminderKind.TODO_DUE:  # the to-do itself says until when
                await svc.todos.snoozed(staff, str(reminder.payload.get("todo_id", "")), until)
            await update.callback_query.answer(render(language, "reminder_snoozed",
                                                      until=when_text(until, language, staff.timezone)))
            await update.callback_query.edit_message_reply_markup(None)
            return None
        if data.action == "open":  # a digest line: show the reminder it stands for
            function = RENDERERS.get(reminder.kind)
            rendered = await function(svc, reminder, staff, language) if function else None
            await update.callback_query.answer()
            text, markup = rendered or (render(language, "reminder_gone"), None)
            await reply_html(update, context, text, language, reply_markup=markup)
            return None
        raise AccessDenied(f"reminder action {data.action}")
    except AccessDenied as denied:
        await deny(update, context, language, f"reminder button {data} ({denied})")
    return None


@button_handler
async def greeting_sent(
    update: Update, context: Context, staff: StaffUser, language: str, data: CallbackData
) -> None:
    """"✓ Sent": the greeting went out by WeChat/SMS — log it as a contact."""
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


@button_handler
async def settings_button(
    update: Update, context: Context, staff: StaffUser, language: str, data: CallbackData
) -> None:
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


@dataclass(frozen=True)
class Pushed:
    """How a feature shows the reminders it pushes: a renderer per kind, and what a digest line says."""

    renderers: dict[ReminderKind, Renderer]
    digest_details: dict[ReminderKind, DigestDetail]


def register(*features: Pushed) -> None:
    """Called by the composition root (``bot/app.py``) with every feature's pushed messages."""
    RENDERERS.clear()
    DIGEST_DETAILS.clear()
    for feature in features:
        RENDERERS.update(feature.renderers)
        DIGEST_DETAILS.update(feature.digest_details)


def pushed() -> Pushed:
    """The reminders this module renders: follow-ups, greetings, churn, feedback, agenda, catch-up."""
    return Pushed(
        renderers={
            ReminderKind.FOLLOW_UP: _follow_up,
            ReminderKind.CHURN_WARNING: _churn,
            ReminderKind.FEEDBACK_OVERDUE: _feedback_overdue,
            ReminderKind.COMPLAINT_ALERT: _complaint,
            ReminderKind.DAILY_AGENDA: _agenda,
            ReminderKind.CATCH_UP: _catch_up,
            ReminderKind.DELIVERY_FAILURES: _delivery_failures,
            ReminderKind.BIRTHDAY: _greeting_items,
            ReminderKind.FESTIVAL: _greeting_items,
            ReminderKind.REORDER: _reorder,
        },
        digest_details={
            ReminderKind.DAILY_AGENDA: _agenda_detail,
            ReminderKind.BIRTHDAY: _greetings_detail,
            ReminderKind.FESTIVAL: _greetings_detail,
        },
    )
