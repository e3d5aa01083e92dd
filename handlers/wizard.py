"""One conversation engine for every form: a form is a list of steps, the engine does the talking.

A feature declares a :class:`Form` — its steps (key, kind, a parser from
``bot.domain``, choices, required or skippable, the label of its button on
the confirmation card), its screens (the question of a step, the
confirmation card) and an ``on_save`` that calls its service. The engine
builds the form's one ``ConversationHandler`` with a state per step, the
back / skip / cancel buttons and commands, the re-ask with a reason on bad
input, the confirmation card with one-tap field edits and Save, and the
resume of a persisted draft from any of the form's buttons.

The form's state lives in one place: the draft in ``user_data[form.draft_key]``
(persisted with the conversation), a plain dict of the values entered so far
plus what the feature put there when it began the form. Which step is being
asked is the conversation state and nothing else. Every change bumps the
draft's version; Save carries the token and version of the draft the card
showed, so a save acts on exactly that draft, and only once.

Saves survive ``kill -9`` (issue 14): every screen the engine shows is sent
only after the draft and the conversation state it belongs to are in the
store (:func:`durable`: write-through, not PTB's batched interval), so an
acknowledged step is never lost and a restarted bot has the draft the user
last saw. A Save whose token or version is not the current draft's is
refused ("this card is out of date", with the current card) or, if that
draft was saved, answered "already saved" (``bot.services.drafts``: the
ledger of saved tokens). The draft's token is also the id of the record it
creates (``Turn.record_id``), so a save repeated after a crash between the
record and the ledger is refused by the store itself.

Callback data of a form: ``<form>:<action>[:<arg>]`` — ``field:<key>``,
``save:<token>``, ``back:<key>``, ``skip:<key>``, ``cancel`` and, per step,
``<step action>:<code>`` for its choices. A pressed choice is looked up among
the choices offered now, never taken on trust.
"""

from __future__ import annotations

import inspect
import logging
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import Enum
from typing import Any
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update, ext
from telegram.ext import CallbackQueryHandler, CommandHandler, ConversationHandler, MessageHandler

from bot.domain.models import Customer, Role, StaffUser, new_id
from bot.domain.validation import ValidationError
from bot.i18n import gettext_for
from bot.persistence import StorePersistence
from bot.render import render
from bot.services import Services
from bot.services.drafts import AlreadySaved
from bot.services.errors import AccessDenied
from handlers import callback_data, common
from handlers.commands import ALL_COMMANDS
from handlers.customer_card import send_card
from handlers.menu import N_, all_menu_labels, main_menu
from handlers.reasons import reason_text

SAVE_LABEL = N_("✅ Save")
CANCEL_LABEL = N_("✖ Cancel")
SKIP_LABEL = N_("Skip")
OUT_OF_DATE = N_("This card is out of date — here is the current one.")
ALREADY_SAVED = N_("Already saved — nothing was stored twice.")
NOTHING_TO_SAVE = N_("This card is out of date: there is no draft to save any more.")

log = logging.getLogger(__name__)

END = ConversationHandler.END
CONFIRM = "confirm"  # the key of the confirmation card, as a step key in ``back:<key>``
TOKEN, VERSION, REVIEW = "token", "version", "review"  # the engine's own keys in a draft
CARD_SHOWN = "card_shown"  # the confirmation card has been shown for this draft
OPENED_FROM = "opened_from"  # begun from a customer's card: {"id": customer id, "keys": the values it gave}
ENGINE_ACTIONS = {"field": 1, "save": 1, "back": 1, "skip": 1, "cancel": 0}


class Kind(Enum):
    """What a step takes; the engine listens for that (a text, a press, a file, a location)."""

    TEXT = "text"
    CHOICE = "choice"  # buttons; typed text too when the step has a parser
    CUSTOMER = "customer"  # typed text searches, a press picks one the caller may see
    WHEN = "when"  # a day and time: quick buttons or typed text
    RATING = "rating"  # a number on a scale: buttons or typed digits
    AMOUNT = "amount"
    FILE = "file"  # typed text, or a voice note / document / photo kept by ``file_id``
    LOCATION = "location"  # a shared location


