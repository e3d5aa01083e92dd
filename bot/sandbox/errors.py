"""Exceptions of the sandbox.

Two families, kept apart on purpose:

* :class:`ApiError` is what the *bot* sees: it is rendered as a Bot API error
  response (``{"ok": false, "error_code": N, "description": ...}``) so that PTB
  raises exactly the exception the real Telegram would provoke.
* :class:`SandboxError` / :class:`SandboxTimeout` are what the *driver* (tests,
  console) sees when it asks the simulated user to do something impossible or
  when the bot does not react in time.
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """A Bot API error response.

    ``description`` is the full Telegram description, e.g.
    ``"Bad Request: message text is empty"``.
    """

    def __init__(
        self,
        description: str,
        error_code: int = 400,
        parameters: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(description)
        self.description = description
        self.error_code = error_code
        self.parameters = parameters

    def to_payload(self) -> dict[str, Any]:
        """The JSON body Telegram would send for this error."""
        payload: dict[str, Any] = {
            "ok": False,
            "error_code": self.error_code,
            "description": self.description,
        }
        if self.parameters:
            payload["parameters"] = self.parameters
        return payload


def bad_request(reason: str) -> ApiError:
    """``400 Bad Request: <reason>``."""
    return ApiError(f"Bad Request: {reason}", 400)


def too_many_requests(retry_after: int) -> ApiError:
    """``429`` with ``parameters.retry_after`` like Telegram's flood control."""
    return ApiError(
        f"Too Many Requests: retry after {retry_after}",
        429,
        {"retry_after": retry_after},
    )


class SandboxError(Exception):
    """The driver asked the simulated user for something that cannot happen
    (unknown button, unknown message id, ...)."""


class SandboxTimeout(SandboxError, TimeoutError):
    """The bot did not do what a wait expected before the timeout."""


class ButtonNotFound(SandboxError, LookupError):
    """No button/message matches what the driver asked to press."""


class NoReply(SandboxError):
    """The bot finished processing the user's update without answering in that chat."""
