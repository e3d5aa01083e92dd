"""Shared fixtures: a sandbox Bot API server, the real bot polling it, a simulated clock.

End-to-end tests talk to the bot only as Telegram users would, through the
sandbox's control API; the bot reaches the sandbox over HTTP through
python-telegram-bot's own stack (no monkeypatched Bot methods).
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.clock import SimulatedClock
from bot.config import Config, load_config
from bot.sandbox.server import FloodLimits, SandboxServer
from tests.helpers import bot_in_sandbox

ADMIN_ID = 501
START = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # Monday 09:00 in Shanghai


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(START)


@pytest.fixture
def flood_limits() -> FloodLimits:
    """Generous limits so ordinary tests never wait; flood tests override this fixture."""
    return FloodLimits(global_per_second=1000, chat_burst=1000, chat_per_second=1000)


@pytest.fixture
async def sandbox(clock: SimulatedClock, flood_limits: FloodLimits) -> AsyncIterator[SandboxServer]:
    server = SandboxServer(clock=lambda: clock.now().timestamp(), flood_limits=flood_limits)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
def config(tmp_path: Path) -> Config:
    base = load_config(None, environ={}, search=False)
    return dataclasses.replace(
        base,
        storage=dataclasses.replace(base.storage, path=str(tmp_path / "data")),
        access=dataclasses.replace(base.access, admins=[ADMIN_ID]),
        locale=dataclasses.replace(base.locale, default_language="en"),
    )


@pytest.fixture
async def bot(
    sandbox: SandboxServer, config: Config, clock: SimulatedClock
) -> AsyncIterator[Any]:
    """The real Application, polling the sandbox; yields it once it is running.

    The sandbox asks the bot's activity when it has finished an update, so a
    user's action returns exactly when the bot is done with it.
    """
    config = dataclasses.replace(
        config,
        telegram=dataclasses.replace(
            config.telegram, api_base_url=sandbox.base_url, file_base_url=sandbox.file_base_url
        ),
    )
    async with bot_in_sandbox(sandbox, config, clock=clock, auto_tick=False) as app:
        yield app


@pytest.fixture
def admin(sandbox: SandboxServer, bot: Any) -> Any:
    return sandbox.user(ADMIN_ID, first_name="Ada", username="ada", language_code="en")