@dataclass(frozen=True)
class Inputs:
    """What parsing needs besides the text: plain values, no Telegram."""

    now: datetime
    tz: ZoneInfo  # the user's
    today: date  # in the company's time zone
    phone_region: str
    currency: str


@dataclass(frozen=True)
class Choice:
    """One button of a step: ``code`` goes into the callback data, ``value`` into the draft."""

    code: str
    label: str  # already translated
    value: Any = None


@dataclass(frozen=True)
class Attachment:
    """A file sent at a FILE step, or the place shared at a LOCATION step."""

    kind: str  # voice | audio | document | photo | location
    file_id: str | None = None
    file_unique_id: str | None = None
    file_name: str | None = None
    mime_type: str | None = None
    size: int | None = None
    latitude: float | None = None
    longitude: float | None = None


Parse = Callable[[str, Inputs], Any]
Choices = Callable[["Turn"], Sequence[Choice] | Awaitable[Sequence[Choice]]]


@dataclass(frozen=True)
class Step:
    key: str
    kind: Kind
    parse: Parse | None = None  # typed text → value; raises ValidationError (the reason is shown)
    choices: Choices | None = None
    required: bool = True
    label: str | None = None  # msgid of its button on the confirmation card; None: not editable there
    in_sequence: bool = True  # asked in turn; False: only from the confirmation card
    applies: Callable[[dict[str, Any]], bool] = lambda draft: True
    action: str = ""  # callback action of its buttons; the key by default
    columns: int = 3
    skip_value: Any = None
    store: Callable[[dict[str, Any], Any], None] | None = None  # how a value goes into the draft
    attach: Callable[[Turn, Attachment], Any] | None = None  # FILE / LOCATION: the value of an attachment
    search: Callable[[Turn, str], Awaitable[Sequence[Choice]]] | None = None  # CUSTOMER: typed text
    pick: Callable[[Turn, Customer], bool] | None = None  # CUSTOMER: apply a picked one; False refuses
    toggle: Toggle | None = None  # a second value set on the same screen (e.g. the direction)

    @property
    def button(self) -> str:
        return self.action or self.key


@dataclass(frozen=True)
class Toggle:
    key: str
    action: str
    choices: Callable[[Turn], Sequence[Choice]]


@dataclass(frozen=True)
class Prompt:
    """What a step's screen shows: the step, why it is asked again, the offered choices, a search."""

    step: Step
    reason: str | None = None
    choices: Sequence[Choice] = ()
    query: str | None = None  # what was typed to search (CUSTOMER steps)
    no_match: bool = False  # the search found nothing


@dataclass(frozen=True)
class Form:
    name: str  # callback feature and state prefix, e.g. "log"
    conversation: str  # the persisted conversation's name
    draft_key: str
    steps: tuple[Step, ...]
    ask: Callable[[Turn, Prompt], str | Awaitable[str]]
    on_save: Callable[..., Awaitable[str | None]]  # None: saved; a state: stay there, the draft kept
    entry_points: Sequence[ext.BaseHandler] = ()
    confirm: Callable[[Turn, str | None], str | Awaitable[str]] | None = None  # None: save after the last step
    extra_states: Mapping[str, Sequence[ext.BaseHandler]] = field(default_factory=dict)
    back_button: bool = True
    # ``<name>:<customer_start>:<customer id>`` begins the form on ``customer_values(customer, services)``
    customer_start: str | None = None
    customer_values: Callable[[Customer, Services], dict[str, Any]] | None = None
    # ``<edit_button>:<record id>`` opens the card on ``await edit_values(staff, id, services)``
    # (AccessDenied: "not available")
    edit_button: str | None = None
    edit_values: Callable[[StaffUser, str, Services], Awaitable[dict[str, Any]]] | None = None
    mark_filled: bool = False  # "✓ " on the card's buttons of filled fields
    field_columns: int = 2

    def step(self, key: str) -> Step | None:
        return next((s for s in self.steps if s.key == key), None)

    def state(self, key: str) -> str:
        return f"{self.name}:{key}"

    def cb(self, action: str, *args: str) -> str:
        return callback_data.encode(self.name, action, *args)


