"""Delivery's pace (bot/pacing.py) on a simulated clock: a share of the global budget, each chat's own rate."""

from __future__ import annotations

from typing import Any

from bot.pacing import DeliveryPacer
from bot.ratelimit import RateLimits, TelegramRateLimiter
from tests.bot.test_ratelimit import FakeTime


def pacer(time: FakeTime, **limits: Any) -> tuple[DeliveryPacer, TelegramRateLimiter]:
    limiter = TelegramRateLimiter(RateLimits(**limits), clock=time.clock, sleep=time.sleep)
    return DeliveryPacer(limiter, reserve=2, clock=time.clock, sleep=time.sleep), limiter


async def test_delivery_takes_at_most_its_share_while_interactive_sends_are_about() -> None:
    time = FakeTime()
    pace, limiter = pacer(time)
    started: list[float] = []

    async def answer() -> None:  # an interactive send, through the limiter's global window
        window = limiter.global_window
        await window.acquire(time.clock, time.sleep)
        window.release(time.clock())

    async def send(chat: int) -> None:
        async with pace.turn(chat):
            started.append(time.now)

    await time.run(answer())
    await time.run(*(send(1000 + n) for n in range(60)))  # sixty chats, one message each
    assert pace.share == 28
    assert sum(1 for t in started if t < 1.0) == 28  # two a second stay free for answers
    assert max(started) < 3.0  # and no slower than the share


async def test_with_no_interactive_send_about_delivery_takes_the_whole_budget() -> None:
    time = FakeTime()
    pace, _limiter = pacer(time)
    started: list[float] = []

    async def send(chat: int) -> None:
        async with pace.turn(chat):
            started.append(time.now)

    await time.run(*(send(1000 + n) for n in range(60)))
    assert sum(1 for t in started if t < 1.0) == 30  # the limiter's whole 30 a second
    assert max(started) < 2.0


async def test_the_reserve_comes_back_with_the_first_interactive_send() -> None:
    time = FakeTime()
    pace, limiter = pacer(time)
    started: list[float] = []

    async def send(chat: int) -> None:
        async with pace.turn(chat):
            started.append(time.now)
            window = limiter.global_window  # what the limiter does for delivery's send
            await window.acquire(time.clock, time.sleep)
            window.release(time.clock())

    async def answer_at(moment: float) -> None:
        await time.sleep(moment)
        window = limiter.global_window
        await window.acquire(time.clock, time.sleep)
        window.release(time.clock())

    await time.run(answer_at(0.5), *(send(1000 + n) for n in range(150)))
    per_second = [sum(1 for t in started if k <= t < k + 1) for k in range(5)]
    # quiet: all of it; the answer waited for the next slot, when second 1's were already taken;
    # from the next look on the reserve is kept (HOLD seconds): 28 a second
    assert per_second[:2] == [30, 30]
    assert per_second[3] == 28 and max(per_second[2:]) <= 29


async def test_a_chat_is_paced_at_its_own_rate_without_holding_up_the_others() -> None:
    time = FakeTime()
    pace, limiter = pacer(time, private_chat_burst=3)
    times: dict[int, list[float]] = {1: [], 2: []}

    async def chat(chat_id: int, count: int) -> None:
        for _ in range(count):
            async with pace.turn(chat_id):
                gate = limiter.chat_window(chat_id)
                await gate.acquire(time.clock, time.sleep)  # what the limiter does for the send
                gate.release(time.clock())
                times[chat_id].append(time.now)

    await time.run(chat(1, 6), chat(2, 2))
    assert times[1][:3] == [0.0, 0.0, 0.0]  # the burst
    assert [round(t) for t in times[1][3:]] == [1, 2, 3]  # then one a second
    assert times[2] == [0.0, 0.0]  # the other chat never waited for the first


async def test_a_chat_under_flood_control_waits_its_retry_after_and_only_that_chat() -> None:
    time = FakeTime()
    pace, limiter = pacer(time)
    limiter.chat_window(1).blocked_until = 30.0  # a 429 with retry_after 30 for chat 1
    when: dict[int, float] = {}

    async def send(chat: int) -> None:
        async with pace.turn(chat):
            when[chat] = time.now

    await time.run(send(1), send(2))
    assert when == {1: 30.0, 2: 0.0}


async def test_without_throttling_only_a_429_pause_is_honoured() -> None:
    time = FakeTime()
    limiter = TelegramRateLimiter(throttle=False, clock=time.clock, sleep=time.sleep)
    pace = DeliveryPacer(limiter, clock=time.clock, sleep=time.sleep)
    limiter.chat_window(1).blocked_until = 5.0
    when: list[float] = []

    async def send(chat: int) -> None:
        async with pace.turn(chat):
            when.append(time.now)

    await time.run(*(send(2) for _ in range(100)), send(1))
    assert when.count(0.0) == 100 and max(when) == 5.0
