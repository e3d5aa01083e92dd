"""The Telegram-shaped rate limiter (bot/ratelimit.py), on a simulated clock: no sleeps.

A fake "server" records when it saw each request (its own time, which the
network may delay); the limits are checked against those times, the way
Telegram or the sandbox counts them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import heapq
import itertools
import random
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from telegram.error import RetryAfter

from bot.config import TelegramConfig, load_config
from bot.ratelimit import RateLimits, TelegramRateLimiter


class FakeTime:
    """A clock that jumps to the next sleeper's wake-up once every task is blocked."""

    def __init__(self) -> None:
        self.now = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        future = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + max(0.0, seconds), next(self._order), future))
        await future

    async def run(self, *coroutines: Awaitable[Any]) -> list[Any]:
        tasks = [asyncio.ensure_future(c) for c in coroutines]
        while not all(t.done() for t in tasks):
            for _ in range(50):  # event-loop turns: let every runnable task reach its next wait
                await asyncio.sleep(0)
            if self._sleepers and not all(t.done() for t in tasks):
                wake, _, future = heapq.heappop(self._sleepers)
                self.now = max(self.now, wake)
                future.set_result(None)
        return [t.result() for t in tasks]


class Server:
    """Answers requests after ``latency`` (seconds, or a function of nothing) and logs them."""

    def __init__(self, time: FakeTime, latency: Callable[[], float] = lambda: 0.0) -> None:
        self.time = time
        self.latency = latency
        self.seen: list[tuple[float, str, Any]] = []
        self.refuse: dict[Any, int] = {}  # chat -> retry_after for its next request

    def call(self, endpoint: str, chat_id: Any) -> Callable[[], Awaitable[Any]]:
        async def callback() -> Any:
            delay = self.latency()
            await self.time.sleep(delay / 2)
            if chat_id in self.refuse:
                raise RetryAfter(self.refuse.pop(chat_id))
            self.seen.append((self.time.now, endpoint, chat_id))
            await self.time.sleep(delay / 2)
            return True

        return callback


def limiter(time: FakeTime, **options: Any) -> TelegramRateLimiter:
    return TelegramRateLimiter(clock=time.clock, sleep=time.sleep, **options)


async def request(
    rl: TelegramRateLimiter, server: Server, endpoint: str, chat_id: Any, retries: int | None = None
) -> Any:
    data = {"chat_id": chat_id} if chat_id is not None else {}
    return await rl.process_request(server.call(endpoint, chat_id), (), {}, endpoint, data, retries)


def most_in_any(times: list[float], period: float) -> int:
    times = sorted(times)
    return max((sum(1 for t in times[i:] if t < start + period) for i, start in enumerate(times)),
               default=0)


async def test_sends_to_many_chats_stay_within_30_per_second_however_the_network_delays() -> None:
    time = FakeTime()
    rng = random.Random(7)
    server = Server(time, latency=lambda: rng.uniform(0.0, 0.4))
    rl = limiter(time)
    await time.run(*(request(rl, server, "sendMessage", 1000 + n) for n in range(150)))
    times = [t for t, _, _ in server.seen]
    assert len(times) == 150
    assert most_in_any(times, 1.0) <= 30
    assert max(times) <= 150 / 30 * 1.4  # still close to the limit, not far below it


async def test_one_private_chat_gets_its_burst_then_one_per_second() -> None:
    time = FakeTime()
    server = Server(time)
    rl = limiter(time, limits=RateLimits(private_chat_burst=20))
    await time.run(*(request(rl, server, "sendMessage", 42) for _ in range(25)))
    times = [t for t, _, _ in server.seen]
    assert times[:20] == [0.0] * 20
    assert times[20:] == pytest.approx([1.0, 2.0, 3.0, 4.0, 5.0])


async def test_a_group_gets_at_most_20_a_minute() -> None:
    time = FakeTime()
    server = Server(time)
    rl = limiter(time)
    await time.run(*(request(rl, server, "sendMessage", -100123) for _ in range(45)))
    times = [t for t, _, _ in server.seen]
    assert most_in_any(times, 60.0) <= 20
    assert max(times) == pytest.approx(120.0)


