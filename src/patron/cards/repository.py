"""SQL of the cards domain: card series, card status labels and cards.

These serve the services behind the API and the CLI, a record or a page at a
time; the set-based reads and writes of the card imports and of card generation
are in :mod:`patron.cards.bulk_repository`.

Who holds a card is read from the ``cardnumber`` identifiers, not from
``cards.customer_id``: identifiers follow merges, unmerges and deletions, and
the org-wide unique index on them is what keeps a card to one customer.
``cards.customer_id`` is written alongside, for reports and indexes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from patron.cards.tables import card_series, card_status_labels, cards
from patron.customer.tables import identifiers
from patron.kit.db import MAX_ID, insert_returning_id

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
    if not 0 < series_id <= MAX_ID:  # names no series, and must not reach the driver
        return None
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


def holder_join() -> sa.sql.expression.FromClause:
    """Cards with their series and, if held, the ``cardnumber`` identifier of the holder."""
    return cards.join(card_series, card_series.c.id == cards.c.series_id).outerjoin(
        identifiers,
        sa.and_(
            identifiers.c.org_id == cards.c.org_id,
            identifiers.c.type == CARD_NUMBER,
            identifiers.c.value == cards.c.number,
        ),
    )


def _card_query() -> sa.Select[Any]:
    return sa.select(*_CARD_COLUMNS, identifiers.c.customer_id).select_from(holder_join())


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
    found = conn.execute(_CARDS_HELD_BY, {"org_id": org_id, "customer_id": customer_id})
    return list(found.mappings())


#: Built once (every customer read lists the cards): building costs more than running it.
_CARDS_HELD_BY = (
    _card_query()
    .where(
        cards.c.org_id == sa.bindparam("org_id"),
        identifiers.c.customer_id == sa.bindparam("customer_id"),
    )
    .order_by(cards.c.id)
)


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
