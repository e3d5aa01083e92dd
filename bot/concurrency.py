"""Concurrent update processing that keeps each user's updates in order.

python-telegram-bot processes one update at a time unless the Application
is given an update processor with ``max_concurrent_updates > 1``; PTB's
``SimpleUpdateProcessor`` then runs any updates side by side, so one user's
second message could overtake the first and a wizard (a
``ConversationHandler``, which relies on one-by-one processing) would see
its steps out of order. :class:`PerUserUpdateProcessor` runs updates of
*different* users in parallel and each user's updates strictly in the order
they arrived: an update waits for the previous update of the same user
(``effective_user``, else ``effective_chat``) to finish, then for one of
``concurrent_updates`` running slots.

Ordering is decided when ``do_process_update`` starts, before any ``await``.
PTB creates one task per update in arrival order and asyncio starts tasks
in creation order; PTB's own semaphore (``process_update``, which is final)
is sized so it never makes an update wait, because its waiters are not
guaranteed to resume in order — the real bound is the slot semaphore
below, taken only by an update whose turn it is. A user who sends many
updates therefore holds at most one slot and never blocks other users.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Hashable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

# PTB's semaphore only gates tasks it has already created (one per update it
# took from the queue); sized like this it never makes an update wait.
_PTB_GATE = 1 << 16


def ordering_key(update: object) -> Hashable | None:
    """Whose turn an update waits for: its user, else its chat (``None``: nobody's)."""
    if not isinstance(update, Update):
        return None
    if update.effective_user is not None:
        return ("user", update.effective_user.id)
    if update.effective_chat is not None:
        return ("chat", update.effective_chat.id)
    return None


class PerUserUpdateProcessor(BaseUpdateProcessor):
    """Up to ``concurrent_updates`` updates at once; one user's updates one after another."""

    def __init__(self, concurrent_updates: int) -> None:
        if concurrent_updates < 1:
            raise ValueError("concurrent_updates must be a positive integer")
        super().__init__(_PTB_GATE if concurrent_updates > 1 else 1)
        self.concurrent_updates = concurrent_updates
        self._slots = asyncio.BoundedSemaphore(concurrent_updates)
        # key -> the future the key's latest update resolves when it has finished
        self._tails: dict[Hashable, asyncio.Future[None]] = {}

    @property
    def running(self) -> int:
        """Updates running now (not waiting for their user's turn or for a slot)."""
        return self.concurrent_updates - self._slots._value

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        key = ordering_key(update)
        previous: asyncio.Future[None] | None = None
        mine: asyncio.Future[None] | None = None
        if key is not None:
            previous = self._tails.get(key)
            mine = asyncio.get_running_loop().create_future()
            self._tails[key] = mine
        started = False
        try:
            if previous is not None:
                await asyncio.shield(previous)
            async with self._slots:
                started = True
                await coroutine
        finally:
            if mine is not None:
                mine.set_result(None)
                if self._tails.get(key) is mine:
                    del self._tails[key]
            if not started and asyncio.iscoroutine(coroutine):
                coroutine.close()  # cancelled (shutdown) before its turn: never started

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None