async def test_answers_edits_and_reads_never_wait_behind_sends() -> None:
    time = FakeTime()
    server = Server(time)
    rl = limiter(time)
    sends = [request(rl, server, "sendMessage", 2000 + n) for n in range(90)]
    others = [
        request(rl, server, endpoint, 2000 + n)
        for n in range(30)
        for endpoint in ("answerCallbackQuery", "editMessageText", "getFile")
    ]
    await time.run(*sends, *others, request(rl, server, "getMe", None))
    assert all(t == 0.0 for t, endpoint, _ in server.seen if endpoint != "sendMessage")
    assert max(t for t, endpoint, _ in server.seen if endpoint == "sendMessage") >= 2.0


async def test_a_429_pauses_that_chat_only_and_is_retried_after_retry_after() -> None:
    time = FakeTime()
    server = Server(time)
    rl = limiter(time)
    server.refuse[7] = 5
    first = request(rl, server, "sendMessage", 7)

    async def then_more() -> None:
        await time.sleep(1.0)
        await asyncio.gather(request(rl, server, "sendMessage", 7),
                             request(rl, server, "sendMessage", 8))

    await time.run(first, then_more())
    assert [(t, chat) for t, _, chat in server.seen] == [(1.0, 8), (5.0, 7), (5.0, 7)]
    assert rl.retries_after_429 == 1


async def test_a_429_on_an_answer_is_retried_too() -> None:
    time = FakeTime()
    server = Server(time)
    rl = limiter(time)
    server.refuse[9] = 3
    await time.run(request(rl, server, "answerCallbackQuery", 9))
    assert [t for t, _, _ in server.seen] == [3.0]


async def test_after_max_retries_the_429_is_raised() -> None:
    time = FakeTime()
    server = Server(time)
    rl = limiter(time, max_retries=0)
    server.refuse[7] = 2
    with pytest.raises(RetryAfter):
        await time.run(request(rl, server, "sendMessage", 7))


async def test_switched_off_it_only_honours_429s() -> None:
    time = FakeTime()
    server = Server(time)
    rl = limiter(time, throttle=False)
    server.refuse[5] = 4
    await time.run(*(request(rl, server, "sendMessage", 5 if n == 0 else 100 + n)
                     for n in range(100)))
    times = sorted(t for t, _, _ in server.seen)
    assert times[:99] == [0.0] * 99 and times[-1] == 4.0


def test_the_configured_limits_reach_the_limiter() -> None:
    from bot.app import rate_limiter

    rl = rate_limiter(TelegramConfig(messages_per_second=10, private_chat_burst=2,
                                     rate_limit=False, rate_limit_retries=1))
    assert rl.limits.messages_per_second == 10 and rl.limits.private_chat_burst == 2
    assert rl.throttle is False and rl.max_retries == 1


class TestAgainstTelegramLikeFloodLimits:
    """The real bot and the sandbox's Telegram-like flood control: a burst meets no 429."""

    @pytest.fixture
    def flood_limits(self) -> Any:
        from bot.sandbox.server import FloodLimits

        return FloodLimits()

    @pytest.fixture
    def config(self, config: Any) -> Any:
        """The limiter as shipped (tests/conftest.py relaxes the per-chat rate for the others)."""
        shipped = load_config(None, environ={}, search=False).telegram
        return dataclasses.replace(config, telegram=dataclasses.replace(
            config.telegram, private_chat_messages_per_second=shipped.private_chat_messages_per_second,
            private_chat_burst=shipped.private_chat_burst))

    async def test_a_burst_to_one_chat_and_to_many_is_sent_without_a_single_429(
        self, admin: Any, bot: Any, sandbox: Any
    ) -> None:
        from telegram import Update

        from tests.helpers import add_command

        others = [sandbox.user(9000 + n, first_name=f"U{n}") for n in range(40)]
        for user in others:
            await user.send("/start")  # the chat exists; the bot's answer uses budget too

        async def burst(update: Update, context: Any) -> None:
            chat_id = update.effective_chat.id  # type: ignore[union-attr]
            await asyncio.gather(
                *(context.bot.send_message(chat_id, f"part {i}") for i in range(23)),
                *(context.bot.send_message(user.chat_id, "hello") for user in others),
            )

        add_command(bot, "burst", burst)
        replies = await admin.send("/burst", timeout=60)
        assert sorted(m.text for m in replies if m.text.startswith("part")) == sorted(
            f"part {i}" for i in range(23))
        assert all(user.last_message().text == "hello" for user in others)
        assert sandbox.api.flood.refusals == 0
