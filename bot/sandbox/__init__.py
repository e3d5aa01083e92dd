"""Local Telegram Bot API sandbox: run crm-bot with no token and no internet.

* :class:`SandboxServer` — an aiohttp server speaking the Bot API subset the
  bot uses, with Telegram's limits, HTML validation and flood control, plus a
  Python and HTTP control API for simulated users.
* :class:`SandboxUser` — a simulated person: ``send``, ``press``,
  ``share_contact``, ``send_document``, ``send_photo``, ``wait_for_reply``.
* :func:`serve_forever` — entry point of ``crm-bot sandbox --port N``.

This package must not import anything from ``bot.`` outside ``bot.sandbox``:
it stands in for Telegram, not for the bot.
"""

from __future__ import annotations

from bot.sandbox.errors import ApiError, ButtonNotFound, NoReply, SandboxError, SandboxTimeout
from bot.sandbox.files import StoredFile
from bot.sandbox.limits import ApiLimits, FloodLimits
from bot.sandbox.server import DEFAULT_TOKEN, SandboxServer, serve_forever
from bot.sandbox.state import BotActivity, CallbackAnswer, SandboxEvent, SandboxMessage
from bot.sandbox.users import SandboxUser

__all__ = [
    "DEFAULT_TOKEN",
    "ApiError",
    "ApiLimits",
    "BotActivity",
    "ButtonNotFound",
    "CallbackAnswer",
    "FloodLimits",
    "NoReply",
    "SandboxError",
    "SandboxEvent",
    "SandboxMessage",
    "SandboxServer",
    "SandboxTimeout",
    "SandboxUser",
    "StoredFile",
    "serve_forever",
]
