"""The readers of an import stored in parts (a file of more than ``PATRON_IMPORT_CHUNK_ROWS``
rows, here 7) give what they give for the same file stored whole: the console's upload and
mapping step, the outcome pages (API, console, command line), resubmitting rejected rows and
the XLSX report; ``patron imports suggest`` reads a file's start only."""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from polars.testing import assert_frame_equal
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from patron.auth.actor import Role
from patron.cli.main import app
from patron.customer.tables import customers
from patron.imports import consent, jobs, resubmit, service, wizard
from patron.imports import repository as imports_repository
from patron.imports.read import ReadLimits, read_path, read_upload
from patron.imports.read.head import HEAD_BYTES, read_headers, text_headers
from patron.kit.db import transaction
from patron.kit.errors import InvalidInput
from patron.kit.pagination import Page
from patron.subscriptions.tables import consent_ledger, subscriptions
from tests.conftest import Api, OrgHandle
from tests.importing import (
    MEMBERS_HEADER,
    confirm,
    csv,
    editor,
    import_org,
    letters,
    run,
    start,
    undo,
)
from tests.test_cli import database_url
from tests.web.console import Console, opened
from tests.web.test_imports_pages import draft_of, mapping_form, record
from tests.web.uploads import HEADER, XLSX, people, store_org, xlsx


def stored(engine: Engine, org: OrgHandle, import_id: int, kind: str) -> list[pl.DataFrame]:
    with transaction(engine, write=False) as conn:
        return list(imports_repository.iter_parts(conn, org.id, import_id, kind))


# --- the console's upload ------------------------------------------------------------------


def console_file() -> bytes:
    """20 people over three chunks: a rejected row in each, a cell of two lines, and a column
    filled only in the last chunk (its samples come from there)."""
    lines = [",".join(f'"{cell}"' for cell in [*HEADER, "Note"])]
    for at, row in enumerate(people(1, 20, bad=[2, 9, 16])):
        if at == 10:
            row[1] = "Two\nLines"
        note = f"note{at}" if at >= 15 else ""
        lines.append(",".join(f'"{cell}"' for cell in [*row, note]))
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture
def console(engine: Engine) -> Iterator[Console]:
    with opened(engine) as console:
        store_org(engine, console.org)
        yield console


def test_console_upload_is_stored_and_previewed_as_the_api_upload(
    console: Console, engine: Engine, app_client: TestClient, chunked: Callable[[bool], None]
) -> None:
    chunked(True)
    data = console_file()
    browser = console.browser(Role.editor)
    answer = browser.post(
        "/imports/new",
        {"profile": "loyalty-customers"},
        files=[("files", ("members.csv", data, "text/csv"))],
        follow_redirects=False,
    )
    import_id = draft_of(answer)
    parts = stored(engine, console.org, import_id, "source")
    assert [part.height for part in parts] == [7, 7, 6]
    whole = read_upload(data, "members.csv", ReadLimits()).frame
    assert_frame_equal(pl.concat(parts), whole)

    html = browser.get(f"/imports/new/{import_id}/mapping").text
    # The mapping step's samples are the whole file's: the note's from the last part.
    shown = re.findall(r'<span class="sample">(note[0-9]+)</span>', html)
    assert shown == wizard.samples(whole)["Note"] == ["note15", "note16", "note17"]
    browser.post(
        f"/imports/new/{import_id}/mapping", mapping_form(html, **{"map-4": "external_id"})
    )
    browser.post(f"/imports/new/{import_id}/consent", {})
    found = record(engine, import_id)
    assert found["state"] == "validating", found["message"]

    api = Api(app_client, console.org)
    created = api.post(
        "/v2/imports",
        files={"file": ("members.csv", data, "text/csv")},
        data={"mapping": json.dumps(found["mapping"]), "options": json.dumps(found["options"])},
    )
    assert created.status_code == 202, created.text
    api_id = created.json()["id"]
    jobs.run_pending(engine)
    for kind in ("source", "outcomes"):
        console_parts = stored(engine, console.org, import_id, kind)
        api_parts = stored(engine, console.org, api_id, kind)
        assert len(console_parts) == len(api_parts) == 3
        for mine, theirs in zip(console_parts, api_parts, strict=True):
            assert_frame_equal(mine, theirs)

    check = browser.get(f"/imports/new/check?ids={import_id}").text
    assert re.search(r"<dt>Rejected</dt><dd>3</dd>", check)
    # The check's first rejected rows and the report page's, from the parts holding them.
    assert re.findall(r'<th scope="row">([0-9]+)</th>', check) == ["4", "11", "18"]
    report = browser.get(f"/imports/{import_id}?status=rejected").text
    assert re.findall(r'data-row="([0-9]+)" data-status="rejected"', report) == ["4", "11", "18"]
    assert 'value="Person' in report or "Person" in report


