"""Manager reports end to end through the sandbox: periods, scopes, chart, exports, pushes.

The clock starts on Monday 2 March 2026, 09:00 in Shanghai.  Team east: manager Mei
(English), reps Rita (English) and 王芳 (Chinese).  Team west: rep Wu, whose records
must never show in an east report.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from babel.numbers import format_currency
from openpyxl import load_workbook

from bot.app import SCHEDULER_KEY
from bot.domain.models import (
    Customer,
    Feedback,
    FeedbackKind,
    Interaction,
    InteractionKind,
    Purchase,
    ReminderKind,
    Role,
    StaffUser,
    ValueTier,
)
from bot.domain.reports import Period
from handlers.common import SERVICES_KEY
from handlers.reports import period_text

SH = ZoneInfo("Asia/Shanghai")
MANAGER, RITA, FANG, WU, WEST_MANAGER = 851, 852, 853, 854, 855
MANAGERS_ONLY = "This is for managers and admins only."  # a rep naming anyone else (issue 13.17)
PNG = b"\x89PNG\r\n\x1a\n"


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH)


def shown_days(y1: int, m1: int, d1: int, y2: int, m2: int, d2: int, language: str = "en") -> str:
    """Days as the bot shows them: its own Babel formatting, not one CLDR release's punctuation."""
    return period_text(Period.custom(date(y1, m1, d1), date(y2, m2, d2), SH), language)


def money(amount: int, language: str = "en") -> str:
    return format_currency(Decimal(amount), "CNY", locale="zh_CN" if language == "zh" else "en")


@pytest.fixture
async def team(bot: Any, sandbox: Any, clock: Any) -> dict[str, Any]:
    svc = bot.bot_data[SERVICES_KEY]
    store, now = svc.store, clock.now()
    for uid, name, role, teams, language in (
        (MANAGER, "Mei", Role.MANAGER, ["east"], "en"),
        (RITA, "Rita", Role.REP, ["east"], "en"),
        (FANG, "王芳", Role.REP, ["east"], "zh"),
        (WU, "Wu", Role.REP, ["west"], "en"),
        (WEST_MANAGER, "Wes", Role.MANAGER, ["west"], "zh"),
    ):
        await store.staff.insert(StaffUser(id=str(uid), telegram_id=uid, name=name, role=role, teams=teams,
                                           language=language, created_at=now, updated_at=now))

    async def customer(name: str, owner: int, team: str, created: datetime, **fields: Any) -> Customer:
        return await store.customers.insert(Customer(name=name, owner_id=str(owner), team=team,
                                                     created_at=created, updated_at=created, **fields))

    tea = await customer("Tea House", RITA, "east", local(2026, 3, 2, 8, 0))
    silent = await customer("Silent Co", RITA, "east", local(2025, 6, 1, 9, 0), value_tier=ValueTier.HIGH)
    noodle = await customer("面馆", FANG, "east", local(2026, 2, 24, 9, 0))
    west = await customer("West Secret", WU, "west", local(2026, 3, 2, 8, 30))
    for customer_id, owner, kind, when in (
        (tea.id, RITA, InteractionKind.CALL, local(2026, 3, 2, 8, 15)),
        (tea.id, RITA, InteractionKind.VISIT, local(2026, 3, 2, 8, 45)),
        (noodle.id, FANG, InteractionKind.CALL, local(2026, 2, 26, 10, 0)),
        (noodle.id, FANG, InteractionKind.WECHAT, local(2026, 2, 3, 10, 0)),
        (west.id, WU, InteractionKind.CALL, local(2026, 3, 2, 8, 40)),
    ):
        await store.interactions.insert(Interaction(customer_id=customer_id, owner_id=str(owner), kind=kind,
                                                    occurred_at=when, created_at=when, updated_at=when))
    for customer_id, owner, amount, day in (
        (tea.id, RITA, "1200", date(2026, 3, 2)),
        (noodle.id, FANG, "800", date(2026, 2, 27)),
        (west.id, WU, "99999", date(2026, 3, 2)),
    ):
        await store.purchases.insert(Purchase(customer_id=customer_id, owner_id=str(owner), product="tea",
                                              amount=Decimal(amount), currency="CNY", purchased_on=day,
                                              created_at=now, updated_at=now))
    await store.feedback.insert(Feedback(customer_id=silent.id, owner_id=str(RITA), kind=FeedbackKind.COMPLAINT,
                                         content="late delivery", created_at=local(2026, 1, 5, 9, 0),
                                         updated_at=now))
    return {
        "manager": sandbox.user(MANAGER, first_name="Mei", language_code="en"),
        "rita": sandbox.user(RITA, first_name="Rita", language_code="en"),
        "fang": sandbox.user(FANG, first_name="芳", language_code="zh-hans"),
        "wes": sandbox.user(WEST_MANAGER, first_name="Wes", language_code="zh-hans"),
        "wu": sandbox.user(WU, first_name="Wu", language_code="en"),
    }


