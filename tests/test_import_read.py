"""The import reader: real files of every supported kind, and each refusal."""

from __future__ import annotations

import datetime
import io
import zipfile
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import polars as pl
import pytest
import xlsxwriter
import xlwt
from polars.testing import assert_frame_equal

from patron.imports.read import ReadLimits, SourceTable, read_pasted, read_path, read_upload
from patron.kit.errors import InvalidInput

LIMITS = ReadLimits()
HEADER = ["Name", "Mobile", "City"]
# One logical table: accents, an empty cell, inner and edge whitespace kept as typed.
ROWS: list[list[str | None]] = [
    ["Ann", "919900111111", "Pune"],
    ["José Ñuñez", "919900222222", None],
    [" Bob  K ", "919900333333", "Goa"],
]
EXPECTED = pl.DataFrame(
    {name: [row[i] for row in ROWS] for i, name in enumerate(HEADER)},
    schema=dict.fromkeys(HEADER, pl.String),
)


def delimited(rows: Sequence[Sequence[str | None]], delimiter: str = ",") -> str:
    return "".join(delimiter.join(cell or "" for cell in row) + "\n" for row in rows)


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def write_xlsx(path: Path, sheets: dict[str, Sequence[Sequence[object]]]) -> Path:
    book = xlsxwriter.Workbook(str(path))
    day = book.add_format({"num_format": "yyyy-mm-dd"})
    stamp = book.add_format({"num_format": "yyyy-mm-dd hh:mm"})
    for name, rows in sheets.items():
        sheet = book.add_worksheet(name)
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                if value is None:
                    continue
                if isinstance(value, datetime.datetime):
                    sheet.write_datetime(r, c, value, stamp)
                elif isinstance(value, datetime.date):
                    sheet.write_datetime(r, c, value, day)
                elif isinstance(value, str):
                    sheet.write_string(r, c, value)
                else:
                    sheet.write(r, c, value)
    book.close()
    return path


def write_xls(path: Path, rows: Sequence[Sequence[object]]) -> Path:
    book = xlwt.Workbook()
    sheet = book.add_sheet("Customers")
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if value is not None:
                sheet.write(r, c, value)
    book.save(str(path))
    return path


def write_ods(path: Path, rows: Sequence[Sequence[object]]) -> Path:
    pd.DataFrame(list(rows[1:]), columns=list(rows[0])).to_excel(path, engine="odf", index=False)
    return path


def refused(code: int, fragment: str, read: object, *args: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        read(*args)  # type: ignore[operator]
    assert caught.value.code == code
    assert fragment in caught.value.message


def text_frame(columns: dict[str, list[str | None]]) -> pl.DataFrame:
    return pl.DataFrame(columns, schema=dict.fromkeys(columns, pl.String))


# -- delimited text --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "delimiter"),
    [("c.csv", ","), ("p.csv", "|"), ("t.tsv", "\t"), ("s.txt", ";")],
)
def test_each_delimiter_is_detected(tmp_path: Path, name: str, delimiter: str) -> None:
    path = write(tmp_path, name, delimited([HEADER, *ROWS], delimiter).encode())
    table = read_path(path, LIMITS)
    assert_frame_equal(table.frame, EXPECTED)
    assert table.headers == ("Name", "Mobile", "City")
    assert (table.file_format, table.delimiter, table.encoding) == ("csv", delimiter, "utf-8")


def test_delimiter_inside_quotes_does_not_count(tmp_path: Path) -> None:
    data = b'"Name, full";Mobile\n"Ann, A";919900111111\n'
    table = read_path(write(tmp_path, "q.csv", data), LIMITS)
    assert table.delimiter == ";"
    assert_frame_equal(
        table.frame, text_frame({"Name, full": ["Ann, A"], "Mobile": ["919900111111"]})
    )


