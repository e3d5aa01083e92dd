"""The fields of the customer card, how each is typed in, and the draft a wizard fills.

A draft is a plain JSON dict (it lives in python-telegram-bot's persisted
``user_data`` while a rep types), keyed by ``Field.key``. ``set_field``
parses what the rep typed into the draft; ``customer_from_draft`` and
``draft_from_customer`` convert between drafts and ``Customer`` records.
Both the add wizard and the edit screen are driven by ``FIELDS``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import phonenumbers

from bot.domain import dates, validation
from bot.domain.codec import from_dict, to_dict
from bot.domain.models import Customer, Gender, NeedsType, Source
from bot.domain.phones import parse_phone

MAX_PHONES = 5


@dataclass(frozen=True)
class InputContext:
    """What parsing needs besides the text: where the rep is and what day it is."""

    phone_region: str
    today: date


@dataclass(frozen=True)
class Field:
    key: str
    kind: str  # text | choice | customer
    parse: Callable[[str, InputContext], Any] | None = None
    choices: tuple[str, ...] = ()
    free_text: bool = False  # a choice field that also accepts typed text
    required: bool = False
    wizard: bool = False  # asked step by step when adding; the rest via the details menu


def _phones(text: str, ctx: InputContext) -> list[str]:
    parts = [p for p in text.replace("，", ",").replace("；", ",").replace(";", ",").split(",") if p.strip()]
    if not parts:
        raise validation.ValidationError("phones", "text.empty")
    if len(parts) > MAX_PHONES:
        raise validation.ValidationError("phones", "phone.too_many", max=MAX_PHONES)
    phones: list[str] = []
    for part in parts:
        phone = parse_phone(part, ctx.phone_region)
        if phone not in phones:
            phones.append(phone)
    return phones


def _line(max_length: int) -> Callable[[str, InputContext], str]:
    def parse(text: str, ctx: InputContext) -> str:
        # one line (company, title, city): invisible format characters go, as in a name
        value = validation.parse_free_text(validation.drop_invisible(text), max_length)
        return " ".join(value.split())

    return parse


def _block(max_length: int) -> Callable[[str, InputContext], str]:
    return lambda text, ctx: validation.parse_free_text(text, max_length)


def _birthday(text: str, ctx: InputContext) -> dict[str, Any]:
    return to_dict(dates.parse_birthday(text, today=ctx.today))


def _handle(text: str, ctx: InputContext) -> str:
    value = " ".join(validation.parse_free_text(text, 64).split())
    return value.lstrip("@")


INDUSTRIES = (
    "manufacturing", "wholesale", "retail", "software", "construction", "logistics",
    "food", "education", "finance", "healthcare", "energy", "consulting",
)

FIELDS: tuple[Field, ...] = (
    Field("name", "text", lambda t, c: validation.parse_name(t), required=True, wizard=True),
    Field("phones", "text", _phones, wizard=True),
    Field("company", "text", _line(200), wizard=True),
    Field("title", "text", _line(200)),
    Field("industry", "choice", _line(200), choices=INDUSTRIES, free_text=True),
    Field("gender", "choice", choices=tuple(g.value for g in Gender)),
    Field("birthday", "text", _birthday),
    Field("email", "text", lambda t, c: validation.parse_email(t)),
    Field("wechat", "text", _handle),
    Field("telegram", "text", _handle),
    Field("city", "text", _line(100)),
    Field("address", "text", _block(500)),
    Field("source", "choice", choices=tuple(s.value for s in Source)),
    Field("referred_by", "customer"),
    Field("needs_type", "choice", choices=tuple(n.value for n in NeedsType)),
    Field("tags", "text", lambda t, c: validation.parse_tags(t)),
    Field("preferences", "text", _block(1000)),
    Field("notes", "text", _block(2000)),
)
BY_KEY = {f.key: f for f in FIELDS}
HANDLE_KEYS = ("wechat", "telegram")


def set_field(draft: dict[str, Any], key: str, text: str, ctx: InputContext) -> Any:
    """Parse ``text`` into ``draft[key]``; raises ValidationError (the draft is unchanged then)."""
    spec = BY_KEY[key]
    if spec.parse is None:
        raise validation.ValidationError(key, "choice.use_buttons")
    value = spec.parse(text, ctx)
    draft[key] = value
    return value


_COMPANY_SUFFIX = re.compile(
    r"(?:公司|集团|企业|工厂|厂|商行|商店|店|工作室|事务所|中心|研究院|学校|医院|银行)$"
    r"|\b(?:co|corp|corporation|company|ltd|limited|inc|llc|gmbh|plc|group)\.?$",
    re.IGNORECASE,
)


def _is_cjk(text: str) -> bool:
    return bool(text) and all("\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff" for ch in text)


def looks_like_company(text: str) -> bool:
    """``上海某某公司``, ``Acme Co``, ``Foo Ltd.``: the words end like a company's name."""
    return bool(_COMPANY_SUFFIX.search(text.strip()))


