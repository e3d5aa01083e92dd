"""Logging set-up: readable lines, and the bot token never written anywhere.

httpx logs every request URL at INFO, and a Bot API URL contains the token,
so httpx is held at WARNING. Every handler's output is redacted: the filter
rewrites each record (message, exception text, stack) and the formatter
redacts the finished line again, so nothing a library puts in a record
(a URL ``/bot<token>/getMe``, a server's echo of it in an error) carries the
token. ``install_excepthook`` does the same for a traceback nobody caught,
which Python writes to stderr without going through logging.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
import traceback
from types import TracebackType

# Anything shaped like a bot token in a Bot API path, configured or not.
_TOKEN_IN_URL = re.compile(r"(/(?:file/)?bot)\d+:[A-Za-z0-9_-]+")


def redact(text: str, secrets: list[str]) -> str:
    """``text`` with every secret, and every token-shaped ``/bot<id>:<secret>`` path, as ``[token]``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[token]")
    return _TOKEN_IN_URL.sub(r"\1[token]", text)


class RedactSecrets(logging.Filter):
    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        redacted = redact(message, self.secrets)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self.secrets)
        if record.stack_info:
            record.stack_info = redact(record.stack_info, self.secrets)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


class RedactingFormatter(logging.Formatter):
    """A formatter whose every finished line is redacted (the last word, whatever the record held)."""

    def __init__(self, fmt: str, secrets: list[str]) -> None:
        super().__init__(fmt)
        self.secrets = [s for s in secrets if s]

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record), self.secrets)


LINE_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def install_excepthook(secrets: list[str]) -> None:
    """Uncaught exceptions (main thread and others) are printed with the secrets redacted."""
    kept = [s for s in secrets if s]

    def hook(kind: type[BaseException], value: BaseException,
             tb: TracebackType | None) -> None:
        text = "".join(traceback.format_exception(kind, value, tb))
        sys.stderr.write(redact(text, kept))
        sys.stderr.flush()

    def thread_hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit:
            return
        hook(args.exc_type, args.exc_value or args.exc_type(), args.exc_traceback)

    sys.excepthook = hook
    threading.excepthook = thread_hook


def setup_logging(level: str, secrets: list[str]) -> None:
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler())
    root.setLevel(level.upper())
    for handler in root.handlers:
        for old in [f for f in handler.filters if isinstance(f, RedactSecrets)]:
            handler.removeFilter(old)
        handler.addFilter(RedactSecrets(secrets))
        if handler.formatter is None or isinstance(handler.formatter, RedactingFormatter):
            handler.setFormatter(RedactingFormatter(LINE_FORMAT, secrets))
    install_excepthook(secrets)
    for noisy in ("httpx", "httpcore", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