@pytest.mark.parametrize(
    ("codec", "label"),
    [
        ("utf-8-sig", "utf-8-sig"),
        ("utf-16", "utf-16"),  # Python writes the BOM
        ("utf-16-le", "utf-16"),  # no BOM: found from the NUL bytes
        ("latin-1", "latin-1"),
        ("cp1252", "latin-1"),
    ],
)
def test_encodings(tmp_path: Path, codec: str, label: str) -> None:
    path = write(tmp_path, "e.csv", delimited([HEADER, *ROWS]).encode(codec))
    table = read_path(path, LIMITS)
    assert_frame_equal(table.frame, EXPECTED)
    assert table.encoding == label
    assert table.frame["Name"][1] == "José Ñuñez"


def test_windows_quotes_read_as_cp1252(tmp_path: Path) -> None:
    data = "Name,Note\nAnn,“quoted” \u2013 €5\n".encode("cp1252")
    table = read_path(write(tmp_path, "w.csv", data), LIMITS)
    assert table.frame.rows() == [("Ann", "“quoted” \u2013 €5")]


@pytest.mark.parametrize("newline", ["\r\n", "\r", "\n"])
def test_line_endings(tmp_path: Path, newline: str) -> None:
    data = delimited([HEADER, *ROWS]).replace("\n", newline).encode()
    assert_frame_equal(read_path(write(tmp_path, "n.csv", data), LIMITS).frame, EXPECTED)


def test_quoted_cells_keep_delimiters_newlines_and_quotes(tmp_path: Path) -> None:
    data = b'Name,Address,Note\r\n"Ann","12, Main St\r\nPune","say ""hi"""\r\nBob,"",plain\r\n'
    table = read_path(write(tmp_path, "q.csv", data), LIMITS)
    assert table.frame.rows() == [
        ("Ann", "12, Main St\nPune", 'say "hi"'),
        ("Bob", None, "plain"),
    ]


def test_stray_quote_inside_a_cell_is_literal(tmp_path: Path) -> None:
    data = b'Name,Item\nAnn,32" TV\nBob,"Desk"\n'
    table = read_path(write(tmp_path, "s.csv", data), LIMITS)
    assert table.frame.rows() == [("Ann", '32" TV'), ("Bob", "Desk")]


def test_empty_cells_are_null_and_whitespace_is_kept(tmp_path: Path) -> None:
    data = b"Name,Mobile,City\nAnn,,   \n\n   \n,919900111111,Goa\n"
    table = read_path(write(tmp_path, "w.csv", data), LIMITS)
    assert table.frame.rows() == [("Ann", None, "   "), (None, "919900111111", "Goa")]


def test_header_cells_are_stripped_and_empty_ones_named(tmp_path: Path) -> None:
    data = b" Name ,,City\nAnn,x,Pune\n"
    table = read_path(write(tmp_path, "h.csv", data), LIMITS)
    assert table.headers == ("Name", "column_2", "City")
    assert table.frame.columns == ["Name", "column_2", "City"]


def test_trailing_empty_column_is_dropped(tmp_path: Path) -> None:
    data = b"Name,Mobile,\nAnn,919900111111,\nBob,919900222222,\n"
    table = read_path(write(tmp_path, "t.csv", data), LIMITS)
    assert table.headers == ("Name", "Mobile")
    assert table.frame.rows() == [("Ann", "919900111111"), ("Bob", "919900222222")]


def test_trailing_empty_header_with_data_is_kept(tmp_path: Path) -> None:
    data = b"Name,Mobile,\nAnn,919900111111,x\n"
    table = read_path(write(tmp_path, "t.csv", data), LIMITS)
    assert table.headers == ("Name", "Mobile", "column_3")


def test_one_column_file(tmp_path: Path) -> None:
    table = read_path(write(tmp_path, "o.csv", b"Mobile\n919900111111\n\n919900222222\n"), LIMITS)
    assert (table.delimiter, table.headers) == (",", ("Mobile",))
    assert table.frame["Mobile"].to_list() == ["919900111111", "919900222222"]


# -- one table, every format -----------------------------------------------------------


