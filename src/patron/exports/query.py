"""SQL of an export's rows: every exported column of the filtered customers, in one statement.

The profile list reads a page of ids by keyset, then the page's customers, profiles,
identifiers, labels and stores (8 statements a page, each row rebuilt in Python). An
export reads every row once, so it asks for them all in one statement instead, in the
list's order and with the list's very filter conditions
(:func:`patron.customer.listing_repository.filter_conditions`), each value already a
column: the first profile's names (joined), the store (joined), the label (joined),
every value of an identifier type (a correlated, ordered string aggregate), a custom
or extended field (a correlated lookup). The rows are streamed (a server-side cursor
on PostgreSQL, SQLite's own stepping) and fetched in batches.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.engine import Connection

from patron.customer import listing_repository
from patron.customer.listing_repository import Criteria
from patron.customer.tables import customers, field_values, identifiers, profiles
from patron.exports.fields import SEPARATOR
from patron.orgs.tables import org_units, status_labels

#: Standard column -> the selected expression's label (the frame's column of it).
_STANDARD = {
    "id": "id",
    "firstName": "first_name",
    "lastName": "last_name",
    "loyaltyType": "loyalty_type",
    "statusLabel": "status_label",
    "systemStatus": "system_status",
    "fraudStatus": "fraud_status",
    "registeredAt": "registered_at",
    "source": "source",
    "accountId": "account_id",
    "sources": "sources",
    "store": "store",
    "storeName": "store_name",
}


def _joined(
    conn: Connection,
    value: sa.ColumnElement[Any],
    order: sa.ColumnElement[Any],
    inner: sa.Select[Any],
) -> sa.ScalarSelect[Any]:
    """The values of ``inner`` (a select of ``value`` correlated to ``customers``) joined
    by :data:`SEPARATOR` in ``order``; NULL when there are none."""
    if conn.dialect.name == "postgresql":
        aggregated = sa.func.string_agg(value, aggregate_order_by(sa.literal(SEPARATOR), order))
        return inner.with_only_columns(aggregated).scalar_subquery()
    # SQLite (3.40) has no ORDER BY inside an aggregate: group_concat takes the rows in
    # the order of the subquery it reads.
    ordered = inner.with_only_columns(value.label("v")).order_by(order).subquery()
    return (
        sa.select(sa.func.group_concat(ordered.c.v, SEPARATOR))
        .select_from(ordered)
        .scalar_subquery()
    )


def _identifier_values(conn: Connection, org_id: int, kind: str) -> sa.ScalarSelect[Any]:
    """Every identifier of ``kind`` of the customer, in the order they were added."""
    held = identifiers.alias(f"held_{kind}")
    inner = (
        sa.select(held.c.value)
        .where(held.c.org_id == org_id, held.c.customer_id == customers.c.id, held.c.type == kind)
        .correlate(customers)  # the outer row, also from a subquery in FROM (SQLite's)
    )
    return _joined(conn, held.c.value, held.c.id, inner)


def _sources(conn: Connection, org_id: int) -> sa.ScalarSelect[Any]:
    """The sources of the customer's profiles, each once, in the order of its first profile."""
    each = profiles.alias("each_profile")
    firsts = (
        sa.select(each.c.source, sa.func.min(each.c.id).label("first"))
        .where(each.c.org_id == org_id, each.c.customer_id == customers.c.id)
        .group_by(each.c.source)
        .correlate(customers)  # the outer row, from a subquery in FROM
        .subquery()
    )
    inner = sa.select(firsts.c.source).select_from(firsts)
    return _joined(conn, firsts.c.source, firsts.c.first, inner)


def _field_value(org_id: int, kind: str, name: str, n: int) -> sa.ScalarSelect[Any]:
    value = field_values.alias(f"field_{n}")
    return (
        sa.select(value.c.value)
        .where(
            value.c.org_id == org_id,
            value.c.customer_id == customers.c.id,
            # Not from an index (``|| ''``): the lookup then takes the customer's key; on a
            # store not analyzed yet, PostgreSQL would walk every value of the field instead.
            (value.c.kind + "") == kind,
            (value.c.name + "") == name,
        )
        .scalar_subquery()
    )


