"""Saving a form's draft at most once: the draft's token is the save's idempotency key.

Every draft the conversation engine (``handlers/wizard.py``) begins gets a
token, a fresh record id (:func:`bot.domain.models.new_id`), and Save
carries it. Two things make a save happen once, whatever a ``kill -9`` or a
redelivered update does in between:

- the *ledger*: once a draft is saved, ``kv`` holds ``saved:<staff>:<form>:<token>``
  (with the version saved and when). A Save of that token again — a double
  tap, an old card, a press the restarted bot receives a second time, a
  persisted draft that outlived its save — is answered "already saved" and
  does nothing;
- the *record id*: a service that creates the draft's record may create it
  under the token (``insert_once``), so that if the process died between the
  record's insert and the ledger entry, the repeated insert is refused by
  the store itself (``DuplicateError``) and becomes :class:`AlreadySaved`.
  Without that, the window between the two writes could store a record twice.
  A record whose id must be something else (an invitation's secret code)
  gets that id :func:`claim`-ed under the draft's key first.

Customers (``CustomerService.create(record_id=)``), calls, feedback,
purchases and invitations (``InvitationService.create(record_id=)``) are
created this way; redeeming an invitation is idempotent by itself (the staff
record's id is the Telegram user's, and a redemption half done is finished).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from bot.clock import Clock
from bot.services.errors import Conflict
from storage.base import Collection, DuplicateError, KeyValue, KeyValues, Store

NAMESPACE = "saved"
R = TypeVar("R")


class AlreadySaved(Conflict):
    """This draft was saved before: nothing was stored now."""

    def __init__(self, detail: str = "") -> None:
        super().__init__("draft.saved", detail=detail or "draft already saved")


def ledger_key(staff_id: str, form: str, token: str) -> str:
    return f"{NAMESPACE}:{staff_id}:{form}:{token}"


async def insert_once(collection: Collection[R], record: R) -> R:
    """Insert the record a draft creates; its id taken already means the draft was saved."""
    try:
        return await collection.insert(record)
    except DuplicateError:
        raise AlreadySaved(f"{collection.spec.name} {getattr(record, 'id', '?')}") from None


async def claim(kv: KeyValues, key: str, value: Any, *, now: Any) -> Any:
    """The value first stored under ``key``: ``value`` if this is the first claim, else the earlier one.

    For a record whose id cannot be the draft's token (an invitation's code must be
    unguessable): the id is chosen once, under the draft's key, before the record is
    inserted with it — a save repeated after a crash finds the same id and its
    ``insert_once`` is refused, instead of inserting a second record under a new id.
    """
    try:
        await kv.insert(KeyValue(id=key, namespace=NAMESPACE, value=value, created_at=now, updated_at=now))
        return value
    except DuplicateError:
        existing = await kv.get(key)
        if existing is None:  # claimed and removed meanwhile: claim again
            return await claim(kv, key, value, now=now)
        return existing.value


class DraftSaves:
    """The ledger of saved drafts (``kv`` ``saved:…``)."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    async def saved(self, staff_id: str, form: str, token: str) -> dict[str, Any] | None:
        """What the ledger knows of this draft's save (None: it was never saved)."""
        entry = await self.store.kv.get(ledger_key(staff_id, form, token))
        return entry.value if entry is not None else None

    async def once(self, staff_id: str, form: str, token: str, version: int,
                   save: Callable[[], Awaitable[Any]]) -> Any:
        """Run ``save`` unless this draft was saved; record it as saved when ``save`` returns None.

        A ``save`` that returns something else did not save (the form stays
        open, e.g. to confirm a possible duplicate): nothing is recorded.
        Raises :class:`AlreadySaved` if the draft was saved before — found in
        the ledger, or refused by the store (``insert_once``), in which case the
        ledger entry the crash lost is written now.
        """
        if await self.saved(staff_id, form, token) is not None:
            raise AlreadySaved(ledger_key(staff_id, form, token))
        try:
            result = await save()
        except AlreadySaved:
            await self._record(staff_id, form, token, version)
            raise
        if result is None:
            await self._record(staff_id, form, token, version)
        return result

    async def _record(self, staff_id: str, form: str, token: str, version: int) -> None:
        now = self.clock.now()
        await self.store.kv.put(ledger_key(staff_id, form, token), {"version": version, "at": now.isoformat()},
                                namespace=NAMESPACE, now=now)
