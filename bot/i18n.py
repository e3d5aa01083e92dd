"""Translations: gettext catalogs (Babel) for short texts, per-language templates for long ones.

This is the one translation mechanism.  Message ids are English; the labels of
enum values, report figures, churn and classification reasons, chart texts and
export headers are msgids in one table (``bot.labels``), and code that renders
text takes a :class:`Translator` — the ``_`` of one language, which also has
``ngettext`` — rather than a language code.

The catalogs are ``bot/locales/<lang>/LC_MESSAGES/messages.po``; they are
compiled in memory at first use (Babel's own compiler), so a fresh ``pip install`` needs no build step and no compiled ``.mo`` file is committed.
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


class Translator:
    """The ``_`` of one language: ``_(msgid)`` translates, ``_.ngettext(s, p, n)`` picks a plural.

    Passed to whatever renders text (charts, exports, the label table) instead
    of a language code, so that they hold no language of their own.
    """

    __slots__ = ("_catalog", "language")

    def __init__(self, language: str) -> None:
        self.language = language
        self._catalog = translations(language)

    def __call__(self, message: str) -> str:
        return self._catalog.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self._catalog.ngettext(singular, plural, n)

    def pgettext(self, context: str, message: str) -> str:
        return self._catalog.pgettext(context, message)

    @property
    def locale(self) -> str:
        """The Babel locale for numbers and dates in this language."""
        return "zh_CN" if self.language == "zh" else "en"

    def __repr__(self) -> str:
        return f"Translator({self.language!r})"


@cache
def gettext_for(language: str) -> Translator:
    """The ``_`` function for a language (a :class:`Translator`)."""
    return Translator(language)


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