@dataclass
class Turn:
    """Everything handling one update of a form needs: who, in which language, which draft."""

    form: Form
    update: Update
    context: common.Context
    staff: StaffUser
    language: str
    draft: dict[str, Any]

    @property
    def svc(self) -> Services:
        return common.services(self.context)

    def _(self, msgid: str) -> str:
        return gettext_for(self.language)(msgid)

    @property
    def record_id(self) -> str:
        """The id of the record this draft creates: its token, so that it is created only once."""
        return str(self.draft[TOKEN])

    @property
    def tz(self) -> ZoneInfo:
        return common.user_zone(self.staff, self.svc.config.tz)

    @property
    def inputs(self) -> Inputs:
        svc = self.svc
        now = svc.clock.now()
        return Inputs(now=now, tz=self.tz, today=now.astimezone(svc.config.tz).date(),
                      phone_region=svc.config.locale.phone_region, currency=svc.config.locale.currency)

    def filled(self, key: str) -> bool:
        return self.draft.get(key) not in (None, "", [])

    def shown(self, table: Mapping[str, str], key: str, default: str | None = None) -> str:
        """The draft's value of ``key`` by its label in a ``bot.labels`` table ("—" when unset)."""
        return common.display_name(self.language, table, self.draft.get(key, default))

    def card(self, template: str, reason: str | None, **fields: Any) -> str:
        """The confirmation card: the fields every form's card shows, then the form's own."""
        return render(self.language, template, reason=reason,
                      editing=self.draft.get("mode") == "edit",
                      name=self.draft.get("customer_name", ""), **fields)


def options(turn: Turn, table: Mapping[str, str]) -> list[Choice]:
    """Choices from a ``bot.labels`` table: code = value = the enum value, the label translated."""
    return [Choice(code, turn._(msgid), code) for code, msgid in table.items()]


def customer_choices(customers: Sequence[Customer]) -> list[Choice]:
    return [Choice(c.id, (c.name + (f" · {c.company}" if c.company else ""))[:60], c.id) for c in customers]


# ---- driving a form ------------------------------------------------------------------------
async def begin(update: Update, context: common.Context, form: Form, values: dict[str, Any], *,
                review: bool = False, at: str | None = None, reason: str | None = None,
                choices: Sequence[Choice] | None = None, query: str | None = None,
                no_match: bool = False) -> str | int:
    """Start ``form`` on a fresh draft (replacing any of the same form) and ask what is missing.

    ``review``: straight to the confirmation card (editing a record, a quick add); ``at``: ask
    that step first (with ``reason``: why, e.g. what a quick add could not read).
    """
    staff, language = await common.caller(update, context)
    if staff is None:
        await common.deny(update, context, language, f"{form.name} without staff")
        return ConversationHandler.END
    draft = {**values, TOKEN: new_id(), VERSION: 0, REVIEW: review}
    context.user_data[form.draft_key] = draft
    turn = Turn(form, update, context, staff, language, draft)
    step = form.step(at) if at else None
    if step is not None:
        return await ask(turn, step, reason=reason, choices=choices, query=query, no_match=no_match)
    return await advance(turn, reason=reason)


async def begin_for_customer(update: Update, context: common.Context, form: Form, customer_id: str, *,
                             extra: Mapping[str, Any] | None = None) -> str | int | None:
    """Begin ``form`` about a customer the caller may see; "not available" (and None) otherwise.

    ``extra``: values known already (a won deal's amount for its purchase)."""
    staff, language = await common.caller(update, context)
    try:
        if staff is None or form.customer_values is None:
            raise AccessDenied("not staff")
        customer = await common.services(context).customers.visible(staff, customer_id)
    except AccessDenied:
        await common.deny(update, context, language, f"{form.name} for {customer_id}")
        return None
    await common.answer_press(update)
    values = {**form.customer_values(customer, common.services(context)), **(extra or {})}
    return await begin(update, context, form, {**values, OPENED_FROM: {"id": customer.id, "keys": sorted(values)}})


async def _customer_button(form: Form, update: Update, context: common.Context) -> str | int | None:
    data = callback_data.parse(update.callback_query.data if update.callback_query else None)
    return await begin_for_customer(update, context, form, data.args[0] if data and data.args else "")


