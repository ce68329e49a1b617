"""Reading CSV and other delimited text, and pasted rows: encodings, delimiters, quotes."""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from typing import BinaryIO

import polars as pl

from patron.codes import imports
from patron.imports.read.table import (
    AT,
    MB,
    Grid,
    ReadLimits,
    SourceTable,
    finish_table,
    no_data,
    ragged_row,
    too_many_columns,
    too_many_rows,
)
from patron.kit.errors import InvalidInput

_DELIMITERS = (",", "|", "\t", ";")  # ties on the header line go to the earlier one
_SNIFF_CHARS = 64 * 1024
_SNIFF_RECORDS = 6
_CHUNK_ROWS = 50_000
_SCAN_BLOCK = MB
_LINES_PER_ROW = 2
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")
_QUOTED = r'"(?:[^"]|"")*"'
_REGEX_DELIMITER = {",": ",", ";": ";", "|": r"\|", "\t": r"\t"}


def check_lines(stream: BinaryIO, limits: ReadLimits) -> None:
    """Refuse a line longer than any row can be, or more lines than the rows allowed
    can span (:func:`most_lines`), reading the file a block at a time.

    This runs before the file is read whole: the parsers would spend hundreds of
    megabytes on a 60 MB line, and about a hundred bytes on every line, blank ones
    too, before their own checks saw them. Lengths count characters, as ``_decode``
    will decode them: a file that is not UTF-8 after all is counted again as
    Latin-1 (one character per byte, as Windows-1252 too).
    """
    head = stream.read(1024)
    stream.seek(0)
    if head.startswith(codecs.BOM_UTF8):
        codec = "utf-8-sig"
    elif head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        codec = "utf-16"
    else:
        codec = _bomless_utf16(head) or "utf-8"
    try:
        _check_line_lengths_in(_decoded_blocks(stream, codec), limits)
    except UnicodeDecodeError:
        if codec != "utf-8":
            raise _not_text() from None
        _check_line_lengths_in(_decoded_blocks(stream, "latin-1"), limits)
    finally:
        stream.seek(0)


def _decoded_blocks(stream: BinaryIO, codec: str) -> Iterator[str]:
    """The file as text, a block at a time, its line ends made ``\\n``."""
    decoder = codecs.getincrementaldecoder(codec)("strict")
    wide = codec.startswith("utf-16")
    stream.seek(0)
    after_cr = False
    while True:
        raw = stream.read(_SCAN_BLOCK)
        if not wide and b"\x00" in raw:
            raise _not_text()
        text = decoder.decode(raw, final=not raw)
        if after_cr and text.startswith("\n"):
            text = text[1:]  # the second half of a CRLF cut between two blocks
            after_cr = False
        if text:
            after_cr = text.endswith("\r")
            yield unify_newlines(text)
        if not raw:
            return


def _check_line_lengths_in(blocks: Iterator[str], limits: ReadLimits) -> None:
    most, lines = _most_line_chars(limits), most_lines(limits.max_rows + 1)
    line, length = 1, 0  # the line being read, and its characters so far
    for text in blocks:
        if length + len(text) <= most:  # no line of this block can be too long: count them
            breaks = text.count("\n")
            line += breaks
            length = len(text) - text.rfind("\n") - 1 if breaks else length + len(text)
            if line - 1 > lines:
                raise too_many_lines(lines, limits.max_rows)
            continue
        parts = text.split("\n")
        length += len(parts[0])
        if len(parts) == 1:
            continue
        if length > most:
            raise _line_too_long(line, length, limits)
        lengths = [len(part) for part in parts[1:-1]]
        if lengths and max(lengths) > most:
            first = next(i for i, n in enumerate(lengths) if n > most)
            raise _line_too_long(line + 1 + first, lengths[first], limits)
        line += len(parts) - 1
        length = len(parts[-1])
        if line - 1 > lines:
            raise too_many_lines(lines, limits.max_rows)
    if length > most:
        raise _line_too_long(line, length, limits)
    if (line if length else line - 1) > lines:
        raise too_many_lines(lines, limits.max_rows)


def most_lines(rows: int) -> int:
    """The physical lines ``rows`` records may span: a quoted cell may hold a line
    break, and blank lines are skipped, but each costs the parsers all the same."""
    return _LINES_PER_ROW * rows


def too_many_lines(lines: int, rows: int) -> InvalidInput:
    return InvalidInput(
        imports.TOO_MANY_ROWS,
        f"the file has more than {lines:,} lines, {_LINES_PER_ROW} for each of the header and "
        f"the {rows:,} rows that can be imported at once: split it into smaller files",
    )


def read_text_file(data: bytes, limits: ReadLimits) -> SourceTable:
    text, encoding = _decode(data)
    text = unify_newlines(text)
    # polars reads the original bytes when they already are the UTF-8 of ``text``
    payload = data if encoding == "utf-8" and b"\r" not in data else text.encode()
    delimiter = sniff_delimiter(text)
    grid = text_grid(text, line_frame(payload), delimiter, limits, header=True, payload=payload)
    frame, headers = finish_table(grid, limits, header=True)
    return SourceTable(frame, headers, "csv", delimiter, encoding)


