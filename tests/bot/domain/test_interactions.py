"""The rules of logging contacts and handling feedback (bot/domain/interactions.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.clock import SimulatedClock
from bot.domain import access
from bot.domain import interactions as rules
from bot.domain.models import (
    Customer,
    Direction,
    InteractionKind,
    Outcome,
    Role,
    StaffUser,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
LONDON = ZoneInfo("Europe/London")
NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # Monday 09:00 in Shanghai


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("called, wants a quote", InteractionKind.CALL),
        ("Phoned them twice", InteractionKind.CALL),
        ("给他打电话了", InteractionKind.CALL),
        ("电话沟通", InteractionKind.CALL),
        ("visited the factory", InteractionKind.VISIT),
        ("拜访了工厂", InteractionKind.VISIT),
        ("met at the fair", InteractionKind.MEETING),
        ("Meeting with the buyer", InteractionKind.MEETING),
        ("见面聊了", InteractionKind.MEETING),
        ("WeChat chat about prices", InteractionKind.WECHAT),
        ("微信聊了", InteractionKind.WECHAT),
        ("emailed the catalogue", InteractionKind.EMAIL),
        ("发了邮件", InteractionKind.EMAIL),
        ("sent a message", InteractionKind.MESSAGE),
        ("发短信提醒", InteractionKind.MESSAGE),
        ("微信电话", InteractionKind.WECHAT),  # the first keyword wins
        ("visited, then called", InteractionKind.VISIT),
    ],
)
def test_kind_from_keywords(text: str, kind: InteractionKind) -> None:
    assert rules.kind_from_text(text) is kind


@pytest.mark.parametrize("text", ["wants a quote", "a new method", "recalled nothing", "", "12345"])
def test_no_kind_without_a_keyword(text: str) -> None:
    assert rules.kind_from_text(text) is None


@pytest.mark.parametrize(
    ("text", "outcome"),
    [
        ("called, no answer", Outcome.NO_ANSWER),
        ("打了两次没接", Outcome.NO_ANSWER),
        ("not interested at all", Outcome.NOT_INTERESTED),
        ("客户不感兴趣", Outcome.NOT_INTERESTED),
        ("very interested in the new line", Outcome.INTERESTED),
        ("有意向", Outcome.INTERESTED),
        ("sent a quote", Outcome.QUOTE_SENT),
        ("已报价", Outcome.QUOTE_SENT),
        ("签单了！", Outcome.DEAL_WON),
        ("丢单", Outcome.DEAL_LOST),
        ("called, wants a quote", Outcome.REACHED),
    ],
)
def test_outcome_from_keywords(text: str, outcome: Outcome) -> None:
    assert rules.outcome_from_text(text) is outcome


def test_direction_is_outbound_unless_the_text_says_otherwise() -> None:
    assert rules.direction_from_text("called, wants a quote") is Direction.OUTBOUND
    assert rules.direction_from_text("客户来电咨询") is Direction.INBOUND
    assert rules.direction_from_text("she called in about the invoice") is Direction.INBOUND


def test_only_reaching_the_customer_is_a_contact() -> None:
    assert not rules.reached_customer(Outcome.NO_ANSWER)
    assert all(rules.reached_customer(o) for o in Outcome if o is not Outcome.NO_ANSWER)
    assert rules.reached_customer(None)


@pytest.mark.parametrize(
    ("text", "summary", "when"),
    [
        ("called, wants a quote, follow up Friday", "called, wants a quote", datetime(2026, 3, 6, 9, 0)),
        ("called. Follow-up: next Tue 3pm", "called", datetime(2026, 3, 3, 15, 0)),
        ("visited, follow up in 3 days, bring samples", "visited, bring samples", datetime(2026, 3, 5, 9, 0)),
        ("打电话，要报价，跟进 下周二", "打电话，要报价", datetime(2026, 3, 10, 9, 0)),
        ("拜访了工厂，下周二下午三点再联系", "拜访了工厂", datetime(2026, 3, 10, 15, 0)),
        ("电话沟通了报价下周二再联系", "电话沟通了报价", datetime(2026, 3, 10, 9, 0)),
        ("微信聊了，周五跟进", "微信聊了", datetime(2026, 3, 6, 9, 0)),
        ("met at the fair, tomorrow", "met at the fair", datetime(2026, 3, 3, 9, 0)),
        ("called, wants a quote", "called, wants a quote", None),
        ("跟进了报价", "跟进了报价", None),  # "followed up on the quote": past, no date
        ("discussed 3 options, sent catalogue", "discussed 3 options, sent catalogue", None),
    ],
)
def test_quick_log_parsing(text: str, summary: str, when: datetime | None) -> None:
    parsed = rules.parse_quick_log(text, now=NOW, tz=SHANGHAI)
    assert parsed.summary == summary
    assert parsed.follow_up_at == (when.replace(tzinfo=SHANGHAI) if when else None)
    assert parsed.follow_up_error is None


def test_quick_log_reports_an_unreadable_follow_up() -> None:
    parsed = rules.parse_quick_log("called, follow up whenever", now=NOW, tz=SHANGHAI)
    assert parsed.follow_up_at is None
    assert (parsed.follow_up_text, parsed.follow_up_error) == ("whenever", "date.unrecognised")
    assert parsed.kind is InteractionKind.CALL and parsed.outcome is Outcome.REACHED


def test_quick_log_reads_dates_in_the_given_time_zone() -> None:
    parsed = rules.parse_quick_log("called, follow up next Tue 3pm", now=NOW, tz=LONDON)
    assert parsed.follow_up_at == datetime(2026, 3, 3, 15, 0, tzinfo=LONDON)
    assert parsed.follow_up_at.astimezone(UTC) == datetime(2026, 3, 3, 15, 0, tzinfo=UTC)


@given(st.text(max_size=300))
def test_quick_log_never_raises(text: str) -> None:
    parsed = rules.parse_quick_log(text, now=NOW, tz=SHANGHAI)
    assert len(parsed.summary) <= rules.SUMMARY_MAX_LENGTH


def test_customer_names_at_the_start() -> None:
    names = {"a": "张伟", "b": "张伟明", "c": "Li", "d": "Lisa", "e": "Zhang Wei", "f": "张伟"}
    assert rules.name_prefix_matches("张伟打电话了", names) == (["a", "f"], "打电话了")
    assert rules.name_prefix_matches("张伟明 called", names) == (["b"], "called")
    assert rules.name_prefix_matches("Lisa called", names) == (["d"], "called")
    assert rules.name_prefix_matches("Li called", names) == (["c"], "called")
    assert rules.name_prefix_matches("zhang  wei, called", names) == (["e"], "called")
    assert rules.name_prefix_matches("Linda called", names) == ([], "Linda called")


def test_follow_up_buttons_are_days_at_nine_local() -> None:
    assert rules.follow_up_choice("tomorrow", now=NOW, tz=SHANGHAI) == datetime(2026, 3, 3, 9, tzinfo=SHANGHAI)
    assert rules.follow_up_choice("3d", now=NOW, tz=SHANGHAI) == datetime(2026, 3, 5, 9, tzinfo=SHANGHAI)
    assert rules.follow_up_choice("week", now=NOW, tz=SHANGHAI) == datetime(2026, 3, 9, 9, tzinfo=SHANGHAI)
    assert rules.follow_up_choice("month", now=NOW, tz=SHANGHAI) == datetime(2026, 4, 2, 9, tzinfo=SHANGHAI)
    # 01:00 UTC on 2 March is still Sunday 1 March in Los Angeles.
    la = ZoneInfo("America/Los_Angeles")
    assert rules.follow_up_choice("tomorrow", now=NOW, tz=la) == datetime(2026, 3, 2, 9, tzinfo=la)
    end_of_january = datetime(2026, 1, 31, 1, 0, tzinfo=UTC)
    assert rules.follow_up_choice("month", now=end_of_january, tz=SHANGHAI).date().isoformat() == "2026-02-28"
    with pytest.raises(ValueError):
        rules.follow_up_choice("someday", now=NOW, tz=SHANGHAI)


def _user(uid: str, role: Role, teams: list[str], active: bool = True) -> StaffUser:
    return StaffUser(id=uid, telegram_id=int(uid), name=uid, role=role, teams=teams, active=active)


def test_edit_window_with_the_clock() -> None:
    clock = SimulatedClock(NOW)
    created = clock.now()
    rep = _user("1", Role.REP, ["east"])
    other_rep = _user("2", Role.REP, ["east"])
    manager = _user("3", Role.MANAGER, ["east"])
    manager_west = _user("4", Role.MANAGER, ["west"])
    admin = _user("5", Role.ADMIN, [])
    customer = Customer(name="Zhang", owner_id="1", team="east")
    others = Customer(name="Li", owner_id="2", team="east")

    def may(actor: StaffUser, whose: Customer = customer, by: str = "1") -> bool:
        return access.can_edit_entry(actor, whose, by, created, clock.now(), 24)

    assert access.within_edit_window(created, clock.now(), 24)
    clock.advance(timedelta(hours=23, minutes=59))
    assert may(rep) and may(manager) and may(admin)
    assert not may(other_rep) and not may(manager_west)
    assert not may(rep, by="3")  # a manager's entry on the rep's customer is not the rep's own
    assert not may(rep, whose=others, by="1")  # cannot see the customer any more (reassigned)
    clock.advance(timedelta(hours=24) - timedelta(hours=23, minutes=59))
    assert may(rep)  # exactly 24 h: still inside
    clock.advance(timedelta(minutes=1))
    assert not access.within_edit_window(created, clock.now(), 24)
    assert not may(rep)
    assert may(manager) and may(admin)  # any time
    assert not may(manager_west)
    assert not may(_user("1", Role.REP, ["east"], active=False))


# ---- issue 13.19: more no-answer words and follow-up phrasings
_NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # Monday 09:00 in Shanghai
_SH = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize("text", ["没打通", "打电话没接通", "未接通", "no answer", "didn't pick up",
                                  "went to voicemail", "called, didn't get through"])
def test_no_answer_words(text: str) -> None:
    assert rules.parse_quick_log(text, now=_NOW, tz=_SH).outcome is Outcome.NO_ANSWER


@pytest.mark.parametrize(("text", "summary", "when"), [
    ("called, try again tomorrow", "called", datetime(2026, 3, 3, 9, 0, tzinfo=_SH)),
    ("no answer, call back Monday", "no answer", datetime(2026, 3, 9, 9, 0, tzinfo=_SH)),
    ("聊了报价，两小时后跟进", "聊了报价", datetime(2026, 3, 2, 11, 0, tzinfo=_SH)),
    ("没接通，半小时后再打", "没接通", datetime(2026, 3, 2, 9, 30, tzinfo=_SH)),
    ("三天后再联系", "", datetime(2026, 3, 5, 9, 0, tzinfo=_SH)),
])
def test_other_follow_up_phrasings(text: str, summary: str, when: datetime) -> None:
    parsed = rules.parse_quick_log(text, now=_NOW, tz=_SH)
    assert (parsed.summary, parsed.follow_up_at) == (summary, when)


# ---- amounts in a quick log (issue 13, point 19) ------------------------------------------------
@pytest.mark.parametrize(("text", "amount", "currency"), [
    ("签单了 5万", "50000.00", None), ("closed the deal 50k", "50000.00", None), ("signed, $2,000", "2000.00", "USD"),
    ("签单3000元", "3000.00", "CNY"), ("1.5万块", "15000.00", "CNY"), ("签了10w", "100000.00", None),
    ("¥ 1,999.90 deal", "1999.90", "CNY"), ("won it, 300 usd", "300.00", "USD"),
])
def test_an_amount_in_the_text_is_read(text: str, amount: str, currency: str | None) -> None:
    found = rules.amount_in_text(text)
    assert found is not None and str(found.amount) == amount and found.currency == currency


@pytest.mark.parametrize("text", ["called 3 times", "5kg of tea", "call 138 0013 8000", "meet at 3pm", "in 5 weeks",
                                  "3月5日签约", ""])
def test_numbers_that_are_no_amount_are_not_taken(text: str) -> None:
    assert rules.amount_in_text(text) is None


def test_the_quick_log_keeps_the_amount_in_the_summary_and_reads_it() -> None:
    now = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
    parsed = rules.parse_quick_log("签单了 5万，下周二再联系", now=now, tz=ZoneInfo("Asia/Shanghai"))
    assert parsed.outcome.value == "deal_won" and parsed.summary == "签单了 5万"
    assert parsed.amount is not None and str(parsed.amount.amount) == "50000.00"
