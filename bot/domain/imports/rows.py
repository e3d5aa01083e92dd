"""One spreadsheet row into a card draft (and a purchase), or the reasons it cannot be.

Every field goes through the parser the card's own form uses (``bot.domain.card``): phones
(phonenumbers, several per cell or per column), birthdays (solar, lunar 农历三月初五,
1990/5/3, 1990年5月3日, an Excel serial), e-mail, tags. A choice field (source, gender,
industry) takes its value or, when the text is none of the choices, keeps it in the notes.
Unknown columns mapped to :data:`~.mapping.NOTE` become "header: value" lines of the notes.
Text is text: a cell starting with ``= + - @`` is stored as typed, never evaluated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from bot.domain import card, dates, validation
from bot.domain.duplicates import company_key
from bot.domain.imports.mapping import IGNORE, NOTE, Mapping
from bot.domain.money import parse_money, parse_quantity
from bot.domain.search import compact

NOTES_MAX = 2000
_CHOICE_WORDS = {
    "gender": {"男": "male", "女": "female", "m": "male", "f": "female", "男性": "male", "女性": "female",
               "先生": "male", "女士": "female"},
    "source": {"转介绍": "referral", "介绍": "referral", "推荐": "referral", "老客户介绍": "referral",
               "展会": "event", "活动": "event", "广告": "ad", "陌拜": "cold_call", "电话营销": "cold_call",
               "来电": "inbound", "自然流量": "inbound", "官网": "inbound", "其他": "other", "其它": "other"},
}


@dataclass
class RowResult:
    """``index``: the row's place in the sheet (0-based, header row included)."""

    index: int
    cells: list[str]
    draft: dict[str, Any] = field(default_factory=dict)
    purchase: dict[str, Any] | None = None
    errors: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)  # (column, reason, params)
    blank: bool = False

    @property
    def valid(self) -> bool:
        return not self.blank and not self.errors


def _date_text(text: str) -> str:
    serial = dates.excel_serial_date(text) if len(text.strip()) == 5 else None
    return serial.isoformat() if serial else text


def convert_row(index: int, cells: Sequence[str], header: Sequence[str], mapping: Mapping,
                ctx: card.InputContext) -> RowResult:
    result = RowResult(index, list(cells))
    if not any(c.strip() for c in cells):
        result.blank = True
        return result
    phones: list[str] = []
    notes: list[str] = []
    purchase: dict[str, str] = {}
    draft = result.draft
    for column, target in enumerate(mapping):
        text = cells[column].strip() if column < len(cells) else ""
        label = header[column] if column < len(header) and header[column] else f"#{column + 1}"
        if not text or target == IGNORE:
            continue
        if target == NOTE:
            notes.append(f"{label}: {text}")
        elif target == "notes":
            notes.append(text)
        elif target == "phones":
            phones.append(text)
        elif target.startswith("purchase."):
            purchase[target.removeprefix("purchase.")] = text
        else:
            _field(result, target, label, text, ctx, notes)
    if phones:
        try:
            card.set_field(draft, "phones", ", ".join(p.replace("/", ",") for p in phones), ctx)
        except validation.ValidationError as error:
            result.errors.append(("phones", error.reason_code, error.params))
    if "name" not in draft and not any(c == "name" for c, _r, _p in result.errors):
        result.errors.insert(0, ("name", "import.no_name", {}))
    if notes:
        try:
            card.set_field(draft, "notes", "\n".join(notes)[:NOTES_MAX], ctx)
        except validation.ValidationError as error:
            result.errors.append(("notes", error.reason_code, error.params))
    if purchase:
        result.purchase = _purchase(result, purchase, ctx)
    return result


def _field(result: RowResult, target: str, label: str, text: str, ctx: card.InputContext,
           notes: list[str]) -> None:
    spec = card.BY_KEY.get(target)
    if spec is None:
        return
    if spec.kind == "choice":
        value = _CHOICE_WORDS.get(target, {}).get(text.casefold(), text.casefold())
        if card.set_choice(result.draft, target, value):
            return
        if spec.parse is None:  # gender, source: keep what the file said
            notes.append(f"{label}: {text}")
            return
    try:
        card.set_field(result.draft, target, _date_text(text) if target == "birthday" else text, ctx)
    except validation.ValidationError as error:
        result.errors.append((target, error.reason_code, error.params))


def _purchase(result: RowResult, parts: dict[str, str], ctx: card.InputContext) -> dict[str, Any] | None:
    if "product" not in parts and "amount" not in parts:
        return None  # only a date or a quantity: nothing bought to record
    purchase: dict[str, Any] = {"product": " ".join(parts.get("product", "").split())[:200]}
    if not purchase["product"]:
        result.errors.append(("purchase.product", "import.no_product", {}))
    try:
        money = parse_money(parts.get("amount", ""))
        purchase["amount"], purchase["currency"] = str(money.amount), money.currency
    except validation.ValidationError as error:
        result.errors.append(("purchase.amount", error.reason_code, error.params))
    day: date = ctx.today
    if parts.get("date"):
        try:
            day = dates.parse_purchase_date(_date_text(parts["date"]), today=ctx.today)
        except validation.ValidationError as error:
            result.errors.append(("purchase.date", error.reason_code, error.params))
    purchase["purchased_on"] = day.isoformat()
    purchase["quantity"] = 1
    if parts.get("quantity"):
        try:
            purchase["quantity"] = parse_quantity(parts["quantity"])
        except validation.ValidationError as error:
            result.errors.append(("purchase.quantity", error.reason_code, error.params))
    return purchase


def identity_keys(draft: dict[str, Any]) -> list[str]:
    """What makes two rows one customer: a phone, an e-mail, or the name within the company."""
    keys = [f"phone:{p}" for p in draft.get("phones", [])]
    if draft.get("email"):
        keys.append(f"email:{str(draft['email']).casefold()}")
    company = company_key(draft.get("company"))
    if company and draft.get("name"):
        keys.append(f"name:{compact(draft['name'])}@{company}")
    return keys


def file_duplicates(results: Sequence[RowResult]) -> dict[int, int]:
    """Rows that repeat an earlier valid row of the file: row index → the earlier row's index."""
    first: dict[str, int] = {}
    repeats: dict[int, int] = {}
    for result in results:
        if not result.valid:
            continue
        keys = identity_keys(result.draft)
        earlier = next((first[k] for k in keys if k in first), None)
        if earlier is not None:
            repeats[result.index] = earlier
            continue
        for key in keys:
            first.setdefault(key, result.index)
    return repeats
