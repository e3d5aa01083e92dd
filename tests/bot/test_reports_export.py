"""Report and customer exports: read back with openpyxl / csv and check types and values."""

from __future__ import annotations

import csv
import dataclasses
import io
from datetime import datetime
from decimal import Decimal
from typing import Any

import openpyxl
import pytest

from bot.domain.models import Customer, Gender, LifecycleStage, Source, ValueTier
from bot.domain.reports import Report, ReportData, ReportSettings, compute_report
from bot.i18n import gettext_for
from bot.reports_export import customers_csv, customers_xlsx, money_format, report_xlsx
from tests.bot.domain.test_reports import NOW, PERIOD, SH, sh, team_data

BOM = b"\xef\xbb\xbf"
EN, ZH = gettext_for("en"), gettext_for("zh")


@pytest.fixture(scope="module")
def report() -> Report:
    snapshot = {"tiers": {"high": 1, "mid": 1, "low": 1, "none": 2}, "stages": {"new": 0}}
    return compute_report(team_data(snapshot), PERIOD, NOW, ReportSettings(top_at_risk=2))


def open_xlsx(data: bytes) -> openpyxl.Workbook:
    assert data[:2] == b"PK"  # a zip, as every .xlsx is
    return openpyxl.load_workbook(io.BytesIO(data))


def rows(sheet: openpyxl.worksheet.worksheet.Worksheet) -> list[tuple]:
    return list(sheet.iter_rows(values_only=True))


def by_first_column(sheet: openpyxl.worksheet.worksheet.Worksheet) -> dict[str, tuple]:
    return {row[0].value: row for row in sheet.iter_rows(min_row=2)}


def test_report_has_one_sheet_per_table(report: Report) -> None:
    assert open_xlsx(report_xlsx(report, EN)).sheetnames == [
        "Summary",
        "Interactions by rep",
        "Feedback",
        "Tiers and stages",
        "At risk",
        "CLV",
    ]
    assert open_xlsx(report_xlsx(report, ZH)).sheetnames == [
        "概览",
        "销售跟进",
        "客户反馈",
        "分级与阶段",
        "流失预警",
        "客户终身价值",
    ]


def test_summary_is_typed(report: Report) -> None:
    sheet = open_xlsx(report_xlsx(report, EN))["Summary"]
    assert rows(sheet)[0] == ("Figure", "This period", "Previous period", "Change", "Direction")
    assert sheet["A1"].font.bold
    assert sheet.freeze_panes == "A2"
    summary = by_first_column(sheet)

    start = summary["Period start"]
    assert start[1].value == datetime(2026, 3, 2)  # a date cell (openpyxl reads datetimes)
    assert start[1].is_date and start[1].number_format == "yyyy-mm-dd"
    assert summary["Period end (last day)"][1].value == datetime(2026, 3, 8)

    new = summary["New customers"]
    assert [c.value for c in new[1:]] == [2, 1, 1, "▲"]
    assert new[1].data_type == "n"

    cny = summary["Revenue (CNY)"]
    assert [c.value for c in cny[1:4]] == [2499.5, 800, 1699.5]
    assert cny[1].number_format == money_format("CNY") == '#,##0.00 "CNY"'
    assert summary["Revenue (USD)"][1].number_format == '#,##0.00 "USD"'

    rate = summary["Follow-up on-time rate"]
    assert rate[1].value == pytest.approx(0.2) and rate[2].value == pytest.approx(0.5)
    assert rate[1].number_format == "0.0%" and rate[4].value == "▼"

    csat = summary["CSAT (1–5)"]
    assert csat[1].value == pytest.approx(11 / 3) and csat[2].value is None
    assert csat[4].value is None  # no direction without a previous value

    assert summary["Average CLV (CNY)"][1].value == 3225.38
    generated = summary["Generated at"][1]
    assert generated.value == datetime(2026, 3, 9, 9, 0)  # local wall time, Beijing
    assert generated.number_format == "yyyy-mm-dd hh:mm"


