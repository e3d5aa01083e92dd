"""Reply-markup validation and flood control, unit-level and over HTTP."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
import telegram
from telegram.error import BadRequest, RetryAfter

from bot.sandbox import ApiLimits, FloodLimits, SandboxServer
from bot.sandbox.errors import ApiError
from bot.sandbox.limits import FloodController
from bot.sandbox.markup import validate_reply_markup

LIMITS = ApiLimits()


def inline(*buttons: dict[str, Any]) -> dict[str, Any]:
    return {"inline_keyboard": [list(buttons)]}


def reason(markup: Any, **kwargs: Any) -> str:
    with pytest.raises(ApiError) as caught:
        validate_reply_markup(markup, LIMITS, **kwargs)
    assert caught.value.error_code == 400
    return caught.value.description


# -- reply markup -----------------------------------------------------------------


def test_callback_data_limit_is_64_bytes() -> None:
    ok = inline({"text": "ok", "callback_data": "x" * 64})
    assert validate_reply_markup(ok, LIMITS) == ok
    assert reason(inline({"text": "long", "callback_data": "x" * 65})) == (
        "Bad Request: BUTTON_DATA_INVALID"
    )
    # Bytes, not characters: 22 CJK characters are 66 bytes.
    assert reason(inline({"text": "cjk", "callback_data": "张" * 22})) == (
        "Bad Request: BUTTON_DATA_INVALID"
    )
    assert reason(inline({"text": "empty", "callback_data": ""})) == (
        "Bad Request: BUTTON_DATA_INVALID"
    )


def test_inline_button_needs_exactly_one_action() -> None:
    assert reason(inline({"text": "nothing"})) == (
        "Bad Request: can't parse inline keyboard button: "
        "Text buttons are unallowed in the inline keyboard"
    )
    assert "exactly one" in reason(
        inline({"text": "two", "callback_data": "a", "url": "https://example.com"})
    )
    for action in (
        {"url": "https://example.com"},
        {"url": "tg://user?id=1"},
        {"copy_text": {"text": "+8613800138000"}},
        {"switch_inline_query": ""},
        {"switch_inline_query_current_chat": "q"},
        {"web_app": {"url": "https://example.com/app"}},
    ):
        validate_reply_markup(inline({"text": "b", **action}), LIMITS)


def test_copy_text_limit() -> None:
    validate_reply_markup(inline({"text": "c", "copy_text": {"text": "x" * 256}}), LIMITS)
    assert reason(inline({"text": "c", "copy_text": {"text": "x" * 257}})) == (
        "Bad Request: BUTTON_COPY_TEXT_INVALID"
    )


def test_bad_urls_and_shapes() -> None:
    assert reason(inline({"text": "u", "url": "not a url"})) == "Bad Request: BUTTON_URL_INVALID"
    assert "must be an Array of Arrays" in reason({"inline_keyboard": [{"text": "x"}]})
    assert "must be an Array" in reason({"inline_keyboard": "x"})
    assert "InlineKeyboardButton must be an Object" in reason({"inline_keyboard": [["x"]]})
    assert reason([1, 2]) == "Bad Request: can't parse reply keyboard markup JSON object"
    assert reason({"something": True}) == (
        "Bad Request: can't parse reply keyboard markup JSON object"
    )
    too_many = {"inline_keyboard": [[{"text": "b", "callback_data": "d"}] * 10] * 11}
    assert reason(too_many) == "Bad Request: reply markup is too long"


def test_reply_keyboard_remove_and_force_reply() -> None:
    keyboard = validate_reply_markup(
        {
            "keyboard": [["Help", {"text": "Share phone", "request_contact": True}]],
            "resize_keyboard": True,
        },
        LIMITS,
    )
    assert keyboard == {
        "keyboard": [[{"text": "Help"}, {"text": "Share phone", "request_contact": True}]],
        "resize_keyboard": True,
    }
    assert validate_reply_markup({"remove_keyboard": True}, LIMITS) == {"remove_keyboard": True}
    assert validate_reply_markup({"force_reply": True, "input_field_placeholder": "Name"}, LIMITS)
    assert "at most one" in reason(
        {"keyboard": [[{"text": "x", "request_contact": True, "request_location": True}]]}
    )
    assert reason({"keyboard": [[{"text": "x"}]]}, inline_only=True) == (
        "Bad Request: inline keyboard expected"
    )


async def test_ptb_payloads_are_validated(tg: telegram.Bot, server: SandboxServer) -> None:
    server.user(1001)
    button = telegram.InlineKeyboardButton("too long", callback_data="customer:" + "9" * 60)
    with pytest.raises(BadRequest) as caught:
        await tg.send_message(1001, "x", reply_markup=telegram.InlineKeyboardMarkup([[button]]))
    assert str(caught.value).lower() == "button_data_invalid"
    keyboard = telegram.ReplyKeyboardMarkup(
        [[telegram.KeyboardButton("Share", request_contact=True), "Help"]], resize_keyboard=True
    )
    await tg.send_message(1001, "menu", reply_markup=keyboard)
    assert server.user(1001).reply_keyboard == {
        "keyboard": [[{"text": "Share", "request_contact": True}, {"text": "Help"}]],
        "resize_keyboard": True,
    }
    await tg.send_message(1001, "bye", reply_markup=telegram.ReplyKeyboardRemove())
    assert server.user(1001).reply_keyboard is None
    await tg.send_message(1001, "name?", reply_markup=telegram.ForceReply())


# -- flood control ----------------------------------------------------------------


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def flood_reason(controller: FloodController, chat: int) -> ApiError:
    with pytest.raises(ApiError) as caught:
        controller.check(chat)
    return caught.value


def test_per_chat_token_bucket() -> None:
    fake = FakeTime()
    controller = FloodController(FloodLimits(chat_burst=20, chat_per_second=1.0), fake)
    for _ in range(20):
        controller.check(7)
    error = flood_reason(controller, 7)
    assert error.error_code == 429
    assert error.parameters == {"retry_after": 1}
    assert error.description == "Too Many Requests: retry after 1"
    controller.check(8)  # other chats are unaffected
    fake.now += 1.0
    controller.check(7)  # one token refilled
    flood_reason(controller, 7)
    fake.now += 0.25
    assert flood_reason(controller, 7).parameters == {"retry_after": 1}


def test_sustained_rate_above_one_per_second_is_throttled() -> None:
    fake = FakeTime()
    controller = FloodController(FloodLimits(chat_burst=3, chat_per_second=0.5), fake)
    for _ in range(3):
        controller.check(1)
    error = flood_reason(controller, 1)
    assert error.parameters == {"retry_after": 2}


def test_global_limit_of_30_per_second() -> None:
    fake = FakeTime()
    controller = FloodController(FloodLimits(), fake)
    for chat in range(30):
        controller.check(chat)
    error = flood_reason(controller, 99)
    assert error.error_code == 429 and error.parameters == {"retry_after": 1}
    fake.now += 1.0
    controller.check(99)


def test_disabled_flood_control() -> None:
    controller = FloodController(FloodLimits.disabled(), FakeTime())
    for _ in range(1000):
        controller.check(1)


async def test_flood_429_over_http(raw: Any, server: SandboxServer, tg: telegram.Bot) -> None:
    server.flood_limits = FloodLimits(chat_burst=5, chat_per_second=1.0)
    server.user(1001)
    for index in range(5):
        status, _ = await raw("sendMessage", chat_id=1001, text=f"m{index}")
        assert status == 200
    status, body = await raw("sendMessage", chat_id=1001, text="one too many")
    assert status == 429
    assert body == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 1",
        "parameters": {"retry_after": 1},
    }
    with pytest.raises(RetryAfter) as caught:
        await tg.send_message(1001, "again")
    assert "retry in 1" in str(caught.value).lower()
    # The rejected messages were not stored.
    assert [m.text for m in server.user(1001).bot_messages()] == [f"m{i}" for i in range(5)]


async def test_default_limits_allow_a_burst_of_20(http: aiohttp.ClientSession) -> None:
    sandbox = SandboxServer()  # Telegram's defaults
    await sandbox.start()
    try:
        sandbox.user(5)
        statuses = []
        for index in range(21):
            async with http.post(
                f"{sandbox.base_url}{sandbox.token}/sendMessage",
                data={"chat_id": "5", "text": str(index)},
            ) as response:
                statuses.append(response.status)
        assert statuses == [200] * 20 + [429]
    finally:
        await sandbox.stop()
