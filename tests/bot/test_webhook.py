"""The whole bot in webhook mode, end to end through the sandbox's webhook delivery.

The sandbox POSTs each update to the bot's own webhook server (bot/webhook.py)
on a free local port, with the secret token; the bot answers through the Bot
API as in polling mode, and a user's ``send``/``press`` returns once the bot
has processed the update (the same activity tracking as polling).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import aiohttp
import pytest

from bot.app import SCHEDULER_KEY
from bot.config import ConfigError
from bot.runner import WEBHOOK_SERVER_KEY
from bot.sandbox.webhook import SECRET_HEADER
from handlers.common import SERVICES_KEY
from storage.base import StoreError
from storage.sql import SQLStore
from tests.conftest import ADMIN_ID
from tests.helpers import WEBHOOK_SECRET, bot_in_sandbox, webhook_config


@pytest.fixture
def connect(sandbox: Any, config: Any, clock: Any) -> Callable[..., Any]:
    """Start the bot in webhook mode against the sandbox; call again for a restart (same store:
    the data directory, or with ``sql_url`` that SQL database)."""
    config = webhook_config(dataclasses.replace(config, telegram=dataclasses.replace(
        config.telegram, api_base_url=sandbox.base_url, file_base_url=sandbox.file_base_url)))

    @asynccontextmanager
    async def running(sql_url: str | None = None) -> AsyncIterator[Any]:
        store = SQLStore(sql_url) if sql_url else None
        async with bot_in_sandbox(sandbox, config, clock=clock, auto_tick=False,
                                  store=store) as app:
            yield app

    return running


@pytest.fixture
async def app(connect: Callable[[], Any]) -> AsyncIterator[Any]:
    async with connect() as application:
        yield application


@pytest.fixture
def ada(sandbox: Any) -> Any:
    return sandbox.user(ADMIN_ID, first_name="Ada", username="ada", language_code="en")


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def server_of(app: Any) -> Any:
    return app.bot_data[WEBHOOK_SERVER_KEY]


async def test_the_bot_registers_its_webhook_with_the_secret_and_is_not_polling(
    app: Any, sandbox: Any, ada: Any
) -> None:
    webhook = sandbox.webhook.webhook
    assert webhook is not None and webhook.url == server_of(app).local_url
    assert webhook.secret_token == WEBHOOK_SECRET
    assert not app.updater.running  # no getUpdates: the updates come by POST
    replies = await ada.send("/start")
    assert replies and "Ada" in replies[-1].text
    delivery = sandbox.webhook.deliveries[-1]
    assert delivery.status == 200 and delivery.secret_sent and delivery.url == webhook.url
    assert sandbox.refused == []


@pytest.mark.parametrize("backend", ["tinydb", "sqlite"])
async def test_a_restart_mid_wizard_resumes_it_in_webhook_mode(
    connect: Callable[..., Any], sandbox: Any, ada: Any, backend: str, tmp_path: Any
) -> None:
    sql_url = f"sqlite:///{tmp_path / 'crm.sqlite3'}" if backend == "sqlite" else None
    async with connect(sql_url):
        replies = await ada.send("/add")
        assert "Customer name?" in replies[-1].text
        replies = await ada.send("Zhang Wei")
        assert "Phone number?" in replies[-1].text
    # While no bot listens, the update waits in the sandbox: the old URL refuses, it is retried.
    sandbox.deliver_to(None, first_retry=0.05)
    await ada.send("138 0013 8000", wait=False)
    await sandbox.state.wait_until(lambda: sandbox.webhook.webhook.last_error_message is not None,
                                   10, lambda: "waiting for a failed delivery")
    assert sandbox.pending_updates == 1
    assert "Connection refused" in sandbox.webhook.webhook.last_error_message
    async with connect(sql_url) as app:
        replies = await ada.wait_for_reply()
        assert "Company?" in replies[-1].text  # the wizard kept its place and its draft
        await ada.send("Acme")
        replies = await ada.press("✅ Save")
        assert "Zhang Wei" in replies[-1].text
        saved = await app.bot_data[SERVICES_KEY].store.customers.find()
        assert [(c.name, c.phones, c.company) for c in saved] == [
            ("Zhang Wei", ["+8613800138000"], "Acme")
        ]


@pytest.mark.parametrize("headers", [{}, {SECRET_HEADER: "wrong-secret"}, {SECRET_HEADER: ""}])
async def test_a_post_without_the_right_secret_is_refused_and_not_processed(
    app: Any, sandbox: Any, ada: Any, http: aiohttp.ClientSession, headers: dict[str, str]
) -> None:
    update = {"update_id": 9999, "message": {
        "message_id": 1, "date": 0, "chat": {"id": ADMIN_ID, "type": "private", "first_name": "Ada"},
        "from": {"id": ADMIN_ID, "is_bot": False, "first_name": "Ada"}, "text": "/start"}}
    before = len(sandbox.chat_messages(ADMIN_ID))
    async with http.post(server_of(app).local_url, data=json.dumps(update),
                         headers={"Content-Type": "application/json", **headers}) as response:
        assert response.status == 403
    await sandbox.wait_idle()
    assert app.update_queue.qsize() == 0 and server_of(app).refused == 1
    assert len(sandbox.chat_messages(ADMIN_ID)) == before
    # The same body with the secret is an update like any other.
    async with http.post(server_of(app).local_url, data=json.dumps(update),
                         headers={"Content-Type": "application/json",
                                  SECRET_HEADER: WEBHOOK_SECRET}) as response:
        assert response.status == 200
    await sandbox.wait_idle()
    assert len(sandbox.chat_messages(ADMIN_ID)) > before


async def test_a_body_that_is_not_an_update_is_refused(app: Any, http: aiohttp.ClientSession) -> None:
    for body in ("not json", "[1, 2]", '{"no": "update_id"}'):
        async with http.post(server_of(app).local_url, data=body,
                             headers={SECRET_HEADER: WEBHOOK_SECRET}) as response:
            assert response.status == 400
    assert app.update_queue.qsize() == 0


async def health(http: aiohttp.ClientSession, app: Any) -> tuple[int, dict[str, Any]]:
    server = server_of(app)
    url = f"http://127.0.0.1:{server.port}/healthz"
    async with http.get(url) as response:
        return response.status, await response.json()


async def test_healthz_reports_store_and_tick(app: Any, clock: Any, http: aiohttp.ClientSession) -> None:
    status, body = await health(http, app)
    assert status == 200 and body["status"] == "ok" and body["store"]["ok"] and body["tick"]["ok"]
    # No tick for longer than the threshold (by the bot's clock): late.
    clock.advance(timedelta(seconds=app.bot_data[SERVICES_KEY].config.telegram.health_max_tick_lag_seconds + 1))
    status, body = await health(http, app)
    assert status == 503 and body["status"] == "unhealthy" and not body["tick"]["ok"]
    assert body["store"]["ok"]
    await app.bot_data[SCHEDULER_KEY].tick()
    status, body = await health(http, app)
    assert status == 200 and body["tick"]["lag_seconds"] == 0


async def test_healthz_is_503_when_the_store_cannot_be_read(
    app: Any, http: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = app.bot_data[SERVICES_KEY].store

    async def unreachable(record_id: str) -> Any:
        raise StoreError("connection refused (simulated)")

    monkeypatch.setattr(store.staff, "get", unreachable)
    status, body = await health(http, app)
    assert status == 503 and not body["store"]["ok"] and "connection refused" in body["store"]["error"]
    assert body["tick"]["ok"]


async def test_healthz_is_503_when_the_store_is_closed(app: Any, http: aiohttp.ClientSession) -> None:
    await app.bot_data[SERVICES_KEY].store.close()
    status, body = await health(http, app)
    assert status == 503 and "not open" in body["store"]["error"]


def test_run_webhook_needs_a_url_and_a_secret(config: Any) -> None:
    from bot.cli import with_mode

    with pytest.raises(ConfigError, match="webhook_url is required"):
        with_mode(config, "webhook")
    with_url = dataclasses.replace(config, telegram=dataclasses.replace(
        config.telegram, webhook_url="https://crm.example.com/telegram"))
    with pytest.raises(ConfigError, match="webhook_secret is required"):
        with_mode(with_url, "webhook")


async def test_two_replicas_behind_one_url_each_answer_the_updates_they_get(
    sandbox: Any, config: Any, clock: Any, tmp_path: Any
) -> None:
    """The sandbox as the load balancer: POSTs alternate between two replicas on one store, and a
    user's wait asks the replica that got the update (issue 17's replica test builds on this)."""
    config = webhook_config(dataclasses.replace(config, telegram=dataclasses.replace(
        config.telegram, api_base_url=sandbox.base_url, file_base_url=sandbox.file_base_url)))
    url = f"sqlite:///{tmp_path / 'crm.sqlite3'}"
    bob = sandbox.user(777, first_name="Bob", language_code="en")  # not staff: refused, politely
    ada = sandbox.user(ADMIN_ID, first_name="Ada", language_code="en")
    async with bot_in_sandbox(sandbox, config, clock=clock, auto_tick=False, store=SQLStore(url),
                              replica=True) as first, \
            bot_in_sandbox(sandbox, config, clock=clock, auto_tick=False, store=SQLStore(url),
                           replica=True) as second:
        urls = [server_of(first).local_url, server_of(second).local_url]
        sandbox.deliver_to(urls)
        for _ in range(2):
            replies = await ada.send("/start")
            assert "Ada" in replies[-1].text
            replies = await bob.send("/start")
            assert replies  # the gate's answer to someone who is not staff
        accepted = [sandbox.state.updates.delivered_to[d.update_id]
                    for d in sandbox.webhook.deliveries if d.error is None]
        assert accepted == urls * 2
        # Both at once: each wait ends when its own replica is done.
        both = await asyncio.gather(ada.send("/help"), bob.send("/help"))
        assert all(both)
    assert sandbox.refused == []


def test_check_masks_the_webhook_secret_from_the_environment(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    from bot import cli

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CRM_BOT_CONFIG", raising=False)
    monkeypatch.setenv("CRM_BOT_TELEGRAM_MODE", "webhook")
    monkeypatch.setenv("CRM_BOT_WEBHOOK_URL", "https://crm.example.com/telegram")
    monkeypatch.setenv("CRM_BOT_WEBHOOK_SECRET", WEBHOOK_SECRET)
    monkeypatch.setenv("CRM_BOT_TELEGRAM_WEBHOOK_PORT", "9443")
    assert cli.main(["check"]) == 0
    out = capsys.readouterr().out
    assert WEBHOOK_SECRET not in out and 'webhook_secret = "****"' in out
    assert 'webhook_url = "https://crm.example.com/telegram"' in out and "webhook_port = 9443" in out


async def test_run_in_webhook_mode_logs_no_secret(sandbox: Any, config: Any) -> None:
    """Through the filter ``crm-bot run`` installs (bot/logs.py): PTB's own debug line of the
    setWebhook call carries the secret, and it comes out redacted."""
    from bot.logs import RedactSecrets
    from bot.runner import run_until_signal

    config = webhook_config(dataclasses.replace(config, telegram=dataclasses.replace(
        config.telegram, token=sandbox.token, api_base_url=sandbox.base_url,
        file_base_url=sandbox.file_base_url)))
    lines: list[str] = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = lambda record: lines.append(record.getMessage())  # type: ignore[method-assign]
    handler.addFilter(RedactSecrets([config.telegram.token, config.telegram.webhook_secret]))
    root, ptb, ours = (logging.getLogger(name) for name in ("", "telegram.ext.ExtBot", "bot"))
    old_levels = ptb.level, ours.level
    root.addHandler(handler)
    ptb.setLevel(logging.DEBUG)
    ours.setLevel(logging.INFO)
    try:
        stop = asyncio.Event()
        running = asyncio.create_task(run_until_signal(config, stop=stop))
        await sandbox.state.wait_until(lambda: sandbox.webhook.webhook is not None or running.done(),
                                       10, lambda: "waiting for setWebhook")
        stop.set()
        assert await running == 0
    finally:
        root.removeHandler(handler)
        ptb.setLevel(old_levels[0])
        ours.setLevel(old_levels[1])
    assert sandbox.webhook.webhook.secret_token == WEBHOOK_SECRET
    text = "\n".join(lines)
    assert "webhook mode" in text and "setWebhook" in text and WEBHOOK_SECRET not in text


async def test_a_webhook_port_in_use_is_said_in_one_line(sandbox: Any, config: Any) -> None:
    """``crm-bot run`` prints the error's line and exits 2 (bot/cli.py)."""
    import socket

    from bot.runner import run_until_signal
    from bot.webhook import WebhookListenError

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        port = taken.getsockname()[1]
        config = webhook_config(dataclasses.replace(config, telegram=dataclasses.replace(
            config.telegram, token=sandbox.token, api_base_url=sandbox.base_url,
            file_base_url=sandbox.file_base_url)))
        config = dataclasses.replace(config, telegram=dataclasses.replace(
            config.telegram, webhook_port=port))
        with pytest.raises(WebhookListenError, match=f"cannot listen on 127.0.0.1:{port}") as error:
            await run_until_signal(config, stop=asyncio.Event())
    finally:
        taken.close()
    assert "\n" not in str(error.value) and sandbox.webhook.webhook is None
