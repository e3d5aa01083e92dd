"""The sandbox's world: users, chats, messages, the update queue and events.

Everything here is plain in-process state driven by one asyncio event loop.
The HTTP layer (:mod:`bot.sandbox.server`) and the Bot API methods
(:mod:`bot.sandbox.botapi`) mutate it; the control API reads it and waits on
it. Keeping it free of HTTP makes the waiting logic — the part that lets
tests run without sleeps — easy to reason about.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import logging
import secrets
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from bot.sandbox.errors import ApiError, NoReply, SandboxError, SandboxTimeout
from bot.sandbox.files import FileStore, StoredFile
from bot.sandbox.markup import inline_buttons

log = logging.getLogger(__name__)

EventKind = Literal["new", "edited", "deleted", "callback_answer"]
"""Kinds of bot→chat events delivered to listeners."""

request_cause: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "sandbox_request_cause", default=None
)
"""The update id the bot's current Bot API request says it is answering (if it says)."""


class BotActivity(Protocol):
    """The bot's own account of its unfinished work (e.g. ``bot.activity.ApplicationActivity``).

    With one attached, a wait ends exactly when the bot has finished an
    update: its handlers returned and nothing they started is still running.
    """

    waker: Callable[[], None]

    def pending_work(self, update_id: int | None = None) -> str | None:
        """What is still running for ``update_id`` (for anything when ``None``), in words.

        ``None`` means finished (idle).
        """
        ...

UPDATE_TYPES = (
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "business_connection",
    "business_message",
    "edited_business_message",
    "deleted_business_messages",
    "message_reaction",
    "message_reaction_count",
    "inline_query",
    "chosen_inline_result",
    "callback_query",
    "shipping_query",
    "pre_checkout_query",
    "purchased_paid_media",
    "poll",
    "poll_answer",
    "my_chat_member",
    "chat_member",
    "chat_join_request",
    "chat_boost",
    "removed_chat_boost",
)
DEFAULT_ALLOWED_UPDATES = frozenset(UPDATE_TYPES) - {
    "chat_member",
    "message_reaction",
    "message_reaction_count",
}
"""What Telegram delivers when allowed_updates was never set (or set to [])."""


@dataclass
class TelegramUser:
    """A Telegram account (the bot itself or a simulated human)."""

    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None
    is_bot: bool = False

    def to_api(self) -> dict[str, Any]:
        """The Bot API ``User`` object."""
        data: dict[str, Any] = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        if self.last_name:
            data["last_name"] = self.last_name
        if self.username:
            data["username"] = self.username
        if self.language_code and not self.is_bot:
            data["language_code"] = self.language_code
        return data

    def private_chat(self) -> dict[str, Any]:
        """The Bot API ``Chat`` object of the private chat with this user."""
        data: dict[str, Any] = {"id": self.id, "type": "private", "first_name": self.first_name}
        if self.last_name:
            data["last_name"] = self.last_name
        if self.username:
            data["username"] = self.username
        return data


