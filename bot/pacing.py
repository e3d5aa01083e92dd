"""Reminder delivery's pace: each chat at its own rate, all of delivery at a share of the global one.

The rate limiter (``bot/ratelimit.py``) lets a send through when the chat's
gate and the global window allow it, first come first served. Delivery has
thousands of sends to make; if they all waited in the limiter, a user's
reply would queue behind them. So delivery takes its turn *here* first:

- a send to a chat waits until the limiter's gate of that chat would let it
  through at once (its burst and one per second, or a 429's ``retry_after``),
  holding nothing meanwhile, so other chats go on;
- then it takes a slot of delivery's own window: ``messages_per_second``
  minus ``reserve`` in any second while interactive sends are about (one
  went through the limiter's global window in the last :data:`HOLD`
  seconds: more sends passed it than delivery ever started), the whole
  ``messages_per_second`` otherwise. The limiter's global window therefore
  keeps ``reserve`` slots a second for interactive sends whenever there are
  any (the first one after a quiet spell waits at most for the next slot,
  ~33 ms), and delivery's sends hardly ever wait inside the limiter.

With the limiter's throttling off (``[telegram] rate_limit = false``) only
the chat's 429 pauses are honoured.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from bot.ratelimit import SlidingWindow, TelegramRateLimiter

RESERVE = 1  # global messages per second kept for interactive sends (they wait at most one slot beyond it)
HOLD = 2.0  # seconds the reserve is kept after the last interactive send seen


class DeliveryPacer:
    def __init__(
        self,
        limiter: TelegramRateLimiter | None,
        *,
        reserve: int = RESERVE,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self.limiter = limiter
        self.throttle = limiter is not None and limiter.throttle
        per_second = round(limiter.limits.messages_per_second) if limiter is not None else 30
        self.full = max(1, per_second)
        self.share = max(1, per_second - max(0, reserve))
        self._window = _ShareWindow(self.share, 1.0, self._limit)
        self._reserve_until = 0.0
        self._started = 0  # delivery's sends let through this pacer, ever
        self._others = 0  # the most sends the global window had passed beyond those
        self._clock = clock
        self._sleep = sleep

    async def _chat_ready(self, chat_id: int | str) -> None:
        if self.limiter is None:
            return
        gate = self.limiter.chat_window(chat_id)
        while True:
            now = self._clock()
            if not self.throttle:
                wait: float | None = max(0.0, gate.blocked_until - now)
            else:
                wait = gate.delay(now)
            if wait == 0.0:
                return
            await self._sleep(wait if wait is not None else 0.05)  # None: a send in flight; look again soon

    def _limit(self, now: float) -> int:
        """Delivery's share now: the reserve while interactive sends are about (module docstring)."""
        assert self.limiter is not None
        # Every delivery send is started here before it passes the global window, so more
        # sends having passed it than delivery ever started means someone else sent.
        others = self.limiter.global_window.passed - self._started
        if others > self._others:
            self._others = others
            self._reserve_until = now + HOLD
        return self.share if now < self._reserve_until else self.full

    @contextlib.asynccontextmanager
    async def turn(self, chat_id: int | str) -> AsyncIterator[None]:
        """Wait for delivery's turn to send one message to ``chat_id``; the send goes inside."""
        await self._chat_ready(chat_id)
        if not self.throttle:
            yield
            return
        await self._window.acquire(self._clock, self._sleep)
        self._started += 1
        try:
            yield
        finally:
            self._window.release(self._clock())


class _ShareWindow(SlidingWindow):
    """Delivery's own window, whose limit is asked for each time it is looked at."""

    def __init__(self, limit: int, period: float, limit_now: Callable[[float], int]) -> None:
        super().__init__(limit, period)
        self._limit_now = limit_now

    def _delay(self, now: float) -> float | None:
        self.limit = self._limit_now(now)
        return super()._delay(now)
