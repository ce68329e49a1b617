"""Set-based SQL of the Card Series and Card imports and of card generation: one
statement per kind of read or change, whatever the number of rows (keys are staged
in a temporary table first).

Every query is limited to one org. Who holds a card is read from the ``cardnumber``
identifiers, as in :mod:`patron.cards.repository`.
"""

from __future__ import annotations

from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from patron.cards.repository import CARD_NUMBER, holder_join
from patron.cards.tables import card_series, cards
from patron.customer.tables import identifiers, profiles
from patron.kit.bulk import create_temp_table, fetch_frame, insert_frame, is_postgres

# --- card series -------------------------------------------------------------------


SERIES_SCHEMA = {
    "series_id": pl.Int64,
    "code": pl.String,
    "description": pl.String,
    "card_type": pl.String,
    "prefix": pl.String,
    "suffix": pl.String,
    "length": pl.Int64,
    "expiry_days": pl.Int64,
    "generation_enabled": pl.Boolean,
    "unit_id": pl.Int64,
}


def series_frame(conn: Connection, org_id: int) -> pl.DataFrame:
    """Every series of the org, one row each (``series_id`` and the columns by name)."""
    columns = [card_series.c[name] for name in SERIES_SCHEMA if name != "series_id"]
    query = sa.select(card_series.c.id, *columns).where(card_series.c.org_id == org_id)
    return fetch_frame(conn, query, SERIES_SCHEMA)


def cards_misfitting(conn: Connection, org_id: int, shapes: pl.DataFrame) -> pl.DataFrame:
    """Per series of ``shapes`` (series_id, prefix, suffix, length): its cards that would not fit.

    Answers ``series_id``, ``misfits`` (how many) and ``example`` (one such number).
    """
    schema = {"series_id": pl.Int64, "misfits": pl.Int64, "example": pl.String}
    if shapes.is_empty():
        return pl.DataFrame(schema=schema)
    create_temp_table(
        conn,
        "card_shapes",
        {"series_id": "BIGINT", "prefix": "TEXT", "suffix": "TEXT", "length": "BIGINT"},
    )
    insert_frame(conn, "card_shapes", shapes.select("series_id", "prefix", "suffix", "length"))
    shape = sa.table(
        "card_shapes",
        sa.column("series_id"),
        sa.column("prefix"),
        sa.column("suffix"),
        sa.column("length"),
    )
    size = sa.func.length(cards.c.number)
    prefix_size = sa.func.length(shape.c.prefix)
    suffix_size = sa.func.length(shape.c.suffix)
    fits = sa.and_(
        sa.func.substr(cards.c.number, 1, prefix_size) == shape.c.prefix,
        sa.func.substr(cards.c.number, size - suffix_size + 1) == shape.c.suffix,
        size >= prefix_size + suffix_size,
        sa.or_(shape.c.length.is_(None), size == shape.c.length),
    )
    query = (
        sa.select(cards.c.series_id, sa.func.count(), sa.func.min(cards.c.number))
        .join(shape, shape.c.series_id == cards.c.series_id)
        .where(cards.c.org_id == org_id, sa.not_(fits))
        .group_by(cards.c.series_id)
    )
    return fetch_frame(conn, query, schema)


def insert_series_frame(conn: Connection, frame: pl.DataFrame) -> None:
    """Insert the series of ``frame`` (columns named like the table's) at once."""
    insert_frame(conn, card_series, frame)


def series_in_use(conn: Connection, org_id: int, series_ids: pl.Series) -> pl.Series:
    """The ids among ``series_ids`` that have cards."""
    _stage_ids(conn, series_ids)
    query = (
        sa.select(cards.c.series_id)
        .where(cards.c.org_id == org_id, cards.c.series_id.in_(_staged_ids()))
        .distinct()
    )
    return fetch_frame(conn, query, {"series_id": pl.Int64})["series_id"]


def delete_series(conn: Connection, org_id: int, series_ids: pl.Series) -> None:
    if series_ids.is_empty():
        return
    _stage_ids(conn, series_ids)
    conn.execute(
        card_series.delete().where(
            card_series.c.org_id == org_id, card_series.c.id.in_(_staged_ids())
        )
    )


def series_rows(conn: Connection, org_id: int, series_ids: pl.Series) -> pl.DataFrame:
    """The stored columns of the series ``series_ids`` (as :data:`SERIES_SCHEMA`)."""
    _stage_ids(conn, series_ids)
    columns = [card_series.c[name] for name in SERIES_SCHEMA if name != "series_id"]
    query = sa.select(card_series.c.id, *columns).where(
        card_series.c.org_id == org_id, card_series.c.id.in_(_staged_ids())
    )
    return fetch_frame(conn, query, SERIES_SCHEMA)


