"""Reading XLSX, XLS and ODS workbooks: zip bombs refused first, calamine kept apart.

A zipped workbook (XLSX, ODS) is checked here before anything reads it: every part
is unpacked for real and counted (``archive.py``), and the sheets' extents are read
from their XML on the way (``extent.py``). Then calamine, through fastexcel, reads
the workbook in a process of its own (``sheets.py``) whose memory is capped: it
believes sizes and counts written in the file, and a forged one makes it hold
gigabytes or abort its process. The workbook limit (``max_workbook_bytes``)
bounds both what the parts may unpack to and what the reading may use, that
process's interpreter included; the sheet it hands back holds at most an eighth.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
import zlib
from pathlib import Path
from typing import Any, BinaryIO

import polars as pl

from patron.codes import imports
from patron.imports.read.archive import Unpacked, check_directory, damaged, member_blocks
from patron.imports.read.archive import read_small as read_small_member
from patron.imports.read.extent import (
    RowsPast,
    ods_extents,
    ods_rows_past,
    xlsx_extent,
    xlsx_rows_past,
    xml_pieces,
)
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

log = logging.getLogger(__name__)

_ODS_MIMETYPE = b"application/vnd.oasis.opendocument.spreadsheet"
#: What calamine and the frames around it hold per cell of a sheet's bounding box, at
#: the least (measured: about 55 bytes for an empty cell, 100 for a filled one).
_BYTES_PER_CELL = 128
#: Of the workbook limit, what the reading process may not take: this process's own
#: buffers of the checks, still resident while that process reads.
_OURS = 32 * MB
_READ_SECONDS = 60
_SHEETS_SCRIPT = Path(__file__).with_name("sheets.py")
_MIDNIGHT = r"^(\d{4}-\d{2}-\d{2})[ T]00:00:00(?:\.0+)?$"
_DATETIME = r"^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(?:\.0+|(\.\d*[1-9])0*)?$"
_NOISY_DECIMAL = r"^-?[1-9]\d{0,14}\.\d+$"
_DATE_OR_DECIMAL = r"^\d{4}-\d{2}-\d{2}[ T]|^-?[1-9]\d{6,14}\.\d"


def read_workbook(
    stream: BinaryIO, path: Path | None, kind: str, filename: str, limits: ReadLimits
) -> SourceTable:
    """Read the one sheet with data of a workbook already checked (zipped ones by
    :func:`check_zipped_workbook`); ``path`` names ``stream``'s file, when it has one."""
    with tempfile.TemporaryDirectory(prefix="patron-workbook-") as work:
        if path is None:
            path = Path(work) / f"upload.{kind}"
            stream.seek(0)
            with path.open("wb") as copy:
                shutil.copyfileobj(stream, copy, MB)
        target = Path(work) / "sheet.arrow"
        found = _read_apart(path, target, filename, kind, limits)
        sheets: list[str] = found.get("sheets", [])
        if len(sheets) > 1:
            raise InvalidInput(
                imports.SEVERAL_SHEETS,
                f"the workbook has {len(sheets)} sheets with data ({', '.join(sheets)}): put "
                "each sheet in its own file and upload them one by one",
            )
        if not sheets:
            raise no_data()
        if not target.exists():
            raise InvalidInput(
                imports.UNREADABLE_FILE,
                f"the sheet '{sheets[0]}' holds {size_text(int(found['text']))} of cells, more "
                f"than the {size_text(_most_text(limits))} a workbook may bring: save the "
                "data as CSV and upload that",
            )
        sheet = pl.read_ipc(target)
    raw = _sheet_text(sheet).with_row_index(AT, offset=1)
    del sheet
    frame, headers = finish_table(Grid(raw, "row"), limits, header=True)
    return SourceTable(frame, headers, kind, None, None)


def _most_text(limits: ReadLimits) -> int:
    # The sheet is copied a few times here (text, header, empty rows dropped) and
    # stored: an eighth of the limit keeps all of that within it.
    return limits.max_workbook_bytes // 8


