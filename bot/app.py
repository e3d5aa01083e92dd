"""The composition root: builds the Application and shows everything the bot reacts to.

Reading ``register_handlers`` tells you every handler, in order. Order
matters: the access gate runs first (group -1) and stops anyone who is not
active staff; feature handlers follow in group 0, where the first match
wins; the catch-all "I did not understand" comes last; the error handler
is registered separately.
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from telegram import BotCommand, BotCommandScopeAllPrivateChats, Update
from telegram.constants import ParseMode
from telegram.ext import (
    Application,
    ApplicationBuilder,
    BaseUpdateProcessor,
    ContextTypes,
    Defaults,
    TypeHandler,
)
from telegram.request import HTTPXRequest
from telegram.warnings import PTBUserWarning

from bot import render
from bot.activity import ApplicationActivity
from bot.concurrency import PerUserUpdateProcessor
from bot.config import TelegramConfig
from bot.domain import dates, phones
from bot.i18n import LANGUAGES, gettext_for
from bot.persistence import StoreApplication, StorePersistence
from bot.ratelimit import RateLimits, TelegramRateLimiter
from bot.scheduler import Scheduler
from bot.services import Services
from bot.telegram_request import StatusRequest, shared_tls
from handlers import (
    access,
    archive,
    commands,
    customers,
    deals,
    errors,
    feedback,
    imports,
    interactions,
    invitations,
    notes,
    purchases,
    reminders,
    reports,
    search,
    staff,
    start,
    todos,
    visits,
)
from handlers.common import SERVICES_KEY, EditingBot

log = logging.getLogger(__name__)

# Wizards are tracked per user and chat, and their buttons belong to the wizard's own
# messages, so PTB's advice to track callback queries per message does not apply.
warnings.filterwarnings("ignore", message="If 'per_message=False'", category=PTBUserWarning)

SCHEDULER_KEY = "scheduler"
TICK_SECONDS = 20
DELIVERY_SECONDS = 1  # how often the delivery job looks for due reminders (it then sends all of them)
DELIVERY_LOCK_KEY = "delivery_lock"


def build_application(
    services: Services,
    *,
    token: str | None = None,
    activity: ApplicationActivity | None = None,
) -> Application:
    """The Application with every handler; ``activity`` (sandbox runs only) tracks its work."""
    config = services.config
    token = token or config.telegram.token
    if not token:
        raise ValueError("a bot token is required to build the application")
    # One user's updates in order, different users' side by side (bot/concurrency.py);
    # a sandbox run tracks the same processor, so tests see production's ordering.
    processor: BaseUpdateProcessor = PerUserUpdateProcessor(config.telegram.concurrent_updates)
    builder = ApplicationBuilder()
    if activity is not None:
        processor = activity.wrap(processor)
    # StatusRequest keeps a server error's HTTP status, which reminder delivery needs (503 vs 500).
    builder = builder.request(
        StatusRequest(connection_pool_size=256, httpx_kwargs=activity.httpx_kwargs() if activity else None)
    )
    # PTB's own getUpdates client, but with the process's one TLS context (bot/telegram_request.py).
    builder = builder.get_updates_request(
        HTTPXRequest(connection_pool_size=1, httpx_kwargs=shared_tls(None))
    )
    application = (
        builder
        # Each update's user state read from the store first and written back (bot/persistence.py).
        .application_class(StoreApplication)
        .concurrent_updates(processor)
        .token(token)
        .base_url(config.telegram.api_base_url)
        .base_file_url(config.file_base_url)
        .defaults(Defaults(parse_mode=ParseMode.HTML, tzinfo=config.tz))
        .rate_limiter(rate_limiter(config.telegram))
        .persistence(
            StorePersistence(
                services.store,
                services.clock,
                update_interval=config.conversation.persistence_interval_seconds,
            )
        )
        .build()
    )
    # Edits that change nothing succeed, long edits are split (handlers/common.py): the
    # builder has no bot-class option, and EditingBot adds methods only (no state).
    application.bot.__class__ = EditingBot
    application.bot_data[SERVICES_KEY] = services
    application.bot_data[SCHEDULER_KEY] = Scheduler(services.clock)
    register_handlers(application, timedelta(minutes=config.conversation.timeout_minutes))
    return application


def rate_limiter(telegram: TelegramConfig) -> TelegramRateLimiter:
    """Message sends throttled as Telegram limits them (``rate_limit = false``: 429 retries only)."""
    return TelegramRateLimiter(
        RateLimits(
            messages_per_second=telegram.messages_per_second,
            private_chat_messages_per_second=telegram.private_chat_messages_per_second,
            private_chat_burst=telegram.private_chat_burst,
            group_chat_messages_per_minute=telegram.group_chat_messages_per_minute,
        ),
        max_retries=telegram.rate_limit_retries,
        throttle=telegram.rate_limit,
    )


def register_handlers(application: Application, conversation_timeout: timedelta) -> None:
    # While a storage problem is open, each update first checks whether the store took a write again.
    application.add_handler(TypeHandler(Update, errors.watch_storage), group=-2)
    # Order matters: the gate first, in its own group, so nothing reaches a feature unchecked.
    application.add_handlers(access.handlers(), group=-1)
    # Before the wizards: a reply to the search prompt is a search, not a field value.
    application.add_handlers(search.early_handlers())
    application.add_handlers(start.handlers())
    application.add_handlers(customers.handlers(conversation_timeout))
    application.add_handlers(purchases.handlers(conversation_timeout))
    application.add_handlers(reminders.handlers())
    application.add_handlers(interactions.handlers(conversation_timeout))
    application.add_handlers(deals.handlers(conversation_timeout))
    application.add_handlers(visits.handlers())
    application.add_handlers(feedback.handlers(conversation_timeout))
    application.add_handlers(todos.handlers(conversation_timeout))
    application.add_handlers(notes.handlers(conversation_timeout))
    application.add_handlers(reports.handlers(conversation_timeout))
    application.add_handlers(search.handlers())
    application.add_handlers(invitations.handlers(conversation_timeout))
    application.add_handlers(staff.handlers(conversation_timeout))
    application.add_handlers(archive.handlers())
    # A document no running form took (a form's file step comes first): an import (issue 16).
    application.add_handlers(imports.handlers())
    # A plain text no feature (and no running form) took is a search: 张伟, zhangwei, 8000.
    application.add_handlers(search.text_handlers())
    # Last in group 0: whatever no feature handled.
    application.add_handlers(start.fallback_handlers())
    application.add_error_handler(errors.on_error)
    # What the scheduler pushes, and how each kind is shown (follow-ups … reports).
    reminders.register(reminders.pushed(), reports.pushed(), todos.pushed(), deals.pushed())


async def startup(application: Application, *, auto_tick: bool = True) -> None:
    """After ``initialize()``, before ``start()``: admins, published commands, the scheduler tick."""
    services: Services = application.bot_data[SERVICES_KEY]
    await asyncio.to_thread(warm_up, services.clock.now(), services.config.tz)
    services.customers.search_index.start()  # built in its worker; searches before it ends wait
    await services.staff.ensure_admins(services.config.access.admins)
    await services.notes.migrate_legacy()  # the old single "notes" field: the first note (idempotent)
    await publish_commands(application, services.config.locale.default_language)
    register_tasks(application)
    # An import a crash or restart interrupted: its importer is told, with Resume / Roll back.
    await imports.announce_unfinished(application)
    if auto_tick and application.job_queue is not None:
        # A tick that starts late (a busy loop, a slow store) must still run, once:
        # APScheduler's default would silently skip it after 1 s.
        application.job_queue.run_repeating(
            _tick, interval=timedelta(seconds=TICK_SECONDS), first=1, name="scheduler-tick",
            job_kwargs={"misfire_grace_time": None, "coalesce": True, "max_instances": 1},
        )
        start_delivery_job(application)


def start_delivery_job(application: Application) -> None:
    """Reminders go out as they fall due, all of them, at the flood limits' pace (bot/pacing.py)."""
    application.job_queue.run_repeating(
        _deliver, interval=timedelta(seconds=DELIVERY_SECONDS), first=1, name="delivery",
        # A second instance finds the first one sending and returns at once (no "skipped" warnings).
        job_kwargs={"misfire_grace_time": None, "coalesce": True, "max_instances": 2},
    )


