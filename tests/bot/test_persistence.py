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


async def test_an_unchanged_value_is_not_written_again_and_a_newer_one_is_never_overwritten(tmp_path: Any) -> None:
    """PTB's interval writes: unchanged → no read, no write; changed → one compare-and-set from the
    version this process saw; a session another process changed since is left as it is."""
    from bot.clock import SimulatedClock
    from bot.persistence import StorePersistence
    from storage import TinyDBStore
    from tests.conftest import START

    store = TinyDBStore(tmp_path / "data", fsync=False)
    await store.open()
    try:
        persistence = StorePersistence(store, SimulatedClock(START))
        await persistence.get_user_data()  # PTB's start: every session read once
        await persistence.update_user_data(7, {"draft": {"name": "Li"}})
        first = await store.kv.get("session:7")
        assert first is not None and first.version == 0
        assert first.value["user_data"] == {"draft": {"name": "Li"}}
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
        await persistence.update_conversation("probe", (7, 7), "probe:name")
        assert reads == []
        store.kv.get = read  # type: ignore[method-assign]
        changed = await store.kv.get("session:7")
        assert changed is not None and changed.version == 2
        assert changed.value == {"user_data": {"draft": {"name": "Wang"}},
                                 "conversations": {"probe|[7, 7]": "probe:name"}}
        # Another replica changed the session meanwhile: this process's older memory is not written over it.
        changed.value = {"user_data": {"other": True}, "conversations": {}}
        await store.kv.update(changed)
        await persistence.update_user_data(7, {"draft": {"name": "Zhao"}})
        latest = await store.kv.get("session:7")
        assert latest is not None and latest.value["user_data"] == {"other": True}
        # … nor does a conversation timeout here end a conversation continued elsewhere
        latest.value = {"user_data": {}, "conversations": {"probe|[7, 7]": "probe:name"}}
        await store.kv.update(latest)
        await persistence.update_conversation("probe", (7, 7), None)
        kept = await store.kv.get("session:7")
        assert kept is not None and kept.value["conversations"] == {"probe|[7, 7]": "probe:name"}
    finally:
        await store.close()


async def test_the_layout_before_sessions_is_folded_in_once(tmp_path: Any) -> None:
    from bot.clock import SimulatedClock
    from bot.persistence import StorePersistence
    from storage import TinyDBStore
    from tests.conftest import START

    store = TinyDBStore(tmp_path / "data", fsync=False)
    await store.open()
    try:
        await store.kv.put("user_data:7", {"log_draft": {"note": "kept"}}, namespace="user_data", now=START)
        await store.kv.put('conversation:log|[7, 7]', "log:note", namespace="conversation", now=START)
        await store.kv.put('conversation:feedback|[-100, 8]', "fb:kind", namespace="conversation", now=START)
        persistence = StorePersistence(store, SimulatedClock(START))
        assert await persistence.get_user_data() == {7: {"log_draft": {"note": "kept"}}, 8: {}}
        assert await persistence.get_conversations("log") == {(7, 7): "log:note"}
        assert await persistence.get_conversations("feedback") == {(-100, 8): "fb:kind"}
        assert await store.kv.find({"namespace": "user_data"}) == []
        assert await store.kv.find({"namespace": "conversation"}) == []
        again = StorePersistence(store, SimulatedClock(START))  # the next start: nothing left to fold
        assert await again.get_conversations("log") == {(7, 7): "log:note"}
    finally:
        await store.close()


def test_a_merge_keeps_the_newer_value_where_both_changed_a_key() -> None:
    from bot.persistence import merge

    base = {"user_data": {"a": 1, "b": 1, "gone": 1}, "conversations": {"x": "s1"}}
    ours = {"user_data": {"a": 2, "b": 1}, "conversations": {"x": "s2", "y": "t"}}
    theirs = {"user_data": {"a": 3, "b": 9, "gone": 1}, "conversations": {"x": "s1"}}
    assert merge(base, ours, theirs) == {
        "user_data": {"a": 3, "b": 9},  # a: both changed, theirs kept; gone: only we removed it
        "conversations": {"x": "s2", "y": "t"},
    }