def test_same_table_in_every_format_reads_the_same(tmp_path: Path) -> None:
    text = delimited([HEADER, *ROWS])
    files = [
        write(tmp_path, "a.csv", text.encode()),
        write(tmp_path, "b.csv", text.replace(",", ";").replace("\n", "\r\n").encode("cp1252")),
        write(tmp_path, "c.tsv", text.replace(",", "\t").encode("utf-16")),
        write(tmp_path, "d.txt", text.replace(",", "|").encode("utf-8-sig")),
        write_xlsx(tmp_path / "e.xlsx", {"Customers": [HEADER, *ROWS]}),
        write_xls(tmp_path / "f.xls", [HEADER, *ROWS]),
        write_ods(tmp_path / "g.ods", [HEADER, *ROWS]),
    ]
    tables = [read_path(path, LIMITS) for path in files]
    for table in tables:
        assert_frame_equal(table.frame, EXPECTED)
        assert table.headers == tuple(HEADER)
    assert [t.file_format for t in tables] == ["csv", "csv", "csv", "csv", "xlsx", "xls", "ods"]
    assert [t.delimiter for t in tables] == [",", ";", "\t", "|", None, None, None]
    assert [t.encoding for t in tables] == [
        "utf-8",
        "latin-1",
        "utf-16",
        "utf-8-sig",
        None,
        None,
        None,
    ]


# -- workbook values -------------------------------------------------------------------

TYPED_ROWS: list[list[object]] = [
    ["Mobile", "Amount", "Joined", "Seen", "Member", "Code"],
    [
        919900111111.0,
        12.5,
        datetime.date(2024, 3, 1),
        datetime.datetime(2024, 3, 1, 10, 30),
        True,
        "007",
    ],
    [5.0, -0.25, datetime.date(1999, 12, 31), datetime.datetime(2024, 3, 2), False, None],
]
TYPED_EXPECTED = [
    ("919900111111", "12.5", "2024-03-01", "2024-03-01T10:30:00", "true", "007"),
    ("5", "-0.25", "1999-12-31", "2024-03-02", "false", None),
]


def test_xlsx_numbers_dates_and_booleans_become_text(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "t.xlsx", {"Customers": TYPED_ROWS})
    table = read_path(path, LIMITS)
    assert table.frame.rows() == TYPED_EXPECTED
    assert all(dtype == pl.String for dtype in table.frame.dtypes)


def test_xls_and_ods_values_become_the_same_text(tmp_path: Path) -> None:
    xls = read_path(write_xls(tmp_path / "t.xls", TYPED_ROWS), LIMITS)
    ods = read_path(write_ods(tmp_path / "t.ods", TYPED_ROWS), LIMITS)
    # xlwt writes plain serial numbers for dates: check the numbers and booleans only
    assert xls.frame.select("Mobile", "Amount", "Member").rows() == [
        ("919900111111", "12.5", "true"),
        ("5", "-0.25", "false"),
    ]
    assert ods.frame.rows() == TYPED_EXPECTED


def test_big_float_keeps_its_digits(tmp_path: Path) -> None:
    rows: list[list[object]] = [["Mobile", "Price"], [1.5e20, 123456789.123], [-3.0, 0.1]]
    table = read_path(write_xlsx(tmp_path / "f.xlsx", {"S": rows}), LIMITS)
    assert table.frame.rows() == [("150000000000000000000", "123456789.123"), ("-3", "0.1")]


def test_table_may_start_below_and_right_of_a1(tmp_path: Path) -> None:
    rows: list[list[object]] = [[None, None], [None, "Name", "City"], [None, "Ann", "Pune"]]
    table = read_path(write_xlsx(tmp_path / "o.xlsx", {"S": rows}), LIMITS)
    assert table.headers == ("Name", "City")
    assert table.frame.rows() == [("Ann", "Pune")]