def _decode(data: bytes) -> tuple[str, str]:
    """The text and its encoding label.

    BOMs decide first; UTF-16 without a BOM shows as NUL bytes in every other
    position; then strict UTF-8; else Windows-1252 (what Excel writes on Western
    Windows), falling back to ISO-8859-1 for its five unassigned bytes. Both of
    the last are labelled "latin-1".
    """
    if data.startswith(codecs.BOM_UTF8):
        text, label = _decode_as(data[len(codecs.BOM_UTF8) :], "utf-8"), "utf-8-sig"
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text, label = _decode_as(data, "utf-16"), "utf-16"
    elif codec := _bomless_utf16(data[:1024]):
        text, label = _decode_as(data, codec), "utf-16"
    elif b"\x00" in data:
        raise _not_text()
    else:
        label = "utf-8"
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            label = "latin-1"
            try:
                text = data.decode("cp1252")
            except UnicodeDecodeError:
                text = data.decode("latin-1")
    check_text(text)
    return text, label


def check_text(text: str) -> None:
    sample = text[:_SNIFF_CHARS]
    if "\x00" in text or len(_CONTROL.findall(sample)) > 1 + len(sample) // 100:
        raise _not_text()


def _decode_as(data: bytes, codec: str) -> str:
    try:
        return data.decode(codec)
    except UnicodeDecodeError:
        raise _not_text() from None


def _bomless_utf16(head: bytes) -> str | None:
    pairs = len(head) // 2
    if pairs == 0:
        return None
    odd_nuls, even_nuls = head[1::2].count(0), head[0::2].count(0)
    if odd_nuls * 10 >= pairs * 3 and even_nuls * 20 < pairs:
        return "utf-16-le"
    if even_nuls * 10 >= pairs * 3 and odd_nuls * 20 < pairs:
        return "utf-16-be"
    return None


def _not_text() -> InvalidInput:
    return InvalidInput(
        imports.UNREADABLE_FILE,
        "the file is not readable text (it looks binary or damaged): "
        "export the data as CSV or XLSX and upload that file",
    )


def unify_newlines(text: str) -> str:
    if "\r" in text:
        return text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def line_frame(payload: bytes) -> pl.DataFrame:
    """One row per physical line, counted the way ``pl.read_csv`` counts records."""
    return pl.read_csv(
        payload,
        has_header=False,
        separator="\x00",  # never in decoded text, so each line is one field
        quote_char=None,
        schema={"text": pl.String},
        empty_string_is_null=False,
        raise_if_empty=False,
    ).with_columns(pl.col("text").fill_null(""))


def sniff_delimiter(text: str) -> str:
    """The candidate most frequent on the header line that also splits the next lines alike."""
    sample = text[:_SNIFF_CHARS]
    if len(text) > _SNIFF_CHARS and "\n" in sample:
        sample = sample[: sample.rfind("\n") + 1]  # drop the cut-off line
    header = next((line for line in sample.split("\n") if line.strip()), "")
    unquoted = re.sub(_QUOTED, "", header)
    ranked = sorted((c for c in _DELIMITERS if c in unquoted), key=lambda c: -unquoted.count(c))
    for candidate in ranked:
        if _splits_alike(sample, candidate):
            return candidate
    return ranked[0] if ranked else ","


def _splits_alike(sample: str, delimiter: str) -> bool:
    reader = csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter, strict=False)
    try:
        records = [row for row in islice(reader, 50) if not _is_blank(row)][:_SNIFF_RECORDS]
    except csv.Error:
        return False
    return len({len(row) for row in records}) == 1


def _is_blank(row: Sequence[str]) -> bool:
    return not row or (len(row) == 1 and not row[0].strip())


def text_grid(
    text: str,
    lines: pl.DataFrame,
    delimiter: str,
    limits: ReadLimits,
    *,
    header: bool,
    payload: bytes | None = None,
) -> Grid:
    _check_line_lengths(lines, limits)
    max_records = limits.max_rows + 1 if header else limits.max_rows
    frame = _fast_records(lines, payload or text.encode(), delimiter, limits, max_records, header)
    if frame is None:
        frame = _csv_records(text, delimiter, limits, max_records, header)
    return Grid(frame, "line")


def _check_line_lengths(lines: pl.DataFrame, limits: ReadLimits) -> None:
    # Longer than a full row of maximal cells can be: refused before any parser sees it.
    lengths = lines.select(pl.col("text").str.len_chars()).to_series()
    if lines.height and (lengths.max() or 0) > _most_line_chars(limits):  # type: ignore[operator]
        at = int(lengths.arg_max() or 0)
        raise _line_too_long(at + 1, int(lengths[at]), limits)


def _most_line_chars(limits: ReadLimits) -> int:
    """A full row of maximal cells, each quoted, with its delimiters."""
    return limits.max_columns * (limits.max_cell_chars + 3)


def _line_too_long(line: int, length: int, limits: ReadLimits) -> InvalidInput:
    return InvalidInput(
        imports.CELL_TOO_LONG,
        f"line {line} is {length:,} characters long, more than {limits.max_columns} "
        f"cells of at most {limits.max_cell_chars:,} characters can fill: "
        "check the delimiter and quoting",
    )


