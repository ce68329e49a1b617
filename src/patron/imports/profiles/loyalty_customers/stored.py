"""Loyalty Customers: what the store holds for a file's customers, as text.

Read set-based for the matched customers (their ids staged in a temporary
table): state, in-store profile names, balances, identifiers and org fields,
each as (customer_id, before) in the spelling the file's values are compared in.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from patron.customer.tables import customers, field_values, identifiers, profiles
from patron.imports.context import ImportContext
from patron.imports.newcustomers import SOURCE
from patron.kit.bulk import is_postgres, read_frame, stage
from patron.loyalty.tables import loyalty_accounts
from patron.orgs.tables import status_labels

#: Import field -> identifier type in the profile store.
IDENTIFIER_TYPES = {"mobile": "mobile", "email": "email", "external_id": "externalId"}
PROFILE_FIELDS = ("first_name", "last_name")
#: Import field -> column of ``loyalty_accounts``.
LOYALTY_FIELDS = {
    "loyalty_points": "points",
    "lifetime_points": "lifetime_points",
    "lifetime_purchases": "lifetime_purchases",
    "slab_name": "slab_name",
    "join_date": "joined_on",
}
NUMBER_FIELDS = ("loyalty_points", "lifetime_points", "lifetime_purchases")


def stage_ids(conn: Connection, ids: pl.Series) -> sa.Select[Any]:
    """Stage ``ids`` in ``import_ids``; answer the sub-select of them for ``IN``."""
    staged = stage(
        conn, "import_ids", {"id": "BIGINT"}, pl.DataFrame({"id": ids.unique().drop_nulls().sort()})
    )
    return sa.select(staged.c.id)


@dataclass(frozen=True)
class Current:
    customers: pl.DataFrame  # customer_id, system_status, fraud_status, profile_id
    #: Per field, the stored values as text: (customer_id, before); a customer may hold
    #: several identifiers of one type (on several profiles).
    values: dict[str, pl.DataFrame]
    #: The identifiers the customers hold, for every identifier field the file maps.
    held: dict[str, pl.DataFrame]

    def of(self, field: str) -> pl.DataFrame:
        return self.values.get(field, pl.DataFrame(schema=_STORED_SCHEMA))

    def held_of(self, field: str) -> pl.DataFrame:
        return self.held.get(field, pl.DataFrame(schema=_STORED_SCHEMA))


_STORED_SCHEMA = {"customer_id": pl.Int64, "before": pl.String}


@dataclass(frozen=True)
class Reads:
    """What :func:`current_state` reads of each matched customer, for the fields it wants."""

    wanted: frozenset[str]
    names: tuple[str, ...]  # of PROFILE_FIELDS
    loyalty: tuple[str, ...]  # of LOYALTY_FIELDS
    identifiers: tuple[str, ...]  # the identifier fields whose held values are read
    org_fields: tuple[str, ...]  # ``kind.name`` targets

    @classmethod
    def of(cls, ctx: ImportContext, updatable: Iterable[str]) -> Reads:
        """The ``updatable`` fields, and the mobile and external id (which a row may not
        change), of what the file maps."""
        wanted = {*updatable, *(f for f in ("mobile", "external_id") if f in ctx.columns)}
        return cls(
            wanted=frozenset(wanted),
            names=tuple(field for field in PROFILE_FIELDS if field in wanted),
            loyalty=tuple(field for field in LOYALTY_FIELDS if field in wanted),
            identifiers=tuple(f for f in IDENTIFIER_TYPES if f in wanted or f in ctx.columns),
            org_fields=tuple(target for target in ctx.fields if target in wanted),
        )


@dataclass(frozen=True)
class StateQuery:
    """A query of the stored state of every customer of the org, ``key`` its customer id
    column: read for the customers staged, by :func:`current_state` and by the whole
    file's look-ups (:mod:`.ahead`)."""

    query: sa.Select[Any]
    key: Any
    schema: dict[str, Any]
    #: At most one row per customer (a unique key), which PostgreSQL's look-ups stop at.
    one: bool


