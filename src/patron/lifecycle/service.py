"""Lifecycle events: what happened to a customer in another system (a WeChat follow, an
app registration...), as the Entity Life Cycle import records them.

An event is (entity type, entity id, org source id, activity, state, added by,
reference id, updated on) of one customer. A customer has one event per (org
source, activity, reference id): loading the same event again is recognised and
not repeated. Every event also appears in the customer's change history
(``LIFECYCLE``), so ``/changeRequest`` shows it beside the other changes.
"""

from __future__ import annotations

from typing import Any

import polars as pl
from sqlalchemy.engine import Connection

from patron.customer import care_repository, lookup
from patron.kit.clock import iso
from patron.lifecycle import repository
from patron.lifecycle.repository import EVENT_KEY

#: The entities whose lifecycle patron records: its customers.
ENTITY_TYPES = ("CUSTOMER",)
#: The longest value a text field of an event may hold.
FIELD_MAX_LENGTH = 100
#: The change type of lifecycle events in the change log.
CHANGE_TYPE = "LIFECYCLE"
#: The event's columns, and the keys its change-log entry names them by.
DETAIL_KEYS = {
    "entity_type": "entityType",
    "entity_id": "entityId",
    "org_source_id": "orgSourceId",
    "activity": "activity",
    "state": "state",
    "added_by": "addedBy",
    "reference_id": "referenceId",
    "updated_on": "updatedOn",
}

__all__ = ["CHANGE_TYPE", "DETAIL_KEYS", "ENTITY_TYPES", "EVENT_KEY", "FIELD_MAX_LENGTH"]


def recorded(conn: Connection, org_id: int, events: pl.DataFrame) -> pl.DataFrame:
    """The events of ``events`` (``EVENT_KEY`` columns) that are stored already."""
    return repository.recorded(conn, org_id, events)


def record_many(
    conn: Connection, org_id: int, events: pl.DataFrame, *, import_id: int | None = None
) -> pl.Series:
    """Store new events (the ``DETAIL_KEYS`` columns and ``customer_id``; ``updated_on`` a
    UTC datetime); answer their ids in order."""
    columns = ["customer_id", *DETAIL_KEYS]
    return repository.insert_many(
        conn,
        org_id,
        events.select(columns).with_columns(import_id=pl.lit(import_id, dtype=pl.Int64)),
    )


def log_details(events: pl.DataFrame) -> pl.DataFrame:
    """``customer_id`` and the change-log ``details`` of each event (with its ``id``)."""
    return events.select(
        "customer_id",
        details=pl.struct(
            pl.col("id").alias("eventId"),
            *(
                _iso(pl.col(column)).alias(key)
                if column == "updated_on"
                else pl.col(column).alias(key)
                for column, key in DETAIL_KEYS.items()
            ),
        ),
    )


def _iso(moment: pl.Expr) -> pl.Expr:
    """A UTC datetime as ISO 8601 text with its offset, as the API writes times."""
    return moment.dt.convert_time_zone("UTC").dt.strftime("%Y-%m-%dT%H:%M:%S%.f+00:00")


def remove_many(conn: Connection, org_id: int, ids: pl.Series, *, cause: str) -> int:
    """Delete the events ``ids`` and the change-log entries ``cause`` wrote for them;
    answer how many events there were."""
    repository.delete_log_entries(conn, org_id, CHANGE_TYPE, cause)
    return repository.delete_many(conn, org_id, ids)


def events_of(conn: Connection, org_id: int, customer_id: int) -> list[dict[str, Any]]:
    """The lifecycle events of a customer and of the customers merged into it, oldest first."""
    resolved = lookup.resolve(conn, org_id, customer_id)
    family = care_repository.merge_family(conn, org_id, resolved.id)
    return [
        {
            "id": int(row["id"]),
            "customerId": int(row["customer_id"]),
            **{key: row[column] for column, key in DETAIL_KEYS.items() if column != "updated_on"},
            "updatedOn": iso(row["updated_on"]),
        }
        for row in repository.events_of(conn, org_id, family)
    ]
