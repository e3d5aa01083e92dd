"""Who may see and do what: the one place role rules live.

Least privilege, as DESIGN.md asks: a rep sees their own customers; a
manager sees everything of their team(s); an admin sees everything. Every
handler, command, button and inline query asks these functions — with the
caller loaded from the store, never with anything taken from callback data.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from bot.domain.models import Customer, Deal, Role, StaffUser


def is_active(user: StaffUser | None) -> bool:
    return user is not None and user.active


def can_view_customer(user: StaffUser | None, customer: Customer) -> bool:
    if not is_active(user):
        return False
    assert user is not None
    if user.role is Role.ADMIN:
        return True
    if customer.owner_id == user.id:
        return True
    return user.role is Role.MANAGER and customer.team is not None and customer.team in user.teams


def can_edit_customer(user: StaffUser | None, customer: Customer) -> bool:
    """Owners, their managers and admins edit; the same set that can view."""
    return can_view_customer(user, customer)


def can_view_deal(user: StaffUser | None, deal: Deal) -> bool:
    """A deal is its owner's, their team's managers' and the admins': the customer's rule."""
    if not is_active(user):
        return False
    assert user is not None
    if user.role is Role.ADMIN or deal.owner_id == user.id:
        return True
    return user.role is Role.MANAGER and deal.team is not None and deal.team in user.teams


def can_purge(user: StaffUser | None) -> bool:
    """Deleting a record for good is for admins only; reps archive."""
    return is_active(user) and user is not None and user.role is Role.ADMIN


def can_read_audit(user: StaffUser | None) -> bool:
    return is_active(user) and user is not None and user.role in (Role.ADMIN, Role.MANAGER)


def can_export_audit(user: StaffUser | None) -> bool:
    return can_purge(user)


def manages(actor: StaffUser | None, target: StaffUser) -> bool:
    """Whether ``actor`` may manage ``target``: admins anyone, managers the reps of their teams."""
    if not is_active(actor):
        return False
    assert actor is not None
    if actor.role is Role.ADMIN:
        return True
    if actor.role is Role.MANAGER:
        return target.role is Role.REP and bool(set(target.teams) & set(actor.teams))
    return False


def can_invite(actor: StaffUser | None, role: Role, team: str | None) -> bool:
    """Admins invite anyone; managers invite reps into their own teams."""
    if not is_active(actor):
        return False
    assert actor is not None
    if actor.role is Role.ADMIN:
        return True
    return actor.role is Role.MANAGER and role is Role.REP and team is not None and team in actor.teams


def can_change_role(actor: StaffUser | None, target: StaffUser, new_role: Role) -> bool:
    """Only admins change roles, and not their own (an admin cannot lock themselves out)."""
    if not is_active(actor) or actor is None or actor.role is not Role.ADMIN:
        return False
    return actor.id != target.id


def can_change_team(actor: StaffUser | None, target: StaffUser, new_team: str) -> bool:
    if not is_active(actor) or actor is None:
        return False
    if actor.role is Role.ADMIN:
        return True
    return (
        actor.role is Role.MANAGER
        and manages(actor, target)
        and new_team in actor.teams
    )


def can_deactivate(actor: StaffUser | None, target: StaffUser) -> bool:
    if actor is not None and actor.id == target.id:
        return False
    return manages(actor, target)


def can_reassign(actor: StaffUser | None, customer: Customer, new_owner: StaffUser) -> bool:
    """Admins anywhere; managers within their team, to an active rep or manager of that team."""
    if not is_active(actor) or actor is None or not new_owner.active:
        return False
    if actor.role is Role.ADMIN:
        return True
    if actor.role is not Role.MANAGER or not can_view_customer(actor, customer):
        return False
    return bool(set(new_owner.teams) & set(actor.teams))


def can_reassign_customers(actor: StaffUser | None) -> bool:
    """Whether the card offers to reassign a customer (and shows its change history)."""
    return is_active(actor) and actor is not None and actor.role in (Role.MANAGER, Role.ADMIN)


def reassign_candidates(actor: StaffUser, customer: Customer, staff: Iterable[StaffUser]) -> list[StaffUser]:
    """Whom ``actor`` may hand ``customer`` to: active reps and managers other than its owner."""
    return [u for u in staff
            if u.id != customer.owner_id and u.role is not Role.ADMIN and can_reassign(actor, customer, u)]


