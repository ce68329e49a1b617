"""A workbook with more data rows than the limit is refused by the scan of its XML, as soon
as the count passes the limit, before the sheet is read; rows without values (styled,
blank in between) do not count."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import xlsxwriter

from patron.imports.read import ReadLimits, read_path
from patron.imports.read.workbook import check_zipped_workbook
from patron.kit.errors import InvalidInput
from tests.test_import_read import HEADER, ROWS, write_ods, write_xlsx

MESSAGE = "the file has more than 2 data rows; at most 2 can be imported at once"


def _scan(path: Path, limits: ReadLimits) -> str:
    data = path.read_bytes()
    return check_zipped_workbook(io.BytesIO(data), len(data), limits)


@pytest.mark.parametrize("kind", ["xlsx", "ods"])
def test_one_row_past_the_limit_is_refused_by_the_scan(tmp_path: Path, kind: str) -> None:
    rows = [HEADER, *ROWS]  # three data rows
    path = (
        write_xlsx(tmp_path / "r.xlsx", {"S": rows})
        if kind == "xlsx"
        else write_ods(tmp_path / "r.ods", rows)
    )
    # The scan that runs before the sheet is read refuses it already.
    with pytest.raises(InvalidInput) as caught:
        _scan(path, ReadLimits(max_rows=2))
    assert caught.value.code == 96002
    assert MESSAGE in caught.value.message
    with pytest.raises(InvalidInput) as read:
        read_path(path, ReadLimits(max_rows=2))
    assert read.value.message == caught.value.message
    # At the limit the scan lets it through, and the sheet is read whole.
    assert _scan(path, ReadLimits(max_rows=3)) == kind
    assert read_path(path, ReadLimits(max_rows=3)).frame.height == 3


def test_rows_without_values_do_not_count(tmp_path: Path) -> None:
    path = tmp_path / "styled.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("S")
    bold = book.add_format({"bold": True})
    sheet.write_row(0, 0, HEADER)
    sheet.write_row(1, 0, ["Ann", "919900111111", "Pune"])
    sheet.write_row(4, 0, ["Bob", "919900333333", "Goa"])  # two blank rows before it
    for row in range(5, 40):
        sheet.write_blank(row, 0, None, bold)  # styled, no value
    book.close()
    assert _scan(path, ReadLimits(max_rows=2)) == "xlsx"
    assert read_path(path, ReadLimits(max_rows=2)).frame.height == 2
