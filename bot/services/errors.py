"""Errors services raise for handlers to translate."""

from __future__ import annotations


class AccessDenied(Exception):
    """The caller may not see or do this. Handlers answer "not available" and log it."""


class InvitationError(Exception):
    """An invitation cannot be redeemed; ``reason`` is unknown / used / expired / revoked / registered."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
