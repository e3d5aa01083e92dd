"""A full PTB Application (Updater, handlers, job queue) against the sandbox."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    AIORateLimiter,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)
from telegram.request import HTTPXRequest

from bot.activity import ApplicationActivity
from bot.sandbox import FloodLimits, SandboxServer
from tests.helpers import ptb_request


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_html(
        "<b>Hi</b>, pick one:",
        reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("Add", callback_data="add")]]),
    )


async def button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer("Adding…")
    await query.edit_message_text("Send the customer's name")


async def burst(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_chat is not None
    for index in range(6):
        await context.bot.send_message(update.effective_chat.id, f"line {index}")


async def test_application_runs_against_the_sandbox() -> None:
    sandbox = SandboxServer(flood_limits=FloodLimits(chat_burst=4, chat_per_second=20.0))
    await sandbox.start()
    activity = ApplicationActivity()
    sandbox.attach(activity)
    application = (
        ApplicationBuilder()
        .concurrent_updates(activity.update_processor)
        .request(HTTPXRequest(httpx_kwargs=activity.httpx_kwargs()))
        .get_updates_request(ptb_request())
        .token(sandbox.token)
        .base_url(sandbox.base_url)
        .base_file_url(sandbox.file_base_url)
        .rate_limiter(AIORateLimiter(max_retries=3))
        .build()
    )
    application.add_handler(CommandHandler("start", start))
    application.add_handler(CommandHandler("burst", burst))
    application.add_handler(CallbackQueryHandler(button))
    application.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, start))
    try:
        async with application:
            activity.attach(application)
            await application.start()
            assert application.updater is not None
            await application.updater.start_polling(timeout=1, allowed_updates=Update.ALL_TYPES)
            alice = sandbox.user(1001, first_name="Alice")
            (reply,) = await alice.send("/start")
            assert reply.text == "Hi, pick one:" and reply.button_labels() == [["Add"]]
            (edited,) = await alice.press("Add")
            assert edited is reply and edited.text == "Send the customer's name"
            assert alice.callback_answers[-1].text == "Adding…"
            # PTB's rate limiter honours the sandbox's 429 retry_after and retries.
            # The wait ends when the handler is done: all six lines are there.
            burst_replies = await alice.send("/burst", timeout=8)
            assert [m.text for m in burst_replies] == [f"line {i}" for i in range(6)]
            assert [m.text for m in alice.bot_messages()[1:]] == [f"line {i}" for i in range(6)]
            await application.updater.stop()
            await application.stop()
        assert sandbox.pending_updates == 0
    finally:
        await sandbox.stop()