def _selected(
    conn: Connection, org_id: int, columns: Sequence[str], custom_prefix: str, ext_prefix: str
) -> list[sa.ColumnElement[Any]]:
    """One labelled expression per export column, ``c0``, ``c1``... in ``columns``' order."""
    plain: dict[str, sa.ColumnElement[Any]] = {
        "id": customers.c.id,
        "first_name": profiles.c.first_name,
        "last_name": profiles.c.last_name,
        "loyalty_type": customers.c.loyalty_type,
        "status_label": status_labels.c.label,
        "system_status": status_labels.c.system_status,
        "fraud_status": customers.c.fraud_status,
        "registered_at": customers.c.registered_at,
        "source": profiles.c.source,
        "account_id": profiles.c.account_id,
        "store": org_units.c.code,
        "store_name": org_units.c.name,
    }
    selected: list[sa.ColumnElement[Any]] = []
    for n, column in enumerate(columns):
        label = f"c{n}"
        standard = _STANDARD.get(column)
        if standard == "sources":
            selected.append(_sources(conn, org_id).label(label))
        elif standard is not None:
            selected.append(plain[standard].label(label))
        elif column.startswith(custom_prefix):
            name = column.removeprefix(custom_prefix)
            selected.append(_field_value(org_id, "custom", name, n).label(label))
        elif column.startswith(ext_prefix):
            name = column.removeprefix(ext_prefix)
            selected.append(_field_value(org_id, "extended", name, n).label(label))
        else:  # an identifier type
            selected.append(_identifier_values(conn, org_id, column).label(label))
    return selected


def export_rows(
    conn: Connection,
    org_id: int,
    criteria: Criteria,
    *,
    sort: str,
    descending: bool,
    columns: Sequence[str],
    custom_prefix: str,
    extended_prefix: str,
    batch_rows: int,
    limit: int | None = None,
) -> Iterator[list[tuple[Any, ...]]]:
    """The list's customers matching ``criteria`` in the list's order, one tuple of
    ``columns``' values per customer (raw: ids as numbers, times as datetimes, NULL for a
    missing value), ``batch_rows`` at a time; at most ``limit`` rows when given."""
    conditions = listing_repository.filter_conditions(conn, org_id, criteria)
    if conditions is None:
        return
    selected = _selected(conn, org_id, columns, custom_prefix, extended_prefix)
    label = sa.and_(
        status_labels.c.org_id == customers.c.org_id,
        status_labels.c.id == customers.c.status_label_id,
    )
    unit = sa.and_(
        org_units.c.org_id == customers.c.org_id, org_units.c.id == customers.c.registered_unit_id
    )
    query: sa.Select[Any]
    if sort == "registeredAt":
        # A customer without a profile is listed (with empty names): an outer join. The
        # first profile by its id: SQLite would otherwise walk an index of the org's names
        # for each customer.
        earliest = profiles.alias("earliest")
        first_id = (
            sa.select(sa.func.min(earliest.c.id))
            .where(earliest.c.org_id == org_id, earliest.c.customer_id == customers.c.id)
            .scalar_subquery()
        )
        named = sa.and_(
            profiles.c.org_id == customers.c.org_id,
            # Implied by the id, but the key PostgreSQL joins on (else every pair of the org).
            profiles.c.customer_id == customers.c.id,
            profiles.c.id == first_id,
        )
        joined = customers.outerjoin(profiles, named)
        order: list[sa.ColumnElement[Any]] = [customers.c.registered_at, customers.c.id]
    else:
        # Sorted by the first profile's names: the list holds customers that have one.
        named = sa.and_(
            profiles.c.org_id == customers.c.org_id, profiles.c.customer_id == customers.c.id
        )
        joined = customers.join(profiles, named)
        first_profile = listing_repository.first_profile(org_id)
        conditions = [*conditions, profiles.c.org_id == org_id, first_profile]
        order = [
            sa.func.lower(profiles.c.first_name),
            sa.func.lower(profiles.c.last_name),
            profiles.c.customer_id,
        ]
    joined = joined.outerjoin(status_labels, label).outerjoin(org_units, unit)
    query = (
        sa.select(*selected)
        .select_from(joined)
        .where(*conditions)
        .order_by(*(c.desc() if descending else c.asc() for c in order))
    )
    if limit is not None:
        query = query.limit(limit)
    # On the statement: Connection.execution_options() would stream every later one too.
    streamed = {"stream_results": True, "yield_per": batch_rows}
    result = conn.execute(query, execution_options=streamed)
    try:
        for batch in result.partitions(batch_rows):
            yield [tuple(row) for row in batch]
    finally:
        result.close()
