"""The report chart: a PNG Telegram accepts as a photo, with Chinese drawn as text, not boxes."""

from __future__ import annotations

import logging
import struct
import sys
import warnings
from pathlib import Path

import matplotlib
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties, findfont

from bot import charts
from bot.domain.models import Interaction, InteractionKind, StaffUser
from bot.domain.reports import Report, ReportData, ReportSettings, compute_report
from bot.i18n import gettext_for
from tests.bot.domain.test_reports import NOW, PERIOD, team_data

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
TEN_MB = 10 * 1024 * 1024


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from the IHDR chunk, which a valid PNG has right after the magic."""
    assert data[:8] == PNG_MAGIC
    length, chunk = struct.unpack(">I4s", data[8:16])
    assert (length, chunk) == (13, b"IHDR")
    return struct.unpack(">II", data[16:24])


def assert_telegram_photo(data: bytes) -> None:
    width, height = png_size(data)
    assert len(data) <= TEN_MB  # sendPhoto: at most 10 MB
    assert width + height <= 10_000  # … width and height at most 10000 in total
    assert max(width, height) / min(width, height) <= 20  # … ratio at most 20
    assert data[-12:-4] == b"\x00\x00\x00\x00IEND"  # complete: ends with an empty IEND chunk


def glyph_warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in caught if "missing from font" in str(w.message)]


@pytest.fixture(scope="module")
def report() -> Report:
    return compute_report(team_data(), PERIOD, NOW, ReportSettings())


@pytest.mark.parametrize("language", ["zh", "en"])
def test_chart_is_a_telegram_photo(report: Report, language: str) -> None:
    data = charts.report_chart(report, gettext_for(language))
    assert png_size(data) == (1080, 1350)
    assert_telegram_photo(data)


def test_empty_report_still_draws(report: Report) -> None:
    empty = compute_report(ReportData(), PERIOD, NOW)
    assert_telegram_photo(charts.report_chart(empty, gettext_for("zh")))


def test_many_reps_fold_into_others() -> None:
    reps = [
        StaffUser(id=f"r{k}", telegram_id=k + 1, name=f"销售{k:02d}号很长的名字") for k in range(40)
    ]
    interactions = [
        Interaction(
            customer_id="c", owner_id=f"r{k}", kind=InteractionKind.CALL, occurred_at=PERIOD.start
        )
        for k in range(40)
        for _ in range(k % 7)
    ]
    many = compute_report(ReportData(staff=reps, interactions=interactions), PERIOD, NOW)
    assert_telegram_photo(charts.report_chart(many, gettext_for("zh")))


def test_the_cjk_font_ships_with_the_project_and_is_found() -> None:
    found = charts.cjk_font()
    assert found is not None, "install the CJK font wheel (pylopdf-fonts-zh-cn)"
    family, path = found
    assert Path(path).is_file() and "site-packages" in path  # from the wheel, not the system
    assert Path(findfont(FontProperties(family=family), fallback_to_default=False)) == Path(path)


def test_chinese_renders_without_missing_glyphs(report: Report) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        charts.report_chart(report, gettext_for("zh"))
        figure = Figure()
        FigureCanvasAgg(figure)
        family = charts.cjk_font()[0]  # type: ignore[index]
        figure.suptitle("团队报表：客户流失预警 ▲▼＝", family=family)
        figure.canvas.draw()
    assert glyph_warnings(caught) == []


def test_the_missing_glyph_check_does_detect_boxes() -> None:
    """The check above is meaningful: DejaVu Sans alone has no 汉字 and says so."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        figure = Figure()
        FigureCanvasAgg(figure)
        figure.suptitle("团队报表", family="DejaVu Sans")
        figure.canvas.draw()
    assert glyph_warnings(caught)


def test_no_global_matplotlib_state_changes(report: Report) -> None:
    before = dict(matplotlib.rcParams)
    charts.report_chart(report, gettext_for("zh"))
    assert dict(matplotlib.rcParams) == before
    assert matplotlib.get_backend().lower() == "agg"
    pyplot = sys.modules.get("matplotlib.pyplot")
    assert pyplot is None or not pyplot.get_fignums()  # no figure left in pyplot's registry


def test_falls_back_with_a_logged_warning(
    report: Report, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "pylopdf_fonts_zh_cn", None)  # import fails
    monkeypatch.setattr(charts, "SYSTEM_CJK_FAMILIES", ())
    charts.cjk_font.cache_clear()
    try:
        with caplog.at_level(logging.WARNING, logger="bot.charts"):
            assert charts.cjk_font() is None
            data = charts.report_chart(report, gettext_for("en"))
        assert any("no CJK font" in r.getMessage() for r in caplog.records)
        assert_telegram_photo(data)
    finally:
        charts.cjk_font.cache_clear()


def test_short_names_stay_distinct() -> None:
    names = ["Rep Wang Xiaoming", "Rep Wang Xiaohong", "Rita", "Rep Wang Xiaoming", "Rita Verylongname"]
    shown = charts.short_names(names)
    assert shown[2] == "Rita" and shown[4] == "Rita Very…"
    assert shown[0] == shown[3] != shown[1]  # the same person twice is the same label
    assert all(len(s) <= charts.NAME_CHARS for s in shown)


def test_the_chart_gains_stage_bars_with_deals(report: Report) -> None:
    from tests.bot.test_reports_export import _pipeline

    with_deals = charts.report_chart(report, gettext_for("zh"), pipeline=_pipeline(), language="zh")
    assert_telegram_photo(with_deals)
    assert with_deals != charts.report_chart(report, gettext_for("zh"))
