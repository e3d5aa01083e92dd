"""Invitations: one-time deep links that register a new staff user with a role and a team."""

from __future__ import annotations

import dataclasses
import secrets
from datetime import timedelta

from bot.clock import Clock
from bot.config import Config
from bot.domain import access
from bot.domain.models import Invitation, Role, StaffUser
from bot.services.audit import AuditService
from bot.services.drafts import NAMESPACE, claim, insert_once
from bot.services.errors import AccessDenied, Invalid, InvitationError
from storage.base import ConflictError, DuplicateError, Store

VALIDITY_DAYS = (1, 7, 30)


def new_code() -> str:
    """16 URL-safe characters: unguessable, and valid as a t.me ``start`` parameter."""
    return secrets.token_urlsafe(12)


def deep_link(bot_username: str, code: str) -> str:
    return f"https://t.me/{bot_username}?start={code}"


class InvitationService:
    def __init__(self, store: Store, clock: Clock, config: Config, audit: AuditService) -> None:
        self.store = store
        self.clock = clock
        self.config = config
        self.audit = audit

    async def create(
        self, actor: StaffUser, role: Role, team: str | None, valid_days: int, *, record_id: str | None = None
    ) -> Invitation:
        """A one-time invitation. ``record_id``: the draft's token (``bot.services.drafts``); the
        code is claimed under it first, so a save repeated after a crash is refused (``AlreadySaved``)
        instead of creating a second invitation."""
        if team is not None:
            team = " ".join(team.split()) or None
        if not access.can_invite(actor, role, team):
            raise AccessDenied(f"invite {role.value} to {team}")
        if valid_days not in VALIDITY_DAYS:
            raise Invalid("invitation.validity", detail=f"validity must be one of {VALIDITY_DAYS}",
                          days=valid_days)
        now = self.clock.now()
        code = new_code()
        if record_id:
            code = await claim(self.store.kv, f"{NAMESPACE}:invitation:{actor.id}:{record_id}", code, now=now)
        invitation = Invitation(
            id=code, role=role, team=team, created_by=actor.id,
            expires_at=now + timedelta(days=valid_days), created_at=now, updated_at=now,
        )
        saved = await insert_once(self.store.invitations, invitation)
        await self.audit.record_change(actor.id, "create", "invitation", None, saved)
        return saved

    async def active(self, actor: StaffUser) -> list[Invitation]:
        """Usable invitations the actor may see: admins all, managers their own."""
        if access.sees_every_invitation(actor):
            found = await self.store.invitations.find({"revoked": False, "redeemed_by": None})
        elif access.sees_team(actor):
            found = await self.store.invitations.find({"created_by": actor.id, "revoked": False})
        else:
            raise AccessDenied("invitations")
        now = self.clock.now()
        return sorted((i for i in found if i.usable(now)), key=lambda i: i.created_at)

    async def revoke(self, actor: StaffUser, code: str) -> Invitation:
        invitation = await self.store.invitations.get(code) if len(code) <= 64 else None
        if invitation is None or not access.can_revoke_invitation(actor, invitation.created_by):
            raise AccessDenied(f"invitation {code}")
        if invitation.revoked:
            return invitation
        revoked = dataclasses.replace(invitation, revoked=True, updated_at=self.clock.now())
        saved = await self.store.invitations.update(revoked)
        await self.audit.record_change(actor.id, "revoke", "invitation", invitation, saved)
        return saved

    async def redeem(
        self, code: str, *, telegram_id: int, name: str, username: str | None, language: str
    ) -> StaffUser:
        """Register the user an invitation was sent to: once, however often the link is opened.

        The staff record's id is the Telegram user's, and the invitation records who redeemed
        it before the staff record is written. So opening the link again — a double tap, or
        after a crash between the two writes or before the welcome — finds the invitation
        redeemed by this very user and finishes or repeats the same registration: one staff
        record, and the welcome again. Anyone else gets "used".
        """
        user_id = StaffUser.id_for(telegram_id)
        invitation = await self.store.invitations.get(code) if len(code) <= 64 else None
        existing = await self.store.staff.get(user_id)
        if invitation is not None and invitation.redeemed_by == user_id:
            if existing is None:  # redeemed, then the process died before the staff record
                return await self._register(invitation, code, telegram_id, name, username, language)
            if existing.active:  # opened again: the same registration
                return existing
            raise InvitationError("used")  # deactivated since: an old link does not bring them back
        if existing is not None:
            raise InvitationError("registered")
        now = self.clock.now()
        if invitation is None:
            raise InvitationError("unknown")
        if invitation.revoked:
            raise InvitationError("revoked")
        if invitation.redeemed_by is not None:
            raise InvitationError("used")
        if now >= invitation.expires_at:
            raise InvitationError("expired")
        used = dataclasses.replace(invitation, redeemed_by=user_id, redeemed_at=now, updated_at=now)
        try:
            used = await self.store.invitations.update(used)  # the version check makes it one-time
        except ConflictError:
            raise InvitationError("used") from None
        return await self._register(used, code, telegram_id, name, username, language)

    async def _register(self, invitation: Invitation, code: str, telegram_id: int, name: str,
                        username: str | None, language: str) -> StaffUser:
        """The staff record of a redeemed invitation (written at most once: its id is the user's)."""
        now = self.clock.now()
        user = StaffUser(
            id=StaffUser.id_for(telegram_id), telegram_id=telegram_id, name=name.strip()[:200] or f"User {telegram_id}",
            username=username, role=invitation.role,
            teams=[invitation.team] if invitation.team else [],
            language=language, timezone=self.config.locale.timezone,
            created_at=now, updated_at=now,
        )
        try:
            saved = await self.store.staff.insert(user)
        except DuplicateError:  # registered meanwhile by this very redemption
            return await self.store.staff.get(user.id) or user
        await self.audit.record(
            invitation.created_by, "create", "staff", saved.id,
            {"role": [None, saved.role.value], "teams": [None, saved.teams]},
            note=f"invitation {code} redeemed by {telegram_id}",
        )
        return saved
