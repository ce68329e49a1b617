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

A whole export (no ``limit``: the job's file, ``patron export``) reads every row, so its
statement is shaped for that instead of for its first rows:

- SQLite sorts the rows itself (its sorter spills to temporary files: flat memory)
  rather than walking the order's index: that walk visits the customers, profiles and
  identifiers out of page order and took three times as long as reading them in rowid
  order and sorting afterwards.
- PostgreSQL joins each identifier type, the field values and the first profiles as
  whole grouped sets (hash joins) rather than one correlated lookup per row and column,
  and sends the rows through ``COPY ... TO STDOUT`` in its text format, parsed by polars
  a block at a time, not row by row through the driver and SQLAlchemy.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl
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


def _identifier_lists(org_id: int, kind: str, n: int) -> sa.Subquery:
    """Every customer's identifiers of ``kind`` joined by :data:`SEPARATOR` in the order
    they were added, as one grouped set (PostgreSQL's whole export): ``customer_id``, ``v``."""
    held = identifiers.alias(f"held_{n}")
    joined = sa.func.string_agg(held.c.value, aggregate_order_by(sa.literal(SEPARATOR), held.c.id))
    return (
        sa.select(held.c.customer_id, joined.label("v"))
        .where(held.c.org_id == org_id, held.c.type == kind)
        .group_by(held.c.customer_id)
        .subquery(f"list_{n}")
    )


@dataclass(frozen=True)
class Selection:
    """What an export reads of each customer, and in which order: its ``columns`` (export
    column names; org fields behind ``custom_prefix`` / ``extended_prefix``), sorted by
    ``sort``."""

    sort: str
    descending: bool
    columns: Sequence[str]
    custom_prefix: str
    extended_prefix: str


@dataclass
class _Shape:
    """The selected expressions, and the sets a whole export on PostgreSQL joins for them."""

    selected: list[sa.ColumnElement[Any]] = field(default_factory=list)
    joins: list[tuple[sa.FromClause, sa.ColumnElement[bool]]] = field(default_factory=list)


def _selected(
    conn: Connection,
    org_id: int,
    columns: Sequence[str],
    custom_prefix: str,
    ext_prefix: str,
    *,
    grouped: bool = False,
) -> _Shape:
    """One labelled expression per export column, ``c0``, ``c1``... in ``columns``' order;
    ``grouped``: identifiers and fields from joined sets (PostgreSQL's whole export), the
    registration time as microseconds since 1970 (``COPY``'s text then parses exactly)."""
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
    if grouped:
        epoch = sa.extract("epoch", customers.c.registered_at) * 1_000_000
        plain["registered_at"] = sa.cast(epoch, sa.BigInteger)
    shape = _Shape()
    for n, column in enumerate(columns):
        label = f"c{n}"
        standard = _STANDARD.get(column)
        if standard == "sources":
            shape.selected.append(_sources(conn, org_id).label(label))
        elif standard is not None:
            shape.selected.append(plain[standard].label(label))
        elif column.startswith((custom_prefix, ext_prefix)):
            kind = "custom" if column.startswith(custom_prefix) else "extended"
            name = column.removeprefix(custom_prefix if kind == "custom" else ext_prefix)
            if grouped:
                # One value at most per customer, kind and name (the table's unique key).
                value = field_values.alias(f"field_{n}")
                on = sa.and_(
                    value.c.org_id == org_id,
                    value.c.customer_id == customers.c.id,
                    value.c.kind == kind,
                    value.c.name == name,
                )
                shape.joins.append((value, on))
                shape.selected.append(value.c.value.label(label))
            else:
                shape.selected.append(_field_value(org_id, kind, name, n).label(label))
        elif grouped:  # an identifier type
            lists = _identifier_lists(org_id, column, n)
            shape.joins.append((lists, lists.c.customer_id == customers.c.id))
            shape.selected.append(lists.c.v.label(label))
        else:
            shape.selected.append(_identifier_values(conn, org_id, column).label(label))
    return shape


def _statement(
    conn: Connection,
    org_id: int,
    conditions: list[sa.ColumnElement[bool]],
    selection: Selection,
    *,
    whole: bool,
) -> sa.Select[Any]:
    """The export's statement; ``whole``: every row is read (see the module's docstring)."""
    postgres = conn.dialect.name == "postgresql"
    grouped = whole and postgres
    shape = _selected(
        conn,
        org_id,
        selection.columns,
        selection.custom_prefix,
        selection.extended_prefix,
        grouped=grouped,
    )
    sort, descending = selection.sort, selection.descending
    label = sa.and_(
        status_labels.c.org_id == customers.c.org_id,
        status_labels.c.id == customers.c.status_label_id,
    )
    unit = sa.and_(
        org_units.c.org_id == customers.c.org_id, org_units.c.id == customers.c.registered_unit_id
    )
    joined: sa.FromClause
    if sort == "registeredAt":
        # A customer without a profile is listed (with empty names): an outer join. The
        # first profile by its id: SQLite would otherwise walk an index of the org's names
        # for each customer.
        earliest = profiles.alias("earliest")
        if grouped:
            firsts = (
                sa.select(earliest.c.customer_id, sa.func.min(earliest.c.id).label("id"))
                .where(earliest.c.org_id == org_id)
                .group_by(earliest.c.customer_id)
                .subquery("firsts")
            )
            joined = customers.outerjoin(firsts, firsts.c.customer_id == customers.c.id)
            named = sa.and_(profiles.c.org_id == customers.c.org_id, profiles.c.id == firsts.c.id)
        else:
            first_id = (
                sa.select(sa.func.min(earliest.c.id))
                .where(earliest.c.org_id == org_id, earliest.c.customer_id == customers.c.id)
                .scalar_subquery()
            )
            named = sa.and_(
                profiles.c.org_id == customers.c.org_id,
                # Implied by the id, but the key PostgreSQL joins on (else every pair).
                profiles.c.customer_id == customers.c.id,
                profiles.c.id == first_id,
            )
            joined = customers
        joined = joined.outerjoin(profiles, named)
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
    for joined_set, on in shape.joins:
        joined = joined.outerjoin(joined_set, on)
    if whole and not postgres:
        # The same values, but no index can give them: SQLite reads the rows in the
        # customers' own order and sorts them in its sorter (see the module's docstring).
        order = [_unindexed(key) for key in order]
    return (
        sa.select(*shape.selected)
        .select_from(joined)
        .where(*conditions)
        .order_by(*(c.desc() if descending else c.asc() for c in order))
    )


def _unindexed(key: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    """``key`` with the same value and order, as an expression SQLite takes from no index
    (an id plus zero; a text, a time stored as text, with nothing appended)."""
    if isinstance(key.type, sa.Integer):
        return key + 0
    return sa.func.coalesce(key, None)


def export_rows(
    conn: Connection,
    org_id: int,
    criteria: Criteria,
    selection: Selection,
    *,
    batch_rows: int,
    limit: int | None = None,
) -> Iterator[list[tuple[Any, ...]]]:
    """The list's customers matching ``criteria`` in the list's order, one tuple of the
    selection's column values per customer (raw: ids as numbers, times as datetimes, NULL
    for a missing value), ``batch_rows`` at a time; at most ``limit`` rows when given."""
    conditions = listing_repository.filter_conditions(conn, org_id, criteria)
    if conditions is None:
        return
    query = _statement(conn, org_id, conditions, selection, whole=limit is None)
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


#: COPY's text format escapes these after a backslash (and the backslash itself).
_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
_ESCAPED = re.compile(r"\\(.)", re.DOTALL)


def _unescaped(text: str) -> str:
    return _ESCAPED.sub(lambda found: _ESCAPES.get(found[1], found[1]), text)


def _whole_list(
    conn: Connection, org_id: int, criteria: Criteria, selection: Selection
) -> sa.Select[Any] | None:
    """The statement of every one of the list's customers matching ``criteria`` (None: the
    criteria match no one)."""
    conditions = listing_repository.filter_conditions(conn, org_id, criteria)
    if conditions is None:
        return None
    return _statement(conn, org_id, conditions, selection, whole=True)


def copied_frames(
    conn: Connection,
    org_id: int,
    criteria: Criteria,
    selection: Selection,
    *,
    batch_bytes: int,
) -> Iterator[pl.DataFrame]:
    """Every one of the list's customers matching ``criteria`` (PostgreSQL), in the list's
    order, as frames of about ``batch_bytes`` of ``COPY`` text each: columns ``c0``,
    ``c1``... as text, the id as a number, the registration time as microseconds since
    1970 (UTC), NULL for a missing value."""
    query = _whole_list(conn, org_id, criteria, selection)
    if query is None:
        return
    schema = {
        f"c{n}": pl.Int64 if column in ("id", "registeredAt") else pl.String
        for n, column in enumerate(selection.columns)
    }
    compiled = query.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    # The text format: a newline inside a value is written as \n, so every newline ends a
    # row and a block can be cut after its last one.
    sql = f"COPY ({compiled}) TO STDOUT"
    driver = conn.connection.driver_connection
    pending = bytearray()
    with driver.cursor() as cursor, cursor.copy(sql, compiled.params) as copy:  # type: ignore[union-attr]
        for block in copy:
            pending += block
            if len(pending) >= batch_bytes:
                cut = pending.rindex(b"\n") + 1
                yield _parsed(bytes(pending[:cut]), schema)
                del pending[:cut]
    if pending:
        yield _parsed(bytes(pending), schema)


def _parsed(text: bytes, schema: dict[str, Any]) -> pl.DataFrame:
    frame = pl.read_csv(
        io.BytesIO(text),
        has_header=False,
        separator="\t",
        quote_char=None,
        null_values="\\N",  # a value \N itself comes as \\N
        schema=schema,
    )
    escaped = [
        name
        for name, dtype in schema.items()
        if dtype == pl.String and frame[name].str.contains("\\", literal=True).any()
    ]
    if escaped:  # rare: a value with a backslash, tab or line break
        frame = frame.with_columns(
            pl.col(name).map_elements(_unescaped, return_dtype=pl.String) for name in escaped
        )
    return frame


def sqlite_frames(
    conn: Connection,
    org_id: int,
    criteria: Criteria,
    selection: Selection,
    *,
    batch_rows: int,
) -> Iterator[pl.DataFrame]:
    """Every one of the list's customers matching ``criteria`` (SQLite), in the list's
    order, as frames of ``batch_rows``: columns ``c0``, ``c1``... as text, the id as a
    number, the registration time as SQLite stores it (UTC text), NULL for a missing
    value. The driver's tuples go straight into frames: SQLAlchemy's rows, and its parsing
    of each time into a ``datetime``, cost more than the statement's own stepping."""
    query = _whole_list(conn, org_id, criteria, selection)
    if query is None:
        return
    schema = {
        f"c{n}": pl.Int64 if column == "id" else pl.String
        for n, column in enumerate(selection.columns)
    }
    result = conn.execute(query)
    try:
        cursor = result.cursor
        assert cursor is not None  # a select's result has one until closed
        while rows := cursor.fetchmany(batch_rows):
            yield pl.DataFrame(rows, schema=schema, orient="row")
    finally:
        result.close()
