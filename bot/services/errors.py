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

``AccessDenied(detail)`` and ``InvitationError(reason)`` keep the
signatures they had before this vocabulary, so code written against them
still works.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from storage.base import Collection, ConflictError, Mutation, NotFoundError, R

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


__all__ = ["AccessDenied", "Conflict", "Invalid", "InvitationError", "Kind", "ServiceError",
           "update_or_refuse"]
