"""The report chart: one PNG a manager reads on a phone in five seconds.

Portrait 1080×1350 px (the 4:5 shape Telegram shows full-width without
cropping) with large type: a title with the period and the headline figures,
activity per rep as horizontal bars (the top 15; the rest folded into one
"others" bar showing their *average*, since their sum would dwarf every named
bar), and the customer mix by value tier and by lifecycle stage.

Rendering rules:

- matplotlib's Agg backend, selected explicitly, and ``matplotlib.figure.Figure``
  used directly: pyplot keeps every figure in a global registry (a leak in a
  long-running bot) and a "current figure" shared by all callers, while a bare
  ``Figure`` is an ordinary object that is garbage once the PNG is written.
  Rendering takes ~0.2 s of CPU, so call it through
  ``asyncio.to_thread(report_chart, …)`` to keep the event loop free.
  No ``rcParams`` are changed: fonts are passed to each text.
- Chinese must render as text, not boxes.  matplotlib's bundled DejaVu Sans has
  no CJK glyphs, and a server rarely has a CJK font installed, so the font
  comes from PyPI with the project: ``pylopdf-fonts-zh-cn`` ships Noto Sans SC
  (SIL OFL) inside its wheel.  It is registered with
  ``fontManager.addfont`` once.  Without it the chart falls back to any CJK
  font the system has, and failing that draws with the default font after a
  logged warning (Chinese labels then show as boxes, English ones are fine).
"""

from __future__ import annotations

import io
import logging
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from bot import labels
from bot.domain.reports import Report
from bot.domain.reports.pipeline import PipelineFigures
from bot.labels import N_, Gettext, heading

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

log = logging.getLogger(__name__)


@cache
def _matplotlib() -> None:
    """Import matplotlib on the first chart, not at start-up (~55 MB and 0.3 s; issue 15).

    The Agg backend is selected before anything draws; the bot never opens a window.
    """
    import matplotlib

    matplotlib.use("Agg")

WIDTH_PX, HEIGHT_PX, DPI = 1080, 1350, 100
TOP_REPS = 15
NAME_CHARS = 10

# Families a system may already have, tried when the bundled font is missing.
SYSTEM_CJK_FAMILIES = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Droid Sans Fallback",
    "AR PL UMing CN",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
)

PIPELINE_TITLE = N_("Open deals by stage")

COLOURS = {
    "bar": "#2f6fb0",
    "others": "#9aa5b1",
    "tier": ("#1b7f5a", "#55b38a", "#a8dbc3", "#d0d5da"),
    "stage": ("#9aa5b1", "#4f8fd6", "#2f6fb0", "#e59a2f", "#c8453c"),
    "text": "#1f2933",
    "muted": "#52606d",
    "up": "#1b7f5a",
    "down": "#c8453c",
}

@cache
def cjk_font() -> tuple[str, str] | None:
    """``(family, file)`` of the CJK font charts use, registered once; ``None`` if there is none."""
    try:
        import pylopdf_fonts_zh_cn  # the font wheel named in the requirements
    except ImportError:
        bundled = None
    else:
        bundled = Path(pylopdf_fonts_zh_cn.sans_path())
    _matplotlib()
    from matplotlib import font_manager

    if bundled is not None and bundled.is_file():
        font_manager.fontManager.addfont(str(bundled))
        family = font_manager.FontProperties(fname=str(bundled)).get_name()
        return family, str(bundled)
    available = {f.name: f.fname for f in font_manager.fontManager.ttflist}
    for family in SYSTEM_CJK_FAMILIES:
        if family in available:
            log.warning("charts: bundled CJK font missing, using the system's %s", family)
            return family, available[family]
    log.warning(
        "charts: no CJK font found (install pylopdf-fonts-zh-cn); Chinese text will show as boxes"
    )
    return None


def _family() -> list[str]:
    found = cjk_font()
    return [found[0], "DejaVu Sans"] if found else ["DejaVu Sans"]


