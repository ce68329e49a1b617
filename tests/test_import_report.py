"""The import report: original columns plus outcomes, neutralized, as CSV and XLSX."""

from __future__ import annotations

import io
import json
import random
import re
import zipfile
from pathlib import Path

import polars as pl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from patron.cli.main import app
from patron.imports import jobs
from patron.imports.report import (
    REPORT_COLUMNS,
    build_report,
    header_names,
    neutralize,
    report_csv,
    report_xlsx,
    summarize,
)
from tests.conftest import Api
from tests.importing import csv, import_org
from tests.test_cli import database_url

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


# -- headers a spreadsheet would evaluate, and headers named like the report's columns --


def test_neutralized_headers_stay_distinct_and_in_order() -> None:
    # "=x" is shown as "'=x", the name of the next column: the neutralized one is numbered.
    source = pl.DataFrame({"=x": ["a"], "'=x": ["b"], "'=x (2)": ["c"], "+y": ["d"]})
    report = build_report(source, make_outcomes([(0, "inserted", [], [], 1)]))
    assert report.columns == ["'=x (3)", "'=x", "'=x (2)", "'+y", *REPORT_COLUMNS]
    assert report.row(0) == ("a", "b", "c", "d", "inserted", "", "", "1")
    assert header_names(["-1", "'-1", "'-1 (2)", "=b"]) == ["'-1 (3)", "'-1", "'-1 (2)", "'=b"]
    # The report writers neutralize again; the names stay as they are.
    back = pl.read_csv(report_csv(report), infer_schema=False, empty_string_is_null=False)
    assert back.columns == report.columns
    sheet = pl.read_excel(report_xlsx(report), engine="calamine", drop_empty_cols=False)
    assert sheet.columns == report.columns
    assert neutralize(pl.DataFrame({"=x": ["1"], "'=x": ["2"]})).columns == ["'=x (2)", "'=x"]


def test_report_columns_step_aside_from_neutralized_and_suffixed_headers() -> None:
    source = pl.DataFrame(
        {"status": ["a"], "status (import)": ["b"], "=errors": ["c"], "customer_id": ["d"]}
    )
    report = build_report(source, make_outcomes([(0, "skipped", [], [], 4)]))
    assert report.columns == [
        "status",
        "status (import)",
        "'=errors",
        "customer_id",
        "status (import) (import)",
        "errors",
        "auto_corrections",
        "customer_id (import)",
    ]
    assert report.row(0) == ("a", "b", "c", "d", "skipped", "", "", "4")


# -- the same file through the API and the command line, on both databases ---------------

CLASHING = csv(
    "First Name,Mobile,Store,=x,'=x,status,customer_id",
    "Ann,919800005001,mal,=1+1,'=x,gold,C-1",
    "Bo,12,mal,plain,@y,silver,C-2",
)
CLASHING_MAPPING = {"First Name": "first_name", "Mobile": "mobile", "Store": "store"}
CLASHING_REPORT = [
    "First Name",
    "Mobile",
    "Store",
    "'=x (2)",
    "'=x",
    "status",
    "customer_id",
    "status (import)",
    "errors",
    "auto_corrections",
    "customer_id (import)",
]


def _check_clashing_report(csv_bytes: bytes, xlsx_bytes: bytes) -> None:
    frame = pl.read_csv(io.BytesIO(csv_bytes), infer_schema=False, empty_string_is_null=False)
    assert frame.columns == CLASHING_REPORT
    assert frame.row(0)[:7] == ("Ann", "919800005001", "mal", "'=1+1", "'=x", "gold", "C-1")
    assert frame.row(1)[:7] == ("Bo", "12", "mal", "plain", "'@y", "silver", "C-2")
    assert frame["status (import)"].to_list() == ["inserted", "rejected"]
    assert frame["customer_id (import)"][0].isdigit()
    sheet = pl.read_excel(io.BytesIO(xlsx_bytes), engine="calamine", drop_empty_cols=False)
    assert sheet.columns == CLASHING_REPORT
    assert sheet["status (import)"].to_list() == ["inserted", "rejected"]
    assert sheet["'=x (2)"].to_list() == ["'=1+1", "plain"]


def test_report_of_clashing_headers_over_the_api(engine: Engine, app_client: TestClient) -> None:
    api = Api(app_client, import_org(engine))
    created = api.post(
        "/v2/imports",
        files={"file": ("clash.csv", CLASHING.encode(), "text/csv")},
        data={"mapping": json.dumps(CLASHING_MAPPING), "confirm": "true"},
    )
    assert created.status_code == 202, created.text
    import_id = created.json()["id"]
    jobs.run_pending(engine)
    assert api.get(f"/v2/imports/{import_id}").json()["state"] == "committed"
    as_csv = api.get(f"/v2/imports/{import_id}/report?format=csv", role="viewer")
    as_xlsx = api.get(f"/v2/imports/{import_id}/report?format=xlsx", role="viewer")
    assert as_csv.status_code == 200, as_csv.text
    assert as_xlsx.status_code == 200, as_xlsx.text
    _check_clashing_report(as_csv.content, as_xlsx.content)


def test_report_of_clashing_headers_from_the_command_line(engine: Engine, tmp_path: Path) -> None:
    org = import_org(engine)
    source = tmp_path / "clash.csv"
    source.write_text(CLASHING, encoding="utf-8")
    maps = [arg for pair in CLASHING_MAPPING.items() for arg in ("--map", "=".join(pair))]
    runner = CliRunner(env={"PATRON_DATABASE_URL": database_url(engine)})
    as_csv, as_xlsx = tmp_path / "report.csv", tmp_path / "report.xlsx"
    command = ["import", str(source), *maps, "--yes", "--report", str(as_csv), "--json"]
    done = runner.invoke(app, [*command, "--org", org.name])
    assert done.exit_code == 0, f"{done.output}\n{done.exception!r}"
    import_id = str(json.loads(done.stdout)["id"])
    again = runner.invoke(
        app, ["imports", "report", import_id, "--output", str(as_xlsx), "--org", org.name]
    )
    assert again.exit_code == 0, f"{again.output}\n{again.exception!r}"
    assert "Traceback" not in done.output + again.output
    _check_clashing_report(as_csv.read_bytes(), as_xlsx.read_bytes())
