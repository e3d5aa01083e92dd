"""The dependency direction DESIGN.md asks for, checked on the source itself."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TELEGRAM_FREE = ["bot/domain", "bot/services", "storage"]


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("folder", TELEGRAM_FREE)
def test_rules_services_and_storage_never_import_telegram(folder: str) -> None:
    offenders = {
        str(path.relative_to(REPO)): sorted(m for m in imported_modules(path) if m.split(".")[0] == "telegram")
        for path in (REPO / folder).rglob("*.py")
    }
    assert not {k: v for k, v in offenders.items() if v}


def test_domain_depends_on_nothing_above_it() -> None:
    for path in (REPO / "bot/domain").rglob("*.py"):
        for module in imported_modules(path):
            assert not module.startswith(("bot.services", "handlers", "storage", "bot.app")), (path, module)


def test_storage_and_services_never_import_handlers() -> None:
    for folder in ("storage", "bot/services"):
        for path in (REPO / folder).rglob("*.py"):
            assert not any(m.startswith("handlers") for m in imported_modules(path)), path


def test_the_sandbox_imports_nothing_else_from_the_bot() -> None:
    """It stands in for Telegram: the bot's code must not leak into it (bot/console.py joins them)."""
    for path in (REPO / "bot/sandbox").rglob("*.py"):
        for module in imported_modules(path):
            if module.startswith(("bot.", "handlers", "storage")) or module == "bot":
                assert module.startswith("bot.sandbox"), (str(path.relative_to(REPO)), module)


def test_handlers_never_touch_the_store() -> None:
    """Handlers present; services decide. ``….store`` in a handler would bypass access checks."""
    offenders = []
    for path in (REPO / "handlers").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr == "store" and not (
                isinstance(node.value, ast.Name) and node.value.id == "step"  # a wizard Step's hook
            ):
                offenders.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert offenders == []


def test_the_domain_imports_no_configuration_translation_or_rendering() -> None:
    """Rules are plain functions over plain data: codes and numbers in, codes and numbers out."""
    forbidden = ("bot.config", "bot.i18n", "bot.render", "bot.labels", "bot.charts",
                 "bot.reports_export", "bot.exports", "jinja2", "babel", "matplotlib", "openpyxl")
    for path in (REPO / "bot/domain").rglob("*.py"):
        for module in imported_modules(path):
            assert not module.startswith(forbidden), (str(path.relative_to(REPO)), module)


# Chinese text: Han ideographs, CJK punctuation (、。「」…) and full-width ，：；！？（）.
CHINESE = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff01\uff08\uff09\uff0c\uff1a\uff1b\uff1f]")

# The only Python allowed to hold Chinese: what users *type* (parsers must know the words) and
# the demo's sample customers. Nothing here is shown as interface text.
INPUT_GRAMMARS_AND_SAMPLES = {
    "bot/domain/validation.py": "names and tags as typed (full-width separators)",
    "bot/domain/dates.py": "birthdays (农历), follow-up times (下周二下午), purchase days, ranges",
    "bot/domain/money.py": "amounts as typed (1.2万, 元)",
    "bot/domain/interactions.py": "quick-log words (没打通, 跟进)",
    "bot/domain/search.py": "search folding (surnames, full-width forms)",
    "bot/domain/duplicates.py": "company suffixes ignored when comparing (有限公司)",
    "bot/domain/card.py": "quick-add separators as typed (，；)",
    "bot/domain/imports/mapping.py": "spreadsheet headers as files name them (姓名, 联系电话)",
    "bot/domain/imports/rows.py": "choice values as spreadsheets hold them (男/女, 转介绍)",
    "bot/domain/todos.py": "a quick to-do's link words around its due phrase (前, 之内, ，)",
    "bot/domain/deals.py": "quick-entry words (报价, 下月底) and the default stages' names, which config.toml overrides",
    "bot/demo.py": "the demo team's sample customers and notes",
}


def _chinese_literals(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        f"{path.relative_to(REPO)}:{node.lineno}: {node.value[:40]!r}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
        and id(node) not in docstrings and CHINESE.search(node.value)
    ]


def test_no_chinese_text_outside_the_catalogs_and_templates() -> None:
    """User-facing text lives in templates/ and bot/locales/, so one mechanism translates it all.

    Docstrings may quote Chinese input as examples: they are documentation, never shown.
    """
    found = []
    for folder in ("bot", "handlers", "storage"):
        for path in (REPO / folder).rglob("*.py"):
            if str(path.relative_to(REPO)) not in INPUT_GRAMMARS_AND_SAMPLES:
                found += _chinese_literals(path)
    assert found == []


def test_every_allowed_module_still_needs_its_exception() -> None:
    for name in INPUT_GRAMMARS_AND_SAMPLES:
        path = REPO / name
        assert path.exists() and _chinese_literals(path), f"{name} no longer holds Chinese input"
