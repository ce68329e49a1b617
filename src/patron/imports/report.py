"""The downloadable import report: the file as uploaded, plus each row's outcome.

The report holds the original columns in file order followed by ``status``,
``errors``, ``auto_corrections`` and ``customer_id``. It is built and neutralized
with polars expressions only, so a file of a million rows costs no Python loop
until the XLSX writer, which takes cells one at a time.

Every cell is text, and a cell a spreadsheet would evaluate (one starting with
``= + - @``, a tab or a carriage return) gets a leading apostrophe, as the OWASP
guidance on CSV injection advises: the uploaded file is untrusted, and the report
is opened by people in Excel.

The header row is neutralized too, so the names can collide: a file with the
headers ``=x`` and ``'=x`` would show ``'=x`` twice. A header that needs no
apostrophe keeps its name; one that got an apostrophe and meets a taken name is
numbered (``'=x (2)``); the four report columns come last and step aside with
:data:`COLLISION_SUFFIX`. Every column of a report therefore has its own name, in
file order, whatever the headers.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from typing import IO

import polars as pl
import xlsxwriter

REPORT_COLUMNS = ("status", "errors", "auto_corrections", "customer_id")
STATUSES = ("inserted", "updated", "skipped", "rejected")
#: Appended to a report column's name when the file already has a column of that name.
COLLISION_SUFFIX = " (import)"
#: Joins several errors or corrections in one cell.
SEPARATOR = "; "
#: The characters that make a spreadsheet treat a cell as a formula.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_TRIGGER_PATTERN = r"^[=+\-@\t\r]"
SHEET_NAME = "report"
#: Excel's limit, header row included.
XLSX_MAX_ROWS = 1_048_576
_MIN_WIDTH = 8
_MAX_WIDTH = 60


def header_names(columns: Sequence[str]) -> list[str]:
    """``columns`` as the report's header row shows them: neutralized and all distinct.

    Names that need no apostrophe are kept as they are (they are unique already, as
    column names); a neutralized name that meets a taken one gets the first free
    number, ``'=x (2)``, ``'=x (3)``...
    """
    taken = {name for name in columns if not name.startswith(FORMULA_TRIGGERS)}
    names = []
    for name in columns:
        if not name.startswith(FORMULA_TRIGGERS):
            names.append(name)
            continue
        shown, number = f"'{name}", 1
        while shown in taken:
            number += 1
            shown = f"'{name} ({number})"
        taken.add(shown)
        names.append(shown)
    return names


def report_column_names(source_columns: Sequence[str]) -> list[str]:
    """The names the four report columns get beside ``source_columns`` (as shown)."""
    taken = set(source_columns)
    names = []
    for name in REPORT_COLUMNS:
        while name in taken:
            name += COLLISION_SUFFIX
        taken.add(name)
        names.append(name)
    return names


def build_report(source: pl.DataFrame, outcomes: pl.DataFrame, first_row: int = 0) -> pl.DataFrame:
    """The report frame: ``source``'s columns and the outcome columns, in file order.

    ``source`` holds the file's rows as text, in file order (a part of the file from its
    row ``first_row``, for a file stored in parts). ``outcomes`` holds one
    row per source row, in any order: ``row`` (0-based index into the file),
    ``status``, ``errors`` and ``auto_corrections`` (lists of text) and
    ``customer_id`` (nullable). Every cell of the result is text and neutralized;
    a missing value is the empty string.
    """
    ordered = outcomes.sort("row")
    covers_every_row = ordered.height == source.height and bool(
        ordered.select(
            pl.col("row")
            .eq_missing(pl.int_range(first_row, first_row + pl.len(), dtype=pl.Int64))
            .all()
        ).item()
    )
    if not covers_every_row:
        raise ValueError(
            f"the outcomes must name each of the {source.height} source rows exactly once"
        )
    names = header_names(source.columns)
    shown = source.select(
        pl.col(name).cast(pl.String).alias(shown)
        for name, shown in zip(source.columns, names, strict=True)
    )
    status, errors, corrections, customer_id = report_column_names(names)
    added = ordered.select(
        pl.col("status").cast(pl.String).alias(status),
        pl.col("errors").list.join(SEPARATOR).alias(errors),
        pl.col("auto_corrections").list.join(SEPARATOR).alias(corrections),
        pl.col("customer_id").cast(pl.String).alias(customer_id),
    )
    report = pl.concat([shown, added], how="horizontal").with_columns(pl.all().fill_null(""))
    return neutralize(report)


def neutralize(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with an apostrophe before every text cell a spreadsheet would evaluate.

    Column names are neutralized too, since they become the header row, and stay
    distinct (:func:`header_names`). Columns that are not text are left as they are:
    a number is never a formula.
    """
    text_columns = [name for name, dtype in frame.schema.items() if dtype == pl.String]
    neutralized = frame.with_columns(
        pl.when(pl.col(name).str.contains(_TRIGGER_PATTERN))
        .then(pl.lit("'") + pl.col(name))
        .otherwise(pl.col(name))
        .alias(name)
        for name in text_columns
    )
    names = header_names(frame.columns)
    if names == frame.columns:
        return neutralized
    return neutralized.select(
        pl.col(name).alias(shown) for name, shown in zip(frame.columns, names, strict=True)
    )


