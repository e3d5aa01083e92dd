"""Fixtures for the sandbox's own tests: a server, a PTB Bot and raw HTTP access.

The "scripted bot" fixture runs a tiny polling loop on PTB's real Bot so the
waiting semantics of the control API are tested against real getUpdates
traffic, without pulling in crm-bot's application.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
import telegram

from bot.sandbox import FloodLimits, SandboxServer
from tests.helpers import ptb_bot

Handler = Callable[[telegram.Update], Awaitable[None]]


@pytest.fixture
async def server() -> AsyncIterator[SandboxServer]:
    """A sandbox without flood control."""
    sandbox = SandboxServer(flood_limits=FloodLimits.disabled())
    await sandbox.start()
    try:
        yield sandbox
    finally:
        await sandbox.stop()


@pytest.fixture
async def tg(server: SandboxServer) -> AsyncIterator[telegram.Bot]:
    """PTB's real Bot pointed at the sandbox."""
    bot = ptb_bot(server.token, base_url=server.base_url, base_file_url=server.file_base_url)
    await bot.initialize()
    try:
        yield bot
    finally:
        await bot.shutdown()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


RawCall = Callable[..., Awaitable[tuple[int, dict[str, Any]]]]


@pytest.fixture
def raw(server: SandboxServer, http: aiohttp.ClientSession) -> RawCall:
    """``await raw("sendMessage", chat_id=1, text="x")`` → (status, json), form-encoded.

    ``json_body=...`` sends a JSON body instead; ``token=...`` overrides the token.
    """

    async def call(
        method: str,
        *,
        json_body: dict[str, Any] | None = None,
        token: str | None = None,
        **params: Any,
    ) -> tuple[int, dict[str, Any]]:
        url = f"{server.url}/bot{token or server.token}/{method}"
        if json_body is not None:
            response = await http.post(url, json=json_body)
        else:
            form = {key: str(value) for key, value in params.items()}
            response = await http.post(url, data=form)
        async with response:
            return response.status, await response.json()

    return call


class ScriptedBot:
    """Polls the sandbox with PTB's Bot and hands each update to ``handler``."""

    def __init__(self, bot: telegram.Bot, handler: Handler) -> None:
        self.bot = bot
        self.handler = handler
        self.task: asyncio.Task[None] | None = None
        self.seen: list[telegram.Update] = []
        self.errors: list[telegram.error.TelegramError] = []

    async def _loop(self) -> None:
        offset: int | None = None
        while True:
            updates = await self.bot.get_updates(offset=offset, timeout=2)
            for update in updates:
                offset = update.update_id + 1
                self.seen.append(update)
                try:
                    await self.handler(update)
                except telegram.error.TelegramError as exc:  # keep polling, like PTB does
                    self.errors.append(exc)

    def start(self) -> None:
        self.task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task


@pytest.fixture
async def scripted(tg: telegram.Bot) -> AsyncIterator[Callable[[Handler], ScriptedBot]]:
    """``scripted(handler)`` starts a polling loop that lasts until the test ends."""
    bots: list[ScriptedBot] = []

    def start(handler: Handler) -> ScriptedBot:
        bot = ScriptedBot(tg, handler)
        bot.start()
        bots.append(bot)
        return bot

    yield start
    for bot in bots:
        await bot.stop()


def make_png(width: int, height: int) -> bytes:
    """A valid RGB PNG of the given size."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\x10\x80\xf0" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
def png() -> Callable[[int, int], bytes]:
    return make_png
