"""Every command and button, pressed by every kind of user: exactly what the role allows.

Buttons are pressed with forged callback data (as a modified client could),
so the test shows the server re-checks each one instead of trusting that
the button was ever shown.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

import pytest

from bot.domain.models import Customer, Invitation, Role, StaffUser
from bot.sandbox.errors import NoReply
from handlers.common import SERVICES_KEY
from tests.conftest import ADMIN_ID

pytestmark = pytest.mark.slow  # many end-to-end runs: skipped by the inner loop, run in CI

NOT_AVAILABLE = "This is not available."
NOT_REGISTERED = "not registered"
DEACTIVATED = "deactivated"
#: Every refusal: "not available", or the role required (issue 13, point 17; tests/handlers/test_refusals.py)
REFUSALS = (NOT_AVAILABLE, "This is for managers and admins only.", "This is for admins only.")

MANAGER_A, MANAGER_B, REP_A, REP_B, REP_C, GONE, STRANGER = 601, 602, 701, 702, 704, 703, 999
ACTORS = {
    "unregistered": STRANGER,
    "rep A": REP_A,
    "rep B": REP_B,
    "manager of A's team": MANAGER_A,
    "manager of another team": MANAGER_B,
    "admin": ADMIN_ID,
    "deactivated": GONE,
}
BASELINE = [
    (MANAGER_A, "Mia Manager", Role.MANAGER, ["east"], True),
    (MANAGER_B, "Max Manager", Role.MANAGER, ["west"], True),
    (REP_A, "Rita Rep", Role.REP, ["east"], True),
    (REP_B, "Rob Rep", Role.REP, ["west"], True),
    (REP_C, "Cai Rep", Role.REP, ["east"], True),
    (GONE, "Gone Rep", Role.REP, ["east"], False),
]
INVITATION = "AdminInviteCode1"


async def reset(app: Any) -> None:
    """Put staff, customers and the invitation back to the baseline before each press."""
    store = app.bot_data[SERVICES_KEY].store
    now = app.bot_data[SERVICES_KEY].clock.now()
    for telegram_id, name, role, teams, active in BASELINE:
        user = StaffUser(id=str(telegram_id), telegram_id=telegram_id, name=name, role=role,
                         teams=teams, active=active, language="en", created_at=now, updated_at=now)
        existing = await store.staff.get(user.id)
        if existing is None:
            await store.staff.insert(user)
        else:
            await store.staff.update(dataclasses.replace(user, version=existing.version))
    for index, owner in enumerate((REP_A, REP_A, REP_B)):
        customer = Customer(id=f"cust{index}", name=f"Customer {index}", owner_id=str(owner),
                            team="west" if owner == REP_B else "east", created_at=now, updated_at=now)
        existing = await store.customers.get(customer.id)
        if existing is None:
            await store.customers.insert(customer)
        else:
            await store.customers.update(dataclasses.replace(customer, version=existing.version))
    invitation = Invitation(id=INVITATION, role=Role.REP, team="east", created_by=str(ADMIN_ID),
                            expires_at=now + timedelta(days=7), created_at=now, updated_at=now)
    existing = await store.invitations.get(INVITATION)
    if existing is None:
        await store.invitations.insert(invitation)
    else:
        await store.invitations.update(dataclasses.replace(invitation, version=existing.version))


@pytest.fixture
async def team(bot: Any, sandbox: Any) -> dict[str, Any]:
    await reset(bot)
    users = {}
    for label, telegram_id in ACTORS.items():
        users[label] = sandbox.user(telegram_id, first_name=label.title(), language_code="en")
    return users


def everyone_but(*labels: str) -> set[str]:
    return set(ACTORS) - set(labels)


STAFF_ONLY = everyone_but("unregistered", "deactivated")
MANAGERS = {"manager of A's team", "manager of another team", "admin"}

COMMANDS: dict[str, tuple[set[str], str]] = {
    # command: (who may use it, a text only a successful answer contains)
    "/start": (STAFF_ONLY, "Hello"),
    "/help": (STAFF_ONLY, "What I can do"),
    "/language": (STAFF_ONLY, "Choose your language"),
    "/whoami": (STAFF_ONLY, "Telegram id"),
    "/cancel": (STAFF_ONLY, "nothing to cancel"),
    "/staff": (MANAGERS, "Staff"),
    "/invite": (MANAGERS, "Which role"),
    "/invitations": (MANAGERS, "invitation"),
    "/audit": ({"admin"}, ""),
    "/add": (STAFF_ONLY, "Customer name?"),
    "/find": (STAFF_ONLY, "Who are you looking for"),
    "/list": (STAFF_ONLY, "customers"),
    "/log": (STAFF_ONLY, "Log a contact"),
    "/feedback": (STAFF_ONLY, "feedback"),
    "/report": (STAFF_ONLY, "Choose the period"),
    "/festivals": (STAFF_ONLY, "Coming festivals"),
    "/settings": (STAFF_ONLY, "Quiet hours"),
    "/todo": (STAFF_ONLY, "to-dos"),
    "/todo call back tomorrow": (STAFF_ONLY, "call back"),
    "/deal": (STAFF_ONLY, "deal with"),
    "/deals": (STAFF_ONLY, "Open deals"),
    "/visits": (STAFF_ONLY, "Visits of"),
}


@pytest.mark.parametrize("actor", list(ACTORS))
async def test_commands(team: dict[str, Any], actor: str) -> None:
    user = team[actor]
    for command, (allowed, success) in COMMANDS.items():
        replies = await user.send(command)
        texts = " ".join(m.text or m.caption or "" for m in replies)
        if actor == "unregistered":
            assert NOT_REGISTERED in texts, (actor, command, texts)
        elif actor == "deactivated":
            assert DEACTIVATED in texts and NOT_REGISTERED not in texts, (actor, command, texts)
        elif actor in allowed:
            assert NOT_AVAILABLE not in texts, (actor, command, texts)
            assert success.lower() in texts.lower(), (actor, command, texts)
            if command == "/audit":
                assert replies[-1].document is not None
        else:
            assert texts in REFUSALS, (actor, command, texts)
        await user.send("/cancel")


ADMIN_ONLY = {"admin"}
ADMIN_AND_MANAGER_A = {"admin", "manager of A's team"}
OWNER_A = {"rep A", "manager of A's team", "admin"}
OWNER_B = {"rep B", "manager of another team", "admin"}
BUTTONS: list[tuple[str, set[str]]] = [
    (f"staff:view:{REP_A}", ADMIN_AND_MANAGER_A),
    (f"staff:view:{REP_B}", {"admin", "manager of another team"}),
    (f"staff:role:{REP_A}", ADMIN_ONLY),
    (f"staff:setrole:{REP_A}:manager", ADMIN_ONLY),
    (f"staff:setrole:{ADMIN_ID}:rep", set()),  # nobody demotes the admin they are (or above them)
    (f"staff:team:{REP_A}", ADMIN_AND_MANAGER_A),
    (f"staff:newteam:{REP_A}", ADMIN_ONLY),
    (f"staff:deact:{REP_A}", ADMIN_AND_MANAGER_A),
    (f"staff:deact_ok:{REP_A}", ADMIN_AND_MANAGER_A),
    (f"staff:react:{GONE}", ADMIN_AND_MANAGER_A),
    (f"staff:move:{REP_A}", ADMIN_AND_MANAGER_A),
    (f"staff:moveto:{REP_A}:{REP_C}", ADMIN_AND_MANAGER_A),
    (f"staff:move_ok:{REP_A}:{REP_C}", ADMIN_AND_MANAGER_A),
    (f"staff:move_ok:{REP_A}:{REP_B}", ADMIN_ONLY),  # rep B is in another team
    (f"inv:revoke:{INVITATION}", ADMIN_ONLY),
    ("lang:set:en", STAFF_ONLY),
    # customer cards: rep A owns cust0 (east), rep B owns cust2 (west)
    ("cust:view:cust0", OWNER_A),
    ("cust:view:cust2", OWNER_B),
    ("cust:edit:cust0", OWNER_A),
    ("cust:edit:cust2", OWNER_B),
    ("cust:archive:cust0", OWNER_A),
    ("cust:restore:cust0", OWNER_A),
    ("cust:history:cust0:0", OWNER_A),
    ("cust:history:cust2:0", OWNER_B),
    ("cust:class:cust0", OWNER_A),
    ("cust:tier:cust0:high", OWNER_A),
    ("cust:stage:cust2:auto", OWNER_B),
    ("cust:audit:cust0", ADMIN_AND_MANAGER_A),
    ("cust:reassign:cust0", ADMIN_AND_MANAGER_A),
    (f"cust:reassign_to:cust0:{REP_C}", ADMIN_AND_MANAGER_A),
    (f"cust:reassign_to:cust0:{REP_B}", ADMIN_ONLY),
    ("cust:purge:cust0", ADMIN_ONLY),
    ("cust:purge_ok:cust2", ADMIN_ONLY),
    ("buy:add:cust0", OWNER_A),
    ("buy:add:cust2", OWNER_B),
    ("log:start:cust0", OWNER_A),
    ("log:start:cust2", OWNER_B),
    ("fb:start:cust0", OWNER_A),
    ("fb:start:cust2", OWNER_B),
    ("fb:list:0", STAFF_ONLY),
    # to-dos and notes (issue 18)
    ("todo:start:cust0", OWNER_A),
    ("todo:start:cust2", OWNER_B),
    ("note:start:cust0", OWNER_A),
    ("note:start:cust2", OWNER_B),
    ("todo:list", STAFF_ONLY),
    ("todo:done:nosuchtodo", set()),
    ("todo:from:nosuchentry", set()),
    ("note:file:nosuchnote:0", set()),
    # visit check-in (issue 19): a customer's location is set by whoever may edit the card; a day's
    # visits are one's own, a manager's team's reps', an admin's anyone's
    ("visit:setloc:cust0", OWNER_A),
    ("visit:setloc:cust2", OWNER_B),
    (f"visit:day:{REP_A}", OWNER_A),
    (f"visit:day:{REP_B}", OWNER_B),
    (f"visit:day:{MANAGER_A}", {"manager of A's team", "admin"}),
    ("visit:day:424242", set()),
    ("visit:out:nosuchvisit", set()),
    ("visit:setloc:nosuchcustomer", set()),
    # forged or stale data nobody may use
    ("staff:view:424242", set()),
    (f"staff:setrole:{REP_A}:god", set()),
    (f"staff:setteam:{REP_A}:0000000000", set()),
    ("inv:revoke:NoSuchCode", set()),
    ("lang:set:fr", set()),
    ("cust:view:nosuchcustomer", set()),
    ("cust:tier:cust0:legendary", set()),
    ("cust:view:cust0:extra", set()),
    ("add:save", set()),
    ("buy:save", set()),
    ("log:start:nosuchcustomer", set()),
    ("log:view:nosuchentry", set()),
    ("fb:view:nosuchfeedback", set()),
    ("fb:status:nosuchfeedback:open", set()),
    ("garbage", set()),
    ("staff:view", set()),
    # manager reports (issue 8): "all" is what the caller may see; a staff id narrows to that person
    ("rep:period:this_week:all", STAFF_ONLY),
    (f"rep:period:today:{REP_A}", OWNER_A),
    (f"rep:period:last_month:{REP_B}", OWNER_B),
    (f"rep:period:this_month:{MANAGER_A}", {"manager of A's team", "admin"}),
    ("rep:scope:all", STAFF_ONLY),
    (f"rep:scope:{REP_C}", ADMIN_AND_MANAGER_A),
    (f"rep:scope:{GONE}", ADMIN_AND_MANAGER_A),  # a departed rep's figures stay reportable
    (f"rep:xlsx:week:2026-03-02:{REP_B}", OWNER_B),
    ("rep:files:month:2026-03-01:all", STAFF_ONLY),
    (f"rep:cust:csv:{REP_A}", OWNER_A),
    ("rep:cust:xlsx:all", STAFF_ONLY),
    ("rep:period:decade:all", set()),
    ("rep:period:this_week:424242", set()),
    ("rep:xlsx:week:2026-13-45:all", set()),
    ("rep:xlsx:custom:2026-03-15_2026-03-01:all", set()),
    ("rep:xlsx:custom:2020-01-01_2026-03-01:all", set()),
    ("rep:cust:pdf:all", set()),
    ("rep:files:week:2026-03-02", set()),
    (f"rep:custom:{REP_A}", OWNER_A),  # last of these: it leaves the caller typing a range
]


@pytest.mark.parametrize("actor", list(ACTORS))
async def test_buttons(team: dict[str, Any], bot: Any, actor: str) -> None:
    user = team[actor]
    store = bot.bot_data[SERVICES_KEY].store
    await user.send("/start")
    anchor = user.last_message().message_id
    for data, allowed in BUTTONS:
        await reset(bot)
        before_staff = {u.id: (u.role, u.teams, u.active) for u in await store.staff.find()}
        before_owners = {c.id: c.owner_id for c in await store.customers.find()}
        await user.press_forged(anchor, data)
        answer = user.callback_answers[-1]
        if actor in allowed:
            assert not answer["show_alert"], (actor, data, answer["text"])
        else:
            refusals = (f"Your account was {DEACTIVATED}",) if actor == "deactivated" else REFUSALS
            assert answer["show_alert"] and answer["text"].startswith(refusals), (actor, data, answer["text"])
            after_staff = {u.id: (u.role, u.teams, u.active) for u in await store.staff.find()}
            after_owners = {c.id: c.owner_id for c in await store.customers.find()}
            assert after_staff == before_staff and after_owners == before_owners, (actor, data)
        if data.startswith(("staff:newteam", "cust:edit", "buy:add", "todo:start", "note:start")):
            await user.send("/cancel")


async def test_allowed_mutations_take_effect(team: dict[str, Any], bot: Any) -> None:
    store = bot.bot_data[SERVICES_KEY].store
    manager = team["manager of A's team"]
    await manager.send("/start")
    anchor = manager.last_message().message_id
    await manager.press_forged(anchor, f"staff:move_ok:{REP_A}:{REP_C}")
    assert {c.owner_id for c in await store.customers.find({"owner_id": str(REP_C)})} == {str(REP_C)}
    assert await store.customers.count({"owner_id": str(REP_C)}) == 2
    await manager.press_forged(anchor, f"staff:deact_ok:{REP_A}")
    assert not (await store.staff.get(str(REP_A))).active
    replies = await team["rep A"].send("/start")
    assert DEACTIVATED in replies[-1].text


# ---- logged contacts and feedback (issue 6): one entry each for cust0 (rep A) and cust2 (rep B) ----
ENTRY_BUTTONS: list[tuple[str, set[str]]] = [
    ("log:view:int0", OWNER_A),
    ("log:view:int2", OWNER_B),
    ("log:edit:int0", OWNER_A),  # rep A logged it a moment ago: inside the edit window
    ("log:edit:int2", OWNER_B),
    ("log:del:int0", OWNER_A),
    ("log:del_ok:int2", OWNER_B),
    ("fb:view:fb0", OWNER_A),
    ("fb:view:fb2", OWNER_B),
    ("fb:status:fb0:in_progress", OWNER_A),
    ("fb:status:fb2:in_progress", OWNER_B),
    ("fb:status:fb0:confirmed", set()),  # not from "open"
    ("fb:status:fb0:resolved", set()),  # only through fb:resolve, with a note
    ("fb:resolve:fb0", OWNER_A),
    ("fb:edit:fb0", OWNER_A),
    ("fb:del:fb2", OWNER_B),
    ("fb:del_ok:fb0", OWNER_A),
    # to-dos: todo0 is rep A's (about cust0), todo2 rep B's (about cust2); notes likewise, each with a photo
    ("todo:done:todo0", OWNER_A),
    ("todo:done:todo2", OWNER_B),
    ("todo:from:int0", OWNER_A),
    ("todo:from:int2", OWNER_B),
    ("note:file:note0:0", OWNER_A),
    ("note:file:note2:0", OWNER_B),
    ("note:file:note0:3", set()),  # no such file
    ("note:file:note0:x", set()),
]


async def reset_entries(app: Any) -> dict[str, Any]:
    """The baseline plus one interaction and one feedback per customer, as they were logged."""
    from bot.domain.models import (
        AttachmentKind,
        Feedback,
        FeedbackKind,
        Interaction,
        InteractionKind,
        Note,
        NoteAttachment,
        Todo,
    )

    await reset(app)
    services = app.bot_data[SERVICES_KEY]
    store, now = services.store, services.clock.now()
    for suffix, owner in (("0", REP_A), ("2", REP_B)):
        records = [
            (store.interactions, Interaction(id=f"int{suffix}", customer_id=f"cust{suffix}", owner_id=str(owner),
                                             kind=InteractionKind.CALL, occurred_at=now, summary="logged",
                                             created_at=now, updated_at=now)),
            (store.feedback, Feedback(id=f"fb{suffix}", customer_id=f"cust{suffix}", owner_id=str(owner),
                                      kind=FeedbackKind.QUESTION, content="asked", created_at=now, updated_at=now)),
            (store.todos, Todo(id=f"todo{suffix}", text="call back", assignee_id=str(owner), created_by=str(owner),
                               customer_id=f"cust{suffix}", created_at=now, updated_at=now)),
            (store.notes, Note(id=f"note{suffix}", customer_id=f"cust{suffix}", owner_id=str(owner),
                               author_id=str(owner), text="met",
                               attachments=[NoteAttachment(kind=AttachmentKind.PHOTO, file_id=f"photo{suffix}")],
                               created_at=now, updated_at=now)),
        ]
        for collection, record in records:
            existing = await collection.get(record.id)
            if existing is None:
                await collection.insert(record)
                await services.audit.record(str(owner), "create", type(record).__name__.lower(), record.id)
            else:
                await collection.update(dataclasses.replace(record, version=existing.version))
    return {
        "interactions": {i.id: (i.deleted, i.summary, i.kind) for i in await store.interactions.find()},
        "feedback": {f.id: (f.deleted, f.status, f.content) for f in await store.feedback.find()},
        "todos": {t.id: t.status for t in await store.todos.find()},
    }


@pytest.mark.parametrize("actor", list(ACTORS))
async def test_entry_buttons(team: dict[str, Any], bot: Any, actor: str) -> None:
    user = team[actor]
    store = bot.bot_data[SERVICES_KEY].store
    await user.send("/start")
    anchor = user.last_message().message_id
    for data, allowed in ENTRY_BUTTONS:
        before = await reset_entries(bot)
        await user.press_forged(anchor, data)
        answer = user.callback_answers[-1]
        if actor in allowed:
            assert not answer["show_alert"], (actor, data, answer["text"])
        else:
            refusals = (f"Your account was {DEACTIVATED}",) if actor == "deactivated" else (NOT_AVAILABLE,)
            assert answer["show_alert"] and answer["text"].startswith(refusals), (actor, data, answer["text"])
            after = {
                "interactions": {i.id: (i.deleted, i.summary, i.kind) for i in await store.interactions.find()},
                "feedback": {f.id: (f.deleted, f.status, f.content) for f in await store.feedback.find()},
                "todos": {t.id: t.status for t in await store.todos.find()},
            }
            assert after == before, (actor, data)


# ---- deals (issue 18): deal0 of cust0 (rep A, east), deal2 of cust2 (rep B, west) -------------------
DEAL_BUTTONS: list[tuple[str, set[str]]] = [
    ("dl:view:deal0", OWNER_A),
    ("dl:view:deal2", OWNER_B),
    ("dl:stage:deal0:proposal", OWNER_A),
    ("dl:stage:deal2:negotiation", OWNER_B),
    ("dl:won:deal0", OWNER_A),
    ("dl:won:deal2", OWNER_B),
    ("dl:lost:deal0", OWNER_A),
    ("dl:reason:deal2:1", OWNER_B),
    ("deal:edit:deal0", OWNER_A),
    ("deal:edit:deal2", OWNER_B),
    ("deal:new:cust0", OWNER_A),
    ("deal:new:cust2", OWNER_B),
    ("buy:won:deal0", OWNER_A),
    ("buy:won:deal2", OWNER_B),
    ("dl:cust:cust0", OWNER_A),
    ("dl:cust:cust2", OWNER_B),
    ("dl:page:0", STAFF_ONLY),
    ("dl:page:1", STAFF_ONLY),
    ("dl:reps", MANAGERS),
    ("dl:rep:all", MANAGERS),
    (f"dl:rep:{REP_A}", ADMIN_AND_MANAGER_A),
    (f"dl:rep:{REP_B}", {"admin", "manager of another team"}),
    # forged or stale
    ("dl:view:nosuchdeal", set()),
    ("dl:stage:deal0:won", set()),  # won and lost only through their own buttons
    ("dl:stage:deal0:nosuchstage", set()),
    ("dl:reason:deal0:99", set()),
    ("dl:reason:deal0:x", set()),
    ("dl:rep:424242", set()),
    ("deal:new:nosuchcustomer", set()),
    ("buy:won:nosuchdeal", set()),
    ("dl:view", set()),
]


async def reset_deals(app: Any) -> dict[str, Any]:
    """The baseline plus one open deal per customer, as they were created."""
    from decimal import Decimal

    from bot.domain.models import Deal

    await reset(app)
    services = app.bot_data[SERVICES_KEY]
    store, now = services.store, services.clock.now()
    for suffix, owner, team in (("0", REP_A, "east"), ("2", REP_B, "west")):
        deal = Deal(id=f"deal{suffix}", customer_id=f"cust{suffix}", owner_id=str(owner), team=team,
                    title=f"Deal {suffix}", amount=Decimal(1000), currency="CNY", stage="prospecting",
                    probability=10, created_at=now, updated_at=now)
        existing = await store.deals.get(deal.id)
        if existing is None:
            await store.deals.insert(deal)
        else:
            await store.deals.update(dataclasses.replace(deal, version=existing.version))
    return {d.id: (d.stage, d.open, d.lost_reason, d.title) for d in await store.deals.find()}


@pytest.mark.parametrize("actor", list(ACTORS))
async def test_deal_buttons(team: dict[str, Any], bot: Any, actor: str) -> None:
    user = team[actor]
    store = bot.bot_data[SERVICES_KEY].store
    await user.send("/start")
    anchor = user.last_message().message_id
    for data, allowed in DEAL_BUTTONS:
        before = await reset_deals(bot)
        await user.press_forged(anchor, data)
        answer = user.callback_answers[-1]
        if actor in allowed:
            assert not answer["show_alert"], (actor, data, answer["text"])
        else:
            refusals = (f"Your account was {DEACTIVATED}",) if actor == "deactivated" else REFUSALS
            assert answer["show_alert"] and answer["text"].startswith(refusals), (actor, data, answer["text"])
            after = {d.id: (d.stage, d.open, d.lost_reason, d.title) for d in await store.deals.find()}
            assert after == before, (actor, data)
        if data.startswith(("deal:edit", "deal:new", "buy:won")):
            await user.send("/cancel")


# ---- groups and channels: customer data only in private chats (issue 14, point 7) ---------------
PRIVATE_ONLY = "I answer only in a private chat"
GROUP_TEXTS = ["/start", "/find Customer", "/list", "/start card_cust0", "/log Customer 0 called", "Customer 0"]
GROUP_ACTORS = ("unregistered", "rep A", "manager of A's team", "admin")


@pytest.mark.parametrize("kind", ["group", "supergroup", "channel"])
async def test_groups_and_channels_never_get_customer_data(
    team: dict[str, Any], sandbox: Any, kind: str,
) -> None:
    chat = sandbox.group(-100123, "Sales floor", kind=kind)
    for actor in GROUP_ACTORS:
        member = chat.member(team[actor])
        for text in GROUP_TEXTS:
            try:
                replies = await member.send(text)
            except NoReply:  # the bot finished the update and said nothing: fine in a group
                replies = []
            texts = [m.text or m.caption or "" for m in replies]
            if kind == "channel" or actor == "unregistered" or not text.startswith("/"):
                assert texts == [], (kind, actor, text, texts)
            else:
                assert len(texts) == 1 and PRIVATE_ONLY in texts[0], (kind, actor, text, texts)
                assert replies[0].document is None and replies[0].photo is None
    for message in chat.bot_messages():
        assert "Customer" not in (message.text or ""), message.text
        assert not message.inline_keyboard
    assert not sandbox.refused


async def test_a_button_pressed_in_a_group_shows_nothing(team: dict[str, Any], sandbox: Any) -> None:
    chat = sandbox.group(-100124, "Sales floor")
    member = chat.member(team["rep A"])
    (anchor,) = await member.send("/help")
    for data in ("cust:view:cust0", "log:start:cust0", "rem:snooze:x:1h"):
        try:
            replies = await member.press_forged(anchor.message_id, data)
        except NoReply:
            replies = []
        assert replies == [] or all("Customer" not in (m.text or "") for m in replies)
        assert PRIVATE_ONLY in (member.callback_answers[-1].text or "")
    assert [m.text for m in chat.bot_messages()] == [anchor.text]
