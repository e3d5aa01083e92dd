"""Staff users: who may use the bot, in which language and time zone."""

from __future__ import annotations

import dataclasses

from bot.clock import Clock
from bot.config import Config
from bot.domain.models import AuditEvent, Role, StaffUser
from storage.base import ConflictError, Store

SYSTEM_ACTOR = "system"


class StaffService:
    def __init__(self, store: Store, clock: Clock, config: Config) -> None:
        self.store = store
        self.clock = clock
        self.config = config

    async def get(self, telegram_id: int) -> StaffUser | None:
        return await self.store.staff.get(StaffUser.id_for(telegram_id))

    async def active(self, telegram_id: int) -> StaffUser | None:
        """The staff user behind a Telegram id, if registered and active."""
        user = await self.get(telegram_id)
        return user if user is not None and user.active else None

    async def ensure_admins(self, admin_ids: list[int], *, default_name: str = "Admin") -> None:
        """Register the configured admins; promote them if they exist with a lower role."""
        for telegram_id in admin_ids:
            existing = await self.get(telegram_id)
            now = self.clock.now()
            if existing is None:
                user = StaffUser(
                    id=StaffUser.id_for(telegram_id),
                    telegram_id=telegram_id,
                    name=f"{default_name} {telegram_id}",
                    role=Role.ADMIN,
                    language=self.config.locale.default_language,
                    timezone=self.config.locale.timezone,
                    created_at=now,
                    updated_at=now,
                )
                await self.store.staff.insert(user)
                await self._audit("create", user.id, {"role": [None, Role.ADMIN.value]})
            elif existing.role is not Role.ADMIN or not existing.active:
                changes = {"role": [existing.role.value, Role.ADMIN.value]}
                if not existing.active:
                    changes["active"] = [False, True]
                await self.store.staff.update(
                    dataclasses.replace(existing, role=Role.ADMIN, active=True, updated_at=now)
                )
                await self._audit("role_change", existing.id, changes)

    async def remember_profile(
        self, user: StaffUser, *, name: str, username: str | None
    ) -> StaffUser:
        """Keep the Telegram username current, and replace a placeholder name by the real one.

        Not audited: it is profile data Telegram owns, not CRM data.
        """
        placeholder = user.name == f"Admin {user.telegram_id}"
        new_name = name.strip()[:200] if placeholder and name.strip() else user.name
        if new_name == user.name and username == user.username:
            return user
        updated = dataclasses.replace(
            user, name=new_name, username=username, updated_at=self.clock.now()
        )
        try:
            return await self.store.staff.update(updated)
        except ConflictError:
            return await self.store.staff.get(user.id) or user

    async def set_language(self, user: StaffUser, language: str) -> StaffUser:
        if user.language == language:
            return user
        updated = dataclasses.replace(user, language=language, updated_at=self.clock.now())
        saved = await self.store.staff.update(updated)
        await self._audit("update", user.id, {"language": [user.language, language]}, actor=user.id)
        return saved

    async def _audit(
        self, action: str, staff_id: str, changes: dict, *, actor: str = SYSTEM_ACTOR
    ) -> None:
        await self.store.audit.insert(
            AuditEvent(
                actor_id=actor,
                action=action,
                entity_type="staff",
                entity_id=staff_id,
                at=self.clock.now(),
                changes=changes,
                created_at=self.clock.now(),
                updated_at=self.clock.now(),
            )
        )