@dataclass(eq=False)
class SandboxMessage:
    """One message in a chat, in either direction.

    Edits replace ``text``/``entities``/``reply_markup`` in place and set
    ``edited``; deletion only sets ``deleted`` so the history stays
    inspectable. ``html`` keeps the markup exactly as the bot sent it (for
    display); ``text`` is what the user actually sees.
    """

    message_id: int
    chat_id: int
    from_bot: bool
    date: int
    sender: TelegramUser
    text: str | None = None
    entities: list[dict[str, Any]] = field(default_factory=list)
    caption: str | None = None
    caption_entities: list[dict[str, Any]] = field(default_factory=list)
    html: str | None = None
    parse_mode: str | None = None
    reply_markup: dict[str, Any] | None = None
    photo: StoredFile | None = None
    document: StoredFile | None = None
    voice: StoredFile | None = None
    voice_duration: int = 0
    contact: dict[str, Any] | None = None
    location: dict[str, float] | None = None  # {"latitude": …, "longitude": …}
    via_bot: TelegramUser | None = None  # set when a user sent an inline query result
    reply_to_message_id: int | None = None
    edited: bool = False
    edit_date: int | None = None
    deleted: bool = False

    @property
    def content(self) -> str:
        """Text or caption, whichever the message has ("" if neither)."""
        return self.text if self.text is not None else (self.caption or "")

    @property
    def inline_keyboard(self) -> list[list[dict[str, Any]]]:
        """Rows of inline buttons (empty when the message has none)."""
        return inline_buttons(self.reply_markup)

    @property
    def inline_markup(self) -> dict[str, Any] | None:
        """``reply_markup`` if it is an inline keyboard, else ``None``."""
        if self.reply_markup and "inline_keyboard" in self.reply_markup:
            return self.reply_markup
        return None

    def button_labels(self) -> list[list[str]]:
        """Texts of the inline buttons, row by row."""
        return [[str(button.get("text", "")) for button in row] for row in self.inline_keyboard]

    def to_api(
        self, chat: dict[str, Any], reply_to: SandboxMessage | None = None
    ) -> dict[str, Any]:
        """The Bot API ``Message`` object."""
        data: dict[str, Any] = {
            "message_id": self.message_id,
            "from": self.sender.to_api(),
            "chat": chat,
            "date": self.date,
        }
        if self.edit_date is not None:
            data["edit_date"] = self.edit_date
        if reply_to is not None:
            data["reply_to_message"] = reply_to.to_api(chat)
        if self.via_bot is not None:
            data["via_bot"] = self.via_bot.to_api()
        if self.text is not None:
            data["text"] = self.text
            if self.entities:
                data["entities"] = [dict(e) for e in self.entities]
        if self.photo is not None:
            data["photo"] = self.photo.photo_sizes()
        if self.document is not None:
            data["document"] = self.document.document_dict()
        if self.voice is not None:
            data["voice"] = {**self.voice.document_dict(), "duration": self.voice_duration}
            data["voice"].pop("file_name", None)
        if self.caption:
            data["caption"] = self.caption
            if self.caption_entities:
                data["caption_entities"] = [dict(e) for e in self.caption_entities]
        if self.contact is not None:
            data["contact"] = dict(self.contact)
        if self.location is not None:
            data["location"] = dict(self.location)
        if self.inline_markup is not None:
            data["reply_markup"] = self.inline_markup
        return data

    def to_json(self) -> dict[str, Any]:
        """Control API representation (includes sandbox-only fields)."""
        data: dict[str, Any] = {
            "message_id": self.message_id,
            "chat_id": self.chat_id,
            "from_bot": self.from_bot,
            "from_user_id": self.sender.id,
            "date": self.date,
            "text": self.text,
            "entities": self.entities,
            "caption": self.caption,
            "caption_entities": self.caption_entities,
            "html": self.html,
            "parse_mode": self.parse_mode,
            "reply_markup": self.reply_markup,
            "photo": self.photo.info() if self.photo else None,
            "document": self.document.info() if self.document else None,
            "contact": self.contact,
            "location": self.location,
            "reply_to_message_id": self.reply_to_message_id,
            "edited": self.edited,
            "edit_date": self.edit_date,
            "deleted": self.deleted,
        }
        return data


@dataclass
class CallbackAnswer:
    """What the bot answered to a button press (answerCallbackQuery)."""

    callback_query_id: str
    chat_id: int
    message_id: int | None
    data: str | None
    text: str | None
    show_alert: bool
    url: str | None
    cache_time: int

    def __getitem__(self, key: str) -> Any:
        """Dict-style access (``answer["text"]``) for tests that prefer it."""
        return self.to_json()[key]

    def get(self, key: str, default: Any = None) -> Any:
        """Dict-style ``get``."""
        return self.to_json().get(key, default)

    def to_json(self) -> dict[str, Any]:
        """Control API representation."""
        return {
            "callback_query_id": self.callback_query_id,
            "chat_id": self.chat_id,
            "message_id": self.message_id,
            "data": self.data,
            "text": self.text,
            "show_alert": self.show_alert,
            "url": self.url,
            "cache_time": self.cache_time,
        }


