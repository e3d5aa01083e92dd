"""Reading import files: encodings, CSV / XLSX / vCard, the header row, the mapping, rows into drafts."""

from __future__ import annotations

import io
from datetime import date

import pytest
from openpyxl import Workbook

from bot.domain.card import InputContext
from bot.domain.dates import excel_serial_date
from bot.domain.imports import (
    FileRefused,
    convert_row,
    file_duplicates,
    find_header,
    guess_mapping,
    read_file,
)
from bot.domain.imports.files import MAX_FILE_BYTES, escape_formula
from bot.domain.imports.mapping import target_for, unknown_columns
from bot.domain.imports.vcard import parse_vcards
from bot.workbooks import read_xlsx

CTX = InputContext(phone_region="CN", today=date(2026, 3, 2))
TEXT = "姓名,手机,公司\n张伟,13800138000,腾讯科技有限公司\n"


@pytest.mark.parametrize(("data", "encoding"), [
    (TEXT.encode("utf-8"), "UTF-8"),
    (TEXT.encode("utf-8-sig"), "UTF-8 (BOM)"),
    (TEXT.encode("gbk"), "GB18030"),
    (TEXT.encode("gb18030"), "GB18030"),
    (TEXT.encode("utf-16"), "UTF-16"),  # Excel's "Unicode text" (with its BOM)
    (TEXT.encode("utf-16-le"), "UTF-16"),
    (TEXT.encode("utf-16-be"), "UTF-16"),
])
def test_the_encoding_is_found_and_said(data: bytes, encoding: str) -> None:
    parsed = read_file("c.csv", data)
    assert parsed.encoding == encoding
    assert parsed.sheets[0].rows == [["姓名", "手机", "公司"], ["张伟", "13800138000", "腾讯科技有限公司"]]


def test_a_longer_gbk_file_with_tabs_is_read() -> None:
    rows = "\n".join(f"客户{i}\t1380013{i:04d}\t上海市浦东新区{i}号" for i in range(50))
    parsed = read_file("客户.txt", f"客户名称\t联系电话\t地址\n{rows}\n".encode("gbk"))
    assert parsed.encoding == "GB18030" and parsed.sheets[0].rows[5] == ["客户4", "13800130004", "上海市浦东新区4号"]


