"""Translations: gettext catalogs (Babel) for short texts, per-language templates for long ones.

Message ids are English. The catalogs are ``bot/locales/<lang>/LC_MESSAGES/messages.po``;
they are compiled in memory at first use (Babel's own compiler), so a fresh
``pip install`` needs no build step and no compiled ``.mo`` file is committed.
"""

from __future__ import annotations

import gettext
from functools import cache
from importlib import resources
from io import BytesIO

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LANGUAGES = ("zh", "en")
DOMAIN = "messages"


@cache
def translations(language: str) -> gettext.NullTranslations:
    if language not in LANGUAGES:
        raise ValueError(f"unsupported language {language!r}")
    po_file = resources.files("bot") / "locales" / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not po_file.is_file():
        return gettext.NullTranslations()
    with po_file.open("rb") as fh:
        catalog = read_po(fh, locale=language, domain=DOMAIN)
    buffer = BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def gettext_for(language: str):
    """The ``_`` function for a language."""
    return translations(language).gettext


def pick_language(
    saved: str | None, telegram_language_code: str | None, default: str
) -> str:
    """The user's saved choice, else their Telegram app language, else the configured default."""
    if saved in LANGUAGES:
        return saved
    code = (telegram_language_code or "").lower()
    for language in LANGUAGES:
        if code == language or code.startswith(language + "-"):
            return language
    return default
