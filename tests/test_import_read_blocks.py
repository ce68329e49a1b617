"""The text reader a block of lines at a time gives what the whole reader gives, cell for
cell and refusal for refusal, and holds no more than a block at once."""

from __future__ import annotations

import codecs
import io
import json
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from polars.testing import assert_frame_equal
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from patron.cli.main import app
from patron.imports import repository as imports_repository
from patron.imports import service
from patron.imports.read import ReadLimits, read_path, read_upload
from patron.imports.read.blocks import read_text_blocks
from patron.imports.tables import imports
from patron.kit.db import transaction
from patron.kit.errors import InvalidInput
from patron.settings import get_settings
from tests.conftest import Api, error_codes
from tests.importing import MEMBERS_HEADER, editor, import_org, letters
from tests.test_cli import database_url

ROWS = 7  # a tiny chunk, so that small files cross many block edges


def same(data: bytes, limits: ReadLimits = ReadLimits(), rows: int = ROWS) -> None:
    """Read ``data`` whole and in blocks: the same table, or the same refusal."""
    refusal: InvalidInput | None = None
    try:
        whole = read_upload(data, "a.csv", limits)
    except InvalidInput as exc:
        refusal = exc
    if refusal is not None:
        with pytest.raises(InvalidInput) as caught:
            read_text_blocks(io.BytesIO(data), limits, rows)
        assert (caught.value.code, caught.value.message) == (refusal.code, refusal.message)
        return
    table = read_text_blocks(io.BytesIO(data), limits, rows)
    frames = list(table.frames())
    assert all(frame.height == rows for frame in frames[:-1])
    assert 0 < frames[-1].height <= rows
    assert_frame_equal(pl.concat(frames), whole.frame)
    assert table.headers == whole.headers
    assert (table.delimiter, table.encoding, table.file_format) == (
        whole.delimiter,
        whole.encoding,
        whole.file_format,
    )
    assert table.row_count == whole.frame.height
    # Memory: no block of lines and no frame of rows the reader built was larger than a chunk.
    assert 0 < table.stats.largest_block <= rows
    assert 0 < table.stats.largest_frame <= rows


def lines(count: int, start: int = 0) -> str:
    return "".join(f"Name {i},91990{i:07d},City {i % 5}\n" for i in range(start, start + count))


HEADER = "Name,Mobile,City\n"


def test_plain_file_equals_the_whole_read() -> None:
    for count in (1, 6, 7, 8, 13, 14, 15, 50):
        same((HEADER + lines(count)).encode())


def test_quoted_cells_spanning_lines_at_block_edges() -> None:
    # A cell of three lines starting at every position relative to the block edges.
    for at in range(0, 15):
        body = lines(at) + '"Multi\nline, ""quoted""\nname",919900,Pune\n' + lines(10, at + 1)
        same((HEADER + body).encode())


def test_regular_quotes_stay_on_the_fast_reader() -> None:
    body = "".join(f'"Name, {i}",919900{i:06d},"Goa ""{i}"""\n' for i in range(30))
    same((HEADER + body).encode())


def test_stray_quote_in_a_late_block() -> None:
    same((HEADER + lines(20) + 'Ann "A",1,Goa\n' + lines(5, 30)).encode())


def test_bom_crlf_and_encodings() -> None:
    text = HEADER + lines(9) + "José Ñuñez,919900,Pune\n" + lines(9, 20)
    same(codecs.BOM_UTF8 + text.encode())
    same(text.replace("\n", "\r\n").encode())
    same(text.replace("\n", "\r").encode())
    same(text.encode("latin-1"))
    same(("Name,Mobile,City\n" + lines(12) + "\u2018quoted\u2019,1,Goa\n").encode("cp1252"))
    same(text.encode("utf-16"))
    same(text.encode("utf-16-le"))


def test_blank_lines_and_empty_rows() -> None:
    body = "\n\n" + HEADER + "\n" + lines(3) + "\n\n  \n,,\n" + lines(9, 3) + "\n\n\n"
    same(body.encode())


def test_trailing_empty_column_dropped_only_when_empty_in_every_block() -> None:
    empty = "".join(f"n{i},{i},\n" for i in range(20))
    same(("Name,Mobile,\n" + empty).encode())
    same(("Name,Mobile,\n" + empty + "late,1,x\n").encode())


def test_ragged_row_in_a_late_block() -> None:
    same((HEADER + lines(30) + "Ann,1\n" + lines(5, 40)).encode())
    multi = HEADER + '"a\nb",1,2\n' + lines(30) + "Ann,1\n"  # on the csv module's path
    same(multi.encode())


def test_too_long_cell_in_a_late_block() -> None:
    limits = ReadLimits(max_cell_chars=20)
    same((HEADER + lines(25) + "Ann," + "9" * 21 + ",Goa\n" + lines(5, 40)).encode(), limits)
    same((HEADER + lines(25) + "Ann," + "9" * 99 + ",Goa\n").encode(), limits)  # a whole line


