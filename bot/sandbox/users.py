"""Simulated Telegram users: the driver side of the sandbox.

A :class:`SandboxUser` does what a person does in the Telegram app — types
text, taps inline buttons or reply-keyboard buttons, shares a contact, sends
a file — by queuing the exact update Telegram would deliver. With
``wait=True`` (the default) each action then blocks until the bot has
finished processing the update (see :meth:`SandboxState.wait_for_chat`) and
returns the bot messages it caused in this chat. That is what makes
end-to-end tests deterministic without sleeps.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from typing import Any

from bot.sandbox.errors import ButtonNotFound, NoReply, SandboxError, SandboxTimeout
from bot.sandbox.html_check import format_text
from bot.sandbox.limits import ApiLimits
from bot.sandbox.state import (
    CallbackAnswer,
    Chat,
    PendingQuery,
    SandboxMessage,
    SandboxState,
    TelegramUser,
    wait_event,
)

_COMMAND = re.compile(r"/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![A-Za-z0-9_/<>])")


def command_entities(text: str) -> list[dict[str, Any]]:
    """A ``bot_command`` entity when the text starts with a command."""
    match = _COMMAND.match(text)
    if not match:
        return []
    return [{"type": "bot_command", "offset": 0, "length": len(match.group(0))}]


class SandboxUser:
    """Handle for one simulated user and their private chat with the bot."""

    def __init__(self, state: SandboxState, chat: Chat, limits: ApiLimits,
                 member: TelegramUser | None = None) -> None:
        """``member``: the user sending in a group or channel ``chat`` (default: the private chat's user)."""
        self._state = state
        self._chat = chat
        self._member = member or chat.user
        self._limits = limits
        self._cursor = state.seq
        #: Where the phone is: what a ``request_location`` button shares (latitude, longitude, accuracy m).
        self.device_location: tuple[float, float, float | None] | None = None

    # -- identity -----------------------------------------------------------

    @property
    def id(self) -> int:
        """User id (also the private chat id)."""
        return self._member.id

    @property
    def chat_id(self) -> int:
        """Private chat id (== user id)."""
        return self._chat.id

    @property
    def telegram_user(self) -> TelegramUser:
        """The account as the bot sees it."""
        return self._member

    @property
    def first_name(self) -> str:
        """First name."""
        return self._member.first_name

    @property
    def username(self) -> str | None:
        """Username without ``@``."""
        return self._member.username

    @property
    def language_code(self) -> str | None:
        """IETF language tag reported to the bot."""
        return self._member.language_code

    @property
    def phone_number(self) -> str | None:
        """Phone shared by a request_contact button press."""
        return self._chat.phone_number

    @property
    def blocked(self) -> bool:
        """Whether the user has blocked the bot (bot sends then fail with 403)."""
        return self._chat.blocked

    # -- what the user sees -----------------------------------------------------

    def messages(self) -> list[SandboxMessage]:
        """All messages of the chat, both directions, oldest first (deleted ones flagged)."""
        return list(self._chat.messages.values())

    def bot_messages(self) -> list[SandboxMessage]:
        """The bot's messages that are not deleted."""
        return [m for m in self._chat.messages.values() if m.from_bot and not m.deleted]

    def last_message(self) -> SandboxMessage | None:
        """The newest bot message that is not deleted."""
        for message in reversed(self._chat.messages.values()):
            if message.from_bot and not message.deleted:
                return message
        return None

    @property
    def callback_answers(self) -> list[CallbackAnswer]:
        """answerCallbackQuery records for this user's presses, oldest first."""
        return self._chat.callback_answers

    @property
    def reply_keyboard(self) -> dict[str, Any] | None:
        """The reply keyboard currently shown (last sent, until ReplyKeyboardRemove)."""
        return self._chat.reply_keyboard

    @property
    def last_chat_action(self) -> str | None:
        """The last sendChatAction action ("typing", ...)."""
        return self._chat.last_chat_action

    def visible_commands(self) -> list[dict[str, str]]:
        """The command menu this user sees, resolved like Telegram clients do.

        Order: chat scope (user's language, then any), all_private_chats,
        default.
        """
        language = (self.language_code or "")[:2].lower()
        for scope in (f"chat:{self.chat_id}", "all_private_chats", "default"):
            for lang in (language, ""):
                commands = self._state.commands.get((scope, lang))
                if commands:
                    return [dict(c) for c in commands]
        return []

    # -- actions ------------------------------------------------------------------

    async def send(
        self, text: str, *, wait: bool = True, timeout: float = 10.0
    ) -> list[SandboxMessage]:
        """Send a text message (a leading ``/command`` gets a bot_command entity)."""
        self._ensure_active()
        if not text or not text.strip():
            raise SandboxError("a Telegram message text cannot be empty")
        if len(text) > self._limits.max_text_length:
            raise SandboxError(
                f"a Telegram message text is at most {self._limits.max_text_length} characters"
            )
        message = self._state.add_message(
            self._chat, from_bot=False, sender=self._member,
            text=text, entities=command_entities(text)
        )
        return await self._dispatch(
            "message", self._api(message), f"message {text!r}", wait=wait, timeout=timeout
        )

    async def press(
        self, label: str, *, wait: bool = True, timeout: float = 10.0
    ) -> list[SandboxMessage]:
        """Press a button by label (or callback_data).

        Inline buttons on the newest bot message that has a match win; if no
        inline button matches, a reply-keyboard button with that label is
        pressed (its text is sent, or the contact for request_contact).
        """
        found = self._find_inline(label)
        if found is not None:
            message, row, col = found
            return await self.press_button(message.message_id, row, col, wait=wait, timeout=timeout)
        reply_button = self._find_reply_button(label)
        if reply_button is not None:
            if reply_button.get("request_contact"):
                phone = self.phone_number or f"+1555{self.id % 10_000_000:07d}"
                return await self.share_contact(
                    phone,
                    self.first_name,
                    self._member.last_name,
                    user_id=self.id,
                    wait=wait,
                    timeout=timeout,
                )
            if reply_button.get("request_location"):
                if self.device_location is None:
                    raise SandboxError(f"reply keyboard button {label!r} shares the phone's location: "
                                       "send one instead (console: /location LAT LON or /live LAT LON), "
                                       "or set user.device_location = (latitude, longitude, accuracy)")
                latitude, longitude, accuracy = self.device_location
                return await self.send_location(latitude, longitude, accuracy=accuracy, wait=wait,
                                                timeout=timeout)
            unsupported = [k for k in reply_button if k.startswith("request_") or k == "web_app"]
            if unsupported:
                raise SandboxError(
                    f"reply keyboard button {label!r} uses {unsupported[0]}, "
                    "which the sandbox does not simulate"
                )
            return await self.send(label, wait=wait, timeout=timeout)
        raise ButtonNotFound(
            f"no button {label!r} for user {self.id}; inline buttons on the newest keyboard: "
            f"{self._latest_inline_labels()}, reply keyboard: {self._reply_labels()}"
        )

    async def press_button(
        self, message_id: int, row: int, col: int, *, wait: bool = True, timeout: float = 10.0
    ) -> list[SandboxMessage]:
        """Press the inline button at ``row``/``col`` of message ``message_id``."""
        self._ensure_active()
        message = self._chat.messages.get(message_id)
        if message is None or message.deleted or not message.from_bot:
            raise ButtonNotFound(f"no bot message {message_id} in chat {self.chat_id}")
        rows = message.inline_keyboard
        if not (0 <= row < len(rows) and 0 <= col < len(rows[row])):
            raise ButtonNotFound(
                f"message {message_id} has no inline button at row {row}, col {col}; "
                f"buttons: {message.button_labels()}"
            )
        button = rows[row][col]
        data = button.get("callback_data")
        if data is None:
            kind = next((k for k in button if k != "text"), "unknown")
            raise SandboxError(
                f"button {button.get('text')!r} is a {kind} button; only callback_data "
                "buttons send an update to the bot"
            )
        what = f"press of {button.get('text')!r} (callback_data {data!r}) on message {message_id}"
        return await self._callback_query(message, data, what, wait=wait, timeout=timeout)

    async def press_forged(
        self, message_id: int, data: str, *, wait: bool = True, timeout: float = 10.0
    ) -> list[SandboxMessage]:
        """Send a callback_query with arbitrary ``data`` for a bot message.

        Telegram does not guarantee callback_data came from a real button (a
        modified client can send anything), so bots must validate it; this is
        how tests check that they do.
        """
        self._ensure_active()
        message = self._chat.messages.get(message_id)
        if message is None or message.deleted or not message.from_bot:
            raise ButtonNotFound(f"no bot message {message_id} in chat {self.chat_id}")
        what = f"forged callback_data {data!r} on message {message_id}"
        return await self._callback_query(message, data, what, wait=wait, timeout=timeout)

    async def _callback_query(
        self, message: SandboxMessage, data: str, what: str, *, wait: bool, timeout: float
    ) -> list[SandboxMessage]:
        message_id = message.message_id
        query_id = str(secrets.randbits(63))
        self._state.queries[query_id] = PendingQuery(query_id, self.chat_id, message_id, data)
        body = {
            "id": query_id,
            "from": self._member.to_api(),
            "message": self._state.message_api(self._chat, message),
            "chat_instance": self._chat.chat_instance,
            "data": data,
        }
        return await self._dispatch(
            "callback_query", body, what, wait=wait, timeout=timeout, query_id=query_id
        )

    async def inline_query(
        self, query: str, *, offset: str = "", timeout: float = 10.0
    ) -> dict[str, Any]:
        """Type ``@bot query`` in a chat: returns the bot's answerInlineQuery (results, next_offset)."""
        self._ensure_active()
        if len(query) > 256:
            raise SandboxError("an inline query is at most 256 characters")
        query_id = str(secrets.randbits(63))
        self._state.inline_answers[query_id] = None
        body = {
            "id": query_id,
            "from": self._member.to_api(),
            "query": query,
            "offset": offset,
            "chat_type": "sender",
        }
        if "inline_query" not in self._state.updates.allowed:
            raise SandboxError("the bot's allowed_updates exclude 'inline_query'")
        self._state.updates.push("inline_query", body)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            event = self._state.pulse.event
            answer = self._state.inline_answers.get(query_id)
            if answer is not None:
                return answer
            left = deadline - loop.time()
            if left <= 0:
                raise SandboxTimeout(
                    f"timed out after {timeout:g}s waiting for answerInlineQuery to {query!r}"
                )
            await wait_event(event, left)

    async def choose_inline_result(
        self, result: dict[str, Any], *, wait: bool = True, timeout: float = 10.0
    ) -> list[SandboxMessage]:
        """Tap an inline result in this chat: the app sends its content "via @bot"."""
        content = result["input_message_content"]
        formatted = format_text(
            content["message_text"], content.get("parse_mode"), content.get("entities"),
            max_length=self._limits.max_text_length,
        )
        message = self._state.add_message(
            self._chat, from_bot=False, sender=self._member,
            text=formatted.text, entities=formatted.entities,
            via_bot=self._state.bot, reply_markup=result.get("reply_markup"),
        )
        return await self._dispatch(
            "message", self._api(message), f"inline result {result.get('id')!r}",
            wait=wait, timeout=timeout,
        )

    async def share_contact(
        self,
        phone_number: str,
        first_name: str | None = None,
        last_name: str | None = None,
        user_id: int | None = None,
        *,
        wait: bool = True,
        timeout: float = 10.0,
    ) -> list[SandboxMessage]:
        """Send a contact card (someone else's, or one's own with ``user_id``)."""
        self._ensure_active()
        contact: dict[str, Any] = {
            "phone_number": phone_number,
            "first_name": first_name or self.first_name,
        }
        if last_name:
            contact["last_name"] = last_name
        if user_id is not None:
            contact["user_id"] = user_id
            if user_id == self.id:
                self._chat.phone_number = phone_number
        message = self._state.add_message(
            self._chat, from_bot=False, sender=self._member, contact=contact)
        return await self._dispatch(
            "message", self._api(message), f"contact {phone_number!r}", wait=wait, timeout=timeout
        )

    async def send_location(
        self, latitude: float, longitude: float, *, accuracy: float | None = None,
        live_period: int | None = None, wait: bool = True, timeout: float = 10.0
    ) -> list[SandboxMessage]:
        """Share a location (a map pin), as the app's attachment menu does.

        ``accuracy``: the phone's ``horizontal_accuracy`` in metres (0-1500);
        ``live_period``: seconds (60-86400, or 0x7FFFFFFF for "until stopped") for a live
        location, whose updates :meth:`move_live_location` sends as edits.
        """
        self._ensure_active()
        if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
            raise SandboxError("a location needs -90 <= latitude <= 90 and -180 <= longitude <= 180")
        location: dict[str, float] = {"latitude": float(latitude), "longitude": float(longitude)}
        if accuracy is not None:
            if not 0 <= accuracy <= 1500:
                raise SandboxError("horizontal_accuracy must be 0-1500 metres")
            location["horizontal_accuracy"] = float(accuracy)
        if live_period is not None:
            if not (60 <= live_period <= 86400 or live_period == 0x7FFFFFFF):
                raise SandboxError("live_period must be 60-86400 seconds (or 0x7FFFFFFF)")
            location["live_period"] = live_period
        message = self._state.add_message(self._chat, from_bot=False, location=location)
        return await self._dispatch(
            "message", self._api(message), f"location {latitude}, {longitude}",
            wait=wait, timeout=timeout,
        )

    async def move_live_location(
        self, message_id: int, latitude: float, longitude: float, *, wait: bool = True,
        timeout: float = 10.0
    ) -> list[SandboxMessage]:
        """An update of a live location this user shares (an ``edited_message``, as Telegram sends)."""
        self._ensure_active()
        message = self._chat.messages.get(message_id)
        if (message is None or message.from_bot or message.deleted or message.location is None
                or "live_period" not in message.location):
            raise SandboxError(f"no live location {message_id} from user {self.id} to move")
        if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
            raise SandboxError("a location needs -90 <= latitude <= 90 and -180 <= longitude <= 180")
        period = int(message.location["live_period"])
        now = self._state.now()
        if period != 0x7FFFFFFF and now > message.date + period:
            raise SandboxError("this live location has expired")
        message.location = {**message.location, "latitude": float(latitude), "longitude": float(longitude)}
        message.edited = True
        message.edit_date = now
        try:
            return await self._dispatch(
                "edited_message", self._api(message), f"live location {latitude}, {longitude}",
                wait=wait, timeout=timeout,
            )
        except NoReply:  # a bot usually takes a live location's updates in silence
            return []

    async def send_document(
        self,
        filename: str,
        content: bytes,
        mime_type: str | None = None,
        caption: str | None = None,
        *,
        wait: bool = True,
        timeout: float = 10.0,
    ) -> list[SandboxMessage]:
        """Upload a document (e.g. a CSV to import)."""
        self._ensure_active()
        self._check_caption(caption)
        if not content:
            raise SandboxError("Telegram does not send empty files")
        if len(content) > self._limits.max_document_bytes:
            raise SandboxError("file exceeds the document size limit")
        stored = self._state.files.add(
            bytes(content), "document", file_name=filename, mime_type=mime_type
        )
        message = self._state.add_message(
            self._chat, from_bot=False, sender=self._member,
            document=stored, caption=caption or None
        )
        return await self._dispatch(
            "message", self._api(message), f"document {filename!r}", wait=wait, timeout=timeout
        )

    async def send_photo(
        self,
        content: bytes,
        caption: str | None = None,
        *,
        wait: bool = True,
        timeout: float = 10.0,
    ) -> list[SandboxMessage]:
        """Send a photo."""
        self._ensure_active()
        self._check_caption(caption)
        if not content:
            raise SandboxError("Telegram does not send empty photos")
        stored = self._state.files.add(bytes(content), "photo")
        message = self._state.add_message(
            self._chat, from_bot=False, sender=self._member,
            photo=stored, caption=caption or None
        )
        return await self._dispatch(
            "message", self._api(message), "photo", wait=wait, timeout=timeout
        )

    async def send_voice(
        self, content: bytes, duration: int, *, wait: bool = True, timeout: float = 10.0
    ) -> list[SandboxMessage]:
        """Send a voice note (OGG/Opus as Telegram's apps record it)."""
        self._ensure_active()
        if not content or duration < 1:
            raise SandboxError("a voice note needs content and a duration of at least 1 s")
        stored = self._state.files.add(bytes(content), "voice", mime_type="audio/ogg")
        message = self._state.add_message(
            self._chat, from_bot=False, sender=self._member,
            voice=stored, voice_duration=duration
        )
        return await self._dispatch(
            "message", self._api(message), "voice note", wait=wait, timeout=timeout
        )

    async def edit(
        self, message_id: int, text: str, *, wait: bool = True, timeout: float = 10.0
    ) -> list[SandboxMessage]:
        """Edit one of the user's own text messages (an ``edited_message`` update)."""
        self._ensure_active()
        message = self._chat.messages.get(message_id)
        if message is None or message.from_bot or message.deleted or message.text is None:
            raise SandboxError(f"no text message {message_id} from user {self.id} to edit")
        if not text.strip():
            raise SandboxError("a Telegram message text cannot be empty")
        message.text = text
        message.entities = command_entities(text)
        message.edited = True
        message.edit_date = self._state.now()
        return await self._dispatch(
            "edited_message",
            self._api(message),
            f"edit of message {message_id}",
            wait=wait,
            timeout=timeout,
        )

    async def wait_for_reply(self, timeout: float = 10.0) -> list[SandboxMessage]:
        """Wait for bot activity in this chat since this user's last action or wait.

        Returns the bot messages sent or edited since then, once the bot has
        nothing in progress. Useful for messages the bot sends on its own
        (reminders) and after ``wait=False`` actions.
        """
        messages = await self._state.wait_for_news(
            self._chat, since_seq=self._cursor, timeout=timeout
        )
        self._cursor = self._state.seq
        return messages

    def block(self) -> None:
        """Block the bot: its sends now fail with 403; it gets a my_chat_member update."""
        if not self._chat.blocked:
            self._chat.blocked = True
            self._push_member_status("member", "kicked")

    def unblock(self) -> None:
        """Unblock the bot again."""
        if self._chat.blocked:
            self._chat.blocked = False
            self._push_member_status("kicked", "member")

    # -- internals ----------------------------------------------------------------

    def _ensure_active(self) -> None:
        if self._chat.blocked:
            raise SandboxError(f"user {self.id} has blocked the bot; call unblock() first")

    def _api(self, message: SandboxMessage) -> dict[str, Any]:
        return self._state.message_api(self._chat, message)

    def _check_caption(self, caption: str | None) -> None:
        if caption is not None and len(caption) > self._limits.max_caption_length:
            raise SandboxError(f"a caption is at most {self._limits.max_caption_length} characters")

    async def _dispatch(
        self,
        kind: str,
        body: dict[str, Any],
        what: str,
        *,
        wait: bool,
        timeout: float,
        query_id: str | None = None,
    ) -> list[SandboxMessage]:
        self._ensure_active()
        since = self._state.seq
        self._cursor = since
        if kind == "message" and self._chat.kind == "channel":
            # A channel post: signed by the channel, not by a user.
            kind = "channel_post"
            body = {**body, "sender_chat": self._chat.to_api()}
            body.pop("from", None)
        if kind not in self._state.updates.allowed:
            if wait:
                raise SandboxError(
                    f"the bot's allowed_updates exclude {kind!r}, so Telegram would not "
                    f"deliver the {what}"
                )
            return []
        update_id = self._state.updates.push(kind, body)
        if not wait:
            return []
        messages = await self._state.wait_for_chat(
            self._chat,
            since_seq=since,
            what=what,
            update_id=update_id,
            query_id=query_id,
            timeout=timeout,
        )
        self._cursor = self._state.seq
        return messages

    def _find_inline(self, label: str) -> tuple[SandboxMessage, int, int] | None:
        for message in reversed(self._chat.messages.values()):
            if not message.from_bot or message.deleted:
                continue
            rows = message.inline_keyboard
            for key in ("text", "callback_data"):
                for r, row in enumerate(rows):
                    for c, button in enumerate(row):
                        if button.get(key) == label:
                            return message, r, c
        return None

    def _find_reply_button(self, label: str) -> dict[str, Any] | None:
        keyboard = self._chat.reply_keyboard or {}
        for row in keyboard.get("keyboard", []):
            for button in row:
                if button.get("text") == label:
                    return button
        return None

    def _latest_inline_labels(self) -> list[list[str]]:
        for message in reversed(self._chat.messages.values()):
            if message.from_bot and not message.deleted and message.inline_keyboard:
                return message.button_labels()
        return []

    def _reply_labels(self) -> list[list[str]]:
        keyboard = self._chat.reply_keyboard or {}
        return [[str(b.get("text")) for b in row] for row in keyboard.get("keyboard", [])]

    def _push_member_status(self, old: str, new: str) -> None:
        if "my_chat_member" not in self._state.updates.allowed:
            return
        bot = self._state.bot.to_api()
        new_member: dict[str, Any] = {"user": bot, "status": new}
        if new == "kicked":
            new_member["until_date"] = 0
        old_member: dict[str, Any] = {"user": bot, "status": old}
        if old == "kicked":
            old_member["until_date"] = 0
        self._state.updates.push(
            "my_chat_member",
            {
                "chat": self._chat.to_api(),
                "from": self._member.to_api(),
                "date": self._state.now(),
                "old_chat_member": old_member,
                "new_chat_member": new_member,
            },
        )

    def to_json(self) -> dict[str, Any]:
        """Control API representation."""
        user = self._member
        return {
            "id": user.id,
            "first_name": user.first_name,
            "last_name": user.last_name,
            "username": user.username,
            "language_code": user.language_code,
            "chat_id": self.chat_id,
            "blocked": self.blocked,
            "phone_number": self.phone_number,
            "reply_keyboard": self.reply_keyboard,
            "visible_commands": self.visible_commands(),
            "last_chat_action": self.last_chat_action,
        }

    def __repr__(self) -> str:
        return f"SandboxUser(id={self.id}, first_name={self.first_name!r})"
