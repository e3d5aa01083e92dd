"""python-telegram-bot persistence kept in the CRM's own store, read and written on every update.

Each user's conversation state lives in one ``kv`` record, ``session:<user id>``:
``{"user_data": {...}, "conversations": {"<conversation>|<key>": state}}``
— the drafts the wizards keep in ``user_data`` and the step every
persistent ConversationHandler is at for that user, together, so one
compare-and-set covers both. Values must be plain JSON (the drafts are); a
value that is not is logged and skipped rather than allowed to break the
store. ``bot_data`` holds the services container and is deliberately not
persisted; ``chat_data`` (unused by the bot) keeps PTB's batched writes.

Several replicas may serve one user, one update here, the next there
(webhook mode behind a load balancer, issue 17), so no process may trust
what it holds in memory from an earlier update. :class:`StoreApplication`
therefore wraps every update:

1. **read** — before any handler looks at it, the user's session record
   is read and installed: their ``user_data`` and, for every persistent
   ConversationHandler, the state of this chat's conversation (or none);
2. **write-through** — the conversation engine writes the draft and the
   *next* state before it sends a screen (``handlers.wizard.durable`` →
   :meth:`StorePersistence.write_through`), compare-and-set against the
   version read in step 1. If another replica wrote the session meanwhile
   (the same user's updates handled at once on two replicas: a double tap,
   two quick messages), the write is refused, nothing is shown, and the
   whole update is **run again** on the newer state (:class:`StaleState`),
   as if it had arrived second: the newer draft is never overwritten;
3. **write-after** — once the handlers returned, whatever else changed
   (a state set by a ConversationHandler that is not a wizard, a
   ``user_data`` value a handler set) is written, compare-and-set; on a
   conflict the change is merged key by key into the newer record, the
   newer value winning where both changed the same key.

PTB's own interval writes (``update_persistence``) become a safety net for
changes made outside an update (a conversation timeout, ending a
deactivated user's sessions): applied only on top of the version this
process last saw, never over a record another replica changed since.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import json
import logging
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

from telegram import Update
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    BasePersistence,
    ConversationHandler,
    PersistenceInput,
)

from bot.clock import Clock
from bot.domain.models import KeyValue
from storage.base import (
    UPDATE_ATTEMPTS,
    ConflictError,
    DuplicateError,
    NotFoundError,
    Store,
    StoreError,
)

log = logging.getLogger(__name__)

SESSION = "session"
CHAT_DATA = "chat_data"
# the layout before issue 17: one record per user's user_data and per conversation key
LEGACY_USER_DATA = "user_data"
LEGACY_CONVERSATION = "conversation"
USER_DATA, CONVERSATIONS = "user_data", "conversations"
RUNS = 3  # how often an update whose state changed under it is run (then given up, logged)
_MISSING = object()


def session_id(user_id: int) -> str:
    return f"{SESSION}:{user_id}"


def state_key(name: str, key: tuple) -> str:
    """A conversation's entry in the session: ``<name>|<key as JSON>`` (``probe|[7, 7]``)."""
    return f"{name}|{json.dumps(list(key))}"


def empty() -> dict[str, Any]:
    return {USER_DATA: {}, CONVERSATIONS: {}}


def plain(value: Any) -> Any:
    """A JSON-plain deep copy of ``value`` (None: it is not plain JSON)."""
    try:
        return json.loads(json.dumps(value, sort_keys=True))
    except (TypeError, ValueError):
        return None


