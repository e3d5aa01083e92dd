"""The scheduler through the sandbox, under a controllable clock: on time, exactly once."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.app import SCHEDULER_KEY
from bot.domain.models import (
    Birthday,
    CalendarKind,
    Customer,
    Feedback,
    FeedbackKind,
    ReminderKind,
    ReminderStatus,
    Role,
    StaffUser,
)
from bot.sandbox.server import FloodLimits
from handlers.common import SERVICES_KEY
from tests.helpers import bot_in_sandbox, shown_at

SHANGHAI = ZoneInfo("Asia/Shanghai")
REP, REP2, MANAGER = 801, 802, 803


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


async def team(bot: Any, sandbox: Any, clock: Any) -> dict[str, Any]:
    store = bot.bot_data[SERVICES_KEY].store
    now = clock.now()
    for uid, name, role, language in ((REP, "Wang", Role.REP, "zh"), (REP2, "Anna", Role.REP, "en"),
                                      (MANAGER, "Chen", Role.MANAGER, "zh")):
        await store.staff.insert(StaffUser(id=str(uid), telegram_id=uid, name=name, role=role, teams=["east"],
                                           language=language, created_at=now, updated_at=now))
    return {
        "rep": sandbox.user(REP, first_name="Wang", language_code="zh-hans"),
        "rep2": sandbox.user(REP2, first_name="Anna", language_code="en"),
        "manager": sandbox.user(MANAGER, first_name="Chen", language_code="zh-hans"),
    }


async def customer(bot: Any, clock: Any, name: str, owner: int = REP, **fields: Any) -> Customer:
    svc = bot.bot_data[SERVICES_KEY]
    now = clock.now()
    record = Customer(name=name, owner_id=str(owner), team="east", created_at=now - timedelta(days=5),
                      updated_at=now, **fields)
    saved = await svc.store.customers.insert(record)
    await svc.reminders.schedule_follow_up(saved)
    return saved


async def run_until(bot: Any, sandbox: Any, clock: Any, until: datetime, step: timedelta = timedelta(minutes=30)) -> None:
    """Move the simulated clock forward in steps, letting the scheduler do what it would have done."""
    scheduler = bot.bot_data[SCHEDULER_KEY]
    while clock.now() < until:
        clock.set(min(clock.now() + step, until))
        await scheduler.tick()
        await sandbox.wait_idle()


def texts(user: Any, marker: str) -> list[str]:
    return [m.text for m in user.bot_messages() if marker in (m.text or "")]


async def test_follow_up_arrives_once_at_its_local_time_in_the_reps_language(bot: Any, sandbox: Any, clock: Any) -> None:
    users = await team(bot, sandbox, clock)
    await customer(bot, clock, "张伟", next_follow_up_at=local(2026, 3, 2, 15, 0))
    await run_until(bot, sandbox, clock, local(2026, 3, 2, 14, 59))
    assert texts(users["rep"], "跟进 张伟") == []
    await run_until(bot, sandbox, clock, local(2026, 3, 3, 12, 0), step=timedelta(minutes=1))
    follow_ups = [m for m in users["rep"].bot_messages() if "跟进 张伟" in (m.text or "")]
    assert len(follow_ups) == 1
    assert follow_ups[0].date == int(local(2026, 3, 2, 15, 0).timestamp())
    assert not sandbox.refused


async def test_nothing_is_delivered_in_quiet_hours(bot: Any, sandbox: Any, clock: Any) -> None:
    users = await team(bot, sandbox, clock)
    await customer(bot, clock, "Night Owl", owner=REP2, next_follow_up_at=local(2026, 3, 2, 22, 30))
    await run_until(bot, sandbox, clock, local(2026, 3, 3, 7, 59))
    assert texts(users["rep2"], "Follow up with Night Owl") == []
    await run_until(bot, sandbox, clock, local(2026, 3, 3, 8, 30), step=timedelta(minutes=1))
    messages = [m for m in users["rep2"].bot_messages() if "Follow up with Night Owl" in (m.text or "")]
    assert len(messages) == 1 and messages[0].date == int(local(2026, 3, 3, 8, 0).timestamp())


async def test_snooze_and_reassignment_are_honoured(bot: Any, sandbox: Any, clock: Any) -> None:
    users = await team(bot, sandbox, clock)
    svc = bot.bot_data[SERVICES_KEY]
    await customer(bot, clock, "Snoozy", owner=REP2, next_follow_up_at=local(2026, 3, 2, 10, 0))
    moving = await customer(bot, clock, "Moving", owner=REP2, next_follow_up_at=local(2026, 3, 2, 16, 0))
    await run_until(bot, sandbox, clock, local(2026, 3, 2, 10, 5), step=timedelta(minutes=5))
    replies = await users["rep2"].press("⏰ 1 hour")
    assert any("Snoozed until" in a["text"] for a in users["rep2"].callback_answers[-1:]) or replies == []
    await run_until(bot, sandbox, clock, local(2026, 3, 2, 11, 10), step=timedelta(minutes=5))
    assert len(texts(users["rep2"], "Follow up with Snoozy")) == 2
    manager = await svc.store.staff.get(str(MANAGER))
    await svc.customers.reassign(manager, moving.id, str(REP))
    await run_until(bot, sandbox, clock, local(2026, 3, 2, 16, 30), step=timedelta(minutes=5))
    assert texts(users["rep2"], "Follow up with Moving") == []
    assert len(texts(users["rep"], "跟进 Moving")) == 1


async def test_outage_is_caught_up_with_one_digest(bot: Any, sandbox: Any, clock: Any) -> None:
    users = await team(bot, sandbox, clock)
    for index in range(8):
        await customer(bot, clock, f"Client {index}", owner=REP2, next_follow_up_at=local(2026, 3, 2, 10, index))
    clock.set(local(2026, 3, 2, 18, 0))  # the bot was down all day
    await bot.bot_data[SCHEDULER_KEY].tick()
    await sandbox.wait_idle()
    digests = texts(users["rep2"], "While you were away")
    assert len(digests) == 1 and all(f"Client {i}" in digests[0] for i in range(8))
    assert texts(users["rep2"], "Follow up with") == []
    store = bot.bot_data[SERVICES_KEY].store
    assert await store.reminders.count({"status": ReminderStatus.PENDING.value, "recipient_id": str(REP2),
                                        "kind": ReminderKind.FOLLOW_UP.value}) == 0


async def test_restart_in_the_middle_loses_and_duplicates_nothing(
    bot: Any, sandbox: Any, clock: Any, config: Any
) -> None:
    users = await team(bot, sandbox, clock)
    for hour in (10, 11, 12, 13):
        await customer(bot, clock, f"Restart {hour}", owner=REP2, next_follow_up_at=local(2026, 3, 2, hour, 0))
    await run_until(bot, sandbox, clock, local(2026, 3, 2, 11, 30))
    await bot.stop()  # the fixture's bot goes away mid-day ...
    await bot.updater.stop()
    cfg = dataclasses.replace(config, telegram=dataclasses.replace(
        config.telegram, api_base_url=sandbox.base_url, file_base_url=sandbox.file_base_url))
    await bot.bot_data[SERVICES_KEY].store.close()
    async with bot_in_sandbox(sandbox, cfg, clock=clock,
                              auto_tick=False) as second:  # ... and comes back
        await run_until(second, sandbox, clock, local(2026, 3, 2, 14, 30))
        for hour in (10, 11, 12, 13):
            assert len(texts(users["rep2"], f"Follow up with Restart {hour}")) == 1, hour


async def test_birthday_greeting_with_copy_button_and_sent_logs_a_contact(bot: Any, sandbox: Any, clock: Any) -> None:
    users = await team(bot, sandbox, clock)
    svc = bot.bot_data[SERVICES_KEY]
    birthday_girl = await customer(bot, clock, "李娜", birthday=Birthday(calendar=CalendarKind.SOLAR, month=3, day=4))
    await run_until(bot, sandbox, clock, local(2026, 3, 3, 8, 30), step=timedelta(minutes=15))
    greeting = [m for m in users["rep"].bot_messages() if "生日快乐" in (m.text or "")]
    assert len(greeting) == 1 and "李娜" in greeting[0].text and "生日快乐" in greeting[0].text
    assert greeting[0].date == int(local(2026, 3, 3, 8, 0).timestamp())
    buttons = [b for row in greeting[0].reply_markup["inline_keyboard"] for b in row]
    assert buttons[0]["copy_text"]["text"].startswith("李娜，生日快乐")
    await users["rep"].press_button(greeting[0].message_id, 0, 1)
    interactions = await svc.store.interactions.find({"customer_id": birthday_girl.id})
    assert len(interactions) == 1 and "祝福" in interactions[0].summary


@pytest.mark.parametrize("language", ["zh", "en"])
async def test_lunar_festival_greeting_the_day_before_says_tomorrow(
    bot: Any, sandbox: Any, clock: Any, language: str
) -> None:
    from handlers.reminders import day_text

    users = await team(bot, sandbox, clock)
    rep, owner = (users["rep"], REP) if language == "zh" else (users["rep2"], REP2)
    clock.set(local(2027, 2, 4, 7, 0))  # 春节 2027 is 6 February, 除夕 the 5th; lead time one day
    await customer(bot, clock, "Emma", owner=owner)
    await run_until(bot, sandbox, clock, local(2027, 2, 5, 9, 0), step=timedelta(hours=1))
    greetings = [m for m in rep.bot_messages() if (m.text or "").startswith("🎉")]
    eve, spring = {"zh": ("除夕", "春节"), "en": ("Lunar New Year's Eve", "Spring Festival")}[language]
    tomorrow = {"zh": "明天（{}）", "en": "tomorrow ({})"}[language]
    assert [(f"{eve} · " + tomorrow.format(day_text(date(2027, 2, 5), language)) in m.text,
             f"{spring} · " + tomorrow.format(day_text(date(2027, 2, 6), language)) in m.text)
            for m in greetings] == [(True, False), (False, True)], [m.text for m in greetings]
    assert not any(("今天" if language == "zh" else "today") in m.text for m in greetings)
    assert [m.date for m in greetings] == [int(local(2027, 2, d, 8, 0).timestamp()) for d in (4, 5)]


async def test_churn_warning_once_to_the_owner_and_a_summary_to_the_manager(bot: Any, sandbox: Any, clock: Any) -> None:
    users = await team(bot, sandbox, clock)
    store = bot.bot_data[SERVICES_KEY].store
    old = await customer(bot, clock, "Silent Co", owner=REP2)
    await store.customers.update(dataclasses.replace(old, created_at=clock.now() - timedelta(days=400)))
    await store.feedback.insert(Feedback(customer_id=old.id, owner_id=str(REP2), kind=FeedbackKind.COMPLAINT,
                                         content="late again", created_at=clock.now(), updated_at=clock.now()))
    await run_until(bot, sandbox, clock, local(2026, 3, 2, 12, 0))
    await run_until(bot, sandbox, clock, local(2026, 3, 4, 12, 0), step=timedelta(hours=2))
    warnings = texts(users["rep2"], "may be slipping away")
    assert len(warnings) == 1 and "Silent Co" in warnings[0]
    assert len(texts(users["manager"], "新增有流失风险")) == 1


class TestTelegramLikeFloodLimits:
    @pytest.fixture
    def flood_limits(self) -> FloodLimits:
        return FloodLimits()

    async def test_a_busy_morning_never_trips_flood_control(self, bot: Any, sandbox: Any, clock: Any) -> None:
        users = await team(bot, sandbox, clock)
        for index in range(25):
            await customer(bot, clock, f"Busy {index}", owner=REP2, next_follow_up_at=local(2026, 3, 2, 10, 0))
        await run_until(bot, sandbox, clock, local(2026, 3, 2, 10, 0), step=timedelta(minutes=10))
        for _ in range(10):  # whatever flood control refused is retried on later ticks
            await sandbox.wait_idle(timeout=60)
            await run_until(bot, sandbox, clock, clock.now() + timedelta(minutes=1), step=timedelta(minutes=1))
        assert len(texts(users["rep2"], "Follow up with Busy")) == 25
        assert all(code == 429 for _method, code, _ in sandbox.refused)  # retried, never lost


def test_utc_is_not_the_local_day() -> None:
    assert local(2026, 3, 3, 7, 0).astimezone(UTC).day == 2


async def test_overdue_feedback_reminds_the_owner_then_escalates(bot: Any, sandbox: Any, clock: Any) -> None:
    users = await team(bot, sandbox, clock)
    store = bot.bot_data[SERVICES_KEY].store
    client = await customer(bot, clock, "Grumpy Ltd", owner=REP2)
    await store.feedback.insert(Feedback(
        customer_id=client.id, owner_id=str(REP2), kind=FeedbackKind.COMPLAINT, content="Delivery late",
        due_at=local(2026, 3, 2, 12, 0), created_at=clock.now(), updated_at=clock.now()))
    await run_until(bot, sandbox, clock, local(2026, 3, 2, 11, 0))
    assert texts(users["rep2"], "Delivery late") == []
    await run_until(bot, sandbox, clock, local(2026, 3, 2, 13, 30))
    assert len(texts(users["rep2"], "was due")) == 1
    assert texts(users["manager"], "已升级") == []
    await run_until(bot, sandbox, clock, local(2026, 3, 4, 13, 30), step=timedelta(hours=1))
    assert len(texts(users["rep2"], "was due")) == 1
    assert len(texts(users["manager"], "已升级")) == 1


async def test_daily_agenda_at_the_configured_local_hour(bot: Any, sandbox: Any, clock: Any) -> None:
    users = await team(bot, sandbox, clock)
    await customer(bot, clock, "Today Co", owner=REP2, next_follow_up_at=local(2026, 3, 3, 15, 0))
    await run_until(bot, sandbox, clock, local(2026, 3, 3, 8, 30), step=timedelta(minutes=15))
    agenda = [m for m in users["rep2"].bot_messages() if "Your day, 2026-03-03" in (m.text or "")]
    assert len(agenda) == 1 and "Today Co" in agenda[0].text
    assert agenda[0].date == int(local(2026, 3, 3, 8, 0).timestamp())


async def test_time_zones_other_than_the_servers_and_dst(bot: Any, sandbox: Any, clock: Any) -> None:
    users = await team(bot, sandbox, clock)
    store = bot.bot_data[SERVICES_KEY].store
    berlin = ZoneInfo("Europe/Berlin")
    anna = await store.staff.get(str(REP2))
    await store.staff.update(dataclasses.replace(anna, timezone="Europe/Berlin"))
    clock.set(datetime(2026, 3, 28, 12, 0, tzinfo=berlin))
    await customer(bot, clock, "After DST", owner=REP2,
                   next_follow_up_at=datetime(2026, 3, 29, 9, 0, tzinfo=berlin))  # clocks went forward at 02:00
    await run_until(bot, sandbox, clock, datetime(2026, 3, 29, 9, 30, tzinfo=berlin), step=timedelta(minutes=10))
    follow_up = [m for m in users["rep2"].bot_messages() if "Follow up with After DST" in (m.text or "")]
    assert len(follow_up) == 1
    sent = datetime.fromtimestamp(follow_up[0].date, berlin)
    assert (sent.hour, sent.utcoffset()) == (9, timedelta(hours=2))
    agenda = [m for m in users["rep2"].bot_messages() if "Your day, 2026-03-29" in (m.text or "")]
    assert datetime.fromtimestamp(agenda[0].date, berlin).hour == 8


async def test_settings_quiet_hours_off_lets_night_reminders_through(bot: Any, sandbox: Any, clock: Any) -> None:
    users = await team(bot, sandbox, clock)
    replies = await users["rep2"].send("/settings")
    assert "Quiet hours (no reminders): 21:00–8:00" in replies[-1].text
    replies = await users["rep2"].press("off")
    assert "Quiet hours (no reminders): off" in replies[-1].text
    await customer(bot, clock, "Night Call", owner=REP2, next_follow_up_at=local(2026, 3, 2, 23, 0))
    await run_until(bot, sandbox, clock, local(2026, 3, 2, 23, 5), step=timedelta(minutes=5))
    assert len(texts(users["rep2"], "Follow up with Night Call")) == 1


async def test_festivals_command_counts_my_customers(bot: Any, sandbox: Any, clock: Any) -> None:
    users = await team(bot, sandbox, clock)
    await customer(bot, clock, "Li Na", owner=REP2, gender=None,
                   birthday=Birthday(calendar=CalendarKind.LUNAR, month=2, day=2))
    await customer(bot, clock, "Zhou", owner=REP2)
    replies = await users["rep2"].send("/festivals")
    text = replies[-1].text
    assert "2026-03-03 Lantern Festival — 2 of your customers" in text
    assert "2026-03-08 International Women's Day — 0 of your customers" in text
    assert "Li Na" in text and "2026-03-20" in text  # lunar 2/2 of 2026


async def test_undeliverable_reminders_are_retried_then_given_up_with_the_reason(
    bot: Any, sandbox: Any, clock: Any
) -> None:
    users = await team(bot, sandbox, clock)
    store = bot.bot_data[SERVICES_KEY].store
    client = await customer(bot, clock, "Blocked", owner=REP2, next_follow_up_at=local(2026, 3, 2, 10, 0))
    users["rep2"].block()  # Telegram answers 403: bot was blocked by the user
    await run_until(bot, sandbox, clock, local(2026, 3, 2, 20, 0), step=timedelta(minutes=1))
    reminder = await store.reminders.get_by("dedupe_key", f"follow_up:{client.id}")
    assert reminder.status is ReminderStatus.FAILED
    assert reminder.attempts == bot.bot_data[SERVICES_KEY].config.reminders.max_attempts
    assert "Forbidden" in reminder.last_error


async def test_archiving_cancels_the_follow_up(bot: Any, sandbox: Any, clock: Any) -> None:
    users = await team(bot, sandbox, clock)
    svc = bot.bot_data[SERVICES_KEY]
    client = await customer(bot, clock, "Gone Co", owner=REP2, next_follow_up_at=local(2026, 3, 2, 10, 0))
    await svc.customers.archive(await svc.store.staff.get(str(REP2)), client.id)
    await run_until(bot, sandbox, clock, local(2026, 3, 2, 11, 0), step=timedelta(minutes=5))
    assert texts(users["rep2"], "Follow up with Gone Co") == []


# ---- downtime: every missed day caught up, nothing silently dropped (issue 13) -----------
MANAGER_EN = 804


def buttons(message: Any) -> list[dict[str, Any]]:
    return [b for row in (message.reply_markup or {}).get("inline_keyboard", []) for b in row]


async def reports_seen(user: Any) -> list[str]:
    """The text of every pushed report the user got or can open from a digest's buttons."""
    seen = [m.text for m in user.bot_messages() if (m.text or "").startswith("📊")]
    for message in [m for m in user.bot_messages() if m.text and m.text.startswith("📬")]:
        for row, line in enumerate(message.reply_markup["inline_keyboard"] if message.reply_markup else []):
            for col, button in enumerate(line):
                if button.get("callback_data", "").startswith("rem:open:"):
                    replies = await user.press_button(message.message_id, row, col)
                    seen += [m.text for m in replies if (m.text or "").startswith("📊")]
    return seen