def test_console_workbook_and_pasted_rows_are_stored_in_parts(
    console: Console, engine: Engine, chunked: Callable[[bool], None]
) -> None:
    chunked(True)
    browser = console.browser(Role.editor)
    rows = people(1, 10)
    book = xlsx({"Members": [HEADER, *rows]})
    answer = browser.post(
        "/imports/new",
        {"profile": "loyalty-customers"},
        files=[("files", ("members.xlsx", book, XLSX))],
        follow_redirects=False,
    )
    parts = stored(engine, console.org, draft_of(answer), "source")
    assert [part.height for part in parts] == [7, 3]
    assert_frame_equal(pl.concat(parts), read_upload(book, "members.xlsx", ReadLimits()).frame)
    pasted = "\n".join("\t".join(row) for row in rows[:9])
    answer = browser.post(
        "/imports/new",
        {"profile": "loyalty-customers", "text": pasted},
        follow_redirects=False,
    )
    parts = stored(engine, console.org, draft_of(answer), "source")
    assert [part.height for part in parts] == [7, 2]
    assert pl.concat(parts).row(8)[2] == rows[8][2]


# --- outcome pages, resubmit and the XLSX report ---------------------------------------------


def member(i: int, *, mobile: str | None = None, email: str = "") -> str:
    phone = mobile if mobile is not None else f"98000{i:05d}"
    return f"{letters(i)},{letters(i + 3)},{phone},{email or f'm{i}@example.com'},X{i},mal,{i}"


def members_file() -> str:
    """22 rows: 0-4 are stored customers (2 and 4 updated), rejected rows at both sides of
    part edges."""
    lines = [member(i) for i in range(22)]
    lines[2], lines[4] = member(2, email="new2@example.com"), member(4, email="new4@example.com")
    for at in (1, 6, 7, 13, 14, 20):
        lines[at] = member(at, mobile="12")
    return csv(MEMBERS_HEADER, *lines)


@pytest.fixture
def twins(engine: Engine, chunked: Callable[[bool], None]) -> tuple[OrgHandle, int, int]:
    """One org, the same file previewed twice: stored whole, then in parts of 7 rows."""
    org = import_org(engine)
    run(engine, org, csv(MEMBERS_HEADER, *(member(i) for i in range(5))))
    whole = start(engine, org, members_file())
    chunked(True)
    parted = start(engine, org, members_file())
    assert len(stored(engine, org, whole, "outcomes")) == 1
    assert len(stored(engine, org, parted, "outcomes")) == 4
    return org, whole, parted


def test_outcome_pages_equal_the_whole_files(
    engine: Engine, app_client: TestClient, twins: tuple[OrgHandle, int, int]
) -> None:
    org, whole, parted = twins
    actor = editor(org)
    with transaction(engine, write=False) as conn:
        every = service.outcomes(conn, actor, whole)
        for status in (None, "rejected", "inserted", "updated", "skipped"):
            expected = every.filter(pl.col("status") == status) if status else every
            assert expected.height > 0
            for offset in range(0, 24, 3):
                for limit in (1, 2, 5, 7, 9, 30):
                    page = Page(limit=limit, offset=offset)
                    mine, total = service.outcome_page(conn, actor, parted, status, page)
                    theirs, their_total = service.outcome_page(conn, actor, whole, status, page)
                    assert total == their_total == expected.height
                    assert_frame_equal(mine, theirs)
                    assert mine["row"].to_list() == [
                        row + 2 for row in expected["row"].slice(offset, limit).to_list()
                    ]
    api = Api(app_client, org)
    for query in ("limit=4&offset=5", "status=rejected&limit=2&offset=1", "status=updated"):
        pages = [api.get(f"/v2/imports/{i}/rows?{query}").json() for i in (whole, parted)]
        assert pages[0] == pages[1]
        assert pages[0]["data"]
    shown = api.get(f"/v2/imports/{parted}/rows?status=rejected&limit=3&offset=1").json()
    assert [row["row"] for row in shown["data"]] == [8, 9, 15]  # across the first part edge
    assert shown["pagination"]["total"] == 6


