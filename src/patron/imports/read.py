"""Read an uploaded file or pasted text into a table of text cells.

The first import stage: bytes in, a polars DataFrame whose columns are all
``pl.String`` out, plus what was detected about the source. Cell text is kept as
the customer typed it (whitespace included: a later stage trims it and reports
the correction); only workbook numbers, dates and booleans are written out as
text here, because a workbook stores them as typed values. An empty cell is null.

Hostile files are refused before they can take much memory or time. Every
refusal is an ``InvalidInput`` with one of these codes:

    96001  the upload is larger than ``max_bytes``
    96002  more data rows than ``max_rows``
    96003  more columns than ``max_columns``
    96004  a cell (or a whole line) is longer than ``max_cell_chars`` allows
    96005  the file type is not supported
    96006  the file cannot be read: binary, damaged, disguised, or a zip bomb
    96007  the workbook has more than one sheet with data
    96008  there are no data rows
    96009  a row has more or fewer cells than the header
    96010  two header cells carry the same name
    96011  more pasted lines than ``max_pasted_rows``
"""

from __future__ import annotations

import codecs
import csv
import io
import pathlib
import re
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any

import fastexcel
import polars as pl

from patron.kit.errors import InvalidInput

_MB = 1024 * 1024
_AT = "_at"  # the line (text) or row (workbook) a record starts on, for messages
_TEXT_EXTENSIONS = frozenset({".csv", ".txt", ".tsv"})
_WORKBOOK_EXTENSIONS = {".xlsx": "xlsx", ".xls": "xls", ".ods": "ods"}
_ZIP_MAGIC = b"PK\x03\x04"
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0"
_DELIMITERS = (",", "|", "\t", ";")  # ties on the header line go to the earlier one
_SNIFF_CHARS = 64 * 1024
_SNIFF_RECORDS = 6
_CHUNK_ROWS = 50_000
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")
_QUOTED = r'"(?:[^"]|"")*"'
_REGEX_DELIMITER = {",": ",", ";": ";", "|": r"\|", "\t": r"\t"}


@dataclass(frozen=True)
class ReadLimits:
    """How much one upload may hold."""

    max_bytes: int = 100 * 1024 * 1024
    max_rows: int = 1_000_000  # data rows, the header excluded
    max_columns: int = 200
    max_cell_chars: int = 10_000
    max_pasted_rows: int = 1_000


@dataclass(frozen=True)
class SourceTable:
    """One table of text cells and what was detected about its source."""

    frame: pl.DataFrame  # all pl.String; columns named by the header; data rows only
    headers: tuple[str, ...]  # the column names in file order (== frame.columns)
    file_format: str  # "csv" | "xlsx" | "xls" | "ods" | "pasted"
    delimiter: str | None  # None for workbooks
    encoding: str | None  # "utf-8" | "utf-8-sig" | "utf-16" | "latin-1"; None unless a text file


@dataclass(frozen=True)
class _Grid:
    """Records before the header is applied: cell columns ``_0.._n`` and ``_AT``."""

    frame: pl.DataFrame
    unit: str  # "line" or "row", the word messages use for ``_AT``


def read_upload(data: bytes, filename: str, limits: ReadLimits) -> SourceTable:
    """Read an uploaded CSV/TSV/TXT, XLSX, XLS or ODS file into text cells."""
    declared = _declared_kind(filename)
    _check_size(len(data), limits)
    kind = _actual_kind(data, declared, filename)
    if kind == "text":
        return _read_text_file(data, limits)
    if kind == "zip":
        kind = _check_zipped_workbook(data, limits)
    return _read_workbook(data, kind, filename, limits)


def read_path(path: pathlib.Path, limits: ReadLimits) -> SourceTable:
    """Read a file from disk; its type and size are checked before it is read."""
    _declared_kind(path.name)
    _check_size(path.stat().st_size, limits)
    return read_upload(path.read_bytes(), path.name, limits)


