"""Buttons that change nothing, and edits too long for one message, are not errors (issue 14.12).

Pressing the page a list already shows, or "Clear filters" with none set, draws the same
screen again: Telegram answers "message is not modified", which is a success. Archiving a
card longer than 4,096 characters is saved and shown as saved: the card is split as a send is.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from bot.domain.models import Customer, Role, StaffUser
from handlers.common import SERVICES_KEY
from handlers.errors import HANDLED_KEY

REP_ID = 711
ERROR_TEXT = {"en": "something went wrong", "zh": "出了点问题"}


async def add_staff(bot: Any, sandbox: Any, telegram_id: int, name: str, role: Role, teams: list[str],
                    language: str = "en") -> Any:
    """A registered staff user, and the sandbox user who is them."""
    services = bot.bot_data[SERVICES_KEY]
    now = services.clock.now()
    await services.store.staff.insert(StaffUser(id=str(telegram_id), telegram_id=telegram_id, name=name, role=role,
                                                teams=teams, language=language, created_at=now, updated_at=now))
    return sandbox.user(telegram_id, first_name=name.split()[0], language_code=language)


@pytest.fixture
async def rep(bot: Any, sandbox: Any) -> Any:
    return await add_staff(bot, sandbox, REP_ID, "Wang Fang", Role.REP, ["east"])


async def customers(bot: Any, clock: Any, count: int, **fields: Any) -> list[Customer]:
    store = bot.bot_data[SERVICES_KEY].store
    now = clock.now()
    made = []
    for index in range(count):
        made.append(await store.customers.insert(Customer(
            id=f"c{index:03d}", name=f"Chen {index:02d}", owner_id=str(REP_ID), team="east",
            created_by=str(REP_ID), created_at=now, updated_at=now, **fields)))
    return made


def no_error(bot: Any, user: Any, replies: list[Any]) -> None:
    texts = [m.text or "" for m in replies] + [a.text or "" for a in user.callback_answers]
    assert not any(ERROR_TEXT["en"] in t or ERROR_TEXT["zh"] in t for t in texts), texts
    assert bot.bot_data.get(HANDLED_KEY, []) == []


async def test_the_current_page_of_list_and_find_answers_quietly(rep: Any, bot: Any, clock: Any) -> None:
    await customers(bot, clock, 9)
    replies = await rep.send("/list")
    assert any("1/2" in row for row in replies[-1].button_labels())
    screen = replies[-1].text
    replies = await rep.press("1/2")
    no_error(bot, rep, replies)
    assert rep.last_message().text == screen
    assert rep.callback_answers[-1].text in (None, "") and not rep.callback_answers[-1].show_alert

    await rep.press("›")
    replies = await rep.press("2/2")
    no_error(bot, rep, replies)

    await rep.send("/find Chen")
    replies = await rep.press("1/2")
    no_error(bot, rep, replies)
    assert "Chen" in rep.last_message().text


async def test_clear_filters_with_none_set_answers_quietly(rep: Any, bot: Any, clock: Any) -> None:
    await customers(bot, clock, 2)
    await rep.send("/list")
    replies = await rep.press("Clear filters")
    no_error(bot, rep, replies)
    assert rep.callback_answers[-1].show_alert is False


@pytest.mark.parametrize("language", ["en", "zh"])
async def test_archiving_a_card_longer_than_a_message_is_saved_and_shown_saved(
    rep: Any, bot: Any, clock: Any, language: str
) -> None:
    store = bot.bot_data[SERVICES_KEY].store
    staff = await store.staff.get(str(REP_ID))
    await store.staff.update(dataclasses.replace(staff, language=language))
    long = " ".join(["<note> & more"] * 280)  # about 4,000 characters, more once escaped
    (customer,) = await customers(bot, clock, 1, notes=long, preferences=long[:3900], address=long[:3900])
    replies = await rep.send(f"/start card_{customer.id}")
    assert len(replies) >= 2 and all(len(m.text) <= 4096 for m in replies)
    labels = [label for row in replies[-1].button_labels() for label in row]
    archive = next(label for label in labels if "🗄" in label)
    replies = await rep.press(archive)
    no_error(bot, rep, replies)
    assert (await store.customers.get(customer.id)).archived
    shown = [m for m in rep.bot_messages() if m.text and "Chen 00" in m.text][-1]
    assert ("archived" if language == "en" else "已归档") in shown.text
    assert all(len(m.text or "") <= 4096 for m in rep.bot_messages())
    # the card's buttons are still there, on its last part, and no longer offer to archive
    last = rep.bot_messages()[-1]
    assert last.inline_keyboard and archive not in [label for row in last.button_labels() for label in row]