@pytest.mark.parametrize("language", ["zh", "en"])
async def test_an_outage_over_christmas_and_new_year_is_caught_up_day_by_day(
    bot: Any, sandbox: Any, clock: Any, language: str
) -> None:
    from bot.domain.reports import Period
    from handlers.reports import period_text

    users = await team(bot, sandbox, clock)
    store = bot.bot_data[SERVICES_KEY].store
    await store.staff.insert(StaffUser(id=str(MANAGER_EN), telegram_id=MANAGER_EN, name="Mia", role=Role.MANAGER,
                                       teams=["east"], language="en", created_at=clock.now(), updated_at=clock.now()))
    users["manager_en"] = sandbox.user(MANAGER_EN, first_name="Mia", language_code="en")
    rep, manager = (users["rep"], users["manager"]) if language == "zh" else (users["rep2"], users["manager_en"])
    owner = REP if language == "zh" else REP2
    clock.set(local(2026, 12, 14, 9, 0))  # a Monday
    await customer(bot, clock, "张伟", owner=owner, birthday=Birthday(calendar=CalendarKind.SOLAR, month=12, day=20))
    await run_until(bot, sandbox, clock, local(2026, 12, 14, 12, 0))
    before = len(rep.bot_messages()), len(manager.bot_messages())

    clock.set(local(2027, 1, 13, 10, 0))  # the server was off for 30 days
    await run_until(bot, sandbox, clock, local(2027, 1, 13, 12, 0))

    missed = [m for m in rep.bot_messages()[before[0]:] if "张伟" in (m.text or "") and "🎉" in m.text]
    assert len(missed) == 1, [m.text for m in rep.bot_messages()[before[0]:]]
    text = missed[0].text
    occasions = {"zh": ("生日", "圣诞节", "元旦"), "en": ("birthday", "Christmas", "New Year's Day")}[language]
    assert all(o in text for o in occasions), text
    assert ("错过" if language == "zh" else "Missed") in text
    copies = [b["copy_text"]["text"] for b in buttons(missed[0]) if "copy_text" in b]
    assert len(copies) == 3 and all(c in text for c in copies)

    tz = SHANGHAI
    weeks = [Period.this_week(local(2026, 12, d, 12), tz) for d in (14, 21, 28)]
    weeks += [Period.this_week(local(2027, 1, d, 12), tz) for d in (4,)]
    months = [Period.this_month(local(2026, 12, 15, 12), tz)]
    reports = await reports_seen(manager)
    for period in weeks + months:
        shown = period_text(period, language)
        assert sum(r.split("\n")[1].startswith(shown) for r in reports) == 1, (shown, [r[:80] for r in reports])


