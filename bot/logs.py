"""Logging set-up: readable lines, and the bot token never written anywhere.

httpx logs every request URL at INFO, and a Bot API URL contains the token,
so httpx is held at WARNING and a filter on every handler redacts the token
from whatever else might carry it (exception messages, reprs).
"""

from __future__ import annotations

import logging


class RedactSecrets(logging.Filter):
    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        redacted = message
        for secret in self.secrets:
            redacted = redacted.replace(secret, "[token]")
            if record.exc_text:
                record.exc_text = record.exc_text.replace(secret, "[token]")
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def setup_logging(level: str, secrets: list[str]) -> None:
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
        )
        root.addHandler(handler)
    root.setLevel(level.upper())
    for handler in root.handlers:
        for old in [f for f in handler.filters if isinstance(f, RedactSecrets)]:
            handler.removeFilter(old)
        handler.addFilter(RedactSecrets(secrets))
    for noisy in ("httpx", "httpcore", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
