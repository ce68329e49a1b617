"""Read an uploaded file or pasted text into a table of text cells.

The first import stage: a file in, a polars DataFrame whose columns are all
``pl.String`` out, plus what was detected about the source. Cell text is kept as
the customer typed it (whitespace included: a later stage trims it and reports
the correction); only workbook numbers, dates and booleans are written out as
text here, because a workbook stores them as typed values. An empty cell is null.

Hostile files are refused before they can take much memory or time. Every
refusal is an ``InvalidInput`` with one of these codes:

    96001  the upload is larger than ``max_bytes``
    96002  more data rows than ``max_rows`` (or more lines than twice that)
    96003  more columns than ``max_columns``
    96004  a cell (or a whole line) is longer than ``max_cell_chars`` allows
    96005  the file type is not supported
    96006  the file cannot be read: binary, damaged, disguised, a zip bomb, or a
           workbook too large to read within ``max_workbook_bytes``
    96007  the workbook has more than one sheet with data
    96008  there are no data rows
    96009  a row has more or fewer cells than the header
    96010  two header cells carry the same name
    96011  more pasted lines than ``max_pasted_rows``

Nothing is read whole before the checks that can refuse it: an upload is read
from a file (a path, or a seekable file object such as the temporary file an
upload was spooled to), its size is taken from the file, text lines are measured
a block at a time, and a workbook is unpacked and counted before it is read.
"""

from __future__ import annotations

import io
import pathlib
from collections.abc import Iterator
from typing import BinaryIO

import polars as pl

from patron.codes import imports
from patron.imports.read.blocks import TextBlocks, read_text_blocks
from patron.imports.read.table import MB, ReadLimits, SourceTable, check_size, finish_table
from patron.imports.read.text import (
    check_lines,
    check_text,
    line_frame,
    most_lines,
    read_text_file,
    sniff_delimiter,
    text_grid,
    unify_newlines,
)
from patron.imports.read.workbook import check_zipped_workbook, read_workbook
from patron.kit.errors import InvalidInput

__all__ = [
    "ReadLimits",
    "SourceTable",
    "read_pasted",
    "read_path",
    "read_stream",
    "read_upload",
]

_TEXT_EXTENSIONS = frozenset({".csv", ".txt", ".tsv"})
_WORKBOOK_EXTENSIONS = {".xlsx": "xlsx", ".xls": "xls", ".ods": "ods"}
_ZIP_MAGIC = b"PK\x03\x04"
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0"


def read_upload(data: bytes, filename: str, limits: ReadLimits) -> SourceTable:
    """Read a CSV/TSV/TXT, XLSX, XLS or ODS file held in memory into text cells."""
    return read_stream(io.BytesIO(data), filename, limits)


def read_stream(
    stream: BinaryIO,
    filename: str,
    limits: ReadLimits,
    *,
    path: pathlib.Path | None = None,
    chunk_rows: int | None = None,
) -> SourceTable:
    """Read an uploaded file from a seekable binary file object (``path``: its name on disk,
    when it has one); its type and size are checked before it is read.

    With ``chunk_rows``, a text file of more rows than that is read a block of lines at a
    time (:mod:`.blocks`): the table's ``parts`` read the stream again, so it must stay open
    until they are stored."""
    declared = _declared_kind(filename)
    size = stream.seek(0, io.SEEK_END)
    check_size(size, limits)
    stream.seek(0)
    kind = _actual_kind(stream.read(8), declared, filename)
    stream.seek(0)
    if kind == "text" and chunk_rows and not _at_most_lines(stream, chunk_rows + 1):
        return _read_in_blocks(stream, limits, chunk_rows, path)
    if kind == "text":
        check_lines(stream, limits)
        return read_text_file(stream.read(), limits)
    if kind == "zip":
        kind = check_zipped_workbook(stream, size, limits)
    return read_workbook(stream, path, kind, filename, limits)


def _at_most_lines(stream: BinaryIO, lines: int) -> bool:
    """Whether the file has at most ``lines`` lines, so at most a header and ``lines`` - 1
    rows: it is read whole, in one pass. Line ends are counted as bytes, CR and LF alike
    (UTF-16 may count a character's byte too): never fewer than the lines there are."""
    ends = 0
    try:
        while raw := stream.read(MB):
            ends += raw.count(b"\n") + raw.count(b"\r")
            if ends >= lines:
                return False
    finally:
        stream.seek(0)
    return True