async def _edit_button(form: Form, update: Update, context: common.Context) -> str | int | None:
    staff, language = await common.caller(update, context)
    data = callback_data.parse(update.callback_query.data if update.callback_query else None)
    try:
        if staff is None or data is None or not data.args or form.edit_values is None:
            raise AccessDenied("edit button")
        values = await form.edit_values(staff, data.args[0], common.services(context))
    except AccessDenied:
        await common.deny(update, context, language, f"{form.name} edit {data}")
        return None
    await common.answer_press(update)
    return await begin(update, context, form, {"mode": "edit", **values}, review=True)


async def advance(turn: Turn, *, reason: str | None = None) -> str | int:
    """The next unanswered step, or (all answered, or reviewing) the confirmation card."""
    if not turn.draft.get(REVIEW):
        for step in turn.form.steps:
            if step.in_sequence and step.applies(turn.draft) and step.key not in turn.draft:
                return await ask(turn, step, reason=reason)
    if turn.form.confirm is None:
        return await save(turn, None)
    return await show_confirm(turn, reason=reason)


async def ask(turn: Turn, step: Step, *, reason: str | None = None, choices: Sequence[Choice] | None = None,
              query: str | None = None, no_match: bool = False) -> str:
    if choices is None:
        choices = await _choices(step, turn)
    rows: list[list[InlineKeyboardButton]] = []
    if step.toggle is not None and (toggles := step.toggle.choices(turn)):  # none: no second value here
        current = turn.draft.get(step.toggle.key)
        rows.append([InlineKeyboardButton(("• " if c.value == current else "") + c.label,
                                          callback_data=turn.form.cb(step.toggle.action, c.code))
                     for c in toggles])
    buttons = [InlineKeyboardButton(c.label, callback_data=turn.form.cb(step.button, c.code)) for c in choices]
    rows += [buttons[i:i + step.columns] for i in range(0, len(buttons), step.columns)]
    nav = []
    if turn.form.back_button and (_from_card(turn) or _previous(turn, step) is not None
                                  or _back_to_customer(turn, step) is not None):
        nav.append(InlineKeyboardButton(turn._(common.BACK_LABEL), callback_data=turn.form.cb("back", step.key)))
    if not step.required:
        nav.append(InlineKeyboardButton(turn._(SKIP_LABEL), callback_data=turn.form.cb("skip", step.key)))
    nav.append(InlineKeyboardButton(turn._(CANCEL_LABEL), callback_data=turn.form.cb("cancel")))
    rows.append(nav)
    text = await _maybe(turn.form.ask(turn, Prompt(step, reason, choices, query, no_match)))
    await durable(turn, turn.form.state(step.key))
    await common.reply_html(turn.update, turn.context, text, turn.language, reply_markup=InlineKeyboardMarkup(rows))
    return turn.form.state(step.key)


async def show_confirm(turn: Turn, *, reason: str | None = None) -> str:
    """The confirmation card: the form's text, Save (this very draft), one button per field, Cancel."""
    assert turn.form.confirm is not None
    turn.draft[REVIEW] = True
    turn.draft[CARD_SHOWN] = True
    fields = [
        InlineKeyboardButton(("✓ " if turn.form.mark_filled and turn.filled(s.key) else "") + turn._(s.label),
                             callback_data=turn.form.cb("field", s.key))
        for s in turn.form.steps if s.label and s.applies(turn.draft)
    ]
    columns = turn.form.field_columns
    rows = [[InlineKeyboardButton(turn._(SAVE_LABEL), callback_data=turn.form.cb("save", draft_token(turn.draft)))],
            *[fields[i:i + columns] for i in range(0, len(fields), columns)],
            [InlineKeyboardButton(turn._(CANCEL_LABEL), callback_data=turn.form.cb("cancel"))]]
    text = await _maybe(turn.form.confirm(turn, reason))
    await durable(turn, turn.form.state(CONFIRM))
    await common.reply_html(turn.update, turn.context, text, turn.language, reply_markup=InlineKeyboardMarkup(rows))
    return turn.form.state(CONFIRM)


