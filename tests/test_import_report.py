"""The import report: original columns plus outcomes, neutralized, as CSV and XLSX."""

from __future__ import annotations

import io
import random
import re
import zipfile

import polars as pl
import pytest

from patron.imports.report import (
    REPORT_COLUMNS,
    build_report,
    neutralize,
    report_csv,
    report_xlsx,
    summarize,
)

OUTCOME_SCHEMA = {
    "row": pl.Int64,
    "status": pl.String,
    "errors": pl.List(pl.String),
    "auto_corrections": pl.List(pl.String),
    "customer_id": pl.Int64,
}

STATUS_CYCLE = ("rejected", "inserted", "updated", "skipped")
RISKY = ["=SUM(A1)", "+1", "-2", "@cmd", "\tx", "\rx", "normal", "a=b"]


def make_outcomes(
    rows: list[tuple[int | None, str, list[str], list[str], int | None]],
) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=OUTCOME_SCHEMA, orient="row")


def sample() -> tuple[pl.DataFrame, pl.DataFrame]:
    source = pl.DataFrame(
        {
            "First Name": ["Tom", "Huck", "Becky", '=HYPERLINK("x")'],
            "Mobile": ["919900111111", "00123", "", "+91 99"],
        }
    )
    outcomes = make_outcomes(
        [
            (2, "skipped", [], [], 12),
            (0, "inserted", [], ["mobile: country code added"], 10),
            (3, "rejected", ["mobile is not valid", "first name has symbols"], [], None),
            (1, "updated", [], ["email: lower-cased", "mobile: spaces removed"], 11),
        ]
    )
    return source, outcomes


EXPECTED = pl.DataFrame(
    {
        "First Name": ["Tom", "Huck", "Becky", '\'=HYPERLINK("x")'],
        "Mobile": ["919900111111", "00123", "", "'+91 99"],
        "status": ["inserted", "updated", "skipped", "rejected"],
        "errors": ["", "", "", "mobile is not valid; first name has symbols"],
        "auto_corrections": [
            "mobile: country code added",
            "email: lower-cased; mobile: spaces removed",
            "",
            "",
        ],
        "customer_id": ["10", "11", "12", ""],
    }
)


def test_the_report_is_the_source_plus_outcomes_in_file_order() -> None:
    report = build_report(*sample())
    assert report.schema == pl.Schema(dict.fromkeys(EXPECTED.columns, pl.String))
    assert report.equals(EXPECTED)


def test_shuffled_outcomes_still_come_out_in_file_order() -> None:
    size = 1_000
    source = pl.DataFrame({"n": [str(i) for i in range(size)]})
    rows = list(range(size))
    random.Random(7).shuffle(rows)
    outcomes = make_outcomes([(row, "inserted", [], [], row * 2) for row in rows])
    report = build_report(source, outcomes)
    assert report["n"].to_list() == [str(i) for i in range(size)]
    assert report["customer_id"].to_list() == [str(i * 2) for i in range(size)]


@pytest.mark.parametrize("rows", [[0], [0, 1, 1], [0, 2], [None, 1]])
def test_outcomes_must_cover_every_row_once(rows: list[int | None]) -> None:
    source = pl.DataFrame({"n": ["a", "b"]})
    outcomes = make_outcomes([(row, "skipped", [], [], None) for row in rows])
    with pytest.raises(ValueError, match="exactly once"):
        build_report(source, outcomes)


def test_only_formula_triggers_get_an_apostrophe() -> None:
    frame = neutralize(pl.DataFrame({"cell": RISKY}))
    assert frame["cell"].to_list() == [
        "'=SUM(A1)",
        "'+1",
        "'-2",
        "'@cmd",
        "'\tx",
        "'\rx",
        "normal",
        "a=b",
    ]
    # Neutralizing twice changes nothing more.
    assert neutralize(frame).equals(frame)


def test_every_column_and_the_header_are_neutralized() -> None:
    source = pl.DataFrame({"=cmd": ["=1"], "other": ["@x"]})
    report = build_report(source, make_outcomes([(0, "inserted", [], [], 1)]))
    assert report.columns == ["'=cmd", "other", *REPORT_COLUMNS]
    assert report.row(0) == ("'=1", "'@x", "inserted", "", "", "1")


def test_report_column_names_already_in_the_file_get_a_suffix() -> None:
    source = pl.DataFrame({"status": ["gold"], "Customer_Id": ["C1"], "errors": ["none"]})
    report = build_report(source, make_outcomes([(0, "updated", [], [], 5)]))
    assert report.columns == [
        "status",
        "Customer_Id",
        "errors",
        "status (import)",
        "errors (import)",
        "auto_corrections",
        "customer_id",
    ]
    assert report.row(0) == ("gold", "C1", "none", "updated", "", "", "5")


