"""HTTP/JSON mirror of the sandbox's Python control API.

For drivers that do not share the sandbox's event loop (a console in another
process, a shell script, a benchmark harness). Every response is JSON:
``{"ok": true, "result": ...}`` or ``{"ok": false, "error": "..."}`` with
status 400 (bad input / impossible action), 404 (unknown user or file) or
504 (the bot did not react in time, :class:`SandboxTimeout`).

Endpoints (all under ``/control``):

``GET  /info``
    URLs, token and the bot's getMe object.
``GET  /users`` / ``POST /users``
    List users / get-or-create one. Body: ``{"id": 1001, "first_name": "Alice",
    "last_name": null, "username": "alice", "language_code": "en",
    "phone_number": null}``.
``GET  /users/{user_id}``
    One user, with reply keyboard and visible command menu.
``POST /users/{user_id}/send``
    ``{"text": "...", "wait": true, "timeout": 10}`` → bot messages produced.
``POST /users/{user_id}/press``
    ``{"label": "..."}`` or ``{"message_id": 5, "row": 0, "col": 1}`` (+ wait, timeout);
    ``{"message_id": 5, "data": "..."}`` sends forged callback_data.
``POST /users/{user_id}/contact``
    ``{"phone_number": "...", "first_name": ..., "last_name": ..., "user_id": ...}``.
``POST /users/{user_id}/document``
    multipart with a file part ``document`` (+ fields caption, mime_type, wait,
    timeout), or JSON ``{"filename", "content_base64", "mime_type", "caption"}``.
``POST /users/{user_id}/photo``
    multipart with a file part ``photo``, or JSON ``{"content_base64", "caption"}``.
``POST /users/{user_id}/wait_for_reply``
    ``{"timeout": 10}`` → bot messages since the user's last action/wait.
``POST /users/{user_id}/block`` / ``POST /users/{user_id}/unblock``
``GET  /users/{user_id}/callback_answers``
``GET  /chats/{chat_id}/messages``
    ``?bot_only=1`` to list only the bot's non-deleted messages.
``GET  /files/{file_id}``
    Raw bytes of a stored file.
``GET  /events?after=SEQ&timeout=S``
    Long-poll bot→chat events with ``seq > after``; returns ``{"events", "seq"}``.
``POST /wait_idle``
    ``{"timeout": 10}``: until every update is confirmed and the bot has nothing in progress.
``GET  /commands?scope=<json>&language_code=xx``
    Commands stored by setMyCommands.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.sandbox.errors import ApiError, SandboxError, SandboxTimeout
from bot.sandbox.params import Params
from bot.sandbox.state import SandboxMessage, wait_event

if TYPE_CHECKING:
    from bot.sandbox.server import SandboxServer
    from bot.sandbox.users import SandboxUser

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ControlError(Exception):
    """A control request that cannot be served."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _ok(result: Any) -> web.Response:
    return web.json_response({"ok": True, "result": result})


def _messages(messages: list[SandboxMessage]) -> list[dict[str, Any]]:
    return [m.to_json() for m in messages]


