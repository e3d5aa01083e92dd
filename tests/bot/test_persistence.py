"""Conversation state lives in the store: a restart mid-wizard resumes where the user was."""

from __future__ import annotations

import dataclasses
from typing import Any

from telegram import Update
from telegram.ext import CommandHandler, ConversationHandler, MessageHandler, filters

from tests.conftest import ADMIN_ID
from tests.helpers import add_first, bot_in_sandbox

ASK_NAME = "probe:name"


def probe_conversation() -> ConversationHandler:
    async def begin(update: Update, context: Any) -> str:
        context.user_data["draft"] = {"started": True}
        await update.effective_message.reply_text("name?")
        return ASK_NAME

    async def got_name(update: Update, context: Any) -> int:
        draft = context.user_data.pop("draft")
        await update.effective_message.reply_text(f"got {update.effective_message.text} {draft}")
        return ConversationHandler.END

    return ConversationHandler(
        entry_points=[CommandHandler("probe", begin)],
        states={ASK_NAME: [MessageHandler(filters.TEXT & ~filters.COMMAND, got_name)]},
        fallbacks=[],
        name="probe",
        persistent=True,
    )


async def test_wizard_resumes_after_restart(sandbox: Any, config: Any, clock: Any) -> None:
    config = dataclasses.replace(
        config,
        telegram=dataclasses.replace(
            config.telegram, api_base_url=sandbox.base_url, file_base_url=sandbox.file_base_url
        ),
    )
    user = sandbox.user(ADMIN_ID, first_name="Ada", language_code="en")
    def configure(app: Any) -> None:
        add_first(app, probe_conversation())

    async with bot_in_sandbox(sandbox, config, clock=clock,
                              configure=configure, auto_tick=False):
        replies = await user.send("/probe")
        assert replies[-1].text == "name?"
    async with bot_in_sandbox(sandbox, config, clock=clock,
                              configure=configure, auto_tick=False):
        replies = await user.send("Bob")
        assert replies[-1].text == "got Bob {'started': True}"
