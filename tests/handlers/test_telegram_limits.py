"""The bot copes with Telegram's limits, shown against the sandbox that enforces them."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from telegram import Update

from bot.sandbox.server import FloodLimits
from handlers.common import reply_html
from tests.helpers import add_command


def long_report(lines: int) -> str:
    return "\n".join(f"<b>{i}.</b> 客户 <i>Customer &amp; Co</i> — {'x' * 60}" for i in range(lines))


async def test_long_text_is_split_into_valid_messages(admin: Any, bot: Any, sandbox: Any) -> None:
    async def long(update: Update, context) -> None:
        await reply_html(update, context, long_report(300), "en")

    add_command(bot, "long", long)
    await admin.send("/long")
    await sandbox.wait_idle()
    replies = [m for m in admin.bot_messages() if "客户" in (m.text or "")]
    assert len(replies) >= 5
    assert all(len(m.text) <= 4096 for m in replies)
    joined = "\n".join(m.text for m in replies)
    assert "0. 客户 Customer & Co" in joined and "299. 客户" in joined


async def test_text_beyond_ten_messages_is_truncated_with_a_note(admin: Any, bot: Any, sandbox: Any) -> None:
    async def huge(update: Update, context) -> None:
        await reply_html(update, context, long_report(3000), "en")

    add_command(bot, "huge", huge)
    await admin.send("/huge")
    await sandbox.wait_idle()
    replies = admin.bot_messages()
    assert len(replies) == 10
    assert replies[-1].text.endswith("(message truncated: too long to show in full)")


class TestFlood:
    @pytest.fixture
    def flood_limits(self) -> FloodLimits:
        return FloodLimits(global_per_second=30, chat_burst=3, chat_per_second=2.0)

    async def test_429_is_retried_and_every_message_arrives(
        self, admin: Any, bot: Any, sandbox: Any
    ) -> None:
        async def burst(update: Update, context) -> None:
            for i in range(6):
                await context.bot.send_message(update.effective_chat.id, f"part {i}")

        add_command(bot, "burst", burst)
        all_arrived = asyncio.Event()

        def on_event(event: Any) -> None:
            if len([m for m in admin.bot_messages() if m.text.startswith("part")]) == 6:
                all_arrived.set()

        sandbox.add_listener(on_event)
        await admin.send("/burst", wait=False)
        await asyncio.wait_for(all_arrived.wait(), timeout=20)
        texts = [m.text for m in admin.bot_messages() if m.text.startswith("part")]
        assert texts == [f"part {i}" for i in range(6)]
        assert sandbox.api.flood.refusals > 0