def inviteable_roles(actor: StaffUser | None) -> list[Role]:
    """The roles ``actor`` may invite someone into (into some team, or none)."""
    teams = [*actor.teams, None] if actor is not None else []
    return [r for r in (Role.REP, Role.MANAGER, Role.ADMIN) if any(can_invite(actor, r, t) for t in teams)]


def can_name_teams(actor: StaffUser | None) -> bool:
    """Admins may invite into a new team, or into none; managers only into their own teams."""
    return can_purge(actor)


def visible_teams(user: StaffUser) -> list[str] | None:
    """Teams whose records the user sees; None means all (admins)."""
    if user.role is Role.ADMIN:
        return None
    if user.role is Role.MANAGER:
        return list(user.teams)
    return []


def within_edit_window(created_at: datetime, now: datetime, hours: int) -> bool:
    """Whether ``now`` is at most ``hours`` after ``created_at``."""
    return timedelta(0) <= now - created_at <= timedelta(hours=hours) or now < created_at


def can_edit_entry(
    actor: StaffUser | None, customer: Customer, created_by: str | None, created_at: datetime,
    now: datetime, window_hours: int,
) -> bool:
    """Whether ``actor`` may edit or delete an interaction/feedback entry about ``customer``.

    Admins always; managers when they see the customer (their team's or their
    own); reps only their own entries, within the edit window.
    """
    if not can_view_customer(actor, customer):
        return False
    assert actor is not None
    if actor.role in (Role.ADMIN, Role.MANAGER):
        return True
    return created_by == actor.id and within_edit_window(created_at, now, window_hours)


# ---- staff and team management: what the staff screens offer, and to whom ---------------

def leads_people(role: Role) -> bool:
    """Managers and admins: staff screens, invitations, reports on others, their own commands."""
    return role in (Role.ADMIN, Role.MANAGER)


def sees_everyone(role: Role) -> bool:
    """Admins see the whole company; managers their teams."""
    return role is Role.ADMIN


def may_be_without_team(role: Role) -> bool:
    """A rep always belongs to a team; a manager or an admin may stand above the teams."""
    return role is not Role.REP


def sees_team(user: StaffUser | None) -> bool:
    """Managers and admins see other people's records (their teams', or everyone's)."""
    return is_active(user) and user is not None and leads_people(user.role)


def can_list_staff(user: StaffUser | None) -> bool:
    return sees_team(user)


def can_open_staff(actor: StaffUser | None, target: StaffUser) -> bool:
    """Whose staff card the actor may open: people they manage, and themselves (not reps)."""
    return sees_team(actor) and (manages(actor, target) or (actor is not None and actor.id == target.id))


def can_move_team(actor: StaffUser | None, target: StaffUser) -> bool:
    """Whether to offer "change team": admins always; managers for their reps when they have a choice."""
    if not is_active(actor) or actor is None:
        return False
    return actor.role is Role.ADMIN or (manages(actor, target) and len(actor.teams) > 1)


def can_create_team(actor: StaffUser | None) -> bool:
    """Only admins name a new team."""
    return is_active(actor) and actor is not None and actor.role is Role.ADMIN


def sees_all_teams(actor: StaffUser | None) -> bool:
    """Admins see (and may assign) every team; managers only their own."""
    return can_create_team(actor)


def can_reassign_from(actor: StaffUser | None, source: StaffUser) -> bool:
    """Whether to offer moving all of ``source``'s customers: managers and admins, not their own."""
    return sees_team(actor) and actor is not None and actor.id != source.id


def can_receive_customers(actor: StaffUser | None, source: StaffUser, candidate: StaffUser) -> bool:
    """Whether ``candidate`` is offered as the new owner of ``source``'s customers."""
    if not sees_team(actor) or actor is None:
        return False
    return (
        candidate.active
        and candidate.id != source.id
        and candidate.role in (Role.REP, Role.MANAGER)
        and (actor.role is Role.ADMIN or bool(set(candidate.teams) & set(actor.teams)))
    )


def can_own_customers(user: StaffUser | None) -> bool:
    """Reps and managers own customers; admins oversee (they are no owner to filter by)."""
    return user is not None and user.role is not Role.ADMIN


def sees_every_invitation(actor: StaffUser | None) -> bool:
    """Admins see and revoke every invitation; managers their own."""
    return can_create_team(actor)


def can_revoke_invitation(actor: StaffUser | None, created_by: str) -> bool:
    if not sees_team(actor) or actor is None:
        return False
    return actor.role is Role.ADMIN or created_by == actor.id