async def durable(turn: Turn, state: str | None) -> None:
    """Write the caller's ``user_data`` (the draft) and the form's next ``state`` to the store now.

    Called before a screen is sent and before "Saved" is said, so what the user
    was shown is what a restarted bot resumes (PTB's own writes come every
    ``persistence_interval_seconds`` and would lose the last steps to a
    ``kill -9``). ``state`` None: the conversation ended. PTB writes the same
    values again at its next interval, which changes nothing.
    """
    await write_through(turn.update, turn.context, turn.form, state)


async def write_through(update: Update, context: common.Context, form: Form, state: str | None) -> None:
    """The caller's ``user_data`` and ``form``'s conversation ``state``, compare-and-set in one
    record (``bot.persistence``): a session another replica changed since this update read it
    raises ``StaleState``, and the update is run again on the newer one."""
    persistence = context.application.persistence
    if isinstance(persistence, StorePersistence):
        await persistence.write_through(context.application, update, {form.conversation: state})


async def save(turn: Turn, token: str | None, **options: Any) -> str | int | None:
    """Save exactly the confirmed draft, at most once (see the module docstring).

    ``token``: ``<token>.<version>`` from the pressed Save; None when the form
    saves after its last step. The draft stays in the store until the ledger
    says it was saved, so a crash in between leaves a draft whose next Save is
    answered "already saved", never a second record.
    """
    form, draft = turn.form, turn.draft
    if token is not None and token != draft_token(draft):
        return await stale_save(turn.update, turn.context, form, token, turn)
    for step in form.steps:
        if step.required and step.applies(draft) and not turn.filled(step.key):
            await common.answer_press(turn.update)
            return await ask(turn, step, reason=reason_text(ValidationError(step.key, "text.empty"), turn.language))
    try:  # the card keeps its Save until the save is done: after a kill, it is the way to finish
        stay = await turn.svc.drafts.once(turn.staff.id, form.name, str(draft.get(TOKEN)),
                                          int(draft.get(VERSION, 0)), lambda: form.on_save(turn, **options))
    except AccessDenied:
        await common.deny(turn.update, turn.context, turn.language, f"{form.name} save")
        return await _ended(turn)
    except AlreadySaved:
        log.info("%s: a second save of draft %s refused", form.name, draft_token(draft))
        await _already_saved(turn.update, turn.context, turn.language)
        return await _ended(turn)
    if stay is not None:  # not saved (e.g. a duplicate to confirm): the press still gets its answer
        await common.answer_press(turn.update)
        return stay
    await _ended(turn)
    await common.drop_keyboard(turn.update)
    await common.answer_press(turn.update, saved_text(turn))
    return ConversationHandler.END


async def _ended(turn: Turn) -> int:
    """The draft is done with: out of ``user_data`` and out of the store."""
    turn.context.user_data.pop(turn.form.draft_key, None)
    await durable(turn, None)
    return ConversationHandler.END


async def _already_saved(update: Update, context: common.Context, language: str) -> None:
    text = gettext_for(language)(ALREADY_SAVED)
    await common.drop_keyboard(update)
    await common.reply_html(update, context, text, language)
    await common.answer_press(update, text)  # last: a driver waiting for the answer has seen it all


async def stale_save(update: Update, context: common.Context, form: Form, token: str,
                     turn: Turn | None) -> str | int | None:
    """A Save from a card that is not the current draft (``turn``: the current one, if any).

    That draft saved already: say so. Otherwise nothing is saved: the current
    draft's card is shown again, or, with no draft, the user is told there is
    nothing to save. Never does a Save act on a draft other than its own.
    """
    staff, language = await common.caller(update, context)
    if staff is None:
        await common.deny(update, context, language, f"{form.name} save without staff")
        return ConversationHandler.END
    pressed = token.partition(".")[0]
    if await common.services(context).drafts.saved(staff.id, form.name, pressed) is not None:
        await _already_saved(update, context, language)
        return None if turn is not None else ConversationHandler.END
    _ = gettext_for(language)
    await common.answer_press(update, _(OUT_OF_DATE) if turn is not None else _(NOTHING_TO_SAVE))
    await common.drop_keyboard(update)
    if turn is None:
        await common.reply_html(update, context, _(NOTHING_TO_SAVE), language)
        return ConversationHandler.END
    return await show_confirm(turn, reason=_(OUT_OF_DATE))


