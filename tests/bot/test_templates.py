"""Every template, in both languages, rendered with sample data: no run-together lines.

Jinja's ``trim_blocks`` removes the newline after a block tag, so a line that
ends in ``{% endif %}`` silently joins the next one (``NPS：—记录时间：``,
``…search./cancel to stop``). This test renders every template with sample
values for each variable it uses — once per string a variable is compared
with, so each ``{% if step == "…" %}`` branch is shown — and fails where a
value or a sentence end is followed directly by a bullet, a label or a slash
command.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Self

import pytest
from jinja2 import nodes
from jinja2.meta import find_undeclared_variables

from bot.render import environment, render

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
VALUE = "V9"


class Sample(str):
    """A stand-in for any value: prints as ``V9``, has every attribute, compares true."""

    def __new__(cls, text: str = VALUE) -> Self:
        return super().__new__(cls, text)

    def __getattr__(self, name: str) -> Sample:
        if name.startswith("__"):
            raise AttributeError(name)
        return Sample()

    def __getitem__(self, key: object) -> Sample:
        return Sample()

    def __call__(self, *args: object, **kwargs: object) -> list[tuple[Sample, Sample]]:
        return [(Sample(), Sample())]

    def __iter__(self):  # type: ignore[override]
        return iter([Sample()])

    def __gt__(self, other: object) -> bool:
        return True

    __ge__ = __lt__ = __le__ = __gt__

    def __eq__(self, other: object) -> bool:
        return str.__eq__(self, other)

    __hash__ = str.__hash__


class Absent(Sample):
    """The same stand-in, but false: shows each ``{% if %}``'s other branch."""

    def __bool__(self) -> bool:
        return False

    def __getattr__(self, name: str) -> Sample:
        if name.startswith("__"):
            raise AttributeError(name)
        return Absent()


def _loops(tree: nodes.Template) -> dict[str, list[str]]:
    """Each loop variable unpacked into a tuple: its name -> the names it unpacks into."""
    return {
        loop.iter.name: [item.name for item in loop.target.items]
        for loop in tree.find_all(nodes.For)
        if isinstance(loop.iter, nodes.Name) and isinstance(loop.target, nodes.Tuple)
    }


def _rows(names: list[str], loops: dict[str, list[str]], value: type[Sample]) -> list[tuple]:
    """Two sample rows for a loop; an item that an inner loop unpacks gets rows of its own."""
    row = tuple(_rows(loops[n], loops, value) if n in loops else value() for n in names)
    return [row, row]


def _compared(tree: nodes.Template) -> dict[str, set[str]]:
    """Each variable compared with string constants: its name -> those strings."""
    found: dict[str, set[str]] = {}
    for compare in tree.find_all(nodes.Compare):
        if isinstance(compare.expr, nodes.Name):
            for operand in compare.ops:
                if isinstance(operand.expr, nodes.Const) and isinstance(operand.expr.value, str):
                    found.setdefault(compare.expr.name, set()).add(operand.expr.value)
    return found


def _dated(tree: nodes.Template) -> set[str]:
    """Variables passed through the ``datetime`` filter (directly or by attribute)."""
    found = set()
    for f in tree.find_all(nodes.Filter):
        if f.name == "datetime" and isinstance(f.node, nodes.Name):
            found.add(f.node.name)
    return found


def contexts(language: str, name: str) -> list[dict[str, object]]:
    env = environment()
    source = (TEMPLATES / language / f"{name}.html.j2").read_text(encoding="utf-8")
    tree = env.parse(source)
    names = find_undeclared_variables(tree) - {"_", "ngettext", "language"}
    loops = _loops(tree)
    dated = _dated(tree)
    base: dict[str, object] = {}
    for var in names:
        if var in loops:
            base[var] = _rows(loops[var], loops, Sample)
        elif var in dated:
            base[var] = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
        elif var == "tz":
            base[var] = "Asia/Shanghai"
        else:
            base[var] = Sample()
    absent = {
        var: (
            _rows(loops[var], loops, Absent) if var in loops
            else Absent() if isinstance(value, Sample) else value
        )
        for var, value in base.items()
    }
    variants = [base, absent]
    for var, values in _compared(tree).items():
        for value in sorted(values):
            variants.append({**base, var: Sample(value)})
    return variants


def template_names() -> list[tuple[str, str]]:
    return [
        (language, path.name.removesuffix(".html.j2"))
        for language in ("en", "zh")
        for path in sorted((TEMPLATES / language).glob("*.html.j2"))
    ]


# What may not follow a value or a sentence end directly on one line.
_END = rf"(?:{VALUE}|\d|[.!?。！？—])"
RUN_TOGETHER = [
    re.compile(r"\S•"),  # a bullet
    re.compile(rf"(?:{_END}|[^\s\w/<:：])/[a-z_]+"),  # a slash command
    re.compile(r"[.!?。！？][^.!?。！？]{0,4}/cancel"),  # the stop hint, always its own line
    re.compile(rf"{_END}[A-Z][a-z]+(?: [a-z]+)?:"),  # an English label
    re.compile(rf"{_END}[\u4e00-\u9fff]{{2,6}}："),  # a Chinese label
]
_URL = re.compile(r"https?://\S+")


def run_together(text: str) -> list[str]:
    return [
        line
        for line in _URL.sub("URL", text).splitlines()
        if any(pattern.search(line) for pattern in RUN_TOGETHER)
    ]


@pytest.mark.parametrize(("language", "name"), template_names())
def test_no_template_runs_two_lines_together(
    language: str, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    shown = environment().filters["datetime"]
    sample_moment = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
    monkeypatch.setitem(
        environment().filters,
        "datetime",
        lambda value, *a: shown(sample_moment if isinstance(value, Sample) else value, *a),
    )
    for context in contexts(language, name):
        text = render(language, name, **context)
        assert not run_together(text), (context, text)


def test_the_check_finds_run_together_lines() -> None:
    assert run_together("NPS：—记录时间：V9")
    assert run_together("…tap one, or type a name to search./cancel to stop")
    assert run_together("请输入客户的姓名搜索。发送 /cancel 取消")
    assert run_together("• Zhang — 15:24• Zhao — suggestion")
    assert run_together("V9Recorded: V9")
    assert not run_together("CSAT：4/5 · NPS：—\n记录时间：V9")
    assert not run_together("Open https://t.me/bot?start=abc/cancel")



def test_rendering_does_not_stat_the_template_files_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """The templates ship with the code: a render on the update path makes no file-system call."""
    import os.path

    from bot.render import environment

    env = environment()
    name = next(n for n in env.list_templates() if n.endswith(".j2"))
    env.get_template(name)

    def no_stat(*args: object) -> bool:
        raise AssertionError("a template's file was checked again")

    monkeypatch.setattr(os.path, "isfile", no_stat)
    monkeypatch.setattr(os.path, "getmtime", no_stat)
    env.get_template(name)