@pytest.mark.parametrize("language", ["zh", "en"])
async def test_after_a_jump_through_quiet_hours_only_todays_agenda_is_sent(
    bot: Any, sandbox: Any, clock: Any, language: str
) -> None:
    users = await team(bot, sandbox, clock)
    store = bot.bot_data[SERVICES_KEY].store
    rep, owner = (users["rep"], REP) if language == "zh" else (users["rep2"], REP2)
    heading = {"zh": "☀️ 今日安排", "en": "☀️ Your day"}[language]
    clock.set(local(2026, 12, 10, 19, 0))
    await customer(bot, clock, "张伟", owner=owner, next_follow_up_at=local(2026, 12, 11, 15, 0))
    await run_until(bot, sandbox, clock, local(2026, 12, 10, 20, 0))
    clock.set(local(2026, 12, 14, 3, 0))  # the clock jumps into the quiet hours of the 14th
    await run_until(bot, sandbox, clock, local(2026, 12, 14, 10, 0))
    agendas = [m.text for m in rep.bot_messages() if (m.text or "").startswith(heading)]
    assert len(agendas) == 1 and "2026-12-14" in agendas[0], agendas
    stale = await store.reminders.find({"kind": ReminderKind.DAILY_AGENDA.value, "recipient_id": str(owner),
                                        "status": ReminderStatus.CANCELLED.value})
    superseded = [r.payload["day"] for r in stale if "superseded" in (r.last_error or "")]
    assert superseded == ["2026-12-11"]  # generated ahead before the jump, cancelled, never sent