def merge(base: dict[str, Any], ours: dict[str, Any], theirs: dict[str, Any]) -> dict[str, Any]:
    """Our changes since ``base``, applied key by key onto ``theirs`` (the newer record).

    A key only we changed takes our value; a key they changed too keeps theirs: it was
    written by an update that ran after the state ours started from.
    """
    merged: dict[str, Any] = {}
    for part in (USER_DATA, CONVERSATIONS):
        was, mine, now = base.get(part, {}), ours.get(part, {}), theirs.get(part, {})
        result = dict(now)
        for key in set(was) | set(mine):
            if was.get(key, _MISSING) == mine.get(key, _MISSING):
                continue  # not ours to change
            if now.get(key, _MISSING) != was.get(key, _MISSING):
                log.info("session merge: %s %s changed on both sides, the newer value kept", part, key)
                continue
            if key in mine:
                result[key] = mine[key]
            else:
                result.pop(key, None)
        merged[part] = result
    return merged


class StaleState(ApplicationHandlerStop):
    """The user's session changed in the store since this update read it: run the update again.

    An ``ApplicationHandlerStop``, so that a ConversationHandler keeps its state and PTB
    runs no further handler for this run of the update; :class:`StoreApplication` then
    runs it again on the newer state.
    """


@dataclasses.dataclass
class Session:
    """One update's view of its user's session record."""

    user_id: int
    chat_id: int | None
    record: KeyValue | None  # as read, then as last written by this update
    stale: bool = False

    @property
    def value(self) -> dict[str, Any]:
        return self.record.value if self.record is not None else empty()


_current: contextvars.ContextVar[Session | None] = contextvars.ContextVar("crm_bot_session", default=None)


def persistent_conversations(application: Application) -> Iterator[ConversationHandler]:
    for group in application.handlers.values():
        for handler in group:
            if isinstance(handler, ConversationHandler) and handler.persistent and handler.name:
                yield handler


def conversation_key(handler: ConversationHandler, chat_id: int | None, user_id: int) -> tuple | None:
    """The key PTB gives this chat's and user's conversation (None: not kept per user)."""
    if not handler.per_user or handler.per_message or (handler.per_chat and chat_id is None):
        return None
    return (chat_id, user_id) if handler.per_chat else (user_id,)


def _states(handler: ConversationHandler) -> Any:
    """The handler's states by key. PTB keeps them in ``_conversations`` (the TrackingDict it
    also hands the Application for its interval writes) and offers no public way to set one
    key's state from outside; this, and ``handlers.staff.end_sessions``, are the places crm-bot
    reaches in (python-telegram-bot is capped below 23; tests/bot/test_replicas.py covers it)."""
    return handler._conversations


def set_state(handler: ConversationHandler, key: tuple, state: Any) -> None:
    """Install a state read from the store without marking it for PTB's interval write."""
    states = _states(handler)
    if not hasattr(states, "update_no_track"):  # a plain dict until the Application is initialised
        if state is None:
            states.pop(key, None)
        else:
            states[key] = state
        return
    if state is None:
        states.data.pop(key, None)
    else:
        states.update_no_track({key: state})


def current_state(handler: ConversationHandler, key: tuple) -> Any:
    state = _states(handler).get(key)
    return state if isinstance(state, str | int) else None  # a non-blocking handler's pending task: none


