"""Helpers for end-to-end tests."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from telegram.ext import Application, BaseHandler, CommandHandler


def add_first(app: Application, handler: BaseHandler) -> None:
    """Register a test-only handler ahead of every feature handler (and the catch-all)."""
    app.add_handler(handler)
    group = app.handlers[0]
    group.insert(0, group.pop())


def add_command(app: Application, name: str, callback: Callable[..., Awaitable[Any]]) -> None:
    add_first(app, CommandHandler(name, callback))
