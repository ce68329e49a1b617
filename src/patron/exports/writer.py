"""Writing an export's file a page at a time: CSV or XLSX, in flat memory.

Each page of rows becomes a small polars frame of text, neutralized by the import
report's :func:`patron.imports.report.neutralize` (a cell starting with ``= + - @``,
a tab or a carriage return gets a leading apostrophe: the file is opened in
spreadsheets, and the store holds what customers and files typed). CSV pages are
appended to the file as they come (UTF-8 with a BOM, CRLF, as the import report);
XLSX rows go through xlsxwriter's ``constant_memory`` mode, which flushes each row
to disk, every cell a string (no cell becomes a formula, a number or a link).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO, Protocol

import polars as pl
import xlsxwriter

from patron.codes import exports
from patron.imports.report import XLSX_MAX_ROWS, header_names, neutralize
from patron.kit.errors import InvalidInput

FORMATS = ("csv", "xlsx")
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
SHEET_NAME = "profiles"
#: Column width in the XLSX sheet (a page at a time cannot measure the whole column).
XLSX_WIDTH = 18

Rows = Sequence[Sequence[str | None]]


def checked_format(raw: str | None) -> str:
    """``csv`` (the default) or ``xlsx``."""
    chosen = (raw or "csv").strip().lower() or "csv"
    if chosen not in FORMATS:
        raise InvalidInput(exports.BAD_FORMAT, f"format must be csv or xlsx, not {raw!r}")
    return chosen


def _page(columns: Sequence[str], rows: Rows) -> pl.DataFrame:
    return pl.DataFrame(
        [list(row) for row in rows],
        schema={f"c{i}": pl.String for i in range(len(columns))},
        orient="row",
    )


def safe_page(columns: Sequence[str], rows: Rows) -> pl.DataFrame:
    """A page of rows as a frame of text, every cell a spreadsheet would evaluate neutralized."""
    return neutralize(_page(columns, rows))


class Writer(Protocol):
    rows: int

    def write(self, rows: Rows) -> None: ...

    def write_frame(self, frame: pl.DataFrame) -> None: ...

    def close(self) -> None: ...


class CsvWriter:
    """CSV into a binary file: the header, then each page as it is read."""

    def __init__(self, file: BinaryIO, columns: Sequence[str]) -> None:
        self.file = file
        self.columns = list(columns)
        self.rows = 0
        header = pl.DataFrame(schema=dict.fromkeys(header_names(self.columns), pl.String))
        file.write(b"\xef\xbb\xbf")  # a BOM: Excel then reads the file as UTF-8
        header.write_csv(file, line_terminator="\r\n", quote_style="necessary")

    def write(self, rows: Rows) -> None:
        if rows:
            self.write_frame(_page(self.columns, rows))

    def write_frame(self, frame: pl.DataFrame) -> None:
        """A frame of text (columns in the writer's order; null for an empty cell)."""
        if frame.is_empty():
            return
        neutralize(frame).write_csv(
            self.file, include_header=False, line_terminator="\r\n", quote_style="necessary"
        )
        self.rows += frame.height

    def close(self) -> None:
        self.file.flush()


class XlsxWriter:
    """An XLSX workbook at ``path``: one sheet, bold header, rows flushed as written."""

    def __init__(self, path: Path, columns: Sequence[str]) -> None:
        self.columns = list(columns)
        self.rows = 0
        self.workbook = xlsxwriter.Workbook(
            str(path),
            {
                "constant_memory": True,
                "strings_to_formulas": False,
                "strings_to_numbers": False,
                "strings_to_urls": False,
                "tmpdir": str(path.parent),
            },
        )
        self.sheet = self.workbook.add_worksheet(SHEET_NAME)
        bold = self.workbook.add_format({"bold": True})
        for col, name in enumerate(header_names(self.columns)):
            self.sheet.write_string(0, col, name, bold)
        self.sheet.set_column(0, max(0, len(self.columns) - 1), XLSX_WIDTH)
        self.sheet.freeze_panes(1, 0)

    def write(self, rows: Rows) -> None:
        if rows:
            self.write_frame(_page(self.columns, rows))

    def write_frame(self, frame: pl.DataFrame) -> None:
        """A frame of text (columns in the writer's order; null for an empty cell)."""
        if frame.is_empty():
            return
        if self.rows + frame.height + 1 > XLSX_MAX_ROWS:
            raise InvalidInput(
                exports.TOO_MANY_ROWS,
                f"an XLSX sheet holds {XLSX_MAX_ROWS - 1:,} rows and this export has more: "
                "export it as CSV",
            )
        sheet = self.sheet
        for values in neutralize(frame).iter_rows():
            self.rows += 1
            for col, value in enumerate(values):
                if value:  # an empty cell stays blank
                    sheet.write_string(self.rows, col, value)

    def close(self) -> None:
        self.workbook.close()