def test_workbook_with_two_data_sheets_is_refused(tmp_path: Path) -> None:
    sheets = {"Customers": [HEADER, *ROWS], "Notes": [], "Stores": [["Code"], ["S1"]]}
    path = write_xlsx(tmp_path / "two.xlsx", sheets)
    refused(
        96007,
        "the workbook has 2 sheets with data (Customers, Stores): put each sheet in its own file",
        read_path,
        path,
        LIMITS,
    )


def test_workbook_with_one_data_sheet_and_an_empty_one_is_read(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "one.xlsx", {"Empty": [], "Customers": [HEADER, *ROWS]})
    assert_frame_equal(read_path(path, LIMITS).frame, EXPECTED)


def test_hidden_sheet_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "hidden.xlsx"
    book = xlsxwriter.Workbook(str(path))
    data = book.add_worksheet("Customers")
    lists = book.add_worksheet("Lists")
    for r, row in enumerate([HEADER, *ROWS]):
        for c, value in enumerate(row):
            if value is not None:
                data.write_string(r, c, value)
    lists.write_column(0, 0, ["Pune", "Goa"])
    lists.hide()
    book.close()
    assert_frame_equal(read_path(path, LIMITS).frame, EXPECTED)


# -- refusals --------------------------------------------------------------------------


def test_unsupported_extension(tmp_path: Path) -> None:
    path = write(tmp_path, "report.pdf", b"%PDF-1.4")
    refused(
        96005,
        "unsupported file type '.pdf': upload a CSV, TSV, XLSX, XLS or ODS file",
        read_path,
        path,
        LIMITS,
    )


def test_upload_larger_than_the_limit(tmp_path: Path) -> None:
    data = delimited([HEADER, *ROWS]).encode()
    small = ReadLimits(max_bytes=2 * 1024 * 1024)
    big = data + b"x" * (3 * 1024 * 1024)
    refused(96001, "the file is 3 MB; the largest file", read_upload, big, "a.csv", small)
    refused(96001, "can be imported is 2 MB", read_path, write(tmp_path, "a.csv", big), small)
    refused(96001, "the largest file", read_upload, data, "a.xlsx", ReadLimits(max_bytes=10))


def test_too_many_rows(tmp_path: Path) -> None:
    limits = ReadLimits(max_rows=2)
    text = delimited([HEADER, *ROWS]).encode()
    message = "the file has 3 data rows; at most 2 can be imported"
    refused(96002, message, read_path, write(tmp_path, "r.csv", text), limits)
    xlsx = write_xlsx(tmp_path / "r.xlsx", {"S": [HEADER, *ROWS]})
    # A workbook is refused while its XML is scanned, once the count passes the limit.
    refused(96002, "the file has more than 2 data rows; at most 2", read_path, xlsx, limits)
    assert read_path(xlsx, ReadLimits(max_rows=3)).frame.height == 3


def test_too_many_columns(tmp_path: Path) -> None:
    limits = ReadLimits(max_columns=2)
    message = "the file has 3 columns; at most 2 can be imported"
    csv_path = write(tmp_path, "c.csv", delimited([HEADER, *ROWS]).encode())
    refused(96003, message, read_path, csv_path, limits)
    xlsx = write_xlsx(tmp_path / "c.xlsx", {"S": [HEADER, *ROWS]})
    refused(96003, message, read_path, xlsx, limits)


def test_cell_too_long(tmp_path: Path) -> None:
    limits = ReadLimits(max_cell_chars=12)
    rows = [HEADER, ["Ann", "919900111111", "Pune"], ["Bob", "9199001111112", "Goa"]]
    csv_path = write(tmp_path, "l.csv", delimited(rows).encode())
    refused(
        96004,
        "line 3, column 'Mobile': a cell has 13 characters; at most 12 are allowed",
        read_path,
        csv_path,
        limits,
    )
    xlsx = write_xlsx(tmp_path / "l.xlsx", {"S": rows})
    refused(96004, "row 3, column 'Mobile': a cell has 13 characters", read_path, xlsx, limits)


