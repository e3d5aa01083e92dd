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
from bot.services.errors import AccessDenied, Invalid, InvitationError
from storage.base import ConflictError, Store

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
        self, actor: StaffUser, role: Role, team: str | None, valid_days: int
    ) -> Invitation:
        if team is not None:
            team = " ".join(team.split()) or None
        if not access.can_invite(actor, role, team):
            raise AccessDenied(f"invite {role.value} to {team}")
        if valid_days not in VALIDITY_DAYS:
            raise Invalid("invitation.validity", detail=f"validity must be one of {VALIDITY_DAYS}",
                          days=valid_days)
        now = self.clock.now()
        invitation = Invitation(
            id=new_code(), role=role, team=team, created_by=actor.id,
            expires_at=now + timedelta(days=valid_days), created_at=now, updated_at=now,
        )
        saved = await self.store.invitations.insert(invitation)
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
        if await self.store.staff.get(StaffUser.id_for(telegram_id)) is not None:
            raise InvitationError("registered")
        invitation = await self.store.invitations.get(code) if len(code) <= 64 else None
        now = self.clock.now()
        if invitation is None:
            raise InvitationError("unknown")
        if invitation.revoked:
            raise InvitationError("revoked")
        if invitation.redeemed_by is not None:
            raise InvitationError("used")
        if now >= invitation.expires_at:
            raise InvitationError("expired")
        user_id = StaffUser.id_for(telegram_id)
        used = dataclasses.replace(invitation, redeemed_by=user_id, redeemed_at=now, updated_at=now)
        try:
            await self.store.invitations.update(used)  # the version check makes it one-time
        except ConflictError:
            raise InvitationError("used") from None
        user = StaffUser(
            id=user_id, telegram_id=telegram_id, name=name.strip()[:200] or f"User {telegram_id}",
            username=username, role=invitation.role,
            teams=[invitation.team] if invitation.team else [],
            language=language, timezone=self.config.locale.timezone,
            created_at=now, updated_at=now,
        )
        saved = await self.store.staff.insert(user)
        await self.audit.record(
            invitation.created_by, "create", "staff", saved.id,
            {"role": [None, saved.role.value], "teams": [None, saved.teams]},
            note=f"invitation {code} redeemed by {telegram_id}",
        )
        return saved