def state_queries(ctx: ImportContext, reads: Reads) -> dict[str, StateQuery]:
    """``people`` (one row per customer: its state, its in-store profile's names and its
    balances), ``identifiers`` (those it holds) and one query per org field read."""
    # One row per customer: its state, its in-store profile's names and its balances.
    people = (
        sa.select(
            customers.c.id,
            status_labels.c.system_status,
            customers.c.fraud_status,
            profiles.c.id,
            *(getattr(profiles.c, field) for field in reads.names),
            *_loyalty_columns(list(reads.loyalty)),
        )
        .join(status_labels, status_labels.c.id == customers.c.status_label_id)
        .outerjoin(profiles, _in_store_profile(ctx, customers.c.id))
        .where(customers.c.org_id == ctx.org_id)
    )
    if reads.loyalty:
        people = people.outerjoin(
            loyalty_accounts,
            sa.and_(
                loyalty_accounts.c.org_id == ctx.org_id,
                loyalty_accounts.c.customer_id == customers.c.id,
            ),
        )
    queries = {
        "people": StateQuery(
            people,
            customers.c.id,
            {
                "customer_id": pl.Int64,
                "system_status": pl.String,
                "fraud_status": pl.String,
                "profile_id": pl.Int64,
                **dict.fromkeys([*reads.names, *reads.loyalty], pl.String),
            },
            one=True,
        )
    }
    if reads.identifiers:
        kinds = tuple(IDENTIFIER_TYPES[field] for field in reads.identifiers)
        held = sa.select(identifiers.c.customer_id, identifiers.c.type, identifiers.c.value)
        queries["identifiers"] = StateQuery(
            held.where(identifiers.c.org_id == ctx.org_id, identifiers.c.type.in_(kinds)),
            identifiers.c.customer_id,
            {"customer_id": pl.Int64, "type": pl.String, "before": pl.String},
            one=False,
        )
    for target in reads.org_fields:
        kind, name = target.split(".", 1)
        queries[target] = StateQuery(
            sa.select(field_values.c.customer_id, field_values.c.value).where(
                field_values.c.org_id == ctx.org_id,
                field_values.c.kind == kind,
                field_values.c.name == name,
            ),
            field_values.c.customer_id,
            _STORED_SCHEMA,
            one=True,  # one value of a field per customer (a unique key)
        )
    return queries


def current_state(
    conn: Connection, rows: pl.DataFrame, ctx: ImportContext, updatable: list[str]
) -> Current:
    """What the store holds for the matched customers of ``rows``: their state, and the
    stored values of the ``updatable`` fields and of the mobile and external id (which a
    row may not change)."""
    return read_state(
        conn, ctx, rows["customer_id"].drop_nulls().unique(), Reads.of(ctx, updatable)
    )


def read_state(conn: Connection, ctx: ImportContext, ids: pl.Series, reads: Reads) -> Current:
    """:func:`current_state` of the customers ``ids``."""
    staged = stage_ids(conn, ids)
    return assemble(
        reads,
        {
            name: read_frame(conn, _of_staged(conn, read, staged), read.schema)
            for name, read in state_queries(ctx, reads).items()
        },
    )


def assemble(reads: Reads, frames: dict[str, pl.DataFrame]) -> Current:
    """The :class:`Current` of the frames :func:`state_queries` read, in customer order."""
    people = frames["people"].sort("customer_id")
    held = frames.get("identifiers", pl.DataFrame(schema=_HELD_SCHEMA)).sort(
        "customer_id", "type", "before"
    )
    found = {
        field: held.filter(pl.col("type") == IDENTIFIER_TYPES[field]).drop("type")
        for field in reads.identifiers
    }
    values = {
        **_name_values(people, list(reads.names)),
        **_loyalty_values(people, list(reads.loyalty)),
        **{field: values for field, values in found.items() if field in reads.wanted},
        **{target: frames[target].sort("customer_id") for target in reads.org_fields},
    }
    return Current(customers=people.drop(*reads.names, *reads.loyalty), values=values, held=found)


