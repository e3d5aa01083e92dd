"""The Bot API HTTP client, with the HTTP status of a server error kept on the exception.

python-telegram-bot turns every 5xx answer into a bare ``NetworkError``
whose message is the server's description, so a caller cannot tell a 503
(the request was not handled: safe to resend) from a 500 (it may have been
processed: a resend may duplicate).  ``ServerError`` is a ``NetworkError``
that also carries ``status``; everything else behaves as PTB's own request.
"""

from __future__ import annotations

from typing import Any

from telegram.error import NetworkError
from telegram.request import HTTPXRequest


class ServerError(NetworkError):
    def __init__(self, status: int, description: str) -> None:
        super().__init__(f"{description} ({status})")
        self.status = status


class StatusRequest(HTTPXRequest):
    async def do_request(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        code, payload = await super().do_request(*args, **kwargs)
        if code >= 500:
            try:
                description = str(self.parse_json_payload(payload).get("description") or "server error")
            except Exception:  # noqa: BLE001 - an HTML error page from a proxy, or anything unreadable
                description = "server error"
            raise ServerError(code, description[:200])
        return code, payload