def write_series(conn: Connection, org_id: int, frame: pl.DataFrame) -> None:
    """Set the columns of ``frame`` (``series_id`` and :data:`SERIES_SCHEMA` names) at once."""
    if frame.is_empty():
        return
    update_from_frame(conn, card_series, org_id, frame.rename({"series_id": "id"}))


# --- cards -----------------------------------------------------------------------------


def taken_numbers(conn: Connection, org_id: int, numbers: pl.Series) -> pl.Series:
    """The numbers among ``numbers`` already used by a card or a ``cardnumber`` identifier."""
    create_temp_table(conn, "card_numbers", {"number": "VARCHAR(255)"})
    insert_frame(conn, "card_numbers", pl.DataFrame({"number": numbers}))
    staged = sa.select(sa.table("card_numbers", sa.column("number")).c.number)
    as_cards = sa.select(cards.c.number).where(cards.c.org_id == org_id, cards.c.number.in_(staged))
    as_identifiers = sa.select(identifiers.c.value).where(
        identifiers.c.org_id == org_id,
        identifiers.c.type == CARD_NUMBER,
        identifiers.c.value.in_(staged),
    )
    found = fetch_frame(conn, sa.union(as_cards, as_identifiers), {"number": pl.String})
    return found["number"]


CARD_STATE_SCHEMA = {
    "number": pl.String,
    "card_id": pl.Int64,
    "card_series_id": pl.Int64,
    "card_status": pl.String,
    "card_status_label": pl.String,
    "card_unit_id": pl.Int64,
    "card_external_id": pl.String,
    "card_customer_id": pl.Int64,
    "card_issued_at": pl.Datetime("us", "UTC"),
    "card_expires_at": pl.Datetime("us", "UTC"),
    "holder_id": pl.Int64,
}


def card_states(conn: Connection, org_id: int, numbers: pl.Series) -> pl.DataFrame:
    """Per number of ``numbers`` that is a card or a ``cardnumber`` identifier: its state.

    ``card_*`` columns are null for a number that is only an identifier; ``holder_id``
    is null for a card nobody holds.
    """
    create_temp_table(conn, "card_numbers", {"number": "VARCHAR(255)"})
    insert_frame(conn, "card_numbers", pl.DataFrame({"number": numbers.unique()}))
    staged = sa.table("card_numbers", sa.column("number"))
    query = (
        sa.select(
            staged.c.number,
            cards.c.id,
            cards.c.series_id,
            cards.c.status,
            cards.c.status_label,
            cards.c.unit_id,
            cards.c.external_id,
            cards.c.customer_id,
            cards.c.issued_at,
            cards.c.expires_at,
            identifiers.c.customer_id,
        )
        .select_from(
            staged.outerjoin(
                cards, sa.and_(cards.c.org_id == org_id, cards.c.number == staged.c.number)
            ).outerjoin(
                identifiers,
                sa.and_(
                    identifiers.c.org_id == org_id,
                    identifiers.c.type == CARD_NUMBER,
                    identifiers.c.value == staged.c.number,
                ),
            )
        )
        .where(sa.or_(cards.c.id.is_not(None), identifiers.c.id.is_not(None)))
    )
    return fetch_frame(conn, query, CARD_STATE_SCHEMA)


def cards_by_external_id(conn: Connection, org_id: int, external_ids: pl.Series) -> pl.DataFrame:
    """(card_external_id, owner_number): the card each of ``external_ids`` already names."""
    create_temp_table(conn, "card_external_ids", {"external_id": "VARCHAR(100)"})
    insert_frame(conn, "card_external_ids", pl.DataFrame({"external_id": external_ids.unique()}))
    staged = sa.select(sa.table("card_external_ids", sa.column("external_id")).c.external_id)
    query = sa.select(cards.c.external_id, cards.c.number).where(
        cards.c.org_id == org_id, cards.c.external_id.in_(staged)
    )
    return fetch_frame(conn, query, {"card_external_id": pl.String, "owner_number": pl.String})


def insert_cards(conn: Connection, frame: pl.DataFrame) -> None:
    """Insert the cards of ``frame`` (columns named like the table's) at once."""
    insert_frame(conn, cards, frame)


def write_cards(conn: Connection, org_id: int, frame: pl.DataFrame) -> None:
    """Set the columns of ``frame`` (``id`` and cards columns) on those cards, at once."""
    update_from_frame(conn, cards, org_id, frame)


def delete_cards(conn: Connection, org_id: int, card_ids: pl.Series) -> None:
    if card_ids.is_empty():
        return
    _stage_ids(conn, card_ids)
    conn.execute(cards.delete().where(cards.c.org_id == org_id, cards.c.id.in_(_staged_ids())))


