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
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from bot.domain.models import Customer
from bot.domain.reports import Comparison, Report, label
from bot.exports import csv_bytes

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

HEADERS: dict[str, dict[str, str]] = {
    "en": {
        # sheet names (Excel: at most 31 characters, no []:*?/\)
        "sheet_summary": "Summary",
        "sheet_reps": "Interactions by rep",
        "sheet_feedback": "Feedback",
        "sheet_mix": "Tiers and stages",
        "sheet_at_risk": "At risk",
        "sheet_clv": "CLV",
        "sheet_customers": "Customers",
        # summary
        "figure": "Figure",
        "current": "This period",
        "previous": "Previous period",
        "change": "Change",
        "direction": "Direction",
        "period_start": "Period start",
        "period_end": "Period end (last day)",
        "previous_start": "Previous period start",
        "previous_end": "Previous period end",
        "generated_at": "Generated at",
        # reps
        "rep": "Rep",
        "rep_id": "Rep ID",
        "interactions": "Interactions",
        "new_customers": "New customers",
        "purchases": "Purchases",
        "feedback": "Feedback",
        "on_time": "Follow-ups on time",
        "overdue": "Follow-ups overdue",
        "active": "Active",
        "yes": "yes",
        "no": "no",
        # feedback, mix
        "group": "Group",
        "value": "Value",
        "count": "Count",
        "movement": "Change since snapshot",
        "by_kind": "By kind",
        "by_status": "By status",
        "ratings": "Ratings",
        "tier": "Value tier",
        "stage": "Stage",
        "resolved": "Resolved in period",
        "csat_count": "CSAT answers",
        "nps_count": "NPS answers",
        "promoters": "Promoters (9–10)",
        "passives": "Passives (7–8)",
        "detractors": "Detractors (0–6)",
        # at risk, CLV
        "customer": "Customer",
        "customer_id": "Customer ID",
        "owner": "Owner",
        "score": "Risk score",
        "reasons": "Reasons",
        "currency": "Currency",
        "orders": "Orders",
        "total": "Total spent",
        "first_purchase": "First purchase",
        "observed_days": "Observed days",
        "aov": "Average order value",
        "orders_per_year": "Orders per year",
        "lifetime_years": "Lifetime (years)",
        "clv": "CLV",
        # customers
        "name": "Name",
        "company": "Company",
        "title": "Title",
        "industry": "Industry",
        "phones": "Phones",
        "email": "Email",
        "wechat": "WeChat",
        "city": "City",
        "value_tier": "Value tier",
        "lifecycle": "Stage",
        "source": "Source",
        "tags": "Tags",
        "created": "Created",
        "last_contact": "Last contact",
        "next_follow_up": "Next follow-up",
        "archived": "Archived",
    },
    "zh": {
        "sheet_summary": "概览",
        "sheet_reps": "销售跟进",
        "sheet_feedback": "客户反馈",
        "sheet_mix": "分级与阶段",
        "sheet_at_risk": "流失预警",
        "sheet_clv": "客户终身价值",
        "sheet_customers": "客户",
        "figure": "指标",
        "current": "本期",
        "previous": "上期",
        "change": "变化",
        "direction": "趋势",
        "period_start": "本期开始",
        "period_end": "本期结束（最后一天）",
        "previous_start": "上期开始",
        "previous_end": "上期结束",
        "generated_at": "生成时间",
        "rep": "销售",
        "rep_id": "销售 ID",
        "interactions": "跟进次数",
        "new_customers": "新客户",
        "purchases": "成交笔数",
        "feedback": "反馈",
        "on_time": "按时跟进",
        "overdue": "逾期跟进",
        "active": "有活动",
        "yes": "是",
        "no": "否",
        "group": "分组",
        "value": "项目",
        "count": "数量",
        "movement": "较上次快照变化",
        "by_kind": "按类型",
        "by_status": "按状态",
        "ratings": "评分",
        "tier": "价值分级",
        "stage": "生命周期",
        "resolved": "本期解决",
        "csat_count": "满意度答复数",
        "nps_count": "NPS 答复数",
        "promoters": "推荐者（9–10）",
        "passives": "中立者（7–8）",
        "detractors": "贬损者（0–6）",
        "customer": "客户",
        "customer_id": "客户 ID",
        "owner": "负责人",
        "score": "风险分",
        "reasons": "原因",
        "currency": "币种",
        "orders": "订单数",
        "total": "累计消费",
        "first_purchase": "首次购买",
        "observed_days": "观察天数",
        "aov": "平均订单金额",
        "orders_per_year": "年购买频次",
        "lifetime_years": "预期生命周期（年）",
        "clv": "客户终身价值",
        "name": "姓名",
        "company": "公司",
        "title": "职位",
        "industry": "行业",
        "phones": "电话",
        "email": "邮箱",
        "wechat": "微信",
        "city": "城市",
        "value_tier": "价值分级",
        "lifecycle": "生命周期",
        "source": "来源",
        "tags": "标签",
        "created": "创建日期",
        "last_contact": "最近联系",
        "next_follow_up": "下次跟进",
        "archived": "已归档",
    },
}

