"""Importing customers from a spreadsheet or an address book: plain functions, no I/O.

- :mod:`.files`    what a file is (CSV / XLSX / vCard), its encoding, its sheets of cells;
- :mod:`.vcard`    vCard 2.1 / 3.0 / 4.0 as phones export them, into a sheet;
- :mod:`.mapping`  which column is which card field (Chinese and English headers), where the
                   header row is;
- :mod:`.rows`     one row into a card draft and a purchase, or the reasons it cannot be;
                   duplicates within the file.

Cells are always text: a cell starting with ``= + - @`` (a spreadsheet formula) is kept
as the literal text it is and never evaluated.
"""

from __future__ import annotations

from bot.domain.imports.files import MAX_FILE_BYTES, FileRefused, ParsedFile, Sheet, read_file
from bot.domain.imports.mapping import IGNORE, NOTE, TARGETS, Mapping, find_header, guess_mapping
from bot.domain.imports.rows import RowResult, convert_row, file_duplicates

__all__ = [
    "IGNORE", "MAX_FILE_BYTES", "NOTE", "TARGETS", "FileRefused", "Mapping", "ParsedFile", "RowResult",
    "Sheet", "convert_row", "file_duplicates", "find_header", "guess_mapping", "read_file",
]
