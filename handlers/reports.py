"""Manager reports (issue 8): /report, its buttons, a typed date range, the chart, the exports,
and the weekly / monthly reports the outbox pushes.

``/report`` (or "📊 Report" in the menu) shows the period buttons — today, this week, this
month, last month, a custom range — and, for managers and admins, who the report is about:
the whole team (everyone, for an admin) or one rep.  A rep always gets their own figures.
The report arrives as a text summary, then the chart (a PNG photo) carrying the export
buttons: the report as Excel, and the customer list as Excel or CSV with the user's current
``/list`` filters (narrowed to the rep when the report is about one rep).  Every export is
audited by the service.

A custom range is typed ("2026-03-01 2026-03-15", "3月1日-3月15日", "1 March - 15 March"):
the conversation waits in ``TYPE_RANGE``, re-asks with the reason on bad input and keeps
the chosen scope (in ``user_data``) until a range is read or /cancel.

Pushed reports: the delivery job renders the weekly/monthly reminder with the renderers of
``pushed()``, which the composition root registers — the text summary only, since a renderer
returns one message — with a "📊 Chart & Excel" button (``rep:files:<kind>:<dates>:<scope>``) that sends the chart and
the workbook when pressed.

Callback data (never trusted: the caller and the scope are checked again on every press):

- ``rep:scope:<scope>`` — redraw the picker for "all" or one staff id;
- ``rep:period:<today|this_week|this_month|last_month>:<scope>`` — send that report;
- ``rep:custom:<scope>`` — ask for a range;
- ``rep:xlsx:<kind>:<dates>:<scope>`` — the report's workbook;
- ``rep:files:<kind>:<dates>:<scope>`` — the chart and the workbook (pushed reports);
- ``rep:cust:<xlsx|csv>:<scope>`` — the customer list.

``<kind>:<dates>`` is a period frozen when the button was made: ``week:2026-03-02``,
``month:2026-02-01``, ``day:2026-03-02`` or ``custom:2026-03-01_2026-03-15``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from babel.dates import format_date, format_interval
from babel.numbers import format_currency, format_decimal, format_percent
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatAction
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot import labels
from bot.domain import access
from bot.domain.dates import parse_date_range
from bot.domain.models import Reminder, ReminderKind, StaffUser
from bot.domain.reports import SAME, Comparison, Period
from bot.domain.validation import ValidationError
from bot.i18n import Translator, gettext_for
from bot.labels import heading
from bot.render import render
from bot.services import Services
from bot.services.customers import ListFilter
from bot.services.errors import AccessDenied
from bot.services.reports import ALL, ReportResult, ReportScope, parse_period_token, period_token
from bot.textsplit import split_html
from handlers import callback_data
from handlers.common import Context, caller, deny, pressed, reply_html, send_html, services
from handlers.deals import pipeline_view
from handlers.menu import N_, REPORT, all_menu_labels
from handlers.menu import labels as menu_labels
from handlers.reasons import REASONS, reason_text
from handlers.reminders import Pushed, Rendered

log = logging.getLogger(__name__)

TYPE_RANGE = "rep:range"
SCOPE_KEY = "report_scope"
FILTER_KEY = "list_filter"  # handlers.search keeps the /list filters here
REP_ROWS = 10
ALWAYS_SHOWN = {"new_customers", "interactions", "active_reps", "purchases"}

PERIOD_LABELS = {
    "today": N_("Today"),
    "this_week": N_("This week"),
    "this_month": N_("This month"),
    "last_month": N_("Last month"),
}
CUSTOM_LABEL = N_("📅 Custom range…")
TEAM_LABEL = N_("👥 Whole team")
EVERYONE_LABEL = N_("🏢 Everyone")
XLSX_LABEL = N_("📊 Report (Excel)")
CUSTOMERS_XLSX_LABEL = N_("📋 Customers (Excel)")
CUSTOMERS_CSV_LABEL = N_("📋 Customers (CSV)")
FILES_LABEL = N_("📊 Chart & Excel")
PREPARING = N_("⏳ Preparing your report…")
RANGE_REASONS = {
    "range.unrecognised": N_(
        "I could not read two dates there. Examples: 2026-03-01 2026-03-15, 1 March - 15 March."
    ),
    "range.reversed": N_("The end date is before the start date."),
    "range.in_future": N_("That range starts in the future."),
    "range.too_long": N_("A report covers at most %(max_days)s days."),
}

RANGE_TEXT = filters.TEXT & ~filters.COMMAND & ~filters.Text(all_menu_labels())


def _cb(action: str, *args: str) -> str:
    return callback_data.encode("rep", action, *args)


def _locale(language: str) -> str:
    return "zh_CN" if language == "zh" else "en"


# ---- the picker --------------------------------------------------------------------------
async def _picker(
    svc: Services, actor: StaffUser, language: str, token: str
) -> tuple[str, InlineKeyboardMarkup]:
    """The period buttons, and for managers/admins who the report is about (``token`` chosen)."""
    scope = await svc.reports.scope(actor, token)
    _ = gettext_for(language)

    def period(choice: str) -> InlineKeyboardButton:
        return InlineKeyboardButton(_(PERIOD_LABELS[choice]), callback_data=_cb("period", choice, scope.token))

    rows = [
        [period("today"), period("this_week")],
        [period("this_month"), period("last_month")],
        [InlineKeyboardButton(_(CUSTOM_LABEL), callback_data=_cb("custom", scope.token))],
    ]
    if access.leads_people(actor.role):
        everyone = _(EVERYONE_LABEL if access.sees_everyone(actor.role) else TEAM_LABEL)
        buttons = [InlineKeyboardButton(("• " if scope.token == ALL else "") + everyone,
                                        callback_data=_cb("scope", ALL))]
        for person in await svc.reports.scope_choices(actor):
            mark = "• " if scope.token == person.id else ""
            buttons.append(InlineKeyboardButton(mark + person.name[:24], callback_data=_cb("scope", person.id)))
        rows += [buttons[i:i + 3] for i in range(0, len(buttons), 3)]
    text = render(language, "report_choose", **_scope_context(scope), manager=access.leads_people(actor.role))
    return text, InlineKeyboardMarkup(rows)


def _scope_context(scope: ReportScope) -> dict[str, Any]:
    name = scope.owner.name if scope.owner is not None else ", ".join(scope.teams)
    return {"scope_kind": scope.kind, "scope_name": name}


async def report_command(update: Update, context: Context) -> int:
    actor, language = await caller(update, context)
    context.user_data.pop(SCOPE_KEY, None)
    text, markup = await _picker(services(context), actor, language, ALL)
    await reply_html(update, context, text, language, reply_markup=markup)
    return ConversationHandler.END


# ---- buttons -----------------------------------------------------------------------------
async def on_button(update: Update, context: Context) -> str | int:
    """Every ``rep:`` button; the caller and the scope are re-checked on each press."""
    result = await pressed(update, context)
    if result is None:
        return ConversationHandler.END
    actor, language, data = result
    svc = services(context)
    query = update.callback_query
    try:
        if data.action == "scope":
            text, markup = await _picker(svc, actor, language, data.args[0])
            await query.answer()
            await query.edit_message_text(text, reply_markup=markup)
        elif data.action == "period":
            choice, token = data.args
            if choice not in PERIOD_LABELS:
                raise AccessDenied(f"period {choice}")
            await svc.reports.scope(actor, token)
            await query.answer()
            await send_report(context, update.effective_chat.id, actor, language, choice, token=token)
        elif data.action == "custom":
            scope = await svc.reports.scope(actor, data.args[0])
            context.user_data[SCOPE_KEY] = scope.token
            await query.answer()
            await reply_html(update, context, render(language, "report_range_ask"), language)
            return TYPE_RANGE
        elif data.action in ("xlsx", "files"):
            kind, start, end = parse_period_token(data.args[0], data.args[1])
            svc.reports.period(kind, start=start, end=end)  # a malformed range is refused here
            await svc.reports.scope(actor, data.args[2])
            await query.answer()
            chat_id = update.effective_chat.id
            await context.bot.send_chat_action(chat_id, ChatAction.UPLOAD_DOCUMENT)
            # the report just shown, unless a record came or went since (bot.services.reports.ReportCache)
            report = await svc.reports.report(actor, kind, start=start, end=end,
                                              scope_owner_id=data.args[2], language=language, reuse=True)
            if data.action == "files":
                await _send_chart(context, chat_id, report, language, with_buttons=False)
            await _send_workbook(context, chat_id, actor, report, language)
        elif data.action == "cust":
            fmt, token = data.args
            if fmt not in ("xlsx", "csv"):
                raise AccessDenied(f"export format {fmt}")
            await svc.reports.scope(actor, token)
            await query.answer()
            await _send_customers(context, update.effective_chat.id, actor, language, fmt, token)
        else:
            raise AccessDenied(f"report action {data.action}")
    except (AccessDenied, ValueError) as denied:
        await deny(update, context, language, f"report button {data} ({denied})",
                   denied=denied if isinstance(denied, AccessDenied) else None)
    return ConversationHandler.END


# ---- a typed range -----------------------------------------------------------------------
async def range_typed(update: Update, context: Context) -> str | int:
    actor, language = await caller(update, context)
    svc = services(context)
    token = context.user_data.get(SCOPE_KEY, ALL)
    today = svc.clock.now().astimezone(svc.config.tz).date()
    try:
        first, last = parse_date_range(update.effective_message.text or "", today=today)
    except ValidationError as error:
        await reply_html(update, context, render(language, "report_range_invalid",
                                                 reason=_range_reason(error, language)), language)
        return TYPE_RANGE
    try:
        await svc.reports.scope(actor, token)
    except AccessDenied as denied:
        context.user_data.pop(SCOPE_KEY, None)
        await deny(update, context, language, f"report scope {token}", denied=denied)
        return ConversationHandler.END
    context.user_data.pop(SCOPE_KEY, None)
    await send_report(context, update.effective_chat.id, actor, language, "custom",
                      start=first, end=last, token=token)
    return ConversationHandler.END


def _range_reason(error: ValidationError, language: str) -> str:
    if error.reason_code in REASONS:
        return reason_text(error, language)
    template = gettext_for(language)(RANGE_REASONS.get(error.reason_code, RANGE_REASONS["range.unrecognised"]))
    try:
        return template % dict(error.params) if error.params else template
    except (KeyError, ValueError, TypeError):
        return gettext_for(language)(RANGE_REASONS["range.unrecognised"])


async def cancel_range(update: Update, context: Context) -> int:
    _actor, language = await caller(update, context)
    context.user_data.pop(SCOPE_KEY, None)
    await reply_html(update, context, render(language, "cancelled"), language)
    return ConversationHandler.END


# ---- sending a report and its files ------------------------------------------------------
async def send_report(
    context: Context,
    chat_id: int,
    actor: StaffUser,
    language: str,
    kind: str,
    *,
    start: date | None = None,
    end: date | None = None,
    token: str = ALL,
) -> ReportResult:
    """"⏳ Preparing your report…" at once, edited into the summary when the figures are
    ready (they are computed off the event loop: everyone else is answered meanwhile),
    then the chart with the export buttons."""
    svc = services(context)
    placeholder = await send_html(context, chat_id, gettext_for(language)(PREPARING), language)
    result = await svc.reports.report(actor, kind, start=start, end=end, scope_owner_id=token,
                                      language=language)
    await _edit_into(context, chat_id, placeholder[-1], summary_text(result, language), language)
    await _send_chart(context, chat_id, result, language, with_buttons=True)
    return result


async def _edit_into(context: Context, chat_id: int, message: Message, text: str, language: str) -> None:
    """Replace ``message`` with ``text``; what does not fit in one message follows it."""
    parts = split_html(text, note=gettext_for(language)("(message truncated: too long to show in full)"))
    await context.bot.edit_message_text(parts[0], chat_id=chat_id, message_id=message.message_id)
    for part in parts[1:]:
        await context.bot.send_message(chat_id, part)


def _export_buttons(result: ReportResult, language: str) -> InlineKeyboardMarkup:
    _ = gettext_for(language)
    kind, dates = period_token(result.report.period)
    token = result.scope.token
    return InlineKeyboardMarkup([
        [InlineKeyboardButton(_(XLSX_LABEL), callback_data=_cb("xlsx", kind, dates, token))],
        [InlineKeyboardButton(_(CUSTOMERS_XLSX_LABEL), callback_data=_cb("cust", "xlsx", token)),
         InlineKeyboardButton(_(CUSTOMERS_CSV_LABEL), callback_data=_cb("cust", "csv", token))],
    ])


async def _send_chart(
    context: Context, chat_id: int, result: ReportResult, language: str, *, with_buttons: bool
) -> None:
    png = await services(context).reports.chart(result, language)  # matplotlib, in a worker thread
    caption = render(language, "report_chart_caption", period=period_text(result.report.period, language),
                     **_scope_context(result.scope))
    await context.bot.send_photo(
        chat_id, png, caption=caption,
        reply_markup=_export_buttons(result, language) if with_buttons else None,
    )


def _file_stem(result: ReportResult) -> str:
    period = result.report.period
    scope = result.scope.key.replace(":", "-").replace("+", "-")
    return f"report-{scope}-{period.first_day:%Y%m%d}-{period.last_day:%Y%m%d}"


async def _send_workbook(
    context: Context, chat_id: int, actor: StaffUser, result: ReportResult, language: str
) -> None:
    data = await services(context).reports.report_workbook(actor, result)
    await context.bot.send_document(
        chat_id, data, filename=f"{_file_stem(result)}.xlsx",
        caption=render(language, "report_export", period=period_text(result.report.period, language),
                       **_scope_context(result.scope)),
    )


async def _send_customers(
    context: Context, chat_id: int, actor: StaffUser, language: str, fmt: str, token: str
) -> None:
    svc = services(context)
    raw = context.user_data.get(FILTER_KEY, {}) or {}
    filters_ = ListFilter(owner_id=raw.get("owner"), tier=raw.get("tier"), stage=raw.get("stage"),
                          tag=raw.get("tag"), city=raw.get("city"), archived=bool(raw.get("archived")))
    await context.bot.send_chat_action(chat_id, ChatAction.UPLOAD_DOCUMENT)
    data, count = await svc.reports.customer_export(actor, filters_, fmt, scope_owner_id=token,
                                                    language=language)
    day = svc.clock.now().astimezone(svc.config.tz)
    filtered = any(raw.get(k) for k in ("owner", "tier", "stage", "tag", "city", "archived"))
    await context.bot.send_document(
        chat_id, data, filename=f"customers-{day:%Y%m%d}.{fmt}",
        caption=render(language, "report_customers_export", count=count, filtered=filtered),
    )


# ---- the summary text --------------------------------------------------------------------
def period_text(period: Period, language: str) -> str:
    """"Mar 2 – 8, 2026" / "2026年3月2日至8日"."""
    first, last = period.first_day, period.last_day
    if first == last:
        return format_date(first, "medium", locale=_locale(language))
    return format_interval(first, last, "yMMMd", locale=_locale(language))


def _number(key: str, value: Any, locale: str) -> str:
    if value is None:
        return "–"
    if key.startswith(("revenue:", "clv_average:")):
        return format_currency(value, key.split(":", 1)[1], locale=locale)
    if key == "follow_up_on_time_rate":
        return format_percent(value, "#,##0.#%", locale=locale)
    if key in ("avg_resolution_hours", "csat", "nps"):
        return format_decimal(value, "#,##0.#", locale=locale)
    return format_decimal(value, locale=locale)


def _change(comparison: Comparison, locale: str) -> str:
    direction = comparison.direction
    if not direction or direction == SAME:
        return labels.DIRECTION_SIGNS.get(direction, "")
    delta = comparison.delta
    return f"{labels.DIRECTION_SIGNS[direction]}{_number(comparison.key, abs(delta), locale)}"  # type: ignore[arg-type]


def _moves(
    table: Mapping[str, str], counts: Mapping[str, int], moves: Mapping[str, int] | None, _: Translator
) -> list[tuple[str, int, str]]:
    """(name, count, "▲2"/"▼1"/"") for every tier or stage that has customers or moved."""
    rows = []
    for key, count in counts.items():
        move = (moves or {}).get(key, 0)
        if count or move:
            name = heading(labels.name(table, key, _))
            rows.append((name, count, f"▲{move}" if move > 0 else f"▼{-move}" if move < 0 else ""))
    return rows


def _shown(comparison: Comparison, one_person: bool) -> bool:
    """Headline figures always; the others only when there is something to say."""
    if comparison.key == "active_reps":
        return not one_person
    if comparison.key in ALWAYS_SHOWN or comparison.key.startswith("revenue:"):
        return True
    return bool(comparison.current) or bool(comparison.previous)


def summary_text(result: ReportResult, language: str, *, title: str | None = None) -> str:
    """The report as one Telegram HTML message (zh/en templates; Babel-formatted numbers)."""
    report = result.report
    locale = _locale(language)
    _ = gettext_for(language)
    one_person = result.scope.owner is not None
    rows = [
        (labels.figure(c.key, _), _number(c.key, c.current, locale), _change(c, locale))
        for c in report.comparisons
        if _shown(c, one_person)
    ]
    reps = [] if one_person else [
        (r.name, r.interactions, r.new_customers, r.purchases) for r in report.reps if r.active
    ]
    moved = report.tier_movement is not None and (
        any(report.tier_movement.values()) or any((report.stage_movement or {}).values())
    )
    snapshot_day = (
        format_date(result.snapshot_at.astimezone(result.tz), "medium", locale=locale)
        if result.snapshot_at is not None and report.tier_movement is not None else None
    )
    return render(
        language, "report_summary",
        title=title,
        **_scope_context(result.scope),
        period=period_text(report.period, language),
        previous=period_text(report.previous_period, language),
        rows=rows,
        by_kind=[(heading(labels.name(labels.INTERACTION_KINDS, k, _)), n)
                 for k, n in report.interactions_by_kind.items() if n],
        reps=reps[:REP_ROWS],
        more_reps=max(0, len(reps) - REP_ROWS),
        checked_in={r.name: r.checked_in for r in report.reps if r.checked_in},
        inactive=[] if one_person else [r.name for r in report.inactive_reps],
        tiers=_moves(labels.TIERS, report.tiers, report.tier_movement, _),
        stages=_moves(labels.STAGES, report.stages, report.stage_movement, _),
        snapshot_day=snapshot_day,
        moved=moved,
        clv=[(_number(f"clv_average:{cur}", avg, locale), report.clv.customers.get(cur, 0))
             for cur, avg in report.clv.average.items()],
        at_risk=[(r.name, r.owner_name, r.score, labels.churn_reasons(r.reasons, _))
                 for r in report.at_risk],
        show_owner=not one_person,
        **_reorders_context(result, locale),
        customers=result.customers,
        generated=_when(report.generated_at, result, locale),
        pipeline=pipeline_view(result.pipeline, language),
    )


REORDER_ROWS = 15


def _reorders_context(result: ReportResult, locale: str) -> dict[str, Any]:
    """The reorders expected in the coming days (``bot.domain.reports.reorders``)."""
    coming = result.report.reorders
    if coming is None or not coming.rows:
        return {"reorders": []}
    return {
        "reorders": [(r.name, r.owner_name,
                      format_date(r.expected_on, "medium", locale=locale), r.tolerance_days,
                      format_currency(r.expected_amount, r.currency, locale=locale)
                      if r.expected_amount is not None and r.currency else None)
                     for r in coming.rows[:REORDER_ROWS]],
        "more_reorders": max(0, len(coming.rows) - REORDER_ROWS),
        "reorders_from": format_date(coming.start, "medium", locale=locale),
        "reorders_to": format_date(coming.end, "medium", locale=locale),
        "reorders_total": [format_currency(v, cur, locale=locale) for cur, v in sorted(coming.totals.items())],
    }


def _when(moment: datetime, result: ReportResult, locale: str) -> str:
    local = moment.astimezone(result.tz)
    return f"{format_date(local, 'medium', locale=locale)} {local:%H:%M}"


# ---- pushed reports (the outbox) ---------------------------------------------------------
async def _pushed(svc: Services, reminder: Reminder, user: StaffUser, language: str, title: str) -> Rendered | None:
    result = await svc.reports.scheduled_report(user, reminder, language)
    if result is None:
        return None
    _ = gettext_for(language)
    kind, dates = period_token(result.report.period)
    markup = InlineKeyboardMarkup([[InlineKeyboardButton(
        _(FILES_LABEL), callback_data=_cb("files", kind, dates, result.scope.token))]])
    return summary_text(result, language, title=title), markup


def _pushed_period(svc: Services, reminder: Reminder, language: str) -> str:
    """A digested report's line names its period (the line's button opens the report)."""
    period = reminder.payload.get("period", {})
    kind, start, end = parse_period_token(str(period.get("kind")), str(period.get("dates")))
    return period_text(svc.reports.period(kind, start=start, end=end), language)


async def _weekly_report(svc: Services, reminder: Reminder, user: StaffUser, language: str) -> Rendered | None:
    return await _pushed(svc, reminder, user, language, "weekly")


async def _monthly_report(svc: Services, reminder: Reminder, user: StaffUser, language: str) -> Rendered | None:
    return await _pushed(svc, reminder, user, language, "monthly")


def pushed() -> Pushed:
    """The weekly and monthly reports, as the delivery job pushes them."""
    return Pushed(
        renderers={
            ReminderKind.WEEKLY_REPORT: _weekly_report,
            ReminderKind.MONTHLY_REPORT: _monthly_report,
        },
        digest_details={
            ReminderKind.WEEKLY_REPORT: _pushed_period,
            ReminderKind.MONTHLY_REPORT: _pushed_period,
        },
    )


def handlers(conversation_timeout: Any = None) -> list[BaseHandler]:
    return [
        ConversationHandler(
            entry_points=[
                CommandHandler("report", report_command),
                MessageHandler(filters.Text(menu_labels(REPORT)), report_command),
                CallbackQueryHandler(on_button, pattern=r"^rep:"),
            ],
            states={TYPE_RANGE: [MessageHandler(RANGE_TEXT, range_typed)]},
            fallbacks=[CommandHandler("cancel", cancel_range)],
            name="reports",
            persistent=True,
            allow_reentry=True,
            conversation_timeout=conversation_timeout,
        ),
    ]