def read_pasted(text: str, limits: ReadLimits) -> SourceTable:
    """Read pasted cells (no header row): tab-separated as spreadsheets copy them, or CSV."""
    if len(text) > limits.max_bytes:
        _check_size(len(text.encode()), limits)
    text = _unify_newlines(text)
    _check_text(text)
    payload = text.encode()
    lines = _lines(payload)
    filled = lines.filter(pl.col("text").str.strip_chars() != "")
    if filled.height == 0:
        raise InvalidInput(96008, "nothing was pasted: copy the cells and paste them again")
    if filled.height > limits.max_pasted_rows:
        raise InvalidInput(
            96011,
            f"at most {limits.max_pasted_rows:,} rows can be pasted; upload a file for more",
        )
    first = str(filled["text"][0])
    delimiter = "\t" if "\t" in first else _sniff_delimiter(text)
    grid = _text_grid(text, lines, delimiter, limits, header=False, payload=payload)
    frame, headers = _finish(grid, limits, header=False)
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
        96005, f"unsupported file type {what}: upload a CSV, TSV, XLSX, XLS or ODS file"
    )


def _actual_kind(data: bytes, declared: str, filename: str) -> str:
    """The format the bytes really hold; the name alone is not trusted."""
    if data.startswith(_OLE2_MAGIC):
        return "xls"  # Excel 97-2003 (or an encrypted workbook, refused when opened)
    if data.startswith(_ZIP_MAGIC):
        if declared == "text":
            raise InvalidInput(
                96006,
                f"'{filename}' is a ZIP archive (perhaps an Excel workbook), not text: "
                "give it its real extension (.xlsx or .ods) or export the data as CSV",
            )
        return "zip"
    if declared != "text":
        raise InvalidInput(
            96006,
            f"'{filename}' is not a valid {declared.upper()} workbook (it may be a CSV file "
            "or a web page with the wrong extension): open it in a spreadsheet program "
            "and save it as XLSX or CSV",
        )
    return "text"


def _check_size(size: int, limits: ReadLimits) -> None:
    if size > limits.max_bytes:
        raise InvalidInput(
            96001,
            f"the file is {_size_text(size)}; the largest file that can be imported is "
            f"{_size_text(limits.max_bytes)}: split it into smaller files",
        )


def _size_text(size: int) -> str:
    if size >= _MB:
        return f"{size / _MB:,.1f} MB".replace(".0 MB", " MB")
    if size >= 1024:
        return f"{size / 1024:,.1f} KB".replace(".0 KB", " KB")
    return f"{size:,} bytes"


# -- delimited text --------------------------------------------------------------------


def _read_text_file(data: bytes, limits: ReadLimits) -> SourceTable:
    text, encoding = _decode(data)
    text = _unify_newlines(text)
    # polars reads the original bytes when they already are the UTF-8 of ``text``
    payload = data if encoding == "utf-8" and b"\r" not in data else text.encode()
    delimiter = _sniff_delimiter(text)
    grid = _text_grid(text, _lines(payload), delimiter, limits, header=True, payload=payload)
    frame, headers = _finish(grid, limits, header=True)
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
    _check_text(text)
    return text, label


def _check_text(text: str) -> None:
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
        96006,
        "the file is not readable text (it looks binary or damaged): "
        "export the data as CSV or XLSX and upload that file",
    )


def _unify_newlines(text: str) -> str:
    if "\r" in text:
        return text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def _lines(payload: bytes) -> pl.DataFrame:
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


def _sniff_delimiter(text: str) -> str:
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


def _text_grid(
    text: str,
    lines: pl.DataFrame,
    delimiter: str,
    limits: ReadLimits,
    *,
    header: bool,
    payload: bytes | None = None,
) -> _Grid:
    _check_line_lengths(lines, limits)
    max_records = limits.max_rows + 1 if header else limits.max_rows
    frame = _fast_records(lines, payload or text.encode(), delimiter, limits, max_records, header)
    if frame is None:
        frame = _csv_records(text, delimiter, limits, max_records, header)
    return _Grid(frame, "line")


