from __future__ import annotations

import pytest

from bot.domain import access
from bot.domain.models import Customer, Role, StaffUser


def staff(uid: int, role: Role, teams: list[str], active: bool = True) -> StaffUser:
    return StaffUser(id=str(uid), telegram_id=uid, name=f"u{uid}", role=role, teams=teams, active=active)


ADMIN = staff(1, Role.ADMIN, [])
MANAGER_EAST = staff(2, Role.MANAGER, ["east"])
MANAGER_BOTH = staff(3, Role.MANAGER, ["east", "west"])
REP_EAST = staff(4, Role.REP, ["east"])
REP_WEST = staff(5, Role.REP, ["west"])
GONE = staff(6, Role.REP, ["east"], active=False)
CUSTOMER = Customer(name="张伟", owner_id="4", team="east")


@pytest.mark.parametrize(
    ("user", "expected"),
    [(ADMIN, True), (MANAGER_EAST, True), (MANAGER_BOTH, True), (REP_EAST, True),
     (REP_WEST, False), (GONE, False), (None, False)],
)
def test_who_sees_a_customer(user, expected) -> None:
    assert access.can_view_customer(user, CUSTOMER) is expected


def test_a_deactivated_owner_loses_their_own_customers() -> None:
    customer = Customer(name="x", owner_id="6", team="east")
    assert not access.can_view_customer(GONE, customer)


def test_managers_manage_reps_of_their_teams_only() -> None:
    assert access.manages(MANAGER_EAST, REP_EAST)
    assert not access.manages(MANAGER_EAST, REP_WEST)
    assert not access.manages(MANAGER_EAST, MANAGER_BOTH)
    assert not access.manages(REP_EAST, REP_EAST)
    assert access.manages(ADMIN, MANAGER_EAST)


def test_invitations() -> None:
    assert access.can_invite(ADMIN, Role.ADMIN, None)
    assert access.can_invite(MANAGER_EAST, Role.REP, "east")
    assert not access.can_invite(MANAGER_EAST, Role.REP, "west")
    assert not access.can_invite(MANAGER_EAST, Role.MANAGER, "east")
    assert not access.can_invite(REP_EAST, Role.REP, "east")


def test_roles_change_only_by_admins_and_never_their_own() -> None:
    assert access.can_change_role(ADMIN, MANAGER_EAST, Role.REP)
    assert not access.can_change_role(ADMIN, ADMIN, Role.REP)
    assert not access.can_change_role(MANAGER_EAST, REP_EAST, Role.MANAGER)


def test_reassignment_stays_within_the_managers_teams() -> None:
    assert access.can_reassign(MANAGER_EAST, CUSTOMER, staff(7, Role.REP, ["east"]))
    assert not access.can_reassign(MANAGER_EAST, CUSTOMER, REP_WEST)
    assert not access.can_reassign(MANAGER_EAST, CUSTOMER, GONE)
    assert access.can_reassign(ADMIN, CUSTOMER, REP_WEST)
    assert not access.can_reassign(REP_EAST, CUSTOMER, staff(7, Role.REP, ["east"]))


def test_deactivation_and_audit_rights() -> None:
    assert access.can_deactivate(MANAGER_EAST, REP_EAST)
    assert not access.can_deactivate(ADMIN, ADMIN)
    assert access.can_read_audit(MANAGER_EAST) and not access.can_read_audit(REP_EAST)
    assert access.can_export_audit(ADMIN) and not access.can_export_audit(MANAGER_EAST)
    assert access.visible_teams(ADMIN) is None
    assert access.visible_teams(MANAGER_BOTH) == ["east", "west"]


# ---- the staff screens' decisions (formerly restated in handlers/staff.py and the services)

def test_who_lists_and_opens_staff_cards() -> None:
    assert [access.can_list_staff(u) for u in (ADMIN, MANAGER_EAST, REP_EAST, GONE)] == [True, True, False, False]
    assert access.can_open_staff(MANAGER_EAST, REP_EAST) and access.can_open_staff(MANAGER_EAST, MANAGER_EAST)
    assert not access.can_open_staff(MANAGER_EAST, REP_WEST)
    assert not access.can_open_staff(REP_EAST, REP_EAST)  # reps have no staff screens, not even their own
    assert access.can_open_staff(ADMIN, REP_WEST)


def test_team_buttons() -> None:
    assert access.can_move_team(ADMIN, REP_EAST)
    assert not access.can_move_team(MANAGER_EAST, REP_EAST)  # one team: nothing to choose
    assert access.can_move_team(MANAGER_BOTH, REP_EAST)
    assert not access.can_move_team(MANAGER_BOTH, ADMIN)
    assert access.can_create_team(ADMIN) and not access.can_create_team(MANAGER_BOTH)
    assert access.sees_all_teams(ADMIN) and not access.sees_all_teams(MANAGER_EAST)


