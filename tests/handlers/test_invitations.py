"""The invitation life cycle, end to end: create, redeem, reuse refused, expiry, revoke."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from bot.domain.models import Role, StaffUser
from handlers.common import SERVICES_KEY

LINK = re.compile(r"https://t\.me/crm_sandbox_bot\?start=([A-Za-z0-9_-]+)")


async def invite(admin: Any, *, role: str = "rep", team: str | None = None, days: str = "7 days") -> str:
    await admin.send("/invite")
    await admin.press(role)
    if team is None:
        await admin.press("✏️ New team…")
        await admin.send("华东 East")
    else:
        await admin.press(team)
    replies = await admin.press(days)
    match = LINK.search(replies[-1].text)
    assert match, replies[-1].text
    return match.group(1)


async def test_create_redeem_and_reuse_refused(admin: Any, sandbox: Any, bot: Any) -> None:
    code = await invite(admin)
    assert "valid until" in admin.last_message().text
    labels = [b["text"] for row in admin.last_message().reply_markup["inline_keyboard"] for b in row]
    assert labels == ["📋 Copy link", "Revoke"]
    newcomer = sandbox.user(880, first_name="Nina", last_name="Neu", username="nina", language_code="zh-hans")
    replies = await newcomer.send(f"/start {code}")
    assert "你好，<b>" not in replies[-1].text and "Nina Neu" in replies[-1].text
    assert "销售代表" in replies[-1].text and "华东 East" in replies[-1].text
    staff: StaffUser = await bot.bot_data[SERVICES_KEY].staff.get(880)
    assert staff.role is Role.REP and staff.teams == ["华东 East"] and staff.language == "zh"
    replies = await newcomer.send("/whoami")
    assert "销售代表" in replies[-1].text

    second = sandbox.user(881, first_name="Otto", language_code="en")
    replies = await second.send(f"/start {code}")
    assert "already been used" in replies[-1].text
    assert await bot.bot_data[SERVICES_KEY].staff.get(881) is None
    replies = await second.send("/help")
    assert "not registered" in replies[-1].text

    replies = await newcomer.send(f"/start {code}")
    assert "已经开通" in replies[0].text


async def test_expired_invitation_is_refused(admin: Any, sandbox: Any, clock: Any) -> None:
    code = await invite(admin, days="1 day")
    clock.advance(timedelta(days=1, seconds=1))
    late = sandbox.user(882, first_name="Late", language_code="en")
    replies = await late.send(f"/start {code}")
    assert "expired" in replies[-1].text


async def test_revoked_invitation_is_refused_and_listed_no_more(admin: Any, sandbox: Any) -> None:
    code = await invite(admin)
    replies = await admin.send("/invitations")
    assert code in replies[-1].text
    replies = await admin.press(f"Revoke {code[:6]}…")
    assert "revoked" in replies[-1].text
    replies = await admin.send("/invitations")
    assert "no open invitations" in replies[-1].text
    user = sandbox.user(883, first_name="Rev", language_code="en")
    replies = await user.send(f"/start {code}")
    assert "was revoked" in replies[-1].text


async def test_unknown_and_garbage_codes(sandbox: Any, bot: Any) -> None:
    user = sandbox.user(884, first_name="Guess", language_code="en")
    for payload in ("nope", "<b>x</b>", "x" * 300, "😀"):
        replies = await user.send(f"/start {payload}")
        assert "not valid" in replies[-1].text


async def test_manager_invites_reps_of_their_team_only(admin: Any, sandbox: Any, bot: Any) -> None:
    code = await invite(admin, role="manager", team=None)
    manager = sandbox.user(885, first_name="Mgr", language_code="en")
    await manager.send(f"/start {code}")
    await manager.send("/invite")
    roles = [b["text"] for row in manager.last_message().reply_markup["inline_keyboard"] for b in row]
    assert roles == ["rep", "✖ Cancel"]
    await manager.press("rep")
    teams = [b["text"] for row in manager.last_message().reply_markup["inline_keyboard"] for b in row]
    assert teams == ["华东 East", "✖ Cancel"]
    await manager.press("华东 East")
    replies = await manager.press("30 days")
    assert LINK.search(replies[-1].text)
    # a forged role button for a manager invitation is refused
    await manager.send("/invite")
    await manager.press_forged(manager.last_message().message_id, "inv:role:admin")
    assert manager.callback_answers[-1]["text"] == "This is not available."


async def test_wizard_cancel_keeps_nothing(admin: Any, bot: Any) -> None:
    await admin.send("/invite")
    await admin.press("manager")
    replies = await admin.press("✖ Cancel")
    assert "Cancelled" in replies[-1].text
    assert await bot.bot_data[SERVICES_KEY].store.invitations.count() == 0


async def test_team_name_is_validated(admin: Any) -> None:
    await admin.send("/invite")
    await admin.press("rep")
    await admin.press("✏️ New team…")
    replies = await admin.send("x" * 51)
    assert "1 to 50 characters" in replies[-1].text
    replies = await admin.send("Team 🚀 <b>")
    assert "How long" in replies[-1].text