def test_resubmit_of_a_file_in_parts_equals_the_whole_files(
    engine: Engine, twins: tuple[OrgHandle, int, int]
) -> None:
    org, whole, parted = twins
    actor = editor(org)
    corrected = [
        resubmit.CorrectedRow(22, {"Mobile": "9800000220"}),  # the last part
        resubmit.CorrectedRow(3, {"Mobile": "9800000001", "Email": "new@example.com"}),
        resubmit.CorrectedRow(9, {}),  # the second part, as it was
    ]
    made = []
    with transaction(engine) as conn:
        for import_id in (whole, parted):
            new_id = resubmit.resubmit(conn, actor, import_id, corrected)
            source = imports_repository.get_frame(conn, org.id, new_id, "source")
            links = imports_repository.get_frame(conn, org.id, new_id, resubmit.LINKS)
            made.append((source, links))
        for import_id in (whole, parted):
            with pytest.raises(InvalidInput) as refused:
                resubmit.resubmit(conn, actor, import_id, [resubmit.CorrectedRow(4, {})])
            assert refused.value.message.endswith(
                "did not reject row 4: only rejected rows are resubmitted"
            )
    (source, links), (parted_source, parted_links) = made
    assert source is not None
    assert links is not None
    assert_frame_equal(parted_source, source)
    assert_frame_equal(parted_links, links)
    assert links["original_row"].to_list() == [1, 7, 20]
    assert source["Mobile"].to_list() == ["9800000001", "12", "9800000220"]
    assert source["Email"].to_list()[0] == "new@example.com"


def test_xlsx_report_of_a_file_in_parts_equals_the_whole_files(
    engine: Engine, twins: tuple[OrgHandle, int, int]
) -> None:
    org, whole, parted = twins
    with transaction(engine, write=False) as conn:
        reports = [service.report(conn, editor(org), i, "xlsx") for i in (whole, parted)]
    sheets = []
    for data in reports:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            sheets.append(archive.read("xl/worksheets/sheet1.xml"))
    assert sheets[0] == sheets[1]
    frame = pl.read_excel(reports[1], engine="calamine")
    assert frame.height == 22
    assert frame["status"].to_list().count("rejected") == 6


def consent_undone(engine: Engine, chunked: Callable[[bool], None], in_chunks: bool) -> Any:
    """16 stored members imported again with consent (every row unchanged, so only the consent
    changes), one of them opted in again since; the undo's conflicts and what it left."""
    chunked(False)
    org = import_org(engine)
    data = csv(MEMBERS_HEADER, *(member(i) for i in range(16)))
    run(engine, org, data)
    chunked(in_chunks)
    import_id = start(engine, org, data, consent={"SMS": "OPTIN", "EMAIL": "OPTOUT"})
    assert confirm(engine, org, import_id).state == "committed"
    with transaction(engine, write=False) as conn:
        parts = imports_repository.part_count(conn, org.id, import_id, consent.UNDO_KIND)
        ids = conn.execute(
            sa.select(customers.c.id).where(customers.c.org_id == org.id).order_by(customers.c.id)
        ).scalars()
        ranks = {int(found): rank for rank, found in enumerate(ids)}
    assert parts == (3 if in_chunks else 1)
    with transaction(engine, write=False) as conn:
        stored_changes = imports_repository.get_frame(conn, org.id, import_id, consent.UNDO_KIND)
    assert stored_changes is not None
    again = next(found for found, rank in ranks.items() if rank == 9)  # the second part's
    with transaction(engine) as conn:
        conn.execute(
            subscriptions.update()
            .where(subscriptions.c.customer_id == again, subscriptions.c.channel == "EMAIL")
            .values(status="OPTIN")
        )
    assert undo(engine, org, import_id).state == "undone"
    with transaction(engine, write=False) as conn:
        left = service.conflicts(conn, editor(org), import_id)
        held = conn.execute(
            sa.select(
                subscriptions.c.customer_id, subscriptions.c.channel, subscriptions.c.status
            ).where(subscriptions.c.org_id == org.id)
        ).all()
        ledger = conn.execute(
            sa.select(
                consent_ledger.c.customer_id, consent_ledger.c.channel, consent_ledger.c.status
            )
            .where(consent_ledger.c.origin == f"undo:import:{import_id}")
            .order_by(consent_ledger.c.id)
        ).all()
    chunked(False)
    # Put back in the order the commit stored them (a chunk's subscriptions after the last's).
    put_back = [(row[0], row[1]) for row in ledger]
    assert put_back == [
        key
        for key in stored_changes.select("customer_id", "channel").rows()
        if key != (again, "EMAIL")
    ]
    return (
        [(ranks[row["customer_id"]], row["field"], row["reason"]) for row in left.to_dicts()],
        sorted((ranks[row[0]], row[1], row[2]) for row in held),
        sorted((ranks[row[0]], row[1], row[2]) for row in ledger),
    )


