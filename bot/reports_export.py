"""Report and customer-list files a manager opens in Excel: XLSX and CSV.

XLSX cells are typed — counts and money are numbers (money with a
``#,##0.00`` format naming its currency), dates are dates, rates are
percentages — so a manager can sort, sum and chart them without "number
stored as text" warnings.  Excel has no time zones: moments are written as
local wall-clock times in the business zone ``tz``.

Nothing a user typed ever becomes a formula.  openpyxl writes any string that
starts with ``=`` as a formula, so every text cell is forced to a string; in
CSV (which Excel evaluates as it opens it) text starting with ``= + - @`` or a
tab/CR gets a leading apostrophe, as OWASP recommends against CSV injection
— this includes E.164 phone numbers ("'+8613800138000"), which Excel would
otherwise turn into 8.61E+12.

Workbooks are built in openpyxl's write-only mode: a month of a 50-rep team
has ~10 000 CLV rows, and write-only mode streams them instead of keeping a
cell object per value.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, tzinfo
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from bot import labels
from bot.domain.models import Birthday, CalendarKind, Customer
from bot.domain.reports import Comparison, Report
from bot.domain.reports.pipeline import PipelineFigures
from bot.exports import csv_bytes
from bot.labels import N_, Gettext, heading

if TYPE_CHECKING:
    from openpyxl import Workbook
    from openpyxl.worksheet._write_only import WriteOnlyWorksheet

# openpyxl (~30 MB) is imported by the first workbook, not at start-up (issue 15).


def _new_workbook() -> Workbook:
    from openpyxl import Workbook

    return Workbook(write_only=True)

DEFAULT_TZ = ZoneInfo("Asia/Shanghai")
DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
COUNT_FORMAT = "#,##0"
DECIMAL_FORMAT = "#,##0.0"
PERCENT_FORMAT = "0.0%"
RATE_KEYS = {"follow_up_on_time_rate"}
AVERAGE_KEYS = {"avg_resolution_hours", "csat", "nps"}
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CLV_ROWS = 200

CUSTOMER_COLUMNS = (
    "name",
    "company",
    "title",
    "industry",
    "phones",
    "email",
    "wechat",
    "city",
    "value_tier",
    "lifecycle",
    "owner",
    "source",
    "tags",
    "created",
    "last_contact",
    "next_follow_up",
    "archived",
    "customer_id",
    # the rest of the card (issue 16: an export holds every card field)
    "gender",
    "birthday",
    "telegram",
    "other_handles",
    "address",
    "referred_by",
    "needs_type",
    "preferences",
    "notes",
    "team",
    "created_by",
    "updated",
    "location",  # visit check-in (issue 19): the customer's saved location
)


# Customer columns that are card fields take the card's own field names.
_CARD_FIELDS = {"name", "company", "title", "industry", "email", "wechat", "city", "source", "tags",
                "gender", "birthday", "telegram", "address", "referred_by", "needs_type", "preferences",
                "notes"}
_CUSTOMER_HEADERS = {"value_tier": "tier", "lifecycle": "stage"}


class _Headers:
    """Column and sheet names, translated: ``h["rep"]`` (an ``EXPORT`` key) or a figure key."""

    def __init__(self, _: Gettext) -> None:
        self._ = _

    def __getitem__(self, key: str) -> str:
        if key in labels.EXPORT:
            return labels.name(labels.EXPORT, key, self._)
        if key in labels.FIGURES:
            return labels.figure(key, self._)
        if key in _CARD_FIELDS:
            return labels.name(labels.FIELDS, key, self._)
        return labels.name(labels.EXPORT, _CUSTOMER_HEADERS[key], self._)

    def enum(self, table: Mapping[str, str], key: str) -> str:
        """An enum value standing alone in a cell ("Call", not "call")."""
        return heading(labels.name(table, key, self._))


def money_format(currency: str) -> str:
    """Excel number format for an amount in ``currency`` ("#,##0.00" plus the code)."""
    return f'#,##0.00 "{currency}"'


# ---------------------------------------------------------------------------
# Cells
# ---------------------------------------------------------------------------


class _Sheet:
    """A write-only sheet with typed cells: the one place values become cells."""

    def __init__(self, workbook: Workbook, title: str, tz: tzinfo) -> None:
        self.ws: WriteOnlyWorksheet = workbook.create_sheet(title)
        self.ws.freeze_panes = "A2"
        self.tz = tz
        from openpyxl.cell import WriteOnlyCell

        self._cell_type = WriteOnlyCell

    def header(self, names: Sequence[str]) -> None:
        from openpyxl.cell import WriteOnlyCell
        from openpyxl.styles import Font

        row = []
        for name in names:
            cell = WriteOnlyCell(self.ws, value=name)
            cell.data_type = "s"
            cell.font = Font(bold=True)
            row.append(cell)
        self.ws.append(row)

    def widths(self, *widths: int) -> None:
        from openpyxl.utils import get_column_letter

        for index, width in enumerate(widths):
            self.ws.column_dimensions[get_column_letter(index + 1)].width = width

    def cell(self, value: Any, number_format: str | None = None) -> Any:
        """A cell, or the bare value when it needs no style (5× faster for openpyxl to write)."""
        WriteOnlyCell = self._cell_type  # openpyxl's class, imported once per sheet
        if isinstance(value, datetime):
            local = value.astimezone(self.tz) if value.tzinfo else value
            value = local.replace(tzinfo=None)
            number_format = number_format or DATETIME_FORMAT
        elif isinstance(value, date):
            number_format = number_format or DATE_FORMAT
        elif isinstance(value, str) and value.startswith("="):
            cell = WriteOnlyCell(self.ws, value=value)
            cell.data_type = "s"  # never a formula, whatever the user typed
            return cell
        if not number_format:
            return value
        cell = WriteOnlyCell(self.ws, value=value)
        cell.number_format = number_format
        return cell

    def row(self, *values: Any, formats: Mapping[int, str] | None = None) -> None:
        formats = formats or {}
        cells = []
        for index, value in enumerate(values):
            fmt = formats.get(index)
            if fmt is None and isinstance(value, int) and not isinstance(value, bool):
                fmt = COUNT_FORMAT
            cells.append(self.cell(value, fmt))
        self.ws.append(cells)


def _workbook_bytes(workbook: Workbook) -> bytes:
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# ---------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------


def report_xlsx(
    report: Report, _: Gettext, tz: tzinfo | None = None, clv_rows: int = CLV_ROWS, *,
    pipeline: PipelineFigures | None = None, language: str = "en",
) -> bytes:
    """The report as a workbook: summary, reps, feedback, tiers/stages, at-risk, CLV sheets.

    The CLV sheet lists the ``clv_rows`` most valuable customers (the whole
    list is a customer export's job: 10 000 rows would triple the file and the
    time to build it, for a sheet a manager reads from the top).
    """
    h = _Headers(_)
    tz = tz or report.period.tz or DEFAULT_TZ
    workbook = _new_workbook()
    _summary_sheet(_Sheet(workbook, h["sheet_summary"], tz), report, _, h)
    _reps_sheet(_Sheet(workbook, h["sheet_reps"], tz), report, h)
    _feedback_sheet(_Sheet(workbook, h["sheet_feedback"], tz), report, h)
    _mix_sheet(_Sheet(workbook, h["sheet_mix"], tz), report, h)
    _at_risk_sheet(_Sheet(workbook, h["sheet_at_risk"], tz), report, _, h)
    _clv_sheet(_Sheet(workbook, h["sheet_clv"], tz), report, h, clv_rows)
    if report.reorders is not None and report.reorders.rows:
        _reorders_sheet(_Sheet(workbook, h["sheet_reorders"], tz), report, h)
    if pipeline is not None and not pipeline.empty:
        _pipeline_sheet(_Sheet(workbook, _(PIPELINE_SHEET), tz), pipeline, _, language)
    return _workbook_bytes(workbook)


def _reorders_sheet(sheet: _Sheet, report: Report, h: _Headers) -> None:
    """The reorders expected in the coming days (``bot.domain.reports.reorders``)."""
    assert report.reorders is not None
    sheet.widths(18, 14, 14, 8, 12, 14, 8, 22)
    sheet.header([h["customer"], h["owner"], h["expected_on"], h["tolerance_days"], h["interval_days"],
                  h["expected_amount"], h["currency"], h["customer_id"]])
    for r in report.reorders.rows:
        sheet.row(r.name, r.owner_name, r.expected_on, r.tolerance_days, r.interval_days,
                  r.expected_amount, r.currency, r.customer_id,
                  formats={5: money_format(r.currency)} if r.currency else None)


PIPELINE_SHEET = N_("Pipeline")
PIPELINE_ROWS = {
    "new": N_("New deals"), "won": N_("Won"), "lost": N_("Lost"), "win_rate": N_("Win rate"),
    "cycle": N_("Average cycle (days)"), "open": N_("Open"), "forecast": N_("Forecast for the period"),
    "stage": N_("Stage"), "count": N_("Deals"), "amount": N_("Amount"), "weighted": N_("Weighted"),
}


def _pipeline_sheet(sheet: _Sheet, pipeline: PipelineFigures, _: Gettext, language: str) -> None:
    """The deals of the period and the pipeline by stage (bot/domain/reports/pipeline.py)."""
    money = money_format(pipeline.currency)
    amounts = {2: money, 3: money}
    t = {key: _(msgid) for key, msgid in PIPELINE_ROWS.items()}
    sheet.widths(26, 12, 18, 18)
    sheet.header(["", t["count"], t["amount"], t["weighted"]])
    for key, count, amount in (("new", pipeline.new_count, pipeline.new_amount),
                               ("won", pipeline.won_count, pipeline.won_amount),
                               ("lost", pipeline.lost_count, pipeline.lost_amount)):
        sheet.row(t[key], count, float(amount), None, formats=amounts)
    sheet.row(t["win_rate"], pipeline.win_rate, formats={1: "0%"})
    sheet.row(t["cycle"], round(pipeline.avg_cycle_days, 1) if pipeline.avg_cycle_days is not None else None,
              formats={1: "0.0"})
    for stage in pipeline.stages:
        sheet.row(f"{t['stage']}: {stage.stage.name(language)}", stage.count, float(stage.amount),
                  float(stage.weighted), formats=amounts)
    sheet.row(t["open"], pipeline.open_count, float(pipeline.open_amount), float(pipeline.open_weighted),
              formats=amounts)
    sheet.row(t["forecast"], None, None, float(pipeline.forecast), formats=amounts)


def _comparison_format(comparison: Comparison) -> str:
    if comparison.key.startswith("revenue:"):
        return money_format(comparison.key.split(":", 1)[1])
    if comparison.key in RATE_KEYS:
        return PERCENT_FORMAT
    if comparison.key in AVERAGE_KEYS:
        return DECIMAL_FORMAT
    return COUNT_FORMAT


def _summary_sheet(sheet: _Sheet, report: Report, _: Gettext, h: _Headers) -> None:
    sheet.widths(30, 18, 18, 14, 10)
    sheet.header([h["figure"], h["current"], h["previous"], h["change"], h["direction"]])
    period, previous = report.period, report.previous_period
    sheet.row(
        h["period_start"],
        period.start.astimezone(sheet.tz).date(),
        previous.start.astimezone(sheet.tz).date(),
    )
    sheet.row(h["period_end"], period.last_day, previous.last_day)
    for comparison in report.comparisons:
        fmt = _comparison_format(comparison)
        sheet.row(
            labels.figure(comparison.key, _),
            comparison.current,
            comparison.previous,
            comparison.delta,
            labels.DIRECTION_SIGNS.get(comparison.direction) or None,
            formats={1: fmt, 2: fmt, 3: fmt},
        )
    for currency, average in report.clv.average.items():
        sheet.row(
            labels.figure(f"clv_average:{currency}", _), average, formats={1: money_format(currency)}
        )
    sheet.row(h["generated_at"], report.generated_at)


def _reps_sheet(sheet: _Sheet, report: Report, h: _Headers) -> None:
    kinds = list(report.interactions_by_kind)
    sheet.widths(16, 14, 12, *([10] * len(kinds)), 12, 10, 10, 14, 14, 8)
    sheet.header(
        [
            h["rep"],
            h["rep_id"],
            h["interactions"],
            *[h.enum(labels.INTERACTION_KINDS, k) for k in kinds],
            h["new_customers"],
            h["purchases"],
            h["feedback"],
            h["on_time"],
            h["overdue"],
            h["active"],
        ]
    )
    for rep in report.reps:
        sheet.row(
            rep.name,
            rep.rep_id,
            rep.interactions,
            *[rep.by_kind.get(k, 0) for k in kinds],
            rep.new_customers,
            rep.purchases,
            rep.feedback,
            rep.follow_ups_on_time,
            rep.follow_ups_overdue,
            h["yes"] if rep.active else h["no"],
        )


def _feedback_sheet(sheet: _Sheet, report: Report, h: _Headers) -> None:
    sheet.widths(14, 28, 12)
    sheet.header([h["group"], h["value"], h["count"]])
    stats = report.feedback
    for kind, count in stats.by_kind.items():
        sheet.row(h["by_kind"], h.enum(labels.FEEDBACK_KINDS, kind), count)
    for status, count in stats.by_status.items():
        sheet.row(h["by_status"], h.enum(labels.FEEDBACK_STATUSES, status), count)
    sheet.row(h["ratings"], h["resolved"], stats.resolved)
    sheet.row(
        h["ratings"],
        h["avg_resolution_hours"],
        stats.avg_resolution_hours,
        formats={2: DECIMAL_FORMAT},
    )
    sheet.row(h["ratings"], h["csat_count"], stats.csat_count)
    sheet.row(h["ratings"], h["csat"], stats.csat_avg, formats={2: "0.00"})
    sheet.row(h["ratings"], h["nps_count"], stats.nps_count)
    sheet.row(h["ratings"], h["promoters"], stats.promoters)
    sheet.row(h["ratings"], h["passives"], stats.passives)
    sheet.row(h["ratings"], h["detractors"], stats.detractors)
    sheet.row(h["ratings"], h["nps"], stats.nps, formats={2: DECIMAL_FORMAT})


def _mix_sheet(sheet: _Sheet, report: Report, h: _Headers) -> None:
    sheet.widths(14, 16, 10, 22)
    sheet.header([h["group"], h["value"], h["count"], h["movement"]])
    for group, table, counts, moves in (
        (h["tier"], labels.TIERS, report.tiers, report.tier_movement),
        (h["stage"], labels.STAGES, report.stages, report.stage_movement),
    ):
        for key, count in counts.items():
            sheet.row(
                group, h.enum(table, key), count, moves.get(key, 0) if moves is not None else None
            )


def _at_risk_sheet(sheet: _Sheet, report: Report, _: Gettext, h: _Headers) -> None:
    sheet.widths(18, 14, 10, 60, 22)
    sheet.header([h["customer"], h["owner"], h["score"], h["reasons"], h["customer_id"]])
    for row in report.at_risk:
        reasons = "; ".join(labels.churn_reasons(row.reasons, _))
        sheet.row(row.name, row.owner_name, row.score, reasons, row.customer_id)


def _clv_sheet(sheet: _Sheet, report: Report, h: _Headers, rows: int) -> None:
    sheet.widths(16, 8, 8, 16, 14, 12, 18, 14, 14, 16, 22)
    sheet.header(
        [
            h["customer"],
            h["currency"],
            h["orders"],
            h["total"],
            h["first_purchase"],
            h["observed_days"],
            h["aov"],
            h["orders_per_year"],
            h["lifetime_years"],
            h["clv"],
            h["customer_id"],
        ]
    )
    for e in report.clv.estimates[:rows]:
        money = money_format(e.currency)
        sheet.row(
            e.name,
            e.currency,
            e.orders,
            e.total,
            e.first_purchase,
            e.observed_days,
            e.average_order_value,
            e.orders_per_year,
            e.lifetime_years,
            e.clv,
            e.customer_id,
            formats={3: money, 6: money, 7: "0.00", 8: "0.##", 9: money},
        )


# ---------------------------------------------------------------------------
# Customer lists
# ---------------------------------------------------------------------------


def birthday_cell(birthday: Birthday | None, _: Gettext) -> str | None:
    """A birthday as text: ISO for solar dates ("--05-03" without a year), lunar ones marked."""
    if birthday is None:
        return None
    year = f"{birthday.year}" if birthday.year else "-"
    day = f"{year}-{birthday.month:02d}-{birthday.day:02d}"
    if birthday.calendar is CalendarKind.LUNAR:
        return (_("lunar %(date)s, leap month") if birthday.leap_month else _("lunar %(date)s")) % {"date": day}
    return day


def _customer_values(
    customer: Customer, staff_names: Mapping[str, str], h: _Headers,
    referrers: Mapping[str, str] | None = None,
) -> list[Any]:
    """One row in CUSTOMER_COLUMNS order, with typed values (the writers format them)."""
    tier = customer.effective_tier
    source = customer.source
    others = "; ".join(f"{k}: {v}" for k, v in sorted(customer.handles.items())
                       if k not in ("wechat", "telegram"))
    referred = customer.referred_by
    return [
        customer.name,
        customer.company,
        customer.title,
        customer.industry,
        "; ".join(customer.phones) or None,
        customer.email,
        customer.handles.get("wechat"),
        customer.city,
        h.enum(labels.TIERS, tier.value if tier is not None else "none"),
        h.enum(labels.STAGES, customer.effective_stage.value),
        staff_names.get(customer.owner_id, customer.owner_id),
        h.enum(labels.CHOICES, source.value) if source else None,
        ", ".join(customer.tags) or None,
        customer.created_at,
        customer.last_contact_at,
        customer.next_follow_up_at,
        h["yes"] if customer.archived else h["no"],
        customer.id,
        h.enum(labels.CHOICES, customer.gender.value) if customer.gender else None,
        birthday_cell(customer.birthday, h._),
        customer.handles.get("telegram"),
        others or None,
        customer.address,
        (referrers or {}).get(referred, referred) if referred else None,
        h.enum(labels.CHOICES, customer.needs_type.value) if customer.needs_type else None,
        customer.preferences,
        customer.notes,
        customer.team,
        staff_names.get(customer.created_by, customer.created_by) if customer.created_by else None,
        customer.updated_at,
        f"{customer.location.latitude:.6f}, {customer.location.longitude:.6f}" if customer.location else None,
    ]


def customers_xlsx(
    customers: Iterable[Customer],
    staff_names: Mapping[str, str],
    _: Gettext,
    tz: tzinfo | None = None,
) -> bytes:
    """A customer list (cards, one per row) as a workbook; moments in local time ``tz``."""
    h = _Headers(_)
    workbook = _new_workbook()
    sheet = _Sheet(workbook, h["sheet_customers"], tz or DEFAULT_TZ)
    sheet.widths(16, 18, 12, 12, 34, 22, 14, 10, 10, 10, 12, 10, 20, 12, 16, 16, 8, 22,
                 8, 12, 14, 20, 30, 16, 12, 30, 30, 10, 12, 16)
    sheet.header([h[c] for c in CUSTOMER_COLUMNS])
    created = CUSTOMER_COLUMNS.index("created")
    customers = list(customers)
    referrers = {c.id: c.name for c in customers}
    for customer in customers:
        values = _customer_values(customer, staff_names, h, referrers)
        values[created] = customer.created_at.astimezone(sheet.tz).date()
        sheet.row(*values)
    return _workbook_bytes(workbook)


def _csv_text(value: Any, tz: tzinfo) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(tz).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def customers_csv(
    customers: Iterable[Customer],
    staff_names: Mapping[str, str],
    _: Gettext,
    tz: tzinfo | None = None,
) -> bytes:
    """The same list as CSV, UTF-8 with a BOM so Excel reads the Chinese correctly."""
    h = _Headers(_)
    tz = tz or DEFAULT_TZ
    created = CUSTOMER_COLUMNS.index("created")
    rows = []
    customers = list(customers)
    referrers = {c.id: c.name for c in customers}
    for customer in customers:
        values = _customer_values(customer, staff_names, h, referrers)
        values[created] = customer.created_at.astimezone(tz).date()
        rows.append([_csv_text(v, tz) for v in values])
    return csv_bytes([h[c] for c in CUSTOMER_COLUMNS], rows)
