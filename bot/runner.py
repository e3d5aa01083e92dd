"""Running the bot: open the store, start the Application, stop cleanly on a signal.

This is python-telegram-bot's documented "custom event loop" pattern
rather than ``run_polling``, because the store must be opened in the same
event loop before PTB loads persisted conversations, and because the
sandbox console runs the bot and the sandbox server side by side in one
loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import AsyncIterator, Callable

from telegram import Update
from telegram.error import BadRequest, InvalidToken, NetworkError
from telegram.ext import Application

from bot.activity import ApplicationActivity
from bot.app import SCHEDULER_KEY, build_application, startup
from bot.clock import Clock, SystemClock
from bot.config import Config
from bot.logs import redact
from bot.services import Services
from bot.telegram_request import warm_up as http_warm_up
from bot.webhook import WebhookServer
from storage import open_store
from storage.base import Store

log = logging.getLogger(__name__)

WEBHOOK_SERVER_KEY = "webhook_server"


def make_store(config: Config) -> Store:
    return open_store(config.storage.backend, path=config.storage.path, url=config.storage.url)


@contextlib.asynccontextmanager
async def running_bot(
    config: Config,
    *,
    clock: Clock | None = None,
    store: Store | None = None,
    token: str | None = None,
    poll_interval: float = 0.0,
    poll_timeout: int = 10,
    configure: Callable[[Application], None] | None = None,
    auto_tick: bool = True,
    activity: ApplicationActivity | None = None,
    webhook_url: Callable[[str], str] | None = None,
) -> AsyncIterator[Application]:
    """The bot, started and polling, for as long as the ``async with`` lasts.

    ``configure`` sees the Application after its handlers are registered and
    before it is initialised (tests add handlers there). With ``auto_tick``
    off, nothing runs the scheduler: the caller ticks it (tests, by their clock).
    ``activity`` (the sandbox's harness) is told of every update, task and job
    so a driver can wait until the bot has finished.

    In webhook mode (``[telegram] mode``) the bot serves its webhook and
    ``/healthz`` (bot/webhook.py, ``application.bot_data[WEBHOOK_SERVER_KEY]``)
    and registers ``[telegram] webhook_url`` with setWebhook; ``webhook_url``,
    given the URL this process answers on, returns the one to register instead
    (tests bind port 0).
    """
    store = store or make_store(config)
    # One-time loads off the event loop: the CA bundle and the HTTP stack (bot/telegram_request.py).
    await asyncio.to_thread(http_warm_up)
    await store.open()
    try:
        services = Services(config=config, store=store, clock=clock or SystemClock())
        application = build_application(services, token=token, activity=activity)
        if configure is not None:
            configure(application)
        async with application:
            if activity is not None:
                activity.attach(application)
            await startup(application, auto_tick=auto_tick)
            await application.start()
            server: WebhookServer | None = None
            try:
                if config.telegram.mode == "webhook":
                    server = await start_webhook(application, services, config, webhook_url)
                else:
                    await application.updater.start_polling(
                        poll_interval=poll_interval,
                        timeout=poll_timeout,
                        allowed_updates=Update.ALL_TYPES,
                        drop_pending_updates=False,
                    )
                yield application
            finally:
                if server is not None:  # no more updates in, then the queued ones finish
                    await server.stop()
                if application.updater.running:
                    await application.updater.stop()
                if application.running:
                    await application.stop()
                if activity is not None:
                    activity.detach()
    finally:
        await store.close()


async def start_webhook(
    application: Application,
    services: Services,
    config: Config,
    webhook_url: Callable[[str], str] | None = None,
) -> WebhookServer:
    """Serve the webhook and /healthz, then tell Telegram where to POST.

    Pending updates are kept (``drop_pending_updates=False``): what arrived
    while no replica listened is delivered now. Stopping never deletes the
    webhook: with several replicas behind one URL the others keep serving it.
    """
    telegram = config.telegram
    server = WebhookServer(application, services, application.bot_data[SCHEDULER_KEY], telegram)
    application.bot_data[WEBHOOK_SERVER_KEY] = server
    await server.start()
    try:
        url = webhook_url(server.local_url) if webhook_url is not None else telegram.webhook_url
        await application.bot.set_webhook(
            url=url,
            secret_token=telegram.webhook_secret,
            allowed_updates=Update.ALL_TYPES,
            max_connections=telegram.webhook_max_connections,
            drop_pending_updates=False,
        )
    except BaseException:
        await server.stop()
        raise
    log.info("webhook set: Telegram POSTs to %s", redact(url, [telegram.webhook_secret]))
    return server


FIRST_RETRY_DELAY = 1.0
MAX_RETRY_DELAY = 60.0


def unreachable_line(config: Config, error: Exception, delay: float) -> str:
    """One line saying the Bot API could not be reached, and when the next try is."""
    reason = redact(str(error) or type(error).__name__, [config.telegram.token])
    return (
        f"crm-bot: cannot reach the Bot API at {config.telegram.api_base_url}: {reason}; "
        f"retrying in {delay:g} s (Ctrl-C stops)"
    )


async def run_until_signal(
    config: Config,
    *,
    stop: asyncio.Event | None = None,
    first_delay: float = FIRST_RETRY_DELAY,
    max_delay: float = MAX_RETRY_DELAY,
) -> int:
    """Run the bot until SIGINT/SIGTERM (or until ``stop`` is set); the exit status.

    While the Bot API cannot be reached at start-up, say so in one line and
    try again, waiting twice as long each time up to ``max_delay``. A
    refused token is final: retrying cannot fix it.
    """
    if stop is None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
    delay = first_delay
    while not stop.is_set():
        try:
            async with running_bot(config) as application:
                me = application.bot
                log.info("crm-bot is running as @%s (%s mode); Ctrl-C stops it",
                         me.username, config.telegram.mode)
                await stop.wait()
                log.info("stopping")
                return 0
        except InvalidToken as exc:
            reason = redact(str(exc), [config.telegram.token])
            print(f"crm-bot: the Bot API refused the bot token ({reason}); "
                  "check CRM_BOT_TOKEN", file=sys.stderr, flush=True)
            return 2
        except BadRequest:  # a request the bot got wrong: not a connection problem
            raise
        except NetworkError as exc:  # includes TimedOut
            print(unreachable_line(config, exc, delay), file=sys.stderr, flush=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)
        delay = min(delay * 2, max_delay)
    return 0
