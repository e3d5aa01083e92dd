"""A local Telegram Bot API server for running crm-bot without Telegram.

Point PTB at it with::

    server = SandboxServer()
    await server.start()
    app = (
        ApplicationBuilder()
        .token(server.token)
        .base_url(server.base_url)
        .base_file_url(server.file_base_url)
        .build()
    )

and drive the conversation from the same event loop::

    alice = server.user(1001, first_name="Alice", username="alice")
    replies = await alice.send("/start")      # waits for the bot's answer
    await alice.press("Add customer")

HTTP surface
------------
``POST|GET /bot<token>/<method>``
    The Bot API subset the bot uses (see :mod:`bot.sandbox.botapi`).
``GET /file/bot<token>/<file_path>``
    File downloads for ``getFile`` paths.
``/control/...``
    The JSON control API, see :mod:`bot.sandbox.control_http`.

Webhook mode: after the bot's setWebhook the sandbox POSTs each update to the
bot's URL (:mod:`bot.sandbox.webhook`; ``server.deliver_to([...])`` spreads
them over several replicas) and getUpdates answers 409 until deleteWebhook.

The server is deliberately strict (Telegram's limits, HTML validation, flood
control, 400 for unsupported methods) so that what passes here also passes
on api.telegram.org.
"""

from __future__ import annotations

import asyncio
import logging
import re
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any, Self

from aiohttp import web

from bot.sandbox.botapi import BotApi, dumps, scope_key
from bot.sandbox.control_http import add_control_routes
from bot.sandbox.errors import ApiError, SandboxError, SandboxTimeout
from bot.sandbox.faults import Fault, FaultMode, FaultPlan
from bot.sandbox.files import FileStore
from bot.sandbox.limits import MB, ApiLimits, FloodLimits
from bot.sandbox.params import read_params
from bot.sandbox.state import (
    BotActivity,
    Chat,
    Listener,
    SandboxMessage,
    SandboxState,
    TelegramUser,
    request_cause,
)
from bot.sandbox.users import SandboxUser
from bot.sandbox.webhook import WebhookDelivery

log = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_TOKEN",
    "ApiLimits",
    "Fault",
    "FaultMode",
    "FloodLimits",
    "SandboxError",
    "SandboxGroup",
    "SandboxServer",
    "SandboxTimeout",
    "serve_forever",
]

DEFAULT_TOKEN = "123456:SANDBOX"
UPDATE_HEADER = "X-Sandbox-Update-Id"
"""A bot may name the update a request answers (``bot.activity`` does)."""
_TOKEN_RE = re.compile(r"^(\d+):[A-Za-z0-9_-]+$")


class SandboxGroup:
    """A group or channel chat: ``group.member(user)`` is a handle that sends there as that user.

    The member's handle works like a private chat's (``send``, ``press``,
    ``bot_messages``), but on the group's shared history.
    """

    def __init__(self, server: SandboxServer, chat: Chat) -> None:
        self.server = server
        self.chat = chat

    @property
    def id(self) -> int:
        return self.chat.id

    def member(self, user: SandboxUser) -> SandboxUser:
        return SandboxUser(self.server.state, self.chat, self.server.limits, member=user.telegram_user)

    def bot_messages(self) -> list[SandboxMessage]:
        return [m for m in self.chat.messages.values() if m.from_bot and not m.deleted]


def _json(payload: Any, status: int = 200) -> web.Response:
    return web.json_response(payload, status=status, dumps=dumps)