SOURCES = {
    "en": {
        "referral": "Referral",
        "event": "Event",
        "ad": "Ad",
        "cold_call": "Cold call",
        "inbound": "Inbound",
        "other": "Other",
    },
    "zh": {
        "referral": "转介绍",
        "event": "活动",
        "ad": "广告",
        "cold_call": "陌拜",
        "inbound": "主动咨询",
        "other": "其他",
    },
}

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
)


def _h(language: str) -> dict[str, str]:
    return HEADERS.get(language, HEADERS["en"])


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

    def header(self, names: Sequence[str]) -> None:
        row = []
        for name in names:
            cell = WriteOnlyCell(self.ws, value=name)
            cell.data_type = "s"
            cell.font = Font(bold=True)
            row.append(cell)
        self.ws.append(row)

    def widths(self, *widths: int) -> None:
        for index, width in enumerate(widths):
            self.ws.column_dimensions[get_column_letter(index + 1)].width = width

    def cell(self, value: Any, number_format: str | None = None) -> Any:
        """A cell, or the bare value when it needs no style (5× faster for openpyxl to write)."""
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
    report: Report, language: str, tz: tzinfo | None = None, clv_rows: int = CLV_ROWS
) -> bytes:
    """The report as a workbook: summary, reps, feedback, tiers/stages, at-risk, CLV sheets.

    The CLV sheet lists the ``clv_rows`` most valuable customers (the whole
    list is a customer export's job: 10 000 rows would triple the file and the
    time to build it, for a sheet a manager reads from the top).
    """
    h = _h(language)
    tz = tz or report.period.tz or DEFAULT_TZ
    workbook = Workbook(write_only=True)
    _summary_sheet(_Sheet(workbook, h["sheet_summary"], tz), report, language, h)
    _reps_sheet(_Sheet(workbook, h["sheet_reps"], tz), report, language, h)
    _feedback_sheet(_Sheet(workbook, h["sheet_feedback"], tz), report, language, h)
    _mix_sheet(_Sheet(workbook, h["sheet_mix"], tz), report, language, h)
    _at_risk_sheet(_Sheet(workbook, h["sheet_at_risk"], tz), report, h)
    _clv_sheet(_Sheet(workbook, h["sheet_clv"], tz), report, h, clv_rows)
    return _workbook_bytes(workbook)


def _comparison_format(comparison: Comparison) -> str:
    if comparison.key.startswith("revenue:"):
        return money_format(comparison.key.split(":", 1)[1])
    if comparison.key in RATE_KEYS:
        return PERCENT_FORMAT
    if comparison.key in AVERAGE_KEYS:
        return DECIMAL_FORMAT
    return COUNT_FORMAT


def _summary_sheet(sheet: _Sheet, report: Report, language: str, h: dict[str, str]) -> None:
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
            label(comparison.key, language),
            comparison.current,
            comparison.previous,
            comparison.delta,
            comparison.direction or None,
            formats={1: fmt, 2: fmt, 3: fmt},
        )
    for currency, average in report.clv.average.items():
        sheet.row(
            label(f"clv_average:{currency}", language), average, formats={1: money_format(currency)}
        )
    sheet.row(h["generated_at"], report.generated_at)


