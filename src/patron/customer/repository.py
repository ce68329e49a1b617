"""SQL of the customer domain: customers, profiles, identifiers, channels, fields."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple, cast

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping
from sqlalchemy.sql import visitors

from patron.customer.tables import comm_channels, customers, field_values, identifiers, profiles
from patron.kit.db import MAX_ID, insert_returning_id
from patron.loyalty.transaction_repository import LIFETIME_PURCHASES
from patron.orgs.tables import org_units

#: Ids are 64-bit integers on both databases: a larger number names no row, and
#: must not reach the driver (SQLite and PostgreSQL refuse it with an error).


# The reads of every customer look-up are built once, with bound parameters: building a
# statement costs more than SQLite takes to run it.
_CUSTOMER = sa.select(customers).where(
    customers.c.org_id == sa.bindparam("org_id"), customers.c.id == sa.bindparam("id")
)
#: The column of :func:`get_customer` ``with_purchases`` holding the code of the store the
#: customer registered at (``NULL`` when none).
REGISTERED_UNIT_CODE = "registered_unit_code"
# The customer with its lifetime purchases (over its merge family) and the code of its store,
# for its details: one statement instead of three
# (``loyalty.transaction_repository.lifetime_purchases_in``).
_CUSTOMER_WITH_PURCHASES = sa.select(
    customers,
    *LIFETIME_PURCHASES.selected_columns,
    sa.select(org_units.c.code)
    .where(
        org_units.c.org_id == customers.c.org_id,
        org_units.c.id == customers.c.registered_unit_id,
    )
    .scalar_subquery()
    .label(REGISTERED_UNIT_CODE),
).where(customers.c.org_id == sa.bindparam("org_id"), customers.c.id == sa.bindparam("customer_id"))

#: The customer id holding an identifier (``org_id``, ``type``, ``value``: unique).
_HOLDER_ID = (
    sa.select(identifiers.c.customer_id)
    .where(
        identifiers.c.org_id == sa.bindparam("org_id"),
        identifiers.c.type == sa.bindparam("type"),
        identifiers.c.value == sa.bindparam("value"),
    )
    .scalar_subquery()
)


def _by_holder(statement: sa.Select[Any], key: str) -> sa.Select[Any]:
    """``statement`` with its customer id parameter ``key`` (wherever it is used: the merge
    family's root too) replaced by the id of the customer holding an identifier."""

    def replace(element: Any, **_kw: Any) -> Any:
        is_id = isinstance(element, sa.BindParameter) and element.key == key
        return _HOLDER_ID if is_id else None

    return cast("sa.Select[Any]", visitors.replacement_traverse(statement, {}, replace))


# The rows of get_customer, found by an identifier instead of an id (``holder_of``).
_HOLDER = _by_holder(_CUSTOMER, "id")
_HOLDER_WITH_PURCHASES = _by_holder(_CUSTOMER_WITH_PURCHASES, "customer_id")


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


class CustomerParts(NamedTuple):
    """A customer's profiles, identifiers, channels and field values (each as its
    ``*_of`` reads them, in the same order)."""

    profiles: list[RowMapping]
    identifiers: list[RowMapping]
    channels: list[RowMapping]
    field_values: list[RowMapping]


def parts_of(conn: Connection, org_id: int, customer_id: int) -> CustomerParts:
    """The four reads of a customer's details in one statement (one round trip, one
    statement's overhead instead of four)."""
    parts: CustomerParts = CustomerParts([], [], [], [])
    for row in conn.execute(_PARTS_OF, {"org_id": org_id, "customer_id": customer_id}).mappings():
        parts[row["part"]].append(row)
    return parts


def _part(table: sa.Table, part: int, **columns: sa.ColumnElement[Any]) -> sa.Select[Any]:
    """One branch of :data:`_PARTS_OF`: every column of the union, ``NULL`` (typed, so the
    union's columns keep their types) where ``table`` has none."""
    selected: list[sa.ColumnElement[Any]] = [sa.literal(part, sa.Integer).label("part")]
    for name, type_ in _PART_COLUMNS.items():
        column = columns.get(name, table.c.get(name))
        selected.append((column if column is not None else sa.cast(sa.null(), type_)).label(name))
    return sa.select(*selected).where(
        table.c.org_id == sa.bindparam("org_id"), table.c.customer_id == sa.bindparam("customer_id")
    )


_PART_COLUMNS: dict[str, Any] = {
    "id": profiles.c.id.type,
    "profile_id": identifiers.c.profile_id.type,
    "source": profiles.c.source.type,
    "account_id": profiles.c.account_id.type,
    "first_name": profiles.c.first_name.type,
    "last_name": profiles.c.last_name.type,
    "created_by": profiles.c.created_by.type,
    "modified_by": profiles.c.modified_by.type,
    "created_at": profiles.c.created_at.type,
    "updated_at": profiles.c.updated_at.type,
    "type": identifiers.c.type.type,
    "value": field_values.c.value.type,
    "is_primary": comm_channels.c.is_primary.type,
    "verified": comm_channels.c.verified.type,
    "meta": comm_channels.c.meta.type,
    "kind": field_values.c.kind.type,
    "name": field_values.c.name.type,
}
# Profiles, identifiers and channels in id order, field values by kind and name, as the
# reads of one part each order them. Built once.
_PARTS = sa.union_all(
    _part(profiles, 0),
    _part(identifiers, 1, created_at=sa.cast(sa.null(), profiles.c.created_at.type)),
    _part(comm_channels, 2, created_at=sa.cast(sa.null(), profiles.c.created_at.type)),
    _part(field_values, 3, updated_at=sa.cast(sa.null(), profiles.c.updated_at.type)),
).subquery("parts")
_PARTS_OF = sa.select(_PARTS).order_by(_PARTS.c.part, _PARTS.c.kind, _PARTS.c.name, _PARTS.c.id)


def insert_customer(conn: Connection, values: dict[str, Any]) -> int:
    return insert_returning_id(conn, customers, values)


def get_customer(
    conn: Connection,
    org_id: int,
    customer_id: int,
    *,
    for_update: bool = False,
    with_purchases: bool = False,
) -> RowMapping | None:
    """The customer row; ``for_update`` locks it until the transaction ends (PostgreSQL:
    a concurrent change is waited for and its result read; SQLite serializes writers).
    ``with_purchases`` (a read) adds the columns of its lifetime purchases and the code of
    its registered store (:data:`REGISTERED_UNIT_CODE`)."""
    if not 0 < customer_id <= MAX_ID:
        return None
    if with_purchases and not for_update:
        found = conn.execute(
            _CUSTOMER_WITH_PURCHASES, {"org_id": org_id, "customer_id": customer_id}
        )
        return found.mappings().first()
    query = _CUSTOMER.with_for_update() if for_update else _CUSTOMER
    return conn.execute(query, {"org_id": org_id, "id": customer_id}).mappings().first()


def holder_of(
    conn: Connection, org_id: int, kind: str, value: str, *, with_purchases: bool = False
) -> RowMapping | None:
    """The row of the customer holding the identifier ``(kind, value)``, as
    :func:`get_customer` reads it (not locked), or None: the identifier's owner and its row
    in one statement, where a look-up ran two (each statement's execution by SQLAlchemy
    costs more CPU than SQLite's work for it)."""
    query = _HOLDER_WITH_PURCHASES if with_purchases else _HOLDER
    found = conn.execute(query, {"org_id": org_id, "type": kind, "value": value})
    return found.mappings().first()


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
    wanted = set(pairs)
    parameters = {"org_id": org_id, **pair_parameters("pairs", wanted)}
    rows = conn.execute(_OWNERS_OF_PAIRS, parameters).mappings()
    # The types and the values are asked for apart (see pairs_in): keep the pairs asked for.
    return [row for row in rows if (row["type"], row["value"]) in wanted]


def pairs_in(
    kind: sa.ColumnElement[Any], value: sa.ColumnElement[Any], *, name: str
) -> sa.ColumnElement[bool]:
    """``kind`` among the types and ``value`` among the values of (type, value) pairs (the
    expanding parameters ``<name>_types`` and ``<name>_values``, :func:`pair_parameters`),
    rather than ``(kind, value) IN (pairs)``: SQLite searches a list of two row values or
    more by the org alone (every identifier of the org), two lists by the unique index. The
    caller keeps the rows of the pairs asked for."""
    return sa.and_(
        kind.in_(sa.bindparam(f"{name}_types", expanding=True)),
        value.in_(sa.bindparam(f"{name}_values", expanding=True)),
    )


def pair_parameters(name: str, pairs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """The parameters of :func:`pairs_in` ``name`` for ``pairs``."""
    pairs = list(pairs)
    return {
        f"{name}_types": sorted({kind for kind, _ in pairs}),
        f"{name}_values": sorted({value for _, value in pairs}),
    }


_OWNERS = sa.select(
    identifiers.c.type,
    identifiers.c.value,
    identifiers.c.customer_id,
    identifiers.c.profile_id,
    profiles.c.source,
    profiles.c.account_id,
).join(profiles, profiles.c.id == identifiers.c.profile_id)
_OWNERS_OF_PAIRS = _OWNERS.where(
    identifiers.c.org_id == sa.bindparam("org_id"),
    pairs_in(identifiers.c.type, identifiers.c.value, name="pairs"),
)
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