def test_reps_sheet(report: Report) -> None:
    sheet = open_xlsx(report_xlsx(report, EN))["Interactions by rep"]
    header, *body = rows(sheet)
    assert header[:4] == ("Rep", "Rep ID", "Interactions", "Call")
    assert header[-1] == "Active"
    alice = body[0]
    assert alice[:3] == ("Alice", "r1", 4)
    #         call visit meeting message email wechat | new purchases feedback on-time overdue
    assert alice[3:14] == (2, 1, 0, 0, 0, 1, 1, 4, 3, 1, 2)
    assert alice[14] == "yes"
    assert body[-1][0] == "Carol" and body[-1][-1] == "no"


def test_feedback_and_mix_sheets(report: Report) -> None:
    book = open_xlsx(report_xlsx(report, EN))
    feedback = rows(book["Feedback"])
    assert ("By kind", "Complaint", 1) in feedback
    assert ("By status", "In progress", 1) in feedback
    ratings = {row[1]: row[2] for row in feedback if row[0] == "Ratings"}
    assert ratings["NPS"] == 25
    assert ratings["Avg. resolution (hours)"] == pytest.approx(104 / 3)
    assert ratings["Promoters (9–10)"] == 2

    mix = rows(book["Tiers and stages"])
    assert ("Value tier", "High value", 2, 1) in mix  # 2 now, 1 in the snapshot
    assert ("Value tier", "No purchases yet", 2, 0) in mix  # the card's term for "no tier"
    assert ("Stage", "Prospect", 2, 2) in mix  # not in the snapshot: counted from 0


def test_at_risk_and_clv_sheets(report: Report) -> None:
    book = open_xlsx(report_xlsx(report, ZH))
    at_risk = rows(book["流失预警"])
    assert at_risk[0] == ("客户", "负责人", "风险分", "原因", "客户 ID")
    assert at_risk[1:] == [
        ("王五", "Bob", 80, "2 条投诉未解决", "c3"),  # codes rendered in the sheet's language
        ("赵六", "Alice", 80, "20 天未联系（通常每 14 天）", "c5"),
    ]
    clv = book["客户终身价值"]
    first = [c for c in next(clv.iter_rows(min_row=2, max_row=2))]
    assert first[0].value == "张三" and first[1].value == "CNY"
    assert first[3].value == 3500.5 and first[3].number_format == '#,##0.00 "CNY"'
    assert first[4].value == datetime(2024, 3, 9) and first[4].is_date
    assert first[9].value == 5250.75
    assert len(rows(clv)) == 1 + 3
    assert len(rows(open_xlsx(report_xlsx(report, EN, clv_rows=1))["CLV"])) == 1 + 1


def test_empty_report_exports(report: Report) -> None:
    empty = compute_report(ReportData(), PERIOD, NOW)
    book = open_xlsx(report_xlsx(empty, EN))
    assert rows(book["Interactions by rep"]) == [rows(book["Interactions by rep"])[0]]
    assert by_first_column(book["Summary"])["NPS"][1].value is None


# ---------------------------------------------------------------------------
# Customer lists
# ---------------------------------------------------------------------------


def cards() -> list[Customer]:
    return [
        Customer(
            id="c1",
            name="张三",
            owner_id="r1",
            company="华润",
            title="采购经理",
            gender=Gender.MALE,
            phones=["+8613800138000", "+8613900139000"],
            email="zhang@example.com",
            handles={"wechat": "zhang_san"},
            city="上海",
            value_tier=ValueTier.MID,
            value_tier_override=ValueTier.HIGH,
            stage=LifecycleStage.REPEAT,
            source=Source.REFERRAL,
            tags=["vip", "茶"],
            created_at=sh(3, 1, 0, 30),
            updated_at=sh(3, 1, 0, 30),
            last_contact_at=sh(3, 5, 14, 15),
            next_follow_up_at=sh(3, 12, 10),
        ),
        Customer(
            id="c2",
            name='=HYPERLINK("http://evil")',
            owner_id="gone",
            company="-1+2",
            created_at=sh(2, 1),
            updated_at=sh(2, 1),
        ),
    ]


