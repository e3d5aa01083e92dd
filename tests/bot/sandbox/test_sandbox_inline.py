"""Inline queries: @bot <text> in a chat, the bot's answer, and choosing a result."""

from __future__ import annotations

import asyncio

import pytest
import telegram
from telegram import InlineQueryResultArticle, InputTextMessageContent

from bot.sandbox.server import SandboxServer


async def answer_next_inline_query(tg: telegram.Bot, results: list) -> telegram.Update:
    for _ in range(50):
        updates = await tg.get_updates(timeout=1)
        for update in updates:
            await tg.get_updates(offset=update.update_id + 1, timeout=0)
            if update.inline_query is not None:
                await tg.answer_inline_query(update.inline_query.id, results)
                return update
    raise AssertionError("no inline query arrived")


async def test_inline_query_round_trip(server: SandboxServer, tg: telegram.Bot) -> None:
    user = server.user(42, first_name="Ann")
    results = [
        InlineQueryResultArticle(
            id="c1", title="张伟 · Acme",
            input_message_content=InputTextMessageContent("<b>张伟</b> · Acme", parse_mode="HTML"),
        )
    ]
    answer_task = asyncio.create_task(answer_next_inline_query(tg, results))
    answer = await user.inline_query("zw")
    update = await answer_task
    assert update.inline_query.query == "zw" and update.inline_query.from_user.id == 42
    assert [r["id"] for r in answer["results"]] == ["c1"]
    sent = await user.choose_inline_result(answer["results"][0], wait=False)
    assert sent == []
    updates = await tg.get_updates(timeout=1)
    message = updates[-1].message
    assert message.text == "张伟 · Acme" and message.via_bot.id == tg.id
    assert message.entities[0].type == "bold"


async def test_bad_inline_answers_are_refused(server: SandboxServer, tg: telegram.Bot) -> None:
    user = server.user(43, first_name="Bo")
    bad = [
        InlineQueryResultArticle(id="x", title="t", input_message_content=InputTextMessageContent("<b>open")),
    ]

    async def answer() -> None:
        updates = await tg.get_updates(timeout=1)
        await tg.get_updates(offset=updates[-1].update_id + 1, timeout=0)
        with pytest.raises(telegram.error.BadRequest, match="(?i)can't parse entities"):
            await tg.answer_inline_query(updates[-1].inline_query.id, [
                InlineQueryResultArticle(id="x", title="t",
                                         input_message_content=InputTextMessageContent("<b>open", parse_mode="HTML")),
            ])
        with pytest.raises(telegram.error.BadRequest, match="(?i)result_id_duplicate"):
            await tg.answer_inline_query(updates[-1].inline_query.id, bad + bad)
        await tg.answer_inline_query(updates[-1].inline_query.id, bad)
        with pytest.raises(telegram.error.BadRequest, match="(?i)query is too old"):
            await tg.answer_inline_query(updates[-1].inline_query.id, bad)

    task = asyncio.create_task(answer())
    result = await user.inline_query("x")
    await task
    assert result["results"][0]["id"] == "x"
