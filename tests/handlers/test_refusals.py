"""Refusals say why (issue 13, point 17): the role a command or button is for; a deactivated
account is told so and whom to ask; a stranger is still "not registered"; and a customer the
caller may not see stays "not available" whatever the role."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from handlers.common import SERVICES_KEY
from tests.conftest import ADMIN_ID
from tests.handlers.test_access_matrix import (
    GONE,
    INVITATION,
    MANAGER_A,
    REP_A,
    REP_B,
    STRANGER,
    reset,
)

FOR_MANAGERS = {"en": "for managers and admins", "zh": "仅限经理和管理员"}
FOR_ADMINS = {"en": "for admins only", "zh": "仅限管理员使用"}
NOT_AVAILABLE = {"en": "This is not available.", "zh": "该内容不可用。"}


async def speaking(bot: Any, sandbox: Any, telegram_id: int, language: str) -> Any:
    store = bot.bot_data[SERVICES_KEY].store
    user = await store.staff.get(str(telegram_id))
    if user is not None:
        await store.staff.update(dataclasses.replace(user, language=language))
    return sandbox.user(telegram_id, first_name="User", language_code=language)


def texts(replies: list[Any]) -> str:
    return " ".join(m.text or m.caption or "" for m in replies)


@pytest.mark.parametrize("language", ["en", "zh"])
async def test_a_rep_is_told_which_role_a_command_is_for(bot: Any, sandbox: Any, language: str) -> None:
    await reset(bot)
    rep = await speaking(bot, sandbox, REP_A, language)
    for command in ("/staff", "/invite", "/invitations"):
        said = texts(await rep.send(command))
        assert FOR_MANAGERS[language] in said, (command, said)
        assert NOT_AVAILABLE[language] not in said
    assert FOR_ADMINS[language] in texts(await rep.send("/audit"))
    manager = await speaking(bot, sandbox, MANAGER_A, language)
    assert FOR_ADMINS[language] in texts(await manager.send("/audit"))


@pytest.mark.parametrize("language", ["en", "zh"])
async def test_a_button_refused_for_the_role_names_the_role(bot: Any, sandbox: Any, language: str) -> None:
    await reset(bot)
    store = bot.bot_data[SERVICES_KEY].store
    rep = await speaking(bot, sandbox, REP_A, language)
    await rep.send("/start")
    anchor = rep.last_message().message_id
    # rep A owns cust0 (east); rep B owns cust2 (west)
    for data, needed in [
        (f"staff:view:{REP_A}", FOR_MANAGERS), ("staff:view:424242", FOR_MANAGERS),
        ("cust:reassign:cust0", FOR_MANAGERS), (f"cust:reassign_to:cust0:{REP_B}", FOR_MANAGERS),
        ("cust:audit:cust0", FOR_MANAGERS), ("cust:purge:cust0", FOR_ADMINS), ("cust:purge_ok:cust0", FOR_ADMINS),
        (f"rep:scope:{REP_B}", FOR_MANAGERS), ("rep:period:today:424242", FOR_MANAGERS),
        (f"inv:revoke:{INVITATION}", FOR_MANAGERS),
    ]:
        await rep.press_forged(anchor, data)
        answer = rep.callback_answers[-1]
        assert answer["show_alert"] and needed[language] in answer["text"], (data, answer)
    assert (await store.customers.get("cust0")).owner_id == str(REP_A)
    # a customer the rep may not see stays "not available": the refusal never says it exists
    for data in ("cust:reassign:cust2", "cust:purge_ok:cust2", "cust:audit:cust2", "cust:reassign:nosuch"):
        await rep.press_forged(anchor, data)
        assert rep.callback_answers[-1]["text"] == NOT_AVAILABLE[language], data
    manager = await speaking(bot, sandbox, MANAGER_A, language)
    await manager.send("/start")
    anchor = manager.last_message().message_id
    for data in (f"staff:role:{REP_A}", f"staff:setrole:{REP_A}:manager", f"staff:newteam:{REP_A}",
                 "cust:purge:cust0"):
        await manager.press_forged(anchor, data)
        assert FOR_ADMINS[language] in manager.callback_answers[-1]["text"], data
    await manager.send("/cancel")
    await manager.press_forged(anchor, f"staff:view:{REP_B}")  # another team's rep: no role would help
    assert manager.callback_answers[-1]["text"] == NOT_AVAILABLE[language]
    assert (await store.staff.get(str(REP_A))).role.value == "rep"


@pytest.mark.parametrize("language", ["en", "zh"])
async def test_a_deactivated_user_is_told_so_and_whom_to_ask(bot: Any, sandbox: Any, language: str) -> None:
    await reset(bot)  # GONE is a deactivated rep of team east, whose manager is Mia Manager
    gone = await speaking(bot, sandbox, GONE, language)
    said = texts(await gone.send("/start"))
    assert {"en": "deactivated", "zh": "已被停用"}[language] in said
    assert "Mia Manager" in said
    assert {"en": "not registered", "zh": "还没有开通"}[language] not in said
    await gone.press_forged(gone.last_message().message_id, "cust:view:cust0")
    assert {"en": "deactivated", "zh": "已被停用"}[language] in gone.callback_answers[-1]["text"]
    # a manager with no manager above asks the admins
    store = bot.bot_data[SERVICES_KEY].store
    manager = await store.staff.get(str(MANAGER_A))
    await store.staff.update(dataclasses.replace(manager, active=False))
    admin = await store.staff.get(str(ADMIN_ID))
    said = texts(await (await speaking(bot, sandbox, MANAGER_A, language)).send("/help"))
    assert admin.name in said and {"en": "deactivated", "zh": "已被停用"}[language] in said
    stranger = sandbox.user(STRANGER, first_name="Who", language_code=language)
    said = texts(await stranger.send("/start"))
    assert {"en": "not registered", "zh": "还没有开通"}[language] in said
    assert {"en": "deactivated", "zh": "已被停用"}[language] not in said