def test_reassignment_offers() -> None:
    assert access.can_reassign_from(MANAGER_EAST, REP_EAST)
    assert not access.can_reassign_from(MANAGER_EAST, MANAGER_EAST)
    assert not access.can_reassign_from(REP_EAST, REP_WEST)
    rep_east_2 = staff(7, Role.REP, ["east"])
    assert access.can_receive_customers(MANAGER_EAST, REP_EAST, rep_east_2)
    assert access.can_receive_customers(MANAGER_EAST, REP_EAST, MANAGER_BOTH)
    assert not access.can_receive_customers(MANAGER_EAST, REP_EAST, REP_EAST)  # not to themselves
    assert not access.can_receive_customers(MANAGER_EAST, REP_EAST, REP_WEST)  # another team
    assert not access.can_receive_customers(MANAGER_EAST, REP_EAST, GONE)
    assert not access.can_receive_customers(ADMIN, REP_EAST, ADMIN)  # admins own no customers
    assert access.can_receive_customers(ADMIN, REP_EAST, REP_WEST)


def test_invitations_and_commands() -> None:
    assert access.sees_every_invitation(ADMIN) and not access.sees_every_invitation(MANAGER_EAST)
    assert access.can_revoke_invitation(MANAGER_EAST, MANAGER_EAST.id)
    assert not access.can_revoke_invitation(MANAGER_EAST, ADMIN.id)
    assert access.can_revoke_invitation(ADMIN, MANAGER_EAST.id)
    assert not access.can_revoke_invitation(REP_EAST, REP_EAST.id)
    assert [access.has_team_commands(u) for u in (ADMIN, MANAGER_EAST, REP_EAST)] == [True, True, False]
    assert not access.can_own_customers(ADMIN) and access.can_own_customers(MANAGER_EAST)


# ---- refusals that name the role; whom a deactivated user asks (issue 13, point 17) -------------
def test_the_missing_role_is_named_only_when_the_role_is_what_is_missing() -> None:
    rep, manager, admin = staff(1, Role.REP, ["east"]), staff(2, Role.MANAGER, ["east"]), staff(3, Role.ADMIN, [])
    assert access.missing_role(rep, Role.MANAGER) is Role.MANAGER
    assert access.missing_role(rep, Role.ADMIN) is Role.ADMIN
    assert access.missing_role(manager, Role.MANAGER) is None and access.missing_role(manager, Role.ADMIN) is Role.ADMIN
    assert access.missing_role(admin, Role.ADMIN) is None
    assert access.missing_role(staff(4, Role.REP, ["east"], active=False), Role.MANAGER) is None
    assert access.missing_role(None, Role.MANAGER) is None


def test_a_deactivated_rep_asks_their_managers_else_the_admins() -> None:
    gone = staff(1, Role.REP, ["east"], active=False)
    mia, max_, admin = staff(2, Role.MANAGER, ["east"]), staff(3, Role.MANAGER, ["west"]), staff(4, Role.ADMIN, [])
    assert access.whom_to_ask(gone, [gone, mia, max_, admin]) == [mia]
    assert access.whom_to_ask(gone, [gone, staff(5, Role.MANAGER, ["east"], active=False), admin]) == [admin]
    assert access.whom_to_ask(staff(6, Role.MANAGER, ["east"], active=False), [mia, admin]) == [admin]


# ---- a colleague's customer typed again (issue 13, point 21) -------------------------------------
def test_only_identity_evidence_stops_a_save() -> None:
    assert access.duplicate_blocks_save("phone") and access.duplicate_blocks_save("email")
    assert not access.duplicate_blocks_save("name_company")


def test_a_card_request_goes_to_the_managers_who_can_hand_it_over_else_also_to_the_admins() -> None:
    customer = Customer(id="c", name="X", owner_id="2", team="east")
    mia, max_, admin = staff(10, Role.MANAGER, ["east"]), staff(11, Role.MANAGER, ["west"]), staff(12, Role.ADMIN, [])
    same_team, other_team = staff(1, Role.REP, ["east"]), staff(3, Role.REP, ["west"])
    assert access.card_request_recipients(customer, same_team, [mia, max_, admin]) == [mia]
    assert access.card_request_recipients(customer, other_team, [mia, max_, admin]) == [mia, admin]
    assert access.card_request_recipients(customer, same_team, [max_, admin]) == [admin]
