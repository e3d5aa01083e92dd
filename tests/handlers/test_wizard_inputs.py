"""Whatever a user types at any wizard step: no crash, nothing Telegram would refuse, nothing lost."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bot.domain import card
from handlers.common import SERVICES_KEY
from handlers.customers import DRAFT
from handlers.purchases import DRAFT as PURCHASE_DRAFT
from tests.conftest import ADMIN_ID

pytestmark = pytest.mark.slow  # many end-to-end runs: skipped by the inner loop, run in CI

ERROR = "something went wrong"
NASTY = st.one_of(
    st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=60),
    st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=4096),
    st.sampled_from([
        "<b>bold", "</i>", "&amp;&lt;&#x1F600;", "<script>alert(1)</script>", "😀" * 2000,
        "a" * 4096, "\u202e\u0645\u0631\u062d\u0628\u0627", "\x00\x01\x02 ctrl", "0", "-1",
        "１２３", "∞", "NaN", "1e309", "+8613800138000" * 10, "农历闰十三月三十", "/", "@", "#",
        "next tuesday at 25:61", "2026-02-30", "99999999999999999999", "   x   ", "\n\n\nx",
    ]),
)
TEXT_FIELDS = [f.key for f in card.FIELDS if f.parse is not None]


def errors_since(user: Any, count: int) -> list[str]:
    return [m.text for m in user.bot_messages()[count:] if ERROR in (m.text or "")]


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(text=NASTY, key=st.sampled_from(TEXT_FIELDS))
async def test_any_text_at_any_customer_field(admin: Any, bot: Any, sandbox: Any, text: str, key: str) -> None:
    assume(text.strip())
    before = len(admin.bot_messages())
    await admin.send("/cancel")
    await admin.send("/add Keep Me 13800138000 Kept Co")
    await admin.press_forged(admin.last_message().message_id, f"add:field:{key}")
    await admin.send(text)
    assert not errors_since(admin, before)
    assert not sandbox.refused, sandbox.refused
    draft = bot.user_data[ADMIN_ID][DRAFT]
    if key != "name":
        assert draft["name"] == "Keep Me"
    if key != "phones":
        assert draft["phones"] == ["+8613800138000"]
    last = admin.last_message().text
    assert last.startswith("⚠️") or "check before saving" in last, last[:200]


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(texts=st.lists(NASTY, min_size=1, max_size=4))
async def test_any_text_at_any_purchase_step(admin: Any, bot: Any, sandbox: Any, texts: list[str]) -> None:
    before = len(admin.bot_messages())
    store = bot.bot_data[SERVICES_KEY].store
    if not await store.customers.count():
        await admin.send("/add Buyer 13800138000")
        await admin.press("✅ Save")
    await admin.send("/cancel")
    customer = (await store.customers.find())[0]
    await admin.press_forged(admin.last_message().message_id, f"buy:add:{customer.id}")
    for text in texts:
        if text.strip():
            await admin.send(text)
    assert not errors_since(admin, before)
    assert not sandbox.refused, sandbox.refused
    draft = bot.user_data[ADMIN_ID].get(PURCHASE_DRAFT)
    assert draft is not None and draft["customer_id"] == customer.id


async def test_invitation_and_team_names_take_anything(admin: Any, bot: Any, sandbox: Any) -> None:
    for text in ["x" * 4096, "<b>", "😀" * 60, "\u202eteam", "&amp;"]:
        await admin.send("/invite")
        await admin.press("rep")
        await admin.press("✏️ New team…")
        await admin.send(text)
        await admin.send("/cancel")
    assert not sandbox.refused, sandbox.refused
    assert not errors_since(admin, 0)


# ---- issue 6: logging contacts and recording feedback --------------------------------------
LOG_STEPS = ["pick", "kind", "outcome", "summary", "follow_up", "confirm"]
# What each step's buttons enter, in wizard order (forged presses of the real buttons).
LOG_BEFORE = [("kind", "log:kind:call"), ("outcome", "log:out:reached"), ("summary", None),
              ("follow_up", "log:fu:tomorrow")]


async def _a_customer(admin: Any, bot: Any) -> Any:
    store = bot.bot_data[SERVICES_KEY].store
    found = await store.customers.find({"owner_id": str(ADMIN_ID)})
    if not found:
        await admin.send("/cancel")
        await admin.send("/add Keep Me 13800138000")
        await admin.press("✅ Save")
        found = await store.customers.find({"owner_id": str(ADMIN_ID)})
    return found[0]


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(text=NASTY, step=st.sampled_from(LOG_STEPS))
async def test_any_text_at_any_log_step(admin: Any, bot: Any, sandbox: Any, text: str, step: str) -> None:
    from handlers.interactions import DRAFT as LOG_DRAFT

    assume(text.strip())
    customer = await _a_customer(admin, bot)
    before = len(admin.bot_messages())
    await admin.send("/cancel")
    if step == "pick":
        await admin.send("/log")
    else:
        await admin.press_forged(admin.last_message().message_id, f"log:start:{customer.id}")
        for key, data in LOG_BEFORE[:LOG_STEPS.index(step) - 1]:
            if data is None:
                await admin.send("Kept summary")
            else:
                await admin.press_forged(admin.last_message().message_id, data)
    await admin.send(text)
    assert not errors_since(admin, before)
    assert not sandbox.refused, sandbox.refused
    draft = bot.user_data[ADMIN_ID][LOG_DRAFT]
    entered = {"kind": "call", "outcome": "reached", "summary": "Kept summary"}
    if step != "pick":
        assert draft["customer_id"] == customer.id
    for key, _data in LOG_BEFORE[:max(0, LOG_STEPS.index(step) - 1)]:
        if key in entered:
            assert draft[key] == entered[key], (step, key, draft)
        else:
            assert key in draft
    assert await bot.bot_data[SERVICES_KEY].store.interactions.count() == 0


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(text=NASTY)
async def test_any_quick_log_text(admin: Any, bot: Any, sandbox: Any, text: str) -> None:
    assume(text.strip())
    await _a_customer(admin, bot)
    before = len(admin.bot_messages())
    await admin.send("/cancel")
    await admin.send("/log Keep Me " + text[:4000])
    await admin.send("/log " + text[:4000])
    assert not errors_since(admin, before)
    assert not sandbox.refused, sandbox.refused
    await admin.send("/cancel")


FEEDBACK_STEPS = ["kind", "severity", "content", "csat", "nps", "confirm", "due", "resolve"]
FEEDBACK_BEFORE = [("kind", "fb:kind:complaint"), ("severity", "fb:sev:high"), ("content", None),
                   ("csat", "fb:csat:4"), ("nps", "fb:nps:8")]


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(text=NASTY, step=st.sampled_from(FEEDBACK_STEPS))
async def test_any_text_at_any_feedback_step(admin: Any, bot: Any, sandbox: Any, text: str, step: str) -> None:
    from bot.domain.models import FeedbackKind, FeedbackStatus, Severity
    from handlers.feedback import DRAFT as FEEDBACK_DRAFT
    from handlers.feedback import RESOLVING

    assume(text.strip())
    customer = await _a_customer(admin, bot)
    store = bot.bot_data[SERVICES_KEY].store
    before = len(admin.bot_messages())
    await admin.send("/cancel")
    if step == "resolve":
        staff = await bot.bot_data[SERVICES_KEY].staff.get(ADMIN_ID)
        item, _alerts = await bot.bot_data[SERVICES_KEY].feedback.record(
            staff, customer.id, kind=FeedbackKind.QUESTION, severity=Severity.LOW, content="To resolve")
        await admin.press_forged(admin.last_message().message_id, f"fb:resolve:{item.id}")
        await admin.send(text)
        assert not errors_since(admin, before)
        assert not sandbox.refused, sandbox.refused
        stored = await store.feedback.get(item.id)
        if stored.status is FeedbackStatus.RESOLVED:
            assert stored.resolution and RESOLVING not in bot.user_data[ADMIN_ID]
        else:
            assert bot.user_data[ADMIN_ID][RESOLVING]["id"] == item.id
        return
    count = await store.feedback.count()
    await admin.press_forged(admin.last_message().message_id, f"fb:start:{customer.id}")
    steps_before = FEEDBACK_BEFORE if step in ("confirm", "due") else FEEDBACK_BEFORE[:FEEDBACK_STEPS.index(step)]
    for key, data in steps_before:
        if data is None:
            await admin.send("Kept content")
        else:
            await admin.press_forged(admin.last_message().message_id, data)
    if step == "due":
        await admin.press_forged(admin.last_message().message_id, "fb:field:due")
    await admin.send(text)
    assert not errors_since(admin, before)
    assert not sandbox.refused, sandbox.refused
    draft = bot.user_data[ADMIN_ID][FEEDBACK_DRAFT]
    entered = {"kind": "complaint", "severity": "high", "content": "Kept content", "csat": 4, "nps": 8}
    assert draft["customer_id"] == customer.id
    for key, _data in steps_before:
        assert draft[key] == entered[key], (step, key, draft)
    assert await store.feedback.count() == count
