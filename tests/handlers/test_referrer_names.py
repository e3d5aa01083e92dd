"""A referrer the reader may not see is never named (issue 14.10).

The referrer of a card belongs to another team: the card, its edit form, the change
history and the saved edit show that there is a referrer, "hidden", never their name —
and an edit of another field still saves, keeping the referrer as it was.
"""

from __future__ import annotations

from typing import Any

import pytest

from bot.domain.models import Customer, Feedback, FeedbackKind, ReminderKind, Role, StaffUser
from handlers.common import SERVICES_KEY
from tests.handlers.test_buttons import add_staff

SECRET = "Zhao Secretname"
HIDDEN = {"en": "hidden", "zh": "不可见"}
EDIT = {"en": "✏️ Edit", "zh": "✏️ 编辑"}
SAVE = {"en": "✅ Save", "zh": "✅ 保存"}


@pytest.fixture
async def cards(bot: Any, clock: Any) -> dict[str, Customer]:
    store = bot.bot_data[SERVICES_KEY].store
    now = clock.now()
    referrer = await store.customers.insert(Customer(
        id="r1", name=SECRET, owner_id="732", team="west", created_by="732", created_at=now, updated_at=now))
    referred = await store.customers.insert(Customer(
        id="c1", name="Chen Referred", owner_id="731", team="east", created_by="731", created_at=now,
        updated_at=now, referred_by=referrer.id))
    return {"referrer": referrer, "referred": referred}


@pytest.mark.parametrize("language", ["en", "zh"])
async def test_a_referrer_of_another_team_is_hidden_on_the_card_and_its_edit(
    bot: Any, sandbox: Any, cards: dict[str, Customer], language: str
) -> None:
    rep = await add_staff(bot, sandbox, 731, "Wang Fang", Role.REP, ["east"], language)
    await add_staff(bot, sandbox, 732, "Rob West", Role.REP, ["west"])
    seen: list[str] = []
    replies = await rep.send("/start card_c1")
    seen += [m.text or "" for m in replies]
    replies = await rep.press(EDIT[language])
    seen += [m.text or "" for m in replies]
    assert HIDDEN[language] in replies[-1].text
    label = "Referred by" if language == "en" else "推荐人"
    replies = await rep.press(next(b for row in rep.last_message().button_labels() for b in row if label in b))
    seen += [m.text or "" for m in replies]
    assert all(SECRET not in text for text in seen), seen


async def test_an_edit_of_another_field_saves_and_keeps_the_hidden_referrer(
    bot: Any, sandbox: Any, cards: dict[str, Customer]
) -> None:
    rep = await add_staff(bot, sandbox, 731, "Wang Fang", Role.REP, ["east"])
    await add_staff(bot, sandbox, 732, "Rob West", Role.REP, ["west"])
    await rep.send("/start card_c1")
    await rep.press(EDIT["en"])
    await rep.press("City")
    await rep.send("Hangzhou")
    replies = await rep.press(SAVE["en"])
    texts = [m.text or "" for m in replies]
    assert all(SECRET not in t for t in texts)
    saved = await bot.bot_data[SERVICES_KEY].store.customers.get("c1")
    assert saved.city == "Hangzhou" and saved.referred_by == "r1"
    replies = await rep.press("🧾 Changes") if any("🧾 Changes" in b for row in rep.last_message().button_labels()
                                                   for b in row) else []
    assert all(SECRET not in (m.text or "") for m in replies)


@pytest.mark.parametrize("kind", ["complaint_alert", "feedback_overdue", "churn_summary"])
async def test_a_managers_alert_about_a_customer_moved_to_another_team_does_not_name_them(
    bot: Any, cards: dict[str, Customer], clock: Any, kind: str
) -> None:
    """Same class, in reminders: an alert that stays with a manager while its customer moves to a team the
    manager does not see (reassigned) names nobody when it is delivered."""
    svc = bot.bot_data[SERVICES_KEY]
    now = clock.now()
    manager = await svc.store.staff.insert(StaffUser(id="733", telegram_id=733, name="Mia East", role=Role.MANAGER,
                                                     teams=["east"], created_at=now, updated_at=now))
    feedback = await svc.store.feedback.insert(Feedback(customer_id="r1", owner_id="732", kind=FeedbackKind.COMPLAINT,
                                                        content="broken", created_at=now, updated_at=now))
    if kind == "churn_summary":
        reminder = await svc.reminders.schedule(kind=ReminderKind.CHURN_WARNING, recipient_id=manager.id, due_at=now,
                                                dedupe_key="churn:test", payload={"summary": True,
                                                                                  "customers": ["r1", "c1"]})
        subject = await svc.delivery.subject(reminder, manager)
        assert subject is not None and set(subject.customers) == {"c1"}  # r1 is of the west team
        return
    reminder = await svc.reminders.schedule(kind=ReminderKind(kind), recipient_id=manager.id, due_at=now,
                                            dedupe_key=f"{kind}:test", customer_id="r1",
                                            payload={"feedback_id": feedback.id})
    assert await svc.delivery.subject(reminder, manager) is None
