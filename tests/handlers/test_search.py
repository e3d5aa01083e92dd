"""Finding customers end to end (issue 13.20, 13.21): digit runs, typos, plain text, the prompt, order, owners."""

from __future__ import annotations

from typing import Any

import pytest

from bot.domain.models import Customer, Role, StaffUser
from handlers.common import SERVICES_KEY

REP_ID, REP_ZH_ID, MANAGER_ZH_ID = 711, 712, 713
SAVE = {"en": "✅ Save", "zh": "✅ 保存"}


async def _staff(bot: Any, clock: Any, telegram_id: int, name: str, language: str,
                 role: Role = Role.REP) -> None:
    now = clock.now()
    await bot.bot_data[SERVICES_KEY].store.staff.insert(StaffUser(
        id=str(telegram_id), telegram_id=telegram_id, name=name, role=role, teams=["east"],
        language=language, created_at=now, updated_at=now))


@pytest.fixture
async def rep(bot: Any, sandbox: Any, clock: Any) -> Any:
    await _staff(bot, clock, REP_ID, "Wang Fang", "en")
    return sandbox.user(REP_ID, first_name="Wang", language_code="en")


@pytest.fixture
async def rep_zh(bot: Any, sandbox: Any, clock: Any) -> Any:
    await _staff(bot, clock, REP_ZH_ID, "李娜", "zh")
    return sandbox.user(REP_ZH_ID, first_name="李娜", language_code="zh-hans")


@pytest.fixture(params=["en", "zh"])
async def user(request: Any, bot: Any, sandbox: Any, clock: Any) -> Any:
    """A rep in each language."""
    if request.param == "en":
        await _staff(bot, clock, REP_ID, "Wang Fang", "en")
        return sandbox.user(REP_ID, first_name="Wang", language_code="en")
    await _staff(bot, clock, REP_ZH_ID, "李娜", "zh")
    return sandbox.user(REP_ZH_ID, first_name="李娜", language_code="zh-hans")


def zh(user: Any) -> bool:
    return user.language_code != "en"


async def insert(bot: Any, clock: Any, owner: int, name: str, *, phone: str | None = None,
                 company: str | None = None, id: str | None = None) -> Customer:
    """A customer written straight to the store: the search index hears it from the store."""
    now = clock.now()
    customer = Customer(name=name, owner_id=str(owner), team="east", company=company,
                        phones=[phone] if phone else [], created_at=now, updated_at=now,
                        **({"id": id} if id else {}))
    return await bot.bot_data[SERVICES_KEY].store.customers.insert(customer)


def buttons(message: Any) -> list[str]:
    markup = message.reply_markup or {}
    return [b["text"] for row in markup.get("inline_keyboard", []) for b in row]


def customer_buttons(message: Any) -> list[str]:
    return [label for label in buttons(message) if label not in ("‹", "›") and "/" not in label]


async def test_a_digit_run_inside_a_number_finds_it(user: Any, bot: Any, clock: Any) -> None:
    await insert(bot, clock, user.id, "张伟", phone="+8613800138000")
    await insert(bot, clock, user.id, "李娜", phone="+8613912345678")
    for query in ("0013", "001", "8000", "138 0013", "00138000"):
        replies = await user.send(f"/find {query}")
        assert customer_buttons(replies[-1]) == ["张伟"], (query, replies[-1].text)
        assert ("找到 1 位" if zh(user) else "1 found") in replies[-1].text


async def test_single_word_typos_of_latin_names_match(user: Any, bot: Any, clock: Any) -> None:
    await insert(bot, clock, user.id, "John Miller", company="Acme")
    await insert(bot, clock, user.id, "Mary Smith")
    for query in ("miler", "jon", "Smth", "Jonh Miler"):
        replies = await user.send(f"/find {query}")
        labels = customer_buttons(replies[-1])
        assert labels and labels[0] in ("John Miller · Acme", "Mary Smith"), (query, replies[-1].text)
        assert labels[0] == ("Mary Smith" if query == "Smth" else "John Miller · Acme")
    replies = await user.send("/find xyzzy")
    assert ("没有找到" if zh(user) else "No customer matches") in replies[-1].text


async def test_a_name_typed_outside_any_form_is_a_search(user: Any, bot: Any, clock: Any) -> None:
    await insert(bot, clock, user.id, "张伟", phone="+8613800138000", company="华东贸易")
    for text in ("张伟", "zhangwei", "8000"):
        replies = await user.send(text)
        assert customer_buttons(replies[-1]) == ["张伟 · 华东贸易"], (text, replies[-1].text)
    replies = await user.send("hello there")
    assert ("没有理解" if zh(user) else "did not understand") in replies[-1].text
    assert ("没有找到与之匹配的客户" if zh(user) else "no customer matches") in replies[-1].text
    # inside a form the text is the step's answer, not a search
    replies = await user.send("/add")
    assert ("客户姓名" if zh(user) else "Customer name?") in replies[-1].text
    replies = await user.send("张伟")
    assert ("电话" if zh(user) else "Phone number?") in replies[-1].text
    assert not any("张伟" in label for label in buttons(replies[-1]))


