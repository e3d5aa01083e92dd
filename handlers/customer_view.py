"""Presenting customers: card fields as text in the user's language, the card and the draft."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date
from babel.numbers import format_currency
from lunar_python.util import LunarUtil

from bot import labels
from bot.config import Config
from bot.domain import card
from bot.domain.codec import from_dict
from bot.domain.models import Birthday, CalendarKind, Customer
from bot.domain.overdue import overdue
from bot.domain.phones import format_phone
from bot.domain.reorder import ReorderPrediction
from bot.i18n import gettext_for
from bot.render import format_datetime, render
from bot.services.customers import CardView


def money(amount: Decimal, currency: str, language: str) -> str:
    return format_currency(amount, currency, locale="zh_CN" if language == "zh" else "en")


def birthday_text(birthday: Birthday, language: str) -> str:
    """A birthday as the reader writes it; lunar month and day names are lunar-python's own."""
    _ = gettext_for(language)
    if birthday.calendar is CalendarKind.LUNAR:
        if language == "zh":
            month, day = LunarUtil.MONTH[birthday.month], LunarUtil.DAY[birthday.day]
        else:
            month, day = str(birthday.month), str(birthday.day)
        return _("lunar %(year)s%(leap)s%(month)s/%(day)s") % {
            "year": _("%(year)s-") % {"year": birthday.year} if birthday.year else "",
            "leap": _("leap ") if birthday.leap_month else "",
            "month": month,
            "day": day,
        }
    if birthday.year:
        return f"{birthday.year}-{birthday.month:02d}-{birthday.day:02d}"
    return _("%(month)s/%(day)s") % {"month": birthday.month, "day": birthday.day}


def choice_text(value: str, language: str) -> str:
    _ = gettext_for(language)
    return _(labels.CHOICES[value]) if value in labels.CHOICES else value


def value_text(key: str, value: Any, language: str, config: Config, names: dict[str, str]) -> str:
    """A draft/card value (in its stored JSON form) as the user should read it."""
    if key == "phones":
        return ", ".join(format_phone(p, config.locale.phone_region) for p in value)
    if key == "birthday":
        return birthday_text(from_dict(Birthday, value), language)
    if key in ("gender", "source", "needs_type", "industry"):
        return choice_text(value, language)
    if key == "referred_by":
        return names.get(value, "—")
    if key == "tags":
        return " ".join(f"#{tag}" for tag in value)
    return str(value)


_EMPTY = (None, "", [], {})
_STAFF_KEYS = ("owner_id", "created_by")
_DATETIME_KEYS = ("last_contact_at", "next_follow_up_at")


def field_label(key: str, language: str) -> str:
    """A stored field's name as the card shows it (a card field, or one of the record's own)."""
    _ = gettext_for(language)
    message = labels.FIELDS.get(key) or labels.RECORD_FIELDS.get(key)
    return _(message) if message else key


def stored_value_text(
    key: str, value: Any, language: str, config: Config, names: dict[str, str], tz: Any
) -> str:
    """A value as stored in an audit change, shown as the card shows it; ids become names."""
    _ = gettext_for(language)
    if value in _EMPTY:
        return "—"
    if key in card.BY_KEY:
        return value_text(key, value, language, config, names)
    if key in _STAFF_KEYS:
        return names.get(value, value)
    if key in ("value_tier", "value_tier_override"):
        return _(labels.TIERS.get(value, value))
    if key in ("stage", "stage_override"):
        return _(labels.STAGES.get(value, value))
    if key in _DATETIME_KEYS:
        return format_datetime(datetime.fromisoformat(value), language, tz)
    if isinstance(value, bool):
        return _(labels.YES_NO[value])
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def change_rows(
    changes: dict[str, list[Any]], language: str, config: Config, names: dict[str, str], tz: Any
) -> list[tuple[str, str, str]]:
    """An audit event's changes as (label, before, after), in the card's order and formats."""
    flat: dict[str, list[Any]] = {}
    for key, (before, after) in changes.items():
        if key == "handles":  # one stored dict, several card fields (WeChat, Telegram, …)
            before, after = before or {}, after or {}
            for handle in sorted(set(before) | set(after)):
                if before.get(handle) != after.get(handle):
                    flat[handle] = [before.get(handle), after.get(handle)]
        else:
            flat[key] = [before, after]
    order = [spec.key for spec in card.FIELDS] + list(labels.RECORD_FIELDS)
    flat = {k: v for k, v in flat.items() if not all(x in _EMPTY or x is False for x in v)}
    keys = sorted(flat, key=lambda k: (order.index(k) if k in order else len(order), k))
    return [
        (field_label(key, language),
         *(stored_value_text(key, value, language, config, names, tz) for value in flat[key]))
        for key in keys
    ]


