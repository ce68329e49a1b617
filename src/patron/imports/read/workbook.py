"""Reading XLSX, XLS and ODS workbooks, with the checks that refuse zip bombs first."""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from collections.abc import Iterator
from typing import Any

import fastexcel
import polars as pl

from patron.imports.read.table import (
    AT,
    MB,
    Grid,
    ReadLimits,
    SourceTable,
    finish_table,
    no_data,
    size_text,
)
from patron.kit.errors import InvalidInput

_MAX_EXPANSION = 20  # unpacked bytes per uploaded byte; plain xlsx files measure about 11
_MAX_RATIO = 200  # a member packed tighter than this is a bomb, not a sheet
_RATIO_FLOOR = MB  # small members may pack arbitrarily well
_MAX_ZIP_MEMBERS = 10_000
_XML_PIECE = 4 * MB
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


def read_workbook(data: bytes, kind: str, filename: str, limits: ReadLimits) -> SourceTable:
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
        raise no_data()
    raw = _sheet_text(sheets[0][1]).with_row_index(AT, offset=1)
    frame, headers = finish_table(Grid(raw, "row"), limits, header=True)
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


def check_zipped_workbook(data: bytes, limits: ReadLimits) -> str:
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
            f"the workbook expands to more than {size_text(cap)} when unpacked: "
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