def _check_line_lengths(lines: pl.DataFrame, limits: ReadLimits) -> None:
    # Longer than a full row of maximal cells can be: refused before any parser sees it.
    most = limits.max_columns * (limits.max_cell_chars + 3)
    lengths = lines.select(pl.col("text").str.len_chars()).to_series()
    if lines.height and (lengths.max() or 0) > most:  # type: ignore[operator]
        at = int(lengths.arg_max() or 0)
        raise InvalidInput(
            96004,
            f"line {at + 1} is {lengths[at]:,} characters long, more than {limits.max_columns} "
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
        _AT, offset=1
    )
    records = info.filter(~pl.col("blank"))
    if records.height == 0:
        raise _no_data()
    if records.height > max_records:
        raise _too_many_rows(records.height - (1 if header else 0), limits)
    width = int(records["fields"][0])
    if width > limits.max_columns:
        first = str(lines["text"][int(records[_AT][0]) - 1])
        _check_width(next(csv.reader([first], delimiter=delimiter, strict=False)), limits, header)
    ragged = records.filter(pl.col("fields") != width)
    if ragged.height:
        raise _ragged("line", int(ragged[_AT][0]), int(ragged["fields"][0]), width, header)
    frame = pl.read_csv(
        payload,
        has_header=False,
        separator=delimiter,
        quote_char='"' if quoted else None,
        schema={f"_{i}": pl.String for i in range(width)},
        raise_if_empty=False,
    )
    if frame.height != lines.height:
        return None  # polars saw the records differently; let the csv module decide
    return frame.with_columns(info[_AT], blank=info["blank"]).filter(~pl.col("blank")).drop("blank")


def _regular_line(delimiter: str) -> str:
    """A line of unquoted cells and wholly quoted cells ("" escapes a quote)."""
    d = _REGEX_DELIMITER[delimiter]
    cell = f'(?:{_QUOTED}|[^"{d}]*)'
    return f"^{cell}(?:{d}{cell})*$"


def _csv_records(
    text: str, delimiter: str, limits: ReadLimits, max_records: int, header: bool
) -> pl.DataFrame:
    """The general reader: quoted cells may span lines and stray quotes are literal."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False)
    parts: list[pl.DataFrame] = []
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
                raise _ragged("line", start, len(row), width, header)
            count += 1
            if count > max_records:
                raise _too_many_rows(count - (1 if header else 0), limits)
            rows.append(row)
            starts.append(start)
            if len(rows) == _CHUNK_ROWS:
                parts.append(_rows_frame(rows, starts, width))
                rows, starts = [], []
    except csv.Error as exc:
        raise InvalidInput(
            96004 if "field limit" in str(exc) else 96006,
            f"line {reader.line_num} could not be read ({exc}): check the quoting",
        ) from None
    if rows:
        parts.append(_rows_frame(rows, starts, width))
    if not parts:
        raise _no_data()
    return pl.concat(parts)


def _rows_frame(rows: list[list[str]], starts: list[int], width: int) -> pl.DataFrame:
    columns = list(zip(*rows, strict=True))
    data = {f"_{i}": pl.Series(columns[i], dtype=pl.String) for i in range(width)}
    return pl.DataFrame(data).with_columns(pl.Series(_AT, starts, dtype=pl.UInt32))


def _check_width(first_row: list[str], limits: ReadLimits, header: bool) -> None:
    # Early, before a frame of that width is built; trailing empty header cells may
    # still be dropped, so they do not count here (``_finish`` checks again).
    width = tail = len(first_row)
    if header:
        while tail and not first_row[tail - 1].strip():
            tail -= 1
    if tail > limits.max_columns:
        raise _too_many_columns(width, limits)


# -- workbooks -------------------------------------------------------------------------

_MAX_EXPANSION = 20  # unpacked bytes per uploaded byte; plain xlsx files measure about 11
_MAX_RATIO = 200  # a member packed tighter than this is a bomb, not a sheet
_RATIO_FLOOR = _MB  # small members may pack arbitrarily well
_MAX_ZIP_MEMBERS = 10_000
_XML_PIECE = 4 * _MB
# Sheet XML as Excel, LibreOffice and the common libraries write it opens every <c> and
# <row> tag with its reference; any other spelling sends the sheet to the exact scan.
_ODD_SPACING = re.compile(rb"<(?:c|row)[\t\n\r]")
_PREFIXED = re.compile(rb":(?:c|row)[\s/>]")
_UNREFERENCED = re.compile(rb'<c(?:>|/>| (?!r="))|<row(?:>|/>| (?!r="))')
_CELL_COLUMN = re.compile(rb'<c r="([A-Z]{1,3})[0-9]')
_ROW_NUMBER = re.compile(rb'<row r="([0-9]{1,7})"')
_ODS_MIMETYPE = b"application/vnd.oasis.opendocument.spreadsheet"
_XLSX_TAG = re.compile(rb"<(?:[\w.-]+:)?(row|c)(?=[\s/>])([^>]*)>")
_R_ATTR = re.compile(rb"""(?:^|\s)r\s*=\s*["']([A-Za-z]*)([0-9]*)""")
_ODS_TAG = re.compile(
    rb"<(/?)(?:[\w.-]+:)?(table|table-row|table-cell|covered-table-cell)(?=[\s/>])([^>]*)>"
)
_REPEATED = re.compile(rb"""number-(?:rows|columns)-repeated\s*=\s*["']([0-9]+)""")
_MIDNIGHT = r"^(\d{4}-\d{2}-\d{2})[ T]00:00:00(?:\.0+)?$"
_DATETIME = r"^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(?:\.0+|(\.\d*[1-9])0*)?$"
_NOISY_DECIMAL = r"^-?[1-9]\d{0,14}\.\d+$"
_DATE_OR_DECIMAL = r"^\d{4}-\d{2}-\d{2}[ T]|^-?[1-9]\d{6,14}\.\d"


