"""Staged temporary tables (kit/bulk.stage): staging a table again in one transaction
replaces its rows, and on PostgreSQL holds no more locks than the first time, so that an
import in chunks, which stages its tables for every chunk in one transaction, does not run
out of the server's lock table on a large file."""

from __future__ import annotations

import polars as pl
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from patron.kit import bulk
from patron.kit.bulk import read_batches, read_frame, stage
from patron.kit.db import transaction

COLUMNS = {"customer_id": "BIGINT", "value": "TEXT"}


def _rows(conn: Connection, name: str) -> list[tuple[object, ...]]:
    result = conn.exec_driver_sql(f'SELECT * FROM "{name}" ORDER BY 1')  # noqa: S608 - ours
    return [tuple(row) for row in result]


def _locks(conn: Connection) -> int:
    return int(
        conn.exec_driver_sql(
            "SELECT count(*) FROM pg_locks WHERE pid = pg_backend_pid()"
        ).scalar_one()
    )


def _frame(first: int, count: int) -> pl.DataFrame:
    ids = list(range(first, first + count))
    return pl.DataFrame({"customer_id": ids, "value": [f"v{i}" for i in ids]})


def test_staging_again_replaces_the_rows_and_holds_no_more_locks(engine: Engine) -> None:
    with transaction(engine) as conn:
        stage(conn, "test_stage", COLUMNS, _frame(1, 3))
        postgres = conn.dialect.name == "postgresql"
        if postgres:
            _locks(conn)  # reading pg_locks locks the view: counted from the second reading on
        held = _locks(conn) if postgres else 0
        for chunk in range(1, 21):
            stage(conn, "test_stage", COLUMNS, _frame(chunk * 10, 2))
        if postgres:
            # Made again each time, the table's locks (and its toast table's) piled up.
            assert _locks(conn) == held
        assert _rows(conn, "test_stage") == [(200, "v200"), (201, "v201")]
        # Other columns under the same name: a table of those columns.
        other = stage(conn, "test_stage", {"code": "TEXT"}, pl.DataFrame({"code": ["a", "b"]}))
        assert conn.execute(sa.select(sa.func.count()).select_from(other)).scalar_one() == 2
        assert _rows(conn, "test_stage") == [("a",), ("b",)]


def test_a_table_staged_in_an_earlier_transaction_is_staged_afresh(engine: Engine) -> None:
    with transaction(engine) as conn:
        stage(conn, "test_stage_again", COLUMNS, _frame(1, 2))
    # On PostgreSQL the commit dropped it; the pooled connection remembers it was made.
    with transaction(engine) as conn:
        stage(conn, "test_stage_again", COLUMNS, _frame(5, 1))
        assert _rows(conn, "test_stage_again") == [(5, "v5")]


def test_a_result_read_in_batches_is_the_result_read_whole(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """:func:`read_batches` gives the rows :func:`read_frame` gives, in batches of about
    ``BATCH_BYTES`` (PostgreSQL, cut after a whole row) or ``BATCH_ROWS`` (SQLite): a value
    holding line breaks, quotes and commas is never cut at a batch's edge, and NULL stays
    apart from ''."""
    monkeypatch.setattr(bulk, "BATCH_BYTES", 64)
    monkeypatch.setattr(bulk, "BATCH_ROWS", 3)
    values = ['a\n"b"', None, "", 'x,"\n\n"y', "plain", '"', "\n", *(f"v{i}" for i in range(40))]
    frame = pl.DataFrame({"customer_id": range(len(values)), "value": values})
    schema = {"customer_id": pl.Int64, "value": pl.String}
    with transaction(engine) as conn:
        staged = stage(conn, "test_batches", COLUMNS, frame)
        query = sa.select(staged.c.customer_id, staged.c.value).order_by(staged.c.customer_id)
        whole = read_frame(conn, query, schema)
        batches = list(read_batches(conn, query, schema))
    assert whole.to_dicts() == frame.to_dicts()
    assert pl.concat(batches).to_dicts() == frame.to_dicts()
    assert len(batches) > 5
    assert all(batch.height for batch in batches)
