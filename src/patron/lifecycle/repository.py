"""SQL of the lifecycle domain: customers' lifecycle events, many at a time."""

from __future__ import annotations

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from patron.audit.tables import change_log
from patron.kit.bulk import create_temp_table, fetch_frame, insert_frame, next_ids
from patron.lifecycle.tables import lifecycle_events

#: What tells two events of one customer apart (the table's unique key after org_id).
EVENT_KEY = ("customer_id", "org_source_id", "activity", "reference_id")


def recorded(conn: Connection, org_id: int, events: pl.DataFrame) -> pl.DataFrame:
    """The ``EVENT_KEY`` rows of ``events`` that are stored already (each once)."""
    create_temp_table(
        conn,
        "import_events",
        {"customer_id": "BIGINT", "org_source_id": "VARCHAR(100)", "activity": "VARCHAR(100)",
         "reference_id": "VARCHAR(100)"},
    )  # fmt: skip
    insert_frame(conn, "import_events", events.select(EVENT_KEY).unique())
    staged = sa.table("import_events", *(sa.column(name) for name in EVENT_KEY))
    query = sa.select(*(staged.c[name] for name in EVENT_KEY)).where(
        sa.exists().where(
            lifecycle_events.c.org_id == org_id,
            *(lifecycle_events.c[name] == staged.c[name] for name in EVENT_KEY),
        )
    )
    schema = {"customer_id": pl.Int64} | dict.fromkeys(EVENT_KEY[1:], pl.String)
    return fetch_frame(conn, query, schema)


def insert_many(conn: Connection, org_id: int, events: pl.DataFrame) -> pl.Series:
    """Insert ``events`` (named like the table's columns, without id and org_id); answer
    their new ids, in order."""
    ids = next_ids(conn, lifecycle_events, events.height)
    insert_frame(
        conn,
        lifecycle_events,
        events.with_columns(id=ids, org_id=pl.lit(org_id, dtype=pl.Int64)),
    )
    return ids


def delete_many(conn: Connection, org_id: int, ids: pl.Series) -> int:
    """Delete the events ``ids``; answer how many there were."""
    if ids.is_empty():
        return 0
    create_temp_table(conn, "import_event_ids", {"id": "BIGINT"})
    insert_frame(conn, "import_event_ids", pl.DataFrame({"id": ids}))
    staged = sa.select(sa.table("import_event_ids", sa.column("id")).c.id)
    deleted = conn.execute(
        lifecycle_events.delete().where(
            lifecycle_events.c.org_id == org_id, lifecycle_events.c.id.in_(staged)
        )
    )
    return int(deleted.rowcount)


def delete_log_entries(conn: Connection, org_id: int, change_type: str, cause: str) -> int:
    """Delete the change-log entries of one type that one cause wrote; answer how many."""
    deleted = conn.execute(
        change_log.delete().where(
            change_log.c.org_id == org_id,
            change_log.c.change_type == change_type,
            change_log.c.cause == cause,
        )
    )
    return int(deleted.rowcount)


def events_of(conn: Connection, org_id: int, customer_ids: list[int]) -> list[RowMapping]:
    query = (
        sa.select(lifecycle_events)
        .where(
            lifecycle_events.c.org_id == org_id,
            lifecycle_events.c.customer_id.in_(customer_ids),
        )
        .order_by(lifecycle_events.c.updated_on, lifecycle_events.c.id)
    )
    return list(conn.execute(query).mappings())