class TestDowntimeBeyondTheHorizon:
    @pytest.fixture
    def config(self, config: Any) -> Any:
        return dataclasses.replace(config, reminders=dataclasses.replace(config.reminders, catch_up_days=7))

    @pytest.mark.parametrize("language", ["zh", "en"])
    async def test_the_admins_hear_in_one_message_what_was_not_caught_up(
        self, bot: Any, sandbox: Any, clock: Any, admin: Any, language: str
    ) -> None:
        from handlers.reminders import day_text

        users = await team(bot, sandbox, clock)
        store = bot.bot_data[SERVICES_KEY].store
        ada = await store.staff.get(str(admin.id))
        await store.staff.update(dataclasses.replace(ada, language=language))
        clock.set(local(2026, 12, 14, 9, 0))
        await customer(bot, clock, "张伟", birthday=Birthday(calendar=CalendarKind.SOLAR, month=12, day=20))
        await run_until(bot, sandbox, clock, local(2026, 12, 14, 12, 0))
        clock.set(local(2027, 1, 13, 10, 0))  # 30 days off; 7 are caught up
        await run_until(bot, sandbox, clock, local(2027, 1, 13, 12, 0))
        heading = {"zh": "停机时间超出补发范围", "en": "Downtime longer than the catch-up horizon"}[language]
        notes = [m.text for m in admin.bot_messages() if heading in (m.text or "")]
        assert len(notes) == 1, [m.text for m in admin.bot_messages()]
        first, last = day_text(date(2026, 12, 15), language), day_text(date(2027, 1, 5), language)
        assert first in notes[0] and last in notes[0] and " 22 " in notes[0]
        assert ("祝福：3 条" if language == "zh" else "greetings: 3") in notes[0]  # birthday, Christmas, New Year
        assert texts(users["rep"], "错过的祝福") == []  # nothing within the horizon: no missed greetings
        assert all(not (m.text or "").startswith("⚠️") for m in users["rep"].bot_messages())