@dataclass(frozen=True)
class SandboxEvent:
    """A bot→chat event, as delivered to listeners.

    ``message`` is the live message object (so an ``edited`` event shows the
    new content); ``callback_answer`` is set for ``callback_answer`` events.
    """

    seq: int
    kind: EventKind
    chat_id: int
    message: SandboxMessage | None = None
    callback_answer: CallbackAnswer | None = None
    update_id: int | None = None
    """The update the bot said it was answering with this request, when it said."""

    @property
    def text(self) -> str | None:
        """The callback answer's text, or the message's text/caption."""
        if self.callback_answer is not None:
            return self.callback_answer.text
        return self.message.content if self.message is not None else None

    def to_json(self) -> dict[str, Any]:
        """Control API representation."""
        return {
            "seq": self.seq,
            "kind": self.kind,
            "chat_id": self.chat_id,
            "message": self.message.to_json() if self.message else None,
            "callback_answer": self.callback_answer.to_json() if self.callback_answer else None,
            "update_id": self.update_id,
        }


@dataclass
class PendingQuery:
    """A callback query sent to the bot and not yet answered."""

    id: str
    chat_id: int
    message_id: int
    data: str | None
    answered: bool = False


@dataclass
class Chat:
    """The private chat between the bot and one simulated user, or a group or channel.

    A group or channel chat (``kind`` "group", "supergroup" or "channel") has
    a negative id, carried by a stand-in ``user``; its members send as
    themselves (``SandboxServer.group``).
    """

    user: TelegramUser
    chat_instance: str
    kind: str = "private"
    title: str = ""
    messages: dict[int, SandboxMessage] = field(default_factory=dict)
    next_message_id: int = 1
    reply_keyboard: dict[str, Any] | None = None
    callback_answers: list[CallbackAnswer] = field(default_factory=list)
    events: list[SandboxEvent] = field(default_factory=list)
    last_chat_action: str | None = None
    blocked: bool = False
    phone_number: str | None = None

    @property
    def id(self) -> int:
        """Private chats share the user's id."""
        return self.user.id

    def to_api(self) -> dict[str, Any]:
        """The Bot API ``Chat`` object."""
        if self.kind == "private":
            return self.user.private_chat()
        return {"id": self.id, "type": self.kind, "title": self.title}

    def allocate_message_id(self) -> int:
        """Message ids increase per chat, shared by both directions."""
        message_id = self.next_message_id
        self.next_message_id += 1
        return message_id

    def events_since(self, seq: int) -> Iterator[SandboxEvent]:
        """Events of this chat with ``event.seq > seq``, oldest first."""
        index = len(self.events)
        while index > 0 and self.events[index - 1].seq > seq:
            index -= 1
        yield from self.events[index:]


class Pulse:
    """A re-armable broadcast signal: ``fire()`` wakes every current waiter.

    Waiters must take :attr:`event` *before* checking their condition, so a
    fire between the check and the wait is never lost.
    """

    def __init__(self) -> None:
        self.event = asyncio.Event()

    def fire(self) -> None:
        """Wake all waiters and arm a fresh event for the next round."""
        self.event.set()
        self.event = asyncio.Event()


async def wait_event(event: asyncio.Event, timeout: float) -> None:
    """Wait for ``event`` at most ``timeout`` seconds (no error on timeout)."""
    if timeout <= 0:
        return
    try:
        await asyncio.wait_for(event.wait(), timeout)
    except TimeoutError:
        pass


@dataclass
class QueuedUpdate:
    """One pending update."""

    update_id: int
    kind: str
    payload: dict[str, Any]
    delivered: bool = False
    """Handed to the bot at least once (a getUpdates result, or a webhook POST attempted)."""
    attempts: int = 0
    """Webhook deliveries that failed so far."""
    retry_at: float = 0.0
    """Event-loop time before which a failed webhook delivery is not retried."""