def short_names(names: list[str]) -> list[str]:
    """Each name cut to ``NAME_CHARS`` for the bar labels, yet still telling names apart.

    A name that fits is kept.  A longer one is cut at the end ("Rita Verylo…"); where that
    cut would make two different names look the same, they keep the head and as much of
    their tail as tells them apart ("Rep W…ming", "Rep W…hong").  Names that no such cut
    separates are shown whole."""
    def cut(name: str, tail: int) -> str:
        if len(name) <= NAME_CHARS:
            return name
        head = NAME_CHARS - 1 - tail
        return name[:head] + "…" + (name[-tail:] if tail else "")

    labels_ = [cut(n, 0) for n in names]
    for tail in range(NAME_CHARS - 1):
        clashes = {i for i, label in enumerate(labels_)
                   if any(label == other and names[i] != names[j]
                          for j, other in enumerate(labels_) if j != i)}
        if not clashes:
            return labels_
        for i in clashes:
            labels_[i] = cut(names[i], tail + 1) if tail + 1 < NAME_CHARS - 1 else names[i]
    return labels_


def chart_title(scope_kind: str, scope_name: str, _: Gettext) -> str:
    """Whose report it is: one rep's name, the team, or everyone (an admin's report)."""
    key = {"rep": "title_rep", "team": "title_team"}.get(scope_kind, "title_all")
    return labels.sentence(labels.CHART[key], {"name": scope_name}, _)


def report_chart(report: Report, _: Gettext, *, scope_kind: str = "all", scope_name: str = "",
                 pipeline: PipelineFigures | None = None, language: str = "en") -> bytes:
    """The report as a PNG (1080×1350), its text translated by ``_`` (``bot.i18n.gettext_for``),
    titled by its scope (``ReportScope.kind`` and the rep's or the teams' name).

    The PNG's ``Title`` and ``Description`` text chunks carry the title and the bars' labels
    with their values: the chart's text for whoever cannot see the picture."""
    title = chart_title(scope_kind, scope_name, _)
    family = _family()
    _matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI, facecolor="white")
    FigureCanvasAgg(fig)
    deals = pipeline is not None and not pipeline.empty
    grid = fig.add_gridspec(
        3 if deals else 2,
        2,
        height_ratios=(2.2, 1, 0.9) if deals else (2.2, 1),
        left=0.25,
        right=0.95,
        top=0.77,
        bottom=0.05,
        hspace=0.3,
        wspace=0.75,
    )

    _header(fig, report, title, _, family)
    bars = _activity(fig.add_subplot(grid[0, :]), report, _, family)
    _mix(
        fig.add_subplot(grid[1, 0]),
        _text("tiers", _),
        report.tiers,
        report.tier_movement,
        [heading(labels.name(labels.TIERS, k, _)) for k in report.tiers],
        COLOURS["tier"],
        family,
    )
    _mix(
        fig.add_subplot(grid[1, 1]),
        _text("stages", _),
        report.stages,
        report.stage_movement,
        [heading(labels.name(labels.STAGES, k, _)) for k in report.stages],
        COLOURS["stage"],
        family,
    )

    if deals:
        assert pipeline is not None
        bars += _stage_bars(fig.add_subplot(grid[2, :]), pipeline, _, language, family)

    buffer = io.BytesIO()
    description = "\n".join(f"{name}: {value}" for name, value in bars)
    fig.savefig(buffer, format="png", dpi=DPI, facecolor="white",
                metadata={"Title": f"{title}  {report.period.label()}", "Description": description})
    return buffer.getvalue()


def _text(key: str, _: Gettext, **params: int) -> str:
    return labels.sentence(labels.CHART[key], params, _)


def _header(fig: Figure, report: Report, title: str, _: Gettext, family: list[str]) -> None:
    """Title, then up to four headline figures (2 × 2) with their change, coloured good/bad."""
    fig.text(
        0.05,
        0.97,
        f"{title}  {report.period.label()}",
        fontsize=30,
        family=family,
        color=COLOURS["text"],
        va="top",
    )
    keys = ["interactions", "new_customers", *[f"revenue:{c}" for c in report.revenue]][:4]
    for index, key in enumerate(keys):
        comparison = report.comparison(key)
        if comparison is None:
            continue
        text = f"{labels.figure(key, _)}: {_number(comparison.current)}"
        colour = COLOURS["text"]
        if comparison.direction:
            text += f"  {labels.DIRECTION_SIGNS[comparison.direction]}{_magnitude(comparison.delta)}"
            if comparison.improved is not None:
                colour = COLOURS["up"] if comparison.improved else COLOURS["down"]
        x, y = (0.05, 0.52)[index % 2], 0.915 - 0.032 * (index // 2)
        fig.text(x, y, text, fontsize=19, family=family, color=colour, va="top")
    if report.inactive_reps:
        fig.text(
            0.05,
            0.85,
            _text("inactive", _, n=len(report.inactive_reps)),
            fontsize=19,
            family=family,
            color=COLOURS["down"],
            va="top",
        )


def _number(value: object) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.0f}"