def warm_up(now: datetime, tz: ZoneInfo) -> None:
    """First-use costs of the libraries, paid in a worker at start rather than on the event
    loop in some user's first update: dateparser's languages, every template, the catalogs,
    Babel's dates, the phone metadata."""
    dates.warm_up(now, tz)
    render.warm_up()
    phones.format_phone(phones.parse_phone("13800138000"))


def register_tasks(application: Application) -> None:
    """What the scheduler does, by the bot's clock (tests and the console move that clock)."""
    services: Services = application.bot_data[SERVICES_KEY]
    scheduler: Scheduler = application.bot_data[SCHEDULER_KEY]
    if scheduler.tasks:
        return

    async def deliver(now: datetime) -> None:
        await deliver_now(application)

    # One replica at a time runs each generation task (a leased row, bot/services/leases.py);
    # delivery is shared: every reminder is claimed on its own.
    leased = services.leases.exclusive
    scheduler.add("generate", timedelta(hours=1), leased("generate", services.generator.run_daily))
    scheduler.add("feedback", timedelta(hours=1), leased("feedback", services.generator.feedback_scan))
    scheduler.add("deals", timedelta(hours=1), leased("deals", services.deals.nudge_scan))
    scheduler.add("reports", timedelta(hours=1), leased("reports", services.reports.generate_scheduled))
    scheduler.add("deliver", timedelta(minutes=1), deliver)
    if services.config.backup.directory:  # the daily backup, in a worker ([backup] in config)
        scheduler.add("backup", timedelta(hours=1), leased("backup", services.archive.scheduled_backup))


async def publish_commands(application: Application, default_language: str) -> None:
    """Everyone's commands per language; managers and admins get theirs in their own chat."""
    for language in (*LANGUAGES, None):
        _ = gettext_for(language or default_language)
        published = [BotCommand(name, _(description)) for name, description in commands.COMMANDS]
        await application.bot.set_my_commands(
            published, scope=BotCommandScopeAllPrivateChats(), language_code=language
        )
    services: Services = application.bot_data[SERVICES_KEY]
    for user in await services.staff.with_team_commands():
        await commands.publish_user_commands(application.bot, user)


async def deliver_now(application: Application) -> int:
    """Send every due reminder (the delivery job and the scheduler's task; one at a time)."""
    lock = application.bot_data.setdefault(DELIVERY_LOCK_KEY, asyncio.Lock())
    if lock.locked():
        return 0  # a delivery run is under way: it sends what is due
    async with lock:
        services: Services = application.bot_data[SERVICES_KEY]
        return await reminders.deliver_due(application, services.clock.now())


async def _deliver(context: ContextTypes.DEFAULT_TYPE) -> None:
    await deliver_now(context.application)


async def _tick(context: ContextTypes.DEFAULT_TYPE) -> None:
    scheduler: Scheduler = context.application.bot_data[SCHEDULER_KEY]
    await scheduler.tick()