def _find_phone(text: str, region: str) -> tuple[int, int, str] | None:
    """The first valid phone number anywhere in the text: (start, end, E.164)."""
    for match in phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.VALID):
        try:
            phone = parse_phone(match.raw_string, region)
        except validation.ValidationError:
            phone = phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164)
        return match.start, match.end, phone
    return None


def _split_name_company(text: str) -> tuple[str, str]:
    """Without a phone: ``王五 上海某某公司`` → name and company; a Latin line stays the name."""
    words = text.split()
    if len(words) >= 2 and _is_cjk(words[0]):
        rest = " ".join(words[1:])
        if looks_like_company(rest) or len(rest) >= 2:
            return words[0], rest
    return " ".join(words), ""


def quick_add_draft(text: str, ctx: InputContext) -> tuple[dict[str, Any], str | None, validation.ValidationError | None]:
    """``张伟 13800138000 Acme``: the name, then a phone number, then the company.

    The phone is found anywhere in the line, however it is spaced
    (``138 0013 8000``, ``+86 138-0013-8000``): the text before it is the
    name, the text after it the company. Without a phone, a Chinese name
    followed by more words (``王五 上海某某公司``) is the name and the company.

    Returns the draft as far as it could be filled and, when a field could not
    be read, that field's key and why (the wizard re-asks exactly that one).
    A phone alone gives a draft with the phone that asks for the name, with no
    complaint (the error is None then).
    """
    text = validation.nfkc(text)
    draft: dict[str, Any] = {}
    found = _find_phone(text, ctx.phone_region)
    if found is not None:
        start, end, phone = found
        draft["phones"] = [phone]
        name_text, company_text = text[:start].strip(), text[end:].strip()
    else:
        name_text, company_text = _split_name_company(text)
    if not name_text.strip():
        return draft, "name", None
    try:
        draft["name"] = validation.parse_name(" ".join(name_text.split()))
    except validation.ValidationError as error:
        return draft, "name", error
    if company_text:
        try:
            set_field(draft, "company", company_text, ctx)
        except validation.ValidationError as error:
            return draft, "company", error
    return draft, None, None


def set_choice(draft: dict[str, Any], key: str, value: str) -> bool:
    """Set a choice field from a button; False if the value is not one of the choices."""
    spec = BY_KEY.get(key)
    if spec is None or spec.kind != "choice" or value not in spec.choices:
        return False
    draft[key] = value
    return True


def clear_field(draft: dict[str, Any], key: str) -> bool:
    """/skip or clear an optional field; False for a required one."""
    if BY_KEY[key].required:
        return False
    draft.pop(key, None)
    return True


def customer_from_draft(
    draft: dict[str, Any], *, owner_id: str, team: str | None, created_by: str, now: datetime
) -> Customer:
    data = {k: v for k, v in draft.items() if k in BY_KEY and k not in HANDLE_KEYS}
    handles = {k: draft[k] for k in HANDLE_KEYS if draft.get(k)}
    return from_dict(
        Customer,
        {
            **data,
            "handles": handles,
            "owner_id": owner_id,
            "team": team,
            "created_by": created_by,
            "created_at": now.isoformat(),
            "updated_at": now.isoformat(),
        },
    )


def draft_from_customer(customer: Customer) -> dict[str, Any]:
    stored = to_dict(customer)
    draft = {k: stored[k] for k in BY_KEY if k in stored and stored[k] not in (None, [], "")}
    for key in HANDLE_KEYS:
        if customer.handles.get(key):
            draft[key] = customer.handles[key]
    return draft


def apply_draft(customer: Customer, draft: dict[str, Any], now: datetime) -> Customer:
    """The customer with the card fields taken from the draft (fields absent from it cleared)."""
    stored = to_dict(customer)
    for spec in FIELDS:
        if spec.key in HANDLE_KEYS:
            continue
        default = [] if spec.key in ("phones", "tags") else None
        stored[spec.key] = draft.get(spec.key, default)
    handles = {k: v for k, v in customer.handles.items() if k not in HANDLE_KEYS}
    handles.update({k: draft[k] for k in HANDLE_KEYS if draft.get(k)})
    stored["handles"] = handles
    stored["updated_at"] = now.isoformat()
    return from_dict(Customer, stored)
