"""Visit check-in (外勤签到): the location of a logged visit, its check-out, ``/visits``.

Ways in:

- saving a visit (handlers/interactions.py) offers "📍 Check in", a reply keyboard
  button that shares the phone's location (``request_location``);
- a location message: checks in the rep's open visit (logged within
  ``bot.services.visits.CHECK_IN_WINDOW``); a second one checks it out; after the
  card's "📍 Set location" (``visit:setloc:<customer>``) it becomes the customer's
  saved location instead;
- the check-in's "🏁 Check out" (``visit:out:<interaction>``); a live location shared
  at check-in checks out with each update (its last one is the visit's end);
- ``/visits``: the day's visits in order (managers pick a rep of their teams:
  ``visit:day:<rep>``).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    Update,
)
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.domain import geo
from bot.domain.models import Customer, GeoPoint, Interaction, StaffUser
from bot.i18n import gettext_for
from bot.render import render
from bot.services.errors import AccessDenied
from bot.services.visits import CheckIn
from handlers import callback_data
from handlers.callback_data import CallbackData
from handlers.common import (
    Context,
    answer_press,
    button_handler,
    caller,
    command_handler,
    deny,
    reply_html,
    services,
    user_zone,
)
from handlers.customer_view import when_text
from handlers.menu import N_, main_menu

log = logging.getLogger(__name__)

CHECK_IN_LABEL = N_("📍 Check in")
CHECK_OUT_LABEL = N_("🏁 Check out")
SET_LOCATION_LABEL = N_("📍 Set location")
SEND_LOCATION_LABEL = N_("📍 Send this location")
SET_LOCATION_KEY = "visit_set_location"  # user_data: the customer whose location the next pin sets


def _cb(action: str, *args: str) -> str:
    return callback_data.encode("visit", action, *args)


def location_keyboard(language: str, label: str = CHECK_IN_LABEL) -> ReplyKeyboardMarkup:
    _ = gettext_for(language)
    return ReplyKeyboardMarkup([[KeyboardButton(_(label), request_location=True)]],
                               resize_keyboard=True, one_time_keyboard=True)


async def offer_check_in(update: Update, context: Context, language: str, customer_name: str) -> None:
    """After a visit is saved: the "📍 Check in" button (the phone shares where the rep is)."""
    if context.user_data is not None:
        context.user_data.pop(SET_LOCATION_KEY, None)  # the next location is this visit's check-in
    await reply_html(update, context, render(language, "visit_check_in_offer", name=customer_name), language,
                     reply_markup=location_keyboard(language))


def set_location_button(language: str, customer_id: str) -> InlineKeyboardButton:
    """The card's "📍 Set location"."""
    return InlineKeyboardButton(gettext_for(language)(SET_LOCATION_LABEL), callback_data=_cb("setloc", customer_id))


METRES = N_("%(n)s m")
KILOMETRES = N_("%(n)s km")


def _distance(meters: float | None, language: str) -> str | None:
    if meters is None:
        return None
    _ = gettext_for(language)
    return _(METRES) % {"n": f"{meters:.0f}"} if meters < 1000 else _(KILOMETRES) % {"n": f"{meters / 1000:.1f}"}


def _minutes(duration: timedelta | None) -> int | None:
    return None if duration is None else round(duration.total_seconds() / 60)


def _visit_text(language: str, result: CheckIn, staff: StaffUser, svc: Any, template: str) -> str:
    visit, point = result.interaction, result.interaction.check_in
    tz = user_zone(staff, svc.config.tz)
    return render(
        language, template, name=result.customer.name, address=visit.check_in_address,
        distance=_distance(result.distance_m, language), far=result.far,
        limit=_distance(svc.config.visits.flag_distance_meters, language),
        accuracy=round(point.accuracy) if point and point.accuracy is not None else None,
        live=bool(point and point.live), location_saved=result.location_saved,
        at=when_text(point.at, language, tz) if point else None,
        out=when_text(visit.checked_out_at, language, tz) if visit.checked_out_at else None,
        minutes=_minutes(result.duration),
    )


def check_in_summary(visit: Interaction, language: str, tz: Any) -> dict[str, Any] | None:
    """A logged entry's check-in, as its view (handlers/interactions.py) shows it; None without one."""
    point = visit.check_in
    if point is None:
        return None
    return {"at": when_text(point.at, language, tz), "distance": _distance(visit.check_in_distance_m, language),
            "minutes": _minutes(geo.visit_duration(point.at, visit.checked_out_at))}


def _point(update: Update, svc: Any) -> GeoPoint:
    message = update.effective_message
    location = message.location
    live = bool(location.live_period)
    at = svc.clock.now()
    return GeoPoint(latitude=location.latitude, longitude=location.longitude, at=at,
                    accuracy=location.horizontal_accuracy, live=live)


