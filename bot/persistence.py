"""python-telegram-bot persistence kept in the CRM's own store.

Conversation states and ``user_data`` / ``chat_data`` (where wizards keep
their drafts) live in the store's ``kv`` collection, so a restart
mid-wizard resumes where the user was, on whichever backend the store
uses. Values must be plain JSON (the drafts are); a value that is not is
logged and skipped rather than allowed to break the store. ``bot_data``
holds the services container and is deliberately not persisted.

PTB writes changes every ``update_interval`` seconds; the store's writes
cost about a millisecond, so the composition root uses a short interval
(``[conversation] persistence_interval_seconds``) instead of PTB's 60 s.
Wizard drafts do not wait for it: the conversation engine writes them
through (``handlers.wizard.durable``) before each screen it sends, so a
``kill -9`` never loses an acknowledged step (docs/architecture.md,
"Conversations").
"""

from __future__ import annotations

import dataclasses
import json
import logging
from typing import Any

from telegram.ext import BasePersistence, PersistenceInput

from bot.clock import Clock
from bot.domain.models import KeyValue
from storage.base import ConflictError, NotFoundError, Store

log = logging.getLogger(__name__)

USER_DATA = "user_data"
CHAT_DATA = "chat_data"
CONVERSATION = "conversation"


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
        # per kv id: the JSON text and the record this process last stored (see _put)
        self._written: dict[str, tuple[str, KeyValue]] = {}

    async def _load(self, namespace: str) -> dict[str, Any]:
        return {
            item.id.split(":", 1)[1]: item.value
            for item in await self.store.kv.find({"namespace": namespace})
        }

    async def _put(self, namespace: str, key: str, value: Any) -> None:
        """Store ``value`` unless it is what this process last stored under the key.

        Each key's last write is remembered (its JSON text and the record, for
        its version), so PTB's periodic rewrite of unchanged data costs a
        ``json.dumps`` and nothing else, and a changed value is one update
        without a read first.  A conflict (or a record gone) falls back to
        reading the stored one.
        """
        try:
            text = json.dumps(value, sort_keys=True)
        except (TypeError, ValueError):
            log.error("not persisted: %s %s holds a value that is not plain JSON", namespace, key)
            return
        record_id = f"{namespace}:{key}"
        known = self._written.get(record_id)
        if known is not None and known[0] == text:
            return
        self._written.pop(record_id, None)
        for attempt in range(3):
            now = self.clock.now()
            try:
                if known is not None and attempt == 0:
                    stored = await self.store.kv.update(
                        dataclasses.replace(known[1], value=value, updated_at=now)
                    )
                else:
                    existing = await self.store.kv.get(record_id)
                    if existing is None:
                        stored = await self.store.kv.insert(
                            KeyValue(id=record_id, namespace=namespace, value=value,
                                     created_at=now, updated_at=now)
                        )
                    elif existing.value != value:
                        existing.value = value
                        existing.updated_at = now
                        stored = await self.store.kv.update(existing)
                    else:
                        stored = existing
                current = self._written.get(record_id)
                if current is None or current[1].version < stored.version:  # a later write won
                    self._written[record_id] = (text, stored)
                return
            except (ConflictError, NotFoundError):
                continue
        log.error("could not persist %s after three conflicting attempts", record_id)

    async def _drop(self, namespace: str, key: str) -> None:
        record_id = f"{namespace}:{key}"
        self._written.pop(record_id, None)
        await self.store.kv.delete(record_id)

    async def get_user_data(self) -> dict[int, dict]:
        return {int(k): v for k, v in (await self._load(USER_DATA)).items()}

    async def get_chat_data(self) -> dict[int, dict]:
        return {int(k): v for k, v in (await self._load(CHAT_DATA)).items()}

    async def get_bot_data(self) -> dict:
        return {}

    async def get_callback_data(self) -> None:
        return None

    async def get_conversations(self, name: str) -> dict:
        conversations: dict = {}
        prefix = f"{name}|"
        for key, state in (await self._load(CONVERSATION)).items():
            if key.startswith(prefix):
                conversations[tuple(json.loads(key[len(prefix):]))] = state
        return conversations

    async def update_conversation(self, name: str, key: tuple, new_state: object | None) -> None:
        record_key = f"{name}|{json.dumps(list(key))}"
        if new_state is None:
            await self._drop(CONVERSATION, record_key)
        else:
            await self._put(CONVERSATION, record_key, new_state)

    async def update_user_data(self, user_id: int, data: dict) -> None:
        await self._put(USER_DATA, str(user_id), data)

    async def update_chat_data(self, chat_id: int, data: dict) -> None:
        await self._put(CHAT_DATA, str(chat_id), data)

    async def update_bot_data(self, data: dict) -> None:
        return None

    async def update_callback_data(self, data: Any) -> None:
        return None

    async def drop_chat_data(self, chat_id: int) -> None:
        await self._drop(CHAT_DATA, str(chat_id))

    async def drop_user_data(self, user_id: int) -> None:
        await self._drop(USER_DATA, str(user_id))

    async def refresh_user_data(self, user_id: int, user_data: dict) -> None:
        return None

    async def refresh_chat_data(self, chat_id: int, chat_data: dict) -> None:
        return None

    async def refresh_bot_data(self, bot_data: dict) -> None:
        return None

    async def flush(self) -> None:
        return None