class UpdateQueue:
    """Telegram's per-bot update queue with getUpdates semantics.

    An update stays queued until a getUpdates call confirms it with an
    ``offset`` greater than its id (or a negative offset forgets it). Being
    returned once does not remove it — a bot that crashes before confirming
    receives it again, exactly as with Telegram. While a webhook is set
    (:mod:`bot.sandbox.webhook`), a 2xx answer to its POST confirms it instead
    (:meth:`remove`; different chats' updates may be confirmed out of order).
    """

    def __init__(self) -> None:
        self._items: deque[QueuedUpdate] = deque()
        self._by_id: dict[int, QueuedUpdate] = {}
        self._next_id = 1
        self.allowed: frozenset[str] = DEFAULT_ALLOWED_UPDATES
        self.delivered_upto = 0
        """Highest update_id returned by getUpdates so far."""
        self.acked_upto = 0
        """Highest update_id confirmed (or forgotten)."""
        self.poller_generation = 0
        self.pulse = Pulse()
        self.delivered_to: dict[int, str] = {}
        """Webhook mode: the URL that accepted each update (which replica has it)."""

    def set_allowed(self, kinds: list[str] | None) -> None:
        """Apply a getUpdates ``allowed_updates`` value (persists like Telegram)."""
        if kinds is None:
            return
        self.allowed = frozenset(kinds) if kinds else DEFAULT_ALLOWED_UPDATES

    def push(self, kind: str, body: dict[str, Any]) -> int:
        """Queue an update; returns its update_id."""
        update_id = self._next_id
        self._next_id += 1
        payload = {"update_id": update_id, kind: body}
        item = QueuedUpdate(update_id, kind, payload)
        self._items.append(item)
        self._by_id[update_id] = item
        self.pulse.fire()
        return update_id

    def _pop_first(self) -> QueuedUpdate:
        item = self._items.popleft()
        del self._by_id[item.update_id]
        return item

    def remove(self, update_id: int) -> None:
        """A webhook delivery of ``update_id`` succeeded: it is confirmed (any order)."""
        item = self._by_id.pop(update_id, None)
        if item is None:
            return
        self._items.remove(item)
        self.acked_upto = max(self.acked_upto, update_id)
        self.pulse.fire()

    def items(self) -> list[QueuedUpdate]:
        """The pending updates, oldest first."""
        return list(self._items)

    def is_pending(self, update_id: int) -> bool:
        """Queued and not yet confirmed (nor dropped)."""
        return update_id in self._by_id

    def was_delivered(self, update_id: int) -> bool:
        """Handed to the bot at least once (a confirmed update was, unless it was dropped)."""
        item = self._by_id.get(update_id)
        if item is not None:
            return item.delivered
        return update_id <= self.delivered_upto

    def confirm(self, offset: int | None) -> None:
        """Apply the ``offset`` of a getUpdates call."""
        if not offset:
            return
        if offset > 0:
            while self._items and self._items[0].update_id < offset:
                self._pop_first()
            self.acked_upto = max(self.acked_upto, offset - 1)
        else:
            keep = -offset
            while len(self._items) > keep:
                dropped = self._pop_first()
                self.acked_upto = max(self.acked_upto, dropped.update_id)

    def peek(self, limit: int) -> list[QueuedUpdate]:
        """The first ``limit`` pending updates."""
        return [item for _, item in zip(range(limit), self._items, strict=False)]

    def mark_delivered(self, items: list[QueuedUpdate]) -> None:
        """Record that ``items`` were handed to the bot."""
        for item in items:
            item.delivered = True
        if items:
            self.delivered_upto = max(self.delivered_upto, items[-1].update_id)

    def drop_all(self) -> None:
        """deleteWebhook(drop_pending_updates=True)."""
        if self._items:
            self.acked_upto = max(self.acked_upto, self._items[-1].update_id)
        self._items.clear()
        self._by_id.clear()

    @property
    def pending_count(self) -> int:
        """Updates not yet confirmed."""
        return len(self._items)

    def new_poller(self) -> int:
        """Register a getUpdates call; an older one still waiting gets 409."""
        self.poller_generation += 1
        self.pulse.fire()
        return self.poller_generation


Listener = Callable[[SandboxEvent], Any]