def _reps_sheet(sheet: _Sheet, report: Report, language: str, h: dict[str, str]) -> None:
    kinds = list(report.interactions_by_kind)
    sheet.widths(16, 14, 12, *([10] * len(kinds)), 12, 10, 10, 14, 14, 8)
    sheet.header(
        [
            h["rep"],
            h["rep_id"],
            h["interactions"],
            *[label(k, language) for k in kinds],
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


def _feedback_sheet(sheet: _Sheet, report: Report, language: str, h: dict[str, str]) -> None:
    sheet.widths(14, 28, 12)
    sheet.header([h["group"], h["value"], h["count"]])
    stats = report.feedback
    for kind, count in stats.by_kind.items():
        sheet.row(h["by_kind"], label(kind, language), count)
    for status, count in stats.by_status.items():
        sheet.row(h["by_status"], label(status, language), count)
    sheet.row(h["ratings"], h["resolved"], stats.resolved)
    sheet.row(
        h["ratings"],
        label("avg_resolution_hours", language),
        stats.avg_resolution_hours,
        formats={2: DECIMAL_FORMAT},
    )
    sheet.row(h["ratings"], h["csat_count"], stats.csat_count)
    sheet.row(h["ratings"], label("csat", language), stats.csat_avg, formats={2: "0.00"})
    sheet.row(h["ratings"], h["nps_count"], stats.nps_count)
    sheet.row(h["ratings"], h["promoters"], stats.promoters)
    sheet.row(h["ratings"], h["passives"], stats.passives)
    sheet.row(h["ratings"], h["detractors"], stats.detractors)
    sheet.row(h["ratings"], label("nps", language), stats.nps, formats={2: DECIMAL_FORMAT})


def _mix_sheet(sheet: _Sheet, report: Report, language: str, h: dict[str, str]) -> None:
    sheet.widths(14, 16, 10, 22)
    sheet.header([h["group"], h["value"], h["count"], h["movement"]])
    for group, counts, moves in (
        (h["tier"], report.tiers, report.tier_movement),
        (h["stage"], report.stages, report.stage_movement),
    ):
        for key, count in counts.items():
            sheet.row(
                group, label(key, language), count, moves.get(key, 0) if moves is not None else None
            )


def _at_risk_sheet(sheet: _Sheet, report: Report, h: dict[str, str]) -> None:
    sheet.widths(18, 14, 10, 60, 22)
    sheet.header([h["customer"], h["owner"], h["score"], h["reasons"], h["customer_id"]])
    for row in report.at_risk:
        sheet.row(row.name, row.owner_name, row.score, "; ".join(row.reasons), row.customer_id)


def _clv_sheet(sheet: _Sheet, report: Report, h: dict[str, str], rows: int) -> None:
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


def _customer_values(
    customer: Customer, staff_names: Mapping[str, str], language: str
) -> list[Any]:
    """One row in CUSTOMER_COLUMNS order, with typed values (the writers format them)."""
    tier = customer.effective_tier
    source = customer.source
    return [
        customer.name,
        customer.company,
        customer.title,
        customer.industry,
        "; ".join(customer.phones) or None,
        customer.email,
        customer.handles.get("wechat"),
        customer.city,
        label(tier.value, language) if tier is not None else label("none", language),
        label(customer.effective_stage.value, language),
        staff_names.get(customer.owner_id, customer.owner_id),
        SOURCES.get(language, SOURCES["en"]).get(source.value, source.value) if source else None,
        ", ".join(customer.tags) or None,
        customer.created_at,
        customer.last_contact_at,
        customer.next_follow_up_at,
        _h(language)["yes"] if customer.archived else _h(language)["no"],
        customer.id,
    ]


def customers_xlsx(
    customers: Iterable[Customer],
    staff_names: Mapping[str, str],
    language: str,
    tz: tzinfo | None = None,
) -> bytes:
    """A customer list (cards, one per row) as a workbook; moments in local time ``tz``."""
    h = _h(language)
    workbook = Workbook(write_only=True)
    sheet = _Sheet(workbook, h["sheet_customers"], tz or DEFAULT_TZ)
    sheet.widths(16, 18, 12, 12, 34, 22, 14, 10, 10, 10, 12, 10, 20, 12, 16, 16, 8, 22)
    sheet.header([h[c] for c in CUSTOMER_COLUMNS])
    created = CUSTOMER_COLUMNS.index("created")
    for customer in customers:
        values = _customer_values(customer, staff_names, language)
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
    language: str,
    tz: tzinfo | None = None,
) -> bytes:
    """The same list as CSV, UTF-8 with a BOM so Excel reads the Chinese correctly."""
    h = _h(language)
    tz = tz or DEFAULT_TZ
    created = CUSTOMER_COLUMNS.index("created")
    rows = []
    for customer in customers:
        values = _customer_values(customer, staff_names, language)
        values[created] = customer.created_at.astimezone(tz).date()
        rows.append([_csv_text(v, tz) for v in values])
    return csv_bytes([h[c] for c in CUSTOMER_COLUMNS], rows)