_HELD_SCHEMA = {"customer_id": pl.Int64, "type": pl.String, "before": pl.String}


def _of_staged(conn: Connection, read: StateQuery, staged: sa.Select[Any]) -> sa.Select[Any]:
    """``read`` for the ids :func:`stage_ids` staged."""
    if not is_postgres(conn):
        return read.query.where(read.key.in_(staged))
    one_id = read.query.where(read.key == _IDS.c.id)
    # OFFSET 0: a customer holds several identifiers, and a LATERAL sub-select without
    # LIMIT or OFFSET is flattened into a join, which the planner would hash again.
    return _per_id(one_id.limit(1) if read.one else one_id.offset(0))


def current_values(conn: Connection, ctx: ImportContext, ids: pl.Series) -> pl.DataFrame:
    """(customer_id, field, before): every stored value this profile can write, as text."""
    every = [*PROFILE_FIELDS, *IDENTIFIER_TYPES, *LOYALTY_FIELDS, *ctx.fields]
    current = read_state(conn, ctx, ids, Reads.of(ctx, every))
    return pl.concat(
        [
            current.of(name).select("customer_id", field=pl.lit(name), before="before")
            for name in every
        ]
    )


#: The ids :func:`stage_ids` staged, as a table.
_IDS = sa.table("import_ids", sa.column("id"))


def _per_id(one_id: sa.Select[Any]) -> sa.Select[Any]:
    """``one_id`` (a query of the rows of one staged id, ``_IDS.c.id``) for every staged id,
    each looked up by index (PostgreSQL: a ``LATERAL`` sub-select, a nested loop).

    Joined with the staged ids, the planner hashes every row of the org's table instead
    (its estimate of a random read is four sequential ones), once per chunk of an import in
    chunks: a chunk of a weekly update into a store of 1.5 million customers read its
    customers' state in 4.6 s that way and 1.9 s by index, its identifiers in 5.3 s and
    1.2 s, and the hash grows with the table where the look-ups do not
    (BENCHMARKS.md, "The import in chunks").
    """
    found = one_id.lateral("found")
    return sa.select(*found.c).select_from(_IDS.join(found, sa.true()))


def _in_store_profile(ctx: ImportContext, customer_id: Any) -> Any:
    return sa.and_(
        profiles.c.customer_id == customer_id,
        profiles.c.org_id == ctx.org_id,
        profiles.c.source == SOURCE,
        profiles.c.account_id == "",
    )


def _loyalty_columns(fields: list[str]) -> list[Any]:
    return [
        sa.cast(getattr(loyalty_accounts.c, LOYALTY_FIELDS[field]), sa.String).label(field)
        for field in fields
    ]


def _name_values(frame: pl.DataFrame, names: list[str]) -> dict[str, pl.DataFrame]:
    # An empty name is no name.
    return {
        field: frame.select("customer_id", before=field).filter(pl.col("before") != "")
        for field in names
    }


def _loyalty_values(frame: pl.DataFrame, fields: list[str]) -> dict[str, pl.DataFrame]:
    return {
        field: frame.select(
            "customer_id",
            before=number_text(pl.col(field)) if field in NUMBER_FIELDS else pl.col(field),
        ).drop_nulls("before")
        for field in fields
    }


def as_text(name: str, dtype: pl.DataType) -> pl.Expr:
    """Column ``name`` of a file (of type ``dtype``) spelled as stored values are read here."""
    column = pl.col(name)
    if dtype == pl.Float64:
        return number_text(column).alias(name)
    if dtype == pl.Date:
        return column.dt.strftime("%Y-%m-%d").alias(name)
    return column.cast(pl.String).alias(name)


def number_text(column: pl.Expr) -> pl.Expr:
    """A balance as stored (Numeric(18, 2)): two decimals, so unchanged values compare equal."""
    return column.cast(pl.Float64).round(2).cast(pl.Decimal(20, 2)).cast(pl.String)