def _read_apart(
    path: Path, target: Path, filename: str, kind: str, limits: ReadLimits
) -> dict[str, Any]:
    """Run ``sheets.py`` on the workbook; what it found, or the refusal it ended in."""
    memory = max(limits.max_workbook_bytes - _OURS, 16 * MB)
    command = [
        sys.executable,
        "-P",  # this folder is not put on sys.path: its modules shadow nothing
        str(_SHEETS_SCRIPT),
        str(path),
        str(target),
        str(memory),
        str(_most_text(limits)),
    ]
    # One thread is all the reading needs; every thread's stack and arena is memory.
    env = {**os.environ, "POLARS_MAX_THREADS": "1", "RAYON_NUM_THREADS": "1"}
    env["RUST_BACKTRACE"] = "0"
    with subprocess.Popen(  # noqa: S603 - our own script, on paths made here
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    ) as process:
        try:
            out, err = process.communicate(timeout=_READ_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            raise InvalidInput(
                imports.UNREADABLE_FILE,
                f"reading the workbook took more than {_READ_SECONDS} seconds: save the data "
                "as CSV and upload that",
            ) from None
    found = _found(out) if process.returncode == 0 else None
    if found is not None:
        if "error" in found:
            raise InvalidInput(
                imports.UNREADABLE_FILE,
                f"'{filename}' could not be read as a {kind.upper()} workbook "
                f"({found['error']}): if it is password-protected, remove the password, "
                "or save it again as XLSX or CSV",
            )
        return found
    problem = err.decode("utf-8", "replace").strip()
    if "memory allocation" in problem or "MemoryError" in problem:
        raise InvalidInput(
            imports.UNREADABLE_FILE,
            f"reading the workbook would take more than {size_text(limits.max_workbook_bytes)} "
            "of memory (its sheets are too large, or it is made to expand): save the data as "
            "CSV and upload that",
        )
    log.warning("the workbook reader ended with %s: %s", process.returncode, problem[-2000:] or "-")
    raise damaged("it is damaged")


def _found(out: bytes) -> dict[str, Any] | None:
    """The JSON line ``sheets.py`` ends with, or None."""
    lines = out.decode("utf-8", "replace").strip().splitlines()
    try:
        found = json.loads(lines[-1]) if lines else None
    except ValueError:
        return None
    return found if isinstance(found, dict) else None


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


def check_zipped_workbook(stream: BinaryIO, size: int, limits: ReadLimits) -> str:
    """Refuse zip bombs and sheets too large to hold, before calamine unpacks anything.

    Every part is unpacked here, whatever the directory says, and counted against
    the workbook limit; the extent of each sheet is read from its XML on the way.
    A sheet with more rows of values than the row limit (the header's row aside) is
    refused as soon as the count passes it, before calamine reads anything.
    """
    check_directory(stream, size)
    unpacked = Unpacked(limits.max_workbook_bytes)
    budget = max(limits.max_workbook_bytes // _BYTES_PER_CELL, 1_000)
    cells = 0
    try:
        with zipfile.ZipFile(stream) as archive:
            members = archive.infolist()
            kind = _zip_workbook_kind(stream, members)
            for member in members:
                cells += _cells(stream, member, kind, unpacked, budget - cells, limits.max_rows)
                if cells > budget:
                    break  # the scan stopped there: the count is as far as it went
    except (zipfile.BadZipFile, KeyError, NotImplementedError, RuntimeError, OSError, zlib.error):
        raise damaged("it is damaged or encrypted") from None
    except RowsPast:
        raise InvalidInput(
            imports.TOO_MANY_ROWS,
            f"the file has more than {limits.max_rows:,} data rows; at most "
            f"{limits.max_rows:,} can be imported at once: split it into smaller files",
        ) from None
    if cells > budget:
        raise InvalidInput(
            imports.UNREADABLE_FILE,
            f"the workbook's sheets span at least {cells:,} cells, more than the {budget:,} "
            "that can be read safely: delete the unused rows and columns, or export the data "
            "as CSV",
        )
    return kind


def _zip_workbook_kind(stream: BinaryIO, members: list[zipfile.ZipInfo]) -> str:
    names = {member.filename for member in members}
    mimetype = next((member for member in members if member.filename == "mimetype"), None)
    if mimetype is not None:
        content = read_small_member(stream, mimetype, 100)
        if content is not None and content.strip() == _ODS_MIMETYPE:
            return "ods"
    if any(name.lower().endswith(".xml") for name in names) and "content.xml" not in names:
        return "xlsx"
    raise damaged("it is a ZIP archive but not an XLSX or ODS workbook")


def _cells(
    stream: BinaryIO,
    member: zipfile.ZipInfo,
    kind: str,
    unpacked: Unpacked,
    most: int,
    max_rows: int,
) -> int:
    """The cells of the sheets in ``member`` (0 for other parts), unpacking all of it,
    unless they are more than ``most``; :class:`RowsPast` as soon as a sheet has more than
    ``max_rows`` rows of values below its header."""
    name = member.filename
    blocks = member_blocks(stream, member, unpacked)
    if kind == "ods" and name == "content.xml":
        pieces = ods_rows_past(xml_pieces(blocks), max_rows + 1)
        return sum(rows * columns for rows, columns in ods_extents(pieces, most))
    if kind == "xlsx" and name.lower().endswith(".xml") and name != "xl/sharedStrings.xml":
        rows, columns = xlsx_extent(
            xlsx_rows_past(xml_pieces(blocks), max_rows + 1),
            lambda: xml_pieces(member_blocks(stream, member, None)),
            most,
        )
        return rows * columns
    for _ in blocks:
        pass  # not a sheet, but calamine may unpack it all the same
    return 0