async def cancel(form: Form, update: Update, context: common.Context) -> int:
    staff, language = await common.caller(update, context)
    context.user_data.pop(form.draft_key, None)
    await write_through(update, context, form, None)
    await common.answer_press(update)
    await common.drop_keyboard(update)
    await common.reply_html(update, context, render(language, "cancelled"), language,
                     reply_markup=main_menu(language, staff.role if staff else Role.REP))
    return ConversationHandler.END


def saved_text(turn: Turn) -> str:
    return render(turn.language, "customer_saved")


# ---- what the user does --------------------------------------------------------------------
async def current(form: Form, update: Update, context: common.Context) -> Turn | None:
    staff, language = await common.caller(update, context)
    draft = context.user_data.get(form.draft_key)
    if staff is None or draft is None:
        return None
    return Turn(form, update, context, staff, language, draft)


def _set(turn: Turn, step: Step, value: Any) -> None:
    if step.store is not None:
        step.store(turn.draft, value)
    else:
        turn.draft[step.key] = value
    turn.draft[VERSION] = turn.draft.get(VERSION, 0) + 1


async def _typed(form: Form, step: Step, update: Update, context: common.Context) -> str | int:
    turn = await current(form, update, context)
    if turn is None:
        return await cancel(form, update, context)
    text = update.effective_message.text or ""
    if step.kind is Kind.CUSTOMER and step.search is not None:
        query = " ".join(text.split())[:100]
        found = await step.search(turn, query) if query else []
        return await ask(turn, step, choices=found, query=query[:50], no_match=not found)
    try:
        if step.parse is None:
            raise ValidationError(step.key, "choice.use_buttons")
        value = step.parse(text, turn.inputs)
    except ValidationError as error:
        return await ask(turn, step, reason=reason_text(error, turn.language))
    _set(turn, step, value)
    return await advance(turn)


async def _attached(form: Form, step: Step, update: Update, context: common.Context) -> str | int:
    turn = await current(form, update, context)
    if turn is None:
        return await cancel(form, update, context)
    message = update.effective_message
    if message.location is not None:
        attachment = Attachment("location", latitude=message.location.latitude,
                                longitude=message.location.longitude)
    elif message.photo:
        photo = message.photo[-1]
        attachment = Attachment("photo", file_id=photo.file_id, file_unique_id=photo.file_unique_id,
                                size=photo.file_size)
    else:
        kind = next(k for k in ("voice", "audio", "document") if getattr(message, k) is not None)
        media = getattr(message, kind)
        attachment = Attachment(kind, file_id=media.file_id, file_unique_id=media.file_unique_id,
                                file_name=getattr(media, "file_name", None), mime_type=media.mime_type,
                                size=media.file_size)
    try:
        if step.attach is None:
            raise ValidationError(step.key, "file.unsupported")
        value = step.attach(turn, attachment)
    except ValidationError as error:
        return await ask(turn, step, reason=reason_text(error, turn.language))
    _set(turn, step, value)
    return await advance(turn)


async def _skip(turn: Turn, step: Step) -> str | int:
    if step.required:
        code = "choice.use_buttons" if step.kind in (Kind.CHOICE, Kind.CUSTOMER) else "text.empty"
        return await ask(turn, step, reason=reason_text(ValidationError(step.key, code), turn.language))
    _set(turn, step, step.skip_value)
    return await advance(turn)


def _previous(turn: Turn, step: Step) -> Step | None:
    sequence = [s for s in turn.form.steps if s.in_sequence and s.applies(turn.draft)]
    if step not in sequence:
        return sequence[-1] if step.key == CONFIRM and sequence else None
    index = sequence.index(step)
    return sequence[index - 1] if index > 0 else None


def _from_card(turn: Turn) -> bool:
    """A step opened from the confirmation card (« Back returns there)."""
    return bool(turn.draft.get(REVIEW) and turn.draft.get(CARD_SHOWN))