def test_row_limit() -> None:
    for count in (20, 21):
        same((HEADER + lines(count)).encode(), ReadLimits(max_rows=20))
    # Too many rows takes precedence over a ragged row found by the fast reader.
    same((HEADER + lines(3) + "x,1\n" + lines(20, 5)).encode(), ReadLimits(max_rows=20))
    same((HEADER + '"a\nb",1,2\n' + lines(25)).encode(), ReadLimits(max_rows=20))


def test_headers_and_columns() -> None:
    same(("Name,name,City\n" + lines(20)).encode())  # duplicate header
    same(
        ("A,B,C,D\n" + "".join(f"{i},1,2,3\n" for i in range(20))).encode(),
        ReadLimits(max_columns=3),
    )
    same(b"\n\n")
    same(HEADER.encode())
    same(("Name;Mobile;City\n" + lines(20).replace(",", ";")).encode())
    same(("Name\tMobile\tCity\n" + lines(20).replace(",", "\t")).encode())


def test_not_text() -> None:
    same((HEADER + lines(20)).encode() + b"\x00\x01")


# --- the upload stored a chunk at a time ------------------------------------------------------


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    monkeypatch.setenv("PATRON_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("PATRON_IMPORT_CHUNK_ROWS", str(ROWS))
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


def member(i: int) -> str:
    return f"{letters(i)},{letters(i + 3)},98000{i:05d},m{i}@example.com,X{i},mal,{i}"


def members(count: int) -> str:
    body = "".join(
        f'"{letters(i)}\nSecond",{letters(i + 3)},98000{i:05d},m{i}@example.com,X{i},mal,{i}\n'
        if i % 5 == 3
        else member(i) + "\n"
        for i in range(count)
    )
    return MEMBERS_HEADER + "\n" + body


def test_upload_is_read_and_stored_a_chunk_at_a_time(
    engine: Engine, app_client: TestClient, small_chunks: None
) -> None:
    org = import_org(engine)
    api = Api(app_client, org)
    data = members(20).encode()
    answer = api.post("/v2/imports", files={"file": ("m.csv", data, "text/csv")})
    assert answer.status_code == 202, answer.text
    import_id = answer.json()["id"]
    with transaction(engine, write=False) as conn:
        stored = list(imports_repository.iter_parts(conn, org.id, import_id, "source"))
        record = service.get_import(conn, editor(org), import_id)
    assert [part.height for part in stored] == [7, 7, 6]
    assert_frame_equal(pl.concat(stored), read_upload(data, "m.csv", ReadLimits()).frame)
    assert record["row_count"] == 20


def test_upload_refused_in_a_late_block_stores_nothing(
    engine: Engine, app_client: TestClient, small_chunks: None
) -> None:
    org = import_org(engine)
    api = Api(app_client, org)
    data = (members(30) + "Ann,Bee\n" + members(5).split("\n", 1)[1]).encode()
    answer = api.post("/v2/imports", files={"file": ("m.csv", data, "text/csv")})
    assert error_codes(answer) == [96009]
    with pytest.raises(InvalidInput) as whole:  # the whole read refuses it alike
        read_upload(data, "m.csv", ReadLimits())
    assert answer.json()["errors"][0]["message"] == whole.value.message
    assert whole.value.message.startswith("line 38 has 2 cells")  # 30 rows, 6 of two lines
    with transaction(engine, write=False) as conn:
        listed = conn.execute(
            sa.select(sa.func.count()).select_from(imports).where(imports.c.org_id == org.id)
        ).scalar_one()
    assert listed == 0


def test_a_file_on_disk_is_opened_again_for_its_parts(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_text(members(20))
    table = read_path(path, ReadLimits(), chunk_rows=ROWS)
    assert table.parts is not None
    assert table.frame.height == 0
    assert table.height == 20
    assert_frame_equal(pl.concat(table.chunks()), read_path(path, ReadLimits()).frame)
    # A file of one chunk is held whole, as before.
    small = read_path(path, ReadLimits(), chunk_rows=20)
    assert small.parts is None
    assert small.frame.height == 20


def test_patron_import_reads_and_stores_a_chunk_at_a_time(
    engine: Engine, small_chunks: None, tmp_path: Path
) -> None:
    org = import_org(engine)
    path = tmp_path / "m.csv"
    path.write_text(members(20))
    runner = CliRunner(env={"PATRON_DATABASE_URL": database_url(engine)})
    done = runner.invoke(app, ["import", str(path), "--yes", "--json", "--org", org.name])
    assert done.exit_code == 0, done.output
    import_id = json.loads(done.stdout)["id"]
    with transaction(engine, write=False) as conn:
        stored = list(imports_repository.iter_parts(conn, org.id, import_id, "source"))
        record = service.get_import(conn, editor(org), import_id)
    assert [part.height for part in stored] == [7, 7, 6]
    assert_frame_equal(pl.concat(stored), read_path(path, ReadLimits()).frame)
    assert record["state"] == "committed"
    assert record["row_count"] == 20
