"""An export's rows as polars frames of text, a batch at a time.

The rows come from one statement (:func:`patron.exports.query.export_rows`) with raw
values; each batch becomes a frame whose every column is text, as the list shows the
values: an id as its digits, a time in ISO 8601 UTC with its offset (as
:func:`patron.kit.clock.iso` writes it), an empty value as an empty cell (null). The
work is done on whole columns (polars), not cell by cell.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import polars as pl
from sqlalchemy.engine import Connection

from patron.customer.listing_repository import Criteria
from patron.exports import query
from patron.exports.fields import CUSTOM_PREFIX, EXTENDED_PREFIX

#: Rows fetched, converted and written at a time: large enough that a batch costs little
#: beyond its rows, small enough that memory stays flat (a few MB a batch).
BATCH_ROWS = 20_000
#: The same for a whole export on PostgreSQL, in bytes of ``COPY`` text (about 20,000
#: rows of ten columns).
BATCH_BYTES = 2_000_000


def _text(name: str, column: str) -> pl.Expr:
    """The expression turning the raw column ``name`` (export column ``column``) into text."""
    raw = pl.col(name)
    if column == "id":
        text = raw.cast(pl.String)
    elif column == "registeredAt":
        # iso(): seconds, then the microseconds only when there are some, then +00:00.
        micro = raw.dt.microsecond()
        text = pl.concat_str(
            raw.dt.strftime("%Y-%m-%dT%H:%M:%S"),
            pl.when(micro != 0)
            .then(pl.lit(".") + micro.cast(pl.String).str.zfill(6))
            .otherwise(pl.lit("")),
            pl.lit("+00:00"),
        )
    else:
        text = raw.cast(pl.String)
    return pl.when(text == "").then(None).otherwise(text).alias(name)


def _in_utc(frame: pl.DataFrame, name: str) -> pl.DataFrame:
    """``name``'s times in UTC (PostgreSQL answers aware times; SQLite naive UTC ones)."""
    dtype = frame.schema[name]
    if isinstance(dtype, pl.Datetime) and dtype.time_zone not in (None, "UTC"):
        return frame.with_columns(pl.col(name).dt.convert_time_zone("UTC"))
    return frame


def text_frame(columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> pl.DataFrame:
    """A batch of raw rows as a frame of text, columns ``c0``, ``c1``... in ``columns``."""
    schema: dict[str, Any] = {}
    for n, column in enumerate(columns):
        if column == "id":
            schema[f"c{n}"] = pl.Int64
        elif column == "registeredAt":
            schema[f"c{n}"] = pl.Object  # typed below, whatever the driver's time zone
        else:
            schema[f"c{n}"] = pl.String
    frame = pl.DataFrame(rows, schema=schema, orient="row")
    for n, column in enumerate(columns):
        if column == "registeredAt":
            name = f"c{n}"
            times = pl.Series(name, frame[name].to_list())
            frame = _in_utc(frame.with_columns(times), name)
    return frame.select(_text(f"c{n}", column) for n, column in enumerate(columns))


def copied_text_frame(columns: Sequence[str], frame: pl.DataFrame) -> pl.DataFrame:
    """A frame of :func:`patron.exports.query.copied_frames` as a frame of text (the same
    text as :func:`text_frame`'s)."""
    times = [
        pl.col(f"c{n}").cast(pl.Datetime("us"))
        for n, column in enumerate(columns)
        if column == "registeredAt"
    ]
    return frame.with_columns(times).select(
        _text(f"c{n}", column) for n, column in enumerate(columns)
    )


def _stored_times(raw: pl.Series) -> pl.Series:
    """SQLite's stored UTC times (``2024-01-02 03:04:05.000000``) as times."""
    try:
        return raw.str.strptime(pl.Datetime("us"), "%Y-%m-%d %H:%M:%S%.f", strict=True)
    except pl.exceptions.PolarsError:  # another spelling: each read as SQLAlchemy would
        read = raw.map_elements(_naive_utc, return_dtype=pl.Datetime("us"))
        return read.alias(raw.name)


def _naive_utc(text: str) -> datetime:
    read = datetime.fromisoformat(text)
    return read.astimezone(UTC).replace(tzinfo=None) if read.tzinfo else read


def stored_text_frame(columns: Sequence[str], frame: pl.DataFrame) -> pl.DataFrame:
    """A frame of :func:`patron.exports.query.sqlite_frames` as a frame of text (the same
    text as :func:`text_frame`'s)."""
    times = [
        _stored_times(frame[f"c{n}"])
        for n, column in enumerate(columns)
        if column == "registeredAt"
    ]
    return frame.with_columns(times).select(
        _text(f"c{n}", column) for n, column in enumerate(columns)
    )


def frames(
    conn: Connection,
    org_id: int,
    criteria: Criteria,
    *,
    sort: str,
    descending: bool,
    columns: Sequence[str],
    batch_rows: int = BATCH_ROWS,
    limit: int | None = None,
) -> Iterator[pl.DataFrame]:
    """The export's rows in the list's order, a frame of text per batch."""
    selection = query.Selection(sort, descending, columns, CUSTOM_PREFIX, EXTENDED_PREFIX)
    if limit is None and conn.dialect.name == "postgresql":
        for copied in query.copied_frames(
            conn, org_id, criteria, selection, batch_bytes=BATCH_BYTES
        ):
            yield copied_text_frame(columns, copied)
    elif limit is None:
        for stored in query.sqlite_frames(conn, org_id, criteria, selection, batch_rows=batch_rows):
            yield stored_text_frame(columns, stored)
    else:
        for rows in query.export_rows(
            conn, org_id, criteria, selection, batch_rows=batch_rows, limit=limit
        ):
            yield text_frame(columns, rows)