async def press(user: Any, label: str, *, photo: bool = False, files: int = 0) -> list[Any]:
    """Press a button; the chart and the documents, rendered in a worker thread, are part of
    the answer (the sandbox waits until the bot has finished the update)."""
    return complete(await user.press(label, timeout=30), photo=photo, files=files)


async def send(user: Any, text: str, *, photo: bool = False) -> list[Any]:
    return complete(await user.send(text, timeout=30), photo=photo)


def complete(replies: list[Any], *, photo: bool = False, files: int = 0) -> list[Any]:
    assert not photo or any(m.photo for m in replies), [m.text or m.caption for m in replies]
    assert sum(1 for m in replies if m.document) >= files, [m.text or m.caption for m in replies]
    return replies


def summary(replies: list[Any]) -> str:
    texts = [m.text for m in replies if m.text and ("Report" in m.text or "报表" in m.text)]
    assert texts, [m.text or m.caption for m in replies]
    return texts[-1]


def chart(sandbox: Any, replies: list[Any]) -> Any:
    photos = [m for m in replies if m.photo is not None]
    assert len(photos) == 1, [m.text or m.caption for m in replies]
    content, _name = sandbox.file_content_for(photos[0])
    assert content.startswith(PNG) and len(content) <= 10 * 1024 * 1024
    assert (photos[0].photo.width, photos[0].photo.height) == (1080, 1350)
    return photos[0]


def document(sandbox: Any, replies: list[Any]) -> tuple[bytes, str]:
    documents = [m for m in replies if m.document is not None]
    assert len(documents) == 1, [m.text or m.caption for m in replies]
    return sandbox.file_content_for(documents[0])


def workbook_summary(content: bytes) -> dict[str, Any]:
    book = load_workbook(io.BytesIO(content), read_only=True)
    rows = list(book[book.sheetnames[0]].iter_rows(values_only=True))
    return {row[0]: row[1:] for row in rows[1:]}


async def test_a_manager_gets_every_period_with_chart_and_exports(
    team: dict[str, Any], bot: Any, sandbox: Any
) -> None:
    manager = team["manager"]
    replies = await manager.send("/report")
    picker = replies[-1]
    assert "team east" in picker.text
    assert picker.button_labels() == [
        ["Today", "This week"], ["This month", "Last month"], ["📅 Custom range…"],
        ["• 👥 Whole team", "Rita", "王芳"],
    ]

    expected = {
        "Today": (shown_days(2026, 3, 2, 2026, 3, 2), "Interactions: 2 ▲2"),
        "This week": (shown_days(2026, 3, 2, 2026, 3, 8), "Interactions: 2 ▲1"),
        "This month": (shown_days(2026, 3, 1, 2026, 3, 31), "Interactions: 2 ＝"),
        "Last month": (shown_days(2026, 2, 1, 2026, 2, 28), "Interactions: 2 ▲2"),
    }
    for button, (period, interactions) in expected.items():
        replies = await press(manager, button, photo=True)
        text = summary(replies)
        assert period in text and interactions in text, (button, text)
        assert "West Secret" not in text and "99,999" not in text
        chart(sandbox, replies)

    text = summary(await press(manager, "This week", photo=True))
    assert f"Revenue (CNY): {money(1200)} ▲{money(400)}" in text
    assert "New customers: 1 ＝" in text  # Tea House | 面馆 the week before
    assert "Rita: 2 · 1 · 1" in text and "No activity: 王芳" in text
    # 274 days since the card was made, a high-value customer is called every 14 days: 40 points;
    # one open complaint of the two that give the full 30: 15.
    assert "1. Silent Co (Rita) — 55/100: no contact for 274 days, usual every 14; 1 open complaint" in text

    content, name = document(sandbox, await press(manager, "📊 Report (Excel)", files=1))
    assert name.endswith(".xlsx")
    figures = workbook_summary(content)
    assert figures["Interactions"][:2] == (2, 1)
    assert figures["Revenue (CNY)"][:2] == (1200, 800)

    content, name = document(sandbox, await press(manager, "📋 Customers (Excel)", files=1))
    book = load_workbook(io.BytesIO(content), read_only=True)
    names = [row[0] for row in list(book.active.iter_rows(values_only=True))[1:]]
    assert sorted(names) == ["Silent Co", "Tea House", "面馆"]

    await manager.send("/list tier:high")
    await manager.send("/report")
    await press(manager, "This week", photo=True)
    content, name = document(sandbox, await press(manager, "📋 Customers (CSV)", files=1))
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert name.endswith(".csv") and [r[0] for r in rows[1:]] == ["Silent Co"]

    audit = await bot.bot_data[SERVICES_KEY].store.audit.find({"action": "export"})
    assert sorted((e.actor_id, e.entity_type) for e in audit) == [
        (str(MANAGER), "customers"), (str(MANAGER), "customers"), (str(MANAGER), "report")]


