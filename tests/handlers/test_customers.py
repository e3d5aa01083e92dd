"""Customer cards end to end: add, shortcuts, duplicates, find, inline query, edit, archive, purchases."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bot.domain.models import Customer, Role, StaffUser, ValueTier
from handlers.common import SERVICES_KEY
from tests.helpers import shown_money

REP_ID = 711


@pytest.fixture
async def rep(bot: Any, sandbox: Any, clock: Any) -> Any:
    store = bot.bot_data[SERVICES_KEY].store
    now = clock.now()
    await store.staff.insert(StaffUser(id=str(REP_ID), telegram_id=REP_ID, name="Wang Fang", role=Role.REP,
                                       teams=["east"], language="en", created_at=now, updated_at=now))
    return sandbox.user(REP_ID, first_name="Wang", language_code="en")


@pytest.fixture
async def rep_zh(bot: Any, sandbox: Any, clock: Any) -> Any:
    store = bot.bot_data[SERVICES_KEY].store
    now = clock.now()
    await store.staff.insert(StaffUser(id="712", telegram_id=712, name="李娜", role=Role.REP,
                                       teams=["east"], language="zh", created_at=now, updated_at=now))
    return sandbox.user(712, first_name="李娜", language_code="zh-hans")


def customers_of(bot: Any) -> Any:
    return bot.bot_data[SERVICES_KEY].store.customers


async def add_customer(user: Any, name: str, phone: str, company: str) -> list[Any]:
    await user.send("/add")
    await user.send(name)
    await user.send(phone)
    await user.send(company)
    return await user.press("✅ Save" if user.language_code == "en" else "✅ 保存")


async def test_add_wizard_in_english(rep: Any, bot: Any) -> None:
    replies = await rep.send("/add")
    assert "Customer name?" in replies[-1].text
    replies = await rep.send("🙂 123 !!")
    assert "needs at least one letter" in replies[-1].text
    replies = await rep.send("Zhang Wei")
    assert "Phone number?" in replies[-1].text
    replies = await rep.send("138 abc")
    assert "too few digits" in replies[-1].text
    replies = await rep.send("138 0013 8000")
    assert "Company?" in replies[-1].text
    replies = await rep.send("/skip")
    assert "check before saving" in replies[-1].text
    assert "Phone: 138 0013 8000" in replies[-1].text
    await rep.press("Gender")
    await rep.press("male")
    await rep.press("Birthday")
    replies = await rep.send("next year maybe")
    assert "could not read a date" in replies[-1].text
    await rep.send("1990-05-03")
    await rep.press("Tags")
    replies = await rep.send("vip, tea  #vip")
    assert "Tags: #vip #tea" in replies[-1].text
    replies = await rep.press("✅ Save")
    card = replies[-1].text
    assert "Zhang Wei" in card and "no purchases yet" in card and "prospect" in card
    saved = (await customers_of(bot).find({"owner_id": str(REP_ID)}))[0]
    assert saved.phones == ["+8613800138000"] and saved.birthday.month == 5 and saved.tags == ["vip", "tea"]
    assert saved.team == "east" and saved.company is None


async def test_add_wizard_in_chinese_with_lunar_birthday(rep_zh: Any, bot: Any) -> None:
    replies = await rep_zh.send("/add")
    assert "客户姓名" in replies[-1].text
    await rep_zh.send("张伟")
    await rep_zh.send("+86 138-0013-8000")
    await rep_zh.send("华东贸易有限公司")
    await rep_zh.press("生日")
    replies = await rep_zh.send("农历八月十五")
    assert "农历八月十五" in replies[-1].text
    replies = await rep_zh.press("✅ 保存")
    assert "张伟" in replies[-1].text and "潜在客户" in replies[-1].text
    saved = (await customers_of(bot).find({"owner_id": "712"}))[0]
    assert saved.birthday.calendar.value == "lunar" and (saved.birthday.month, saved.birthday.day) == (8, 15)


async def test_back_button_and_cancel_keep_or_drop_the_draft(rep: Any, bot: Any) -> None:
    await rep.send("/add")
    await rep.send("Li Lei")
    replies = await rep.press("« Back")
    assert "Customer name?" in replies[-1].text and "Now: Li Lei" in replies[-1].text
    await rep.send("Li Lei Jr")
    replies = await rep.send("/cancel")
    assert "Nothing was saved" in replies[-1].text
    assert await customers_of(bot).count() == 0


async def test_menu_labels_are_never_taken_as_field_values(rep: Any, bot: Any) -> None:
    await rep.send("/add")
    await rep.send("Li Lei")
    replies = await rep.send("❓ Help")
    assert "What I can do" in replies[-1].text
    replies = await rep.send("139 1111 2222")
    assert "Company?" in replies[-1].text  # the wizard kept its place


async def test_quick_add_goes_straight_to_the_card(rep_zh: Any, bot: Any) -> None:
    replies = await rep_zh.send("/add 张伟 13800138000 Acme 公司")
    text = replies[-1].text
    assert "姓名：张伟" in text and "电话：138 0013 8000" in text and "公司：Acme 公司" in text
    await rep_zh.press("✅ 保存")
    assert (await customers_of(bot).find())[0].company == "Acme 公司"


async def test_quick_add_finds_a_spaced_phone_zh(rep_zh: Any, bot: Any) -> None:
    replies = await rep_zh.send("/add 张伟 138 0013 8000 Acme")
    text = replies[-1].text
    assert "姓名：张伟" in text and "电话：138 0013 8000" in text and "公司：Acme" in text
    await rep_zh.press("✅ 保存")
    saved = (await customers_of(bot).find())[0]
    assert (saved.name, saved.phones, saved.company) == ("张伟", ["+8613800138000"], "Acme")


async def test_quick_add_finds_an_international_phone_en(rep: Any, bot: Any) -> None:
    await rep.send("/add Zhang Wei +86 138-0013-8000 Acme Co")
    await rep.press("✅ Save")
    saved = (await customers_of(bot).find())[0]
    assert (saved.name, saved.phones, saved.company) == ("Zhang Wei", ["+8613800138000"], "Acme Co")


async def test_quick_add_a_chinese_name_and_company(rep_zh: Any, bot: Any) -> None:
    replies = await rep_zh.send("/add 王五 上海某某公司")
    assert "姓名：王五" in replies[-1].text and "公司：上海某某公司" in replies[-1].text


async def test_quick_add_a_phone_alone_asks_for_the_name(rep: Any, rep_zh: Any, bot: Any) -> None:
    replies = await rep.send("/add 13800138000")
    assert "Nothing was typed" not in replies[-1].text and "Customer name?" in replies[-1].text
    replies = await rep_zh.send("/add 13800138000")
    assert "没有输入" not in replies[-1].text and "客户姓名？" in replies[-1].text
    replies = await rep.send("Zhang Wei")
    await rep.send("/skip")
    await rep.press("✅ Save")
    saved = (await customers_of(bot).find())[0]
    assert (saved.name, saved.phones) == ("Zhang Wei", ["+8613800138000"])


async def test_back_on_the_first_step_of_a_quick_add_asks_it_again(rep: Any, rep_zh: Any, bot: Any) -> None:
    replies = await rep.send("/add 🙂 13800138000")
    assert "Customer name?" in replies[-1].text and "« Back" not in str(replies[-1].button_labels())
    replies = await rep.press_forged(replies[-1].message_id, "add:back:name")
    assert "Customer name?" in replies[-1].text and "check before saving" not in replies[-1].text
    replies = await rep_zh.send("/add 🙂 13800138000")
    replies = await rep_zh.send("/back")
    assert "客户姓名？" in replies[-1].text
    assert await customers_of(bot).count() == 0


async def test_shared_contact_prefills_name_and_phone(rep: Any, bot: Any) -> None:
    replies = await rep.share_contact(phone_number="+8613912345678", first_name="Li", last_name="Na")
    assert "Company?" in replies[-1].text
    await rep.send("Tomorrow Tech")
    replies = await rep.press("✅ Save")
    saved = (await customers_of(bot).find())[0]
    assert saved.name == "Li Na" and saved.phones == ["+8613912345678"]


async def test_duplicates_are_shown_before_saving(rep: Any, sandbox: Any, bot: Any) -> None:
    await add_customer(rep, "Zhang Wei", "13800138000", "Acme")
    replies = await add_customer(rep, "Wei Zhang", "13800138000", "Other")
    assert "may already be in the CRM" in replies[-1].text and "same phone" in replies[-1].text
    replies = await rep.press("Open Zhang Wei")
    assert "Zhang Wei · Acme" in replies[-1].text
    assert await customers_of(bot).count() == 1
    replies = await add_customer(rep, "Zhang Wei", "13900000001", "ACME Co., Ltd.")
    assert "similar name, same company" in replies[-1].text
    await rep.press("Save anyway")
    assert await customers_of(bot).count() == 2


async def test_duplicate_of_another_reps_customer_reveals_no_details(rep: Any, sandbox: Any, bot: Any, admin: Any) -> None:
    await add_customer(admin, "Secret Client", "13800138000", "Hidden Co")
    replies = await add_customer(rep, "Somebody", "13800138000", "Else")
    assert "A colleague already has this customer" in replies[-1].text  # stopped (issue 13, point 21)
    assert "Secret Client" not in replies[-1].text and "Admin" not in replies[-1].text


async def test_find_by_pinyin_initials_and_phone(rep_zh: Any, bot: Any) -> None:
    await rep_zh.send("/add 张伟 13800138000 华东贸易")
    await rep_zh.press("✅ 保存")
    await rep_zh.send("/add 李娜 13912345678 明日科技")
    await rep_zh.press("✅ 保存")
    for query in ("zhangwei", "zw", "zhang wei", "138 0013", "华东"):
        replies = await rep_zh.send(f"/find {query}")
        assert replies[-1].reply_markup, (query, replies[-1].text)
        labels = [b["text"] for row in replies[-1].reply_markup["inline_keyboard"] for b in row]
        assert labels[0] == "张伟 · 华东贸易", (query, labels)
    replies = await rep_zh.send("🔍 查找")
    assert "要找哪位客户" in replies[-1].text
    replies = await rep_zh.send("lina")  # not a reply to the prompt: the sandbox app would quote it
    prompt = [m for m in rep_zh.messages() if m.from_bot and m.text and "要找哪位客户" in m.text][-1]
    assert prompt.reply_markup.get("force_reply")
    replies = await rep_zh.press("📋 我的客户")
    assert "我的客户</b>：2 位" in (replies[-1].html or "") or "我的客户：2 位" in replies[-1].text


async def test_inline_query_lists_only_visible_customers(rep: Any, admin: Any, sandbox: Any, bot: Any) -> None:
    await rep.send("/add Zhang Wei 13800138000 Acme")
    await rep.press("✅ Save")
    await admin.send("/add Zhang San 13800138001 Admin Co")
    await admin.press("✅ Save")
    answer = await rep.inline_query("zhang")
    titles = [r["title"] for r in answer["results"]]
    assert titles == ["Zhang Wei"]
    answer = await admin.inline_query("zhang")
    assert sorted(r["title"] for r in answer["results"]) == ["Zhang San", "Zhang Wei"]
    replies = await rep.choose_inline_result((await rep.inline_query("zhang"))["results"][0])
    assert "Zhang Wei · Acme" in replies[-1].text
    stranger = sandbox.user(9999, first_name="X", language_code="en")
    assert (await stranger.inline_query("zhang"))["results"] == []


async def test_edit_archive_and_restore(rep: Any, bot: Any) -> None:
    await add_customer(rep, "Zhang Wei", "13800138000", "Acme")
    await rep.press("✏️ Edit")
    await rep.press("✓ Company")
    replies = await rep.send("Acme Global")
    assert "Company: Acme Global" in replies[-1].text
    await rep.press("City")
    await rep.send("Shanghai")
    replies = await rep.press("✅ Save")
    assert "Acme Global" in replies[-1].text and "City: Shanghai" in replies[-1].text
    replies = await rep.press("🗄 Archive")
    assert "archived" in rep.last_message().text
    customer = (await customers_of(bot).find())[0]
    assert customer.archived
    replies = await rep.send("/list")
    assert "My customers</b>: 0" in (replies[-1].html or "")
    await rep.press("🗄 Archived")
    await rep.press("Zhang Wei · Acme Global".replace("Zhang", "🗄 Zhang"))
    await rep.press("♻️ Restore")
    assert not (await customers_of(bot).find())[0].archived
    events = await bot.bot_data[SERVICES_KEY].store.audit.find({"entity_id": customer.id}, order_by="at")
    assert [e.action for e in events] == ["create", "update", "archive", "restore"]
    assert events[1].changes["company"] == ["Acme", "Acme Global"]


async def test_purchases_change_the_tier(rep: Any, bot: Any, clock: Any) -> None:
    await add_customer(rep, "Zhang Wei", "13800138000", "Acme")
    for amount in ("60,000", "¥50000"):
        await rep.press("🛒 Add purchase")
        replies = await rep.send("CRM licence")
        assert "Total amount?" in replies[-1].text
        replies = await rep.send("lots")
        assert "could not read an amount" in replies[-1].text
        await rep.send(amount)
        await rep.press("2")
        replies = await rep.press("Yesterday")
        assert "Save this purchase?" in replies[-1].text
        replies = await rep.press("✅ Save")
    card = rep.last_message().text
    assert "high value" in card and shown_money(110_000) in card
    customer = (await customers_of(bot).find())[0]
    # two purchases, the first only a day old: still a new customer (see bot/domain/classification.py)
    assert customer.value_tier is ValueTier.HIGH and customer.stage.value == "new"


async def test_manual_tier_override_is_shown_as_such(rep: Any, bot: Any) -> None:
    await add_customer(rep, "Zhang Wei", "13800138000", "Acme")
    await rep.press("🏷 Tier / stage")
    replies = await rep.press("mid value")
    assert "mid value (set by hand)" in replies[-1].text
    await rep.press("🏷 Tier / stage")
    await rep.press_forged(rep.last_message().message_id, f"cust:tier:{(await customers_of(bot).find())[0].id}:auto")
    assert "(set by hand)" not in rep.last_message().text


async def test_history_is_paged(rep: Any, bot: Any, clock: Any) -> None:
    from bot.domain.models import Interaction, InteractionKind

    await add_customer(rep, "Zhang Wei", "13800138000", "Acme")
    customer = (await customers_of(bot).find())[0]
    store = bot.bot_data[SERVICES_KEY].store
    for day in range(12):
        moment = clock.now() - timedelta(days=day + 1)
        await store.interactions.insert(Interaction(
            customer_id=customer.id, owner_id=str(REP_ID), kind=InteractionKind.CALL,
            occurred_at=moment, summary=f"call {day}", created_at=moment, updated_at=moment))
    replies = await rep.press("🕘 History")
    assert "(1/2)" in replies[-1].text and "call 0" in replies[-1].text
    replies = await rep.press("›")
    assert "(2/2)" in replies[-1].text and "call 11" in replies[-1].text


async def test_admin_purge_with_confirmation(admin: Any, bot: Any) -> None:
    await add_customer(admin, "Zhang Wei", "13800138000", "Acme")
    await admin.press("🗑 Delete for good")
    replies = await admin.press("Yes, delete everything")
    assert "deleted for good" in replies[-1].text
    assert await customers_of(bot).count() == 0
    events = await bot.bot_data[SERVICES_KEY].store.audit.find({"action": "purge"})
    assert len(events) == 1


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", ["· Ada · created", "Phone: — → 138 0013 8000", "Company: — → Acme", "Owner: — → Ada",
                "· Ada · edited", "Birthday: — → 1990-05-03", "Company: Acme → Acme Global"]),
        ("zh", ["· Ada · 新建", "电话：— → 138 0013 8000", "公司：— → Acme", "负责人：— → Ada",
                "· Ada · 修改", "生日：— → 1990-05-03", "公司：Acme → Acme Global"]),
    ],
)
async def test_the_change_history_shows_the_cards_labels_and_formats_and_names(
    admin: Any, bot: Any, language: str, expected: list[str]
) -> None:
    en = language == "en"
    if not en:
        await admin.send("/language")
        await admin.press("中文")
    await admin.send("/add Zhang Wei 13800138000 Acme")
    await admin.press("✅ Save" if en else "✅ 保存")
    await admin.press("✏️ Edit" if en else "✏️ 编辑")
    await admin.press("Birthday" if en else "生日")
    await admin.send("1990-05-03")
    await admin.press("✓ Company" if en else "✓ 公司")
    await admin.send("Acme Global")
    await admin.press("✅ Save" if en else "✅ 保存")
    replies = await admin.press("🧾 Changes" if en else "🧾 变更记录")
    text = replies[-1].text
    for line in expected:
        assert line in text, text
    internals = ["owner_id", "phones", "calendar", "'", "[", "+86", "— → —", "— → no"]
    for internal in internals + ([] if en else ["update", "create", "Phone", "Company"]):
        assert internal not in text, (internal, text)


async def test_invisible_characters_neither_hide_a_duplicate_nor_a_customer(rep: Any, bot: Any,
                                                                             clock: Any) -> None:
    await add_customer(rep, "Zhang\u200bWei", "13800138000", "Acme\u2060")
    (saved,) = await customers_of(bot).find()
    assert saved.name == "ZhangWei" and saved.company == "Acme"  # stored without them
    replies = await add_customer(rep, "Zhang Wei", "13900000001", "ACME")
    assert "may already be in the CRM" in replies[-1].text, replies[-1].text
    await rep.press("Save anyway")
    # a card stored before the rule still matches, in search and in the duplicate check
    now = clock.now()
    await customers_of(bot).insert(Customer(id="legacy", name="Li\u200d Na", owner_id=str(REP_ID),
                                            team="east", company="Ming\ufeffri", created_at=now,
                                            updated_at=now))
    for query in ("zhangwei", "li na", "lina"):
        replies = await rep.send(f"/find {query}")
        assert replies[-1].reply_markup, (query, replies[-1].text)
    replies = await add_customer(rep, "Li Na", "13700000002", "Mingri")
    assert "may already be in the CRM" in replies[-1].text, replies[-1].text


# ---- « Back on a form's first step returns to the card it was opened from (issue 13, point 22) ----
CARD_FORMS = {
    "en": {"back": "« Back", "forms": ("📞 Log a call", "💬 Feedback", "🛒 Add purchase")},
    "zh": {"back": "« 返回", "forms": ("📞 记录通话", "💬 客户反馈", "🛒 添加购买")},
}


def flat(rows: list[list[str]]) -> list[str]:
    return [label for row in rows for label in row]


@pytest.mark.parametrize("language", ["en", "zh"])
async def test_back_on_the_first_step_of_a_form_from_the_card_returns_to_the_card(
    rep: Any, rep_zh: Any, bot: Any, language: str,
) -> None:
    user = rep if language == "en" else rep_zh
    words = CARD_FORMS[language]
    await user.send("/add Zhang Wei 13800138000 Acme")
    await user.press("✅ Save" if language == "en" else "✅ 保存")
    for form in words["forms"]:
        replies = await user.press(form)
        first = replies[-1]
        assert words["back"] in first.button_labels()[-1], (form, first.button_labels())
        replies = await user.press(words["back"])
        card = replies[-1]
        assert "Zhang Wei · Acme" in card.text, (form, card.text)
        assert all(f in flat(card.button_labels()) for f in words["forms"]), (form, card.button_labels())
    assert await bot.bot_data[SERVICES_KEY].store.interactions.count() == 0
    # typed /back on the first step does the same
    await user.press(words["forms"][0])
    replies = await user.send("/back")
    assert "Zhang Wei · Acme" in replies[-1].text
    assert words["forms"][0] in flat(replies[-1].button_labels())
