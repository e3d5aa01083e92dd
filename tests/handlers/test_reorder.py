"""Reorder prediction end to end (issue 20.2): on the card, and the owner's reminder with a draft."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from bot.domain.models import Customer, Purchase, ReminderKind, Role, StaffUser
from bot.i18n import gettext_for
from bot.reports_export import report_xlsx
from handlers.common import SERVICES_KEY
from handlers.reports import summary_text
from tests.bot.test_reports_export import open_xlsx
from tests.handlers.test_reminders import SHANGHAI, run_until, texts

REP_ZH, REP_EN = 811, 812


async def setup(bot: Any, sandbox: Any, clock: Any) -> tuple[dict[str, Any], dict[str, Customer]]:
    """Two reps (zh, en), each with a customer buying every 30 days; the next order is due in 10 days."""
    svc = bot.bot_data[SERVICES_KEY]
    now = clock.now()
    today = now.astimezone(SHANGHAI).date()
    users, customers = {}, {}
    for uid, name, language, code in ((REP_ZH, "Wang", "zh", "zh-hans"), (REP_EN, "Anna", "en", "en")):
        await svc.store.staff.insert(StaffUser(id=str(uid), telegram_id=uid, name=name, role=Role.REP,
                                               teams=["east"], language=language, created_at=now,
                                               updated_at=now))
        users[language] = sandbox.user(uid, first_name=name, language_code=code)
        customer = await svc.store.customers.insert(Customer(
            name="王芳" if language == "zh" else "Acme Tea", owner_id=str(uid), team="east",
            created_at=now - timedelta(days=200), updated_at=now))
        customers[language] = customer
        for n in range(5):  # 140, 110, 80, 50, 20 days ago
            await svc.store.purchases.insert(Purchase(
                customer_id=customer.id, owner_id=str(uid), product="Oolong", amount=Decimal(600),
                currency="CNY", purchased_on=today - timedelta(days=140 - 30 * n),
                created_at=now - timedelta(days=140 - 30 * n), updated_at=now))
    return users, customers


async def test_prediction_on_the_card_and_the_reminder_with_its_draft(bot: Any, sandbox: Any, clock: Any) -> None:
    svc = bot.bot_data[SERVICES_KEY]
    days_before = svc.config.reorder.remind_days_before
    users, _customers = await setup(bot, sandbox, clock)
    start = clock.now().astimezone(SHANGHAI)
    expected = start.date() + timedelta(days=10)

    # Days before the reminder date: nothing yet.
    await run_until(bot, sandbox, clock, start + timedelta(days=10 - days_before - 1), step=timedelta(hours=6))
    assert texts(users["en"], "usually reorders") == []
    assert texts(users["zh"], "复购") == []
    assert not await svc.store.reminders.find({"kind": ReminderKind.REORDER.value})

    # The day of the reminder (N days before the date): each owner gets it once, with a draft.
    remind_day = expected - timedelta(days=days_before)
    await run_until(bot, sandbox, clock, datetime.combine(remind_day, datetime.min.time(), SHANGHAI)
                    + timedelta(hours=12), step=timedelta(hours=1))
    (en,) = texts(users["en"], "usually reorders every ~30 days")
    assert "Acme Tea" in en and _day("en", expected) in en and "±3" in en
    assert "Oolong" in en and "600" in en  # the draft names the product; the expected amount
    (zh,) = texts(users["zh"], "通常每 ~30 天复购")
    assert "王芳" in zh and _day("zh", expected) in zh and "Oolong" in zh
    message = next(m for m in users["en"].bot_messages() if "usually reorders" in (m.text or ""))
    buttons = [button for row in message.inline_keyboard for button in row]
    (copy,) = [b for b in buttons if "copy_text" in b]  # the draft, one tap to copy
    assert "Acme Tea" in copy["text"] and "Oolong" in copy["copy_text"]["text"]
    labels = [b["text"] for b in buttons]
    assert "⏰ 1 hour" in labels and "✅ Done — log it" in labels

    # The card shows the prediction in the reader's language.
    await users["en"].press("📇 Open card")
    (card,) = texts(users["en"], "Usually reorders every ~30 days")
    assert _day("en", expected) in card and "±3 days" in card
    await users["zh"].press("📇 打开卡片")
    (card_zh,) = texts(users["zh"], "近 12 个月销售额")
    assert "通常每 ~30 天复购一次" in card_zh
    assert _day("zh", expected) in card_zh and "±3 天" in card_zh

    # A day later: not again.
    await run_until(bot, sandbox, clock, clock.now() + timedelta(days=1), step=timedelta(hours=3))
    assert len(texts(users["en"], "usually reorders every")) == 1


async def test_reports_list_the_reorders_expected_with_their_amount(bot: Any, sandbox: Any, clock: Any) -> None:

    svc = bot.bot_data[SERVICES_KEY]
    await setup(bot, sandbox, clock)
    now = clock.now()
    manager = await svc.store.staff.insert(StaffUser(id="899", telegram_id=899, name="Chen", role=Role.MANAGER,
                                                     teams=["east"], language="zh", created_at=now,
                                                     updated_at=now))
    expected = now.astimezone(SHANGHAI).date() + timedelta(days=10)
    result = await svc.reports.report(manager, "this_month")
    assert result.report.reorders is not None
    assert {r.name for r in result.report.reorders.rows} == {"王芳", "Acme Tea"}
    assert all(r.expected_on == expected and r.expected_amount == Decimal(600) for r in result.report.reorders.rows)
    zh = summary_text(result, "zh")
    assert "预计复购" in zh and "王芳" in zh and "Acme Tea" in zh and "¥1,200.00" in zh and "（Wang）" in zh
    en = summary_text(result, "en")
    assert "Reorders expected" in en and _day("en", expected) in en and "about CN¥600.00" in en

    def sheet() -> list[tuple[Any, ...]]:  # building and reading a workbook: off the event loop
        book = open_xlsx(report_xlsx(result.report, gettext_for("en")))
        return list(book["Expected reorders"].iter_rows(values_only=True))

    rows = await asyncio.to_thread(sheet)
    assert rows[0][:3] == ("Customer", "Owner", "Expected around")
    assert {row[0] for row in rows[1:]} == {"王芳", "Acme Tea"}


def _day(language: str, day: date) -> str:
    from handlers.customer_view import day_text
    return day_text(day, language)


def test_the_reorder_kind_has_a_name_for_digests() -> None:
    from bot import labels
    from handlers.reminders import RENDERERS, pushed

    assert ReminderKind.REORDER.value in labels.REMINDER_KINDS
    assert ReminderKind.REORDER in pushed().renderers or ReminderKind.REORDER in RENDERERS