def test_customers_xlsx_is_typed() -> None:
    book = open_xlsx(customers_xlsx(cards(), {"r1": "Alice"}, ZH))
    sheet = book["客户"]
    header = rows(sheet)[0]
    assert header[:5] == ("姓名", "公司", "职位", "行业", "电话")
    col = {name: index for index, name in enumerate(header)}
    zhang = next(sheet.iter_rows(min_row=2, max_row=2))
    assert zhang[col["电话"]].value == "+8613800138000; +8613900139000"
    assert zhang[col["价值分级"]].value == "高价值"  # the override
    assert zhang[col["生命周期"]].value == "老客户"
    assert zhang[col["负责人"]].value == "Alice"
    assert zhang[col["来源"]].value == "转介绍"
    # created 00:30 on 1 March Beijing time: the local date, not 28 February (UTC)
    assert zhang[col["创建日期"]].value == datetime(2026, 3, 1) and zhang[col["创建日期"]].is_date
    contact = zhang[col["最近联系"]]
    assert contact.value == datetime(2026, 3, 5, 14, 15) and contact.is_date
    assert zhang[col["已归档"]].value == "否"

    evil = next(sheet.iter_rows(min_row=3, max_row=3))
    assert evil[0].data_type == "s" and evil[0].value == '=HYPERLINK("http://evil")'
    assert evil[col["负责人"]].value == "gone"  # unknown owner: the id
    assert evil[col["价值分级"]].value == "尚未购买"  # the card's term for "no tier"


def test_customers_csv_opens_in_excel() -> None:
    data = customers_csv(cards(), {"r1": "Alice"}, EN, SH)
    assert data.startswith(BOM)  # Excel needs the BOM to read UTF-8 (Chinese) correctly
    parsed = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    header, zhang, evil = parsed
    col = {name: index for index, name in enumerate(header)}
    assert header[0] == "Name" and "Next follow-up" in header
    assert zhang[col["Name"]] == "张三" and zhang[col["Company"]] == "华润"
    assert zhang[col["Value tier"]] == "High value" and zhang[col["Tags"]] == "vip, 茶"
    assert zhang[col["Created"]] == "2026-03-01"
    assert zhang[col["Last contact"]] == "2026-03-05 14:15"
    # Excel evaluates cells starting with = + - @ on opening a CSV: prefixed with '
    assert zhang[col["Phones"]] == "'+8613800138000; +8613900139000"
    assert evil[col["Name"]] == '\'=HYPERLINK("http://evil")'
    assert evil[col["Company"]] == "'-1+2"
    assert evil[col["Title"]] == ""  # None → empty


def test_export_headers_are_translated() -> None:
    """Every header is a msgid of the one label table, translated by the zh catalog."""
    from bot import labels

    untranslated = [k for k in labels.EXPORT
                    if labels.name(labels.EXPORT, k, ZH) == labels.name(labels.EXPORT, k, EN)]
    assert untranslated == []


def test_decimal_money_stays_exact_enough() -> None:
    # openpyxl writes Decimal as a number: it reads back as the float of the same value
    book = open_xlsx(report_xlsx(compute_report(team_data(), PERIOD, NOW), EN))
    cny = by_first_column(book["Summary"])["Revenue (CNY)"][1].value
    assert Decimal(str(cny)) == Decimal("2499.5")