class SandboxState:
    """All mutable state of one sandbox instance."""

    def __init__(
        self,
        bot: TelegramUser,
        *,
        clock: Callable[[], float] | None = None,
        files: FileStore | None = None,
        event_log_size: int = 10_000,
    ) -> None:
        self.bot = bot
        self.clock: Callable[[], float] = clock or time.time
        self.files = files or FileStore()
        self.chats: dict[int, Chat] = {}
        self.updates = UpdateQueue()
        self.queries: dict[str, PendingQuery] = {}
        # inline query id -> the bot's answerInlineQuery parameters (None until answered)
        self.inline_answers: dict[str, dict[str, Any] | None] = {}
        self.commands: dict[tuple[str, str], list[dict[str, str]]] = {}
        self.events: deque[SandboxEvent] = deque(maxlen=event_log_size)
        self.listeners: list[Listener] = []
        self.pulse = Pulse()
        self.requests_in_flight: Counter[int | None] = Counter()
        """Bot API calls (other than getUpdates) and file downloads being served now, by the
        update they named (``None`` when they named none)."""
        self.pollers_waiting = 0
        """getUpdates calls waiting for an update right now."""
        self.activity: BotActivity | None = None
        self.replica_activities: dict[str, BotActivity] = {}
        """Webhook URL -> the activity of the bot replica behind it (see ``attach``)."""
        self.webhook_status: Callable[[], str | None] = lambda: None
        """While a webhook is set: its URL and last error, in words (for timeouts)."""
        self._seq = 0
        self._background: set[asyncio.Task[Any]] = set()

    # -- time -------------------------------------------------------------

    def now(self) -> int:
        """Message date: integer unix time from the injectable clock."""
        return int(self.clock())

    # -- users and chats --------------------------------------------------

    def get_or_create_chat(self, user: TelegramUser) -> Chat:
        """The private chat with ``user`` (created on first use)."""
        chat = self.chats.get(user.id)
        if chat is None:
            chat = Chat(user=user, chat_instance=str(secrets.randbits(63)))
            self.chats[user.id] = chat
        return chat

    def get_or_create_group(self, chat_id: int, title: str, kind: str = "group") -> Chat:
        """A group, supergroup or channel chat (negative id), created on first use."""
        chat = self.chats.get(chat_id)
        if chat is None:
            stand_in = TelegramUser(id=chat_id, first_name=title)
            chat = Chat(user=stand_in, chat_instance=str(secrets.randbits(63)), kind=kind, title=title)
            self.chats[chat_id] = chat
        return chat

    def chat_for_bot(self, chat_id: int | str) -> Chat:
        """Resolve a chat_id the bot sent, with Telegram's errors."""
        chat = self.chats.get(chat_id) if isinstance(chat_id, int) else None
        if chat is None:
            raise ApiError("Bad Request: chat not found", 400)
        if chat.blocked:
            raise ApiError("Forbidden: bot was blocked by the user", 403)
        return chat

    # -- messages and events ------------------------------------------------

    def add_message(self, chat: Chat, *, from_bot: bool, **fields: Any) -> SandboxMessage:
        """Append a message to ``chat`` with the next message id."""
        sender = fields.pop("sender", None) or (self.bot if from_bot else chat.user)
        message = SandboxMessage(
            message_id=chat.allocate_message_id(),
            chat_id=chat.id,
            from_bot=from_bot,
            date=self.now(),
            sender=sender,
            **fields,
        )
        chat.messages[message.message_id] = message
        return message

    def message_api(self, chat: Chat, message: SandboxMessage) -> dict[str, Any]:
        """Bot API ``Message`` dict including ``reply_to_message``."""
        reply_to = None
        if message.reply_to_message_id is not None:
            reply_to = chat.messages.get(message.reply_to_message_id)
        return message.to_api(chat.to_api(), reply_to)

    def record_event(
        self,
        chat: Chat,
        kind: EventKind,
        message: SandboxMessage | None = None,
        answer: CallbackAnswer | None = None,
    ) -> SandboxEvent:
        """Log a bot→chat event (tied to the update the request named), notify, wake waiters."""
        self._seq += 1
        event = SandboxEvent(self._seq, kind, chat.id, message, answer, request_cause.get())
        chat.events.append(event)
        self.events.append(event)
        for listener in list(self.listeners):
            self._call_listener(listener, event)
        self.pulse.fire()
        return event

    @property
    def seq(self) -> int:
        """Sequence number of the newest event."""
        return self._seq

    def _call_listener(self, listener: Listener, event: SandboxEvent) -> None:
        try:
            result = listener(event)
        except Exception:  # a broken console must not break the bot's request
            log.exception("sandbox listener %r failed", listener)
            return
        if inspect.isawaitable(result):
            task = asyncio.ensure_future(result)
            self._background.add(task)
            task.add_done_callback(self._listener_done)

    def _listener_done(self, task: asyncio.Task[Any]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("sandbox listener failed", exc_info=task.exception())

    def request_started(self) -> None:
        """A bot request other than getUpdates is being served (its cause: ``request_cause``)."""
        self.requests_in_flight[request_cause.get()] += 1

    def request_finished(self) -> None:
        """That request has been answered."""
        cause = request_cause.get()
        self.requests_in_flight[cause] -= 1
        if not self.requests_in_flight[cause]:
            del self.requests_in_flight[cause]
        self.pulse.fire()

    def changed(self) -> None:
        """Wake waiters after a change they may care about (updates fetched, confirmed)."""
        self.pulse.fire()

    def attach(self, activity: BotActivity | None, *, webhook_url: str | None = None) -> None:
        """Let waits ask the bot itself whether it has finished (``None`` detaches).

        ``webhook_url``: the activity of the replica behind that URL; waits for
        an update a webhook POST to that URL handed over ask this one (several
        replicas, each attached with its own URL). Without it: the bot's one activity.
        """
        previous = self.activity if webhook_url is None else self.replica_activities.get(webhook_url)
        if previous is not None:
            previous.waker = lambda: None
        if webhook_url is None:
            self.activity = activity
        elif activity is None:
            self.replica_activities.pop(webhook_url, None)
        else:
            self.replica_activities[webhook_url] = activity
        if activity is not None:
            activity.waker = self.pulse.fire
        self.pulse.fire()

    def activity_for(self, update_id: int | None) -> BotActivity | None:
        """The activity that knows about ``update_id``: the replica's a webhook handed it to."""
        if update_id is not None and self.replica_activities:
            url = self.updates.delivered_to.get(update_id)
            if url is not None and url in self.replica_activities:
                return self.replica_activities[url]
        return self.activity

    def _activities(self) -> list[BotActivity]:
        found = [self.activity] if self.activity is not None else []
        return found + list(self.replica_activities.values())

    # -- waiting ----------------------------------------------------------

    def bot_busy(self, update_id: int | None = None) -> str | None:
        """Why the bot has not finished ``update_id`` (anything, when ``None``), or ``None``.

        Requests in flight count when they name that update, or name none
        (a bot that does not say); with an activity attached, so does its
        own pending work for the update.
        """
        exact = self.activity_for(update_id) is not None and update_id is not None
        in_flight = sum(
            count
            for cause, count in self.requests_in_flight.items()
            if not exact or cause == update_id
        )
        if in_flight:
            return f"{in_flight} Bot API request(s) in flight"
        if update_id is not None:
            activity = self.activity_for(update_id)
            return activity.pending_work(update_id) if activity is not None else None
        busy = [work for a in self._activities() if (work := a.pending_work(None)) is not None]
        return "; ".join(busy) or None

    async def wait_until(
        self, condition: Callable[[], bool], timeout: float, describe: Callable[[], str]
    ) -> None:
        """Re-check ``condition`` on every sandbox change until it holds (or time out)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            event = self.pulse.event
            if condition():
                return
            left = deadline - loop.time()
            if left <= 0:
                raise SandboxTimeout(f"timed out after {timeout:g}s {describe()}")
            await wait_event(event, left)

    async def wait_for_chat(
        self,
        chat: Chat,
        *,
        since_seq: int,
        what: str,
        update_id: int | None = None,
        query_id: str | None = None,
        timeout: float = 10.0,
    ) -> list[SandboxMessage]:
        """Wait until the bot has finished ``update_id`` and answered it in ``chat``.

        "Finished" means: the bot fetched the update and asked for the next
        ones, it has no Bot API request in flight and, when a
        :class:`BotActivity` is attached, it reports no pending work. Without
        one (a bot in another process) a PTB Application may confirm an
        update before processing it, so the wait then also needs the answer
        itself. Returns the bot messages the update caused in ``chat`` (sent
        or edited, not deleted), in message order; without an update, the
        messages since ``since_seq``.
        """
        stage = "fetch"

        def fetched() -> bool:
            if update_id is None or self.updates.was_delivered(update_id):
                return True
            if not self.updates.is_pending(update_id):
                raise SandboxError(
                    f"update {update_id} ({what}) was dropped before the bot fetched it"
                )
            return False

        def answered() -> bool:
            return self._answer_events(chat, since_seq, update_id, query_id) is not None

        def finished() -> bool:
            if update_id is not None and self.updates.is_pending(update_id):
                return False
            if self.bot_busy(update_id) is not None:
                return False
            exact = self.activity_for(update_id) is not None
            return exact and update_id is not None or answered()

        def describe() -> str:
            webhook = self.webhook_status()
            if webhook is not None and update_id is not None and self.updates.is_pending(update_id):
                return f"waiting for the bot's webhook to accept the update for {what} ({webhook})"
            if stage == "fetch":
                return (
                    f"waiting for the bot to fetch the update for {what} via getUpdates "
                    "(is the bot polling this sandbox?)"
                )
            busy = self.bot_busy(update_id)
            if busy is not None:
                return f"waiting for the bot to finish {what} (still busy: {busy})"
            return (
                f"waiting for the bot to respond in chat {chat.id} to {what} "
                "(no sendMessage/edit/delete/answerCallbackQuery)"
            )

        await self.wait_until(fetched, timeout, describe)
        stage = "finish"
        await self.wait_until(finished, timeout, describe)
        events = self._answer_events(chat, since_seq, update_id, query_id)
        if events is None:
            raise NoReply(
                f"the bot finished processing {what} without responding in chat {chat.id}"
            )
        return self._changed_messages(events)

    def _answer_events(
        self, chat: Chat, since_seq: int, update_id: int | None, query_id: str | None
    ) -> list[SandboxEvent] | None:
        """The events in ``chat`` that answer the update, or ``None`` while there is no answer.

        Events the bot tied to another update are someone else's answer; a
        callback query is answered only by its own answerCallbackQuery.
        """
        events = [
            event
            for event in chat.events_since(since_seq)
            if update_id is None or event.update_id in (None, update_id)
        ]
        if self.activity_for(update_id) is not None and update_id is not None:
            events = [event for event in events if event.update_id == update_id]
        if query_id is not None:
            answers = [
                event
                for event in events
                if event.callback_answer is not None
                and event.callback_answer.callback_query_id == query_id
            ]
            return events if answers else None
        return events or None

    @staticmethod
    def _changed_messages(events: list[SandboxEvent]) -> list[SandboxMessage]:
        seen: dict[int, SandboxMessage] = {}
        for event in events:
            if event.kind in ("new", "edited") and event.message is not None:
                seen[event.message.message_id] = event.message
        return [seen[key] for key in sorted(seen) if not seen[key].deleted]

    async def wait_for_news(
        self, chat: Chat, *, since_seq: int, timeout: float = 10.0
    ) -> list[SandboxMessage]:
        """Wait for bot messages in ``chat`` after ``since_seq`` and for the bot to be idle."""

        def arrived() -> bool:
            return any(True for _ in chat.events_since(since_seq)) and self.bot_busy() is None

        await self.wait_until(
            arrived, timeout, lambda: f"waiting for a bot message in chat {chat.id}"
        )
        return self._changed_messages(list(chat.events_since(since_seq)))

    async def wait_idle(self, timeout: float = 10.0) -> None:
        """Wait until every update is confirmed and the bot has nothing in progress."""

        def idle() -> bool:
            return self.updates.pending_count == 0 and self.bot_busy() is None

        def describe() -> str:
            return (
                f"waiting for the bot to become idle ({self.updates.pending_count} unconfirmed "
                f"update(s); busy: {self.bot_busy() or 'no'})"
            )

        await self.wait_until(idle, timeout, describe)

    async def wait_for_poller(self, timeout: float = 10.0) -> None:
        """Wait until a getUpdates long poll is waiting for updates."""
        await self.wait_until(
            lambda: self.pollers_waiting > 0,
            timeout,
            lambda: "waiting for a getUpdates long poll to start",
        )