def _magnitude(value: object) -> str:
    """The size of a change (the arrow before it gives the sign); "" for no change."""
    if value is None or value == 0:
        return ""
    return _number(abs(value))  # type: ignore[arg-type]


def _activity(ax: Axes, report: Report, _: Gettext, family: list[str]) -> list[tuple[str, str]]:
    """The bars per rep; returns their ``(label, value)`` as drawn."""
    ax.set_title(
        _text("activity", _), fontsize=24, family=family, loc="left", color=COLOURS["text"], pad=12
    )
    reps = list(report.reps)  # most interactions first; idle reps last
    if not any(r.interactions for r in reps):
        ax.axis("off")
        ax.text(
            0.5,
            0.5,
            _text("no_activity", _),
            fontsize=22,
            family=family,
            ha="center",
            va="center",
            color=COLOURS["muted"],
            transform=ax.transAxes,
        )
        return []
    top = list(reps[:TOP_REPS])
    names = short_names([r.name for r in top])
    values: list[float] = [r.interactions for r in top]
    colours = [COLOURS["bar"]] * len(top)
    rest = reps[TOP_REPS:]
    if rest:
        names.append(_text("others", _, n=len(rest)))
        values.append(sum(r.interactions for r in rest) / len(rest))
        colours.append(COLOURS["others"])
    positions = list(range(len(values)))[::-1]  # the busiest at the top
    ax.barh(positions, values, color=colours, height=0.7)
    ax.set_yticks(positions, names, fontsize=18, family=family)
    ax.tick_params(axis="x", labelsize=16)
    peak = max(values) or 1
    ax.set_xlim(0, peak * 1.18)
    ax.xaxis.set_major_locator(_integer_ticks())  # counts: no 2.5 customers
    for y, value in zip(positions, values, strict=True):
        ax.text(
            value + peak * 0.01,
            y,
            _number(round(value, 1) if value % 1 else int(value)),
            va="center",
            fontsize=16,
            family=family,
            color=COLOURS["text"],
        )
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return [(name, _number(round(v, 1) if v % 1 else int(v))) for name, v in zip(names, values, strict=True)]


def _mix(
    ax: Axes,
    title: str,
    counts: Mapping[str, int],
    moves: Mapping[str, int] | None,
    names: list[str],
    colours: tuple[str, ...],
    family: list[str],
) -> None:
    ax.set_title(title, fontsize=22, family=family, loc="left", color=COLOURS["text"], pad=10)
    keys = list(counts)
    values = [counts[k] for k in keys]
    positions = list(range(len(keys)))[::-1]
    ax.barh(positions, values, color=colours[: len(keys)], height=0.7)
    ax.set_yticks(positions, names, fontsize=17, family=family)
    ax.tick_params(axis="x", labelsize=14)
    peak = max(values, default=0) or 1
    ax.set_xlim(0, peak * 1.45)
    ax.xaxis.set_major_locator(_integer_ticks())
    for y, key, value in zip(positions, keys, values, strict=True):
        text = f"{value:,}"
        if moves is not None and moves.get(key):
            text += f" {'▲' if moves[key] > 0 else '▼'}{abs(moves[key])}"
        ax.text(
            value + peak * 0.02,
            y,
            text,
            va="center",
            fontsize=15,
            family=family,
            color=COLOURS["text"],
        )
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _stage_bars(ax: Axes, pipeline: PipelineFigures, _: Gettext, language: str,
                family: list[str]) -> list[tuple[str, str]]:
    """The open deals per stage (the pipeline's stage bars), each with its weighted amount."""
    names = [s.stage.name(language) for s in pipeline.stages]
    counts = {s.stage.code: s.count for s in pipeline.stages}
    _mix(ax, _(PIPELINE_TITLE), counts, None, names, COLOURS["stage"][1:] + COLOURS["stage"][:1], family)
    return [(name, f"{s.count} · {s.weighted:,.0f} {pipeline.currency}") for name, s in zip(names, pipeline.stages,
                                                                                           strict=True)]


def _integer_ticks() -> object:
    """A tick locator for counts (no 2.5 customers)."""
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(integer=True)
