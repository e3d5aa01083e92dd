"""The customer card shows why it has its tier and stage, in the reader's language."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from bot.config import Config
from bot.domain.classification import classify
from bot.domain.models import Customer, LifecycleStage, Purchase, ValueTier
from bot.services.customers import CardView
from handlers.customer_view import render_card

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 3, 10, 10, 0, tzinfo=SH)


def view(purchases: list[Purchase], **overrides: object) -> CardView:
    customer = Customer(id="c1", name="Zhang Wei", owner_id="r1", created_at=NOW, updated_at=NOW,
                        **overrides)
    return CardView(
        customer=customer,
        classification=classify(customer, purchases, [], NOW),
        owner=None,
        referrer=None,
        recent_purchases=purchases[:3],
        open_feedback=[],
        revenue_12m=sum((p.amount for p in purchases), Decimal(0)),
        last_contact=None,
    )


def bought(day: date, amount: int) -> Purchase:
    return Purchase(id=f"p{day:%m%d}", customer_id="c1", owner_id="r1", product="Tea",
                    amount=Decimal(amount), currency="CNY", purchased_on=day, created_at=NOW,
                    updated_at=NOW)


BIG_BUYER = [bought(date(2025, 11, 2), 80_000), bought(date(2026, 2, 1), 48_000)]


@pytest.mark.parametrize(
    ("language", "tier_reason", "stage_reason"),
    [
        ("en", "CN¥128,000.00 in the last 365 days (high value from CN¥100,000.00)", "2 purchases"),
        ("zh", "近 365 天消费 ¥128,000.00（满 ¥100,000.00 为高价值）", "购买 2 次"),
    ],
)
def test_the_card_shows_its_tier_reason(language: str, tier_reason: str, stage_reason: str) -> None:
    text = render_card(view(BIG_BUYER, value_tier=ValueTier.HIGH, stage=LifecycleStage.REPEAT), language, Config(), SH)
    assert tier_reason in text and stage_reason in text, text


def test_an_override_says_what_the_automatic_tier_would_be() -> None:
    card = view(BIG_BUYER[:1], value_tier=ValueTier.MID, value_tier_override=ValueTier.LOW)
    assert "value tier set by hand (automatic: mid value)" in render_card(card, "en", Config(), SH)
    assert "价值分级为手动设定（自动判定：中价值）" in render_card(card, "zh", Config(), SH)


def test_a_prospect_card_does_not_repeat_its_tier_as_a_reason() -> None:
    text = render_card(view([]), "en", Config(), SH)
    assert text.count("no purchases yet") == 1 and "never bought" not in text


@pytest.mark.parametrize(("language", "hidden"), [("en", "(hidden: not your customer)"), ("zh", "（不可见：不是你的客户）")])
def test_a_hidden_referrer_is_said_to_be_hidden_on_the_card(language: str, hidden: str) -> None:
    card = dataclasses.replace(view([], referred_by="cother"), referrer_hidden=True)
    text = render_card(card, language, Config(), SH)
    assert hidden in text and "cother" not in text, text


def test_a_visible_referrer_is_named_on_the_card() -> None:
    referrer = Customer(id="cref", name="Li Referrer", owner_id="r1", created_at=NOW, updated_at=NOW)
    card = dataclasses.replace(view([], referred_by="cref"), referrer=referrer)
    text = render_card(card, "en", Config(), SH)
    assert "Li Referrer" in text and "hidden" not in text, text