def action_text(action: str, language: str) -> str:
    return labels.name(labels.AUDIT_ACTIONS, action, gettext_for(language))


def field_rows(
    draft: dict[str, Any], language: str, config: Config, names: dict[str, str]
) -> list[tuple[str, str]]:
    _ = gettext_for(language)
    return [
        (_(labels.FIELDS[spec.key]), value_text(spec.key, draft[spec.key], language, config, names))
        for spec in card.FIELDS
        if spec.key in draft
    ]


def render_draft(
    draft: dict[str, Any], language: str, config: Config, names: dict[str, str], *, editing: bool
) -> str:
    return render(language, "customer_draft", rows=field_rows(draft, language, config, names),
                  editing=editing)


def tier_text(customer: Customer, language: str) -> str:
    _ = gettext_for(language)
    tier = customer.effective_tier.value if customer.effective_tier else "none"
    return _(labels.TIERS[tier])


def stage_text(customer: Customer, language: str) -> str:
    _ = gettext_for(language)
    return _(labels.STAGES[customer.effective_stage.value])


# The tier and stage names already say these; the card shows the reasons that explain.
_SELF_EVIDENT = {"tier.no_purchases", "stage.never_purchased"}


def reason_texts(view: CardView, language: str, config: Config) -> list[str]:
    """Why the card has its tier and stage ("¥128,000.00 in the last 365 days …"), translated."""
    _ = gettext_for(language)

    def amount(value: Decimal) -> str:
        return money(value, config.locale.currency, language)

    return [labels.classification_reason(reason, _, amount)
            for reason in view.classification.reasons if reason.code not in _SELF_EVIDENT]


def day_text(day: date, language: str) -> str:
    """A day as people read it: "Feb 5, 2027" (the medium date of the reader's locale)."""
    return format_date(day, "medium", locale="zh_CN" if language == "zh" else "en")


def reorder_context(prediction: ReorderPrediction | None, language: str,
                    today: date | None = None) -> dict[str, Any] | None:
    """What the card and the reminder say about the predicted next purchase."""
    if prediction is None:
        return None
    amount = prediction.expected_amount
    return {
        "interval": prediction.interval_days,
        "expected": day_text(prediction.expected_on, language),
        "tolerance": prediction.tolerance_days,
        "amount": money(amount, prediction.currency, language) if amount and prediction.currency else None,
        "last": day_text(prediction.last_purchase_on, language),
        "late": prediction.days_late(today) if today else 0,
    }


def when_text(moment: datetime | None, language: str, tz: Any, *, weekday: bool = False) -> str:
    """A moment or "—"; ``weekday`` for what a rep confirms (``bot.render.format_datetime``)."""
    return format_datetime(moment, language, tz, weekday=weekday) if moment else "—"


def render_card(view: CardView, language: str, config: Config, tz: Any, *, now: datetime | None = None) -> str:
    """The card; with ``now``, a follow-up that has passed is marked overdue."""
    customer = view.customer
    late = overdue(customer.next_follow_up_at, now, ZoneInfo(tz) if isinstance(tz, str) else (tz or UTC)) \
        if now is not None else None
    _ = gettext_for(language)
    names = {view.referrer.id: view.referrer.name} if view.referrer else {}
    if view.referrer_hidden and customer.referred_by:  # the wording of the edit form (handlers/customers.py)
        names = {customer.referred_by: _("(hidden: not your customer)")}
    draft = card.draft_from_customer(customer)
    details = [
        row for row in field_rows(draft, language, config, names)
        if row[0] not in {_(labels.FIELDS[k]) for k in ("name", "company", "title")}
    ]
    return render(
        language, "customer_card",
        c=customer,
        tier=tier_text(customer, language),
        stage=stage_text(customer, language),
        tier_manual=customer.value_tier_override is not None,
        stage_manual=customer.stage_override is not None,
        reasons=reason_texts(view, language, config),
        owner=view.owner.name if view.owner else customer.owner_id,
        last_contact=when_text(view.last_contact, language, tz),
        next_follow_up=when_text(customer.next_follow_up_at, language, tz),
        follow_up_late=late.days if late else None,
        revenue=money(view.revenue_12m, config.locale.currency, language),
        purchases=[
            (p.product, money(p.amount, p.currency, language), p.quantity, p.purchased_on.isoformat())
            for p in view.recent_purchases
        ],
        feedback=[(_(labels.FEEDBACK_KINDS[f.kind.value]), f.severity.value, f.content[:80])
                  for f in view.open_feedback],
        details=details,
        reorder=reorder_context(view.reorder, language,
                                now.astimezone(ZoneInfo(tz) if isinstance(tz, str) else (tz or UTC)).date()
                                if now is not None else None),
    )
