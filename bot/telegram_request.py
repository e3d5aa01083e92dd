"""The Bot API HTTP client, with the HTTP status of a server error kept on the exception.

python-telegram-bot turns every 5xx answer into a bare ``NetworkError``
whose message is the server's description, so a caller cannot tell a 503
(the request was not handled: safe to resend) from a 500 (it may have been
processed: a resend may duplicate).  ``ServerError`` is a ``NetworkError``
that also carries ``status``; everything else behaves as PTB's own request.

Every httpx client builds its own TLS context by default, loading the whole
CA bundle (~0.1 s of CPU, on the event loop, for each of PTB's two clients
and each restart); ``tls_context()`` is httpx's default context built once
per process, and ``StatusRequest`` uses it unless told otherwise.  The bot
builds it, and loads the rest of the HTTP stack (``warm_up``), in a worker
thread before the Application (``bot/runner.py``).
"""

from __future__ import annotations

import ssl
from functools import cache
from typing import Any

import httpx
from telegram.error import NetworkError
from telegram.request import HTTPXRequest


@cache
def tls_context() -> ssl.SSLContext:
    """httpx's default certificate verification (``SSL_CERT_FILE``, ``SSL_CERT_DIR`` or
    certifi's bundle), loaded once and shared by every client of the process."""
    return httpx.create_ssl_context()


def warm_up() -> None:
    """What the first HTTP request would otherwise load on the event loop (run it in a worker):
    the TLS context, and the parts of anyio that httpcore uses (anyio imports its asyncio
    backend and most of its API lazily, on first use: ~0.07 s)."""
    tls_context()
    import anyio
    import anyio._backends._asyncio  # the backend itself, imported for its side effect

    for name in ("Lock", "Event", "Semaphore", "CancelScope", "connect_tcp", "fail_after",
                 "sleep", "EndOfStream", "BrokenResourceError", "ClosedResourceError"):
        getattr(anyio, name)


def shared_tls(httpx_kwargs: dict[str, Any] | None) -> dict[str, Any]:
    """``httpx_kwargs`` with the shared TLS context, unless they choose their own ``verify``."""
    return {"verify": tls_context(), **(httpx_kwargs or {})}


class ServerError(NetworkError):
    def __init__(self, status: int, description: str) -> None:
        super().__init__(f"{description} ({status})")
        self.status = status


class StatusRequest(HTTPXRequest):
    def __init__(self, *args: Any, httpx_kwargs: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, httpx_kwargs=shared_tls(httpx_kwargs), **kwargs)

    async def do_request(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        code, payload = await super().do_request(*args, **kwargs)
        if code >= 500:
            try:
                description = str(self.parse_json_payload(payload).get("description") or "server error")
            except Exception:  # noqa: BLE001 - an HTML error page from a proxy, or anything unreadable
                description = "server error"
            raise ServerError(code, description[:200])
        return code, payload