def test_line_longer_than_any_row_can_be(tmp_path: Path) -> None:
    limits = ReadLimits(max_columns=2, max_cell_chars=5)
    data = b"a,b\n" + b"x" * 100 + b"\n"
    refused(
        96004, "line 2 is 100 characters long", read_path, write(tmp_path, "x.csv", data), limits
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"a,b,c\n1,2,3\n4,5,6,7\n", "line 3 has 4 cells but the header has 3"),
        (b"a,b,c\n1,2,3\n4,5\n", "line 3 has 2 cells but the header has 3"),
        (b'a,b,c\n1,"two\nlines",3\n\n4,5\n', "line 5 has 2 cells but the header has 3"),
        (b'a,b,c\n1,"2" x,3\n4,5\n', "line 3 has 2 cells but the header has 3"),
    ],
)
def test_ragged_rows(tmp_path: Path, data: bytes, message: str) -> None:
    path = write(tmp_path, "r.csv", data)
    refused(96009, f"{message}: check the delimiter and quoting", read_path, path, LIMITS)


def test_duplicate_headers(tmp_path: Path) -> None:
    data = b"Name,Mobile,Email,mobile \nAnn,1,a@b.c,2\n"
    message = "the header 'mobile' appears twice, in columns 2 and 4"
    refused(96010, message, read_path, write(tmp_path, "d.csv", data), LIMITS)
    xlsx = write_xlsx(tmp_path / "d.xlsx", {"S": [["Name", "Name"], ["Ann", "Bob"]]})
    refused(96010, "the header 'Name' appears twice, in columns 1 and 2", read_path, xlsx, LIMITS)


@pytest.mark.parametrize(
    "data", [b"", b"\n\n", b"Name,Mobile\n", b"Name,Mobile\r\n,\r\n\r\n", b"\xef\xbb\xbf"]
)
def test_no_data_rows(tmp_path: Path, data: bytes) -> None:
    refused(96008, "the file has no data rows", read_path, write(tmp_path, "e.csv", data), LIMITS)


def test_header_only_workbook(tmp_path: Path) -> None:
    xlsx = write_xlsx(tmp_path / "h.xlsx", {"S": [HEADER]})
    refused(96008, "the file has no data rows", read_path, xlsx, LIMITS)
    empty = write_xlsx(tmp_path / "e.xlsx", {"S": []})
    refused(96008, "the file has no data rows", read_path, empty, LIMITS)


def test_binary_garbage(tmp_path: Path) -> None:
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4
    refused(
        96006, "the file is not readable text", read_path, write(tmp_path, "p.csv", png), LIMITS
    )
    noise = bytes((i * 7919) % 256 for i in range(4096)).replace(b"\x00", b"\x01")
    refused(96006, "not readable text", read_path, write(tmp_path, "n.csv", noise), LIMITS)


def test_zip_named_csv_is_refused(tmp_path: Path) -> None:
    xlsx = write_xlsx(tmp_path / "real.xlsx", {"S": [HEADER, *ROWS]})
    fake = write(tmp_path, "export.csv", xlsx.read_bytes())
    refused(96006, "'export.csv' is a ZIP archive", read_path, fake, LIMITS)


def test_ole2_file_is_read_as_xls_whatever_its_name(tmp_path: Path) -> None:
    xls = write_xls(tmp_path / "real.xls", [HEADER, *ROWS])
    table = read_path(write(tmp_path, "export.csv", xls.read_bytes()), LIMITS)
    assert table.file_format == "xls"
    assert_frame_equal(table.frame, EXPECTED)


def test_text_named_xlsx_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "fake.xlsx", delimited([HEADER, *ROWS]).encode())
    refused(96006, "'fake.xlsx' is not a valid XLSX workbook", read_path, path, LIMITS)