def _read_workbook(data: bytes, kind: str, filename: str, limits: ReadLimits) -> SourceTable:
    try:
        reader = fastexcel.read_excel(data)
        sheets = _sheets_with_data(reader)
    except Exception as exc:  # fastexcel raises its own tree, and plain errors on odd files
        raise InvalidInput(
            96006,
            f"'{filename}' could not be read as a {kind.upper()} workbook ({_reason(exc)}): "
            "if it is password-protected, remove the password, or save it again as XLSX or CSV",
        ) from None
    if len(sheets) > 1:
        names = ", ".join(name for name, _ in sheets)
        raise InvalidInput(
            96007,
            f"the workbook has {len(sheets)} sheets with data ({names}): put each sheet in its "
            "own file and upload them one by one",
        )
    if not sheets:
        raise _no_data()
    raw = _sheet_text(sheets[0][1]).with_row_index(_AT, offset=1)
    frame, headers = _finish(_Grid(raw, "row"), limits, header=True)
    return SourceTable(frame, headers, kind, None, None)


def _sheets_with_data(reader: Any) -> list[tuple[str, pl.DataFrame]]:
    """The visible sheets holding a value, each read as text; hidden sheets (often the
    lists behind a template's drop-downs) and empty ones are left out."""
    found: list[tuple[str, pl.DataFrame]] = []
    for name in reader.sheet_names:
        sheet = reader.load_sheet(name, header_row=None, dtypes="string")
        if sheet.visible != "visible" or sheet.width == 0:
            continue
        frame: pl.DataFrame = sheet.to_polars()
        if any(frame.select(pl.all().str.len_bytes().max()).row(0)):
            found.append((str(name), frame))
    return found


def _sheet_text(sheet: pl.DataFrame) -> pl.DataFrame:
    """Workbook values as the text a person would type, in columns ``_0.._n``.

    fastexcel already writes whole numbers as digits, booleans as true/false and
    dates as ``YYYY-MM-DD hh:mm:ss``; dates become ISO (date only at midnight), and
    decimals it wrote with binary noise (123456789.122999996, nine places) are
    reparsed to their shortest form. A text cell spelled exactly like one of those
    outputs is converted too: the two cannot be told apart after fastexcel.
    """
    # one cheap pass finds the columns worth the three regex passes
    touched = sheet.select(pl.all().str.contains(_DATE_OR_DECIMAL).any()).row(0)
    return sheet.select(
        (_retyped_text(pl.col(name)) if hit else pl.col(name)).alias(f"_{i}")
        for i, (name, hit) in enumerate(zip(sheet.columns, touched, strict=True))
    )


