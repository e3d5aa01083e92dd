"""Telegram's size limits and flood control, as the sandbox enforces them.

The point of enforcing them locally is that a bot which passes its end-to-end
tests against the sandbox should not hit these errors in production: a 5000
character report, a 70 byte callback_data or a burst of 40 messages to one
chat must fail here the same way they fail on api.telegram.org.

Size limits live in :class:`ApiLimits`; flood limits in :class:`FloodLimits`.
Both are constructor parameters of the server so tests can tighten or relax
them. Flood accounting deliberately uses real monotonic time (not the
injectable message clock): a simulated clock that jumps a day ahead must not
refill the buckets, and PTB's rate limiter waits in real time.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from bot.sandbox.errors import too_many_requests

MB = 1024 * 1024


@dataclass(frozen=True)
class ApiLimits:
    """Size limits of the Bot API (defaults are Telegram's)."""

    max_text_length: int = 4096
    """Characters (code points) of a message text after entity parsing."""
    max_caption_length: int = 1024
    """Characters of a media caption after entity parsing."""
    max_callback_data_bytes: int = 64
    """UTF-8 bytes of an inline button's callback_data (minimum is 1)."""
    max_copy_text_length: int = 256
    """Characters of an inline button's copy_text.text."""
    max_buttons: int = 100
    """Buttons in one reply markup."""
    max_photo_bytes: int = 10 * MB
    """Upload size of sendPhoto."""
    max_document_bytes: int = 50 * MB
    """Upload size of sendDocument."""
    max_download_bytes: int = 20 * MB
    """Largest file getFile hands out to bots."""
    max_commands: int = 100
    """Commands per setMyCommands call."""
    max_command_length: int = 32
    max_command_description_length: int = 256


@dataclass(frozen=True)
class FloodLimits:
    """Flood control parameters (defaults mimic Telegram).

    Telegram documents "about 30 messages per second" overall and "no more
    than one message per second" to a single chat with short bursts allowed.
    The per-chat limit is a token bucket: ``chat_burst`` messages may go out
    at once, then ``chat_per_second`` more per second.
    """

    enabled: bool = True
    global_per_second: int = 30
    chat_burst: int = 20
    chat_per_second: float = 1.0
    count_edits: bool = False
    """Whether editMessageText/editMessageReplyMarkup consume flood budget."""

    @classmethod
    def disabled(cls) -> FloodLimits:
        """No flood control at all (benchmarks, bulk e2e scenarios)."""
        return cls(enabled=False)

    @classmethod
    def relaxed(cls) -> FloodLimits:
        """Generous limits for e2e tests that drive many actions in one chat."""
        return cls(global_per_second=10_000, chat_burst=10_000, chat_per_second=1_000.0)


@dataclass
class _Bucket:
    tokens: float
    stamp: float


class FloodController:
    """Decides whether an outgoing message may be sent now.

    ``check`` either consumes budget for one message or raises the 429
    :class:`ApiError` Telegram would send; a rejected message consumes nothing.
    """

    def __init__(
        self, limits: FloodLimits, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.limits = limits
        self._now = monotonic
        self._recent: deque[float] = deque()
        self._buckets: dict[int | str, _Bucket] = {}
        self.refusals = 0  # how many 429s were answered (tests check the bot met some)

    def check(self, chat_id: int | str) -> None:
        """Account one message to ``chat_id`` or raise 429."""
        limits = self.limits
        if not limits.enabled:
            return
        now = self._now()
        while self._recent and now - self._recent[0] >= 1.0:
            self._recent.popleft()
        if len(self._recent) >= limits.global_per_second:
            wait = 1.0 - (now - self._recent[0])
            self.refusals += 1
            raise too_many_requests(_retry_after(wait))

        bucket = self._buckets.get(chat_id)
        if bucket is None:
            bucket = self._buckets[chat_id] = _Bucket(float(limits.chat_burst), now)
        else:
            elapsed = max(0.0, now - bucket.stamp)
            bucket.tokens = min(
                float(limits.chat_burst), bucket.tokens + elapsed * limits.chat_per_second
            )
            bucket.stamp = now
        if bucket.tokens < 1.0:
            rate = limits.chat_per_second
            wait = (1.0 - bucket.tokens) / rate if rate > 0 else 3600.0
            self.refusals += 1
            raise too_many_requests(_retry_after(wait))
        bucket.tokens -= 1.0
        self._recent.append(now)

    def reset(self) -> None:
        """Forget all accounting (control API helper)."""
        self._recent.clear()
        self._buckets.clear()


def _retry_after(seconds: float) -> int:
    """Telegram's retry_after is a whole number of seconds, at least 1."""
    return max(1, math.ceil(seconds))
