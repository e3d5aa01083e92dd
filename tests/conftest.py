"""Shared fixtures: a sandbox Bot API server, the real bot polling it, a simulated clock.

End-to-end tests talk to the bot only as Telegram users would, through the
sandbox's control API; the bot reaches the sandbox over HTTP through
python-telegram-bot's own stack (no monkeypatched Bot methods).
"""

from __future__ import annotations

import asyncio
import dataclasses
import faulthandler
import gc
import inspect
import tempfile
import threading
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.clock import SimulatedClock
from bot.config import Config, load_config
from bot.sandbox.server import FloodLimits, SandboxServer
from bot.telegram_request import warm_up as http_warm_up
from tests.helpers import bot_in_sandbox

ADMIN_ID = 501
# Seconds the event loop may be kept busy (issue 15). One-time loads happen off the loop: the bot
# warms dateparser and the TLS context in worker threads at start (bot/app.py, bot/runner.py), and
# the session fixture below loads what tests use without a bot.
LOOP_BLOCK_LIMIT = 0.100
HEARTBEAT = 0.010
START = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # Monday 09:00 in Shanghai


@pytest.fixture(scope="session", autouse=True)
def _one_time_loads() -> None:
    """What a process loads once, loaded before any test's event loop runs (as the bot does in a
    worker at start): the CA bundle behind every HTTP client and the lazily imported parts of
    the HTTP stack (``bot.telegram_request.warm_up``)."""
    http_warm_up()


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
        # A test user types far faster than a person: one private chat is not held to Telegram's
        # ~1 message/s (bot/ratelimit.py's own tests cover that); the global 30/s still applies.
        telegram=dataclasses.replace(
            base.telegram, private_chat_messages_per_second=1000.0, private_chat_burst=1000
        ),
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


# -- the event-loop guard ------------------------------------------------------------


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "loop_blocking(reason): this test may block the event loop longer than "
        f"{LOOP_BLOCK_LIMIT * 1000:.0f} ms (say why, and what would fix it)",
    )


class LoopWatchdog:
    """Measures how long the running event loop is kept from its other work.

    A task beats every 10 ms. A beat that comes late was held up either by
    this process's own work on the loop's thread (a blocking call: what the
    guard is for) or by the machine (other processes on the cores, which is
    not the test's fault). So a late beat counts only the loop thread's own
    CPU time during the gap, ``min(lateness, thread CPU)``: a CPU hog on
    every core stretches the lateness but not that CPU time, while a
    callback computing for 150 ms shows about 150 ms of it however slow the
    machine. Garbage collection is left out (a full collection walks the
    whole session's heap, not the test's doing). A monitor thread saves the loop thread's stack while a beat is
    overdue, so the failure shows what was running.
    """

    def __init__(self) -> None:
        self.worst = 0.0
        self.worst_stack = ""
        self._stack = ""
        self._last_beat, self._last_cpu = time.perf_counter(), time.thread_time()
        self._beating = True
        self._loop_thread = threading.get_ident()
        self._gc_time = 0.0
        self._gc_started: float | None = None

    async def beat(self) -> None:
        while True:
            self._last_beat, self._last_cpu = time.perf_counter(), time.thread_time()
            await asyncio.sleep(HEARTBEAT)
            self.settle()

    def settle(self) -> None:
        """Account the beat in progress (the loop thread calls it: at each beat and at the end)."""
        late = time.perf_counter() - self._last_beat - HEARTBEAT
        gc_time, self._gc_time = self._gc_time, 0.0
        blocked = min(late, time.thread_time() - self._last_cpu) - gc_time
        if blocked > self.worst:
            self.worst, self.worst_stack = blocked, self._stack
        self._stack = ""

    def on_gc(self, phase: str, info: dict[str, int]) -> None:
        # A full collection walks the whole test session's heap, not the test's doing.
        if threading.get_ident() != self._loop_thread:
            return
        if phase == "start":
            self._gc_started = time.thread_time()
        elif self._gc_started is not None:
            self._gc_time += time.thread_time() - self._gc_started
            self._gc_started = None

    def monitor(self) -> None:
        while self._beating:
            time.sleep(LOOP_BLOCK_LIMIT / 2)
            overdue = time.perf_counter() - self._last_beat > LOOP_BLOCK_LIMIT
            if overdue and not self._stack:
                self._stack = self.loop_stack()

    def loop_stack(self) -> str:
        """The loop thread's stack, most recent call first, as faulthandler prints it.

        faulthandler reads the interpreter's own frame records under the GIL; walking another
        running thread's frame objects (``sys._current_frames`` + ``traceback``) crashed the
        interpreter under load on Python 3.11."""
        with tempfile.TemporaryFile("w+") as out:
            faulthandler.dump_traceback(out, all_threads=True)
            out.seek(0)
            sections = out.read().split("\n\n")
        mine = f"0x{self._loop_thread:016x}"
        for section in sections:
            lines = section.splitlines()
            if lines and mine in lines[0]:
                return "\n".join(lines[:13])
        return ""

    def stop(self) -> None:
        self._beating = False


@pytest.fixture
async def loop_watchdog() -> AsyncIterator[LoopWatchdog]:
    watchdog = LoopWatchdog()
    monitor = threading.Thread(target=watchdog.monitor, name="loop-watchdog", daemon=True)
    monitor.start()
    beat = asyncio.create_task(watchdog.beat())
    gc.callbacks.append(watchdog.on_gc)
    try:
        yield watchdog
    finally:
        beat.cancel()
        watchdog.settle()
        watchdog.stop()
        gc.callbacks.remove(watchdog.on_gc)
    if watchdog.worst > LOOP_BLOCK_LIMIT:
        pytest.fail(
            f"the event loop was blocked for {watchdog.worst * 1000:.0f} ms "
            f"(limit {LOOP_BLOCK_LIMIT * 1000:.0f} ms); move the blocking work to a thread or "
            f"mark the test loop_blocking(reason). The loop was running:\n"
            f"{watchdog.worst_stack or '(no stack caught)'}",
            pytrace=False,
        )


@pytest.fixture(autouse=True)
def _event_loop_guard(request: pytest.FixtureRequest) -> None:
    """Every async test runs under the loop watchdog, unless marked ``loop_blocking``."""
    if inspect.iscoroutinefunction(request.function) and not request.node.get_closest_marker(
        "loop_blocking"
    ):
        request.getfixturevalue("loop_watchdog")
