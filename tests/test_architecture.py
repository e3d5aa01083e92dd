"""The dependency direction DESIGN.md asks for, checked on the source itself."""

from __future__ import annotations

import ast
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