async def on_location(update: Update, context: Context) -> None:
    """A location message: the customer's location (after "📍 Set location"), a check-in, or a check-out."""
    staff, language = await caller(update, context)
    if staff is None:
        return
    svc = services(context)
    point = _point(update, svc)
    menu = main_menu(language, staff.role)
    target = context.user_data.pop(SET_LOCATION_KEY, None) if context.user_data is not None else None
    try:
        if target:
            customer = await svc.visits.set_customer_location(staff, target, point)
            await reply_html(update, context, render(language, "visit_location_saved", name=customer.name),
                             language, reply_markup=menu)
            return
        visit = await svc.visits.open_visit(staff)
        if visit is None:
            await reply_html(update, context, render(language, "visit_no_open"), language, reply_markup=menu)
            return
        if visit.check_in is None:
            result = await svc.visits.check_in(staff, visit.id, point)
            _ = gettext_for(language)
            await reply_html(update, context, _visit_text(language, result, staff, svc, "visit_checked_in"),
                             language, reply_markup=menu)
            markup = InlineKeyboardMarkup([[InlineKeyboardButton(_(CHECK_OUT_LABEL), callback_data=_cb("out", visit.id))]])
            await reply_html(update, context, render(language, "visit_check_out_offer", live=point.live),
                             language, reply_markup=markup)
            return
        result = await svc.visits.check_out(staff, visit.id)  # a second location ends the visit
        await reply_html(update, context, _visit_text(language, result, staff, svc, "visit_checked_out"),
                         language, reply_markup=menu)
    except AccessDenied as denied:
        await deny(update, context, language, f"location ({denied})", denied=denied)


async def on_live_update(update: Update, context: Context) -> None:
    """An update of a live location shared at check-in: the visit's end moves to it (no reply)."""
    staff, _language = await caller(update, context)
    if staff is None:
        return
    svc = services(context)
    visit = await svc.visits.live_visit(staff)
    if visit is None:
        return
    message = update.effective_message
    at = message.edit_date or svc.clock.now()
    try:
        await svc.visits.check_out(staff, visit.id, at, live=True)
    except AccessDenied:
        log.info("live location update for a visit no longer checked in")


@button_handler
async def on_button(update: Update, context: Context, staff: StaffUser, language: str, data: CallbackData) -> None:
    """``visit:out:<interaction>``, ``visit:setloc:<customer>``, ``visit:day:<rep>``; access re-checked."""
    svc = services(context)
    if data.action == "out":
        result = await svc.visits.check_out(staff, data.args[0])
        await answer_press(update)
        await reply_html(update, context, _visit_text(language, result, staff, svc, "visit_checked_out"), language)
    elif data.action == "setloc":
        customer: Customer = await svc.customers.visible(staff, data.args[0])
        if context.user_data is not None:
            context.user_data[SET_LOCATION_KEY] = customer.id
        await answer_press(update)
        await reply_html(update, context, render(language, "visit_location_ask", name=customer.name), language,
                         reply_markup=location_keyboard(language, SEND_LOCATION_LABEL))
    elif data.action == "day":
        await _show_day(update, context, staff, language, data.args[0])


async def _show_day(update: Update, context: Context, staff: StaffUser, language: str, rep_id: str) -> None:
    svc = services(context)
    tz = user_zone(staff, svc.config.tz)
    today = svc.clock.now().astimezone(tz).date()
    visits = await svc.visits.day(staff, rep_id, today, tz)
    names = await svc.staff.names()
    rows = [{
        "at": when_text(v.interaction.occurred_at, language, tz), "name": v.customer.name,
        "checked_in": v.interaction.check_in is not None, "distance": _distance(v.distance_m, language), "far": v.far,
        "minutes": _minutes(v.duration),
    } for v in visits]
    text = render(language, "visits_day", rep=names.get(rep_id, rep_id), day=today.isoformat(), visits=rows)
    reps = await svc.visits.reps(staff)
    markup = None
    if len(reps) > 1:
        buttons = [InlineKeyboardButton(("• " if r.id == rep_id else "") + r.name[:30], callback_data=_cb("day", r.id))
                   for r in reps[:24]]
        markup = InlineKeyboardMarkup([buttons[i:i + 3] for i in range(0, len(buttons), 3)])
    if update.callback_query is not None:
        await answer_press(update)
        await update.callback_query.edit_message_text(text, reply_markup=markup)
    else:
        await reply_html(update, context, text, language, reply_markup=markup)


@command_handler("/visits")
async def visits_command(update: Update, context: Context, staff: StaffUser, language: str) -> None:
    """``/visits``: the caller's visits of the day; managers get a picker of their reps."""
    await _show_day(update, context, staff, language, staff.id)


def handlers() -> list[BaseHandler]:
    private = filters.ChatType.PRIVATE
    return [
        CommandHandler("visits", visits_command),
        MessageHandler(filters.UpdateType.MESSAGE & filters.LOCATION & private, on_location),
        MessageHandler(filters.UpdateType.EDITED_MESSAGE & filters.LOCATION & private, on_live_update),
        CallbackQueryHandler(on_button, pattern=r"^visit:(out|setloc|day):"),
    ]
