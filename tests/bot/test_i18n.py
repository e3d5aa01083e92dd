from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from bot.i18n import pick_language, translations
from bot.render import render

REPO = Path(__file__).resolve().parents[2]


def extracted_msgids() -> set[str]:
    method_map = [
        ("bot/**.py", "python"),
        ("handlers/**.py", "python"),
        ("templates/**.j2", "jinja2"),
    ]
    keywords = {"_": None, "N_": None, "gettext": None}
    return {
        message if isinstance(message, str) else message[0]
        for _file, _line, message, _comments, _context in extract_from_dir(
            str(REPO), method_map, keywords=keywords
        )
    }


def test_every_message_in_the_code_is_translated_to_chinese() -> None:
    with open(REPO / "bot/locales/zh/LC_MESSAGES/messages.po", "rb") as fh:
        catalog = read_po(fh, locale="zh")
    translated = {m.id for m in catalog if m.id and m.string}
    missing = extracted_msgids() - translated
    assert not missing, f"add these to the zh catalog (pybabel update): {sorted(missing)}"


def test_chinese_catalog_translates() -> None:
    assert translations("zh").gettext("Main menu") == "主菜单"
    assert translations("en").gettext("Main menu") == "Main menu"


@pytest.mark.parametrize(
    ("saved", "telegram", "default", "expected"),
    [
        ("en", "zh-hans", "zh", "en"),
        (None, "zh-hans", "en", "zh"),
        (None, "en-GB", "zh", "en"),
        (None, "de", "zh", "zh"),
        (None, None, "en", "en"),
        ("xx", "zh", "en", "zh"),
    ],
)
def test_language_choice(saved, telegram, default, expected) -> None:
    assert pick_language(saved, telegram, default) == expected


def test_every_template_exists_in_both_languages() -> None:
    zh = {p.name for p in (REPO / "templates/zh").glob("*.j2")}
    en = {p.name for p in (REPO / "templates/en").glob("*.j2")}
    assert zh == en


def test_rendering_escapes_user_text() -> None:
    text = render("en", "not_registered", telegram_id="<b>&")
    assert "<code>&lt;b&gt;&amp;</code>" in text