def report_csv(frame: pl.DataFrame, *, first: bool = True) -> bytes:
    """The report as CSV: UTF-8 with a BOM (so Excel reads it as UTF-8), CRLF line ends.

    A report written in parts (a file stored in parts) gives each part's rows in turn; only
    the ``first`` part begins with the BOM and the header row."""
    text = neutralize(frame).write_csv(
        include_bom=first,
        include_header=first,
        line_terminator="\r\n",
        quote_style="necessary",
    )
    return text.encode("utf-8")


def report_xlsx(frame: pl.DataFrame) -> bytes:
    """The report as an XLSX workbook: one sheet, bold header, every cell a string
    (:func:`write_report_xlsx` of the one frame)."""
    buffer = io.BytesIO()
    write_report_xlsx([frame], buffer)
    return buffer.getvalue()


def write_report_xlsx(parts: Iterable[pl.DataFrame], out: IO[bytes]) -> None:
    """Write the report, given as frames of consecutive rows (a file's stored parts), to
    ``out`` as an XLSX workbook: one sheet, bold header, every cell a string.

    Each cell goes through ``write_string`` and the workbook refuses every
    conversion, so ``00123`` and ``919900111111`` stay the text they were and no
    cell becomes a formula, a number or a link. Rows are flushed as they are
    written (``constant_memory``), so only one part is held at a time; the column widths
    (the longest value of each column over every part) are set after the rows, which the
    writer allows, and the workbook is written to ``out`` when it is closed, after the last
    part: a report too long for a sheet writes nothing.
    """
    workbook = xlsxwriter.Workbook(
        out,
        {
            "constant_memory": True,
            "strings_to_formulas": False,
            "strings_to_numbers": False,
            "strings_to_urls": False,
        },
    )
    sheet = workbook.add_worksheet(SHEET_NAME)
    bold = workbook.add_format({"bold": True})
    row = 0
    widths: list[int] = []
    for frame in parts:
        if row + frame.height + 1 > XLSX_MAX_ROWS:
            raise ValueError(
                f"an XLSX sheet holds {XLSX_MAX_ROWS - 1} rows, the report has "
                f"{'at least ' if row else ''}{row + frame.height}"
            )
        safe = neutralize(frame).with_columns(pl.all().cast(pl.String))
        if row == 0:
            for col, name in enumerate(safe.columns):
                sheet.write_string(0, col, name, bold)
            widths = [_width(safe, name) for name in safe.columns]
            sheet.freeze_panes(1, 0)
        else:
            widths = [max(w, _width(safe, n)) for w, n in zip(widths, safe.columns, strict=True)]
        for values in safe.iter_rows():
            row += 1
            for col, value in enumerate(values):
                # An empty cell is left blank rather than written as an empty string.
                if value:
                    sheet.write_string(row, col, value)
    for col, width in enumerate(widths):
        sheet.set_column(col, col, width)
    workbook.close()


def _width(frame: pl.DataFrame, name: str) -> int:
    """A column width that fits the header and most values, within sane bounds."""
    longest = frame.select(pl.col(name).str.len_chars().max()).item() or 0
    return max(_MIN_WIDTH, min(_MAX_WIDTH, max(len(name), int(longest)) + 2))


def summarize(outcomes: pl.DataFrame) -> dict[str, int]:
    """Counts of rows in total, per status, and auto-corrected (accepted with a correction)."""
    status = pl.col("status")
    corrected = (status != "rejected") & (pl.col("auto_corrections").list.len() > 0)
    counts = outcomes.select(
        pl.len().alias("total"),
        *((status == name).sum().alias(name) for name in STATUSES),
        corrected.fill_null(False).sum().alias("auto_corrected"),
    )
    return {name: int(value) for name, value in counts.row(0, named=True).items()}
