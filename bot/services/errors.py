"""The one error vocabulary of the services: ``ServiceError(code, **params)``.

A service refuses with a ``ServiceError`` of one of three kinds, and the
handlers (``handlers/errors.py``, or a handler that wants to re-ask) turn it
into one localized message from its ``code``:

- ``access``   (``AccessDenied``): the caller may not see or do this. The
  message never says whether the thing exists; the detail is for the log.
- ``invalid``  (``Invalid``): the request itself is wrong — a value out of
  range, a workflow step that does not apply (``feedback.note_required``).
- ``conflict`` (``Conflict``): the request was fine but the data moved on —
  a record that keeps changing, a one-time link already used.

``code`` is stable and machine-readable (``"team.invalid"``,
``"invitation.expired"``); ``params`` are the values a message may show;
``detail`` is free text for the log only. ``MESSAGES`` in
``handlers/errors.py`` maps codes to catalog msgids.

A write the store refuses because its disk is full (``StorageFullError``)
or its data is damaged (``StoreDamagedError``) is none of these: it is a
*storage problem* (:func:`storage_problem`), told to the user as such and
to the admins once per episode (:class:`StorageIncidents`).

``AccessDenied(detail)`` and ``InvitationError(reason)`` keep the
signatures they had before this vocabulary, so code written against them
still works.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Literal

from bot.clock import Clock
from bot.domain.models import Role
from storage.base import (
    Collection,
    ConflictError,
    Mutation,
    NotFoundError,
    R,
    StorageFullError,
    Store,
    StoreDamagedError,
    StoreError,
)

log = logging.getLogger(__name__)

Kind = Literal["access", "invalid", "conflict"]


class ServiceError(Exception):
    """A refusal a handler translates: ``kind``, a stable ``code`` and its ``params``."""

    kind: ClassVar[Kind] = "invalid"

    def __init__(self, code: str, /, *, detail: str | None = None, **params: Any) -> None:
        super().__init__(detail or code)
        self.code = code
        self.params = params
        self.detail = detail or code

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code!r}, detail={self.detail!r}, **{self.params!r})"


class AccessDenied(ServiceError):
    """The caller may not see or do this. Handlers answer "not available" and log the detail."""

    kind = "access"

    def __init__(self, detail: str = "", /, *, code: str = "access.denied", **params: Any) -> None:
        super().__init__(code, detail=detail or code, **params)


class Invalid(ServiceError, ValueError):
    """The request is wrong in itself (a value, a step that does not apply).

    Also a ``ValueError``, so handlers written before this vocabulary
    (``except (AccessDenied, ValueError)``) keep catching it.
    """

    kind = "invalid"


class Conflict(ServiceError):
    """The data changed under the request (keeps changing, already used)."""

    kind = "conflict"


class InvitationError(ServiceError):
    """An invitation cannot be redeemed; ``reason`` is unknown / used / expired / revoked / registered."""

    kind = "invalid"

    def __init__(self, reason: str) -> None:
        super().__init__(f"invitation.{reason}", detail=reason)
        self.reason = reason


async def update_or_refuse(
    collection: Collection[R], record_id: str, mutate: Mutation[R], *, what: str
) -> tuple[R, R]:
    """``collection.update_with`` in this vocabulary: a missing record is AccessDenied (it is
    not said whether it exists), one that keeps changing is ``Conflict("record.changing")``."""
    try:
        return await collection.update_with(record_id, mutate)
    except NotFoundError:
        raise AccessDenied(what) from None
    except ConflictError:
        raise Conflict("record.changing", detail=f"{what} keeps changing") from None


StorageKind = Literal["full", "damaged"]
PROBE_KEY = "health:storage_probe"


def storage_problem(error: BaseException | None) -> StorageKind | None:
    """"full" or "damaged" when ``error`` (or what caused it) is the store refusing a write."""
    seen = 0
    while error is not None and seen < 5:
        if isinstance(error, StorageFullError):
            return "full"
        if isinstance(error, StoreDamagedError):
            return "damaged"
        error = error.__cause__ or error.__context__
        seen += 1
    return None


@dataclass
class Episode:
    kind: StorageKind
    since: datetime
    detail: str
    refused: int = 1


class StorageIncidents:
    """Storage problems as episodes: the admins hear of each once, and once of its end.

    An episode begins with the first write the store refuses (:meth:`refused`
    says whether it is new, i.e. whether to tell the admins); further
    refusals of the same kind during it only count. A disk-full episode lasts
    until a write succeeds again: :meth:`recovered` tries a small write (the
    ``kv`` probe) while it is open, and ends it when the store takes it.
    Damaged data does not mend itself — one write that succeeds says nothing
    of the damaged file — so a damaged episode lasts until the operator has
    restored and restarted the bot. The episode lives in this process: after
    a restart a problem that persists is a new one.
    """

    def __init__(self, store: Store, clock: Clock, admin_ids: list[int]) -> None:
        self.store = store
        self.clock = clock
        self.admin_ids = admin_ids
        self.episode: Episode | None = None
        self.episodes = 0

    def refused(self, kind: StorageKind, detail: str) -> Episode | None:
        """Count a refused write; the new episode if this one begins one (tell the admins), else None."""
        if self.episode is not None and self.episode.kind == kind:
            self.episode.refused += 1
            return None
        self.episode = Episode(kind, self.clock.now(), detail[:300])
        self.episodes += 1
        log.error("storage problem (%s) begins: %s", kind, detail)
        return self.episode

    async def recovered(self) -> Episode | None:
        """While an episode is open, try a write: the episode it ended, if the store took it."""
        episode = self.episode
        if episode is None or episode.kind != "full":
            return None
        now = self.clock.now()
        try:
            # a value never written before: a store may skip a write that changes nothing
            await self.store.kv.put(PROBE_KEY, {"at": now.isoformat(), "nonce": secrets.token_hex(8)},
                                    namespace="health", now=now)
        except StoreError:
            return None
        if self.episode is not episode:
            return None
        self.episode = None
        log.warning("storage problem (%s) over after %s refused write(s)", episode.kind, episode.refused)
        return episode

    async def admin_chats(self) -> list[int]:
        """Telegram ids of the admins: the configured ones, and active admin staff if readable."""
        ids = list(dict.fromkeys(self.admin_ids))
        try:
            staff = await self.store.staff.find({"active": True})
        except StoreError:
            return ids
        return list(dict.fromkeys([*ids, *(u.telegram_id for u in staff if u.role is Role.ADMIN)]))


__all__ = ["AccessDenied", "Conflict", "Invalid", "InvitationError", "Kind", "ServiceError",
           "StorageIncidents", "storage_problem", "update_or_refuse"]