async def test_the_next_text_after_the_find_prompt_is_the_query(user: Any, bot: Any, clock: Any) -> None:
    await insert(bot, clock, user.id, "张伟", phone="+8613800138000")
    await insert(bot, clock, user.id, "李娜", phone="+8613912345678")
    replies = await user.send("/find")
    assert ("要找哪位客户" if zh(user) else "Who are you looking for?") in replies[-1].text
    replies = await user.send("lina")  # typed, not a Telegram reply to the prompt
    assert customer_buttons(replies[-1]) == ["李娜"], replies[-1].text
    # even inside a running form: the prompt was the last question asked
    await user.send("/add")
    await user.send("/find")
    replies = await user.send("zw")
    assert customer_buttons(replies[-1]) == ["张伟"], replies[-1].text
    replies = await user.send("Zhao Min")  # the prompt was answered: the form has the text again
    assert ("电话" if zh(user) else "Phone number?") in replies[-1].text
    # doing something else first ends the wait: the form, started after the prompt, gets the text
    await user.send("/cancel")
    await user.send("/find")
    await user.send("/add")
    replies = await user.send("李娜")
    assert ("电话" if zh(user) else "Phone number?") in replies[-1].text


async def test_lists_and_ties_sort_chinese_names_by_pinyin(user: Any, bot: Any, clock: Any) -> None:
    for name in ("张伟", "Bob Stone", "王芳", "安娜", "Wang Lei", "李娜", "曾小明", "Anna Bell"):
        await insert(bot, clock, user.id, name, company="Acme")
    expected = ["安娜 · Acme", "Anna Bell · Acme", "Bob Stone · Acme", "李娜 · Acme", "王芳 · Acme",
                "Wang Lei · Acme", "曾小明 · Acme", "张伟 · Acme"]
    replies = await user.send("/list")
    assert [label for label in buttons(replies[-1]) if "Acme" in label] == expected
    replies = await user.send("/find acme")  # every one an equal match: the same order
    assert customer_buttons(replies[-1]) == expected


async def test_an_admins_and_a_managers_results_show_each_owner(
    rep: Any, rep_zh: Any, admin: Any, bot: Any, clock: Any, sandbox: Any
) -> None:
    await rep.send("/add Zhang Wei 13800138000 Acme")
    await rep.press("✅ Save")
    await insert(bot, clock, REP_ZH_ID, "Zhang Wei", company="ACME", phone="+8613800138001")
    replies = await admin.send("/find zhang wei")
    assert sorted(customer_buttons(replies[-1])) == ["Zhang Wei · ACME · 👤 李娜",
                                                    "Zhang Wei · Acme · 👤 Wang Fang"]
    answer = await admin.inline_query("zhang wei")
    assert sorted(r["description"].split(" · ")[-1] for r in answer["results"]) == ["Wang Fang", "李娜"]
    await _staff(bot, clock, MANAGER_ZH_ID, "赵敏", "zh", role=Role.MANAGER)
    manager = sandbox.user(MANAGER_ZH_ID, first_name="赵敏", language_code="zh-hans")
    replies = await manager.send("zhangwei")
    assert sorted(customer_buttons(replies[-1])) == ["Zhang Wei · ACME · 👤 李娜",
                                                    "Zhang Wei · Acme · 👤 Wang Fang"]
    # a rep sees only their own customer, without an owner to tell apart
    replies = await rep.send("/find zhang wei")
    assert customer_buttons(replies[-1]) == ["Zhang Wei · Acme"]


async def test_search_follows_every_change_to_a_customer(user: Any, bot: Any, clock: Any) -> None:
    customer = await insert(bot, clock, user.id, "张伟", phone="+8613800138000")
    replies = await user.send("/find zw")
    assert customer_buttons(replies[-1]) == ["张伟"]
    await user.press("张伟")
    await user.press("✏️ 编辑" if zh(user) else "✏️ Edit")
    await user.press("✓ 姓名" if zh(user) else "✓ Name")
    await user.send("李明")
    await user.press(SAVE["zh" if zh(user) else "en"])
    replies = await user.send("/find liming")
    assert customer_buttons(replies[-1]) == ["李明"], replies[-1].text
    replies = await user.send("/find zw")
    assert not customer_buttons(replies[-1])
    await bot.bot_data[SERVICES_KEY].store.customers.delete(customer.id)
    replies = await user.send("/find liming")
    assert not customer_buttons(replies[-1])