def test_the_customer_export_holds_every_card_field() -> None:
    """Issue 16: each field of the card (bot.domain.models.Customer) has a column, filled."""
    from bot.domain.models import Birthday, CalendarKind, Gender, NeedsType

    referrer = Customer(id="ref", name="老王", owner_id="r1")
    full = Customer(
        id="full", name="李四", owner_id="r1", team="east", gender=Gender.FEMALE,
        birthday=Birthday(calendar=CalendarKind.LUNAR, month=5, day=3, year=1990), title="经理",
        company="万科", industry="retail", phones=["+8613800138000"], email="li@example.com",
        handles={"wechat": "li_wx", "telegram": "@li", "line": "li-line"}, city="上海",
        address="南京路 1 号", source=Source.REFERRAL, referred_by="ref", needs_type=NeedsType.QUALITY,
        tags=["vip"], preferences="绿茶", notes="@下午联系", value_tier=ValueTier.MID,
        value_tier_override=ValueTier.HIGH, stage=LifecycleStage.NEW, last_contact_at=sh(3, 5, 9),
        next_follow_up_at=sh(3, 9, 9), archived=False, created_by="r1", created_at=sh(3, 1),
        updated_at=sh(3, 2, 10),
    )
    covered = {"name", "owner_id", "team", "gender", "birthday", "title", "company", "industry", "phones",
               "email", "handles", "city", "address", "source", "referred_by", "needs_type", "tags",
               "preferences", "notes", "value_tier", "value_tier_override", "stage", "stage_override",
               "last_contact_at", "next_follow_up_at", "archived", "created_by", "id", "created_at",
               "updated_at", "version", "location"}
    fields = {f.name for f in dataclasses.fields(Customer)}
    assert fields <= covered, f"a new card field has no export column: {fields - covered}"
    data = customers_csv([referrer, full], {"r1": "Alice"}, ZH, SH)
    header, _ref, row = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    values = dict(zip(header, row, strict=True))
    assert values["性别"] == "女" and values["生日"] == "农历 1990-05-03", values
    assert values["Telegram"] == "'@li" and values["其他联系方式"] == "line: li-line"
    assert values["地址"] == "南京路 1 号" and values["推荐人"] == "老王"
    assert values["偏好与需求"] == "绿茶" and values["备注"] == "'@下午联系"  # escaped for Excel
    assert values["团队"] == "east" and values["创建人"] == "Alice"
    assert values["更新时间"] == "2026-03-02 10:00" and values["需求类型"] == "品质型"
    book = open_xlsx(customers_xlsx([referrer, full], {"r1": "Alice"}, EN))
    header = rows(book["Customers"])[0]
    assert {"Gender", "Birthday", "Address", "Referred by", "Needs", "Preferences", "Notes", "Team",
            "Updated"} <= set(header)
def _pipeline() -> Any:
    from bot.config import Config
    from bot.domain import deals
    from bot.domain.models import Deal
    from bot.domain.reports.pipeline import pipeline_figures

    pipeline = Config().deals.pipeline
    won = deals.move(Deal(customer_id="c", owner_id="r", title="CRM Pro", amount=Decimal(50000), currency="CNY",
                          stage="negotiation", probability=80, created_at=PERIOD.start, updated_at=PERIOD.start),
                     deals.WON, now=PERIOD.start, today=PERIOD.start.date(), by=None)
    open_deal = Deal(customer_id="c", owner_id="r", title="Tea", amount=Decimal(10000), currency="CNY",
                     stage="proposal", probability=60, created_at=PERIOD.start, updated_at=PERIOD.start)
    return pipeline_figures([won, open_deal], start=PERIOD.start, end=PERIOD.end,
                            last_day=PERIOD.end.date(), pipeline=pipeline, currency="CNY")


def test_the_pipeline_sheet(report: Report) -> None:
    book = open_xlsx(report_xlsx(report, EN, pipeline=_pipeline(), language="en"))
    assert book.sheetnames[-1] == "Pipeline"
    table = {row[0]: row[1:] for row in rows(book["Pipeline"])}
    assert table["Won"][:2] == (1, 50000)
    assert table["Stage: Proposal"] == (1, 10000, 6000)
    assert table["Forecast for the period"][-1] == 50000
    assert "Pipeline" not in open_xlsx(report_xlsx(report, EN)).sheetnames  # no deals: no sheet
    assert "销售漏斗" in open_xlsx(report_xlsx(report, ZH, pipeline=_pipeline(), language="zh")).sheetnames
