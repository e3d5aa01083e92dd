"""Work that one replica at a time does: a leased row in the store.

Several bot processes may share one database (issue 17). Reminder delivery
shares its work (each reminder is claimed on its own), but the hourly
generation tasks — the daily reminders and scan, the overdue-feedback scan,
the weekly and monthly reports — are run by one process at a time. Each is
idempotent already (unique dedupe keys, bookmarks in the store), so a second
run finds nothing to do; the lease keeps two replicas from doing the same
scan side by side and racing on its bookmarks.

A lease is the ``kv`` record ``lease:<name>``: ``{"owner", "until"}``. It
is claimed by compare-and-set — inserted when absent, or updated from the
version just read when it has expired (or is this process's own) — so it
works on every backend (a PostgreSQL advisory lock would tie it to one).
The holder renews it while the work runs; a holder that crashed stops
renewing, and once ``until`` has passed by the bot's clock another replica
takes it over. It is released (``until`` = now) when the work ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import secrets
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from bot.clock import Clock
from storage.base import ConflictError, DuplicateError, KeyValue, NotFoundError, Store

log = logging.getLogger(__name__)

NAMESPACE = "lease"
TTL = timedelta(minutes=5)  # renewed every third of it while the work runs


def lease_id(name: str) -> str:
    return f"{NAMESPACE}:{name}"


def process_owner() -> str:
    """Who holds a lease: host, process and a random part (a restarted process is someone else)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class Leases:
    def __init__(self, store: Store, clock: Clock, *, owner: str | None = None, ttl: timedelta = TTL) -> None:
        self.store = store
        self.clock = clock
        self.owner = owner or process_owner()
        self.ttl = ttl

    def _value(self, until: datetime) -> dict[str, Any]:
        return {"owner": self.owner, "until": until.isoformat()}

    async def claim(self, name: str) -> KeyValue | None:
        """The lease, now held by this process until now + ttl; None if another holds it."""
        now = self.clock.now()
        record = await self.store.kv.get(lease_id(name))
        try:
            if record is None:
                return await self.store.kv.insert(KeyValue(
                    id=lease_id(name), namespace=NAMESPACE, value=self._value(now + self.ttl),
                    created_at=now, updated_at=now))
            held_by, until = record.value.get("owner"), datetime.fromisoformat(record.value["until"])
            if held_by != self.owner and until > now:
                return None
            if held_by != self.owner:
                log.info("lease %s: taking over from %s, expired at %s", name, held_by, until.isoformat())
            return await self.store.kv.update(
                dataclasses.replace(record, value=self._value(now + self.ttl), updated_at=now))
        except (DuplicateError, ConflictError, NotFoundError):
            return None  # another process claimed it between the read and the write

    async def renew(self, lease: KeyValue) -> KeyValue | None:
        """Extend a held lease; None if it was lost (it expired and another process took it)."""
        now = self.clock.now()
        try:
            return await self.store.kv.update(
                dataclasses.replace(lease, value=self._value(now + self.ttl), updated_at=now))
        except (ConflictError, NotFoundError):
            return None

    async def release(self, lease: KeyValue) -> None:
        now = self.clock.now()
        with contextlib.suppress(ConflictError, NotFoundError):  # lost meanwhile: not ours to release
            await self.store.kv.update(dataclasses.replace(lease, value=self._value(now), updated_at=now))

    @contextlib.asynccontextmanager
    async def held(self, name: str) -> AsyncIterator[bool]:
        """``async with leases.held(name) as mine:`` — ``mine`` False: another process has it."""
        lease = await self.claim(name)
        if lease is None:
            yield False
            return
        current = [lease]

        async def keep() -> None:
            while True:
                await asyncio.sleep(self.ttl.total_seconds() / 3)
                renewed = await self.renew(current[0])
                if renewed is None:
                    log.warning("lease %s was lost while its work ran (renewed too late?)", name)
                    return
                current[0] = renewed

        keeper = asyncio.create_task(keep(), name=f"lease:{name}")
        try:
            yield True
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper
            await self.release(current[0])

    def exclusive(self, name: str, run: Callable[[datetime], Awaitable[Any]]) -> Callable[[datetime], Awaitable[None]]:
        """A scheduler task that runs ``run`` only while this process holds lease ``name``."""

        async def task(now: datetime) -> None:
            async with self.held(name) as mine:
                if not mine:
                    log.debug("%s: another replica is running it", name)
                    return
                await run(now)

        return task
