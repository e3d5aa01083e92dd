"""getUpdates: long polling, confirmation by offset, negative offsets, filters, conflicts."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
import telegram
from telegram.error import Conflict

from bot.sandbox import SandboxError, SandboxServer


async def test_long_poll_returns_as_soon_as_an_update_arrives(
    tg: telegram.Bot, server: SandboxServer
) -> None:
    user = server.user(1001)
    started = time.monotonic()
    poll = asyncio.create_task(tg.get_updates(timeout=5))
    await server.wait_for_poller()
    assert not poll.done()
    await user.send("hello", wait=False)
    (update,) = await asyncio.wait_for(poll, 2)
    # Long polling itself is under test: it answers long before its 5 s timeout.
    assert time.monotonic() - started < 2
    assert update.message is not None and update.message.text == "hello"
    assert update.message.from_user is not None and update.message.from_user.id == 1001


async def test_long_poll_times_out_empty(tg: telegram.Bot) -> None:
    started = time.monotonic()
    assert await tg.get_updates(timeout=0.3) == ()  # type: ignore[arg-type]
    # Long polling itself is under test: an empty poll lasts its timeout (generous upper bound).
    assert 0.25 <= time.monotonic() - started < 2


async def test_update_is_kept_until_an_offset_confirms_it(
    tg: telegram.Bot, server: SandboxServer
) -> None:
    user = server.user(1001)
    await user.send("one", wait=False)
    await user.send("two", wait=False)
    first = await tg.get_updates()
    again = await tg.get_updates()
    assert [u.update_id for u in first] == [u.update_id for u in again]
    assert len(first) == 2
    rest = await tg.get_updates(offset=first[0].update_id + 1)
    assert [u.message.text for u in rest if u.message] == ["two"]
    assert await tg.get_updates(offset=first[1].update_id + 1) == ()
    assert server.pending_updates == 0


async def test_limit_and_negative_offset(tg: telegram.Bot, server: SandboxServer) -> None:
    user = server.user(1001)
    for text in ("a", "b", "c", "d"):
        await user.send(text, wait=False)
    limited = await tg.get_updates(limit=2)
    assert [u.message.text for u in limited if u.message] == ["a", "b"]
    last = await tg.get_updates(offset=-1)
    assert [u.message.text for u in last if u.message] == ["d"]
    # Everything before the last one is forgotten.
    assert [u.message.text for u in await tg.get_updates() if u.message] == ["d"]


async def test_command_entity_and_user_shape(tg: telegram.Bot, server: SandboxServer) -> None:
    user = server.user(
        1001, first_name="Alice", last_name="Li", username="alice", language_code="zh-hans"
    )
    await user.send("/start@crm_sandbox_bot payload", wait=False)
    (update,) = await tg.get_updates()
    message = update.message
    assert message is not None and message.from_user is not None
    assert message.entities[0].type == "bot_command"
    assert (message.entities[0].offset, message.entities[0].length) == (0, 22)
    assert message.from_user.language_code == "zh-hans"
    assert message.from_user.last_name == "Li"
    assert message.chat.id == 1001 and message.chat.type == "private"


async def test_allowed_updates_filter_new_updates(tg: telegram.Bot, server: SandboxServer) -> None:
    user = server.user(1001)
    await tg.send_message(
        1001,
        "menu",
        reply_markup=telegram.InlineKeyboardMarkup(
            [[telegram.InlineKeyboardButton("Go", callback_data="go")]]
        ),
    )
    await tg.get_updates(allowed_updates=["message"])
    with pytest.raises(SandboxError, match="allowed_updates exclude 'callback_query'"):
        await user.press("Go")
    assert await user.press("Go", wait=False) == []
    assert server.pending_updates == 0
    # The setting persists until changed; an empty list restores the default.
    await tg.get_updates(allowed_updates=[])
    await user.press("Go", wait=False)
    (update,) = await tg.get_updates()
    assert update.callback_query is not None


async def test_a_second_poller_terminates_the_first(
    tg: telegram.Bot, server: SandboxServer, raw: Any
) -> None:
    first = asyncio.create_task(tg.get_updates(timeout=5))
    await server.wait_for_poller()
    status, body = await raw("getUpdates", timeout=0)
    assert status == 200 and body["result"] == []
    with pytest.raises(Conflict, match="terminated by other getUpdates request"):
        await asyncio.wait_for(first, 2)


async def test_stop_releases_pending_long_polls(tg: telegram.Bot, server: SandboxServer) -> None:
    poll = asyncio.create_task(tg.get_updates(timeout=30))
    await server.wait_for_poller()
    started = time.monotonic()
    await server.stop()
    assert await asyncio.wait_for(poll, 3) == ()
    # Long polling itself is under test: stop() ends a 30 s poll at once.
    assert time.monotonic() - started < 3


async def test_waiting_on_a_dropped_update_fails_fast(
    tg: telegram.Bot, server: SandboxServer
) -> None:
    user = server.user(1001)
    waiting = asyncio.create_task(user.send("lost", timeout=5))
    await asyncio.sleep(0)  # let the user send; the wait then begins
    await tg.delete_webhook(drop_pending_updates=True)
    with pytest.raises(SandboxError, match="dropped before the bot fetched it"):
        await asyncio.wait_for(waiting, 2)


async def test_a_shared_location_reaches_the_bot_as_a_location(
    tg: telegram.Bot, server: SandboxServer
) -> None:
    user = server.user(1001)
    await user.send_location(31.2304, 121.4737, wait=False)
    (update,) = await tg.get_updates(timeout=1)
    assert update.message is not None and update.message.location is not None
    assert (update.message.location.latitude, update.message.location.longitude) == (31.2304, 121.4737)
    with pytest.raises(SandboxError):
        await user.send_location(91, 0, wait=False)
