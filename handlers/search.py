"""Finding customers: /find and its menu button, the inline query, /list with filters, card links."""

from __future__ import annotations

import re
from typing import Any

from telegram import (
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputTextMessageContent,
    Update,
)
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    InlineQueryHandler,
    MessageHandler,
    filters,
)

from bot import labels
from bot.domain import access
from bot.domain.models import Role, StaffUser
from bot.domain.phones import format_phone
from bot.i18n import gettext_for
from bot.render import render
from bot.services.customers import ListFilter
from bot.services.errors import AccessDenied
from handlers import callback_data
from handlers.callback_data import CallbackData
from handlers.common import Context, button_handler, caller, deny, reply_html, services, show
from handlers.customer_card import send_card
from handlers.customer_view import stage_text, tier_text
from handlers.menu import FIND, LIST, N_, all_menu_labels, main_menu
from handlers.menu import labels as menu_labels

PAGE = 8
QUERY_KEY = "find_query"
FILTER_KEY = "list_filter"
CARD_PREFIX = "card_"
CARD_LINK = re.compile(r"[?&]start=card_([0-9a-f]{1,64})")
ARCHIVED_LABEL = N_("🗄 Archived")
ACTIVE_LABEL = N_("📋 Active")
CLEAR_LABEL = N_("Clear filters")


def _cb(action: str, *args: str) -> str:
    return callback_data.encode(action.split(":")[0], action.split(":")[1], *args)


def _customer_button(customer: Any, owner: str | None = None) -> InlineKeyboardButton:
    """``owner``: shown to those who see others' customers, so that duplicates can be told apart."""
    label = customer.name + (f" · {customer.company}" if customer.company else "")
    if customer.archived:
        label = "🗄 " + label
    suffix = f" · 👤 {owner[:20]}" if owner else ""
    return InlineKeyboardButton(label[:60 - len(suffix)] + suffix,
                                callback_data=callback_data.encode("cust", "view", customer.id))


async def _owner_names(context: Context, staff: StaffUser | None) -> dict[str, str]:
    """Staff names by id for a manager or an admin (whose results mix reps' customers), else none."""
    if staff is None or not access.sees_team(staff):
        return {}
    return await services(context).staff.names()


def _pager(prefix: tuple[str, str], page: int, pages: int) -> list[InlineKeyboardButton]:
    nav = []
    if page > 0:
        nav.append(InlineKeyboardButton("‹", callback_data=callback_data.encode(*prefix, str(page - 1))))
    if pages > 1:
        nav.append(InlineKeyboardButton(f"{page + 1}/{pages}", callback_data=callback_data.encode(*prefix, str(page))))
    if page + 1 < pages:
        nav.append(InlineKeyboardButton("›", callback_data=callback_data.encode(*prefix, str(page + 1))))
    return nav


# ---- /find -------------------------------------------------------------------------------
async def find_command(update: Update, context: Context) -> None:
    _staff, language = await caller(update, context)
    query = " ".join(context.args or []) if update.effective_message.text.startswith("/") else ""
    if query.strip():
        context.user_data[QUERY_KEY] = query.strip()[:100]
        await _show_results(update, context, 0)
        return
    _ = gettext_for(language)
    await update.effective_message.reply_text(
        render(language, "find_prompt"),
        reply_markup=ForceReply(input_field_placeholder=_("name, pinyin, phone, tag…")[:64]),
    )
    tracker = _prompt_tracker(context)
    if tracker is not None:
        tracker.expect(update)


async def find_reply(update: Update, context: Context) -> None:
    tracker = _prompt_tracker(context)
    if tracker is not None:
        tracker.done(update)
    message = update.effective_message
    context.user_data[QUERY_KEY] = (message.text or "").strip()[:100]
    await _show_results(update, context, 0)