def _back_to_customer(turn: Turn, step: Step) -> str | None:
    """The customer whose card the form was begun from, when « Back at ``step`` leads out of the
    form to that card: no step before it but those the card filled in (the customer)."""
    opened = turn.draft.get(OPENED_FROM)
    if not isinstance(opened, dict) or _from_card(turn):
        return None
    given = set(opened.get("keys", ()))
    before = _previous(turn, step)
    while before is not None and before.key in given:
        before = _previous(turn, before)
    return str(opened.get("id")) if before is None else None


async def _back(turn: Turn, key: str) -> str | int:
    """« Back: from a field opened on the confirmation card, to the card; else the step before.

    From the first step of a form begun on a customer's card, back to that card (the
    draft is dropped: nothing was entered yet). A step with none before it is asked
    again: a draft that was never shown as a card (a quick add asking for the name
    first) does not jump forward to it.
    """
    step = turn.form.step(key)
    if step is None or _from_card(turn):
        return await advance(turn) if turn.form.confirm is None else await show_confirm(turn)
    customer_id = _back_to_customer(turn, step)
    if customer_id is not None:
        await _ended(turn)
        await common.drop_keyboard(turn.update)
        try:
            await send_card(turn.update, turn.context, turn.staff, turn.language, customer_id)
        except AccessDenied:  # no longer theirs: "not available", the form is closed all the same
            await common.deny(turn.update, turn.context, turn.language, f"{turn.form.name} back to {customer_id}")
        return ConversationHandler.END
    return await ask(turn, _previous(turn, step) or step)


async def _unknown_command(form: Form, step: Step, update: Update, context: common.Context) -> str | int:
    turn = await current(form, update, context)
    if turn is None:
        return await cancel(form, update, context)
    return await ask(turn, step, reason=reason_text(ValidationError(step.key, "command.unknown"), turn.language))


async def _command(form: Form, step: Step, action: str, update: Update, context: common.Context) -> str | int:
    turn = await current(form, update, context)
    if turn is None:
        return await cancel(form, update, context)
    return await (_skip(turn, step) if action == "skip" else _back(turn, step.key))


async def _press(form: Form, update: Update, context: common.Context) -> str | int | None:
    """Any of the form's buttons, in any state — also with no conversation (a persisted draft resumes)."""
    staff, language = await common.caller(update, context)
    data = callback_data.parse(update.callback_query.data if update.callback_query else None)
    if data is not None and data.action == "cancel":
        return await cancel(form, update, context)
    turn = await current(form, update, context)
    if data is not None and data.action == "save" and turn is None:
        return await stale_save(update, context, form, data.args[0] if data.args else "", None)
    if data is None or turn is None:
        await common.deny(update, context, language, f"{form.name} button {data} without a draft")
        return ConversationHandler.END if turn is None else None
    arg = data.args[0] if data.args else ""
    if data.action == "save":
        return await save(turn, arg)
    if data.action in ("back", "skip", "field"):
        step = form.step(arg)
        if step is None and not (data.action == "back" and arg == CONFIRM):
            await common.deny(update, context, language, f"{form.name} {data.action} {arg}")
            return None
        await common.answer_press(update)
        if data.action == "field":
            return await ask(turn, step)
        return await (_back(turn, arg) if data.action == "back" else _skip(turn, step))
    for step in form.steps:
        if step.toggle is not None and data.action == step.toggle.action:
            chosen = next((c for c in step.toggle.choices(turn) if c.code == arg), None)
            if chosen is None:
                break
            turn.draft[step.toggle.key] = chosen.value
            turn.draft[VERSION] = turn.draft.get(VERSION, 0) + 1
            await common.answer_press(update)
            return await ask(turn, step)
        if data.action != step.button:
            continue
        if step.kind is Kind.CUSTOMER:
            try:
                customer = await turn.svc.customers.visible(staff, arg)
            except AccessDenied:
                break
            if step.pick is not None and not step.pick(turn, customer):
                break
            if step.pick is None:
                turn.draft[step.key] = customer.id
            turn.draft[VERSION] = turn.draft.get(VERSION, 0) + 1
        else:
            chosen = next((c for c in await _choices(step, turn) if c.code == arg), None)
            if chosen is None:
                break
            _set(turn, step, chosen.value)
        await common.answer_press(update)
        return await advance(turn)
    await common.deny(update, context, language, f"{form.name} button {data}")
    return None


