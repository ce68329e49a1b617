"""SQL of customer care records: notes, preference definitions and values, tickets."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from patron.auth.tables import users
from patron.customer.care_tables import (
    customer_notes,
    customer_preferences,
    preference_definitions,
    tickets,
)
from patron.kit.db import MAX_ID, insert_returning_id
from patron.orgs.tables import org_units


def _page(
    conn: Connection, query: sa.Select[Any], where: sa.ColumnElement[bool], table: sa.Table
) -> tuple[list[RowMapping], int]:
    total = conn.execute(sa.select(sa.func.count()).select_from(table).where(where)).scalar_one()
    return list(conn.execute(query).mappings()), int(total)


# --- notes ------------------------------------------------------------------------------


def insert_note(conn: Connection, values: dict[str, Any]) -> int:
    return insert_returning_id(conn, customer_notes, values)


def get_note(conn: Connection, org_id: int, note_id: int) -> RowMapping | None:
    query = sa.select(customer_notes).where(
        customer_notes.c.org_id == org_id, customer_notes.c.id == min(note_id, MAX_ID)
    )
    return conn.execute(query).mappings().first()


def update_note(conn: Connection, org_id: int, note_id: int, description: str) -> None:
    conn.execute(
        customer_notes.update()
        .where(customer_notes.c.org_id == org_id, customer_notes.c.id == note_id)
        .values(description=description, updated_at=sa.func.now())
    )


def delete_note(conn: Connection, org_id: int, note_id: int) -> None:
    conn.execute(
        customer_notes.delete().where(
            customer_notes.c.org_id == org_id, customer_notes.c.id == note_id
        )
    )


def notes_page(
    conn: Connection, org_id: int, customer_ids: Sequence[int], limit: int, offset: int
) -> tuple[list[RowMapping], int]:
    """A page of the notes of ``customer_ids``, newest first, and their number."""
    where = sa.and_(
        customer_notes.c.org_id == org_id, customer_notes.c.customer_id.in_(list(customer_ids))
    )
    query = (
        sa.select(customer_notes)
        .where(where)
        .order_by(customer_notes.c.id.desc())
        .limit(limit)
        .offset(min(offset, MAX_ID))
    )
    return _page(conn, query, where, customer_notes)


# --- preferences ------------------------------------------------------------------------


def insert_definition(conn: Connection, values: dict[str, Any]) -> int:
    return insert_returning_id(conn, preference_definitions, values)


def definitions(conn: Connection, org_id: int) -> list[RowMapping]:
    query = (
        sa.select(preference_definitions)
        .where(preference_definitions.c.org_id == org_id)
        .order_by(preference_definitions.c.key)
    )
    return list(conn.execute(query).mappings())


def preferences_of(conn: Connection, org_id: int, customer_ids: Sequence[int]) -> list[RowMapping]:
    """The preference values of ``customer_ids``, by key."""
    query = (
        sa.select(customer_preferences)
        .where(
            customer_preferences.c.org_id == org_id,
            customer_preferences.c.customer_id.in_(list(customer_ids)),
        )
        .order_by(customer_preferences.c.key, customer_preferences.c.id)
    )
    return list(conn.execute(query).mappings())


def set_preferences(
    conn: Connection, org_id: int, customer_id: int, values: dict[str, str], actor: str
) -> None:
    """Replace the customer's values of the keys of ``values``."""
    if not values:
        return
    conn.execute(
        customer_preferences.delete().where(
            customer_preferences.c.org_id == org_id,
            customer_preferences.c.customer_id == customer_id,
            customer_preferences.c.key.in_(list(values)),
        )
    )
    conn.execute(
        customer_preferences.insert(),
        [
            {
                "org_id": org_id,
                "customer_id": customer_id,
                "key": key,
                "value": value,
                "updated_by": actor,
            }
            for key, value in values.items()
        ],
    )


def remove_preferences(
    conn: Connection, org_id: int, customer_ids: Sequence[int], keys: Sequence[str]
) -> int:
    if not keys:
        return 0
    result = conn.execute(
        customer_preferences.delete().where(
            customer_preferences.c.org_id == org_id,
            customer_preferences.c.customer_id.in_(list(customer_ids)),
            customer_preferences.c.key.in_(list(keys)),
        )
    )
    return int(result.rowcount)


# --- tickets ----------------------------------------------------------------------------


def insert_ticket(conn: Connection, values: dict[str, Any]) -> int:
    return insert_returning_id(conn, tickets, values)


def _ticket_query() -> sa.Select[Any]:
    return sa.select(tickets, org_units.c.code.label("unit_code")).outerjoin(
        org_units, org_units.c.id == tickets.c.unit_id
    )


def get_ticket(conn: Connection, org_id: int, ticket_id: int) -> RowMapping | None:
    query = _ticket_query().where(tickets.c.org_id == org_id, tickets.c.id == ticket_id)
    return conn.execute(query).mappings().first()


def lock_ticket(conn: Connection, org_id: int, ticket_id: int) -> RowMapping | None:
    query = (
        sa.select(tickets)
        .where(tickets.c.org_id == org_id, tickets.c.id == ticket_id)
        .with_for_update()
    )
    return conn.execute(query).mappings().first()


def open_ticket_with_subject(
    conn: Connection, org_id: int, customer_ids: Sequence[int], subject: str
) -> int | None:
    """The id of a ticket of ``customer_ids`` not closed with ``subject`` (any letter case)."""
    query = (
        sa.select(tickets.c.id)
        .where(
            tickets.c.org_id == org_id,
            tickets.c.customer_id.in_(list(customer_ids)),
            tickets.c.status != "CLOSED",
            sa.func.lower(tickets.c.subject) == subject.lower(),
        )
        .limit(1)
    )
    found = conn.execute(query).scalar()
    return None if found is None else int(found)


def update_ticket(conn: Connection, org_id: int, ticket_id: int, values: dict[str, Any]) -> None:
    conn.execute(
        tickets.update()
        .where(tickets.c.org_id == org_id, tickets.c.id == ticket_id)
        .values(updated_at=sa.func.now(), **values)
    )


def tickets_page(
    conn: Connection,
    org_id: int,
    customer_ids: Sequence[int],
    *,
    status: str | None,
    kind: str | None,
    limit: int,
    offset: int,
) -> tuple[list[RowMapping], int]:
    """A page of the tickets of ``customer_ids``, newest first, and their number."""
    where = sa.and_(tickets.c.org_id == org_id, tickets.c.customer_id.in_(list(customer_ids)))
    if status is not None:
        where = sa.and_(where, tickets.c.status == status)
    if kind is not None:
        where = sa.and_(where, tickets.c.type == kind)
    query = (
        _ticket_query()
        .where(where)
        .order_by(tickets.c.id.desc())
        .limit(limit)
        .offset(min(offset, MAX_ID))
    )
    return _page(conn, query, where, tickets)


def user_named(conn: Connection, org_id: int, username: str) -> str | None:
    """The spelling of an active user of the org called ``username`` (any letter case)."""
    query = sa.select(users.c.username).where(
        users.c.org_id == org_id,
        users.c.is_active.is_(True),
        sa.func.lower(users.c.username) == username.lower(),
    )
    found = conn.execute(query).scalar()
    return None if found is None else str(found)
