"""How many cells a sheet spans, counted from its XML before calamine unpacks it.

calamine allocates every cell of a sheet's bounding box (about 32 bytes each), so
a 6 KB file with values in A1 and XFD1048576 would ask for 550 GB. The extent is
read from the XML in pieces, as the parts are unpacked (``archive.py``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator

from patron.imports.read.archive import damaged
from patron.imports.read.table import MB

_XML_PIECE = MB  # small: the regex matches of a piece are lists in memory
# Sheet XML as Excel, LibreOffice and the common libraries write it opens every <c> and
# <row> tag with its reference; any other spelling sends the sheet to the exact scan.
_ODD_SPACING = re.compile(rb"<(?:c|row)[\t\n\r]")
_PREFIXED = re.compile(rb":(?:c|row)[\s/>]")
_UNREFERENCED = re.compile(rb'<c(?:>|/>| (?!r="))|<row(?:>|/>| (?!r="))')
_CELL_COLUMN = re.compile(rb'<c r="([A-Z]{1,3})[0-9]')
_ROW_NUMBER = re.compile(rb'<row r="([0-9]{1,7})"')
_XLSX_TAG = re.compile(rb"<(?:[\w.-]+:)?(row|c)(?=[\s/>])([^>]*)>")
_R_ATTR = re.compile(rb"""(?:^|\s)r\s*=\s*["']([A-Za-z]*)([0-9]*)""")
_ODS_TAG = re.compile(
    rb"<(/?)(?:[\w.-]+:)?(table|table-row|table-cell|covered-table-cell)(?=[\s/>])([^>]*)>"
)
_REPEATED = re.compile(rb"""number-(?:rows|columns)-repeated\s*=\s*["']([0-9]+)""")


# A row whose first cell that is not a styled empty one (<c r="A5" s="1"/>) holds a value:
# a non-empty <v> (after an optional formula) or a non-empty inline string. One match a
# row, not one a cell, keeps the scan cheap (0.04 s for 50,000 rows of 9 cells). A row
# written otherwise is not counted, so the count of rows with values is never too high.
_XLSX_FILLED = re.compile(
    rb'<row r="([0-9]{1,7})"[^>]*>(?:<c [^>]*/>)*<c r="[A-Z]{1,3}[0-9]{1,7}"[^>]*>'
    rb"(?:<f[^>]*/>|<f[^>]*>[^<]*</f>)?<(?:v>[^<]|is><t(?: [^>]*)?>[^<])"
)


def xlsx_rows_past(pieces: Iterator[bytes], most: int) -> Iterator[bytes]:
    """``pieces`` passed on, counting the sheet's rows that hold a value on the way:
    :class:`RowsPast` as soon as they are more than ``most``."""
    rows: set[bytes] = set()
    for piece in pieces:
        rows.update(_XLSX_FILLED.findall(piece))
        if len(rows) > most:
            raise RowsPast(most)
        yield piece


def ods_rows_past(pieces: Iterator[bytes], most: int) -> Iterator[bytes]:
    """As :func:`xlsx_rows_past`, per table of an ODS ``content.xml``: a row holds a value
    when one of its cells has a value type (repeated rows count as many times)."""
    rows = repeat = 0
    filled = False
    for piece in pieces:
        for closing, tag, attributes in _ODS_TAG.findall(piece):
            if tag == b"table":
                rows = 0
            elif tag == b"table-row":
                if not closing:
                    repeat, filled = _repeat(attributes), False
                if (closing or attributes.endswith(b"/")) and filled:
                    rows += repeat
                    if rows > most:
                        raise RowsPast(most)
            elif not closing and b"value-type" in attributes:
                filled = True
        yield piece


class RowsPast(Exception):
    """A sheet has more rows with values than ``most`` (the header's included)."""

    def __init__(self, most: int) -> None:
        super().__init__(f"more than {most} rows hold values")
        self.most = most


def xml_pieces(blocks: Iterable[bytes]) -> Iterator[bytes]:
    """The unpacked part in pieces cut after a '>', so no tag straddles two pieces."""
    carry = b""
    pending: list[bytes] = []
    size = 0
    for block in blocks:
        pending.append(block)
        size += len(block)
        if size < _XML_PIECE:
            continue
        buffer = carry + b"".join(pending)
        pending, size = [], 0
        piece, carry = _cut(buffer)
        yield piece
    buffer = carry + b"".join(pending)
    piece, carry = _cut(buffer)
    yield piece
    yield carry


def _cut(buffer: bytes) -> tuple[bytes, bytes]:
    cut = buffer.rfind(b">") + 1
    piece, carry = buffer[:cut], buffer[cut:]
    tag = carry.rfind(b"<")
    carry = carry[tag:] if tag >= 0 else b""  # text between tags is never needed
    if len(carry) > _XML_PIECE:
        raise damaged("it holds a malformed sheet")
    return piece, carry


def xlsx_extent(
    first: Iterator[bytes], again: Callable[[], Iterator[bytes]], most: int
) -> tuple[int, int]:
    """(rows, columns) of a sheet's bounding box, from the pieces of its XML.

    The scan stops as soon as the box spans more than ``most`` cells (the sheet is
    refused then). Otherwise ``first`` is read to its end (every byte is counted
    as it is unpacked); ``again`` reads the part once more for the exact scan.
    """
    regular = _xlsx_extent_regular(first, most)
    if regular is not None and regular[0] * regular[1] > most:
        return regular
    for _ in first:
        pass
    return regular if regular is not None else _xlsx_extent_exact(again(), most)


def _xlsx_extent_regular(pieces: Iterator[bytes], most: int) -> tuple[int, int] | None:
    """Fast path for regularly written XML; None when any tag is spelled otherwise.

    Rows come from the row tags (one per row, cheap); a cell placed below every row
    tag seen so far is searched for rather than every cell's row number parsed.
    """
    rows = columns = 0
    for piece in pieces:
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
        if rows * columns > most:
            break
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


def _xlsx_extent_exact(pieces: Iterator[bytes], most: int) -> tuple[int, int]:
    """Follow calamine's placement tag by tag, references optional (slow, rarely needed)."""
    row = column = bottom = right = 0
    for piece in pieces:
        if bottom * right > most:
            break
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


def ods_extents(pieces: Iterator[bytes], most: int) -> list[tuple[int, int]]:
    """Every table's extent, repeats included; trailing empty repeats (LibreOffice
    writes a million of them) do not count, as calamine skips them too. The scan
    stops as soon as the tables span more than ``most`` cells."""
    extents: list[tuple[int, int]] = []
    row = repeat = column = row_right = bottom = right = 0
    for piece in pieces:
        if sum(r * c for r, c in extents) + bottom * right > most:
            return [*extents, (bottom, right)]
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
