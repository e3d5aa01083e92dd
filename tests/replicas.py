"""Several bot replicas on one store, in one test process, with the sandbox in front.

``replicas(sandbox, config, stores, clock)`` starts one Application per store
object (each its own ``Services`` and persistence, as separate processes would
have: nothing shared but the database) and a :class:`Router` standing where a
load balancer stands: it fetches the sandbox's updates over real HTTP
(getUpdates) and hands each to the replica ``route(update)`` names, through
that replica's own update processor, as its webhook server would. The bots'
answers go to the sandbox over real HTTP. A batch of updates is confirmed to
the sandbox only once every update in it was processed, so a sandbox user's
``send`` / ``press`` returns when the replica is done.

Webhook delivery (the sandbox POSTing to each replica's URL) replaces the
router in the webhook end-to-end test; what it needs from here is only a way
to say which replica gets which update.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from telegram import Update
from telegram.ext import Application

from bot.app import build_application, startup
from bot.clock import Clock
from bot.config import Config
from bot.services import Services
from storage.base import Store
from tests.helpers import ptb_bot

Route = Callable[[Update], int]


def alternating() -> Route:
    """Each user's updates to replica 0, 1, 0, 1, … (so no two in a row on the same one)."""
    turns: Counter[int] = Counter()

    def route(update: Update) -> int:
        user = update.effective_user.id if update.effective_user else 0
        turns[user] += 1
        return (turns[user] - 1) % 2

    return route


class Router:
    def __init__(self, sandbox: Any, apps: Sequence[Application], route: Route) -> None:
        self.sandbox = sandbox
        self.apps = apps
        self.route = route
        self.handled: list[tuple[Update, int]] = []  # each update, and the replica it went to
        self._task: asyncio.Task[None] | None = None
        self._confirmed = asyncio.Event()
        self._bot = ptb_bot(sandbox.token, base_url=sandbox.base_url)

    async def start(self) -> None:
        await self._bot.initialize()
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._bot.shutdown()

    async def _run(self) -> None:
        offset: int | None = None
        while True:
            updates = await self._bot.get_updates(offset=offset, timeout=1, allowed_updates=Update.ALL_TYPES)
            if not updates:
                continue
            await asyncio.gather(*(self._deliver(update) for update in updates))
            offset = updates[-1].update_id + 1
            await self._bot.get_updates(offset=offset, timeout=0)  # confirm: the senders' waits end
            self._confirmed.set()

    async def drain(self, timeout: float = 10.0) -> None:
        """Until every update queued in the sandbox was processed and confirmed."""
        async with asyncio.timeout(timeout):
            while self.sandbox.pending_updates:
                self._confirmed.clear()
                await self._confirmed.wait()

    async def _deliver(self, update: Update) -> None:
        replica = self.route(update)
        self.handled.append((update, replica))
        app = self.apps[replica]
        own = Update.de_json(update.to_dict(), app.bot)  # answered through that replica's own Bot
        await app.update_processor.process_update(own, app.process_update(own))


@contextlib.asynccontextmanager
async def replicas(
    sandbox: Any, config: Config, stores: Sequence[Store], clock: Clock, *, route: Route | None = None
) -> AsyncIterator[tuple[list[Application], Router]]:
    """The replicas (one per store object, each opened here) and the router in front of them."""
    apps: list[Application] = []
    async with contextlib.AsyncExitStack() as stack:
        for store in stores:
            await store.open()
            stack.push_async_callback(store.close)
            app = build_application(Services(config=config, store=store, clock=clock), token=sandbox.token)
            await stack.enter_async_context(app)
            await startup(app, auto_tick=False)
            await app.start()
            stack.push_async_callback(app.stop)
            apps.append(app)
        router = Router(sandbox, apps, route or alternating())
        await router.start()
        stack.push_async_callback(router.stop)
        yield apps, router


