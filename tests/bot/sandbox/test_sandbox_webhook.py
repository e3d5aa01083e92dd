"""The sandbox's webhook: setWebhook/deleteWebhook/getWebhookInfo and delivery by POST.

A small aiohttp receiver on a free port stands in for the bot's webhook
server; it can be told to fail, to see Telegram's retry-on-error behaviour.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import telegram
from aiohttp import web

from bot.sandbox import SandboxServer
from bot.sandbox.webhook import SECRET_HEADER, chat_key


class Receiver:
    """A webhook endpoint: records each POST (body and secret header); answers ``status``."""

    def __init__(self) -> None:
        self.posts: list[tuple[dict[str, Any], str | None]] = []
        self.status = 200
        self.status_for: Any = None  # body -> status, instead of ``status``
        self.runner: web.AppRunner | None = None
        self.port = 0

    async def handle(self, request: web.Request) -> web.Response:
        body = json.loads(await request.text())
        self.posts.append((body, request.headers.get(SECRET_HEADER)))
        return web.Response(status=self.status_for(body) if self.status_for else self.status)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self.handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def texts(self) -> list[str]:
        return [body["message"]["text"] for body, _ in self.posts if "message" in body]

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    hook = Receiver()
    await hook.start()
    yield hook
    await hook.stop()


async def until(server: SandboxServer, condition: Any, what: str) -> None:
    await server.state.wait_until(condition, 10, lambda: f"waiting for {what}")


async def test_set_info_and_delete(server: SandboxServer, tg: telegram.Bot, receiver: Receiver) -> None:
    info = await tg.get_webhook_info()
    assert info.url == "" and info.pending_update_count == 0
    assert await tg.set_webhook(receiver.url, secret_token="s3cret", max_connections=5,
                                allowed_updates=["message", "callback_query"])
    info = await tg.get_webhook_info()
    assert info.url == receiver.url and info.max_connections == 5
    assert info.allowed_updates == ("message", "callback_query") and info.last_error_date is None
    assert await tg.delete_webhook()
    assert (await tg.get_webhook_info()).url == ""
    assert await tg.get_updates(timeout=0) == ()  # polling works again


@pytest.mark.parametrize(("options", "error"), [
    ({"secret_token": "no spaces allowed"}, "unallowed characters"),
    ({"max_connections": 101}, "max_connections"),
])
async def test_set_webhook_refuses_what_telegram_refuses(
    server: SandboxServer, tg: telegram.Bot, receiver: Receiver, options: dict[str, Any], error: str
) -> None:
    with pytest.raises(telegram.error.BadRequest, match=error):
        await tg.set_webhook(receiver.url, **options)
    assert server.webhook.webhook is None


async def test_updates_are_posted_with_the_secret_and_get_updates_is_a_conflict(
    server: SandboxServer, tg: telegram.Bot, receiver: Receiver
) -> None:
    await tg.set_webhook(receiver.url, secret_token="s3cret")
    alice = server.user(1001, first_name="Alice")
    await alice.send("hello", wait=False)
    await alice.send("again", wait=False)
    await until(server, lambda: server.pending_updates == 0, "both updates accepted")
    assert receiver.texts() == ["hello", "again"]
    assert [secret for _, secret in receiver.posts] == ["s3cret", "s3cret"]
    assert receiver.posts[0][0]["message"]["chat"]["id"] == 1001
    with pytest.raises(telegram.error.Conflict, match="webhook is active"):
        await tg.get_updates(timeout=0)


async def test_no_secret_header_without_a_secret(
    server: SandboxServer, tg: telegram.Bot, receiver: Receiver
) -> None:
    await tg.set_webhook(receiver.url)
    await server.user(1001).send("hi", wait=False)
    await until(server, lambda: server.pending_updates == 0, "the update accepted")
    assert receiver.posts[0][1] is None


async def test_a_failing_receiver_keeps_the_update_and_gets_it_again(
    server: SandboxServer, tg: telegram.Bot, receiver: Receiver
) -> None:
    server.deliver_to(None, first_retry=0.02)
    receiver.status = 500
    await tg.set_webhook(receiver.url, secret_token="s3cret")
    alice = server.user(1001)
    await alice.send("first", wait=False)
    await alice.send("second", wait=False)
    await until(server, lambda: len(receiver.posts) >= 3, "three failed attempts")
    # Nothing after "first" goes to that chat while "first" is not accepted: order per chat.
    assert set(receiver.texts()) == {"first"} and server.pending_updates == 2
    info = await tg.get_webhook_info()
    assert info.pending_update_count == 2 and info.last_error_date is not None
    assert "500" in info.last_error_message
    receiver.status = 200
    await until(server, lambda: server.pending_updates == 0, "the retries accepted")
    assert receiver.texts()[-2:] == ["first", "second"]
    failed = [d for d in server.webhook.deliveries if d.error is not None]
    assert len(failed) >= 3 and all(d.status == 500 for d in failed)


async def test_an_unreachable_receiver_is_retried_with_a_growing_delay(
    server: SandboxServer, tg: telegram.Bot, receiver: Receiver
) -> None:
    url = receiver.url
    await receiver.stop()  # nothing listens there any more
    server.deliver_to(None, first_retry=0.02)
    await tg.set_webhook(url)
    await server.user(1001).send("lost?", wait=False)
    await until(server, lambda: len(server.webhook.deliveries) >= 3, "three attempts")
    assert "Connection refused" in (await tg.get_webhook_info()).last_error_message
    assert server.pending_updates == 1
    item = server.state.updates.items()[0]
    assert item.attempts >= 3  # the next retry waits 0.02 * 2 ** attempts


async def test_other_chats_are_not_held_up_by_one_failing_chat(
    server: SandboxServer, tg: telegram.Bot, receiver: Receiver
) -> None:
    receiver.status_for = lambda body: 502 if body["message"]["chat"]["id"] == 1001 else 200
    server.deliver_to(None, first_retry=0.05)
    await tg.set_webhook(receiver.url)
    await server.user(1001).send("stuck", wait=False)
    await server.user(1002).send("fine", wait=False)
    await until(server, lambda: server.pending_updates == 1, "the other chat's update accepted")
    assert "fine" in receiver.texts()


async def test_round_robin_over_several_urls(server: SandboxServer, tg: telegram.Bot) -> None:
    first, second = Receiver(), Receiver()
    await first.start()
    await second.start()
    try:
        server.deliver_to([first.url, second.url])  # never POSTs to the URL the bot set
        await tg.set_webhook("http://load-balancer.invalid/hook", secret_token="s3cret")
        alice = server.user(1001)
        for text in ("one", "two", "three", "four"):
            await alice.send(text, wait=False)
            await until(server, lambda: server.pending_updates == 0, f"{text!r} accepted")
        assert first.texts() == ["one", "three"] and second.texts() == ["two", "four"]
        accepted_by = server.state.updates.delivered_to
        assert [accepted_by[d.update_id] for d in server.webhook.deliveries] == [
            first.url, second.url, first.url, second.url]
    finally:
        await first.stop()
        await second.stop()


async def test_drop_pending_updates(server: SandboxServer, tg: telegram.Bot, receiver: Receiver) -> None:
    await server.user(1001).send("old", wait=False)
    await tg.set_webhook(receiver.url, drop_pending_updates=True)
    await server.user(1001).send("new", wait=False)
    await until(server, lambda: server.pending_updates == 0, "the new update accepted")
    assert receiver.texts() == ["new"]


async def test_delete_webhook_stops_delivery(server: SandboxServer, tg: telegram.Bot, receiver: Receiver) -> None:
    await tg.set_webhook(receiver.url)
    await tg.delete_webhook()
    await server.user(1001).send("for polling", wait=False)
    assert receiver.posts == [] and server.pending_updates == 1
    updates = await tg.get_updates(timeout=0)
    assert [u.message.text for u in updates] == ["for polling"]


def test_chat_key_orders_by_chat_then_sender() -> None:
    assert chat_key({"update_id": 1, "message": {"chat": {"id": 5}, "from": {"id": 7}}}) == 5
    assert chat_key({"update_id": 1, "callback_query": {"from": {"id": 7},
                                                        "message": {"chat": {"id": 5}}}}) == 5
    assert chat_key({"update_id": 1, "inline_query": {"from": {"id": 7}}}) == 7
