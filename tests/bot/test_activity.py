"""A user's action returns when the bot has finished the update, whatever the bot started.

A plain PTB Application with handlers that finish their work late — in a
task, a worker thread, a JobQueue job — polls the sandbox. Each wait must
include that late work and nothing of another update's, without sleeping
and without a quiet window (``slow`` handlers block on events the test
releases, so the order is forced, not timed).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from typing import Any

import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
)
from telegram.request import HTTPXRequest

from bot.activity import ApplicationActivity
from bot.sandbox import FloodLimits, NoReply, SandboxServer
from tests.helpers import ptb_request

MENU = InlineKeyboardMarkup(
    [[InlineKeyboardButton("Chart", callback_data="chart"),
      InlineKeyboardButton("Quick", callback_data="quick")]]
)


class Bot:
    """Handlers whose work ends after the handler returns."""

    def __init__(self) -> None:
        self.chart_may_finish = threading.Event()
        self.tasks: set[asyncio.Task[Any]] = set()

    async def menu(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text("Menu", reply_markup=MENU)

    async def in_a_task(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat_id = update.effective_chat.id  # type: ignore[union-attr]

        async def later() -> None:
            for _ in range(5):
                await asyncio.sleep(0)
            await context.bot.send_message(chat_id, "from a task")

        task = asyncio.create_task(later())  # the handler returns before the task sends
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def in_a_thread(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat_id = update.effective_chat.id  # type: ignore[union-attr]
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(None, lambda: "from a thread")

        async def send_when_done() -> None:
            await context.bot.send_message(chat_id, await future)

        task = asyncio.create_task(send_when_done())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def in_a_job(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat_id = update.effective_chat.id  # type: ignore[union-attr]

        async def job(job_context: ContextTypes.DEFAULT_TYPE) -> None:
            await job_context.bot.send_message(chat_id, "from a job")

        assert context.job_queue is not None
        context.job_queue.run_once(job, when=0)

    async def silent(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        return None

    async def button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None and query.message is not None
        if query.data == "chart":
            await query.answer("Rendering…")
            # The chart is drawn in a worker thread that ends only when the test says so.
            await asyncio.to_thread(self.chart_may_finish.wait, 10)
            await context.bot.send_message(query.message.chat.id, "the chart")
        else:
            await query.answer("Quick answer")


@pytest.fixture
async def sandbox() -> AsyncIterator[SandboxServer]:
    server = SandboxServer(flood_limits=FloodLimits.disabled())
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def bot(sandbox: SandboxServer) -> AsyncIterator[Bot]:
    handlers = Bot()
    activity = ApplicationActivity(max_concurrent_updates=4)
    sandbox.attach(activity)
    application = (
        ApplicationBuilder()
        .token(sandbox.token)
        .base_url(sandbox.base_url)
        .concurrent_updates(activity.update_processor)
        .request(HTTPXRequest(httpx_kwargs=activity.httpx_kwargs()))
        .get_updates_request(ptb_request())
        .build()
    )
    application.add_handler(CommandHandler("menu", handlers.menu))
    application.add_handler(CommandHandler("task", handlers.in_a_task))
    application.add_handler(CommandHandler("thread", handlers.in_a_thread))
    application.add_handler(CommandHandler("job", handlers.in_a_job))
    application.add_handler(CommandHandler("silent", handlers.silent))
    application.add_handler(CallbackQueryHandler(handlers.button))
    async with application:
        activity.attach(application)
        await application.start()
        assert application.updater is not None
        await application.updater.start_polling(timeout=1, allowed_updates=Update.ALL_TYPES)
        try:
            yield handlers
        finally:
            handlers.chart_may_finish.set()
            await application.updater.stop()
            await application.stop()
            activity.detach()
            sandbox.attach(None)


@pytest.mark.parametrize(
    ("command", "expected"),
    [("/task", "from a task"), ("/thread", "from a thread"), ("/job", "from a job")],
)
async def test_work_a_handler_leaves_running_is_part_of_the_answer(
    sandbox: SandboxServer, bot: Bot, command: str, expected: str
) -> None:
    user = sandbox.user(1001)
    replies = await user.send(command)
    assert [m.text for m in replies] == [expected]


async def test_an_earlier_slow_press_does_not_answer_the_next_one(
    sandbox: SandboxServer, bot: Bot
) -> None:
    user = sandbox.user(1001)
    (menu,) = await user.send("/menu")
    slow = asyncio.create_task(user.press("Chart"))
    await sandbox.state.wait_until(
        lambda: any(a.text == "Rendering…" for a in user.callback_answers), 10, lambda: "chart"
    )
    # The chart press is still being processed; a second press on the same menu is its own
    # update, answered by its own callback answer, while the chart is still being drawn.
    quick = await user.press_forged(menu.message_id, "quick")
    assert quick == [] and user.callback_answers[-1].text == "Quick answer"
    assert not slow.done()
    bot.chart_may_finish.set()
    assert [m.text for m in await slow] == ["the chart"]
    assert [e.update_id is not None for e in sandbox.state.events] == [True] * len(
        sandbox.state.events
    )


async def test_a_bot_that_finishes_without_answering_says_so_at_once(
    sandbox: SandboxServer, bot: Bot
) -> None:
    user = sandbox.user(1001)
    with pytest.raises(NoReply, match="without responding in chat 1001"):
        await user.send("/silent", timeout=30)


async def test_idle_means_nothing_left_to_do(sandbox: SandboxServer, bot: Bot) -> None:
    user = sandbox.user(1001)
    await user.send("/task", wait=False)
    await user.send("/job", wait=False)
    await sandbox.wait_idle()
    assert sorted(m.text or "" for m in user.bot_messages()) == ["from a job", "from a task"]
