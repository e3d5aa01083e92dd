"""Reminders through a faulty Bot API (issue 14, points 2 and 3): nothing lost, at most one duplicate.

The sandbox's fault plan makes sendMessage fail on the simulated clock: a
clear outage (503, nothing processed), or "accept then fail" (the message is
delivered and the answer is a 500 or a dropped connection).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bot.domain.models import ReminderKind, ReminderStatus
from bot.sandbox.server import FaultMode
from handlers.common import SERVICES_KEY
from tests.handlers.test_reminders import REP2, customer, local, run_until, team

CLIENTS = 15
OUTAGE = 600  # seconds: ten minutes of trouble


async def follow_ups(bot: Any, sandbox: Any, clock: Any) -> Any:
    users = await team(bot, sandbox, clock)
    for index in range(CLIENTS):
        await customer(bot, clock, f"Client {index:02}", owner=REP2,
                       next_follow_up_at=local(2026, 3, 2, 10, index))
    await run_until(bot, sandbox, clock, local(2026, 3, 2, 9, 59), step=timedelta(minutes=20))
    return users["rep2"]


def received(rep: Any) -> dict[str, int]:
    counts = {f"Client {i:02}": 0 for i in range(CLIENTS)}
    for message in rep.bot_messages():
        for name in counts:
            text = message.text or ""
            if f"Follow up with {name}" in text or ("While you were away" in text and name in text):
                counts[name] += 1
    return counts


async def statuses(bot: Any) -> list[ReminderStatus]:
    store = bot.bot_data[SERVICES_KEY].store
    return [r.status for r in await store.reminders.find({"kind": ReminderKind.FOLLOW_UP.value})]


async def test_a_ten_minute_outage_loses_no_reminder_and_duplicates_none(bot: Any, sandbox: Any, clock: Any) -> None:
    rep = await follow_ups(bot, sandbox, clock)
    fault = sandbox.faults.add("sendMessage", FaultMode.REFUSE, status=503, seconds=OUTAGE)
    await run_until(bot, sandbox, clock, local(2026, 3, 2, 11, 0), step=timedelta(minutes=1))
    assert fault.hits >= CLIENTS  # every reminder met the outage, most of them several times
    counts = received(rep)
    lost = [name for name, n in counts.items() if n == 0]
    duplicated = [name for name, n in counts.items() if n > 1]
    assert (lost, duplicated) == ([], [])
    assert await statuses(bot) == [ReminderStatus.SENT] * CLIENTS
    assert not sandbox.refused


@pytest.mark.parametrize("mode", [FaultMode.ACCEPT_THEN_FAIL, FaultMode.ACCEPT_THEN_DROP])
async def test_accepted_but_answer_lost_gives_at_most_one_duplicate(
    bot: Any, sandbox: Any, clock: Any, mode: FaultMode,
) -> None:
    rep = await follow_ups(bot, sandbox, clock)
    fault = sandbox.faults.add("sendMessage", mode, status=500, seconds=OUTAGE)
    await run_until(bot, sandbox, clock, local(2026, 3, 2, 11, 0), step=timedelta(minutes=1))
    assert fault.hits >= CLIENTS
    counts = received(rep)
    assert min(counts.values()) >= 1, counts  # nothing lost
    assert max(counts.values()) <= 2, counts  # never more than one duplicate
    assert set(await statuses(bot)) == {ReminderStatus.SENT}


async def test_a_single_ambiguous_failure_is_retried_once(bot: Any, sandbox: Any, clock: Any) -> None:
    rep = await follow_ups(bot, sandbox, clock)
    fault = sandbox.faults.add("sendMessage", FaultMode.REFUSE, status=500, calls=1)  # not delivered, but unknown
    await run_until(bot, sandbox, clock, local(2026, 3, 2, 11, 0), step=timedelta(minutes=1))
    assert fault.hits == 1
    assert set(received(rep).values()) == {1}
    assert await statuses(bot) == [ReminderStatus.SENT] * CLIENTS
