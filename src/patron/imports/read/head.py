"""The header of a file, read from its start only: what mapping suggestions need.

A text file's first :data:`HEAD_BYTES` are read, cut to whole lines, and parsed with the csv
module up to :data:`HEAD_ROWS` data rows after the header; the rest of the file is never
read. Its names are the whole read's (:func:`patron.imports.read.read_path`): decoded and
sniffed the same way (the encoding judged on the bytes read: a file valid UTF-8 there and not
further on is read as Windows-1252 whole), stripped, an empty name ``column_<n>``, a trailing
empty header cell with no value under it (in the rows read) dropped, and refused as the whole
read refuses a header (codes 96003, 96004, 96010; 96006 for what is not text, 96008 when no
data row follows it). What the rest of the file holds (a ragged row, too many rows, a long
cell) is the import's to refuse, not the suggestion's. A workbook is read whole (a sheet
holds 1,048,576 rows at most).
"""

from __future__ import annotations

import codecs
import csv
import io
import pathlib

from patron.imports.read import _actual_kind, _declared_kind, read_stream
from patron.imports.read.table import (
    ReadLimits,
    _cell_too_long,
    _check_unique,
    check_size,
    no_data,
    too_many_columns,
)
from patron.imports.read.text import (
    _bomless_utf16,
    _decode,
    _is_blank,
    check_text,
    sniff_delimiter,
    unify_newlines,
)

#: How much of a text file's start is read (its header and first rows).
HEAD_BYTES = 1024 * 1024
#: The data rows read after the header, at most.
HEAD_ROWS = 100


def read_headers(path: pathlib.Path, limits: ReadLimits) -> tuple[str, ...]:
    """The column names of the file at ``path``, reading a text file's start only."""
    declared = _declared_kind(path.name)
    check_size(path.stat().st_size, limits)
    with path.open("rb") as stream:
        kind = _actual_kind(stream.read(8), declared, path.name)
        stream.seek(0)
        if kind != "text":
            return read_stream(stream, path.name, limits, path=path).headers
        data = stream.read(HEAD_BYTES + 1)
    return text_headers(data[:HEAD_BYTES], len(data) > HEAD_BYTES, limits)


def text_headers(data: bytes, cut: bool, limits: ReadLimits) -> tuple[str, ...]:
    """The column names of a text file whose first bytes are ``data`` (``cut``: the file goes
    on past them)."""
    text = _head_text(data, cut)
    delimiter = sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False)
    records: list[list[str]] = []
    try:
        for row in reader:
            if _is_blank(row):
                continue
            if not records:
                _check_width(row, limits)
            records.append(row)
            if len(records) > HEAD_ROWS:
                break
        else:
            if cut and len(records) > 1:
                records.pop()  # it may end in a quoted cell the cut broke off
    except csv.Error:
        # A quoting error in the rows read is the import's to report; the header came first.
        records = records[:1]
    if len(records) < 2:
        raise no_data()
    return _names(records[0], records[1:], limits)


def _head_text(data: bytes, cut: bool) -> str:
    """``data`` decoded as the whole read decodes the file, cut to whole lines."""
    wide = data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or _bomless_utf16(
        data[:1024]
    )
    if not cut:
        return unify_newlines(_decode(data)[0])
    if not wide:
        # A line end is the byte 10 in UTF-8 and Windows-1252 alike: what follows the last one
        # (perhaps half a character) is left out before the text is decoded.
        end = data.rfind(b"\n")
        return unify_newlines(_decode(data[: end + 1] if end > 0 else data)[0])
    codec = wide if isinstance(wide, str) else "utf-16"
    decoder = codecs.getincrementaldecoder(codec)("replace")
    text = unify_newlines(decoder.decode(data, final=False))
    check_text(text)
    end = text.rfind("\n")
    return text[: end + 1] if end > 0 else text


def _check_width(header: list[str], limits: ReadLimits) -> None:
    tail = len(header)
    while tail and not header[tail - 1].strip():
        tail -= 1
    if tail > limits.max_columns:
        raise too_many_columns(len(header), limits)


def _names(header: list[str], rows: list[list[str]], limits: ReadLimits) -> tuple[str, ...]:
    names = [value.strip() for value in header]

    def filled(position: int) -> bool:
        return any(len(row) > position and row[position] != "" for row in rows)

    while len(names) > 1 and not names[-1] and not filled(len(names) - 1):
        names.pop()  # an "a,b,c," export: empty header cell, no data under it
    if len(names) > limits.max_columns:
        raise too_many_columns(len(names), limits)
    names = [name or f"column_{i}" for i, name in enumerate(names, start=1)]
    _check_unique(names)
    for position, name in enumerate(names, start=1):
        if len(name) > limits.max_cell_chars:
            raise _cell_too_long(f"line 1, column {position}", len(name), limits.max_cell_chars)
    return tuple(names)