class StorePersistence(BasePersistence[dict, dict, dict]):
    def __init__(self, store: Store, clock: Clock, *, update_interval: float = 2.0) -> None:
        super().__init__(
            store_data=PersistenceInput(
                bot_data=False, chat_data=True, user_data=True, callback_data=False
            ),
            update_interval=update_interval,
        )
        self.store = store
        self.clock = clock
        # per user id: their session record as this process last read or wrote it
        self._known: dict[int, KeyValue | None] = {}
        self._active: Counter[int] = Counter()  # users with an update in progress here
        self._loaded: dict[int, KeyValue] | None = None  # every session, while PTB initialises
        # chat_data: per kv id, the JSON text and the record this process last stored
        self._written: dict[str, tuple[str, KeyValue]] = {}

    # ---- the session record ---------------------------------------------------------------
    async def _read(self, user_id: int) -> KeyValue | None:
        record = await self.store.kv.get(session_id(user_id))
        self._known[user_id] = record
        return record

    async def _cas(self, user_id: int, value: dict[str, Any], expected: KeyValue | None) -> KeyValue:
        """Store ``value`` if the session is still ``expected`` (None: absent); else ConflictError."""
        now = self.clock.now()
        try:
            if expected is None:
                record = await self.store.kv.insert(KeyValue(
                    id=session_id(user_id), namespace=SESSION, value=value, created_at=now, updated_at=now))
            else:
                record = await self.store.kv.update(dataclasses.replace(expected, value=value, updated_at=now))
        except (DuplicateError, NotFoundError) as error:
            raise ConflictError(f"session {user_id}: {error}") from None
        self._known[user_id] = record
        return record

    async def _apply(self, user_id: int, change: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
        """PTB's interval writes: ``change`` applied on top of the version this process last saw.

        A session another process changed since is newer than anything this process
        holds in memory, so it is left as it is. A user whose update is in progress
        here is skipped: that update writes its own changes.
        """
        if self._active[user_id]:
            return
        if user_id not in self._known:
            await self._read(user_id)
        known = self._known[user_id]
        before = known.value if known is not None else empty()
        value = plain(change({**empty(), **before}))
        if value is None:
            log.error("not persisted: the session of user %s holds a value that is not plain JSON", user_id)
            return
        if value == before:
            return
        try:
            await self._cas(user_id, value, known)
        except ConflictError:
            log.debug("session %s changed elsewhere since this process read it: left as it is", user_id)

    # ---- one update: read, write through, write after ------------------------------------
    async def begin(self, application: Application, update: Update) -> Session | None:
        """Read the update's user's session and install it in ``application`` (None: no user)."""
        user, chat = update.effective_user, update.effective_chat
        if user is None:
            return None
        self._loaded = None  # PTB's start is over: the sessions it read need not be kept
        record = await self._read(user.id)
        value = plain(record.value) if record is not None else empty()
        data = application.user_data[user.id]  # PTB's own dict for the user, created if need be
        data.clear()
        data.update(value.get(USER_DATA) or {})
        chat_id = chat.id if chat is not None else None
        states = value.get(CONVERSATIONS) or {}
        for handler in persistent_conversations(application):
            key = conversation_key(handler, chat_id, user.id)
            if key is not None:
                set_state(handler, key, states.get(state_key(handler.name, key)))
        return Session(user.id, chat_id, record)

    def _desired(self, application: Application, session: Session,
                 overrides: dict[str, Any]) -> dict[str, Any] | None:
        value = session.value
        conversations = dict(value.get(CONVERSATIONS) or {})
        for handler in persistent_conversations(application):
            key = conversation_key(handler, session.chat_id, session.user_id)
            if key is None:
                continue
            state = overrides[handler.name] if handler.name in overrides else current_state(handler, key)
            if state is None:
                conversations.pop(state_key(handler.name, key), None)
            else:
                conversations[state_key(handler.name, key)] = state
        return plain({USER_DATA: application.user_data.get(session.user_id, {}), CONVERSATIONS: conversations})

    async def write_through(self, application: Application, update: Update, states: dict[str, Any]) -> None:
        """Write the update's user's ``user_data`` and conversation ``states`` (by conversation
        name; None: ended) now, compare-and-set against what the update read.

        Raises :class:`StaleState` if another process wrote the session since: the update
        is then run again on the newer state. Outside :class:`StoreApplication` (no
        session read), the write is applied as PTB's interval writes are.
        """
        user, chat = update.effective_user, update.effective_chat
        session = _current.get()
        if user is None:
            return
        if session is None or session.user_id != user.id:
            await self._write_unread(application, user.id, chat.id if chat else None, states)
            return
        value = self._desired(application, session, states)
        if value is None:
            log.error("not persisted: the session of user %s holds a value that is not plain JSON", user.id)
            return
        if value == session.value:
            return
        try:
            session.record = await self._cas(user.id, value, session.record)
        except ConflictError:
            session.stale = True
            raise StaleState from None

    async def _write_unread(self, application: Application, user_id: int, chat_id: int | None,
                            states: dict[str, Any]) -> None:
        data = application.user_data.get(user_id, {})

        def change(value: dict[str, Any]) -> dict[str, Any]:
            conversations = dict(value[CONVERSATIONS])
            for handler in persistent_conversations(application):
                key = conversation_key(handler, chat_id, user_id)
                if key is not None and handler.name in states:
                    if states[handler.name] is None:
                        conversations.pop(state_key(handler.name, key), None)
                    else:
                        conversations[state_key(handler.name, key)] = states[handler.name]
            return {USER_DATA: data, CONVERSATIONS: conversations}

        await self._apply(user_id, change)

    async def finish(self, application: Application, session: Session) -> None:
        """After the handlers: write what else changed, merged into a newer record if need be."""
        value = self._desired(application, session, {})
        if value is None:
            log.error("not persisted: the session of user %s holds a value that is not plain JSON",
                      session.user_id)
            return
        base = session.value
        for _attempt in range(UPDATE_ATTEMPTS):
            if value == session.value:
                return
            try:
                session.record = await self._cas(session.user_id, value, session.record)
                return
            except ConflictError:
                session.record = await self._read(session.user_id)
                value = merge(base, value, session.value)
                base = session.value
        log.error("could not write the session of user %s: it keeps changing", session.user_id)

    @contextlib.contextmanager
    def running(self, session: Session) -> Iterator[None]:
        self._active[session.user_id] += 1
        token = _current.set(session)
        try:
            yield
        finally:
            _current.reset(token)
            self._active[session.user_id] -= 1
            if not self._active[session.user_id]:
                del self._active[session.user_id]

    async def forget(self, user_id: int) -> None:
        """End every conversation of the user and drop their ``user_data``, whoever wrote it last
        (an admin deactivated them: this is not an update of theirs to merge)."""
        for _attempt in range(UPDATE_ATTEMPTS):
            record = await self._read(user_id)
            if record is None or record.value == empty():
                return
            try:
                await self._cas(user_id, empty(), record)
                return
            except ConflictError:
                continue
        log.error("could not end the sessions of user %s: their session keeps changing", user_id)

    # ---- PTB's persistence API ------------------------------------------------------------
    async def _sessions(self) -> dict[int, KeyValue]:
        """Every session (PTB reads them all once, at start), the old layout folded in first."""
        if self._loaded is None:
            await self._fold_legacy()
            self._loaded = {int(r.id.split(":", 1)[1]): r
                            for r in await self.store.kv.find({"namespace": SESSION})}
            self._known.update(self._loaded)
        return self._loaded

    async def _fold_legacy(self) -> None:
        """Records of the layout before issue 17 (``user_data:<id>``, ``conversation:<name>|<key>``)
        become sessions once; a replica starting at the same time folds the same ones harmlessly."""
        users = await self.store.kv.find({"namespace": LEGACY_USER_DATA})
        states = await self.store.kv.find({"namespace": LEGACY_CONVERSATION})
        if not users and not states:
            return
        folded: dict[int, dict[str, Any]] = {}
        for record in users:
            folded.setdefault(int(record.id.split(":", 1)[1]), empty())[USER_DATA] = record.value
        for record in states:
            field = record.id.split(":", 1)[1]
            key = json.loads(field.partition("|")[2])
            folded.setdefault(int(key[-1]), empty())[CONVERSATIONS][field] = record.value
        for user_id, value in folded.items():
            with contextlib.suppress(ConflictError):  # a session exists already: it is newer
                await self._cas(user_id, value, None)
        for record in (*users, *states):
            await self.store.kv.delete(record.id)
        log.info("conversation state of %d user(s) moved to one session record each", len(folded))

    async def get_user_data(self) -> dict[int, dict]:
        return {user_id: record.value.get(USER_DATA) or {} for user_id, record in (await self._sessions()).items()}

    async def get_chat_data(self) -> dict[int, dict]:
        return {
            int(item.id.split(":", 1)[1]): item.value
            for item in await self.store.kv.find({"namespace": CHAT_DATA})
        }

    async def get_bot_data(self) -> dict:
        return {}

    async def get_callback_data(self) -> None:
        return None

    async def get_conversations(self, name: str) -> dict:
        conversations: dict = {}
        prefix = f"{name}|"
        for record in (await self._sessions()).values():
            for field, state in (record.value.get(CONVERSATIONS) or {}).items():
                if field.startswith(prefix):
                    conversations[tuple(json.loads(field[len(prefix):]))] = state
        return conversations

    async def update_conversation(self, name: str, key: tuple, new_state: object | None) -> None:
        field = state_key(name, key)

        def change(value: dict[str, Any]) -> dict[str, Any]:
            conversations = dict(value[CONVERSATIONS])
            if new_state is None:
                conversations.pop(field, None)
            else:
                conversations[field] = new_state
            return {**value, CONVERSATIONS: conversations}

        await self._apply(int(key[-1]), change)

    async def update_user_data(self, user_id: int, data: dict) -> None:
        await self._apply(user_id, lambda value: {**value, USER_DATA: data})

    async def drop_user_data(self, user_id: int) -> None:
        await self._apply(user_id, lambda value: {**value, USER_DATA: {}})

    async def update_chat_data(self, chat_id: int, data: dict) -> None:
        await self._put_chat_data(str(chat_id), data)

    async def drop_chat_data(self, chat_id: int) -> None:
        self._written.pop(f"{CHAT_DATA}:{chat_id}", None)
        await self.store.kv.delete(f"{CHAT_DATA}:{chat_id}")

    async def _put_chat_data(self, key: str, value: Any) -> None:
        """Store ``value`` unless it is what this process last stored under the key."""
        try:
            text = json.dumps(value, sort_keys=True)
        except (TypeError, ValueError):
            log.error("not persisted: chat_data %s holds a value that is not plain JSON", key)
            return
        record_id = f"{CHAT_DATA}:{key}"
        known = self._written.get(record_id)
        if known is not None and known[0] == text:
            return
        stored = await self.store.kv.put(record_id, value, namespace=CHAT_DATA, now=self.clock.now())
        self._written[record_id] = (text, stored)

    async def update_bot_data(self, data: dict) -> None:
        return None

    async def update_callback_data(self, data: Any) -> None:
        return None

    async def refresh_user_data(self, user_id: int, user_data: dict) -> None:
        return None  # StoreApplication reads the whole session before the handlers run

    async def refresh_chat_data(self, chat_id: int, chat_data: dict) -> None:
        return None

    async def refresh_bot_data(self, bot_data: dict) -> None:
        return None

    async def flush(self) -> None:
        self._loaded = None


class StoreApplication(Application):
    """PTB's Application, with each update's user state read from the store and written back.

    See the module docstring. Set with ``ApplicationBuilder.application_class``.
    """

    async def process_update(self, update: object) -> None:
        persistence = self.persistence
        if not isinstance(persistence, StorePersistence) or not isinstance(update, Update):
            await super().process_update(update)
            return
        for run in range(1, RUNS + 1):
            try:
                session = await persistence.begin(self, update)
            except StoreError as error:  # the handlers would fail the same way: let them say so
                log.error("could not read the session for update %s: %s", update.update_id, error)
                session = None
            if session is None:
                await super().process_update(update)
                return
            with persistence.running(session):  # PTB's interval writes leave this user alone meanwhile
                await super().process_update(update)
                if not session.stale:
                    try:
                        await persistence.finish(self, session)
                    except StoreError as error:
                        log.error("could not write the session after update %s: %s", update.update_id, error)
                    return
            log.info("update %s: user %s's state changed on another replica meanwhile; run %d of %d on the newer one",
                     update.update_id, session.user_id, run + 1, RUNS)
        log.warning("update %s given up: its user's state kept changing under it", update.update_id)