async def _choices(step: Step, turn: Turn) -> Sequence[Choice]:
    return await _maybe(step.choices(turn)) if step.choices is not None else ()


async def _maybe(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


def draft_token(draft: dict[str, Any]) -> str:
    return f"{draft.get(TOKEN, 'none')}.{draft.get(VERSION, 0)}"


# ---- the ConversationHandler ---------------------------------------------------------------
def _declare(form: Form) -> re.Pattern[str]:
    actions = dict(ENGINE_ACTIONS)
    for step in form.steps:
        actions[step.button] = 1
        if step.toggle is not None:
            actions[step.toggle.action] = 1
    for action, arguments in actions.items():
        callback_data.declare(form.name, action, arguments)
    return re.compile(rf"^{re.escape(form.name)}:({'|'.join(map(re.escape, actions))})(:|$)")


def _bind(function: Callable[..., Awaitable[Any]], *bound: Any) -> Callable[[Update, common.Context], Awaitable[Any]]:
    async def callback(update: Update, context: common.Context) -> Any:
        return await function(*bound, update, context)

    return callback


_KNOWN_COMMAND = ext.filters.Regex(
    "^/(" + "|".join(name for name, _ in ALL_COMMANDS + [("skip", ""), ("back", "")]) + r")(@\w+)?(\s|$)"
)


def _step_handlers(form: Form, step: Step, text: ext.filters.BaseFilter) -> list[ext.BaseHandler]:
    handlers: list[ext.BaseHandler] = [
        CommandHandler("skip", _bind(_command, form, step, "skip")),
        CommandHandler("back", _bind(_command, form, step, "back")),
        MessageHandler(text, _bind(_typed, form, step)),
        # A command the bot does not have ("/0", "/xyz") is a slip at this step, not a new action.
        MessageHandler(ext.filters.COMMAND & ~_KNOWN_COMMAND, _bind(_unknown_command, form, step)),
    ]
    if step.kind is Kind.FILE:
        media = ext.filters.VOICE | ext.filters.AUDIO | ext.filters.Document.ALL | ext.filters.PHOTO
        handlers.append(MessageHandler(media, _bind(_attached, form, step)))
    if step.kind is Kind.LOCATION:
        handlers.append(MessageHandler(ext.filters.LOCATION, _bind(_attached, form, step)))
    return handlers


async def _confirm_typed(form: Form, update: Update, context: common.Context) -> str | int:
    turn = await current(form, update, context)
    if turn is None:
        return await cancel(form, update, context)
    return await show_confirm(turn, reason=reason_text(ValidationError(CONFIRM, "choice.use_buttons"),
                                                       turn.language))


def conversation(form: Form, conversation_timeout: timedelta | None = None) -> ConversationHandler:
    """The form's one ConversationHandler: a state per step, the confirmation, the shared buttons."""
    text = ext.filters.TEXT & ~ext.filters.COMMAND & ~ext.filters.Text(all_menu_labels())
    press = CallbackQueryHandler(_bind(_press, form), pattern=_declare(form))
    start = [CallbackQueryHandler(_bind(_customer_button, form), pattern=rf"^{form.name}:{form.customer_start}:")
             ] if form.customer_start else []
    if form.edit_button:
        start.append(CallbackQueryHandler(_bind(_edit_button, form), pattern=rf"^{form.edit_button}:"))
    return ConversationHandler(
        entry_points=[*start, *form.entry_points, press],
        states={
            **{form.state(step.key): _step_handlers(form, step, text) for step in form.steps},
            form.state(CONFIRM): [MessageHandler(text, _bind(_confirm_typed, form))],
            **form.extra_states,
        },
        fallbacks=[CommandHandler("cancel", _bind(cancel, form)), press],
        name=form.conversation,
        persistent=True,
        allow_reentry=True,
        conversation_timeout=conversation_timeout,
    )