def _fast_records(
    lines: pl.DataFrame,
    payload: bytes,
    delimiter: str,
    limits: ReadLimits,
    max_records: int,
    header: bool,
) -> pl.DataFrame | None:
    """Vectorised reading when every record is one line with regular quoting.

    Counting delimiters per line (outside quotes) finds ragged rows without a
    Python object per row. None sends the file to the csv-module reader: a quoted
    cell spans lines, or a quote sits inside an unquoted cell (polars rejects both).
    """
    text = pl.col("text")
    count = text.str.count_matches(delimiter, literal=True)
    quoted = b'"' in payload
    if quoted:
        has_quote = text.str.contains('"', literal=True)
        if lines.select((has_quote & ~text.str.contains(_regular_line(delimiter))).any()).item():
            return None
        unquoted = text.str.replace_all(_QUOTED, "").str.count_matches(delimiter, literal=True)
        count = pl.when(has_quote).then(unquoted).otherwise(count)
    info = lines.select(fields=count + 1, blank=text.str.strip_chars() == "").with_row_index(
        AT, offset=1
    )
    records = info.filter(~pl.col("blank"))
    if records.height == 0:
        raise no_data()
    if records.height > max_records:
        raise too_many_rows(records.height - (1 if header else 0), limits)
    width = int(records["fields"][0])
    if width > limits.max_columns:
        first = str(lines["text"][int(records[AT][0]) - 1])
        _check_width(next(csv.reader([first], delimiter=delimiter, strict=False)), limits, header)
    ragged = records.filter(pl.col("fields") != width)
    if ragged.height:
        raise ragged_row("line", int(ragged[AT][0]), int(ragged["fields"][0]), width, header)
    frame = pl.read_csv(
        payload,
        has_header=False,
        separator=delimiter,
        quote_char='"' if quoted else None,
        schema={f"_{i}": pl.String for i in range(width)},
        raise_if_empty=False,
        missing_columns="insert",  # a blank first line would otherwise fail the schema
    )
    if frame.height != lines.height:
        return None  # polars saw the records differently; let the csv module decide
    return frame.with_columns(info[AT], blank=info["blank"]).filter(~pl.col("blank")).drop("blank")


def _regular_line(delimiter: str) -> str:
    """A line of unquoted cells and wholly quoted cells ("" escapes a quote)."""
    d = _REGEX_DELIMITER[delimiter]
    cell = f'(?:{_QUOTED}|[^"{d}]*)'
    return f"^{cell}(?:{d}{cell})*$"


def _csv_records(
    text: str, delimiter: str, limits: ReadLimits, max_records: int, header: bool
) -> pl.DataFrame:
    """The general reader: quoted cells may span lines and stray quotes are literal."""
    lines = io.StringIO(text, newline="")
    return pl.concat(csv_frames(lines, delimiter, limits, max_records, header, _CHUNK_ROWS))


def csv_frames(
    lines: Iterable[str],
    delimiter: str,
    limits: ReadLimits,
    max_records: int,
    header: bool,
    frame_rows: int,
) -> Iterator[pl.DataFrame]:
    """The records of ``lines`` by the csv module, ``frame_rows`` of them a frame, checked
    as they come (width, ragged rows, the row limit); no record at all is refused."""
    reader = csv.reader(lines, delimiter=delimiter, strict=False)
    rows: list[list[str]] = []
    starts: list[int] = []
    width = count = end = 0
    try:
        for row in reader:
            start, end = end + 1, reader.line_num
            if _is_blank(row):
                continue
            if not width:
                width = len(row)
                _check_width(row, limits, header)
            elif len(row) != width:
                raise ragged_row("line", start, len(row), width, header)
            count += 1
            if count > max_records:
                raise too_many_rows(count - (1 if header else 0), limits)
            rows.append(row)
            starts.append(start)
            if len(rows) == frame_rows:
                yield _rows_frame(rows, starts, width)
                rows, starts = [], []
    except csv.Error as exc:
        raise InvalidInput(
            imports.CELL_TOO_LONG if "field limit" in str(exc) else imports.UNREADABLE_FILE,
            f"line {reader.line_num} could not be read ({exc}): check the quoting",
        ) from None
    if rows:
        yield _rows_frame(rows, starts, width)
    if not count:
        raise no_data()


def _rows_frame(rows: list[list[str]], starts: list[int], width: int) -> pl.DataFrame:
    columns = list(zip(*rows, strict=True))
    data = {f"_{i}": pl.Series(columns[i], dtype=pl.String) for i in range(width)}
    return pl.DataFrame(data).with_columns(pl.Series(AT, starts, dtype=pl.UInt32))


def _check_width(first_row: list[str], limits: ReadLimits, header: bool) -> None:
    # Early, before a frame of that width is built; trailing empty header cells may
    # still be dropped, so they do not count here (``finish_table`` checks again).
    width = tail = len(first_row)
    if header:
        while tail and not first_row[tail - 1].strip():
            tail -= 1
    if tail > limits.max_columns:
        raise too_many_columns(width, limits)