class _NextTextAfterPrompt(BaseHandler[Update, Any, None]):
    """After the "who are you looking for?" prompt, the user's next text is the query.

    Telegram's reply (the ForceReply) is optional: people just type.  The
    chats waiting for a query are kept here, in memory: anything else the
    user sends first — a command, a menu button, a button press — ends the
    wait, so a later text goes where it would have gone anyway (a running
    form's step, or the plain-text search).  After a restart the wait is
    forgotten; the text then reaches the plain-text search (outside forms).
    """

    def __init__(self) -> None:
        super().__init__(find_reply)
        self.waiting: set[tuple[int, int]] = set()

    @staticmethod
    def _key(update: object) -> tuple[int, int] | None:
        if not isinstance(update, Update) or update.effective_user is None or update.effective_chat is None:
            return None
        return update.effective_chat.id, update.effective_user.id

    def expect(self, update: Update) -> None:
        key = self._key(update)
        if key is not None:
            self.waiting.add(key)

    def done(self, update: Update) -> None:
        key = self._key(update)
        if key is not None:
            self.waiting.discard(key)

    def check_update(self, update: object) -> bool | None:
        key = self._key(update)
        if key is None or key not in self.waiting:
            return None
        assert isinstance(update, Update)
        if update.inline_query is not None or update.chosen_inline_result is not None:
            return None  # typing @bot … elsewhere neither answers nor ends the prompt
        message = update.message
        text = message.text if message is not None else None
        if text and not text.startswith("/") and message is not None and message.via_bot is None \
                and text not in _menu_texts():
            return True
        self.waiting.discard(key)
        return None


def _menu_texts() -> frozenset[str]:
    return frozenset(all_menu_labels())


def _prompt_tracker(context: Context) -> _NextTextAfterPrompt | None:
    for handler in context.application.handlers.get(0, ()):
        if isinstance(handler, _NextTextAfterPrompt):
            return handler
    return None


async def text_search(update: Update, context: Context) -> None:
    """A text outside any form: most likely a customer's name (or phone) — search for it."""
    staff, language = await caller(update, context)
    query = (update.effective_message.text or "").strip()[:100]
    found = await services(context).customers.search(staff, query, limit=80) if query and staff else []
    if not found:
        await reply_html(update, context, render(language, "text_search_none", query=query), language,
                         reply_markup=main_menu(language, staff.role if staff else Role.REP))
        return
    context.user_data[QUERY_KEY] = query
    await _show_results(update, context, 0, found)


class _ReplyToFindPrompt(filters.MessageFilter):
    """A text answering the bot's "search for?" prompt (a ForceReply), recognised by the prompt's text."""

    def filter(self, message: Any) -> bool:
        prompt = message.reply_to_message
        return bool(prompt and message.text and prompt.text in _find_prompts())


def _find_prompts() -> set[str]:
    return {render(language, "find_prompt") for language in ("zh", "en")}


