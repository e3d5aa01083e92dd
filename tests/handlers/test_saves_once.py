"""Creating a customer and an invitation, and redeeming one, happen once (issue 14.1's remaining class).

A repeated confirm — a double press, or the same press again after the process died
between the store's write and the "saved" answer — creates exactly one record: the
customer's id is the draft's token, an invitation's code is claimed under the draft's
key before it is inserted, and a redemption half done is finished, not refused. The
crash is simulated in process: the write that follows the record's (the saved-drafts
ledger entry, or the staff record after the invitation is marked redeemed) fails once,
as if the bot had been killed there, and the user presses or opens again.
"""

from __future__ import annotations

from typing import Any

import pytest

from bot.domain.models import Role
from handlers.common import SERVICES_KEY
from handlers.wizard import ALREADY_SAVED
from tests.handlers.test_buttons import add_staff
from tests.handlers.test_invitations import LINK

REP_ID = 741


class Killed(Exception):
    """The process died here (in process: the update fails, nothing after it is written)."""


def kill_once(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str) -> list[int]:
    """The next call of ``owner.name`` dies before doing anything; later calls work."""
    original = getattr(owner, name)
    calls: list[int] = []

    async def dying(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise Killed(name)
        return await original(*args, **kwargs)

    monkeypatch.setattr(owner, name, dying)
    return calls


async def test_a_double_press_of_save_creates_one_customer(bot: Any, sandbox: Any) -> None:
    rep = await add_staff(bot, sandbox, REP_ID, "Wang Fang", Role.REP, ["east"])
    await rep.send("/add Zhang Wei")
    card = rep.last_message()
    data = next(b["callback_data"] for row in card.inline_keyboard for b in row if b["text"] == "✅ Save")
    # both taps reach the bot before it answered the first (Telegram delivers both)
    await rep.press_forged(card.message_id, data, wait=False)
    replies = await rep.press_forged(card.message_id, data)
    assert ALREADY_SAVED in " ".join(m.text or "" for m in replies) + " ".join(
        a.text or "" for a in rep.callback_answers)
    assert await bot.bot_data[SERVICES_KEY].store.customers.count() == 1


async def test_save_again_after_a_crash_between_write_and_answer_creates_one_customer(
    bot: Any, sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    rep = await add_staff(bot, sandbox, REP_ID, "Wang Fang", Role.REP, ["east"])
    services = bot.bot_data[SERVICES_KEY]
    kill_once(monkeypatch, services.drafts, "_record")  # the customer is stored, the ledger entry is not
    await rep.send("/add Zhang Wei 13800138000")
    await rep.press("✅ Save")
    assert await services.store.customers.count() == 1
    replies = await rep.press("✅ Save")  # no "saved" came: the user presses again
    text = " ".join(m.text or "" for m in replies) + " ".join(a.text or "" for a in rep.callback_answers)
    assert ALREADY_SAVED in text and "possible duplicate" not in text.lower()
    (customer,) = await services.store.customers.find()
    assert customer.name == "Zhang Wei"
    assert await services.store.customers.count() == 1


async def test_invitation_saved_again_after_a_crash_is_one_invitation(
    bot: Any, admin: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    services = bot.bot_data[SERVICES_KEY]
    kill_once(monkeypatch, services.drafts, "_record")
    await admin.send("/invite")
    await admin.press("rep")
    await admin.press("✏️ New team…")
    await admin.send("East")
    await admin.press("7 days")  # stored, then "killed" before the ledger and the link
    assert len(await services.store.invitations.find()) == 1
    replies = await admin.press("7 days")
    text = " ".join(m.text or "" for m in replies) + " ".join(a.text or "" for a in admin.callback_answers)
    assert ALREADY_SAVED in text
    assert len(await services.store.invitations.find()) == 1


async def test_redeeming_again_after_a_crash_registers_once(
    bot: Any, sandbox: Any, admin: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    services = bot.bot_data[SERVICES_KEY]
    await admin.send("/invite")
    await admin.press("rep")
    await admin.press("✏️ New team…")
    await admin.send("East")
    code = LINK.search((await admin.press("7 days"))[-1].text).group(1)

    newcomer = sandbox.user(881, first_name="Nina", language_code="en")
    kill_once(monkeypatch, services.store.staff, "insert")  # the invitation is marked used, then the kill
    await newcomer.send(f"/start {code}")
    assert await services.staff.get(881) is None
    replies = await newcomer.send(f"/start {code}")  # the user opens the link again
    assert "Nina" in replies[-1].text and "already been used" not in replies[-1].text
    staff = await services.staff.get(881)
    assert staff is not None and staff.role is Role.REP and staff.teams == ["East"]
    await newcomer.send(f"/start {code}")  # and once more: still one registration
    assert len([u for u in await services.store.staff.find() if u.telegram_id == 881]) == 1
    other = sandbox.user(882, first_name="Otto", language_code="en")
    replies = await other.send(f"/start {code}")
    assert "already been used" in replies[-1].text
