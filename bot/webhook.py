"""Webhook mode: an HTTP server that takes Telegram's POSTs, and ``/healthz`` beside it.

Why our own aiohttp server rather than PTB's ``Updater.start_webhook``: PTB's
server (tornado) serves exactly one path, the webhook, and has no way to add
another handler, and a load balancer or an orchestrator needs ``/healthz`` on
the same port. PTB documents this set-up ("custom webhook bot"): any web
server that puts each update on ``Application.update_queue``; the
Application's own update fetcher then processes it exactly as in polling
mode (same update processor, same per-user order, same persistence). aiohttp
is already a dependency (the sandbox), so no second web framework.

- ``POST <webhook path>``: refused with 403, and not processed, unless
  ``X-Telegram-Bot-Api-Secret-Token`` equals ``[telegram] webhook_secret``
  (compared in constant time). A body that is not an update: 400. Otherwise
  the update is queued and Telegram gets 200 at once (processing happens
  after; Telegram would retry a slow answer and deliver it twice).
- ``GET /healthz``: JSON ``{"status", "store", "tick"}``; 200 when the store
  answers a cheap read and the scheduler's last tick (by the bot's clock) is
  at most ``health_max_tick_lag_seconds`` old, else 503.

The secret is never logged: refusals log the client address only.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from telegram import Update
from telegram.ext import Application

from bot.config import TelegramConfig
from bot.scheduler import Scheduler
from bot.services import Services

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
HEALTH_PATH = "/healthz"
STORE_PROBE_SECONDS = 5.0
PROBE_ID = "healthz-probe"  # a staff id that never exists: the read finds nothing, cheaply


class WebhookListenError(Exception):
    """The webhook server could not listen where the configuration says (a one-line reason)."""


@dataclass(frozen=True)
class Health:
    healthy: bool
    body: dict[str, Any]


async def check_health(services: Services, scheduler: Scheduler, max_tick_lag: float) -> Health:
    """Store reachability (one indexed read) and the lag of the scheduler's last tick."""
    store: dict[str, Any]
    try:
        await asyncio.wait_for(services.store.staff.get(PROBE_ID), STORE_PROBE_SECONDS)
        store = {"ok": True}
    except Exception as exc:  # noqa: BLE001 - any failure to read is "unreachable", said in the body
        store = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    lag = scheduler.tick_lag().total_seconds()
    tick = {
        "ok": lag <= max_tick_lag,
        "last_tick": scheduler.last_tick.isoformat() if scheduler.last_tick else None,
        "lag_seconds": round(lag, 3),
        "max_lag_seconds": max_tick_lag,
    }
    healthy = store["ok"] and tick["ok"]
    return Health(healthy, {"status": "ok" if healthy else "unhealthy", "store": store, "tick": tick})


class WebhookServer:
    """The webhook and health endpoints of one bot process."""

    def __init__(
        self,
        application: Application,
        services: Services,
        scheduler: Scheduler,
        telegram: TelegramConfig,
    ) -> None:
        self.application = application
        self.services = services
        self.scheduler = scheduler
        self.telegram = telegram
        self.path = telegram.webhook_local_path
        self.refused = 0
        """Requests refused for a missing or wrong secret token (since start)."""
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("WebhookServer.start() has not been awaited")
        return self._port

    @property
    def local_url(self) -> str:
        """Where this process answers POSTs (what a reverse proxy forwards to)."""
        host = self.telegram.webhook_listen
        host = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host
        return f"http://{host}:{self.port}{self.path}"

    def build_app(self) -> web.Application:
        app = web.Application(client_max_size=1024 * 1024)
        app.router.add_post(self.path, self._receive)
        app.router.add_get(HEALTH_PATH, self._health)
        return app

    async def start(self) -> None:
        runner = web.AppRunner(self.build_app(), access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, self.telegram.webhook_listen, self.telegram.webhook_port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise WebhookListenError(
                f"cannot listen on {self.telegram.webhook_listen}:{self.telegram.webhook_port} "
                f"for the webhook ({exc.strerror or exc}); check [telegram] webhook_listen and "
                "webhook_port"
            ) from None
        self._runner = runner
        sockets = site._server.sockets if site._server else ()  # type: ignore[union-attr]
        self._port = sockets[0].getsockname()[1] if sockets else self.telegram.webhook_port
        log.info("webhook server listening on %s:%s (path %s, health %s)",
                 self.telegram.webhook_listen, self._port, self.path, HEALTH_PATH)

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def _receive(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), self.telegram.webhook_secret.encode()):
            self.refused += 1
            log.warning("refused a webhook request from %s: %s secret token", request.remote,
                        "wrong" if given else "no")
            return web.json_response({"ok": False, "error": "forbidden"}, status=403)
        try:
            data = await request.json()
            if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
                raise TypeError("not an update")
            update = Update.de_json(data, self.application.bot)
        except Exception as exc:  # noqa: BLE001 - a body PTB cannot read as an update, whatever why
            log.warning("refused a webhook request from %s: %s", request.remote, exc)
            return web.json_response({"ok": False, "error": "not an update"}, status=400)
        await self.application.update_queue.put(update)
        return web.Response(status=200)

    async def _health(self, request: web.Request) -> web.Response:
        health = await check_health(
            self.services, self.scheduler, float(self.telegram.health_max_tick_lag_seconds)
        )
        return web.Response(
            text=json.dumps(health.body), content_type="application/json",
            status=200 if health.healthy else 503,
        )