def _read_in_blocks(
    stream: BinaryIO, limits: ReadLimits, chunk_rows: int, path: pathlib.Path | None
) -> SourceTable:
    blocks = read_text_blocks(stream, limits, chunk_rows)
    if blocks.row_count <= chunk_rows:  # one chunk: held as the whole read holds it
        frame = pl.concat(list(blocks.frames()))
        return SourceTable(frame, blocks.headers, "csv", blocks.delimiter, blocks.encoding)
    columns = pl.DataFrame(schema=dict.fromkeys(blocks.headers, pl.String))
    return SourceTable(
        columns,
        blocks.headers,
        "csv",
        blocks.delimiter,
        blocks.encoding,
        parts=blocks.frames if path is None else lambda: _read_again(path, blocks),
        part_rows=blocks.row_count,
    )


def _read_again(path: pathlib.Path, blocks: TextBlocks) -> Iterator[pl.DataFrame]:
    """The rows of a file on disk, opened again (:func:`read_path` closed it)."""
    with path.open("rb") as stream:
        yield from blocks.frames(stream)


def read_path(
    path: pathlib.Path, limits: ReadLimits, *, chunk_rows: int | None = None
) -> SourceTable:
    """Read a file from disk; its type and size are checked before it is read (``chunk_rows``:
    as :func:`read_stream`; the parts open the file again)."""
    _declared_kind(path.name)
    check_size(path.stat().st_size, limits)
    with path.open("rb") as stream:
        return read_stream(stream, path.name, limits, path=path, chunk_rows=chunk_rows)


def read_pasted(text: str, limits: ReadLimits) -> SourceTable:
    """Read pasted cells (no header row): tab-separated as spreadsheets copy them, or CSV."""
    if len(text) > limits.max_bytes:
        check_size(len(text.encode()), limits)
    text = unify_newlines(text)
    check_text(text)
    too_many = InvalidInput(
        imports.TOO_MANY_PASTED_ROWS,
        f"at most {limits.max_pasted_rows:,} rows can be pasted; upload a file for more",
    )
    if text.count("\n") > most_lines(limits.max_pasted_rows):
        raise too_many  # counted before a frame of its lines is built
    payload = text.encode()
    lines = line_frame(payload)
    filled = lines.filter(pl.col("text").str.strip_chars() != "")
    if filled.height == 0:
        raise InvalidInput(
            imports.NO_DATA, "nothing was pasted: copy the cells and paste them again"
        )
    if filled.height > limits.max_pasted_rows:
        raise too_many
    first = str(filled["text"][0])
    delimiter = "\t" if "\t" in first else sniff_delimiter(text)
    grid = text_grid(text, lines, delimiter, limits, header=False, payload=payload)
    frame, headers = finish_table(grid, limits, header=False)
    return SourceTable(frame, headers, "pasted", delimiter, None)


# -- format and size -------------------------------------------------------------------


def _declared_kind(filename: str) -> str:
    suffix = pathlib.PurePath(filename).suffix.lower()
    if suffix in _TEXT_EXTENSIONS:
        return "text"
    if suffix in _WORKBOOK_EXTENSIONS:
        return _WORKBOOK_EXTENSIONS[suffix]
    what = f"'{suffix}'" if suffix else f"(the name '{filename}' has no extension)"
    raise InvalidInput(
        imports.UNSUPPORTED_FILE,
        f"unsupported file type {what}: upload a CSV, TSV, XLSX, XLS or ODS file",
    )


def _actual_kind(data: bytes, declared: str, filename: str) -> str:
    """The format the first bytes say the file holds; the name alone is not trusted."""
    if data.startswith(_OLE2_MAGIC):
        return "xls"  # Excel 97-2003 (or an encrypted workbook, refused when opened)
    if data.startswith(_ZIP_MAGIC):
        if declared == "text":
            raise InvalidInput(
                imports.UNREADABLE_FILE,
                f"'{filename}' is a ZIP archive (perhaps an Excel workbook), not text: "
                "give it its real extension (.xlsx or .ods) or export the data as CSV",
            )
        return "zip"
    if declared != "text":
        raise InvalidInput(
            imports.UNREADABLE_FILE,
            f"'{filename}' is not a valid {declared.upper()} workbook (it may be a CSV file "
            "or a web page with the wrong extension): open it in a spreadsheet program "
            "and save it as XLSX or CSV",
        )
    return "text"
