"""SQL of the customer list: live customers filtered, sorted and paged by keyset or offset.

Two sort orders, each served by one index walked in order, so the first page, a
filtered page and a page deep in the list (a keyset page) read about as many
rows as they show:

- by registration date: ``ix_customers_live_registered_at`` (org, registered_at,
  id), partial on live customers (neither merged into another nor deleted);
- by name: ``ix_profiles_org_id_names`` (org, lower(first_name),
  lower(last_name), customer_id). A customer is sorted by the names of its
  first profile (the oldest), so each customer appears once.

Filters are conditions checked on the rows the walk meets; a search (``q``) is
the union of the few customers whose names, identifiers or id match, sorted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping
from sqlalchemy.sql import operators
from sqlalchemy.sql.expression import UnaryExpression

from patron.customer.sync_repository import VALUE_INDEX_LENGTH, value_head
from patron.customer.tables import customers, field_values, identifiers, profiles
from patron.kit.db import MAX_ID
from patron.orgs.tables import org_units

#: Sorts after every character a stored name or identifier holds: ``prefix`` and this
#: bound the range of the values that start with ``prefix`` (an index range, unlike
#: ``LIKE``, which SQLite only optimizes case-insensitively and PostgreSQL only in C order).
_AFTER_EVERYTHING = "\U0010ffff"
#: Identifier types a list item shows.
SHOWN_IDENTIFIERS = ("mobile", "email", "externalId")
SORT_KEYS = ("registeredAt", "name")
#: Up to this many customers found by a search are read by id and sorted; more are met
#: walking the sort's index, each row tested (a page reads about limit x live / found rows).
FEW = 2_000


@dataclass(frozen=True)
class Search:
    """What ``q`` may match, each part in stored terms (``None``: that part cannot match)."""

    customer_id: int | None = None
    #: Lower-cased by the database: the start of a first or last name.
    name_prefix: str | None = None
    #: A full name: the first name, and the start of the last name.
    full_name: tuple[str, str] | None = None
    #: (identifier types, start of their normalized value).
    identifier_prefixes: tuple[tuple[tuple[str, ...], str], ...] = ()


@dataclass(frozen=True)
class Criteria:
    """Checked filters, in stored terms; every one given must hold."""

    search: Search | None = None
    source: str | None = None
    loyalty_type: str | None = None
    status_label_id: int | None = None
    fraud_status: str | None = None
    registered_from: datetime | None = None
    """Inclusive."""
    registered_before: datetime | None = None
    """Exclusive."""
    unit_ids: tuple[int, ...] | None = None
    #: (custom field name, accepted stored values).
    custom_fields: tuple[tuple[str, tuple[str, ...]], ...] = ()


def _live(org_id: int) -> list[sa.ColumnElement[bool]]:
    # The very predicate of the partial index, so both planners can use it.
    return [
        customers.c.org_id == org_id,
        customers.c.merged_into_id.is_(None),
        customers.c.deleted_at.is_(None),
    ]


def _starts_with(column: sa.ColumnElement[Any], prefix: str) -> sa.ColumnElement[bool]:
    start = sa.literal(prefix, sa.String)
    return sa.and_(column >= start, column < start + _AFTER_EVERYTHING)


def _lower_starts_with(column: sa.ColumnElement[Any], prefix: str) -> sa.ColumnElement[bool]:
    # lower() on both sides: one definition of case, the database's (the index's).
    start = sa.func.lower(sa.literal(prefix, sa.String))
    lowered = sa.func.lower(column)
    return sa.and_(lowered >= start, lowered < start + _AFTER_EVERYTHING)


def _search_parts(
    org_id: int, search: Search, names: Any = profiles, values: Any = identifiers
) -> list[tuple[Any, sa.ColumnElement[bool]]]:
    """What ``search`` matches, one (table, condition) per index range: a condition on
    rows of ``names`` (profiles) or ``values`` (identifiers), whose ``customer_id`` is a
    customer found."""
    name_conditions: list[sa.ColumnElement[bool]] = []
    if search.name_prefix:
        name_conditions += [
            _lower_starts_with(names.c.first_name, search.name_prefix),
            _lower_starts_with(names.c.last_name, search.name_prefix),
        ]
    if search.full_name is not None:
        first, last = search.full_name
        name_conditions.append(
            sa.and_(
                sa.func.lower(names.c.first_name) == sa.func.lower(sa.literal(first, sa.String)),
                _lower_starts_with(names.c.last_name, last),
            )
        )
    # One part per condition: each is an index range, where an OR would be a scan.
    parts: list[tuple[Any, sa.ColumnElement[bool]]] = [
        (names, sa.and_(names.c.org_id == org_id, condition)) for condition in name_conditions
    ]
    for types, prefix in search.identifier_prefixes:
        condition = sa.and_(
            values.c.org_id == org_id,
            values.c.type.in_(types),
            _starts_with(values.c.value, prefix),
        )
        parts.append((values, condition))
    return parts


def _by_id(search: Search) -> int | None:
    customer_id = search.customer_id
    return customer_id if customer_id is not None and 0 < customer_id <= MAX_ID else None


def _matching_ids(org_id: int, search: Search) -> sa.CompoundSelect[Any] | sa.Select[Any] | None:
    """The ids of customers (live or not) that ``search`` finds; ``None`` when none can be."""
    selects = [
        sa.select(table.c.customer_id).where(condition)
        for table, condition in _search_parts(org_id, search)
    ]
    customer_id = _by_id(search)
    if customer_id is not None:
        selects.append(
            sa.select(customers.c.id.label("customer_id")).where(
                customers.c.org_id == org_id, customers.c.id == customer_id
            )
        )
    if not selects:
        return None
    return selects[0] if len(selects) == 1 else sa.union(*selects)


def _found_by(org_id: int, search: Search) -> sa.ColumnElement[bool]:
    """``customers`` is found by ``search``, for a search that finds many: the walk in the
    sort's order meets a page of them soon, testing each row.

    An OR of ``IN (subquery)``, one per part: each set is read once (an index range) and
    each row tested against it (PostgreSQL: hashed subplans; SQLite: lists). One ``IN``
    of their union would be joined instead (PostgreSQL: a hash join over every customer,
    then sorted), and a correlated ``EXISTS`` is run per row by SQLite, on the wrong index.
    """
    # Aliases: the list in name order reads ``profiles`` itself.
    parts = _search_parts(org_id, search, profiles.alias("named"), identifiers.alias("held"))
    tests: list[sa.ColumnElement[bool]] = [
        customers.c.id.in_(sa.select(table.c.customer_id).where(condition))
        for table, condition in parts
    ]
    customer_id = _by_id(search)
    if customer_id is not None:
        tests.append(customers.c.id == customer_id)
    return sa.or_(*tests)


def _search_condition(
    conn: Connection, org_id: int, search: Search, *, counting: bool = False
) -> tuple[sa.ColumnElement[bool] | None, bool]:
    """The condition ``search`` puts on ``customers`` (``None``: it finds nobody), and
    whether it found few customers (their ids are the condition then)."""
    matching = _matching_ids(org_id, search)
    if matching is None:
        return None, True
    found = [int(i) for i in conn.execute(matching.limit(FEW + 1)).scalars()]
    if not found:
        return None, True
    if len(found) <= FEW:
        # Few: read by id, then sorted, wherever they are in the sort's order.
        return customers.c.id.in_(found), True
    if counting:
        return customers.c.id.in_(matching), False
    # Many: the walk in the sort's order meets a page of them soon, testing each row.
    return _found_by(org_id, search), False


def _conditions(
    org_id: int, criteria: Criteria, search: sa.ColumnElement[bool] | None
) -> list[sa.ColumnElement[bool]] | None:
    """Conditions on ``customers`` (``search``: the search's); ``None`` when the criteria
    can match nobody."""
    conditions = _live(org_id)
    if search is not None:
        conditions.append(search)
    if criteria.source is not None:
        on_source = profiles.alias("on_source")
        conditions.append(
            sa.exists().where(
                on_source.c.org_id == org_id,
                on_source.c.customer_id == customers.c.id,
                on_source.c.source == criteria.source,
            )
        )
    if criteria.loyalty_type is not None:
        conditions.append(customers.c.loyalty_type == criteria.loyalty_type)
    if criteria.status_label_id is not None:
        conditions.append(customers.c.status_label_id == criteria.status_label_id)
    if criteria.fraud_status is not None:
        conditions.append(customers.c.fraud_status == criteria.fraud_status)
    if criteria.registered_from is not None:
        conditions.append(customers.c.registered_at >= criteria.registered_from)
    if criteria.registered_before is not None:
        conditions.append(customers.c.registered_at < criteria.registered_before)
    if criteria.unit_ids is not None:
        if not criteria.unit_ids:
            return None
        conditions.append(customers.c.registered_unit_id.in_(list(criteria.unit_ids)))
    for name, values in criteria.custom_fields:
        value = field_values.alias("value_of")
        conditions.append(
            sa.exists().where(
                value.c.org_id == org_id,
                value.c.customer_id == customers.c.id,
                value.c.kind == "custom",
                value.c.name == name,
                value_head(value.c.value).in_([v[:VALUE_INDEX_LENGTH] for v in values]),
                value.c.value.in_(list(values)),
            )
        )
    return conditions


def _first_profile(org_id: int) -> sa.ColumnElement[bool]:
    """``profiles`` is its customer's first (oldest) profile."""
    earlier = profiles.alias("earlier")
    return ~sa.exists().where(
        earlier.c.org_id == org_id,
        earlier.c.customer_id == profiles.c.customer_id,
        earlier.c.id < profiles.c.id,
    )


def filter_conditions(
    conn: Connection, org_id: int, criteria: Criteria
) -> list[sa.ColumnElement[bool]] | None:
    """The list's conditions on ``customers`` for ``criteria``, without its paging (the
    export reads every row they match in one statement); ``None`` when they match nobody."""
    search = None
    if criteria.search is not None:
        search, _ = _search_condition(conn, org_id, criteria.search)
        if search is None:
            return None
    return _conditions(org_id, criteria, search)


def first_profile(org_id: int) -> sa.ColumnElement[bool]:
    """``profiles`` is its customer's first (oldest) profile: the one the list shows."""
    return _first_profile(org_id)


def _ordered(org_id: int, sort: str, conditions: list[sa.ColumnElement[bool]]) -> sa.Select[Any]:
    """The query of the list: ``customer_id`` and the sort key columns ``k0``, ``k1``..."""
    if sort == "registeredAt":
        return sa.select(
            customers.c.id.label("customer_id"),
            customers.c.registered_at.label("k0"),
            customers.c.id.label("k1"),
        ).where(*conditions)
    return (
        sa.select(
            profiles.c.customer_id.label("customer_id"),
            sa.func.lower(profiles.c.first_name).label("k0"),
            sa.func.lower(profiles.c.last_name).label("k1"),
            profiles.c.customer_id.label("k2"),
        )
        .join(
            customers,
            sa.and_(
                customers.c.org_id == profiles.c.org_id, customers.c.id == profiles.c.customer_id
            ),
        )
        .where(profiles.c.org_id == org_id, _first_profile(org_id), *conditions)
    )


def _sort_columns(sort: str) -> list[sa.ColumnElement[Any]]:
    if sort == "registeredAt":
        return [customers.c.registered_at, customers.c.id]
    return [
        sa.func.lower(profiles.c.first_name),
        sa.func.lower(profiles.c.last_name),
        profiles.c.customer_id,
    ]


def _not_from_an_index(column: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    """``+column``: the same value, which SQLite never reads from an index."""
    return UnaryExpression(column, operator=operators.custom_op("+"), type_=column.type)


def page(
    conn: Connection,
    org_id: int,
    criteria: Criteria,
    *,
    sort: str,
    descending: bool,
    limit: int,
    offset: int = 0,
    after: Sequence[Any] | None = None,
) -> list[RowMapping]:
    """Up to ``limit`` rows (``customer_id``, sort keys ``k0``...) in order, after the
    keyset position ``after`` (the sort keys of the last row seen) or ``offset`` rows."""
    if conn.dialect.name == "postgresql":
        # A page is a few dozen rows: starting parallel workers costs more than it saves
        # (and, on a busy server, most of the answer's time). For this transaction only.
        conn.exec_driver_sql("SET LOCAL max_parallel_workers_per_gather = 0")
    search, few = None, False
    if criteria.search is not None:
        search, few = _search_condition(conn, org_id, criteria.search)
        if search is None:
            return []
    conditions = _conditions(org_id, criteria, search)
    if conditions is None:
        return []
    columns = _sort_columns(sort)
    query = _ordered(org_id, sort, conditions)
    if few and conn.dialect.name == "sqlite":
        # SQLite's planner, without statistics, would rather walk the sort's index and
        # test every customer against the ids; ``+column`` takes the index out of its choice.
        columns = [_not_from_an_index(column) for column in columns]
    if after is not None:
        values = [
            sa.bindparam(None, value, type_=col.type)
            for col, value in zip(columns, after, strict=True)
        ]
        position = sa.tuple_(*values)
        query = query.where(
            sa.tuple_(*columns) < position if descending else sa.tuple_(*columns) > position,
            # Implied by the row comparison, but an index range only this way: SQLite
            # does not take one from a row value over expressions (lower(name)).
            columns[0] <= values[0] if descending else columns[0] >= values[0],
        )
    query = query.order_by(*(col.desc() if descending else col.asc() for col in columns))
    query = query.limit(limit).offset(min(offset, MAX_ID)) if offset else query.limit(limit)
    return list(conn.execute(query).mappings())


def count(conn: Connection, org_id: int, criteria: Criteria, *, sort: str) -> int:
    """How many customers the criteria match (every one the list in ``sort`` shows)."""
    search = None
    if criteria.search is not None:
        search, _ = _search_condition(conn, org_id, criteria.search, counting=True)
        if search is None:
            return 0
    conditions = _conditions(org_id, criteria, search)
    if conditions is None:
        return 0
    if sort == "registeredAt":
        query = sa.select(sa.func.count()).select_from(customers).where(*conditions)
    else:
        query = sa.select(sa.func.count()).select_from(
            _ordered(org_id, sort, conditions).subquery()
        )
    return int(conn.execute(query).scalar_one())


def customers_by_id(conn: Connection, org_id: int, ids: Sequence[int]) -> list[RowMapping]:
    query = sa.select(customers).where(customers.c.org_id == org_id, customers.c.id.in_(list(ids)))
    return list(conn.execute(query).mappings())


def profiles_by_customer(conn: Connection, org_id: int, ids: Sequence[int]) -> list[RowMapping]:
    """The profiles of the customers, oldest first."""
    query = (
        sa.select(
            profiles.c.id,
            profiles.c.customer_id,
            profiles.c.source,
            profiles.c.account_id,
            profiles.c.first_name,
            profiles.c.last_name,
        )
        .where(profiles.c.org_id == org_id, profiles.c.customer_id.in_(list(ids)))
        .order_by(profiles.c.customer_id, profiles.c.id)
    )
    return list(conn.execute(query).mappings())


def shown_identifiers(conn: Connection, org_id: int, ids: Sequence[int]) -> list[RowMapping]:
    """The mobile, email and external id of the customers (at most one of each)."""
    query = (
        sa.select(identifiers.c.customer_id, identifiers.c.type, identifiers.c.value)
        .where(
            identifiers.c.org_id == org_id,
            identifiers.c.customer_id.in_(list(ids)),
            identifiers.c.type.in_(SHOWN_IDENTIFIERS),
        )
        .order_by(identifiers.c.id)
    )
    return list(conn.execute(query).mappings())


def units_by_id(conn: Connection, org_id: int, ids: Sequence[int]) -> list[RowMapping]:
    query = sa.select(org_units).where(org_units.c.org_id == org_id, org_units.c.id.in_(list(ids)))
    return list(conn.execute(query).mappings())


def unit_and_descendants(conn: Connection, org_id: int, unit_id: int) -> list[int]:
    """The unit and every unit under it (the tills of a store, the stores of a concept)."""
    tree = (
        sa.select(org_units.c.id)
        .where(org_units.c.org_id == org_id, org_units.c.id == unit_id)
        .cte("tree", recursive=True)
    )
    child = org_units.alias("child")
    tree = tree.union(
        sa.select(child.c.id).where(child.c.org_id == org_id, child.c.parent_id == tree.c.id)
    )
    return sorted(int(i) for i in conn.execute(sa.select(tree.c.id)).scalars())
