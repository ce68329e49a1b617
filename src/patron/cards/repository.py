"""All SQL of the cards domain: card series, card status labels and cards.

Who holds a card is read from the ``cardnumber`` identifiers, not from
``cards.customer_id``: identifiers follow merges, unmerges and deletions, and
the org-wide unique index on them is what keeps a card to one customer.
``cards.customer_id`` is written alongside, for reports and indexes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from patron.cards.tables import card_series, card_status_labels, cards
from patron.customer.tables import identifiers, profiles
from patron.kit.bulk import create_temp_table, fetch_frame, insert_frame, is_postgres
from patron.kit.db import insert_returning_id

CARD_NUMBER = "cardnumber"

# --- card series -------------------------------------------------------------------


def insert_series(conn: Connection, values: dict[str, Any]) -> int:
    return insert_returning_id(conn, card_series, values)


def update_series(conn: Connection, org_id: int, series_id: int, values: dict[str, Any]) -> None:
    conn.execute(
        card_series.update()
        .where(card_series.c.org_id == org_id, card_series.c.id == series_id)
        .values(**values, updated_at=sa.func.now())
    )


def get_series(conn: Connection, org_id: int, series_id: int) -> RowMapping | None:
    query = sa.select(card_series).where(
        card_series.c.org_id == org_id, card_series.c.id == series_id
    )
    return conn.execute(query).mappings().first()


def find_series(conn: Connection, org_id: int, code: str) -> RowMapping | None:
    """A series by code, in any letter case."""
    query = sa.select(card_series).where(
        card_series.c.org_id == org_id, sa.func.upper(card_series.c.code) == code.upper()
    )
    return conn.execute(query).mappings().first()


def list_series(
    conn: Connection, org_id: int, limit: int, offset: int
) -> tuple[list[RowMapping], int]:
    query = (
        sa.select(card_series)
        .where(card_series.c.org_id == org_id)
        .order_by(card_series.c.id)
        .limit(limit)
        .offset(offset)
    )
    total = conn.execute(
        sa.select(sa.func.count()).select_from(card_series).where(card_series.c.org_id == org_id)
    ).scalar_one()
    return list(conn.execute(query).mappings()), int(total)


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


# --- card status labels --------------------------------------------------------------


def insert_label(conn: Connection, values: dict[str, Any]) -> int:
    return insert_returning_id(conn, card_status_labels, values)


def list_labels(conn: Connection, org_id: int) -> list[RowMapping]:
    query = (
        sa.select(card_status_labels)
        .where(card_status_labels.c.org_id == org_id)
        .order_by(card_status_labels.c.id)
    )
    return list(conn.execute(query).mappings())


# --- cards -----------------------------------------------------------------------------

#: A card with its series and its holder (from the identifiers).
_CARD_COLUMNS = (
    cards.c.id,
    cards.c.org_id,
    cards.c.number,
    cards.c.series_id,
    cards.c.status,
    cards.c.status_label,
    cards.c.unit_id,
    cards.c.external_id,
    cards.c.issued_at,
    cards.c.expires_at,
    cards.c.custom_fields,
    cards.c.extended_fields,
    cards.c.created_at,
    cards.c.updated_at,
    card_series.c.code.label("series_code"),
    card_series.c.description.label("series_description"),
    card_series.c.card_type,
    card_series.c.expiry_days,
)


def _holder_join() -> sa.sql.expression.FromClause:
    return cards.join(card_series, card_series.c.id == cards.c.series_id).outerjoin(
        identifiers,
        sa.and_(
            identifiers.c.org_id == cards.c.org_id,
            identifiers.c.type == CARD_NUMBER,
            identifiers.c.value == cards.c.number,
        ),
    )


def _card_query() -> sa.Select[Any]:
    return sa.select(*_CARD_COLUMNS, identifiers.c.customer_id).select_from(_holder_join())


def get_card(conn: Connection, org_id: int, number: str) -> RowMapping | None:
    """A card by number, with its series and holder (``customer_id``)."""
    query = _card_query().where(cards.c.org_id == org_id, cards.c.number == number)
    return conn.execute(query).mappings().first()


def get_card_by_external_id(conn: Connection, org_id: int, external_id: str) -> RowMapping | None:
    """The card with this external id, with its series and holder."""
    query = _card_query().where(cards.c.org_id == org_id, cards.c.external_id == external_id)
    return conn.execute(query).mappings().first()


def holder_of_external_id(conn: Connection, org_id: int, external_id: str) -> int | None:
    """The customer holding the card with this external id, if any."""
    card = get_card_by_external_id(conn, org_id, external_id)
    return None if card is None or card["customer_id"] is None else int(card["customer_id"])


def cards_held_by(conn: Connection, org_id: int, customer_id: int) -> list[RowMapping]:
    """The cards whose number is a ``cardnumber`` identifier of the customer."""
    query = (
        _card_query()
        .where(cards.c.org_id == org_id, identifiers.c.customer_id == customer_id)
        .order_by(cards.c.id)
    )
    return list(conn.execute(query).mappings())


def list_cards(
    conn: Connection,
    org_id: int,
    *,
    series_id: int | None,
    status: str | None,
    limit: int,
    offset: int,
) -> tuple[list[RowMapping], int]:
    conditions = [cards.c.org_id == org_id]
    if series_id is not None:
        conditions.append(cards.c.series_id == series_id)
    if status is not None:
        conditions.append(cards.c.status == status)
    query = _card_query().where(*conditions).order_by(cards.c.id).limit(limit).offset(offset)
    total = conn.execute(
        sa.select(sa.func.count()).select_from(cards).where(*conditions)
    ).scalar_one()
    return list(conn.execute(query).mappings()), int(total)


def insert_card(conn: Connection, values: dict[str, Any]) -> int:
    return insert_returning_id(conn, cards, values)


def update_card(conn: Connection, org_id: int, card_id: int, values: dict[str, Any]) -> None:
    conn.execute(
        cards.update()
        .where(cards.c.org_id == org_id, cards.c.id == card_id)
        .values(**values, updated_at=sa.func.now())
    )


def release_cards(conn: Connection, org_id: int, numbers: Iterable[str]) -> None:
    """The cards numbered ``numbers`` are held by nobody any more."""
    numbers = list(numbers)
    if numbers:
        conn.execute(
            cards.update()
            .where(cards.c.org_id == org_id, cards.c.number.in_(numbers))
            .values(customer_id=None, updated_at=sa.func.now())
        )


def count_cards(conn: Connection, org_id: int, series_id: int) -> int:
    query = (
        sa.select(sa.func.count())
        .select_from(cards)
        .where(cards.c.org_id == org_id, cards.c.series_id == series_id)
    )
    return int(conn.execute(query).scalar_one())


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
        .select_from(_holder_join())
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