async def test_a_manager_narrows_the_report_to_one_rep(team: dict[str, Any], sandbox: Any) -> None:
    manager = team["manager"]
    await manager.send("/report")
    replies = await manager.press("Rita")
    assert replies[-1].button_labels()[-1] == ["👥 Whole team", "• Rita", "王芳"]
    replies = await press(manager, "This week", photo=True)
    text = summary(replies)
    assert "Report</b> · Rita" in text or "Report · Rita" in text
    assert "Interactions: 2 ▲2" in text and "No activity" not in text and "面馆" not in text
    chart(sandbox, replies)
    content, _name = document(sandbox, await press(manager, "📋 Customers (CSV)", files=1))
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert sorted(r[0] for r in rows[1:]) == ["Silent Co", "Tea House"]


async def test_a_rep_sees_only_their_own_figures(team: dict[str, Any], sandbox: Any) -> None:
    rita = team["rita"]
    replies = await rita.send("/report")
    picker = replies[-1]
    assert "your own figures" in picker.text
    assert picker.button_labels() == [["Today", "This week"], ["This month", "Last month"], ["📅 Custom range…"]]
    replies = await press(rita, "This week", photo=True)
    text = summary(replies)
    assert "Report</b> · Rita" in text or "Report · Rita" in text
    assert "面馆" not in text and "West Secret" not in text and "No activity" not in text
    chart(sandbox, replies)
    anchor = picker.message_id
    for forged in (f"rep:period:this_week:{FANG}", f"rep:scope:{FANG}", f"rep:custom:{WU}",
                   f"rep:xlsx:week:2026-03-02:{FANG}", f"rep:files:month:2026-03-01:{WU}",
                   f"rep:cust:csv:{FANG}"):
        replies = await rita.press_forged(anchor, forged)
        answer = rita.callback_answers[-1]
        assert answer["show_alert"] and answer["text"] == MANAGERS_ONLY, forged
        assert not [m for m in replies if m.document is not None or m.photo is not None]


async def test_a_custom_range_typed_in_chinese(team: dict[str, Any], sandbox: Any) -> None:
    fang = team["fang"]
    await fang.send("/report")
    replies = await fang.press("📅 自定义日期…")
    assert "起止日期" in replies[-1].text
    replies = await fang.send("下个月吧")
    assert "无法识别" in replies[-1].text and "请重新输入" in replies[-1].text
    replies = await fang.send("3月5日-3月1日")
    assert "结束日期早于开始日期" in replies[-1].text
    replies = await send(fang, "2月20日-3月1日", photo=True)
    text = summary(replies)
    assert shown_days(2026, 2, 20, 2026, 3, 1, "zh") in text
    assert "跟进次数：1 ▲1" in text and f"销售额 (CNY)：{money(800, 'zh')} ▲{money(800, 'zh')}" in text
    chart(sandbox, replies)
    replies = await fang.send("2月20日-3月1日")  # the conversation ended: plain text again
    assert not [m for m in replies if m.photo is not None]


async def test_a_custom_range_typed_in_english_keeps_the_chosen_scope(team: dict[str, Any], sandbox: Any) -> None:
    manager = team["manager"]
    await manager.send("/report")
    await manager.press("王芳")
    replies = await manager.press("📅 Custom range…")
    assert "Which days?" in replies[-1].text
    replies = await manager.send("15 March - 1 March")
    assert "The end date is before the start date." in replies[-1].text
    replies = await manager.send("5 March - 10 March")
    assert "That range starts in the future." in replies[-1].text
    replies = await send(manager, "20 February - 1 March", photo=True)
    text = summary(replies)
    assert "· 王芳" in text
    chart(sandbox, replies)