def has_team_commands(user: StaffUser | None) -> bool:
    """Managers and admins get their extra commands published in their own chat."""
    return sees_team(user)


# ---- refusals that say why (issue 13, point 17) -----------------------------------------

#: Roles by reach: a role may do whatever the roles below it may.
RANK = {Role.REP: 0, Role.MANAGER: 1, Role.ADMIN: 2}


def missing_role(user: StaffUser | None, needed: Role) -> Role | None:
    """``needed`` when an active ``user``'s role is below it, so a refusal can name the role
    required; None when the role is enough (any refusal then has another reason)."""
    if not is_active(user) or user is None or RANK[user.role] >= RANK[needed]:
        return None
    return needed


def whom_to_ask(user: StaffUser, staff: Iterable[StaffUser]) -> list[StaffUser]:
    """Whom a deactivated ``user`` asks to be let back in: the active managers of their teams
    (the people who may reactivate a rep), else the active admins."""
    everyone = [u for u in staff if u.active and u.id != user.id]
    managers = [u for u in everyone if manages(u, user) and u.role is Role.MANAGER]
    return managers or [u for u in everyone if u.role is Role.ADMIN]


# ---- duplicates of a colleague's customer (issue 13, point 21) ----------------------------

#: Evidence strong enough that a card the caller may not see *is* the customer being typed:
#: the save is stopped and the card can be asked for. A similar name in the same company only warns.
IDENTITY_REASONS = frozenset({"phone", "email"})


def duplicate_blocks_save(reason: str) -> bool:
    """Whether a duplicate of a customer the caller may not see stops the save (see IDENTITY_REASONS)."""
    return reason in IDENTITY_REASONS


def card_request_recipients(customer: Customer, requester: StaffUser, staff: Iterable[StaffUser]) -> list[StaffUser]:
    """Whom a request for ``customer``'s card goes to: the active managers who see it and the
    active admins when none of those managers may hand it to ``requester`` (another team, or
    no manager at all)."""
    everyone = [u for u in staff if u.active and u.id != requester.id]
    managers = [u for u in everyone if u.role is Role.MANAGER and can_view_customer(u, customer)]
    if any(can_reassign(m, customer, requester) for m in managers):
        return managers
    return managers + [u for u in everyone if u.role is Role.ADMIN]


def can_import(actor: StaffUser | None) -> bool:
    """Importing customers from a file: managers (for their team) and admins; not reps."""
    return is_active(actor) and actor is not None and actor.role in (Role.MANAGER, Role.ADMIN)


def can_import_for(actor: StaffUser | None, owner: StaffUser) -> bool:
    """Whether ``actor``'s import may give its customers to ``owner``: an admin to anyone who owns
    customers, a manager to themself or a rep of their teams (issue 16, point 4)."""
    if not can_import(actor) or not owner.active or not can_own_customers(owner):
        return False
    assert actor is not None
    return actor.role is Role.ADMIN or owner.id == actor.id or manages(actor, owner)


# ---- to-dos (待办) -------------------------------------------------------------------------

def can_assign_todo(actor: StaffUser | None, assignee: StaffUser) -> bool:
    """Anyone gives themselves a to-do; a manager to a rep of their teams; an admin to anyone active."""
    if not is_active(actor) or not is_active(assignee):
        return False
    assert actor is not None
    return actor.id == assignee.id or manages(actor, assignee)


def can_view_todo(actor: StaffUser | None, assignee_id: str, created_by: str,
                  assignee: StaffUser | None, customer: Customer | None) -> bool:
    """Its assignee and who set it; the assignee's managers (and admins); whoever sees its customer."""
    if not is_active(actor):
        return False
    assert actor is not None
    if actor.id in (assignee_id, created_by) or actor.role is Role.ADMIN:
        return True
    if assignee is not None and manages(actor, assignee):
        return True
    return customer is not None and can_view_customer(actor, customer)
def can_check_in(user: StaffUser | None, customer: Customer, visit_owner_id: str) -> bool:
    """A visit's check-in and check-out are the rep's who logged it (and still sees the customer)."""
    return can_view_customer(user, customer) and user is not None and user.id == visit_owner_id


def can_see_visits_of(actor: StaffUser | None, rep: StaffUser) -> bool:
    """``/visits``: one's own day; managers their teams' reps', admins anyone's."""
    return is_active(actor) and actor is not None and (actor.id == rep.id or manages(actor, rep))