def test_consent_undo_of_a_file_in_parts_equals_the_whole_files(
    engine: Engine, chunked: Callable[[bool], None]
) -> None:
    whole = consent_undone(engine, chunked, in_chunks=False)
    parted = consent_undone(engine, chunked, in_chunks=True)
    assert parted == whole
    conflicts, held, ledger = whole
    assert conflicts == [
        (9, "subscription EMAIL/BULK", "the consent changed again since the import")
    ]
    assert (9, "EMAIL", "OPTIN") in held
    assert len(ledger) == 31  # every subscription put back but the one changed since


# --- patron imports suggest -------------------------------------------------------------------


def test_header_read_from_the_start_is_the_whole_reads() -> None:
    limits = ReadLimits()
    files = [
        b"\xef\xbb\xbfName ,Mobile\r\nAnn,1\r\n",
        b"Name;Mobile;\nAnn;1;\nBob;2;\n",  # an empty trailing column, dropped
        b"Name,Mobile,\nAnn,1,\nBob,2,x\n",  # ... kept when a row fills it
        "Nom,Pr\xe9nom\nA,B\n".encode("cp1252"),
        "Name\tMobile\nAnn\t1\n".encode("utf-16"),
        b'"Full\nname",,Mobile\nAnn,x,1\n',
    ]
    for data in files:
        whole = read_upload(data, "f.csv", limits).headers
        assert text_headers(data, False, limits) == whole
    with pytest.raises(InvalidInput) as twice:
        text_headers(b"a,A\n1,2\n", False, limits)
    with pytest.raises(InvalidInput) as whole_twice:
        read_upload(b"a,A\n1,2\n", "f.csv", limits)
    assert twice.value.message == whole_twice.value.message


def test_suggest_reads_the_files_start_only(engine: Engine, tmp_path: Path) -> None:
    org = import_org(engine)
    good = csv(MEMBERS_HEADER, *(member(i) for i in range(20)))
    # Past the first megabyte: a ragged row, then bytes that are no text at all. The whole
    # read refuses the file; its header and first rows are all a suggestion needs.
    path = tmp_path / "big.csv"
    filler = member(1) + "\n"
    path.write_text(good + filler * (HEAD_BYTES // len(filler) + 10) + "Ann,Bee\n")
    with path.open("ab") as out:
        out.write(b"\x00\x01\x02" * 1000)
    with pytest.raises(InvalidInput):
        read_path(path, ReadLimits())
    assert read_headers(path, ReadLimits()) == tuple(MEMBERS_HEADER.split(","))
    clean = tmp_path / "clean.csv"
    clean.write_text(good)
    runner = CliRunner(env={"PATRON_DATABASE_URL": database_url(engine)})
    answers: list[Any] = []
    for file in (path, clean):
        done = runner.invoke(app, ["imports", "suggest", str(file), "--json", "--org", org.name])
        assert done.exit_code == 0, done.output
        answers.append(json.loads(done.stdout))
    assert answers[0] == answers[1]
    assert {a["column"]: a["field"] for a in answers[0]}["Mobile"] == "mobile"
