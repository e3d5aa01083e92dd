"""Decoding Bot API request parameters the way Telegram accepts them.

Telegram takes parameters as a query string, form-urlencoded body,
multipart body or JSON body. In the first three every value is a string
and object-valued fields (reply_markup, scope, commands, allowed_updates,
...) are JSON-encoded strings; PTB sends exactly that. In a JSON body the
values already have native types, though a JSON-encoded string is still
accepted for object fields. :class:`Params` hides those differences behind
typed accessors that raise Telegram-style 400 errors.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bot.sandbox.errors import ApiError, bad_request


@dataclass(frozen=True)
class Upload:
    """A file part of a multipart request."""

    filename: str | None
    content_type: str | None
    data: bytes


class Params:
    """Typed access to the parameters of one Bot API call."""

    def __init__(self, values: Mapping[str, Any], uploads: Mapping[str, Upload] | None = None):
        self.values = dict(values)
        self.uploads = dict(uploads or {})

    def has(self, name: str) -> bool:
        """Whether ``name`` was sent (as a value or an upload)."""
        return name in self.values or name in self.uploads

    def get_str(self, name: str, *, required: str | None = None) -> str | None:
        """A string parameter; ``required`` is the error reason when missing."""
        value = self.values.get(name)
        if value is None:
            if required:
                raise bad_request(required)
            return None
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return str(value)
        raise bad_request(f'field "{name}" must be of type String')

    def get_int(self, name: str, *, required: str | None = None) -> int | None:
        """An integer parameter."""
        value = self.values.get(name)
        if value is None or value == "":
            if required:
                raise bad_request(required)
            return None
        if isinstance(value, bool):
            raise bad_request(f'field "{name}" must be of type Integer')
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                pass
        raise bad_request(f'field "{name}" must be of type Integer')

    def get_float(self, name: str) -> float | None:
        """A numeric parameter (timeouts)."""
        value = self.values.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            raise bad_request(f'field "{name}" must be a Number')
        if isinstance(value, int | float):
            return float(value)
        try:
            return float(str(value).strip())
        except ValueError:
            raise bad_request(f'field "{name}" must be a Number') from None

    def get_bool(self, name: str, default: bool = False) -> bool:
        """A boolean parameter (``true``/``false``/``1``/``0``)."""
        value = self.values.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, int):
            return value != 0
        text = str(value).strip().lower()
        if text in ("true", "1"):
            return True
        if text in ("false", "0"):
            return False
        raise bad_request(f'field "{name}" must be of type Boolean')

    def get_json(self, name: str, *, error: str | None = None) -> Any:
        """An object/array parameter, JSON-decoded if sent as a string."""
        value = self.values.get(name)
        if value is None:
            return None
        if isinstance(value, str):
            if value == "":
                return None
            try:
                return json.loads(value)
            except ValueError:
                raise bad_request(error or f"can't parse {name} JSON object") from None
        return value

    def chat_id(self, name: str = "chat_id") -> int | str:
        """``chat_id``: an integer id or an ``@username`` string."""
        value = self.values.get(name)
        if value is None or value == "":
            raise bad_request("chat_id is empty")
        if isinstance(value, bool):
            raise bad_request("chat not found")
        if isinstance(value, int):
            return value
        text = str(value).strip()
        try:
            return int(text)
        except ValueError:
            return text

    def file(self, name: str) -> Upload | str | None:
        """A file parameter: an upload, or a file_id/URL string.

        ``attach://<part>`` references are resolved to the named upload.
        """
        if name in self.uploads:
            return self.uploads[name]
        value = self.values.get(name)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise bad_request(f'field "{name}" must be of type String')
        if value.startswith("attach://"):
            part = value[len("attach://") :]
            if part not in self.uploads:
                raise bad_request(f"file {part} not found in request")
            return self.uploads[part]
        return value


async def read_params(request: web.Request) -> Params:
    """Collect query, form, multipart or JSON parameters of ``request``."""
    values: dict[str, Any] = dict(request.query)
    uploads: dict[str, Upload] = {}
    if request.method == "POST" and request.body_exists:
        content_type = request.content_type
        if content_type == "application/json":
            try:
                body = await request.json()
            except ValueError as exc:
                raise bad_request(f"can't parse JSON encoded request: {exc}") from None
            if not isinstance(body, dict):
                raise bad_request("can't parse JSON encoded request: expected an Object")
            values.update(body)
        elif content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            try:
                form = await request.post()
            except web.HTTPRequestEntityTooLarge:
                raise ApiError("Request Entity Too Large", 413) from None
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    uploads[key] = Upload(value.filename, value.content_type, value.file.read())
                else:
                    values[key] = value
        else:
            raw = await request.read()
            if raw.strip():
                raise bad_request(f"unsupported Content-Type {content_type}")
    return Params(values, uploads)
