"""The composition root: builds the Application and shows everything the bot reacts to.

Reading ``register_handlers`` tells you every handler, in order. Order
matters: the access gate runs first (group -1) and stops anyone who is not
active staff; feature handlers follow in group 0, where the first match
wins; the catch-all "I did not understand" comes last; the error handler
is registered separately.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from telegram import BotCommand, BotCommandScopeAllPrivateChats
from telegram.constants import ParseMode
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, ContextTypes, Defaults

from bot.i18n import LANGUAGES, gettext_for
from bot.persistence import StorePersistence
from bot.scheduler import Scheduler
from bot.services import Services
from handlers import access, errors, start
from handlers.common import SERVICES_KEY

log = logging.getLogger(__name__)

SCHEDULER_KEY = "scheduler"
TICK_SECONDS = 20


def build_application(services: Services, *, token: str | None = None) -> Application:
    config = services.config
    token = token or config.telegram.token
    if not token:
        raise ValueError("a bot token is required to build the application")
    application = (
        ApplicationBuilder()
        .token(token)
        .base_url(config.telegram.api_base_url)
        .base_file_url(config.file_base_url)
        .defaults(Defaults(parse_mode=ParseMode.HTML, tzinfo=config.tz))
        .rate_limiter(AIORateLimiter(max_retries=config.telegram.rate_limit_retries))
        .persistence(
            StorePersistence(
                services.store,
                services.clock,
                update_interval=config.conversation.persistence_interval_seconds,
            )
        )
        .build()
    )
    application.bot_data[SERVICES_KEY] = services
    application.bot_data[SCHEDULER_KEY] = Scheduler(services.clock)
    register_handlers(application)
    return application


def register_handlers(application: Application) -> None:
    # Order matters: the gate first, in its own group, so nothing reaches a feature unchecked.
    application.add_handlers(access.handlers(), group=-1)
    application.add_handlers(start.handlers())
    # Last in group 0: whatever no feature handled.
    application.add_handlers(start.fallback_handlers())
    application.add_error_handler(errors.on_error)


async def startup(application: Application) -> None:
    """After ``initialize()``, before ``start()``: admins, published commands, the scheduler tick."""
    services: Services = application.bot_data[SERVICES_KEY]
    await services.staff.ensure_admins(services.config.access.admins)
    await publish_commands(application, services.config.locale.default_language)
    if application.job_queue is not None:
        application.job_queue.run_repeating(
            _tick, interval=timedelta(seconds=TICK_SECONDS), first=1, name="scheduler-tick"
        )


async def publish_commands(application: Application, default_language: str) -> None:
    for language in (*LANGUAGES, None):
        _ = gettext_for(language or default_language)
        commands = [BotCommand(name, _(description)) for name, description in start.COMMANDS]
        await application.bot.set_my_commands(
            commands, scope=BotCommandScopeAllPrivateChats(), language_code=language
        )


async def _tick(context: ContextTypes.DEFAULT_TYPE) -> None:
    scheduler: Scheduler = context.application.bot_data[SCHEDULER_KEY]
    await scheduler.tick()