async def test_the_weekly_report_arrives_once_at_its_local_time(
    team: dict[str, Any], bot: Any, sandbox: Any, clock: Any
) -> None:
    scheduler = bot.bot_data[SCHEDULER_KEY]
    store = bot.bot_data[SERVICES_KEY].store

    async def run_until(until: datetime, step: timedelta) -> None:
        while clock.now() < until:
            clock.set(min(clock.now() + step, until))
            await scheduler.tick()
            await sandbox.wait_idle()

    def weekly(user: Any, marker: str) -> list[Any]:
        return [m for m in user.bot_messages() if marker in (m.text or "")]

    await scheduler.tick()  # the bot starts on Monday 09:00: last week's report is not news any more
    clock.set(local(2026, 3, 8, 20, 0))
    await run_until(local(2026, 3, 9, 8, 30), timedelta(hours=1))
    assert weekly(team["manager"], "Weekly report") == []
    await run_until(local(2026, 3, 9, 10, 0), timedelta(minutes=30))
    received = weekly(team["manager"], "Weekly report")
    assert len(received) == 1 and shown_days(2026, 3, 2, 2026, 3, 8) in received[0].text
    assert received[0].date == int(local(2026, 3, 9, 9, 0).timestamp())
    assert len(weekly(team["wes"], "周报")) == 1  # the west manager, in Chinese, about the west team
    assert "West Secret" not in received[0].text and "Wu" not in received[0].text
    assert weekly(team["rita"], "Weekly report") == []  # reps get no push

    await run_until(local(2026, 3, 9, 18, 0), timedelta(hours=1))
    assert len(weekly(team["manager"], "Weekly report")) == 1
    reminders = await store.reminders.find({"kind": ReminderKind.WEEKLY_REPORT.value, "recipient_id": str(MANAGER)})
    assert sorted(r.dedupe_key for r in reminders) == [f"weekly_report:{MANAGER}:2026-W10",
                                                      f"weekly_report:{MANAGER}:2026-W11"]

    replies = await press(team["manager"], "📊 Chart & Excel", photo=True, files=1)
    chart(sandbox, replies)
    content, _name = document(sandbox, replies)
    assert workbook_summary(content)["Period start"][0].date() == date(2026, 3, 2)


def chart_text(sandbox: Any, replies: list[Any]) -> dict[str, str]:
    """The chart's title and bar labels, from the PNG's text chunks."""
    from PIL import Image

    content, _name = sandbox.file_content_for(chart(sandbox, replies))
    return dict(Image.open(io.BytesIO(content)).text)


@pytest.mark.parametrize(("who", "this_week", "title", "not_title"), [
    ("rita", "This week", "Report: Rita", "Team report"),
    ("fang", "本周", "报表：王芳", "团队报表"),
])
async def test_a_reps_own_chart_is_titled_with_their_name(
    team: dict[str, Any], sandbox: Any, who: str, this_week: str, title: str, not_title: str
) -> None:
    user = team[who]
    await user.send("/report")
    text = chart_text(sandbox, await press(user, this_week, photo=True))
    assert text["Title"].startswith(title) and not_title not in text["Title"], text


@pytest.mark.parametrize(("who", "this_week", "title"), [
    ("manager", "This week", "Team report: east"),
    ("wes", "本周", "团队报表：west"),
])
async def test_a_managers_chart_is_titled_with_the_team(
    team: dict[str, Any], sandbox: Any, who: str, this_week: str, title: str
) -> None:
    user = team[who]
    await user.send("/report")
    text = chart_text(sandbox, await press(user, this_week, photo=True))
    assert text["Title"].startswith(title), text


@pytest.mark.parametrize("language", ["en", "zh"])
async def test_chart_bars_keep_long_similar_rep_names_apart(
    team: dict[str, Any], bot: Any, sandbox: Any, clock: Any, language: str
) -> None:
    store, now = bot.bot_data[SERVICES_KEY].store, clock.now()
    names = {861: "Rep Wang Xiaoming", 862: "Rep Wang Xiaohong"} if language == "en" else {
        861: "销售部王小明同学一号", 862: "销售部王小明同学二号"}
    owner, team_name = (RITA, "east") if language == "en" else (WU, "west")
    customer = (await store.customers.find({"owner_id": str(owner)}))[0]
    for uid, name in names.items():
        await store.staff.insert(StaffUser(id=str(uid), telegram_id=uid, name=name, role=Role.REP,
                                           teams=[team_name], language=language, created_at=now,
                                           updated_at=now))
        await store.interactions.insert(Interaction(customer_id=customer.id, owner_id=str(uid),
                                                    kind=InteractionKind.CALL, occurred_at=now,
                                                    created_at=now, updated_at=now))
    manager = team["manager"] if language == "en" else team["wes"]
    await manager.send("/report")
    text = chart_text(sandbox, await press(manager, "This week" if language == "en" else "本周", photo=True))
    bars = [line.split(": ")[0] for line in text["Description"].splitlines()]
    shown = [b for b in bars if b.startswith(("Rep W", "销售部"))]
    assert len(shown) == 2 and len(set(shown)) == 2, bars
    assert all(len(b) <= 10 for b in shown), bars

