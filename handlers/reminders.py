"""Delivering the reminder outbox, and the buttons reminders carry.

``deliver_due`` is the scheduler's delivery job: it claims each due row,
honours the recipient's quiet hours and time zone, renders the message in
their language and marks the row sent only after Telegram accepted it
(errors and 429s are retried with backoff). Many overdue rows for one
person — after downtime — arrive as one "while you were away" digest.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from telegram import CopyTextButton, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import Forbidden, RetryAfter, TelegramError
from telegram.ext import Application, BaseHandler, CallbackQueryHandler, CommandHandler

from bot.domain import churn
from bot.domain.models import (
    Interaction,
    InteractionKind,
    Outcome,
    Reminder,
    ReminderKind,
    StaffUser,
)
from bot.i18n import gettext_for
from bot.render import render
from bot.services import Services
from bot.services.errors import AccessDenied
from bot.services.reminders import in_quiet_hours
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
OVERDUE_FOR_DIGEST = timedelta(hours=1)
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



def _quiet(user: StaffUser, svc: Services) -> tuple[int, int] | None:
    if user.quiet_hours is not None:
        return user.quiet_hours
    r = svc.config.reminders
    return (r.quiet_hours_start, r.quiet_hours_end)


# ---- delivery ----------------------------------------------------------------------------
async def deliver_due(application: Application, now: datetime) -> int:
    """Send every due reminder once; returns how many were sent."""
    svc: Services = application.bot_data[SERVICES_KEY]
    due = await svc.reminders.due(now, limit=500)
    by_recipient: dict[str, list[Reminder]] = defaultdict(list)
    for reminder in due:
        by_recipient[reminder.recipient_id].append(reminder)
    sent = 0
    for recipient_id, reminders in by_recipient.items():
        user = await svc.store.staff.get(recipient_id)
        if user is None or not user.active:
            for reminder in reminders:
                await svc.reminders.cancel(reminder.dedupe_key, "recipient not active")
            continue
        quiet_end = in_quiet_hours(now, user_zone(user, svc.config.tz), _quiet(user, svc))
        if quiet_end is not None:
            for reminder in reminders:
                claimed = await svc.reminders.claim(reminder, now)
                if claimed is not None:
                    await svc.reminders.postpone(claimed, quiet_end.astimezone(now.tzinfo), "quiet hours")
            continue
        overdue = [r for r in reminders if now - r.due_at > OVERDUE_FOR_DIGEST]
        if len(overdue) > svc.config.reminders.digest_threshold:
            sent += await _send_digest(application, svc, user, overdue, now)
            reminders = [r for r in reminders if r not in overdue]
        for reminder in reminders:
            sent += await _send_one(application, svc, user, reminder, now)
    return sent


async def _send_one(application: Application, svc: Services, user: StaffUser, reminder: Reminder,
                    now: datetime) -> int:
    claimed = await svc.reminders.claim(reminder, now)
    if claimed is None:
        return 0
    function = RENDERERS.get(claimed.kind)
    try:
        rendered = await function(svc, claimed, user, user.language) if function else None
    except Exception as error:  # one broken reminder must not stop the others
        log.exception("rendering reminder %s failed", claimed.id)
        await svc.reminders.failed(claimed, now, f"render: {type(error).__name__}",
                                   max_attempts=svc.config.reminders.max_attempts)
        return 0
    if rendered is None:
        await svc.reminders.cancel(claimed.dedupe_key, "nothing left to say")
        return 0
    text, markup = rendered
    try:
        parts = split_html(text, note=gettext_for(user.language)("(message truncated: too long to show in full)"))
        for index, part in enumerate(parts):
            await application.bot.send_message(
                user.telegram_id, part, reply_markup=markup if index == len(parts) - 1 else None)
    except RetryAfter as error:
        retry = error.retry_after.total_seconds() if isinstance(error.retry_after, timedelta) else error.retry_after
        await svc.reminders.failed(claimed, now, "flood control", retry_after=float(retry),
                                   max_attempts=svc.config.reminders.max_attempts)
        return 0
    except (Forbidden, TelegramError) as error:
        log.warning("reminder %s to %s failed: %s", claimed.id, user.id, error)
        await svc.reminders.failed(claimed, now, f"{type(error).__name__}: {error}",
                                   max_attempts=svc.config.reminders.max_attempts)
        return 0
    await svc.reminders.mark_sent(claimed, now)
    return 1


async def _send_digest(application: Application, svc: Services, user: StaffUser, reminders: list[Reminder],
                       now: datetime) -> int:
    claimed = [c for r in reminders if (c := await svc.reminders.claim(r, now)) is not None]
    if not claimed:
        return 0
    language = user.language
    _ = gettext_for(language)
    lines, rows = [], []
    for reminder in claimed:
        customer = await svc.store.customers.get(reminder.customer_id) if reminder.customer_id else None
        lines.append((when_text(reminder.due_at, language, user.timezone), _(KIND_LABELS[reminder.kind]),
                      customer.name if customer else ""))
        if customer is not None and len(rows) < 20:
            rows.append([InlineKeyboardButton(customer.name[:40], callback_data=_cb("cust", "view", customer.id))])
    try:
        await application.bot.send_message(
            user.telegram_id, render(language, "reminder_digest", lines=lines),
            reply_markup=InlineKeyboardMarkup(rows) if rows else None)
    except TelegramError as error:
        for reminder in claimed:
            await svc.reminders.failed(reminder, now, f"{type(error).__name__}: {error}",
                                       max_attempts=svc.config.reminders.max_attempts)
        return 0
    for reminder in claimed:
        await svc.reminders.mark_sent(reminder, now)
    return len(claimed)


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
}


# ---- renderers ---------------------------------------------------------------------------
def _snooze_row(reminder: Reminder, language: str) -> list[InlineKeyboardButton]:
    _ = gettext_for(language)
    return [InlineKeyboardButton(_(SNOOZE_HOUR_LABEL), callback_data=_cb("rem", "snooze", reminder.id, "1h")),
            InlineKeyboardButton(_(SNOOZE_TOMORROW_LABEL), callback_data=_cb("rem", "snooze", reminder.id, "tomorrow")),
            InlineKeyboardButton(_(SNOOZE_WEEK_LABEL), callback_data=_cb("rem", "snooze", reminder.id, "week"))]


@renderer(ReminderKind.FOLLOW_UP)
async def _follow_up(svc: Services, reminder: Reminder, user: StaffUser, language: str) -> Rendered | None:
    customer = await svc.store.customers.get(reminder.customer_id or "")
    if customer is None or customer.archived or customer.owner_id != user.id:
        return None
    last = await svc.store.interactions.find({"customer_id": customer.id, "deleted": False},
                                             order_by="occurred_at", descending=True, limit=1)
    _ = gettext_for(language)
    phone = customer.phones[0] if customer.phones else None
    from bot.domain.validation import format_phone

    text = render(language, "reminder_follow_up", c=customer,
                  phone=format_phone(phone, svc.config.locale.phone_region) if phone else None,
                  due=when_text(reminder.due_at, language, user.timezone),
                  last=last[0] if last else None,
                  last_when=when_text(last[0].occurred_at, language, user.timezone) if last else None)
    markup = InlineKeyboardMarkup([
        [InlineKeyboardButton(_(DONE_LABEL), callback_data=_cb("log", "start", customer.id)),
         InlineKeyboardButton(_(OPEN_CARD_LABEL), callback_data=_cb("cust", "view", customer.id))],
        _snooze_row(reminder, language),
    ])
    return text, markup


async def _greeting_items(svc: Services, reminder: Reminder, user: StaffUser, language: str) -> Rendered | None:
    _ = gettext_for(language)
    entries, rows = [], []
    for item in reminder.payload.get("items", []):
        customer = await svc.store.customers.get(item["customer_id"])
        if customer is None or customer.archived or customer.owner_id != user.id:
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
    if reminder.payload.get("summary"):
        names = []
        for customer_id in reminder.payload.get("customers", []):
            customer = await svc.store.customers.get(customer_id)
            if customer is not None:
                names.append(customer.name)
        if not names:
            return None
        return render(language, "reminder_churn_summary", names=names, team=reminder.payload.get("team")), None
    customer = await svc.store.customers.get(reminder.customer_id or "")
    if customer is None or customer.archived or customer.owner_id != user.id:
        return None
    reasons = churn.render_reasons(
        [churn.Reason.from_dict(r) for r in reminder.payload.get("reasons", [])], language)
    markup = InlineKeyboardMarkup([
        [InlineKeyboardButton(_(LOG_CALL_LABEL), callback_data=_cb("log", "start", customer.id)),
         InlineKeyboardButton(_(OPEN_CARD_LABEL), callback_data=_cb("cust", "view", customer.id))],
        [InlineKeyboardButton(_(SNOOZE_DAYS_LABEL), callback_data=_cb("rem", "snooze", reminder.id, "7d"))],
    ])
    return render(language, "reminder_churn", c=customer, score=reminder.payload.get("score"), reasons=reasons), markup


@renderer(ReminderKind.FEEDBACK_OVERDUE)
async def _feedback_overdue(svc: Services, reminder: Reminder, user: StaffUser, language: str) -> Rendered | None:
    item = await svc.store.feedback.get(reminder.payload.get("feedback_id", ""))
    customer = await svc.store.customers.get(reminder.customer_id or "")
    if item is None or customer is None or item.deleted or item.status.value in ("resolved", "confirmed"):
        return None
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
    item = await svc.store.feedback.get(reminder.payload.get("feedback_id", ""))
    customer = await svc.store.customers.get(reminder.customer_id or "")
    if item is None or customer is None:
        return None
    _ = gettext_for(language)
    return render(language, "reminder_complaint", c=customer, item=item), InlineKeyboardMarkup(
        [[InlineKeyboardButton(_(OPEN_FEEDBACK_LABEL), callback_data=_cb("fb", "view", item.id)),
          InlineKeyboardButton(_(OPEN_CARD_LABEL), callback_data=_cb("cust", "view", customer.id))]])


@renderer(ReminderKind.DAILY_AGENDA)
async def _agenda(svc: Services, reminder: Reminder, user: StaffUser, language: str) -> Rendered | None:
    day = date.fromisoformat(reminder.payload.get("day", reminder.due_at.date().isoformat()))
    agenda = await svc.generator.agenda(user, day)
    greetings = await svc.store.reminders.get_by("dedupe_key", f"greetings:{user.id}:{day.isoformat()}")
    greeting_count = len(greetings.payload.get("items", [])) if greetings else 0
    if not any(agenda.values()) and not greeting_count:
        return None
    rows = [[InlineKeyboardButton(f"📞 {c.name}"[:40], callback_data=_cb("cust", "view", c.id))]
            for c in agenda["follow_ups"][:10]]
    follow_ups = [(c.name, when_text(c.next_follow_up_at, language, user.timezone)) for c in agenda["follow_ups"]]
    return render(language, "reminder_agenda", day=day.isoformat(), follow_ups=follow_ups,
                  feedback=[c.name for c in agenda["feedback"]], at_risk=[c.name for c in agenda["at_risk"]],
                  greetings=greeting_count), InlineKeyboardMarkup(rows) if rows else None


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
    now = svc.clock.now()
    occasion = data.args[1]
    festival = svc.generator.festival(occasion)
    label = festival.name(language) if festival else gettext_for(language)(BIRTHDAY_LABEL)
    interaction = await svc.store.interactions.insert(Interaction(
        customer_id=customer.id, owner_id=staff.id, kind=InteractionKind.MESSAGE, occurred_at=now,
        outcome=Outcome.REACHED, summary=render(language, "greeting_logged", occasion=label),
        created_at=now, updated_at=now))
    await svc.audit.record_change(staff.id, "create", "interaction", None, interaction)
    await svc.customers.reclassify(customer.id)
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
    quiet = _quiet(staff, svc)
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
    value = QUIET_PRESETS[data.args[0]]
    updated = dataclasses.replace(staff, quiet_hours=value if value else (0, 0), updated_at=svc.clock.now())
    saved = await svc.store.staff.update(updated)
    await svc.audit.record_change(staff.id, "update", "staff", staff, saved)
    await update.callback_query.answer(render(language, "saved"))
    await update.callback_query.edit_message_text(
        render(language, "settings", quiet=_quiet(saved, svc), timezone=saved.timezone))


def handlers() -> list[BaseHandler]:
    return [
        CallbackQueryHandler(on_button, pattern=r"^rem:"),
        CallbackQueryHandler(greeting_sent, pattern=r"^greet:"),
        CommandHandler("festivals", festivals_command),
        CommandHandler("settings", settings_command),
        CallbackQueryHandler(settings_button, pattern=r"^set:"),
    ]