async def _show_results(update: Update, context: Context, page: int, found: list[Any] | None = None) -> None:
    staff, language = await caller(update, context)
    query = context.user_data.get(QUERY_KEY, "")
    if found is None:
        found = await services(context).customers.search(staff, query, limit=80) if query else []
    pages = max(1, -(-len(found) // PAGE))
    page = min(max(page, 0), pages - 1)
    owners = await _owner_names(context, staff)
    rows = [[_customer_button(c, owners.get(c.owner_id))] for c in found[page * PAGE:(page + 1) * PAGE]]
    nav = _pager(("find", "page"), page, pages)
    if nav:
        rows.append(nav)
    text = render(language, "find_results", query=query, count=len(found))
    markup = InlineKeyboardMarkup(rows) if rows else None
    await show(update, context, text, language, markup)


@button_handler
async def find_page(
    update: Update, context: Context, _staff: StaffUser, _language: str, data: CallbackData
) -> None:
    await _show_results(update, context, int(data.args[0]) if data.args[0].isdigit() else 0)


# ---- inline query ------------------------------------------------------------------------
async def inline_query(update: Update, context: Context) -> None:
    staff, language = await caller(update, context)
    query = update.inline_query
    if staff is None:
        await query.answer([], cache_time=0, is_personal=True)
        return
    svc = services(context)
    found = await svc.customers.search(staff, query.query, limit=20) if query.query.strip() else []
    owners = await _owner_names(context, staff) if found else {}
    username = context.bot.username
    results = []
    for customer in found:
        link = f"https://t.me/{username}?start={CARD_PREFIX}{customer.id}"
        phone = format_phone(customer.phones[0], svc.config.locale.phone_region) if customer.phones else ""
        summary = render(language, "customer_summary", c=customer, link=link, phone=phone,
                         tier=tier_text(customer, language), stage=stage_text(customer, language))
        results.append(InlineQueryResultArticle(
            id=customer.id,
            title=customer.name[:100],
            description=" · ".join(x for x in (customer.company, phone, tier_text(customer, language),
                                                owners.get(customer.owner_id)) if x)[:200],
            input_message_content=InputTextMessageContent(summary, parse_mode="HTML"),
        ))
    await query.answer(results, cache_time=0, is_personal=True)


async def card_link(update: Update, context: Context) -> bool:
    """A message "via @bot" carrying a card link (a chosen inline result): open that card."""
    message = update.effective_message
    if message.via_bot is None or message.via_bot.id != context.bot.id:
        return False
    for entity in message.entities or ():
        match = CARD_LINK.search(entity.url or "")
        if match:
            await open_card(update, context, match.group(1))
            return True
    return False


async def via_bot_message(update: Update, context: Context) -> None:
    if not await card_link(update, context):
        _staff, language = await caller(update, context)
        await reply_html(update, context, render(language, "unknown_input"), language)


async def open_card(update: Update, context: Context, customer_id: str) -> None:
    staff, language = await caller(update, context)
    try:
        await send_card(update, context, staff, language, customer_id)
    except AccessDenied:
        await deny(update, context, language, f"card link {customer_id}")


# ---- /list -------------------------------------------------------------------------------
TIER_VALUES = ("high", "mid", "low", "none")
STAGE_VALUES = tuple(labels.STAGES)


def _parse_list_args(args: list[str]) -> dict[str, Any]:
    """``/list tier:high stage:at_risk tag:vip city:上海`` (any order, any subset)."""
    result: dict[str, Any] = {}
    for arg in args:
        key, _, value = arg.partition(":")
        if key in ("tier", "stage", "tag", "city") and value:
            result[key] = value[:50]
    return result


async def list_command(update: Update, context: Context) -> None:
    parsed = _parse_list_args(context.args or []) if (update.effective_message.text or "").startswith("/") else {}
    context.user_data[FILTER_KEY] = parsed
    await _show_list(update, context, 0)


async def _show_list(update: Update, context: Context, page: int) -> None:
    staff, language = await caller(update, context)
    svc = services(context)
    raw = context.user_data.get(FILTER_KEY, {})
    filters_ = ListFilter(owner_id=raw.get("owner"), tier=raw.get("tier"), stage=raw.get("stage"),
                          tag=raw.get("tag"), city=raw.get("city"), archived=bool(raw.get("archived")))
    customers = await svc.customers.listing(staff, filters_)
    pages = max(1, -(-len(customers) // PAGE))
    page = min(max(page, 0), pages - 1)
    _ = gettext_for(language)
    rows = [[_customer_button(c)] for c in customers[page * PAGE:(page + 1) * PAGE]]
    nav = _pager(("list", "page"), page, pages)
    if nav:
        rows.append(nav)
    rows.append([InlineKeyboardButton(("• " if raw.get("tier") == t else "") + _(labels.TIERS[t]),
                                      callback_data=callback_data.encode("list", "tier", t)) for t in TIER_VALUES])
    stage_buttons = [InlineKeyboardButton(("• " if raw.get("stage") == s else "") + _(labels.STAGES[s]),
                                          callback_data=callback_data.encode("list", "stage", s)) for s in STAGE_VALUES]
    rows += [stage_buttons[:3], stage_buttons[3:]]
    if access.sees_team(staff):
        reps = [u for u in await svc.staff.visible(staff) if access.can_own_customers(u)]
        owner_buttons = [InlineKeyboardButton(("• " if raw.get("owner") == u.id else "") + u.name[:20],
                                              callback_data=callback_data.encode("list", "owner", u.id)) for u in reps]
        rows += [owner_buttons[i:i + 3] for i in range(0, len(owner_buttons), 3)]
    rows.append([
        InlineKeyboardButton(_(ACTIVE_LABEL) if raw.get("archived") else _(ARCHIVED_LABEL),
                             callback_data=callback_data.encode("list", "archived", "0" if raw.get("archived") else "1")),
        InlineKeyboardButton(_(CLEAR_LABEL), callback_data=callback_data.encode("list", "clear")),
    ])
    owner_name = None
    if raw.get("owner"):
        owner = await svc.staff.visible_one(staff, raw["owner"])
        owner_name = owner.name if owner else None
    tier_msgid = labels.TIERS.get(raw.get("tier") or "")
    stage_msgid = labels.STAGES.get(raw.get("stage") or "")
    text = render(
        language, "customer_list", count=len(customers), page=page + 1, pages=pages,
        tier=_(tier_msgid) if tier_msgid else None,
        stage=_(stage_msgid) if stage_msgid else None,
        tag=raw.get("tag"), city=raw.get("city"), owner=owner_name, archived=bool(raw.get("archived")),
        mine=not access.sees_team(staff),
    )
    markup = InlineKeyboardMarkup(rows)
    await show(update, context, text, language, markup)


@button_handler
async def list_button(
    update: Update, context: Context, staff: StaffUser, language: str, data: CallbackData
) -> None:
    raw: dict[str, Any] = dict(context.user_data.get(FILTER_KEY, {}))
    value = data.args[0] if data.args else ""
    if data.action == "page":
        await _show_list(update, context, int(value) if value.isdigit() else 0)
        return
    if data.action == "tier" and value in TIER_VALUES:
        raw["tier"] = None if raw.get("tier") == value else value
    elif data.action == "stage" and value in STAGE_VALUES:
        raw["stage"] = None if raw.get("stage") == value else value
    elif data.action == "owner" and access.sees_team(staff):
        visible = {u.id for u in await services(context).staff.visible(staff)}
        if value not in visible:
            await deny(update, context, language, f"list owner {value}")
            return
        raw["owner"] = None if raw.get("owner") == value else value
    elif data.action == "archived":
        raw["archived"] = value == "1"
    elif data.action == "clear":
        raw = {}
    else:
        await deny(update, context, language, f"list button {data}")
        return
    context.user_data[FILTER_KEY] = {k: v for k, v in raw.items() if v not in (None, False)}
    await _show_list(update, context, 0)


def early_handlers() -> list[BaseHandler]:
    """Registered before the wizards: a reply to the search prompt is a search, not a field value."""
    return [MessageHandler(filters.TEXT & ~filters.COMMAND & _ReplyToFindPrompt(), find_reply),
            _NextTextAfterPrompt()]


def text_handlers() -> list[BaseHandler]:
    """Registered after every feature, just before the catch-all: a plain text is a search."""
    return [MessageHandler(filters.TEXT & ~filters.COMMAND & ~filters.VIA_BOT, text_search)]


def handlers() -> list[BaseHandler]:
    return [
        CommandHandler("find", find_command),
        MessageHandler(filters.Text(menu_labels(FIND)), find_command),
        CallbackQueryHandler(find_page, pattern=r"^find:"),
        InlineQueryHandler(inline_query),
        MessageHandler(filters.VIA_BOT, via_bot_message),
        CommandHandler("list", list_command),
        MessageHandler(filters.Text(menu_labels(LIST)), list_command),
        CallbackQueryHandler(list_button, pattern=r"^list:"),
    ]

