"""A rate limiter shaped like Telegram's flood limits: it throttles messages, not requests.

python-telegram-bot's ``AIORateLimiter`` puts *every* Bot API call through
one 30-per-second limiter, so a button press (answer, edit, maybe a send)
costs two or three slots and the bot tops out far below what Telegram
allows. Telegram's documented limits concern messages: about 30 per second
to all chats together, about one per second to one private chat (short
bursts are tolerated), and 20 per minute to one group. So
:class:`TelegramRateLimiter` throttles only the methods that send a message
(:data:`SEND_METHODS`) through the global window (30 in any second) and
the chat's gate (private: a token bucket, ``private_chat_burst`` at once,
then one per second; group or channel: 20 in any 60 s) — and lets answers,
edits and reads through at once. Every method honours a 429: the request waits
``retry_after`` and is retried (``max_retries`` times); a send's 429 pauses
that chat's sends only, never the whole bot.

A gate counts a request from the moment it is let through and, once the
response is back, as made at that moment. Telegram (or the sandbox) counted
it somewhere in between, so however the network delays requests, the
server never sees more than the gate let through.

The clock and the sleep are injected, so tests drive the limiter without
waiting.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from telegram._utils.types import JSONDict
from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

log = logging.getLogger(__name__)

SEND_METHODS = frozenset(
    name.lower()
    for name in (
        "sendMessage", "sendPhoto", "sendDocument", "sendAudio", "sendVoice", "sendVideo",
        "sendVideoNote", "sendAnimation", "sendSticker", "sendMediaGroup", "sendLocation",
        "sendVenue", "sendContact", "sendPoll", "sendDice", "sendInvoice", "sendPaidMedia",
        "sendGame", "copyMessage", "copyMessages", "forwardMessage", "forwardMessages",
    )
)
"""Bot API methods that put a new message in a chat: the ones Telegram's flood limits count."""

_IDLE_SWEEP = 4096  # chats tracked before idle ones are forgotten


@dataclass(frozen=True)
class RateLimits:
    """How many messages may go out (the ``[telegram]`` keys of the same names)."""

    messages_per_second: float = 30.0
    private_chat_messages_per_second: float = 1.0
    private_chat_burst: int = 20
    group_chat_messages_per_minute: float = 20.0


class Gate(abc.ABC):
    """What lets requests through one by one (FIFO): a window or a bucket, and a 429's pause.

    A request counts from the moment it is let through ("in flight") and,
    once its response is back, as if it had been made at that moment — the
    latest the server can have counted it.
    """

    def __init__(self) -> None:
        self.blocked_until = 0.0  # a 429's retry_after
        self._in_flight = 0
        self._lock = asyncio.Lock()
        self._released: list[asyncio.Future[None]] = []

    def delay(self, now: float) -> float | None:
        """Seconds to wait before the next request may go (``None``: until one in flight ends)."""
        if self.blocked_until > now:
            return self.blocked_until - now
        return self._delay(now)

    def idle(self, now: float) -> bool:
        return (self._idle(now) and not self._in_flight and not self._lock.locked()
                and self.blocked_until <= now)

    async def acquire(
        self, clock: Callable[[], float], sleep: Callable[[float], Awaitable[Any]]
    ) -> None:
        async with self._lock:
            while (wait := self.delay(clock())) != 0.0:
                if wait is None:
                    released = asyncio.get_running_loop().create_future()
                    self._released.append(released)
                    await released
                else:
                    await sleep(wait)
            self._in_flight += 1

    def release(self, now: float) -> None:
        self._in_flight -= 1
        self._record(now)
        released, self._released = self._released, []
        for future in released:
            if not future.done():
                future.set_result(None)

    @abc.abstractmethod
    def _delay(self, now: float) -> float | None: ...

    @abc.abstractmethod
    def _record(self, now: float) -> None: ...

    @abc.abstractmethod
    def _idle(self, now: float) -> bool: ...


class SlidingWindow(Gate):
    """At most ``limit`` requests in any ``period`` seconds (Telegram's 30/s, 20/min in a group)."""

    def __init__(self, limit: int, period: float) -> None:
        super().__init__()
        self.limit = max(1, limit)
        self.period = period
        self._done: deque[float] = deque()  # response times still inside the window
        self.passed = 0  # requests let through and done, ever (delivery's pacer compares it with its own)

    def _delay(self, now: float) -> float | None:
        self._expire(now)
        if len(self._done) + self._in_flight < self.limit:
            return 0.0
        if self._done:
            return self._done[0] + self.period - now
        return None

    def _record(self, now: float) -> None:
        self._done.append(now)
        self.passed += 1

    def _idle(self, now: float) -> bool:
        self._expire(now)
        return not self._done

    def _expire(self, now: float) -> None:
        while self._done and self._done[0] + self.period <= now:
            self._done.popleft()


