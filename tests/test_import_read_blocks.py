"""The text reader a block of lines at a time gives what the whole reader gives, cell for
cell and refusal for refusal, and holds no more than a block at once."""

from __future__ import annotations

import codecs
import io

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from patron.imports.read import ReadLimits, read_upload
from patron.imports.read.blocks import read_text_blocks
from patron.kit.errors import InvalidInput

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
