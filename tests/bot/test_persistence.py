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


# -- what a write costs -------------------------------------------------------------------


async def test_an_unchanged_value_is_not_written_again_and_a_changed_one_once(tmp_path: Any) -> None:
    from bot.clock import SimulatedClock
    from bot.persistence import StorePersistence
    from storage import TinyDBStore
    from tests.conftest import START

    store = TinyDBStore(tmp_path / "data", fsync=False)
    await store.open()
    try:
        persistence = StorePersistence(store, SimulatedClock(START))
        await persistence.update_user_data(7, {"draft": {"name": "Li"}})
        first = await store.kv.get("user_data:7")
        assert first is not None and first.version == 0
        reads = []
        read = store.kv.get

        async def counted_get(record_id: str) -> Any:
            reads.append(record_id)
            return await read(record_id)

        store.kv.get = counted_get  # type: ignore[method-assign]
        for _ in range(3):  # PTB rewrites every interval: nothing changed, nothing read or written
            await persistence.update_user_data(7, {"draft": {"name": "Li"}})
        # a changed value: one update, from the version this process wrote, without a read
        await persistence.update_user_data(7, {"draft": {"name": "Wang"}})
        assert reads == []
        store.kv.get = read  # type: ignore[method-assign]
        changed = await store.kv.get("user_data:7")
        assert changed is not None and changed.version == 1
        assert changed.value == {"draft": {"name": "Wang"}}
        # Someone else changed the record meanwhile: the next write still lands.
        changed.value = {"other": True}
        await store.kv.update(changed)
        await persistence.update_user_data(7, {"draft": {"name": "Zhao"}})
        latest = await store.kv.get("user_data:7")
        assert latest is not None and latest.value == {"draft": {"name": "Zhao"}}
        # Dropped, then the same value again: written again.
        await persistence.drop_user_data(7)
        await persistence.update_user_data(7, {"draft": {"name": "Zhao"}})
        again = await store.kv.get("user_data:7")
        assert again is not None and again.value == {"draft": {"name": "Zhao"}}
    finally:
        await store.close()
