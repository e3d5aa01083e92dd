"""What a file sent for import is, and its cells: CSV in any common encoding, XLSX, vCard.

Everything is refused with a :class:`FileRefused` whose ``reason_code`` the handlers
translate: an empty file, one over :data:`MAX_FILE_BYTES`, a binary file renamed ``.csv``,
a damaged workbook, a format we do not read. Cells come back as text, stripped; a
workbook's formulas are read as the formula's text (``openpyxl`` without ``data_only``),
never evaluated.

Encodings, as :func:`decode` tells them: a BOM decides first (UTF-8 with BOM, UTF-16 LE/BE:
Excel's "Unicode text"), then strict UTF-8, then charset-normalizer's best guess, where
GB2312 / GBK / CP936 all read as GB18030, the superset that Chinese Excel saves.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time

MAX_FILE_BYTES = 20 * 1024 * 1024  # what a bot may download from Telegram
MAX_ROWS = 50_000
MAX_COLUMNS = 200
MAX_CELL = 5_000
KINDS = ("csv", "xlsx", "vcf")
_CSV_SUFFIXES = (".csv", ".txt", ".tsv")
_XLSX_SUFFIXES = (".xlsx", ".xlsm")
_VCF_SUFFIXES = (".vcf", ".vcard")
_GB = {"gb2312", "gbk", "gb18030", "cp936", "hz", "big5"}  # big5 is a guess on short GBK texts


class FileRefused(ValueError):
    """A file that cannot be imported; ``reason_code`` (``import.*``) with ``params``."""

    def __init__(self, reason_code: str, **params: object) -> None:
        super().__init__(f"{reason_code} {params}" if params else reason_code)
        self.reason_code = reason_code
        self.params = params


@dataclass
class Sheet:
    """One table of text cells (a CSV, a worksheet, the cards of a vCard file)."""

    name: str
    rows: list[list[str]] = field(default_factory=list)


@dataclass
class ParsedFile:
    kind: str  # csv | xlsx | vcf
    encoding: str | None  # as shown: "UTF-8", "UTF-8 (BOM)", "GB18030", "UTF-16"; None for XLSX
    sheets: list[Sheet]


def file_kind(name: str, data: bytes) -> str:
    lowered = name.lower()
    if lowered.endswith(_XLSX_SUFFIXES):
        return "xlsx"
    if lowered.endswith(_VCF_SUFFIXES):
        return "vcf"
    if lowered.endswith(_CSV_SUFFIXES):
        return "csv"
    if lowered.endswith((".xls", ".numbers", ".ods")):
        raise FileRefused("import.old_excel")
    if data.startswith(b"PK\x03\x04"):
        return "xlsx"
    if b"BEGIN:VCARD" in data[:200].upper():
        return "vcf"
    raise FileRefused("import.unsupported")


def check_size(size: int | None) -> None:
    """Refuse by the size Telegram reports, before anything is downloaded."""
    if size is not None and size > MAX_FILE_BYTES:
        raise FileRefused("import.too_large", max_mb=MAX_FILE_BYTES // (1024 * 1024),
                          size_mb=round(size / (1024 * 1024), 1))


WorkbookReader = Callable[[bytes], list[Sheet]]


def read_file(name: str, data: bytes, *, read_workbook: WorkbookReader | None = None) -> ParsedFile:
    """The file's sheets of text cells; :class:`FileRefused` when it cannot be imported.

    ``read_workbook`` reads an XLSX (``bot.workbooks.read_xlsx``: openpyxl stays out of the
    domain); without one a workbook is refused as unsupported.
    """
    check_size(len(data))
    if not data.strip():
        raise FileRefused("import.empty")
    kind = file_kind(name, data)
    if kind == "xlsx":
        if read_workbook is None:
            raise FileRefused("import.unsupported")
        if not data.startswith(b"PK\x03\x04"):
            raise FileRefused("import.damaged")
        sheets = read_workbook(data)
        encoding = None
    else:
        text, encoding = decode(data)
        if kind == "vcf" or (kind == "csv" and "BEGIN:VCARD" in text[:200].upper()):
            from bot.domain.imports.vcard import parse_vcards

            kind = "vcf"
            sheets = [parse_vcards(text)]
        else:
            sheets = [_read_csv(text, name)]
    sheets = [s for s in sheets if any(any(c for c in row) for row in s.rows)]
    if not sheets:
        raise FileRefused("import.empty")
    return ParsedFile(kind, encoding, sheets)


# ------------------------------------------------------------------------- text

def decode(data: bytes) -> tuple[str, str]:
    """The text of a CSV/vCard file and the encoding found, or ``import.binary``."""
    for bom, codec, shown in ((codecs.BOM_UTF8, "utf-8-sig", "UTF-8 (BOM)"),
                              (codecs.BOM_UTF16_LE, "utf-16", "UTF-16"),
                              (codecs.BOM_UTF16_BE, "utf-16", "UTF-16")):
        if data.startswith(bom):
            return _checked(_decode(data, codec), shown)
    if b"\x00" in data[:4096]:
        utf16 = _utf16_without_bom(data)
        if utf16 is None:
            raise FileRefused("import.binary")
        return _checked(utf16, "UTF-16")
    try:
        return _checked(data.decode("utf-8"), "UTF-8")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    sample = data[:65_536]
    if len(data) > len(sample) and b"\n" in sample:  # whole lines: a cut character misleads the guess
        sample = sample[:sample.rindex(b"\n") + 1]
    best = from_bytes(sample).best()
    if best is None:  # no confident guess: the commonest legacy encoding here, if it reads cleanly
        try:
            return _checked(data.decode("gb18030"), "GB18030")
        except UnicodeDecodeError:
            raise FileRefused("import.binary") from None
    codec = best.encoding.lower().replace("_", "")
    if codec in _GB or codec.startswith("gb"):
        return _checked(_decode(data, "gb18030"), "GB18030")
    return _checked(_decode(data, best.encoding), best.encoding.upper().replace("_", "-"))


def _decode(data: bytes, codec: str) -> str:
    try:
        return data.decode(codec)
    except (UnicodeDecodeError, LookupError):
        raise FileRefused("import.binary") from None


def _utf16_without_bom(data: bytes) -> str | None:
    sample = data[:4096]
    even, odd = sample[0::2].count(0), sample[1::2].count(0)
    codec = "utf-16-le" if odd > even * 4 else "utf-16-be" if even > odd * 4 else None
    if codec is None:
        return None
    try:
        return data.decode(codec)
    except UnicodeDecodeError:
        return None


def _checked(text: str, encoding: str) -> tuple[str, str]:
    """Text with control characters (other than tabs and line ends) is a binary file."""
    sample = text[:20_000]
    controls = sum(1 for ch in sample if ch not in "\t\r\n" and unicodedata.category(ch) in ("Cc", "Cs", "Co"))
    if controls > max(2, len(sample) // 200) or "\ufffd" in sample:
        raise FileRefused("import.binary")
    return text.lstrip("\ufeff"), encoding


def _read_csv(text: str, name: str) -> Sheet:
    sample = text[:10_000]
    try:
        delimiter = csv.Sniffer().sniff(sample, delimiters=",\t;|").delimiter
    except csv.Error:
        delimiter = "\t" if name.lower().endswith(".tsv") or sample.count("\t") > sample.count(",") else ","
    rows: list[list[str]] = []
    try:
        for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter):
            rows.append(row_cells(row))
            if len(rows) > MAX_ROWS + 20:
                raise FileRefused("import.too_many_rows", max=MAX_ROWS)
    except csv.Error:
        raise FileRefused("import.damaged") from None
    return Sheet(name.rsplit("/", 1)[-1], rows)


def row_cells(cells: list[object]) -> list[str]:
    if len(cells) > MAX_COLUMNS:
        cells = cells[:MAX_COLUMNS]
    row = [cell_text(c) for c in cells]
    while row and not row[-1]:
        row.pop()
    return row


def cell_text(value: object) -> str:
    """A cell as text: numbers without a spurious ``.0`` (phones saved as numbers), dates in ISO."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e16 else repr(value)
    text = str(value).strip()
    if text[:1] == "'" and text[1:2] in _FORMULA_START:  # '=… : a spreadsheet's "this is text"
        text = text[1:]
    return text[:MAX_CELL]


_FORMULA_START = ("=", "+", "-", "@")
_NUMBER = re.compile(r"[+-]?[\d\s().-]+")


def escape_formula(text: str) -> str:
    """A cell written to a CSV someone opens in Excel: a formula-looking text gets a leading ``'``
    (shown as text, never run); a signed number or phone (+86 138…) stays as it is.
    :func:`cell_text` takes the ``'`` off again when the file comes back."""
    if text[:1] in ("=", "@", "\t", "\r") or (text[:1] in ("+", "-") and not _NUMBER.fullmatch(text)):
        return "'" + text
    return text
