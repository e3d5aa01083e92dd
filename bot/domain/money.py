"""Amounts and quantities as reps type them: "1999", "1,999.90", "¥2000", "1.2万", "3 pcs"."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from bot.domain.dates import CN_NUM, cn_number
from bot.domain.validation import INPUT_MAX, ValidationError, nfkc, one_line

AMOUNT_MAX = Decimal(10**12)
AMOUNT_DECIMALS = 2
QUANTITY_MAX = 1_000_000


# --------------------------------------------------------- amounts & quantity

_MULTIPLIERS = {"万": Decimal(10_000), "萬": Decimal(10_000), "w": Decimal(10_000),
                "千": Decimal(1_000), "k": Decimal(1_000), "亿": Decimal(100_000_000),
                "億": Decimal(100_000_000), "百万": Decimal(1_000_000)}
_CURRENCY_WORDS = {
    "¥": "CNY", "rmb": "CNY", "cny": "CNY", "元": "CNY", "块钱": "CNY", "块": "CNY",
    "人民币": "CNY", "圆": "CNY", "$": "USD", "usd": "USD", "美元": "USD", "美金": "USD",
    "€": "EUR", "eur": "EUR", "欧元": "EUR", "£": "GBP", "gbp": "GBP", "英镑": "GBP",
    "hk$": "HKD", "hkd": "HKD", "港币": "HKD", "港元": "HKD", "jpy": "JPY", "日元": "JPY",
}
_CURRENCY_PATTERN = "|".join(
    re.escape(word) for word in sorted(_CURRENCY_WORDS, key=len, reverse=True)
)
_AMOUNT = re.compile(
    rf"(?P<cur1>{_CURRENCY_PATTERN})?\s*(?P<sign>[-+])?\s*(?P<cur2>{_CURRENCY_PATTERN})?\s*"
    r"(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d*)?|\.\d+)\s*"
    r"(?P<mult>百万|万|萬|千|亿|億|w|k)?\s*"
    rf"(?P<cur3>{_CURRENCY_PATTERN})?\s*(?:整)?"
)
_NOT_A_NUMBER = re.compile(r"[-+]?\s*(?:nan|s?nan|inf|infinity)", re.IGNORECASE)


@dataclass(frozen=True)
class Money:
    """An amount and, when the rep typed one (¥, $, 元, USD…), its ISO currency."""

    amount: Decimal
    currency: str | None = None


def parse_money(text: str) -> Money:
    """An amount with an optional currency: "¥1999", "1,999.90", "1.2万", "$30", "1999元".

    The amount is a non-negative Decimal with at most two decimals,
    quantised to cents so that storage sees one representation.  Units
    万/w (10⁴), 千/k (10³), 亿 (10⁸) multiply; "1,5" is refused rather than
    guessed (thousands separator or decimal comma?).
    """
    raw = one_line(nfkc(text)).lower().replace("−", "-").replace("－", "-")
    if not raw:
        raise ValidationError("amount", "text.empty")
    if len(raw) > INPUT_MAX:
        raise ValidationError("amount", "amount.not_a_number")
    if _NOT_A_NUMBER.fullmatch(raw):
        raise ValidationError("amount", "amount.not_a_number")
    raw = re.sub(r"(?<=\d) (?=\d{3}\b)", "", raw)
    match = _AMOUNT.fullmatch(raw)
    if match is None:
        if raw.startswith("-") or raw.startswith("(") and raw.endswith(")"):
            raise ValidationError("amount", "amount.negative")
        raise ValidationError("amount", "amount.not_a_number")
    currencies = {_CURRENCY_WORDS[c] for c in (match["cur1"], match["cur2"], match["cur3"]) if c}
    if len(currencies) > 1:
        raise ValidationError("amount", "amount.not_a_number")
    try:
        value = Decimal(match["num"].replace(",", ""))
    except InvalidOperation:
        raise ValidationError("amount", "amount.not_a_number") from None
    if match["mult"]:
        value *= _MULTIPLIERS[match["mult"]]
    if match["sign"] == "-" and value != 0:
        raise ValidationError("amount", "amount.negative")
    if value > AMOUNT_MAX:
        raise ValidationError("amount", "amount.too_large", max=AMOUNT_MAX)
    quantum = Decimal(1).scaleb(-AMOUNT_DECIMALS)
    if value != value.quantize(quantum):
        raise ValidationError("amount", "amount.too_precise", max_decimals=AMOUNT_DECIMALS)
    return Money(value.quantize(quantum), currencies.pop() if currencies else None)


def parse_amount(text: str) -> Decimal:
    """The amount of :func:`parse_money`, for fields whose currency is set elsewhere."""
    return parse_money(text).amount


_QUANTITY = re.compile(
    rf"(?:x|×|\*)?\s*(?P<sign>[-+])?\s*(?P<n>\d+|[{CN_NUM}]+)\s*"
    r"(?:个|個|件|台|套|支|箱|盒|份|张|張|瓶|次|pcs?|pieces?|units?|x)?\.?"
)


def parse_quantity(text: str) -> int:
    """A positive whole quantity: "3", "３", "3件", "x3", "三", "十二个"."""
    raw = one_line(nfkc(text)).lower()
    if not raw:
        raise ValidationError("quantity", "text.empty")
    match = _QUANTITY.fullmatch(raw) if len(raw) <= INPUT_MAX else None
    value = cn_number(match["n"]) if match is not None else None
    if match is None or value is None:
        if re.fullmatch(r"-\s*\d+", raw):
            raise ValidationError("quantity", "quantity.not_positive")
        raise ValidationError("quantity", "quantity.not_a_number")
    if match["sign"] == "-" or value < 1:
        raise ValidationError("quantity", "quantity.not_positive")
    if value > QUANTITY_MAX:
        raise ValidationError("quantity", "quantity.too_large", max=QUANTITY_MAX)
    return value
