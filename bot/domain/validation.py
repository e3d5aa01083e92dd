"""Turning what a sales rep types into field values, or into a reason it cannot be.

This module holds the shared error and the text fields (names, free text,
e-mail, tags, ratings); phones are read in :mod:`bot.domain.phones`, dates
and times in :mod:`bot.domain.dates`, amounts in :mod:`bot.domain.money`,
all raising the :class:`ValidationError` defined here.

Reps type on a phone, between meetings, in Chinese or English: phone numbers
with spaces and full-width digits, "下周二下午三点", "next Tue 3pm", "1.2万".
Every ``parse_*`` function here accepts that sloppiness and returns a clean
value, or raises :class:`ValidationError` — and nothing else, whatever the
input — whose ``reason_code`` is a stable identifier the handlers translate
(zh/en) with ``params`` filled in, so the wizard can re-ask with a clear
reason.  No user-facing text lives here.

The functions are pure: no I/O, and "now" is always an argument, so "tomorrow"
means the same thing in a test as in production.

Reason codes (``params`` in brackets) — the handlers' translation catalogue
must cover each:

==========================  ==================================================
``text.empty``              nothing usable was typed
``text.too_long``           [``max_length``, ``length``]
``name.no_letters``         a name needs at least one letter (any script)
``phone.invalid``           not a phone number at all, or not one that exists
``phone.too_short``         too few digits
``phone.too_long``          too many digits
``phone.invalid_country``   unknown country calling code after ``+``/``00``
``phone.missing_area_code`` a landline typed without its area code
``email.invalid``           not ``local@domain.tld``
``date.unrecognised``       no date could be read
``date.too_vague``          only a month/year ("next month"): say which day
``date.invalid``            the date does not exist (2月30日, a 30th in a
                            29-day lunar month)
``date.no_leap_month``      [``year``, ``month``] that lunar year has no such
                            leap month
``date.out_of_range``       [``min_year``, ``max_year``]
``date.future_birthday``    a birthday after today
``date.in_past``            a follow-up/due time that has already passed
``date.too_far``            [``max_years``] a follow-up years away
``amount.not_a_number``     not readable as an amount
``amount.negative``         below zero
``amount.too_large``        [``max``]
``amount.too_precise``      [``max_decimals``] fractions of a cent
``quantity.not_a_number``   not a whole number
``quantity.not_positive``   zero or below
``quantity.too_large``      [``max``]
``tag.too_long``            [``tag``, ``max_length``]
``tags.too_many``           [``max_count``]
==========================  ==================================================
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

NAME_MAX_LENGTH = 100
EMAIL_MAX_LENGTH = 254
TAG_MAX_LENGTH = 30
TAGS_MAX_COUNT = 20
# Longer input is no date or phone anyone types; refusing it early keeps the
# parsers' cost bounded whatever a hostile or mistaken paste contains.
INPUT_MAX = 100


class ValidationError(ValueError):
    """Input that cannot become a field value.

    ``reason_code`` is a stable identifier (see the module docstring) and
    ``params`` what its translation interpolates; ``field`` tells the wizard
    which step to re-ask.
    """

    def __init__(self, field_name: str, reason_code: str, **params: Any) -> None:
        super().__init__(f"{field_name}: {reason_code} {params}" if params else
                         f"{field_name}: {reason_code}")
        self.field = field_name
        self.reason_code = reason_code
        self.params = params


# ---------------------------------------------------------------- text basics

_WHITESPACE = re.compile(r"\s+")


def nfkc(text: str) -> str:
    """Full-width digits, letters and punctuation (０-９, ＋, ＠, ：) become ASCII."""
    return unicodedata.normalize("NFKC", text)


def drop_invisible(text: str) -> str:
    """``text`` without invisible format characters (Unicode category Cf).

    Zero-width space/joiners (U+200B-U+200D), word joiner (U+2060), BOM
    (U+FEFF), soft hyphen and bidi controls make two names that look alike
    differ; in a one-line field (name, company, tag) they are never meant.
    """
    if text.isascii():
        return text
    return "".join(ch for ch in text if unicodedata.category(ch) != "Cf")


def _drop_controls(text: str, *, keep_newlines: bool) -> str:
    """Control characters are never meant (pasted from elsewhere) and break Telegram/HTML.

    A one-line field loses invisible format characters too (:func:`drop_invisible`);
    free text keeps them (an emoji sequence is joined by U+200D).
    """
    kept = "\n\t" if keep_newlines else ""
    cleaned = "".join(
        ch for ch in text if ch in kept or unicodedata.category(ch) not in ("Cc", "Cs")
    )
    return cleaned if keep_newlines else drop_invisible(cleaned)


def one_line(text: str) -> str:
    return _WHITESPACE.sub(" ", _drop_controls(_WHITESPACE.sub(" ", text),
                                               keep_newlines=False)).strip()


def _check_length(field_name: str, text: str, max_length: int) -> None:
    if len(text) > max_length:
        raise ValidationError(field_name, "text.too_long", max_length=max_length, length=len(text))


def parse_name(text: str, *, field_name: str = "name") -> str:
    """A person's or company's name: any script, whitespace collapsed, ≤ 100 chars.

    At least one letter (Latin, CJK, Cyrillic, …) is required so that a stray
    "123" or "👍" is not saved as a customer.
    """
    name = one_line(text)
    if not name:
        raise ValidationError(field_name, "text.empty")
    _check_length(field_name, name, NAME_MAX_LENGTH)
    if not any(unicodedata.category(ch).startswith("L") for ch in name):
        raise ValidationError(field_name, "name.no_letters")
    return name


def parse_free_text(text: str, max_length: int, *, field_name: str = "text") -> str:
    """Notes, summaries, preferences: kept as typed, emoji and ``<b>`` included.

    Escaping is the renderer's job; here only control characters go, line
    ends become ``\\n`` and surrounding whitespace is trimmed.
    """
    cleaned = _drop_controls(text.replace("\r\n", "\n").replace("\r", "\n"), keep_newlines=True)
    cleaned = cleaned.strip()
    if not cleaned:
        raise ValidationError(field_name, "text.empty")
    _check_length(field_name, cleaned, max_length)
    return cleaned


# ---------------------------------------------------------------------- email

_EMAIL = re.compile(
    r"(?P<local>[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*)"
    r"@(?P<domain>(?:[^\W_](?:[\w-]{0,61}[^\W_])?\.)+[^\W\d_]{2,63})"
)


def parse_email(text: str) -> str:
    """An e-mail address, syntax-checked only (deliverability needs I/O).

    A pragmatic subset of RFC 5322: dot-atom local part, dotted domain with
    an alphabetic TLD; quoted local parts and IP-literal domains are refused
    because nobody types them into a CRM.  The domain is lowercased (it is
    case-insensitive); the local part is kept as typed (it may not be).
    """
    raw = one_line(nfkc(text))
    if raw.lower().startswith("mailto:"):
        raw = raw[len("mailto:"):].strip()
    if not raw:
        raise ValidationError("email", "text.empty")
    if len(raw) > EMAIL_MAX_LENGTH:
        raise ValidationError("email", "text.too_long", max_length=EMAIL_MAX_LENGTH,
                              length=len(raw))
    match = _EMAIL.fullmatch(raw)
    if match is None or len(match["local"]) > 64:
        raise ValidationError("email", "email.invalid")
    return f"{match['local']}@{match['domain'].lower()}"


# ----------------------------------------------------------------------- tags

_TAG_SPLIT = re.compile(r"[,，;；、#＃\s]+")


def parse_tags(text: str) -> list[str]:
    """Tags from one line: split on , ， ; 、 # and spaces, deduplicated, in typed order.

    Duplicates are found case-insensitively ("VIP" and "vip" are one tag;
    the first spelling wins).  An empty line means "no tags" and yields
    ``[]`` — clearing tags is a legitimate edit.
    """
    cleaned = _drop_controls(unicodedata.normalize("NFKC", text), keep_newlines=False)
    tags: list[str] = []
    seen: set[str] = set()
    for tag in _TAG_SPLIT.split(cleaned):
        if not tag:
            continue
        if len(tag) > TAG_MAX_LENGTH:
            raise ValidationError("tags", "tag.too_long", tag=tag[:TAG_MAX_LENGTH] + "…",
                                  max_length=TAG_MAX_LENGTH)
        key = tag.casefold()
        if key not in seen:
            seen.add(key)
            tags.append(tag)
            if len(tags) > TAGS_MAX_COUNT:
                raise ValidationError("tags", "tags.too_many", max_count=TAGS_MAX_COUNT)
    return tags


def parse_rating(text: str, low: int, high: int, *, field_name: str = "rating") -> int:
    """A whole number on a scale typed instead of tapped (CSAT 1–5, NPS 0–10)."""
    value = nfkc(text).strip()
    if value not in {str(n) for n in range(low, high + 1)}:
        raise ValidationError(field_name, "choice.use_buttons")
    return int(value)
