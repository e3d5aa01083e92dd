"""A reminder our own code cannot render is a bug to log loudly, never a refusal to give up on."""

from __future__ import annotations

import logging

import pytest

from bot.domain.models import ReminderKind, ReminderStatus
from bot.services import Services
from bot.services.delivery import RenderFailure, Result
from tests.bot.services.test_delivery import NOW, FakeTelegram, follow_up, status, svc  # noqa: F401


@pytest.mark.parametrize("bug", [RenderFailure("render: KeyError: 'name'"), KeyError("name")])
async def test_a_rendering_bug_keeps_the_reminder_pending_and_is_logged_loudly(
    svc: Services, bug: Exception, caplog: pytest.LogCaptureFixture,  # noqa: F811
) -> None:
    reminder = await follow_up(svc)
    send = FakeTelegram()
    now = NOW
    for _ in range(svc.config.reminders.max_attempts + 2):  # more often than refusals are tolerated
        send.fail_with = [bug]
        with caplog.at_level(logging.ERROR, logger="bot.services.delivery"):
            outcomes = await svc.delivery.deliver_due(now, send)
        assert [o.result for o in outcomes] == [Result.RETRYING]
        stored = await status(svc, reminder)
        assert stored.status is ReminderStatus.PENDING and stored.due_at > now
        now = stored.due_at
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors and all(r.exc_info for r in errors)  # with the traceback
    assert "KeyError" in (await status(svc, reminder)).last_error
    # No "delivery failures" report: nothing was given up.
    assert not await svc.store.reminders.find({"kind": ReminderKind.DELIVERY_FAILURES.value})
    # Once the bug is fixed the reminder goes out.
    assert [o.result for o in await svc.delivery.deliver_due(now, send)] == [Result.SENT]
    assert (await status(svc, reminder)).status is ReminderStatus.SENT
