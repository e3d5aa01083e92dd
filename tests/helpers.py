"""Helpers for end-to-end tests."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import telegram
from babel.numbers import format_currency
from telegram.ext import Application, BaseHandler, CommandHandler
from telegram.request import HTTPXRequest

from bot.activity import ApplicationActivity
from bot.render import format_datetime
from bot.runner import WEBHOOK_SERVER_KEY, running_bot
from bot.telegram_request import shared_tls


def ptb_request(**options: Any) -> HTTPXRequest:
    """PTB's own request, sharing the process's TLS context (``tls_context``): a client that
    loads the CA bundle itself blocks the event loop for ~0.1 s."""
    httpx_kwargs = shared_tls(options.pop("httpx_kwargs", None))
    return HTTPXRequest(httpx_kwargs=httpx_kwargs, **options)


def ptb_bot(token: str, **options: Any) -> telegram.Bot:
    """PTB's real ``Bot`` with ``ptb_request`` clients (both of them)."""
    return telegram.Bot(token, request=ptb_request(), get_updates_request=ptb_request(), **options)


def add_first(app: Application, handler: BaseHandler) -> None:
    """Register a test-only handler ahead of every feature handler (and the catch-all)."""
    app.add_handler(handler)
    group = app.handlers[0]
    group.insert(0, group.pop())


def add_command(app: Application, name: str, callback: Callable[..., Awaitable[Any]]) -> None:
    add_first(app, CommandHandler(name, callback))


SHANGHAI = ZoneInfo("Asia/Shanghai")


def shown_at(
    year: int, month: int, day: int, hour: int, minute: int = 0, language: str = "en", *, weekday: bool = False
) -> str:
    """A Shanghai moment as the bot shows it, through its own formatting (not a CLDR literal);
    ``weekday`` as confirmation cards show it."""
    return format_datetime(datetime(year, month, day, hour, minute, tzinfo=SHANGHAI), language, weekday=weekday)


def shown_money(amount: int | str, currency: str = "CNY", language: str = "en") -> str:
    """An amount as the bot shows it on a card, through the same Babel call."""
    return format_currency(Decimal(amount), currency, locale="zh_CN" if language == "zh" else "en")


WEBHOOK_SECRET = "test-webhook-secret_0123456789"


def webhook_config(config: Any, *, secret: str = WEBHOOK_SECRET) -> Any:
    """``config`` in webhook mode on a free local port (the URL registered is the local one)."""
    return dataclasses.replace(config, telegram=dataclasses.replace(
        config.telegram, mode="webhook", webhook_url="http://127.0.0.1/telegram",
        webhook_listen="127.0.0.1", webhook_port=0, webhook_secret=secret,
    ))


@contextlib.asynccontextmanager
async def bot_in_sandbox(
    sandbox: Any, config: Any, *, webhook: bool = False, replica: bool = False, **options: Any
) -> AsyncIterator[Application]:
    """``running_bot`` polling ``sandbox``, which asks the bot when it has finished an update.

    ``webhook``: in webhook mode instead (``webhook_config``), the sandbox POSTing to the
    bot's local URL. ``replica``: one of several replicas in webhook mode; the sandbox asks
    this one about the updates it POSTed to this one's URL (``sandbox.deliver_to([...])``
    spreads them; ``app.bot_data["webhook_server"].local_url`` is the URL).
    """
    activity = ApplicationActivity()
    if (webhook or replica) and config.telegram.mode != "webhook":
        config = webhook_config(config)
    if config.telegram.mode == "webhook":
        options.setdefault("webhook_url", lambda local: local)
    if not replica:
        sandbox.attach(activity)
    options.setdefault("poll_timeout", 1)
    url = None
    try:
        async with running_bot(config, token=sandbox.token, activity=activity, **options) as app:
            if replica:
                url = app.bot_data[WEBHOOK_SERVER_KEY].local_url
                sandbox.attach(activity, webhook_url=url)
            yield app
    finally:
        sandbox.attach(None, webhook_url=url)
