"""Is this customer already on file?  Checked when a rep creates a card (as Zoho and Fxiaoke do).

Two reps entering the same buyer splits the history, the reminders and the
revenue.  The check is deliberately conservative — a false alarm costs one
tap ("create anyway"), a miss costs a duplicated customer:

- **phone**: any E.164 number in common — a phone number is the strongest
  identity a CRM has;
- **email**: the same address (case-insensitive);
- **name_company**: a very similar name — rapidfuzz ratio ≥ 90 on the
  normalised names, or the same pinyin (张伟 / 章伟 typed with the wrong
  character) — *in the same company*, companies compared without case,
  spacing and legal suffixes (有限公司, Co., Ltd., Inc. …).  Without a company
  on both sides a name alone is not evidence: 张伟 is the commonest name in
  China.

Each existing customer is reported once, with its strongest reason, strongest
first; a customer is never a duplicate of itself (same id).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz

from bot.domain.models import Customer
from bot.domain.search import SearchDoc, compact, normalise, search_doc

NAME_SIMILARITY = 90.0
REASONS = ("phone", "email", "name_company")

_LATIN_SUFFIXES = frozenset({
    "co", "company", "corp", "corporation", "inc", "incorporated", "ltd", "limited", "llc",
    "plc", "gmbh", "ag", "sa", "bv", "pte", "pty", "group", "holdings",
})
_CJK_SUFFIXES = (
    "股份有限公司", "有限责任公司", "集团有限公司", "有限公司", "集团公司", "控股集团", "集团",
    "公司",
)
_TOKENS = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class Duplicate:
    """An existing customer that may be the one being created; ``detail`` names the evidence.

    ``reason`` is one of :data:`REASONS`; ``detail`` is the shared phone
    (E.164) or e-mail, or the existing customer's company for
    ``name_company``.
    """

    customer_id: str
    reason: str
    detail: str | None = None


def company_key(company: str | None) -> str:
    """A company name without case, spacing, punctuation or legal-form suffix.

    "ACME Co., Ltd." and "Acme" compare equal, as do "腾讯科技有限公司" and
    "腾讯科技".  Latin suffixes are removed as whole words (so "Costco" keeps
    its "co"); stripping never empties a name, so "Co., Ltd." alone still
    compares as something.
    """
    if not company:
        return ""
    tokens = _TOKENS.findall(normalise(company))
    while len(tokens) > 1 and tokens[-1] in _LATIN_SUFFIXES:
        tokens.pop()
    key = "".join(tokens)
    stripped = True
    while stripped:
        stripped = False
        for suffix in _CJK_SUFFIXES:
            if key.endswith(suffix) and len(key) > len(suffix):
                key = key[: -len(suffix)]
                stripped = True
                break
    return key


def _as_doc(item: SearchDoc | Customer) -> SearchDoc:
    return item if isinstance(item, SearchDoc) else search_doc(item)


def _same_person_name(a: SearchDoc, b: SearchDoc) -> bool:
    if fuzz.ratio(compact(a.name), compact(b.name)) >= NAME_SIMILARITY:
        return True
    return not set(a.keys.fields[0].pinyin).isdisjoint(b.keys.fields[0].pinyin)


def find_duplicates(new: SearchDoc | Customer,
                    existing: Sequence[SearchDoc | Customer]) -> list[Duplicate]:
    """Existing customers that look like ``new``, strongest evidence first.

    ``existing`` may hold customers or their prebuilt :class:`SearchDoc` s
    (cheaper: no pinyin to compute); pass those the creating rep's team may
    hold — the check is only as wide as what it is given.
    """
    doc = _as_doc(new)
    phones = set(doc.phones)
    email = doc.email.casefold() if doc.email else None
    company = company_key(doc.company)
    found: list[Duplicate] = []
    for item in existing:
        other = _as_doc(item)
        if other.id == doc.id:
            continue
        shared = sorted(phones.intersection(other.phones))
        if shared:
            found.append(Duplicate(other.id, "phone", shared[0]))
        elif email and other.email and other.email.casefold() == email:
            found.append(Duplicate(other.id, "email", other.email))
        elif (company and company_key(other.company) == company
              and _same_person_name(doc, other)):
            found.append(Duplicate(other.id, "name_company", other.company))
    return sorted(found, key=lambda d: REASONS.index(d.reason))