@pytest.mark.parametrize(("name", "data", "code"), [
    ("a.csv", b"", "import.empty"),
    ("a.csv", b"  \r\n\r\n", "import.empty"),
    ("a.csv", "\ufeff".encode(), "import.empty"),
    ("a.csv", b",,,\n,,\n", "import.empty"),
    ("a.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4, "import.binary"),
    ("a.csv", bytes(range(1, 32)) * 50, "import.binary"),
    ("a.xlsx", b"not a zip", "import.damaged"),
    ("a.xlsx", b"PK\x03\x04broken", "import.damaged"),
    ("a.xls", b"\xd0\xcf\x11\xe0", "import.old_excel"),
    ("a.pdf", b"%PDF-1.4", "import.unsupported"),
])
def test_bad_files_are_refused_with_a_reason(name: str, data: bytes, code: str) -> None:
    with pytest.raises(FileRefused) as refused:
        read_file(name, data, read_workbook=read_xlsx)
    assert refused.value.reason_code == code


def test_a_file_over_the_limit_is_refused_by_its_size() -> None:
    with pytest.raises(FileRefused) as refused:
        read_file("big.csv", b"x" * (MAX_FILE_BYTES + 1))
    assert refused.value.reason_code == "import.too_large" and refused.value.params["max_mb"] == 20


def test_an_xlsx_with_several_sheets_keeps_each_and_formulas_as_text() -> None:
    book = Workbook()
    book.active.title = "Notes"
    book.active.append(["just a note"])
    customers = book.create_sheet("客户")
    customers.append(["姓名", "手机", "生日", "金额"])
    customers.append(["张伟", 13800138000, date(1990, 5, 3), "=SUM(1,2)"])
    book.create_sheet("Empty")
    data = io.BytesIO()
    book.save(data)
    parsed = read_file("book.xlsx", data.getvalue(), read_workbook=read_xlsx)
    assert parsed.kind == "xlsx" and parsed.encoding is None
    assert [s.name for s in parsed.sheets] == ["Notes", "客户"]
    assert parsed.sheets[1].rows[1] == ["张伟", "13800138000", "1990-05-03", "=SUM(1,2)"]


def test_without_a_workbook_reader_the_domain_refuses_xlsx() -> None:
    with pytest.raises(FileRefused):
        read_file("book.xlsx", b"PK\x03\x04")


def test_the_header_row_is_found_below_title_and_blank_rows() -> None:
    rows = [["2026 客户名单", "", ""], [], ["", "", ""], ["客户名称", "联系电话", "单位"], ["张伟", "1", "x"]]
    assert find_header(rows) == 3
    assert find_header([["a", "b"], ["c", "d"]]) == 0
    assert find_header([["Report"], ["Kunde", "Nummer"], ["x", "y"]]) == 1


@pytest.mark.parametrize(("header", "target"), [
    ("姓名", "name"), ("客户名称", "name"), ("Name", "name"), ("客户姓名", "name"),
    ("电话", "phones"), ("手机", "phones"), ("手机号码：", "phones"), ("联系电话", "phones"), ("Mobile", "phones"),
    ("Phone Number", "phones"), ("客户电话", "phones"), ("手机1", "phones"),
    ("公司", "company"), ("单位", "company"), ("Company", "company"), ("职位", "title"), ("Title", "title"),
    ("生日", "birthday"), ("Birthday", "birthday"), ("邮箱", "email"), ("E-mail", "email"),
    ("地址", "address"), ("Address", "address"), ("微信", "wechat"), ("WeChat ID", "wechat"),
    ("标签", "tags"), ("来源", "source"), ("备注", "notes"), ("Notes", "notes"),
    ("产品", "purchase.product"), ("金额", "purchase.amount"), ("购买日期", "purchase.date"),
    ("数量", "purchase.quantity"), ("导入问题", "ignore"), ("Import problem", "ignore"),
    ("爱好", None), ("Lieblingsfarbe", None),
])
def test_headers_in_chinese_and_english(header: str, target: str | None) -> None:
    assert target_for(header) == target


def test_the_guessed_mapping_keeps_unknown_columns_as_notes() -> None:
    header = ["姓名", "手机", "电话", "爱好", "", "姓名"]
    mapping = guess_mapping(header)
    assert mapping == ["name", "phones", "phones", "note", "ignore", "note"]
    assert unknown_columns(header, mapping) == [3]


def convert(cells: list[str], header: list[str]) -> tuple[dict, dict | None, list]:
    result = convert_row(1, cells, header, guess_mapping(header), CTX)
    return result.draft, result.purchase, [(c, code) for c, code, _p in result.errors]


@pytest.mark.parametrize(("text", "expected"), [
    ("1990/5/3", (1990, 5, 3, "solar")), ("1990年5月3日", (1990, 5, 3, "solar")), ("1990-05-03", (1990, 5, 3, "solar")),
    ("32996", (1990, 5, 3, "solar")), ("农历三月初五", (None, 3, 5, "lunar")), ("5月3日", (None, 5, 3, "solar")),
    ("May 3 1990", (1990, 5, 3, "solar")),
])
def test_birthdays_in_the_forms_spreadsheets_hold(text: str, expected: tuple) -> None:
    draft, _purchase, errors = convert(["张伟", text], ["姓名", "生日"])
    assert not errors
    birthday = draft["birthday"]
    assert (birthday["year"], birthday["month"], birthday["day"], birthday["calendar"]) == expected


def test_excel_serial_dates() -> None:
    assert excel_serial_date("32996") == date(1990, 5, 3)
    assert excel_serial_date("45000.0") == date(2023, 3, 15)
    assert excel_serial_date("abc") is None and excel_serial_date("30") is None


@pytest.mark.parametrize("phone", ["138 0013 8000", "138-0013-8000", "+86 138 0013 8000", "008613800138000",
                                   "(+86)13800138000", "１３８００１３８０００"])
def test_phones_in_any_format(phone: str) -> None:
    draft, _p, errors = convert(["张伟", phone], ["姓名", "手机"])
    assert not errors and draft["phones"] == ["+8613800138000"]


def test_several_phone_columns_and_numbers_in_one_cell() -> None:
    draft, _p, errors = convert(["张伟", "13800138000 / 13900139000", "021-61234567"], ["姓名", "手机", "电话"])
    assert not errors and draft["phones"] == ["+8613800138000", "+8613900139000", "+862161234567"]


def test_invalid_fields_give_their_reasons() -> None:
    _d, _p, errors = convert(["", "123", "not-an-email", "1990/2/30"], ["姓名", "手机", "邮箱", "生日"])
    assert errors == [("name", "import.no_name"), ("email", "email.invalid"), ("birthday", "date.invalid"),
                      ("phones", "phone.too_short")]


def test_formula_cells_are_kept_as_literal_text() -> None:
    draft, _p, errors = convert(["=cmd|' /C calc'!A0", "13800138000", "=HYPERLINK(\"http://evil\")", "@SUM(1)"],
                                ["姓名", "手机", "备注", "Extra"])
    assert not errors
    assert draft["name"] == "=cmd|' /C calc'!A0"
    assert draft["notes"] == "=HYPERLINK(\"http://evil\")\nExtra: @SUM(1)"
    assert escape_formula(draft["name"]).startswith("'=") and escape_formula("+86 138 0013 8000")[0] == "+"


def test_a_purchase_and_choice_columns() -> None:
    header = ["姓名", "产品", "金额", "购买日期", "数量", "来源", "性别"]
    draft, purchase, errors = convert(["张伟", "茶叶", "1.2万", "2026/1/5", "3件", "转介绍", "男"], header)
    assert not errors
    assert purchase == {"product": "茶叶", "amount": "12000.00", "currency": None, "purchased_on": "2026-01-05",
                        "quantity": 3}
    assert draft["source"] == "referral" and draft["gender"] == "male"
    draft, _purchase, _e = convert(["李娜", "", "", "", "", "抖音", ""], header)
    assert draft["notes"] == "来源: 抖音", "an unknown source is kept in the notes"


def test_duplicates_within_the_file() -> None:
    header = ["姓名", "手机", "邮箱", "公司"]
    rows = [["张伟", "13800138000", "", "腾讯"], ["张 伟", "", "", "腾讯有限公司"], ["李娜", "+8613800138000", "", ""],
            ["Anna", "", "a@x.com", ""], ["Anne", "", "A@X.com", ""], ["王五", "13900139000", "", ""], ["", "", "", ""]]
    results = [convert_row(i + 1, r, header, guess_mapping(header), CTX) for i, r in enumerate(rows)]
    assert results[-1].blank
    assert file_duplicates(results) == {2: 1, 3: 1, 5: 4}


VCF = (
    "BEGIN:VCARD\r\nVERSION:2.1\r\n"
    "N;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:=E7=8E=8B;=E5=B0=8F=E6=98=8E;;;\r\n"
    "FN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:=E7=8E=8B=E5=B0=8F=E6=98=8E\r\n"
    "TEL;CELL;PREF:138-0013-8000\r\nTEL;HOME:021-6123-4567\r\nTEL;CELL:138-0013-8000\r\n"
    "NOTE;ENCODING=QUOTED-PRINTABLE;CHARSET=UTF-8:=E8=80=81=E5=AE=A2=E6=88=B7=\r\n=EF=BC=8C=E7=88=B1=E5=96=9D=E8=8C=B6\r\n"
    "END:VCARD\r\n"
    "BEGIN:VCARD\r\nVERSION:3.0\r\nN:Smith;Anna;;Dr.;\r\nORG:ACME\\, Inc.;Sales\r\nTITLE:Buyer\r\n"
    "EMAIL;TYPE=INTERNET:anna@example.com\r\nitem1.TEL;TYPE=CELL:+1 415 555\r\n 2671\r\n"
    "ADR;TYPE=WORK:;;1 Main St;Springfield;;12345;USA\r\nBDAY:1985-07-14\r\nEND:VCARD\r\n"
    "BEGIN:VCARD\r\nVERSION:4.0\r\nN:张;三;;;\r\nTEL;VALUE=uri:tel:+86-139-0013-9000\r\nEND:VCARD\r\n"
)


def test_a_vcard_as_phones_export_it() -> None:
    sheet = parse_vcards(VCF)
    header, *rows = sheet.rows
    assert header[:2] == ["Name", "Phone"]
    assert rows[0][:2] == ["王小明", "138-0013-8000, 021-6123-4567"] and rows[0][7] == "老客户，爱喝茶"
    assert rows[1][:7] == ["Dr. Anna Smith", "+1 415 5552671", "ACME, Inc.", "Buyer", "anna@example.com",
                           "1 Main St Springfield 12345 USA", "1985-07-14"]
    assert rows[2][:2] == ["张三", "+86-139-0013-9000"]
    parsed = read_file("contacts.vcf", VCF.encode("utf-8"))
    mapping = guess_mapping(parsed.sheets[0].rows[0])
    drafts = [convert_row(i, r, header, mapping, CTX) for i, r in enumerate(rows, start=1)]
    assert [d.errors for d in drafts] == [[], [], []]
    assert drafts[0].draft["phones"] == ["+8613800138000", "+862161234567"]
    assert drafts[1].draft["birthday"]["year"] == 1985 and drafts[1].draft["company"] == "ACME, Inc."


def test_a_vcard_in_gbk_and_a_vcard_renamed_csv() -> None:
    data = "BEGIN:VCARD\nVERSION:3.0\nFN:李四\nTEL:13700137000\nEND:VCARD\n".encode("gbk")
    parsed = read_file("contacts.csv", data)
    assert parsed.kind == "vcf" and parsed.sheets[0].rows[1][:2] == ["李四", "13700137000"]