class TokenBucket(Gate):
    """``burst`` requests at once, then ``rate`` per second (a private chat: a burst, then 1/s)."""

    def __init__(self, burst: int, rate: float) -> None:
        super().__init__()
        self.burst = float(max(1, burst))
        self.rate = rate
        self._tokens = self.burst
        self._stamp: float | None = None

    def _level(self, now: float) -> float:
        if self._stamp is None:
            return self.burst
        return min(self.burst, self._tokens + (now - self._stamp) * self.rate)

    def _delay(self, now: float) -> float | None:
        available = self._level(now) - self._in_flight
        if available >= 1.0:
            return 0.0
        if self._in_flight and self._level(now) >= self.burst:
            return None  # only the requests in flight hold it back
        return (1.0 - available) / self.rate

    def _record(self, now: float) -> None:
        self._tokens = self._level(now) - 1.0
        self._stamp = now

    def _idle(self, now: float) -> bool:
        return self._level(now) >= self.burst


class TelegramRateLimiter(BaseRateLimiter[int]):
    """Throttles message sends globally and per chat; honours 429 for every method.

    ``throttle=False`` only honours 429s (the "rate limiter off" setting).
    ``rate_limit_args`` of a call, when given, is its number of retries.
    """

    def __init__(
        self,
        limits: RateLimits | None = None,
        *,
        max_retries: int = 3,
        throttle: bool = True,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self.limits = limits or RateLimits()
        self.max_retries = max_retries
        self.throttle = throttle
        self._clock = clock
        self._sleep = sleep
        self._global = SlidingWindow(round(self.limits.messages_per_second), 1.0)
        self._chats: dict[int | str, Gate] = {}
        self.retries_after_429 = 0  # how many 429s were met (benchmarks report it)

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    @property
    def global_window(self) -> SlidingWindow:
        """The window every message send passes (delivery's pacer reads how full it is)."""
        return self._global

    def chat_window(self, chat_id: int | str) -> Gate:
        window = self._chats.get(chat_id)
        if window is None:
            if len(self._chats) >= _IDLE_SWEEP:
                now = self._clock()
                for key in [key for key, w in self._chats.items() if w.idle(now)]:
                    del self._chats[key]
            limits = self.limits
            if _is_private(chat_id):
                window = TokenBucket(
                    limits.private_chat_burst, limits.private_chat_messages_per_second
                )
            else:
                per_minute = limits.group_chat_messages_per_minute
                limit = max(1, round(per_minute))
                window = SlidingWindow(limit, 60.0 * limit / per_minute)
            self._chats[chat_id] = window
        return window

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | JSONDict | list[JSONDict]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | JSONDict | list[JSONDict]:
        retries = self.max_retries if rate_limit_args is None else rate_limit_args
        chat_id = _chat_id(data.get("chat_id"))
        sends = endpoint.lower() in SEND_METHODS
        windows: list[Gate] = []
        if sends and chat_id is not None:
            windows.append(self.chat_window(chat_id))
        if sends and self.throttle and not data.get("allow_paid_broadcast"):
            windows.append(self._global)
        for attempt in range(retries + 1):
            try:
                return await self._through(windows, callback, args, kwargs)
            except RetryAfter as exc:
                self.retries_after_429 += 1
                if attempt == retries:
                    log.warning("%s: still flood-limited after %d retries", endpoint, retries)
                    raise
                wait = exc._retry_after.total_seconds()
                log.info("%s: flood-limited, retrying after %.1f s", endpoint, wait)
                if sends and chat_id is not None:
                    # The chat's later sends wait too; other chats go on.
                    window = self.chat_window(chat_id)
                    window.blocked_until = max(window.blocked_until, self._clock() + wait)
                else:
                    await self._sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _through(
        self,
        windows: list[Gate],
        callback: Callable[..., Coroutine[Any, Any, Any]],
        args: Any,
        kwargs: dict[str, Any],
    ) -> Any:
        if not self.throttle:
            # Not throttled: only a 429's pause applies.
            for window in windows:
                while (now := self._clock()) < window.blocked_until:
                    await self._sleep(window.blocked_until - now)
            return await callback(*args, **kwargs)
        taken: list[Gate] = []
        try:
            for window in windows:  # the chat's first, then the global one
                await window.acquire(self._clock, self._sleep)
                taken.append(window)
            return await callback(*args, **kwargs)
        finally:
            now = self._clock()
            for window in taken:
                window.release(now)


def _chat_id(value: object) -> int | str | None:
    if value is None:
        return None
    with contextlib.suppress(ValueError, TypeError):
        return int(value)  # type: ignore[call-overload]
    return str(value)


def _is_private(chat_id: int | str) -> bool:
    """Private chats have positive ids; groups and channels negative ones or an @username."""
    return isinstance(chat_id, int) and chat_id > 0
