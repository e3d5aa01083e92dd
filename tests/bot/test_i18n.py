from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from babel.messages.catalog import Message
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from bot.i18n import gettext_for, pick_language, translations
from bot.render import render

REPO = Path(__file__).resolve().parents[2]


KEYWORDS = {
    "_": None,
    "gettext": None,
    "ngettext": (1, 2),
    "pgettext": ((1, "c"), 2),
    # bot.labels markers: the one table of enum, figure, reason, chart and export labels
    "N_": None,
    "NP_": (1, 2),
    "NC_": ((1, "c"), 2),
}
SLOT = re.compile(r"%\((\w+)\)s")


def extracted() -> dict[tuple[str | None, str], str | tuple[str, ...]]:
    """Every msgid in the code and the templates: ``(context, msgid)`` -> the message."""
    method_map = [
        ("bot/**.py", "python"),
        ("handlers/**.py", "python"),
        ("templates/**.j2", "jinja2"),
    ]
    return {
        (context, message if isinstance(message, str) else message[0]): message
        for _file, _line, message, _comments, context in extract_from_dir(
            str(REPO), method_map, keywords=KEYWORDS
        )
    }


def extracted_msgids() -> set[str]:
    return {msgid for _context, msgid in extracted()}


def catalog(language: str) -> dict[tuple[str | None, str], Message]:
    with open(REPO / f"bot/locales/{language}/LC_MESSAGES/messages.po", "rb") as fh:
        po = read_po(fh, locale=language)
    return {(m.context, m.id if isinstance(m.id, str) else m.id[0]): m for m in po if m.id}


def test_every_message_in_the_code_is_translated_to_chinese() -> None:
    zh = catalog("zh")
    missing = sorted(
        str(key) for key in extracted()
        if key not in zh or not all(
            zh[key].string if isinstance(zh[key].string, tuple) else [zh[key].string]
        )
    )
    assert not missing, f"add these to the zh catalog (pybabel update): {missing}"


def test_every_message_in_the_code_is_in_the_english_catalog() -> None:
    # English msgids are the English text: an empty msgstr means "as written".
    missing = sorted(str(key) for key in extracted() if key not in catalog("en"))
    assert not missing, f"add these to the en catalog (pybabel update): {missing}"


def test_plurals_are_plural_entries_and_slots_match() -> None:
    """An ``ngettext``/``NP_`` msgid is a plural entry, and a translation fills the same slots."""
    for language in ("zh", "en"):
        entries = catalog(language)
        for key, message in extracted().items():
            entry = entries.get(key)
            if entry is None:
                continue
            assert isinstance(message, tuple) == entry.pluralizable, (language, key)
            forms = entry.string if isinstance(entry.string, tuple) else (entry.string,)
            wanted = set(SLOT.findall(message[-1] if isinstance(message, tuple) else message))
            for form in forms:
                if form:
                    assert set(SLOT.findall(form)) <= wanted | set(SLOT.findall(key[1])), (language, key, form)


def test_labels_render_through_the_catalogs() -> None:
    from bot import labels
    from bot.domain.churn import Reason

    zh, en = gettext_for("zh"), gettext_for("en")
    assert labels.name(labels.STAGES, "at_risk", zh) == "有流失风险"
    assert labels.name(labels.CHOICES, "cold_call", zh) == "陌生拜访"
    assert labels.figure("revenue:CNY", en) == "Revenue (CNY)"
    assert labels.figure("revenue:USD", zh) == "销售额 (USD)"
    assert labels.figure("unknown-key", en) == "unknown-key"
    one = Reason("open_complaints", {"count": 1}, 15)
    two = Reason("open_complaints", {"count": 2}, 30)
    assert labels.churn_reasons([one, two], en) == ["1 open complaint", "2 open complaints"]
    assert labels.churn_reasons([two], zh) == ["2 条投诉未解决"]
    assert labels.churn_reasons([Reason("from_a_newer_version", {}, 1)], en) == ["from_a_newer_version"]
    assert labels.sentence(labels.EXPORT["sheet_feedback"], {}, zh) == "客户反馈"  # a context
    assert labels.figure("feedback", zh) == "反馈"


def test_no_chinese_text_in_the_label_table_nor_the_reports() -> None:
    """The zh text of every label lives in the catalog, not in Python strings (comments may)."""
    cjk = re.compile(r"[\u3400-\u9fff]")
    paths = [
        *(REPO / name for name in ("bot/labels.py", "bot/charts.py", "bot/reports_export.py",
                                   "bot/exports.py", "bot/services/reports.py",
                                   "bot/domain/churn.py", "bot/domain/classification.py",
                                   "handlers/customer_view.py")),
        *(REPO / "bot/domain/reports").glob("*.py"),
    ]
    for path in paths:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        found = [node.value for node in ast.walk(tree)
                 if isinstance(node, ast.Constant) and isinstance(node.value, str) and cjk.search(node.value)]
        assert not found, (path.name, found)


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