CURRENT_CARD_SCHEMA = {
    "card_id": pl.Int64,
    "now_status": pl.String,
    "now_status_label": pl.String,
    "now_unit_id": pl.Int64,
    "now_external_id": pl.String,
    "now_customer_id": pl.Int64,
}


def current_cards(conn: Connection, org_id: int, card_ids: pl.Series) -> pl.DataFrame:
    """The undo's view of cards ``card_ids``: label, store, external id, holder."""
    _stage_ids(conn, card_ids)
    query = (
        sa.select(
            cards.c.id,
            cards.c.status,
            cards.c.status_label,
            cards.c.unit_id,
            cards.c.external_id,
            identifiers.c.customer_id,
        )
        .select_from(holder_join())
        .where(cards.c.org_id == org_id, cards.c.id.in_(_staged_ids()))
    )
    return fetch_frame(conn, query, CURRENT_CARD_SCHEMA)


# --- card identifiers ---------------------------------------------------------------


def holder_profiles(conn: Connection, org_id: int, customer_ids: pl.Series) -> pl.DataFrame:
    """The profile a card identifier of each customer goes on: ``INSTORE``, else the first."""
    _stage_ids(conn, customer_ids)
    query = sa.select(profiles.c.customer_id, profiles.c.id, profiles.c.source).where(
        profiles.c.org_id == org_id, profiles.c.customer_id.in_(_staged_ids())
    )
    found = fetch_frame(
        conn, query, {"customer_id": pl.Int64, "profile_id": pl.Int64, "source": pl.String}
    )
    return (
        found.sort(pl.col("source") != "INSTORE", "profile_id")
        .unique("customer_id", keep="first")
        .select("customer_id", "profile_id")
    )


def insert_card_identifiers(conn: Connection, frame: pl.DataFrame) -> None:
    """``cardnumber`` identifiers (id, org_id, customer_id, profile_id, value) at once."""
    insert_frame(conn, identifiers, frame.with_columns(type=pl.lit(CARD_NUMBER)))


IDENTIFIER_SCHEMA = {"identifier_id": pl.Int64, "now_holder_id": pl.Int64, "value": pl.String}


def card_identifiers(conn: Connection, org_id: int, identifier_ids: pl.Series) -> pl.DataFrame:
    """The ``cardnumber`` identifiers among ``identifier_ids`` that still exist."""
    _stage_ids(conn, identifier_ids)
    query = sa.select(identifiers.c.id, identifiers.c.customer_id, identifiers.c.value).where(
        identifiers.c.org_id == org_id,
        identifiers.c.type == CARD_NUMBER,
        identifiers.c.id.in_(_staged_ids()),
    )
    return fetch_frame(conn, query, IDENTIFIER_SCHEMA)


def delete_identifiers(conn: Connection, org_id: int, identifier_ids: pl.Series) -> None:
    if identifier_ids.is_empty():
        return
    _stage_ids(conn, identifier_ids)
    conn.execute(
        identifiers.delete().where(
            identifiers.c.org_id == org_id, identifiers.c.id.in_(_staged_ids())
        )
    )


# --- set-based helpers ------------------------------------------------------------------

_SQL_TYPES = {
    pl.Int64: "BIGINT",
    pl.Int32: "BIGINT",
    pl.String: "TEXT",
    pl.Boolean: "BOOLEAN",
}


def update_from_frame(conn: Connection, table: sa.Table, org_id: int, frame: pl.DataFrame) -> None:
    """``UPDATE table SET <columns> FROM <frame staged> WHERE id = frame.id``: one statement."""
    if frame.is_empty():
        return
    name = f"stage_{table.name}"
    # Times go in as UTC text: timestamptz on PostgreSQL, SQLite's own text form otherwise.
    stamp = "TIMESTAMPTZ" if is_postgres(conn) else "TIMESTAMP"
    kinds = {
        column: stamp if isinstance(dtype, pl.Datetime) else _SQL_TYPES[dtype.base_type()]
        for column, dtype in frame.schema.items()
    }
    create_temp_table(conn, name, kinds)
    insert_frame(conn, name, frame)
    staged = sa.table(name, *[sa.column(column) for column in frame.columns])
    values: dict[str, Any] = {
        column: staged.c[column] for column in frame.columns if column != "id"
    }
    if "updated_at" in table.c and "updated_at" not in values:
        values["updated_at"] = sa.func.now()
    conn.execute(
        table.update().where(table.c.org_id == org_id, table.c.id == staged.c.id).values(values)
    )


def _stage_ids(conn: Connection, ids: pl.Series) -> None:
    create_temp_table(conn, "card_ids", {"id": "BIGINT"})
    insert_frame(conn, "card_ids", pl.DataFrame({"id": ids.drop_nulls().unique()}))


def _staged_ids() -> sa.Select[Any]:
    return sa.select(sa.table("card_ids", sa.column("id")).c.id)