def _guard(handler: Handler) -> Handler:
    """Map sandbox exceptions to JSON error responses."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except ControlError as exc:
            status, message = exc.status, str(exc)
        except SandboxTimeout as exc:
            status, message = 504, str(exc)
        except SandboxError as exc:
            status, message = 400, str(exc)
        except ApiError as exc:
            status, message = exc.error_code, exc.description
        except (ValueError, TypeError, KeyError) as exc:
            status, message = 400, f"bad request: {exc}"
        return web.json_response({"ok": False, "error": message}, status=status)

    return wrapped


class ControlApi:
    """Request handlers bound to one :class:`SandboxServer`."""

    def __init__(self, server: SandboxServer) -> None:
        self.server = server

    # -- helpers ------------------------------------------------------------

    async def _body(self, request: web.Request) -> dict[str, Any]:
        if not request.body_exists:
            return {}
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except json.JSONDecodeError as exc:
                raise ControlError(f"invalid JSON body: {exc}") from None
            if not isinstance(body, dict):
                raise ControlError("JSON body must be an object")
            return body
        form = await request.post()
        return dict(form)

    def _user(self, request: web.Request) -> SandboxUser:
        try:
            user_id = int(request.match_info["user_id"])
        except ValueError:
            raise ControlError("user_id must be an integer") from None
        user = self.server.get_user(user_id)
        if user is None:
            raise ControlError(f"unknown user {user_id}; create it with POST /control/users", 404)
        return user

    @staticmethod
    def _wait_args(body: dict[str, Any]) -> dict[str, Any]:
        wait = body.get("wait", True)
        if isinstance(wait, str):
            wait = wait.lower() not in ("0", "false", "no")
        return {"wait": bool(wait), "timeout": float(body.get("timeout", 10.0))}

    @staticmethod
    def _file_part(body: dict[str, Any], field: str) -> tuple[bytes, str | None, str | None]:
        part = body.get(field)
        if isinstance(part, web.FileField):
            return part.file.read(), part.filename, part.content_type
        encoded = body.get("content_base64")
        if not isinstance(encoded, str):
            raise ControlError(f"send a multipart file part {field!r} or JSON content_base64")
        try:
            return base64.b64decode(encoded, validate=True), body.get("filename"), None
        except binascii.Error as exc:
            raise ControlError(f"content_base64 is not valid base64: {exc}") from None

    # -- handlers -----------------------------------------------------------------

    async def info(self, request: web.Request) -> web.Response:
        server = self.server
        bot = await server.api.get_me(Params({}))
        return _ok(
            {
                "url": server.url,
                "base_url": server.base_url,
                "file_base_url": server.file_base_url,
                "token": server.token,
                "bot": bot,
                "pending_updates": server.pending_updates,
            }
        )

    async def list_users(self, request: web.Request) -> web.Response:
        return _ok([u.to_json() for u in self.server.users()])

    async def create_user(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        if "id" not in body:
            raise ControlError('field "id" is required')
        user = self.server.user(
            int(body["id"]),
            first_name=body.get("first_name"),
            last_name=body.get("last_name"),
            username=body.get("username"),
            language_code=body.get("language_code", "en"),
            phone_number=body.get("phone_number"),
        )
        return _ok(user.to_json())

    async def get_user(self, request: web.Request) -> web.Response:
        return _ok(self._user(request).to_json())

    async def send(self, request: web.Request) -> web.Response:
        user = self._user(request)
        body = await self._body(request)
        text = body.get("text")
        if not isinstance(text, str):
            raise ControlError('field "text" is required')
        return _ok(_messages(await user.send(text, **self._wait_args(body))))

    async def press(self, request: web.Request) -> web.Response:
        user = self._user(request)
        body = await self._body(request)
        args = self._wait_args(body)
        if "label" in body:
            return _ok(_messages(await user.press(str(body["label"]), **args)))
        if {"message_id", "data"} <= body.keys():
            messages = await user.press_forged(int(body["message_id"]), str(body["data"]), **args)
            return _ok(_messages(messages))
        if {"message_id", "row", "col"} <= body.keys():
            messages = await user.press_button(
                int(body["message_id"]), int(body["row"]), int(body["col"]), **args
            )
            return _ok(_messages(messages))
        raise ControlError('send "label", or "message_id" with "row" and "col" or "data"')

    async def contact(self, request: web.Request) -> web.Response:
        user = self._user(request)
        body = await self._body(request)
        phone = body.get("phone_number")
        if not isinstance(phone, str) or not phone:
            raise ControlError('field "phone_number" is required')
        contact_user = body.get("user_id")
        messages = await user.share_contact(
            phone,
            body.get("first_name"),
            body.get("last_name"),
            int(contact_user) if contact_user is not None else None,
            **self._wait_args(body),
        )
        return _ok(_messages(messages))

    async def document(self, request: web.Request) -> web.Response:
        user = self._user(request)
        body = await self._body(request)
        content, filename, mime_type = self._file_part(body, "document")
        filename = str(body.get("filename") or filename or "document.bin")
        messages = await user.send_document(
            filename,
            content,
            mime_type=body.get("mime_type") or mime_type,
            caption=body.get("caption") or None,
            **self._wait_args(body),
        )
        return _ok(_messages(messages))

    async def photo(self, request: web.Request) -> web.Response:
        user = self._user(request)
        body = await self._body(request)
        content, _, _ = self._file_part(body, "photo")
        messages = await user.send_photo(
            content, caption=body.get("caption") or None, **self._wait_args(body)
        )
        return _ok(_messages(messages))

    async def wait_for_reply(self, request: web.Request) -> web.Response:
        user = self._user(request)
        body = await self._body(request)
        timeout = float(body.get("timeout", 10.0))
        return _ok(_messages(await user.wait_for_reply(timeout=timeout)))

    async def block(self, request: web.Request) -> web.Response:
        user = self._user(request)
        user.block()
        return _ok(user.to_json())

    async def unblock(self, request: web.Request) -> web.Response:
        user = self._user(request)
        user.unblock()
        return _ok(user.to_json())

    async def callback_answers(self, request: web.Request) -> web.Response:
        return _ok([a.to_json() for a in self._user(request).callback_answers])

    async def chat_messages(self, request: web.Request) -> web.Response:
        try:
            chat_id = int(request.match_info["chat_id"])
        except ValueError:
            raise ControlError("chat_id must be an integer") from None
        if chat_id not in self.server.state.chats:
            raise ControlError(f"unknown chat {chat_id}", 404)
        messages = self.server.chat_messages(chat_id)
        if request.query.get("bot_only", "0") not in ("0", "false", ""):
            messages = [m for m in messages if m.from_bot and not m.deleted]
        return _ok(_messages(messages))

    async def file(self, request: web.Request) -> web.StreamResponse:
        stored = self.server.state.files.get(request.match_info["file_id"])
        if stored is None:
            raise ControlError("unknown file_id", 404)
        return web.Response(
            body=stored.content, content_type=stored.mime_type or "application/octet-stream"
        )

    async def events(self, request: web.Request) -> web.Response:
        state = self.server.state
        after = int(request.query.get("after", "0"))
        timeout = min(float(request.query.get("timeout", "0")), 60.0)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            wake = state.pulse.event
            events = [e.to_json() for e in state.events if e.seq > after]
            left = deadline - loop.time()
            if events or left <= 0 or self.server.api.closing:
                return _ok({"events": events, "seq": state.seq})
            await wait_event(wake, left)

    async def wait_idle(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        await self.server.wait_idle(timeout=float(body.get("timeout", 10.0)))
        return _ok(True)

    async def commands(self, request: web.Request) -> web.Response:
        raw_scope = request.query.get("scope")
        scope = json.loads(raw_scope) if raw_scope else None
        language = request.query.get("language_code", "")
        return _ok(self.server.commands(scope, language))


def add_control_routes(app: web.Application, server: SandboxServer) -> None:
    """Register the ``/control`` routes for ``server`` on ``app``."""
    api = ControlApi(server)
    routes: list[tuple[str, str, Handler]] = [
        ("GET", "/control/info", api.info),
        ("GET", "/control/users", api.list_users),
        ("POST", "/control/users", api.create_user),
        ("GET", "/control/users/{user_id}", api.get_user),
        ("POST", "/control/users/{user_id}/send", api.send),
        ("POST", "/control/users/{user_id}/press", api.press),
        ("POST", "/control/users/{user_id}/contact", api.contact),
        ("POST", "/control/users/{user_id}/document", api.document),
        ("POST", "/control/users/{user_id}/photo", api.photo),
        ("POST", "/control/users/{user_id}/wait_for_reply", api.wait_for_reply),
        ("POST", "/control/users/{user_id}/block", api.block),
        ("POST", "/control/users/{user_id}/unblock", api.unblock),
        ("GET", "/control/users/{user_id}/callback_answers", api.callback_answers),
        ("GET", "/control/chats/{chat_id}/messages", api.chat_messages),
        ("GET", "/control/files/{file_id}", api.file),
        ("GET", "/control/events", api.events),
        ("POST", "/control/wait_idle", api.wait_idle),
        ("GET", "/control/commands", api.commands),
    ]
    for method, path, handler in routes:
        app.router.add_route(method, path, _guard(handler))
