"""Webhook delivery: while the bot has a webhook set, the sandbox POSTs each update to it.

What Telegram does, as far as a bot can tell:

- ``setWebhook`` (url, secret_token, max_connections, allowed_updates,
  drop_pending_updates) switches the bot from getUpdates to webhook
  delivery; getUpdates then answers 409 Conflict until ``deleteWebhook``.
- Each update is POSTed as its JSON body, with the secret in
  ``X-Telegram-Bot-Api-Secret-Token`` when one was set.
- A 2xx answer confirms the update. Anything else (another status, a refused
  or dropped connection, a timeout) leaves it pending, records
  ``last_error_date``/``last_error_message`` for getWebhookInfo and retries it
  later, waiting longer after each failure (``first_retry`` doubling up to
  ``max_retry``).
- One chat's updates go out in order: the next one only once the previous one
  was accepted. Different chats' updates go out side by side, up to
  ``max_connections`` at once.

For a bot running as several replicas, ``targets`` (a sandbox option, not a
Bot API one) makes the sandbox POST to those URLs in turn instead of the URL
the bot set, standing in for the load balancer in front of them; each
replica's activity is attached with its own URL (``SandboxServer.attach(...,
webhook_url=...)``) so waits ask the replica that has the update.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import logging
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from bot.sandbox.state import QueuedUpdate, SandboxState

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
DEFAULT_MAX_CONNECTIONS = 40


@dataclass
class Webhook:
    """What setWebhook set, and how delivery has gone."""

    url: str
    secret_token: str | None = None
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    allowed_updates: list[str] | None = None
    last_error_date: int | None = None
    last_error_message: str | None = None

    def info(self, pending: int) -> dict[str, Any]:
        """The getWebhookInfo result."""
        data: dict[str, Any] = {
            "url": self.url,
            "has_custom_certificate": False,
            "pending_update_count": pending,
            "max_connections": self.max_connections,
        }
        if self.allowed_updates is not None:
            data["allowed_updates"] = list(self.allowed_updates)
        if self.last_error_date is not None:
            data["last_error_date"] = self.last_error_date
            data["last_error_message"] = self.last_error_message
        return data


@dataclass(frozen=True)
class Delivery:
    """One POST the sandbox made: to which URL, for which update, and how it went."""

    update_id: int
    url: str
    status: int | None  # None: no HTTP answer (refused, dropped, timed out)
    error: str | None  # None: accepted
    secret_sent: bool


def chat_key(payload: dict[str, Any]) -> int | None:
    """The chat whose order an update belongs to (its sender's, when it has no chat)."""
    for key, body in payload.items():
        if key == "update_id" or not isinstance(body, dict):
            continue
        message = body.get("message") if isinstance(body.get("message"), dict) else None
        for holder in (body, message):
            if holder is not None and isinstance(holder.get("chat"), dict):
                return holder["chat"].get("id")
        sender = body.get("from") or body.get("user")
        if isinstance(sender, dict):
            return sender.get("id")
    return None


@dataclass
class WebhookDelivery:
    """The delivery loop of one sandbox (started by setWebhook, stopped by deleteWebhook)."""

    state: SandboxState
    first_retry: float = 0.5
    max_retry: float = 30.0
    timeout: float = 10.0
    targets: list[str] | None = None
    """Sandbox option: POST to these URLs in turn instead of the webhook's URL (replicas)."""
    webhook: Webhook | None = None
    deliveries: list[Delivery] = field(default_factory=list)
    _task: asyncio.Task[None] | None = None
    _posting: dict[int, asyncio.Task[None]] = field(default_factory=dict)
    _turn: int = 0

    def __post_init__(self) -> None:
        self.state.webhook_status = self.status

    @property
    def active(self) -> bool:
        return self.webhook is not None

    def status(self) -> str | None:
        """The webhook and its last error in words (``None`` without a webhook)."""
        if self.webhook is None:
            return None
        where = ", ".join(self.targets) if self.targets else self.webhook.url
        error = self.webhook.last_error_message
        return f"posting to {where}" + (f"; last error: {error}" if error else "")

    async def set(self, webhook: Webhook) -> None:
        """Deliver to ``webhook`` from now on (replacing any previous one)."""
        await self._stop_posting()
        self.webhook = webhook
        for item in self.state.updates.items():  # a new webhook is tried at once
            item.retry_at = 0.0
        if self._task is None or self._task.done():
            # A fresh context: nothing the bot's request carried (its update id) marks this loop.
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name="sandbox-webhook", context=contextvars.Context()
            )
        self._wake()

    async def delete(self) -> None:
        """Back to getUpdates; what was being POSTed stays pending."""
        self.webhook = None
        task, self._task = self._task, None
        await self._stop_posting()
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._wake()

    async def _stop_posting(self) -> None:
        tasks = list(self._posting.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._posting.clear()

    def _wake(self) -> None:
        self.state.updates.pulse.fire()
        self.state.changed()

    # -- the loop ------------------------------------------------------------------

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        async with aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.timeout)
        ) as session:
            try:
                while self.webhook is not None:
                    wake = self.state.updates.pulse.event
                    next_retry = self._start_due(session, loop.time())
                    wait = None if next_retry is None else max(next_retry - loop.time(), 0.0)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(wake.wait(), wait)
            finally:
                await self._stop_posting()

    def _start_due(self, session: aiohttp.ClientSession, now: float) -> float | None:
        """POST what may go now; the loop time of the next retry due (``None``: none waiting)."""
        webhook = self.webhook
        assert webhook is not None
        busy_chats: set[int | None] = set()
        next_retry: float | None = None
        for item in self.state.updates.items():
            if len(self._posting) >= webhook.max_connections:
                break
            chat = chat_key(item.payload)
            if chat in busy_chats:
                continue  # an earlier update of this chat is not accepted yet
            busy_chats.add(chat)
            if item.update_id in self._posting:
                continue
            if item.retry_at > now:
                next_retry = item.retry_at if next_retry is None else min(next_retry, item.retry_at)
                continue
            self._posting[item.update_id] = asyncio.get_running_loop().create_task(
                self._post(session, webhook, item), context=contextvars.Context()
            )
        return next_retry

    def _next_url(self, webhook: Webhook) -> str:
        if not self.targets:
            return webhook.url
        url = self.targets[self._turn % len(self.targets)]
        self._turn += 1
        return url

    async def _post(self, session: aiohttp.ClientSession, webhook: Webhook, item: QueuedUpdate) -> None:
        queue = self.state.updates
        url = self._next_url(webhook)
        headers = {"Content-Type": "application/json"}
        if webhook.secret_token:
            headers[SECRET_HEADER] = webhook.secret_token
        item.delivered = True
        queue.delivered_upto = max(queue.delivered_upto, item.update_id)
        status: int | None = None
        error: str | None = None
        try:
            async with session.post(url, data=json.dumps(item.payload, ensure_ascii=False), headers=headers) as response:
                await response.read()
                status = response.status
                if not 200 <= status < 300:
                    error = f"Wrong response from the webhook: {status} {response.reason or ''}".strip()
        except TimeoutError:
            error = "Read timeout expired"
        except aiohttp.ClientConnectorError as exc:
            error = f"Connection refused ({exc.os_error or exc})"
        except aiohttp.ClientError as exc:
            error = f"Connection failed: {type(exc).__name__}: {exc}"
        finally:
            self._posting.pop(item.update_id, None)
        self.deliveries.append(
            Delivery(item.update_id, url, status, error, secret_sent=bool(webhook.secret_token))
        )
        if error is None:
            queue.delivered_to[item.update_id] = url
            queue.remove(item.update_id)
        else:
            log.info("sandbox webhook delivery of update %s to %s failed: %s",
                     item.update_id, url, error)
            item.attempts += 1
            delay = min(self.first_retry * 2 ** (item.attempts - 1), self.max_retry)
            item.retry_at = asyncio.get_running_loop().time() + delay
            webhook.last_error_date = self.state.now()
            webhook.last_error_message = error
        self._wake()
