"""Updates run concurrently across users and in order for each user (bot/concurrency.py).

Handlers block on events the test releases, so every order below is forced,
not timed: no sleeps.
"""

from __future__ import annotations

import asyncio
from typing import Any

from telegram import Chat, Message, Update, User
from telegram.ext import ContextTypes

from bot.concurrency import PerUserUpdateProcessor
from bot.domain.models import Role, StaffUser
from handlers.common import SERVICES_KEY
from tests.helpers import add_command

OTHER_ID = 733


def _update(update_id: int, user_id: int) -> Update:
    user = User(user_id, "u", is_bot=False)
    chat = Chat(user_id, Chat.PRIVATE)
    message = Message(update_id, None, chat, from_user=user, text="x")  # type: ignore[arg-type]
    return Update(update_id, message=message)


async def _until(condition: Any, turns: int = 1000) -> None:
    """Let the other tasks run (event-loop turns, no wall-clock wait) until ``condition``."""
    for _ in range(turns):
        if condition():
            return
        await asyncio.sleep(0)


async def test_one_users_updates_wait_for_each_other_and_other_users_do_not() -> None:
    processor = PerUserUpdateProcessor(4)
    log: list[str] = []
    gates = {name: asyncio.Event() for name in ("a1", "a2", "b1")}

    async def work(name: str) -> None:
        log.append(f"{name} start")
        await gates[name].wait()
        log.append(f"{name} end")

    a1 = asyncio.create_task(processor.process_update(_update(1, 10), work("a1")))
    a2 = asyncio.create_task(processor.process_update(_update(2, 10), work("a2")))
    b1 = asyncio.create_task(processor.process_update(_update(3, 20), work("b1")))
    await _until(lambda: log == ["a1 start", "b1 start"])
    assert processor.running == 2
    gates["a2"].set()  # a2 may finish at once, but must not start before a1 ended
    gates["b1"].set()
    await b1
    assert "a2 start" not in log
    gates["a1"].set()
    await asyncio.gather(a1, a2)
    assert log == ["a1 start", "b1 start", "b1 end", "a1 end", "a2 start", "a2 end"]
    assert processor.running == 0


async def test_the_slots_bound_how_many_users_run_at_once() -> None:
    processor = PerUserUpdateProcessor(2)
    gate = asyncio.Event()
    started: list[int] = []

    async def work(user: int) -> None:
        started.append(user)
        await gate.wait()

    tasks = [
        asyncio.create_task(processor.process_update(_update(n, 100 + n), work(n)))
        for n in range(1, 5)
    ]
    await _until(lambda: len(started) >= 2)
    await _until(lambda: False, turns=50)  # give the others every chance to start (they must not)
    assert started == [1, 2] and processor.running == 2
    gate.set()
    await asyncio.gather(*tasks)
    assert started == [1, 2, 3, 4]


async def test_one_is_strictly_sequential() -> None:
    processor = PerUserUpdateProcessor(1)
    assert processor.max_concurrent_updates == 1  # PTB then awaits each update in turn


async def test_another_users_help_is_answered_while_a_slow_handler_runs_in_order(
    sandbox: Any, bot: Any, admin: Any, clock: Any
) -> None:
    """The real bot: the admin's slow update holds back only the admin's next one."""
    now = clock.now()
    await bot.bot_data[SERVICES_KEY].store.staff.insert(StaffUser(
        id=str(OTHER_ID), telegram_id=OTHER_ID, name="Li Lei", role=Role.REP, teams=["east"],
        language="en", created_at=now, updated_at=now,
    ))
    other = sandbox.user(OTHER_ID, first_name="Li", language_code="en")
    release = asyncio.Event()
    started = asyncio.Event()
    order: list[str] = []

    async def slow(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        order.append("slow start")
        started.set()
        await release.wait()
        order.append("slow end")
        await update.effective_message.reply_text("slow done")  # type: ignore[union-attr]

    async def mark(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        order.append("mark")
        await update.effective_message.reply_text("marked")  # type: ignore[union-attr]

    add_command(bot, "slow", slow)
    add_command(bot, "mark", mark)
    first = asyncio.create_task(admin.send("/slow"))
    await asyncio.wait_for(started.wait(), 30)
    second = asyncio.create_task(admin.send("/mark"))
    help_replies = await other.send("/help")  # answered while the admin's update still runs
    assert "What I can do" in help_replies[-1].text
    assert not first.done() and not second.done()
    assert order == ["slow start"]
    release.set()
    assert [m.text for m in await first] == ["slow done"]
    assert [m.text for m in await second] == ["marked"]
    assert order == ["slow start", "slow end", "mark"]
