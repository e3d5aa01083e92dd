"""/start, /help, /language, the main menu and the access gate, end to end."""

from __future__ import annotations

from typing import Any

from bot.domain.models import Role
from handlers.common import SERVICES_KEY
from tests.conftest import ADMIN_ID
from tests.helpers import add_command


async def test_start_greets_staff_with_the_main_menu(admin: Any) -> None:
    replies = await admin.send("/start")
    text = replies[-1].text
    assert "Hello" in text and "admin" in text
    assert [[b["text"] for b in row] for row in admin.reply_keyboard["keyboard"]] == [
        ["➕ New customer", "🔍 Find", "📋 My customers"],
        ["📞 Log", "💼 Deals", "📊 Report"],
        ["👥 Staff", "➕ Invite"],
        ["❓ Help", "🌐 Language"],
    ]


async def test_help_lists_the_commands(admin: Any) -> None:
    replies = await admin.send("/help")
    text = replies[-1].text
    for command in ("/start", "/help", "/language", "/cancel"):
        assert command in text


async def test_menu_button_works_like_the_command(admin: Any) -> None:
    await admin.send("/start")
    replies = await admin.press("❓ Help")
    assert "What I can do" in replies[-1].text


async def test_unregistered_user_gets_their_id_and_nothing_else(sandbox: Any, bot: Any) -> None:
    stranger = sandbox.user(777, first_name="Eve", language_code="en")
    for text in ("/start", "/help", "/language", "hello", "❓ Help"):
        replies = await stranger.send(text)
        assert len(replies) == 1
        assert "not registered" in replies[0].text
        assert "777" in replies[0].text
        assert not (replies[0].reply_markup or {}).get("keyboard")


async def test_unregistered_user_sees_chinese_when_their_app_is_chinese(sandbox: Any, bot: Any) -> None:
    stranger = sandbox.user(778, first_name="小明", language_code="zh-hans")
    replies = await stranger.send("/start")
    assert "还没有开通" in replies[0].text


async def test_language_switch_by_button_is_saved(admin: Any, bot: Any) -> None:
    await admin.send("/language")
    replies = await admin.press("中文")
    assert any("语言已切换" in m.text for m in replies)
    assert admin.reply_keyboard["keyboard"][-1][0]["text"] == "❓ 帮助"
    staff = await bot.bot_data[SERVICES_KEY].staff.get(ADMIN_ID)
    assert staff.language == "zh"
    replies = await admin.send("/help")
    assert "我能做什么" in replies[-1].text


async def test_forged_language_button_is_refused(admin: Any, sandbox: Any) -> None:
    await admin.send("/language")
    message = admin.last_message()
    await sandbox.press_forged(admin, message.message_id, "lang:set:xx")
    assert admin.callback_answers[-1]["text"] == "This is not available."


async def test_unknown_text_gets_a_clear_answer(admin: Any) -> None:
    replies = await admin.send("<b>?? 🤷 " + "x" * 3000)
    assert "did not understand" in replies[-1].text


async def test_errors_are_answered_without_internals(admin: Any, bot: Any) -> None:
    async def boom(update, context):
        raise RuntimeError("secret internal detail")

    add_command(bot, "boom", boom)
    replies = await admin.send("/boom")
    assert [m.text for m in replies] == [
        "Sorry, something went wrong on my side. What you entered so far is kept — please try again."
    ]


async def test_commands_are_published_per_language(sandbox: Any, bot: Any) -> None:
    zh = sandbox.commands(scope={"type": "all_private_chats"}, language_code="zh")
    en = sandbox.commands(scope={"type": "all_private_chats"}, language_code="en")
    assert ("help", "我能做什么") in [(c["command"], c["description"]) for c in zh]
    assert ("help", "What I can do") in [(c["command"], c["description"]) for c in en]


async def test_configured_admins_are_registered_at_start(bot: Any) -> None:
    staff = await bot.bot_data[SERVICES_KEY].staff.get(ADMIN_ID)
    assert staff is not None and staff.role is Role.ADMIN