def test_zip_bomb_is_refused_without_unpacking(tmp_path: Path) -> None:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bomb:
        bomb.writestr("[Content_Types].xml", "<Types/>")
        with bomb.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as member:
            block = b"\x00" * (1024 * 1024)
            for _ in range(1024):  # 1 GiB of zeros, about 1 MB packed
                member.write(block)
    path = write(tmp_path, "bomb.xlsx", archive.getvalue())
    assert path.stat().st_size < 2 * 1024 * 1024
    part = "the workbook part 'xl/worksheets/sheet1.xml' is compressed"
    refused(96006, part, read_path, path, LIMITS)
    small = ReadLimits(max_workbook_bytes=1024 * 1024)
    refused(96006, "the workbook unpacks to more than 1 MB", read_path, path, small)


def test_sparse_sheet_too_large_to_hold_is_refused(tmp_path: Path) -> None:
    # Two values, A1 and XFD1048576: calamine would allocate every cell between.
    path = tmp_path / "sparse.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet()
    sheet.write_string(0, 0, "Name")
    sheet.write_string(1_048_575, 16_383, "x")
    book.close()
    assert path.stat().st_size < 10_000
    refused(
        96006, "the workbook's sheets span at least 17,179,869,184 cells", read_path, path, LIMITS
    )


def test_sparse_sheet_written_without_references_is_refused(tmp_path: Path) -> None:
    # Cells without an r attribute and a prefixed namespace take the exact scan.
    empties = "<x:c/>" * 5000
    sheet_xml = (
        '<x:worksheet xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        '<x:sheetData><x:row><x:c t="inlineStr"><x:is><x:t>a</x:t></x:is></x:c></x:row>'
        f'<x:row r="900000">{empties}<x:c t="inlineStr"><x:is><x:t>b</x:t></x:is></x:c></x:row>'
        "</x:sheetData></x:worksheet>"
    )
    path = write_xlsx(tmp_path / "base.xlsx", {"Sheet1": [["a"]]})
    with zipfile.ZipFile(path) as source:
        parts = {name: source.read(name) for name in source.namelist()}
    parts["xl/worksheets/sheet1.xml"] = sheet_xml.encode()
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as target:
        for name, content in parts.items():
            target.writestr(name, content)
    crafted = write(tmp_path, "crafted.xlsx", archive.getvalue())
    refused(
        96006, "the workbook's sheets span at least 4,500,900,000 cells", read_path, crafted, LIMITS
    )


# -- pasted text -----------------------------------------------------------------------


def test_pasted_tab_separated() -> None:
    table = read_pasted("Ann\t919900111111\tPune\r\nBob\t919900222222\t\r\n", LIMITS)
    expected = {
        "column_1": ["Ann", "Bob"],
        "column_2": ["919900111111", "919900222222"],
        "column_3": ["Pune", None],
    }
    assert_frame_equal(table.frame, text_frame(expected))
    assert (table.file_format, table.delimiter, table.encoding) == ("pasted", "\t", None)
    assert table.headers == ("column_1", "column_2", "column_3")


def test_pasted_comma_separated() -> None:
    table = read_pasted('Ann,"Pune, MH"\n\nBob,Goa\n', LIMITS)
    assert table.delimiter == ","
    assert table.frame.rows() == [("Ann", "Pune, MH"), ("Bob", "Goa")]


def test_pasted_single_column() -> None:
    table = read_pasted("919900111111\n919900222222", LIMITS)
    assert table.headers == ("column_1",)
    assert table.frame["column_1"].to_list() == ["919900111111", "919900222222"]


def test_pasted_refusals() -> None:
    refused(96008, "nothing was pasted", read_pasted, " \n\n", LIMITS)
    refused(
        96011,
        "at most 2 rows can be pasted; upload a file for more",
        read_pasted,
        "a\nb\n\nc\n",
        ReadLimits(max_pasted_rows=2),
    )
    refused(96009, "line 2 has 1 cells but the first line has 2", read_pasted, "a\tb\nc\n", LIMITS)
    refused(96004, "line 1, column 'column_1'", read_pasted, "abcdef", ReadLimits(max_cell_chars=5))


def test_source_table_fields() -> None:
    table = read_pasted("x", LIMITS)
    assert isinstance(table, SourceTable)
    assert table.headers == tuple(table.frame.columns)