@pytest.mark.parametrize("language", ["zh", "en"])
async def test_overdue_follow_ups_are_marked_and_listed_first_in_the_agenda_and_on_the_card(
    bot: Any, sandbox: Any, clock: Any, language: str
) -> None:
    users = await team(bot, sandbox, clock)
    store = bot.bot_data[SERVICES_KEY].store
    user, owner = (users["rep"], REP) if language == "zh" else (users["rep2"], REP2)
    now = clock.now()
    for name, due in (("Today Co", local(2026, 3, 3, 15, 0)), ("Late Co", local(2026, 1, 2, 10, 0))):
        await store.customers.insert(Customer(name=name, owner_id=str(owner), team="east", created_at=now,
                                              updated_at=now, next_follow_up_at=due))
    await run_until(bot, sandbox, clock, local(2026, 3, 3, 8, 30), step=timedelta(minutes=15))
    heading = {"zh": "今日安排（2026-03-03）", "en": "Your day, 2026-03-03"}[language]
    agenda = [m for m in user.bot_messages() if heading in (m.text or "")]
    assert len(agenda) == 1, [m.text for m in user.bot_messages()]
    late = shown_at(2026, 1, 2, 10, language=language)
    marked = {"zh": f"Late Co — ⚠️ 已逾期 60 天（{late}）", "en": f"Late Co — ⚠️ overdue since {late} (60 days)"}
    text = agenda[0].text
    assert marked[language] in text, text
    assert text.index("Late Co") < text.index("Today Co")
    assert f"Today Co — {shown_at(2026, 3, 3, 15, language=language)}" in text  # not overdue: plain
    assert agenda[0].button_labels()[0] == ["⚠️ Late Co"]

    card = (await user.press("⚠️ Late Co"))[-1].text
    on_card = {"zh": f"下次跟进：⚠️ 已逾期 60 天（{late}）", "en": f"Next follow-up: ⚠️ overdue since {late} (60 days)"}
    assert on_card[language] in card, card