def _retyped_text(cell: pl.Expr) -> pl.Expr:
    # more than 15 significant digits: only then can binary noise show
    noisy = (cell.str.len_bytes() > 16) & cell.str.contains(_NOISY_DECIMAL)
    cell = pl.when(noisy).then(cell.cast(pl.Float64, strict=False).cast(pl.String)).otherwise(cell)
    return cell.str.replace(_MIDNIGHT, "${1}").str.replace(_DATETIME, "${1}T${2}${3}")


def _check_zipped_workbook(data: bytes, limits: ReadLimits) -> str:
    """Refuse zip bombs and sheets too large to hold, before calamine unpacks anything.

    calamine allocates every cell of a sheet's bounding box (about 32 bytes each), so
    a 6 KB file with values in A1 and XFD1048576 would ask for 550 GB: the extent of
    each sheet is read from its XML, streamed, first.
    """
    if _zip_member_count(data) > _MAX_ZIP_MEMBERS:
        raise _damaged_workbook("it holds too many parts")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            kind = _zip_workbook_kind(archive)
            _check_expansion(archive, limits)
            cells = sum(rows * columns for rows, columns in _sheet_extents(archive, kind))
    except (zipfile.BadZipFile, KeyError, NotImplementedError, RuntimeError, OSError, zlib.error):
        raise _damaged_workbook("it is damaged or encrypted") from None
    budget = max(limits.max_bytes // 4, 1_000)  # keeps calamine under ~8x the upload limit
    if cells > budget:
        raise InvalidInput(
            96006,
            f"the workbook's sheets span {cells:,} cells, more than the {budget:,} that can be "
            "read safely: delete the unused rows and columns, or export the data as CSV",
        )
    return kind


def _zip_member_count(data: bytes) -> int:
    # zipfile builds an object per member while opening: count them from the
    # end-of-central-directory record first (0xFFFF means ZIP64, far past the cap).
    at = data.rfind(b"PK\x05\x06", max(0, len(data) - 65_557))
    if at < 0 or len(data) < at + 12:
        raise _damaged_workbook("it is damaged")
    return int.from_bytes(data[at + 10 : at + 12], "little")


def _zip_workbook_kind(archive: zipfile.ZipFile) -> str:
    names = set(archive.namelist())
    small = "mimetype" in names and archive.getinfo("mimetype").file_size < 100
    if small and archive.read("mimetype").strip() == _ODS_MIMETYPE:
        return "ods"
    if any(name.lower().endswith(".xml") for name in names) and "content.xml" not in names:
        return "xlsx"
    raise _damaged_workbook("it is a ZIP archive but not an XLSX or ODS workbook")


def _check_expansion(archive: zipfile.ZipFile, limits: ReadLimits) -> None:
    cap = _MAX_EXPANSION * limits.max_bytes
    members = archive.infolist()
    if sum(member.file_size for member in members) > cap:
        raise InvalidInput(
            96006,
            f"the workbook expands to more than {_size_text(cap)} when unpacked: "
            "export the data as CSV instead",
        )
    for member in members:
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size > _RATIO_FLOOR and ratio > _MAX_RATIO:
            raise InvalidInput(
                96006,
                f"the workbook part '{member.filename}' is compressed {ratio:,.0f} to 1, "
                "which only a zip bomb does: the file was refused",
            )


def _sheet_extents(archive: zipfile.ZipFile, kind: str) -> list[tuple[int, int]]:
    """(rows, columns) of every sheet's bounding box, counted from its XML."""
    if kind == "ods":
        return _ods_extents(archive, archive.getinfo("content.xml"))
    return [
        _xlsx_extent(archive, member)
        for member in archive.infolist()
        if member.filename.lower().endswith(".xml") and member.filename != "xl/sharedStrings.xml"
    ]


def _xml_pieces(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> Iterator[bytes]:
    """The unpacked member in pieces cut after a '>', so no tag straddles two pieces."""
    carry = b""
    with archive.open(member) as stream:
        while block := stream.read(_XML_PIECE):
            buffer = carry + block
            cut = buffer.rfind(b">") + 1
            piece, carry = buffer[:cut], buffer[cut:]
            tag = carry.rfind(b"<")
            carry = carry[tag:] if tag >= 0 else b""  # text between tags is never needed
            if len(carry) > _XML_PIECE:
                raise _damaged_workbook("it holds a malformed sheet")
            yield piece
    yield carry


def _xlsx_extent(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> tuple[int, int]:
    regular = _xlsx_extent_regular(archive, member)
    return regular if regular is not None else _xlsx_extent_exact(archive, member)


def _xlsx_extent_regular(
    archive: zipfile.ZipFile, member: zipfile.ZipInfo
) -> tuple[int, int] | None:
    """Fast path for regularly written XML; None when any tag is spelled otherwise.

    Rows come from the row tags (one per row, cheap); a cell placed below every row
    tag seen so far is searched for rather than every cell's row number parsed.
    """
    rows = columns = 0
    for piece in _xml_pieces(archive, member):
        spaced = b"\t" in piece or b"\r" in piece or b"\n" in piece
        if spaced and _ODD_SPACING.search(piece):
            return None
        if _PREFIXED.search(piece) or _UNREFERENCED.search(piece):
            return None
        letters, numbers = _CELL_COLUMN.findall(piece), _ROW_NUMBER.findall(piece)
        if len(letters) != piece.count(b'<c r="') or len(numbers) != piece.count(b'<row r="'):
            return None
        rows = max(rows, max(map(int, numbers), default=0))
        if _cells_below(rows).search(piece):
            return None
        columns = max(columns, max(map(_column_number, set(letters)), default=0))
    return rows, columns


def _cells_below(row: int) -> re.Pattern[bytes]:
    """Cell references whose row number is greater than ``row``."""
    digits = str(row)
    greater = [f"[0-9]{{{len(digits) + 1},}}"]
    for i, digit in enumerate(digits):
        if digit != "9":
            rest = len(digits) - i - 1
            greater.append(f"{digits[:i]}[{int(digit) + 1}-9][0-9]{{{rest}}}")
    return re.compile(f'<c r="[A-Z]{{1,3}}(?:{"|".join(greater)})"'.encode())


def _xlsx_extent_exact(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> tuple[int, int]:
    """Follow calamine's placement tag by tag, references optional (slow, rarely needed)."""
    row = column = bottom = right = 0
    for piece in _xml_pieces(archive, member):
        for tag, attributes in _XLSX_TAG.findall(piece):
            ref = _R_ATTR.search(attributes)
            letters, digits = ref.groups() if ref else (b"", b"")
            if tag == b"row":
                row, column = (_number(digits) if digits else row + 1), 0
                continue
            column = _column_number(letters) if letters else column + 1
            bottom = max(bottom, _number(digits) if digits else row)
            right = max(right, column)
    return bottom, right


def _ods_extents(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> list[tuple[int, int]]:
    """Every table's extent, repeats included; trailing empty repeats (LibreOffice
    writes a million of them) do not count, as calamine skips them too."""
    extents: list[tuple[int, int]] = []
    row = repeat = column = row_right = bottom = right = 0
    for piece in _xml_pieces(archive, member):
        for closing, tag, attributes in _ODS_TAG.findall(piece):
            opening_only = not closing and not attributes.endswith(b"/")
            if tag == b"table":
                if closing:
                    extents.append((bottom, right))
                row = bottom = right = 0
            elif tag == b"table-row" and not closing:
                repeat, column, row_right = _repeat(attributes), 0, 0
            if tag == b"table-row" and not opening_only:
                if row_right:
                    bottom, right = row + repeat, max(right, row_right)
                row += repeat
            elif tag in (b"table-cell", b"covered-table-cell") and not closing:
                column += _repeat(attributes)
                if opening_only or b"value-type" in attributes:
                    row_right = column
    return extents


def _repeat(attributes: bytes) -> int:
    found = _REPEATED.search(attributes)
    return _number(found.group(1)) if found else 1


def _number(digits: bytes) -> int:
    return int(digits) if len(digits) <= 9 else 10**9


def _column_number(letters: bytes) -> int:
    if len(letters) > 5:
        return 26**5
    number = 0
    for letter in letters.upper():
        number = number * 26 + letter - 64
    return number


def _reason(exc: Exception) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0][:200] if lines else type(exc).__name__


def _damaged_workbook(why: str) -> InvalidInput:
    return InvalidInput(
        96006, f"the workbook could not be read: {why}; save it again as XLSX or CSV"
    )


# -- header and limits, shared ---------------------------------------------------------


def _finish(
    grid: _Grid, limits: ReadLimits, *, header: bool
) -> tuple[pl.DataFrame, tuple[str, ...]]:
    """Apply the header, drop empty rows and columns, enforce the remaining limits."""
    cells = [name for name in grid.frame.columns if name != _AT]
    frame = grid.frame.with_columns(
        pl.when(pl.col(c) != "").then(pl.col(c)).alias(c) for c in cells
    )
    raw: list[str | None] = [None] * len(cells)
    if header:
        raw = list(frame.select(cells).row(0)) if frame.height else raw
        frame = frame.slice(1)
    frame = frame.filter(pl.any_horizontal(pl.col(cells).is_not_null()))
    if frame.height == 0:
        raise _no_data()
    if frame.height > limits.max_rows:
        raise _too_many_rows(frame.height, limits)
    names = [(value or "").strip() for value in raw]
    while len(names) > 1 and not names[-1] and frame[cells[-1]].null_count() == frame.height:
        names.pop()  # an "a,b,c," export: empty header cell, no data under it
        frame = frame.drop(cells.pop())
    if len(names) > limits.max_columns:
        raise _too_many_columns(len(names), limits)
    names = [name or f"column_{i}" for i, name in enumerate(names, start=1)]
    _check_unique(names)
    _check_cell_lengths(grid.unit, frame, cells, names, limits, header)
    frame = frame.select(pl.col(c).alias(name) for c, name in zip(cells, names, strict=True))
    return frame, tuple(names)


def _check_unique(names: list[str]) -> None:
    seen: dict[str, int] = {}
    for position, name in enumerate(names, start=1):
        first = seen.setdefault(name.casefold(), position)
        if first != position:
            raise InvalidInput(
                96010,
                f"the header '{name}' appears twice, in columns {first} and {position}: "
                "give every column a different name",
            )


def _check_cell_lengths(
    unit: str,
    frame: pl.DataFrame,
    cells: list[str],
    names: list[str],
    limits: ReadLimits,
    header: bool,
) -> None:
    limit = limits.max_cell_chars
    for position, name in enumerate(names, start=1):
        if header and len(name) > limit:
            raise _cell_too_long(f"{unit} 1, column {position}", len(name), limit)
    longest = frame.select(pl.col(cells).str.len_chars().max()).row(0)
    over = [c for c, most in zip(cells, longest, strict=True) if most is not None and most > limit]
    if not over:
        return
    firsts = []
    for c in over:
        lengths = frame.select(pl.col(_AT), pl.col(c).str.len_chars().alias("n"))
        at, length = lengths.filter(pl.col("n") > limit).row(0)
        firsts.append((at, cells.index(c), length))
    at, index, length = min(firsts)
    raise _cell_too_long(f"{unit} {at}, column '{names[index]}'", length, limit)


def _cell_too_long(where: str, length: int, limit: int) -> InvalidInput:
    return InvalidInput(
        96004, f"{where}: a cell has {length:,} characters; at most {limit:,} are allowed"
    )


def _too_many_rows(count: int, limits: ReadLimits) -> InvalidInput:
    return InvalidInput(
        96002,
        f"the file has {count:,} data rows; at most {limits.max_rows:,} can be imported at "
        "once: split it into smaller files",
    )


def _too_many_columns(count: int, limits: ReadLimits) -> InvalidInput:
    return InvalidInput(
        96003,
        f"the file has {count:,} columns; at most {limits.max_columns:,} can be imported: "
        "remove the columns you do not need",
    )


def _ragged(unit: str, at: int, count: int, width: int, header: bool) -> InvalidInput:
    reference = "the header has" if header else "the first line has"
    return InvalidInput(
        96009,
        f"{unit} {at} has {count} cells but {reference} {width}: check the delimiter and quoting",
    )


def _no_data() -> InvalidInput:
    return InvalidInput(96008, "the file has no data rows")
