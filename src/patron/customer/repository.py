"""SQL of the customer domain: customers, profiles, identifiers, channels, fields."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from patron.customer.tables import comm_channels, customers, field_values, identifiers, profiles
from patron.kit.db import MAX_ID, insert_returning_id

#: Ids are 64-bit integers on both databases: a larger number names no row, and
#: must not reach the driver (SQLite and PostgreSQL refuse it with an error).


# The reads of every customer look-up are built once, with bound parameters: building a
# statement costs more than SQLite takes to run it.
_CUSTOMER = sa.select(customers).where(
    customers.c.org_id == sa.bindparam("org_id"), customers.c.id == sa.bindparam("id")
)


def _owned_by_customer(table: sa.Table, *order_by: sa.ColumnElement[Any]) -> sa.Select[Any]:
    return (
        sa.select(table)
        .where(
            table.c.org_id == sa.bindparam("org_id"),
            table.c.customer_id == sa.bindparam("customer_id"),
        )
        .order_by(*order_by)
    )


_PROFILES_OF = _owned_by_customer(profiles, profiles.c.id)
_IDENTIFIERS_OF = _owned_by_customer(identifiers, identifiers.c.id)
_CHANNELS_OF = _owned_by_customer(comm_channels, comm_channels.c.id)
_FIELD_VALUES_OF = _owned_by_customer(field_values, field_values.c.kind, field_values.c.name)


def _of_customer(
    conn: Connection, query: sa.Select[Any], org_id: int, customer_id: int
) -> list[RowMapping]:
    return list(conn.execute(query, {"org_id": org_id, "customer_id": customer_id}).mappings())


def insert_customer(conn: Connection, values: dict[str, Any]) -> int:
    return insert_returning_id(conn, customers, values)


def get_customer(
    conn: Connection, org_id: int, customer_id: int, *, for_update: bool = False
) -> RowMapping | None:
    """The customer row; ``for_update`` locks it until the transaction ends (PostgreSQL:
    a concurrent change is waited for and its result read; SQLite serializes writers)."""
    if not 0 < customer_id <= MAX_ID:
        return None
    query = _CUSTOMER.with_for_update() if for_update else _CUSTOMER
    return conn.execute(query, {"org_id": org_id, "id": customer_id}).mappings().first()


def update_customer(
    conn: Connection, org_id: int, customer_id: int, values: dict[str, Any]
) -> None:
    conn.execute(
        customers.update()
        .where(customers.c.org_id == org_id, customers.c.id == customer_id)
        .values(updated_at=sa.func.now(), **values)
    )


def insert_profile(conn: Connection, values: dict[str, Any]) -> int:
    return insert_returning_id(conn, profiles, values)


def profiles_of(conn: Connection, org_id: int, customer_id: int) -> list[RowMapping]:
    return _of_customer(conn, _PROFILES_OF, org_id, customer_id)


def find_profile(
    conn: Connection, org_id: int, customer_id: int, source: str, account_id: str
) -> RowMapping | None:
    query = sa.select(profiles).where(
        profiles.c.org_id == org_id,
        profiles.c.customer_id == customer_id,
        profiles.c.source == source,
        profiles.c.account_id == account_id,
    )
    return conn.execute(query).mappings().first()


def update_profile(conn: Connection, org_id: int, profile_id: int, values: dict[str, Any]) -> None:
    conn.execute(
        profiles.update()
        .where(profiles.c.org_id == org_id, profiles.c.id == profile_id)
        .values(updated_at=sa.func.now(), **values)
    )


def insert_identifiers(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        conn.execute(identifiers.insert(), list(rows))


def delete_identifier(conn: Connection, org_id: int, kind: str, value: str) -> None:
    conn.execute(
        identifiers.delete().where(
            identifiers.c.org_id == org_id, identifiers.c.type == kind, identifiers.c.value == value
        )
    )


def owners_of(conn: Connection, org_id: int, pairs: Iterable[tuple[str, str]]) -> list[RowMapping]:
    """The stored identifiers among ``(type, value)`` pairs, with their profile's source."""
    pairs = list(pairs)
    if not pairs:
        return []
    if len(pairs) == 1:  # a look-up: the statement built once
        (kind, value), *_ = pairs
        found = conn.execute(_OWNER_OF, {"org_id": org_id, "type": kind, "value": value})
        return list(found.mappings())
    query = _OWNERS.where(
        identifiers.c.org_id == org_id,
        sa.tuple_(identifiers.c.type, identifiers.c.value).in_(pairs),
    )
    return list(conn.execute(query).mappings())


_OWNERS = sa.select(
    identifiers.c.type,
    identifiers.c.value,
    identifiers.c.customer_id,
    identifiers.c.profile_id,
    profiles.c.source,
    profiles.c.account_id,
).join(profiles, profiles.c.id == identifiers.c.profile_id)
_OWNER_OF = _OWNERS.where(
    identifiers.c.org_id == sa.bindparam("org_id"),
    identifiers.c.type == sa.bindparam("type"),
    identifiers.c.value == sa.bindparam("value"),
)


def identifiers_of(conn: Connection, org_id: int, customer_id: int) -> list[RowMapping]:
    return _of_customer(conn, _IDENTIFIERS_OF, org_id, customer_id)


def channels_of(conn: Connection, org_id: int, customer_id: int) -> list[RowMapping]:
    return _of_customer(conn, _CHANNELS_OF, org_id, customer_id)


def upsert_channels(
    conn: Connection, org_id: int, customer_id: int, profile_id: int, rows: list[dict[str, Any]]
) -> None:
    """Insert channels; a channel of the same type and value on the profile is replaced."""
    for row in rows:
        conn.execute(
            comm_channels.delete().where(
                comm_channels.c.org_id == org_id,
                comm_channels.c.profile_id == profile_id,
                comm_channels.c.type == row["type"],
                comm_channels.c.value == row["value"],
            )
        )
    if rows:
        conn.execute(
            comm_channels.insert(),
            [
                {"org_id": org_id, "customer_id": customer_id, "profile_id": profile_id, **row}
                for row in rows
            ],
        )


def field_values_of(conn: Connection, org_id: int, customer_id: int) -> list[RowMapping]:
    return _of_customer(conn, _FIELD_VALUES_OF, org_id, customer_id)


def upsert_field_values(
    conn: Connection, org_id: int, customer_id: int, kind: str, values: dict[str, str]
) -> None:
    """Set field values of one kind (custom / extended), replacing earlier ones."""
    if not values:
        return
    conn.execute(
        field_values.delete().where(
            field_values.c.org_id == org_id,
            field_values.c.customer_id == customer_id,
            field_values.c.kind == kind,
            field_values.c.name.in_(list(values)),
        )
    )
    conn.execute(
        field_values.insert(),
        [
            {"org_id": org_id, "customer_id": customer_id, "kind": kind, "name": n, "value": v}
            for n, v in values.items()
        ],
    )
