"""The Bot API methods the sandbox implements, with Telegram's checks.

Each method takes decoded :class:`~bot.sandbox.params.Params` and returns the
``result`` value or raises :class:`~bot.sandbox.errors.ApiError`. Methods the
bot may call but the sandbox does not model fail loudly with 400 instead of
pretending to succeed: a silent success would let a test pass for a feature
that was never exercised.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from bot.sandbox.errors import ApiError, bad_request
from bot.sandbox.files import StoredFile, image_size
from bot.sandbox.html_check import FormattedText, format_text
from bot.sandbox.limits import ApiLimits, FloodController, FloodLimits
from bot.sandbox.markup import validate_reply_markup
from bot.sandbox.params import Params, Upload
from bot.sandbox.state import CallbackAnswer, Chat, SandboxMessage, SandboxState
from bot.sandbox.webhook import DEFAULT_MAX_CONNECTIONS, Webhook, WebhookDelivery

log = logging.getLogger(__name__)

Method = Callable[[Params], Awaitable[Any]]

CHAT_ACTIONS = frozenset(
    {
        "typing", "upload_photo", "record_video", "upload_video", "record_voice",
        "upload_voice", "upload_document", "choose_sticker", "find_location",
        "record_video_note", "upload_video_note",
    }
)  # fmt: skip

SCOPE_TYPES = frozenset(
    {
        "default", "all_private_chats", "all_group_chats", "all_chat_administrators",
        "chat", "chat_administrators", "chat_member",
    }
)  # fmt: skip

NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)
WEBHOOK_CONFLICT = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to "
    "delete the webhook first"
)
SECRET_TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
QUERY_TOO_OLD = "query is too old and response timeout expired or query ID is invalid"
DELETE_WINDOW_SECONDS = 48 * 3600


def scope_key(scope: Any) -> str:
    """Validate a BotCommandScope and turn it into a dictionary key."""
    if scope is None:
        return "default"
    if not isinstance(scope, dict) or scope.get("type") not in SCOPE_TYPES:
        raise bad_request("can't parse BotCommandScope JSON object")
    kind = scope["type"]
    if kind in ("chat", "chat_administrators", "chat_member"):
        if scope.get("chat_id") in (None, ""):
            raise bad_request("can't parse BotCommandScope JSON object: chat_id is empty")
        if kind == "chat_member":
            if scope.get("user_id") in (None, ""):
                raise bad_request("can't parse BotCommandScope JSON object: user_id is empty")
            return f"{kind}:{scope['chat_id']}:{scope['user_id']}"
        return f"{kind}:{scope['chat_id']}"
    return kind


def _check_language(code: str | None) -> str:
    code = code or ""
    if code and not (len(code) == 2 and code.isascii() and code.isalpha()):
        raise bad_request("invalid language code specified")
    return code.lower()


class BotApi:
    """Implements Bot API methods on top of a :class:`SandboxState`."""

    def __init__(
        self,
        state: SandboxState,
        *,
        limits: ApiLimits | None = None,
        flood_limits: FloodLimits | None = None,
    ) -> None:
        self.state = state
        self.limits = limits or ApiLimits()
        self.flood = FloodController(flood_limits or FloodLimits())
        self.closing = False
        self.webhook = WebhookDelivery(state)
        self.methods: dict[str, Method] = {
            "getme": self.get_me,
            "getupdates": self.get_updates,
            "setwebhook": self.set_webhook,
            "deletewebhook": self.delete_webhook,
            "getwebhookinfo": self.get_webhook_info,
            "setmycommands": self.set_my_commands,
            "getmycommands": self.get_my_commands,
            "deletemycommands": self.delete_my_commands,
            "sendmessage": self.send_message,
            "editmessagetext": self.edit_message_text,
            "editmessagecaption": self.edit_message_caption,
            "editmessagereplymarkup": self.edit_message_reply_markup,
            "deletemessage": self.delete_message,
            "answercallbackquery": self.answer_callback_query,
            "answerinlinequery": self.answer_inline_query,
            "sendchataction": self.send_chat_action,
            "sendphoto": self.send_photo,
            "senddocument": self.send_document,
            "getfile": self.get_file,
        }

    async def call(self, method: str, params: Params) -> Any:
        """Run ``method`` (case-insensitive, like Telegram)."""
        name = method.lower()
        handler = self.methods.get(name)
        if handler is None:
            log.warning("the bot called %s, which the sandbox does not support", method)
            raise bad_request(f"method {method} is not supported by the crm-bot sandbox")
        return await handler(params)

    # -- bot identity, polling, webhook -------------------------------------

    async def get_me(self, params: Params) -> dict[str, Any]:
        """getMe."""
        data = self.state.bot.to_api()
        data.update(
            can_join_groups=True,
            can_read_all_group_messages=False,
            supports_inline_queries=False,
            can_connect_to_business=False,
            has_main_web_app=False,
        )
        return data

    async def get_updates(self, params: Params) -> list[dict[str, Any]]:
        """getUpdates with long polling (409 Conflict while a webhook is set)."""
        queue = self.state.updates
        if self.webhook.active:
            raise ApiError(WEBHOOK_CONFLICT, 409)
        offset = params.get_int("offset")
        limit = params.get_int("limit") or 100
        limit = min(max(limit, 1), 100)
        timeout = max(params.get_float("timeout") or 0.0, 0.0)
        queue.set_allowed(self._allowed_updates(params))
        generation = queue.new_poller()
        queue.confirm(offset)
        self.state.changed()

        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            wake = queue.pulse.event
            if self.webhook.active:
                raise ApiError(WEBHOOK_CONFLICT, 409)
            if queue.poller_generation != generation:
                raise ApiError(
                    "Conflict: terminated by other getUpdates request; make sure that only "
                    "one bot instance is running",
                    409,
                )
            items = queue.peek(limit)
            if items or self.closing:
                queue.mark_delivered(items)
                self.state.changed()
                return [item.payload for item in items]
            left = deadline - loop.time()
            if left <= 0:
                return []
            self.state.pollers_waiting += 1
            self.state.changed()
            try:
                await asyncio.wait_for(wake.wait(), left)
            except TimeoutError:
                return []
            finally:
                self.state.pollers_waiting -= 1

    def _allowed_updates(self, params: Params) -> list[str] | None:
        allowed = params.get_json("allowed_updates", error="can't parse allowed_updates")
        if allowed is not None and not (
            isinstance(allowed, list) and all(isinstance(kind, str) for kind in allowed)
        ):
            raise bad_request("can't parse allowed_updates JSON array")
        return allowed

    async def set_webhook(self, params: Params) -> bool:
        """setWebhook: updates are POSTed to ``url`` from now on (an empty url removes it)."""
        url = params.get_str("url") or ""
        if not url:
            return await self.delete_webhook(params)
        if not url.startswith(("http://", "https://")):
            # Telegram wants https on 443, 80, 88 or 8443; the sandbox serves local bots over http.
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        secret = params.get_str("secret_token")
        if secret is not None and not 1 <= len(secret) <= 256:
            raise bad_request("secret token must be 1-256 characters long")
        if secret is not None and not set(secret) <= SECRET_TOKEN_CHARS:
            raise bad_request("secret token contains unallowed characters")
        max_connections = params.get_int("max_connections") or DEFAULT_MAX_CONNECTIONS
        if not 1 <= max_connections <= 100:
            raise bad_request("bad webhook: max_connections must be between 1 and 100")
        allowed = self._allowed_updates(params)
        self.state.updates.set_allowed(allowed)
        if params.get_bool("drop_pending_updates"):
            self.state.updates.drop_all()
        await self.webhook.set(
            Webhook(url, secret or None, max_connections,
                    allowed if allowed is not None else self._current_allowed())
        )
        return True

    def _current_allowed(self) -> list[str] | None:
        previous = self.webhook.webhook
        return previous.allowed_updates if previous is not None else None

    async def delete_webhook(self, params: Params) -> bool:
        """deleteWebhook: back to getUpdates; honours drop_pending_updates."""
        await self.webhook.delete()
        if params.get_bool("drop_pending_updates"):
            self.state.updates.drop_all()
        self.state.changed()
        return True

    async def get_webhook_info(self, params: Params) -> dict[str, Any]:
        """getWebhookInfo: the webhook set (an empty url while polling)."""
        pending = self.state.updates.pending_count
        if self.webhook.webhook is None:
            return {"url": "", "has_custom_certificate": False, "pending_update_count": pending}
        return self.webhook.webhook.info(pending)

    # -- commands -------------------------------------------------------------

    def _commands_key(self, params: Params) -> tuple[str, str]:
        scope = params.get_json("scope", error="can't parse BotCommandScope JSON object")
        return scope_key(scope), _check_language(params.get_str("language_code"))

    async def set_my_commands(self, params: Params) -> bool:
        """setMyCommands, stored per scope and language."""
        commands = params.get_json("commands", error="can't parse commands JSON object")
        if not isinstance(commands, list):
            raise bad_request("can't parse commands JSON object")
        if len(commands) > self.limits.max_commands:
            raise bad_request("too many commands specified")
        checked: list[dict[str, str]] = []
        for command in commands:
            if not isinstance(command, dict):
                raise bad_request("can't parse BotCommand JSON object")
            name = command.get("command")
            description = command.get("description")
            if not isinstance(name, str) or not isinstance(description, str):
                raise bad_request("can't parse BotCommand JSON object")
            name = name.removeprefix("/")
            if not 1 <= len(name) <= self.limits.max_command_length or not all(
                ch.isascii() and (ch.islower() or ch.isdigit() or ch == "_") for ch in name
            ):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(description.strip()) <= self.limits.max_command_description_length:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
            checked.append({"command": name, "description": description})
        key = self._commands_key(params)
        if checked:
            self.state.commands[key] = checked
        else:
            self.state.commands.pop(key, None)
        return True

    async def get_my_commands(self, params: Params) -> list[dict[str, str]]:
        """getMyCommands for exactly the given scope and language."""
        return [dict(c) for c in self.state.commands.get(self._commands_key(params), [])]

    async def delete_my_commands(self, params: Params) -> bool:
        """deleteMyCommands."""
        self.state.commands.pop(self._commands_key(params), None)
        return True

    # -- sending ----------------------------------------------------------------

    def _markup(self, params: Params, *, inline_only: bool = False) -> dict[str, Any] | None:
        markup = params.get_json(
            "reply_markup", error="can't parse reply keyboard markup JSON object"
        )
        return validate_reply_markup(markup, self.limits, inline_only=inline_only)

    def _format(
        self, params: Params, field: str, *, caption: bool
    ) -> tuple[FormattedText, str | None]:
        raw = params.get_str(field)
        parse_mode = params.get_str("parse_mode")
        entities_field = "caption_entities" if caption else "entities"
        entities = params.get_json(entities_field, error="can't parse entities JSON object")
        limit = self.limits.max_caption_length if caption else self.limits.max_text_length
        formatted = format_text(
            raw, parse_mode, entities, max_length=limit, what="caption" if caption else "text"
        )
        return formatted, parse_mode or None

    def _reply_to(self, chat: Chat, params: Params) -> int | None:
        reply = params.get_json("reply_parameters", error="can't parse ReplyParameters JSON object")
        allow_missing = params.get_bool("allow_sending_without_reply")
        message_id: int | None
        if isinstance(reply, dict):
            message_id = reply.get("message_id")
            allow_missing = bool(reply.get("allow_sending_without_reply", allow_missing))
            if not isinstance(message_id, int):
                raise bad_request("can't parse ReplyParameters JSON object")
        elif reply is not None:
            raise bad_request("can't parse ReplyParameters JSON object")
        else:
            message_id = params.get_int("reply_to_message_id")
        if message_id is None:
            return None
        target = chat.messages.get(message_id)
        if target is None or target.deleted:
            if allow_missing:
                return None
            raise bad_request("message to be replied not found")
        return message_id

    def _deliver(self, chat: Chat, message: SandboxMessage) -> dict[str, Any]:
        """Record a new bot message, update the reply keyboard, emit the event."""
        markup = message.reply_markup
        if markup is not None:
            if "keyboard" in markup:
                chat.reply_keyboard = markup
            elif markup.get("remove_keyboard"):
                chat.reply_keyboard = None
        self.state.record_event(chat, "new", message)
        return self.state.message_api(chat, message)

    async def send_message(self, params: Params) -> dict[str, Any]:
        """sendMessage."""
        chat = self.state.chat_for_bot(params.chat_id())
        formatted, parse_mode = self._format(params, "text", caption=False)
        markup = self._markup(params)
        reply_to = self._reply_to(chat, params)
        self.flood.check(chat.id)
        message = self.state.add_message(
            chat,
            from_bot=True,
            text=formatted.text,
            entities=formatted.entities,
            html=params.get_str("text") if _is_html(parse_mode) else None,
            parse_mode=parse_mode,
            reply_markup=markup,
            reply_to_message_id=reply_to,
        )
        return self._deliver(chat, message)

    def _input_file(self, params: Params, field: str, kind: str) -> StoredFile:
        """Resolve an upload or file_id for sendPhoto/sendDocument."""
        value = params.file(field)
        if value is None:
            raise bad_request(f"there is no {field} in the request")
        if isinstance(value, Upload):
            data = value.data
            if not data:
                raise bad_request("file must be non-empty")
            if kind == "photo":
                if len(data) > self.limits.max_photo_bytes:
                    raise bad_request("PHOTO_SAVE_FILE_INVALID")
                width, height = image_size(data)
                if width + height > 10_000 or (
                    width and height and max(width, height) / min(width, height) > 20
                ):
                    raise bad_request("PHOTO_INVALID_DIMENSIONS")
                return self.state.files.add(data, "photo")
            if len(data) > self.limits.max_document_bytes:
                raise ApiError("Request Entity Too Large", 413)
            return self.state.files.add(
                data, "document", file_name=value.filename, mime_type=value.content_type
            )
        if value.startswith(("http://", "https://")):
            raise bad_request("failed to get HTTP URL content")
        stored = self.state.files.get(value)
        if stored is None:
            raise bad_request("wrong file identifier/HTTP URL specified")
        if stored.kind != kind:
            raise bad_request(
                f"can't use file of type {stored.kind.capitalize()} as {kind.capitalize()}"
            )
        return stored

    async def _send_media(self, params: Params, kind: str) -> dict[str, Any]:
        chat = self.state.chat_for_bot(params.chat_id())
        formatted, parse_mode = self._format(params, "caption", caption=True)
        markup = self._markup(params)
        reply_to = self._reply_to(chat, params)
        stored = self._input_file(params, kind, kind)
        self.flood.check(chat.id)
        message = self.state.add_message(
            chat,
            from_bot=True,
            caption=formatted.text or None,
            caption_entities=formatted.entities,
            html=params.get_str("caption") if _is_html(parse_mode) else None,
            parse_mode=parse_mode,
            reply_markup=markup,
            reply_to_message_id=reply_to,
            **{kind: stored},
        )
        return self._deliver(chat, message)

    async def send_photo(self, params: Params) -> dict[str, Any]:
        """sendPhoto (multipart upload or file_id)."""
        return await self._send_media(params, "photo")

    async def send_document(self, params: Params) -> dict[str, Any]:
        """sendDocument (multipart upload or file_id)."""
        return await self._send_media(params, "document")

    async def send_chat_action(self, params: Params) -> bool:
        """sendChatAction: validated and remembered, not an event."""
        chat = self.state.chat_for_bot(params.chat_id())
        action = params.get_str("action", required="wrong parameter action in request")
        if action not in CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        chat.last_chat_action = action
        return True

    # -- editing and deleting ---------------------------------------------------

    def _message_to_edit(self, params: Params) -> tuple[Chat, SandboxMessage]:
        if params.has("inline_message_id"):
            raise bad_request("inline_message_id is not supported by the crm-bot sandbox")
        chat = self.state.chat_for_bot(params.chat_id())
        message_id = params.get_int("message_id", required="message identifier is not specified")
        assert message_id is not None
        message = chat.messages.get(message_id)
        if message is None or message.deleted:
            raise bad_request("message to edit not found")
        if not message.from_bot:
            raise bad_request("message can't be edited")
        return chat, message

    def _finish_edit(self, chat: Chat, message: SandboxMessage) -> dict[str, Any]:
        message.edited = True
        message.edit_date = self.state.now()
        self.state.record_event(chat, "edited", message)
        return self.state.message_api(chat, message)

    def _check_edit_flood(self, chat: Chat) -> None:
        if self.flood.limits.count_edits:
            self.flood.check(chat.id)

    async def edit_message_text(self, params: Params) -> dict[str, Any]:
        """editMessageText; omitting reply_markup removes the inline keyboard."""
        chat, message = self._message_to_edit(params)
        if message.text is None:
            raise bad_request("there is no text in the message to edit")
        formatted, parse_mode = self._format(params, "text", caption=False)
        markup = self._markup(params, inline_only=True)
        if (
            formatted.text == message.text
            and formatted.entities == message.entities
            and markup == message.inline_markup
        ):
            raise bad_request(NOT_MODIFIED)
        self._check_edit_flood(chat)
        message.text = formatted.text
        message.entities = formatted.entities
        message.parse_mode = parse_mode
        message.html = params.get_str("text") if _is_html(parse_mode) else None
        message.reply_markup = markup
        return self._finish_edit(chat, message)

    async def edit_message_caption(self, params: Params) -> dict[str, Any]:
        """editMessageCaption."""
        chat, message = self._message_to_edit(params)
        if message.photo is None and message.document is None:
            raise bad_request("there is no caption in the message to edit")
        formatted, parse_mode = self._format(params, "caption", caption=True)
        markup = self._markup(params, inline_only=True)
        if (
            (formatted.text or None) == message.caption
            and formatted.entities == message.caption_entities
            and markup == message.inline_markup
        ):
            raise bad_request(NOT_MODIFIED)
        self._check_edit_flood(chat)
        message.caption = formatted.text or None
        message.caption_entities = formatted.entities
        message.parse_mode = parse_mode
        message.html = params.get_str("caption") if _is_html(parse_mode) else None
        message.reply_markup = markup
        return self._finish_edit(chat, message)

    async def edit_message_reply_markup(self, params: Params) -> dict[str, Any]:
        """editMessageReplyMarkup; omitting reply_markup removes the keyboard."""
        chat, message = self._message_to_edit(params)
        markup = self._markup(params, inline_only=True)
        if markup == message.inline_markup or (
            markup is not None and not markup["inline_keyboard"] and message.inline_markup is None
        ):
            raise bad_request(NOT_MODIFIED)
        self._check_edit_flood(chat)
        message.reply_markup = markup
        return self._finish_edit(chat, message)

    async def delete_message(self, params: Params) -> bool:
        """deleteMessage (bot's or user's messages, within 48 hours)."""
        chat = self.state.chat_for_bot(params.chat_id())
        message_id = params.get_int("message_id", required="message identifier is not specified")
        assert message_id is not None
        message = chat.messages.get(message_id)
        if message is None or message.deleted:
            raise bad_request("message to delete not found")
        if self.state.now() - message.date > DELETE_WINDOW_SECONDS:
            raise bad_request("message can't be deleted for everyone")
        message.deleted = True
        self.state.record_event(chat, "deleted", message)
        return True

    # -- callbacks and files ------------------------------------------------------

    async def answer_callback_query(self, params: Params) -> bool:
        """answerCallbackQuery: each query may be answered once."""
        query_id = params.get_str("callback_query_id", required=QUERY_TOO_OLD)
        query = self.state.queries.get(query_id or "")
        if query is None or query.answered:
            raise bad_request(QUERY_TOO_OLD)
        text = params.get_str("text")
        if text is not None and len(text) > 200:
            raise bad_request("MESSAGE_TOO_LONG")
        query.answered = True
        answer = CallbackAnswer(
            callback_query_id=query.id,
            chat_id=query.chat_id,
            message_id=query.message_id,
            data=query.data,
            text=text,
            show_alert=params.get_bool("show_alert"),
            url=params.get_str("url"),
            cache_time=params.get_int("cache_time") or 0,
        )
        chat = self.state.chats[query.chat_id]
        chat.callback_answers.append(answer)
        self.state.record_event(chat, "callback_answer", answer=answer)
        return True

    async def answer_inline_query(self, params: Params) -> bool:
        """answerInlineQuery: up to 50 results, each checked as Telegram checks it."""
        query_id = params.get_str("inline_query_id", required=QUERY_TOO_OLD)
        if query_id not in self.state.inline_answers or self.state.inline_answers[query_id]:
            raise bad_request(QUERY_TOO_OLD)
        results = params.get_json("results", error="can't parse inline query results JSON object")
        if not isinstance(results, list):
            raise bad_request("RESULTS_INVALID")
        if len(results) > 50:
            raise bad_request("RESULTS_TOO_MUCH")
        seen: set[str] = set()
        for result in results:
            self._check_inline_result(result, seen)
        next_offset = params.get_str("next_offset") or ""
        if len(next_offset.encode()) > 64:
            raise bad_request("NEXT_OFFSET_INVALID")
        self.state.inline_answers[query_id] = {
            "results": results,
            "next_offset": next_offset,
            "cache_time": params.get_int("cache_time"),
            "is_personal": params.get_bool("is_personal"),
        }
        self.state.pulse.fire()
        return True

    def _check_inline_result(self, result: Any, seen: set[str]) -> None:
        if not isinstance(result, dict) or result.get("type") != "article":
            raise bad_request("RESULT_TYPE_INVALID")  # the sandbox emulates article results only
        result_id = result.get("id")
        if not isinstance(result_id, str) or not 1 <= len(result_id.encode()) <= 64:
            raise bad_request("RESULT_ID_INVALID")
        if result_id in seen:
            raise bad_request("RESULT_ID_DUPLICATE")
        seen.add(result_id)
        if not isinstance(result.get("title"), str) or not result["title"].strip():
            raise bad_request("RESULT_TITLE_EMPTY")
        content = result.get("input_message_content")
        if not isinstance(content, dict) or "message_text" not in content:
            raise bad_request("MESSAGE_EMPTY")
        format_text(
            content["message_text"], content.get("parse_mode"), content.get("entities"),
            max_length=self.limits.max_text_length,
        )
        if result.get("reply_markup") is not None:
            validate_reply_markup(result["reply_markup"], self.limits, inline_only=True)

    async def get_file(self, params: Params) -> dict[str, Any]:
        """getFile: the File object with a relative file_path."""
        file_id = params.get_str("file_id", required="invalid file_id")
        stored = self.state.files.get(file_id or "")
        if stored is None:
            raise bad_request("invalid file_id")
        if stored.file_size > self.limits.max_download_bytes:
            raise bad_request("file is too big")
        return stored.file_dict()


def _is_html(parse_mode: str | None) -> bool:
    return bool(parse_mode) and str(parse_mode).lower() == "html"


def dumps(payload: Any) -> str:
    """Compact JSON with non-ASCII kept readable (like Telegram)."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
