"""Staff users: who may use the bot, their roles and teams, and the people who manage them."""

from __future__ import annotations

import dataclasses

from bot.clock import Clock
from bot.config import Config
from bot.domain import access
from bot.domain.models import ReminderStatus, Role, StaffUser
from bot.services.audit import AuditService
from bot.services.errors import AccessDenied, Invalid, update_or_refuse
from storage.base import ConflictError, Store

SYSTEM_ACTOR = "system"
MAX_TEAM_LENGTH = 50


class StaffService:
    def __init__(self, store: Store, clock: Clock, config: Config, audit: AuditService) -> None:
        self.store = store
        self.clock = clock
        self.config = config
        self.audit = audit

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
                await self.audit.record_change(SYSTEM_ACTOR, "create", "staff", None, user)
            elif existing.role is not Role.ADMIN or not existing.active:
                updated = await self.store.staff.update(
                    dataclasses.replace(existing, role=Role.ADMIN, active=True, updated_at=now)
                )
                await self.audit.record_change(SYSTEM_ACTOR, "role_change", "staff", existing, updated)

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
        await self.audit.record_change(user.id, "update", "staff", user, saved)
        return saved

    async def set_quiet_hours(self, user: StaffUser, quiet: tuple[int, int] | None) -> StaffUser:
        """The user's own quiet hours (local start and end hour); None turns them off."""
        if quiet is not None and not all(0 <= hour <= 23 for hour in quiet):
            raise Invalid("quiet_hours.invalid", start=quiet[0], end=quiet[1])
        value = quiet if quiet is not None else (0, 0)  # equal hours: never quiet
        before, saved = await update_or_refuse(
            self.store.staff, user.id,
            lambda u: None if u.quiet_hours == value else dataclasses.replace(
                u, quiet_hours=value, updated_at=self.clock.now()),
            what=f"staff {user.id}")
        if saved is not before:
            await self.audit.record_change(user.id, "update", "staff", before, saved)
        return saved

    # ---- staff management ---------------------------------------------------------------
    async def visible(self, actor: StaffUser) -> list[StaffUser]:
        """Staff the actor may see in the staff list: admins all, managers their teams."""
        if not access.can_list_staff(actor):
            raise AccessDenied("staff list", needs=access.missing_role(actor, Role.MANAGER))
        teams = access.visible_teams(actor)
        if teams is None:
            users = await self.store.staff.find()
        else:
            found: dict[str, StaffUser] = {actor.id: actor}
            for team in teams:
                for user in await self.store.staff.find({"teams": team}):
                    found[user.id] = user
            users = list(found.values())
        return sorted(users, key=lambda u: (not u.active, u.role.value, u.name.lower()))

    async def manageable(self, actor: StaffUser, staff_id: str) -> StaffUser:
        """A staff user the actor may open and manage; AccessDenied for anyone else."""
        if not access.sees_team(actor):  # the same answer whoever staff_id names
            raise AccessDenied(f"staff {staff_id}", needs=access.missing_role(actor, Role.MANAGER))
        target = await self.store.staff.get(staff_id) if len(staff_id) <= 64 else None
        if target is None or not access.can_open_staff(actor, target):
            raise AccessDenied(f"staff {staff_id}")
        return target

    async def visible_one(self, actor: StaffUser, staff_id: str) -> StaffUser | None:
        """A staff user from the actor's staff list (e.g. the owner a list is filtered by), else None."""
        if not access.can_list_staff(actor):
            return None
        return next((u for u in await self.visible(actor) if u.id == staff_id), None)

    async def whom_to_ask(self, telegram_id: int) -> tuple[StaffUser, list[StaffUser]] | None:
        """A deactivated account behind a Telegram id and whom to ask to reactivate it; None if the
        id is not a deactivated staff member (a stranger, or someone active)."""
        user = await self.get(telegram_id)
        if user is None or user.active:
            return None
        return user, access.whom_to_ask(user, await self.store.staff.find({"active": True}))

    async def with_team_commands(self) -> list[StaffUser]:
        """Active staff whose chat gets the managers' and admins' extra commands."""
        return [u for u in await self.store.staff.find({"active": True}) if access.has_team_commands(u)]

    async def names(self) -> dict[str, str]:
        """Every staff user's name by id, for showing who did what."""
        return {user.id: user.name for user in await self.store.staff.find()}

    async def known_teams(self, actor: StaffUser) -> list[str]:
        """Teams the actor may assign people to: all existing ones for admins, their own for managers."""
        if access.sees_all_teams(actor):
            teams = {team for user in await self.store.staff.find() for team in user.teams}
            return sorted(teams | set(actor.teams))
        if access.sees_team(actor):
            return sorted(actor.teams)
        return []

    async def new_owner_candidates(self, actor: StaffUser, source: StaffUser) -> list[StaffUser]:
        """Whom ``source``'s customers may be moved to (see ``access.can_receive_customers``)."""
        return [u for u in await self.visible(actor) if access.can_receive_customers(actor, source, u)]

    async def change_role(self, actor: StaffUser, staff_id: str, role: Role) -> StaffUser:
        target = await self.manageable(actor, staff_id)
        if not access.can_change_role(actor, target, role):
            raise AccessDenied(f"role of {staff_id}", needs=access.missing_role(actor, Role.ADMIN))
        return await self._save(actor, "role_change", target, dataclasses.replace(target, role=role))

    async def change_team(self, actor: StaffUser, staff_id: str, team: str) -> StaffUser:
        team = " ".join(team.split())
        if not team or len(team) > MAX_TEAM_LENGTH:
            raise Invalid("team.invalid", max_length=MAX_TEAM_LENGTH)
        target = await self.manageable(actor, staff_id)
        if not access.can_change_team(actor, target, team):
            raise AccessDenied(f"team of {staff_id}")
        return await self._save(actor, "update", target, dataclasses.replace(target, teams=[team]))

    async def deactivate(self, actor: StaffUser, staff_id: str) -> StaffUser:
        """Access ends at once; their data stays; their pending reminders are cancelled."""
        target = await self.manageable(actor, staff_id)
        if not access.can_deactivate(actor, target):
            raise AccessDenied(f"deactivate {staff_id}")
        saved = await self._save(actor, "deactivate", target, dataclasses.replace(target, active=False))
        for reminder in await self.store.reminders.find(
            {"recipient_id": target.id, "status": ReminderStatus.PENDING.value}
        ):
            reminder.status = ReminderStatus.CANCELLED
            reminder.last_error = "recipient deactivated"
            reminder.updated_at = self.clock.now()
            try:
                await self.store.reminders.update(reminder)
            except ConflictError:
                continue  # being delivered right now; the delivery job re-checks the recipient
        return saved

    async def reactivate(self, actor: StaffUser, staff_id: str) -> StaffUser:
        target = await self.manageable(actor, staff_id)
        if not access.can_deactivate(actor, target):
            raise AccessDenied(f"reactivate {staff_id}")
        return await self._save(actor, "reactivate", target, dataclasses.replace(target, active=True))

    async def _save(
        self, actor: StaffUser, action: str, before: StaffUser, after: StaffUser
    ) -> StaffUser:
        if before == after:
            return before
        after.updated_at = self.clock.now()
        saved = await self.store.staff.update(after)
        await self.audit.record_change(actor.id, action, "staff", before, saved)
        return saved
