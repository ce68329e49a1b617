"""Set-based reads and writes between polars frames and the database.

The import engine moves hundreds of thousands of rows at a time; these helpers
do it in bulk on both databases: PostgreSQL ``COPY`` and SQLite ``executemany``
(one prepared statement, the loop runs in C), and reads that come back as
frames. No helper issues one statement per row.
"""

from __future__ import annotations

import functools
import io
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection

#: Rows per ``executemany`` batch / per ``COPY`` chunk: bounded memory on huge frames.
CHUNK_ROWS = 50_000


def is_postgres(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


def _chunks(frame: pl.DataFrame) -> Iterator[pl.DataFrame]:
    for offset in range(0, frame.height, CHUNK_ROWS):
        yield frame.slice(offset, CHUNK_ROWS)


def insert_frame(conn: Connection, table: sa.Table | str, frame: pl.DataFrame) -> None:
    """Insert every row of ``frame`` (columns named like the table's) into ``table``."""
    if frame.is_empty():
        return
    name = table if isinstance(table, str) else table.name
    frame = _storable(frame, postgres=is_postgres(conn))
    columns = frame.columns
    if is_postgres(conn):
        # A pooled connection keeps the plans of the foreign keys' checks it made before,
        # possibly while the parent table was nearly empty: a sequential scan of the parent
        # per inserted row once it has grown (21.5 s instead of 0.17 s for 30,000 rows).
        # Dropping them costs nothing and takes no lock; the checks are planned again
        # against the tables as they are now (docs/postgresql-loads.md).
        conn.exec_driver_sql("DISCARD PLANS")
        _copy_in(conn, name, frame)
        return
    placeholders = ", ".join("?" for _ in columns)
    sql = f'INSERT INTO "{name}" ({_quoted(columns)}) VALUES ({placeholders})'  # noqa: S608 - names are ours
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        for chunk in _chunks(frame):
            cursor.executemany(sql, chunk.rows())
    finally:
        cursor.close()


def _storable(frame: pl.DataFrame, *, postgres: bool) -> pl.DataFrame:
    """Dates and times as the text each database (and SQLAlchemy reading it back) expects."""
    stamp = "%Y-%m-%d %H:%M:%S%.6f+00:00" if postgres else "%Y-%m-%d %H:%M:%S%.6f"
    converted = []
    for name, dtype in frame.schema.items():
        if isinstance(dtype, pl.Datetime):
            column = pl.col(name)
            if dtype.time_zone is not None:
                column = column.dt.convert_time_zone("UTC")
            converted.append(column.dt.strftime(stamp))
        elif dtype == pl.Date:
            converted.append(pl.col(name).dt.strftime("%Y-%m-%d"))
    return frame.with_columns(converted) if converted else frame


def _copy_in(conn: Connection, name: str, frame: pl.DataFrame) -> None:
    driver = conn.connection.driver_connection
    # CSV's own NULL, an unquoted empty field: polars quotes an empty string (""), so the
    # two stay apart, and a cell holding the text \N is not taken for NULL.
    sql = f'COPY "{name}" ({_quoted(frame.columns)}) FROM STDIN (FORMAT csv)'
    with driver.cursor() as cursor, cursor.copy(sql) as copy:  # type: ignore[union-attr]
        for chunk in _chunks(frame):
            buffer = io.BytesIO()
            chunk.write_csv(buffer, include_header=False, null_value="", quote_style="necessary")
            copy.write(buffer.getvalue())


def _quoted(columns: Sequence[str]) -> str:
    return ", ".join(f'"{column}"' for column in columns)


def create_temp_table(conn: Connection, name: str, columns: dict[str, str]) -> None:
    """A temporary table dropped at commit (PostgreSQL) or replaced on next use (SQLite).

    On PostgreSQL a table of the same name and columns that this transaction made already is
    emptied instead of made again: a dropped table's locks (and its files) are held until
    the transaction ends, so an import in chunks, which stages the same tables for every
    chunk in one transaction, held ~90 more locks per chunk and would run out of the
    server's lock table (``max_locks_per_transaction``) on a file of tens of chunks.
    """
    definition = ", ".join(f'"{column}" {kind}' for column, kind in columns.items())
    if not is_postgres(conn):
        conn.exec_driver_sql(f'DROP TABLE IF EXISTS "{name}"')
        conn.exec_driver_sql(f'CREATE TEMP TABLE "{name}" ({definition})')
        return
    made: dict[str, tuple[int, str]] = conn.info.setdefault("patron_temp_tables", {})
    if made.get(name) == (_temp_oid(conn, name), definition):
        conn.exec_driver_sql(f'TRUNCATE "{name}"')
        return
    conn.exec_driver_sql(f'DROP TABLE IF EXISTS "{name}"')
    conn.exec_driver_sql(f'CREATE TEMP TABLE "{name}" ({definition}) ON COMMIT DROP')
    made[name] = (_temp_oid(conn, name), definition)


def _temp_oid(conn: Connection, name: str) -> int:
    """The oid of this session's temporary table ``name`` (0: there is none, as after the
    commit that dropped it; a table made again gets another oid)."""
    found = conn.execute(
        sa.text("SELECT CAST(to_regclass(:name) AS oid)"), {"name": f'pg_temp."{name}"'}
    ).scalar_one()
    return int(found or 0)


def fetch_frame(conn: Connection, query: sa.Executable, schema: dict[str, Any]) -> pl.DataFrame:
    """The rows of ``query`` as a frame with ``schema`` (column name -> polars type)."""
    result = conn.execute(query)
    rows = result.fetchall()
    return pl.DataFrame([tuple(row) for row in rows], schema=schema, orient="row")


#: Column types :func:`read_frame` reads natively; others go through :func:`fetch_frame`.
_PLAIN_TYPES = (pl.Int64, pl.Int32, pl.Float64, pl.String)


def read_frame(conn: Connection, query: sa.Select[Any], schema: dict[str, Any]) -> pl.DataFrame:
    """The rows of ``query`` as a frame, for large results of integer and text columns.

    :func:`fetch_frame` builds a SQLAlchemy row per result row; a million rows
    cost seconds and hundreds of megabytes that way. Here PostgreSQL sends the
    result as CSV through ``COPY (query) TO STDOUT``, every value quoted so that
    an empty string and a NULL stay apart, and polars parses it; SQLite's
    driver tuples go straight into frames, one chunk at a time. Only
    ``Int64``, ``Int32``, ``Float64`` and ``String`` columns: other types need
    the conversions SQLAlchemy does, so ask :func:`fetch_frame` for them.
    """
    if not all(dtype in _PLAIN_TYPES for dtype in schema.values()):
        raise TypeError(f"read_frame reads integer, float and text columns, not {schema}")
    if is_postgres(conn):
        return _copy_out(conn, query, schema)
    parts = list(_fetched(conn, query, schema, CHUNK_ROWS))
    return pl.concat(parts) if parts else pl.DataFrame(schema=schema)


def _fetched(
    conn: Connection, query: sa.Select[Any], schema: dict[str, Any], rows: int
) -> Iterator[pl.DataFrame]:
    """SQLite: the driver's tuples of ``query`` straight into frames, ``rows`` at a time."""
    result = conn.execute(query)
    try:
        cursor = result.cursor
        while fetched := cursor.fetchmany(rows):
            yield pl.DataFrame(fetched, schema=schema, orient="row")
    finally:
        result.close()


def _copy_out(conn: Connection, query: sa.Select[Any], schema: dict[str, Any]) -> pl.DataFrame:
    buffer = io.BytesIO()
    with _copy_to_stdout(conn, query) as copy:
        for block in copy:  # one row a block: the loop is kept this tight
            buffer.write(block)
    if not buffer.tell():
        return pl.DataFrame(schema=schema)
    buffer.seek(0)
    return _parse_csv(buffer, schema)


@contextmanager
def _copy_to_stdout(conn: Connection, query: sa.Select[Any]) -> Iterator[Any]:
    """``COPY (query) TO STDOUT`` as CSV, every value quoted (so that an empty string and a
    NULL stay apart): psycopg's ``Copy``, whose blocks are the result's rows."""
    compiled = query.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    sql = f"COPY ({compiled}) TO STDOUT (FORMAT csv, FORCE_QUOTE *)"
    driver = conn.connection.driver_connection
    with driver.cursor() as cursor, cursor.copy(sql, compiled.params) as copy:  # type: ignore[union-attr]
        yield copy


def _parse_csv(data: io.BytesIO | bytes, schema: dict[str, Any]) -> pl.DataFrame:
    return pl.read_csv(
        data,
        has_header=False,
        new_columns=list(schema),
        schema=schema,
        quote_char='"',
    )


#: About this many bytes of CSV (PostgreSQL) or rows (SQLite) a batch of :func:`read_batches`.
BATCH_BYTES = 64 * 1024 * 1024
BATCH_ROWS = 500_000


def read_batches(
    conn: Connection, query: sa.Select[Any], schema: dict[str, Any]
) -> Iterator[pl.DataFrame]:
    """:func:`read_frame` a batch at a time, for a result too large to hold at once. The
    connection is busy until the last batch is taken: send it nothing meanwhile."""
    if not all(dtype in _PLAIN_TYPES for dtype in schema.values()):
        raise TypeError(f"read_batches reads integer, float and text columns, not {schema}")
    if not is_postgres(conn):
        yield from _fetched(conn, query, schema, BATCH_ROWS)
        return
    buffer = io.BytesIO()
    with _copy_to_stdout(conn, query) as copy:
        # The server sends a row a message (CopyData, always one per row when copying out),
        # so after each block the buffer ends with a whole row: a batch is cut there.
        for block in copy:
            buffer.write(block)
            if buffer.tell() >= BATCH_BYTES:
                yield _parse_csv(buffer.getvalue(), schema)
                buffer = io.BytesIO()
    if buffer.tell():
        yield _parse_csv(buffer.getvalue(), schema)


def stage(
    conn: Connection, name: str, columns: dict[str, str], frame: pl.DataFrame
) -> sa.TableClause:
    """Fill a fresh temporary table ``name`` with ``frame`` and answer it for queries.

    PostgreSQL never analyzes temporary tables by itself; without statistics a
    join of a staged million rows can be planned as a nested loop, so the
    table is analyzed once filled.
    """
    create_temp_table(conn, name, columns)
    insert_frame(conn, name, frame.select(list(columns)))
    if is_postgres(conn):
        conn.exec_driver_sql(f'ANALYZE "{name}"')
    return sa.table(name, *(sa.column(column) for column in columns))


def next_ids(conn: Connection, table: sa.Table, count: int) -> pl.Series:
    """``count`` fresh primary keys for ``table``, reserved for rows inserted with explicit ids.

    PostgreSQL: drawn from the table's sequence. SQLite: the writer holds the
    database lock for the whole transaction, so ids above the current maximum
    stay free until it commits.
    """
    if count == 0:
        return pl.Series("id", [], dtype=pl.Int64)
    if is_postgres(conn):
        ids = sa.select(
            sa.func.nextval(sa.func.pg_get_serial_sequence(table.name, "id")).label("id")
        ).select_from(sa.func.generate_series(1, count))
        return read_frame(conn, ids, {"id": pl.Int64}).to_series()
    top = conn.execute(sa.select(sa.func.coalesce(sa.func.max(table.c.id), 0))).scalar_one()
    return pl.int_range(top + 1, top + 1 + count, dtype=pl.Int64, eager=True).alias("id")


def insert_rows(conn: Connection, table: sa.Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` (dicts with the same keys, values as SQLAlchemy takes them) in one
    statement; see :func:`insert_rows_returning_ids`."""
    if rows:
        _insert_rows(conn, table, rows, returning=False)


def insert_rows_returning_ids(
    conn: Connection, table: sa.Table, rows: Sequence[dict[str, Any]]
) -> list[int]:
    """Insert ``rows`` in one statement and answer their new ids, in the order given.

    PostgreSQL: ``INSERT ... SELECT ... FROM unnest(<one array a column>) WITH ORDINALITY
    ORDER BY ordinality``: the statement's text is the same for any number of rows, so
    psycopg parses it once and the server plans it once (a multi-row ``VALUES`` is a new
    text for every count: psycopg parsed each again, which cost more CPU than the rest of
    a bulk request). The ids come from the table's sequence in that order, so sorted
    they are the rows' ids in order (as SQLAlchemy's own "insertmanyvalues" relies on).
    SQLite: "insertmanyvalues" with ``RETURNING``, sorted by parameter order.
    """
    if not rows:
        return []
    return _insert_rows(conn, table, rows, returning=True)


def _insert_rows(
    conn: Connection, table: sa.Table, rows: Sequence[dict[str, Any]], *, returning: bool
) -> list[int]:
    if not is_postgres(conn):
        if not returning:
            conn.execute(table.insert(), list(rows))
            return []
        inserting = table.insert().returning(table.c.id, sort_by_parameter_order=True)
        return [int(i) for i in conn.execute(inserting, list(rows)).scalars()]
    columns = tuple(rows[0])
    statement = _unnest_insert(table, columns, returning)
    arrays: dict[str, list[Any]] = {}
    for name in columns:
        values = [row[name] for row in rows]
        if isinstance(table.c[name].type, sa.JSON):
            values = [None if v is None else json.dumps(v) for v in values]
        arrays[f"a_{name}"] = values
    result = conn.exec_driver_sql(statement, arrays)
    return sorted(int(i) for i in result.scalars()) if returning else []


@functools.cache
def _unnest_insert(table: sa.Table, columns: tuple[str, ...], returning: bool) -> str:
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    arrays, selected = [], []
    for name in columns:
        column_type = table.c[name].type
        is_json = isinstance(column_type, sa.JSON)
        element = "TEXT" if is_json else column_type.compile(dialect=dialect)
        arrays.append(f"%(a_{name})s::{element}[]")
        selected.append(f"u.{name}::JSON" if is_json else f"u.{name}")
    names = ", ".join(columns)
    # Names of the table and its columns (never a value): the values are the parameters.
    text = (
        f"INSERT INTO {table.name} ({names}) SELECT {', '.join(selected)} FROM"  # noqa: S608
        f" unnest({', '.join(arrays)}) WITH ORDINALITY AS u({names}, n) ORDER BY u.n"
    )
    return text + " RETURNING id" if returning else text