class SandboxServer:
    """The sandbox: a Bot API HTTP server plus the Python control API."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        bot_username: str = "crm_sandbox_bot",
        host: str = "127.0.0.1",
        port: int = 0,
        flood_limits: FloodLimits | None = None,
        clock: Callable[[], float] | None = None,
        *,
        bot_first_name: str = "CRM Sandbox Bot",
        limits: ApiLimits | None = None,
        files_dir: str | Path | None = None,
    ) -> None:
        match = _TOKEN_RE.match(token)
        if match is None:
            raise ValueError(f"not a bot token: {token!r} (expected '<digits>:<secret>')")
        self.token = token
        self.host = host
        self._requested_port = port
        self._port: int | None = None
        self.limits = limits or ApiLimits()
        bot = TelegramUser(
            id=int(match.group(1)), first_name=bot_first_name, username=bot_username, is_bot=True
        )
        self.state = SandboxState(bot, clock=clock, files=FileStore(files_dir))
        self.api = BotApi(self.state, limits=self.limits, flood_limits=flood_limits)
        # Every call the sandbox refused, as (method, error code, description): what
        # Telegram would have refused too. Tests assert the bot caused none.
        self.refused: list[tuple[str, int, str]] = []
        self._users: dict[int, SandboxUser] = {}
        # Injected failures (see bot.sandbox.faults): ``server.faults.add("sendMessage", ...)``.
        self.faults = FaultPlan(self.state.clock)
        self._runner: web.AppRunner | None = None

    # -- lifecycle ------------------------------------------------------------

    def build_app(self) -> web.Application:
        """The aiohttp application (exposed for embedding and tests)."""
        max_upload = max(self.limits.max_document_bytes, self.limits.max_photo_bytes)
        app = web.Application(client_max_size=max_upload + MB)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{file_path:.+}", self._handle_file)
        add_control_routes(app, self)
        return app

    async def start(self) -> None:
        """Bind and start serving (``port=0`` picks a free port)."""
        if self._runner is not None:
            return
        self.api.closing = False
        runner = web.AppRunner(self.build_app(), access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self._requested_port)
        await site.start()
        self._runner = runner
        sockets = site._server.sockets if site._server else ()  # type: ignore[union-attr]
        self._port = sockets[0].getsockname()[1] if sockets else self._requested_port

    async def stop(self) -> None:
        """Stop serving; pending long polls return immediately."""
        if self._runner is None:
            return
        self.api.closing = True
        await self.api.webhook.delete()
        self.state.updates.pulse.fire()
        runner, self._runner = self._runner, None
        await runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- addresses --------------------------------------------------------------

    @property
    def port(self) -> int:
        """The bound port (after :meth:`start`)."""
        if self._port is None:
            raise RuntimeError("SandboxServer.start() has not been awaited")
        return self._port

    @property
    def url(self) -> str:
        """Root URL, e.g. ``http://127.0.0.1:PORT``."""
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """Bot API base URL for PTB (it appends the token)."""
        return f"{self.url}/bot"

    @property
    def file_base_url(self) -> str:
        """File download base URL for PTB (it appends the token)."""
        return f"{self.url}/file/bot"

    @property
    def control_url(self) -> str:
        """Root of the HTTP control API."""
        return f"{self.url}/control"

    @property
    def bot_username(self) -> str:
        """The bot's username."""
        return self.state.bot.username or ""

    @property
    def flood_limits(self) -> FloodLimits:
        """Current flood limits (assignable at runtime)."""
        return self.api.flood.limits

    @flood_limits.setter
    def flood_limits(self, limits: FloodLimits) -> None:
        self.api.flood.limits = limits
        self.api.flood.reset()

    # -- control API ------------------------------------------------------------

    def user(
        self,
        user_id: int,
        first_name: str | None = None,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "en",
        *,
        phone_number: str | None = None,
    ) -> SandboxUser:
        """Get or create a simulated user with a private chat.

        An existing user is returned unchanged; the other arguments only
        apply on creation.
        """
        existing = self._users.get(user_id)
        if existing is not None:
            return existing
        if user_id <= 0:
            raise ValueError("Telegram user ids are positive")
        account = TelegramUser(
            id=user_id,
            first_name=first_name or f"User{user_id}",
            last_name=last_name,
            username=username,
            language_code=language_code,
        )
        chat = self.state.get_or_create_chat(account)
        chat.phone_number = phone_number
        handle = SandboxUser(self.state, chat, self.limits)
        self._users[user_id] = handle
        return handle

    def group(self, chat_id: int, title: str = "Sales team", *, kind: str = "group") -> SandboxGroup:
        """A group (or "supergroup", "channel") chat with id ``chat_id`` (negative); see ``SandboxGroup``."""
        if chat_id >= 0:
            raise ValueError("group and channel ids are negative")
        if kind not in ("group", "supergroup", "channel"):
            raise ValueError(f"not a group chat type: {kind!r}")
        return SandboxGroup(self, self.state.get_or_create_group(chat_id, title, kind))

    async def press_forged(
        self,
        user: SandboxUser | int,
        message_id: int,
        data: str,
        *,
        wait: bool = True,
        timeout: float = 10.0,
    ) -> list[SandboxMessage]:
        """Make ``user`` send a callback_query with arbitrary ``data`` (see
        :meth:`SandboxUser.press_forged`)."""
        handle = user if isinstance(user, SandboxUser) else self.user(user)
        return await handle.press_forged(message_id, data, wait=wait, timeout=timeout)

    def get_user(self, user_id: int) -> SandboxUser | None:
        """An existing user, or ``None``."""
        return self._users.get(user_id)

    def users(self) -> list[SandboxUser]:
        """All simulated users, in creation order."""
        return list(self._users.values())

    def chat_messages(self, chat_id: int) -> list[SandboxMessage]:
        """All messages of a chat (both directions, deleted ones flagged)."""
        chat = self.state.chats.get(chat_id)
        return list(chat.messages.values()) if chat else []

    def add_listener(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(event)`` for every bot→chat event; returns a remover.

        ``listener`` may be a plain function or return an awaitable (it is
        then scheduled as a task). Exceptions are logged, never propagated to
        the bot's request.
        """
        self.state.listeners.append(listener)
        return lambda: self.remove_listener(listener)

    def remove_listener(self, listener: Listener) -> None:
        """Stop notifying ``listener``."""
        if listener in self.state.listeners:
            self.state.listeners.remove(listener)

    def attach(self, activity: BotActivity | None, *, webhook_url: str | None = None) -> None:
        """Let waits ask the bot when it has finished (see :class:`BotActivity`).

        ``webhook_url``: this activity is the replica's behind that URL (webhook mode with
        several replicas, see :mod:`bot.sandbox.webhook`).
        """
        self.state.attach(activity, webhook_url=webhook_url)

    @property
    def webhook(self) -> WebhookDelivery:
        """Webhook delivery: ``.webhook`` (what setWebhook set), ``.deliveries`` (every POST),
        ``.targets`` (POST to these URLs in turn instead: several replicas)."""
        return self.api.webhook

    def deliver_to(self, urls: list[str] | None, *, first_retry: float | None = None) -> None:
        """Send webhook POSTs to ``urls`` in turn (a load balancer over replicas); ``None``:
        to the URL the bot set. ``first_retry``: seconds before a failed POST is retried
        (doubling per failure)."""
        self.api.webhook.targets = list(urls) if urls else None
        if first_retry is not None:
            self.api.webhook.first_retry = first_retry
        self.state.updates.pulse.fire()

    async def wait_idle(self, timeout: float = 10.0) -> None:
        """Wait until all updates are confirmed and the bot has nothing in progress."""
        await self.state.wait_idle(timeout=timeout)

    async def wait_for_poller(self, timeout: float = 10.0) -> None:
        """Wait until the bot's getUpdates long poll is waiting."""
        await self.state.wait_for_poller(timeout=timeout)

    def commands(
        self, scope: dict[str, Any] | None = None, language_code: str = ""
    ) -> list[dict[str, str]]:
        """Commands stored by setMyCommands for exactly this scope/language."""
        return [dict(c) for c in self.state.commands.get((scope_key(scope), language_code), [])]

    def file_content_for(self, message: SandboxMessage) -> tuple[bytes, str]:
        """The bytes and a file name of a message's photo or document."""
        stored = message.photo or message.document
        if stored is None:
            raise SandboxError(f"message {message.message_id} has no photo or document")
        name = stored.file_name or stored.file_path.rsplit("/", 1)[-1]
        return stored.content, name

    @property
    def pending_updates(self) -> int:
        """Updates queued and not yet confirmed by the bot."""
        return self.state.updates.pending_count

    # -- HTTP handlers ------------------------------------------------------------

    async def _handle_api(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _json(ApiError("Unauthorized", 401).to_payload(), 401)
        method = request.match_info["method"]
        long_poll = method.lower() == "getupdates"
        cause = request.headers.get(UPDATE_HEADER, "")
        request_cause.set(int(cause) if cause.isdigit() else None)
        if not long_poll:
            self.state.request_started()
        fault = self.faults.take(method)
        try:
            params = await read_params(request)
            if fault is None or fault.processes:
                result = await self.api.call(method, params)
            if fault is not None:
                return self._injected(request, fault)
        except ApiError as exc:
            self.refused.append((method, exc.error_code, exc.to_payload().get("description", "")))
            return _json(exc.to_payload(), exc.error_code)
        except Exception as exc:  # keep the bot's view Telegram-shaped
            log.exception("sandbox failed handling %s", method)
            error = ApiError(f"Internal Server Error: {type(exc).__name__}: {exc}", 500)
            return _json(error.to_payload(), 500)
        finally:
            if not long_poll:
                self.state.request_finished()
        return _json({"ok": True, "result": result})

    @staticmethod
    def _injected(request: web.Request, fault: Fault) -> web.Response:
        """The answer an injected fault gives (after the call was processed, or instead of it)."""
        if fault.mode is FaultMode.ACCEPT_THEN_DROP and request.transport is not None:
            request.transport.close()
        error = ApiError(f"Internal Server Error (injected: {fault.mode})", fault.status)
        return _json(error.to_payload(), fault.status)

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return _json(ApiError("Unauthorized", 401).to_payload(), 401)
        self.state.request_started()
        try:
            return self._file_response(request)
        finally:
            self.state.request_finished()

    def _file_response(self, request: web.Request) -> web.Response:
        stored = self.state.files.by_path(request.match_info["file_path"])
        if stored is None:
            return _json(ApiError("Not Found", 404).to_payload(), 404)
        content_type = stored.mime_type or (
            "image/png" if stored.file_path.endswith(".png") else "application/octet-stream"
        )
        return web.Response(body=stored.content, content_type=content_type)


async def serve_forever(
    port: int, host: str = "127.0.0.1", token: str | None = None,
    webhook_targets: list[str] | None = None,
) -> None:
    """Run a sandbox until cancelled; prints the URLs and token to use.

    Called by ``crm-bot sandbox --port N``; ``webhook_targets`` (``--webhook-target``):
    POST webhook updates to these URLs in turn rather than to the one the bot set.
    """
    server = SandboxServer(token=token or DEFAULT_TOKEN, host=host, port=port)
    server.deliver_to(webhook_targets)
    await server.start()
    print(f"crm-bot sandbox listening on {server.url}", flush=True)
    print(f"  base_url:      {server.base_url}", flush=True)
    print(f"  base_file_url: {server.file_base_url}", flush=True)
    print(f"  token:         {server.token}", flush=True)
    print(f"  control API:   {server.control_url}", flush=True)
    if webhook_targets:
        print(f"  webhook POSTs: {', '.join(webhook_targets)} (in turn)", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    # Ctrl-C or a service manager's TERM ends it, even where the shell started it with SIGINT
    # ignored (a background job without job control).
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await server.stop()