def test_csv_round_trips_with_a_bom_and_crlf() -> None:
    source = pl.DataFrame(
        {"cell": RISKY, "note": ["a,b", 'say "hi"', "x\ny", "", "Tên", "é", "1", "2"]}
    )
    outcomes = make_outcomes([(i, "inserted", [], [], i) for i in range(len(RISKY))])
    report = build_report(source, outcomes)
    data = report_csv(report)
    assert data.startswith(b"\xef\xbb\xbfcell,note,status,")
    assert b"\r\n" in data
    assert data.count(b"\r\n") == len(RISKY) + 1
    back = pl.read_csv(data, infer_schema=False, empty_string_is_null=False)
    assert back.columns == report.columns
    assert back.equals(report)
    assert back["cell"].to_list()[:6] == ["'=SUM(A1)", "'+1", "'-2", "'@cmd", "'\tx", "'\rx"]


def test_xlsx_keeps_every_cell_as_the_same_text() -> None:
    source = pl.DataFrame(
        {
            "cell": RISKY,
            "code": [
                "00123",
                "919900111111",
                "1e5",
                "TRUE",
                "2024-01-01",
                "http://x.io",
                "",
                " a\r\nb ",
            ],
        }
    )
    outcomes = make_outcomes(
        [(i, "rejected", ["bad", "worse"], [], None) for i in range(len(RISKY))]
    )
    report = build_report(source, outcomes)
    data = report_xlsx(report)
    back = pl.read_excel(data, engine="calamine", sheet_name="report", drop_empty_cols=False)
    # Blank cells read back as nulls; everything else is the same text, as text.
    assert back.schema == report.schema
    assert back.with_columns(pl.all().fill_null("")).equals(report)
    assert back["code"].to_list()[:2] == ["00123", "919900111111"]


def test_xlsx_header_is_bold_and_cells_are_strings() -> None:
    report = build_report(
        pl.DataFrame({"Mobile": ["919900111111"]}), make_outcomes([(0, "inserted", [], [], 7)])
    )
    with zipfile.ZipFile(io.BytesIO(report_xlsx(report))) as archive:
        sheet = archive.read("xl/worksheets/sheet1.xml").decode()
        styles = archive.read("xl/styles.xml").decode()
        workbook = archive.read("xl/workbook.xml").decode()
    assert 'name="report"' in workbook
    assert "<b/>" in styles
    assert "<f>" not in sheet
    # Every written cell is a string (shared t="s" or inline t="inlineStr"), never
    # a number or a formula. The empty errors and corrections cells stay blank:
    # 5 header cells, 3 data cells.
    cells = re.findall(r"<c [^>]*>", sheet)
    assert len(cells) == 8
    assert all(re.search(r' t="(s|inlineStr)"', cell) for cell in cells)
    assert "<v>919900111111</v>" not in sheet


def test_summarize_counts() -> None:
    outcomes = make_outcomes(
        [
            (0, "inserted", [], ["a"], 1),
            (1, "inserted", [], [], 2),
            (2, "updated", [], ["b", "c"], 3),
            (3, "skipped", [], ["d"], 4),
            (4, "rejected", ["x"], ["e"], None),
            (5, "rejected", ["y"], [], None),
        ]
    )
    assert summarize(outcomes) == {
        "total": 6,
        "inserted": 2,
        "updated": 1,
        "skipped": 1,
        "rejected": 2,
        "auto_corrected": 3,
    }
    assert summarize(outcomes.clear()) == dict.fromkeys(
        ("total", "inserted", "updated", "skipped", "rejected", "auto_corrected"), 0
    )


def test_a_large_shuffled_report_keeps_file_order() -> None:
    size = 100_000
    source = pl.DataFrame(
        {
            "Mobile": pl.int_range(size, eager=True).cast(pl.String),
            "Name": pl.Series(["=x", "Tom", "-y", "Becky"] * (size // 4)),
        }
    )
    statuses = pl.Series(list(STATUS_CYCLE) * (size // 4))
    outcomes = pl.DataFrame(
        {
            "row": pl.int_range(size, eager=True).shuffle(seed=3),
            "status": statuses,
            "errors": [["bad mobile", "bad name"], [], [], []] * (size // 4),
            "auto_corrections": [[], ["trimmed"], [], []] * (size // 4),
            "customer_id": pl.Series([None, 1, 2, 3] * (size // 4), dtype=pl.Int64),
        },
        schema=OUTCOME_SCHEMA,
    )
    report = build_report(source, outcomes)
    assert report.height == size
    assert report["Name"].head(4).to_list() == ["'=x", "Tom", "'-y", "Becky"]
