"""Registering new loyalty customers from import rows, set-based, and undoing them.

Profiles that create customers (Loyalty Customers, the legacy batch API's) give
them the same shape as the API does: a loyalty customer with the org's default
status label and an in-store profile holding the names.
"""

from __future__ import annotations

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from patron.customer.bulk_repository import stage_ids, write_rows
from patron.customer.tables import customers, profiles
from patron.imports.conflicts import no_conflicts
from patron.imports.consent import own_origins
from patron.imports.context import ImportContext
from patron.kit.bulk import fetch_frame, next_ids
from patron.kit.schema import metadata
from patron.orgs import service as orgs

#: The profile imports write customers on.
SOURCE = "INSTORE"
#: The consent ledger: an import's own entries go with the customers it created.
_LEDGER = "consent_ledger"


def insert_customers(
    conn: Connection,
    ctx: ImportContext,
    new: pl.DataFrame,
    *,
    registered_at: pl.Expr | None = None,
    registered_unit_id: pl.Expr | None = None,
) -> pl.DataFrame:
    """Insert ``new`` (``customer_id`` reserved, ``first_name``, ``last_name``) as customers
    with their in-store profile; answer ``new`` with each ``profile_id``."""
    org = pl.lit(ctx.org_id, dtype=pl.Int64)
    actor = pl.lit(ctx.actor_name)
    write_rows(
        conn,
        customers,
        new.select(
            id="customer_id",
            org_id=org,
            loyalty_type=pl.lit("loyalty"),
            status_label_id=pl.lit(orgs.default_label_id(conn, ctx.org_id), dtype=pl.Int64),
            fraud_status=pl.lit("NOT_FRAUD"),
            registered_at=pl.lit(ctx.now) if registered_at is None else registered_at,
            registered_unit_id=pl.lit(None, pl.Int64)
            if registered_unit_id is None
            else registered_unit_id,
            created_by=actor,
            modified_by=actor,
        ),
    )
    written = insert_profiles(conn, ctx, new.select("customer_id", "first_name", "last_name"))
    return new.with_columns(profile_id=written["profile_id"])


def insert_profiles(conn: Connection, ctx: ImportContext, wanted: pl.DataFrame) -> pl.DataFrame:
    """Insert a profile per row of ``wanted``; answer ``wanted`` with each ``profile_id``.

    ``wanted`` holds ``customer_id``, and may hold ``source`` and ``account_id``
    (default: the in-store profile) and ``first_name`` / ``last_name``.
    """
    wanted = wanted.with_columns(profile_id=next_ids(conn, profiles, wanted.height))
    given = set(wanted.columns)

    def column(name: str, default: str) -> pl.Expr:
        return pl.col(name).fill_null(default) if name in given else pl.lit(default)

    actor = pl.lit(ctx.actor_name)
    write_rows(
        conn,
        profiles,
        wanted.select(
            id="profile_id",
            org_id=pl.lit(ctx.org_id, dtype=pl.Int64),
            customer_id="customer_id",
            source=column("source", SOURCE),
            account_id=column("account_id", ""),
            first_name=column("first_name", ""),
            last_name=column("last_name", ""),
            created_by=actor,
            modified_by=actor,
        ),
    )
    return wanted


# --- undoing them -----------------------------------------------------------------------


def undo_new_customers(
    conn: Connection,
    ctx: ImportContext,
    ids: pl.Series,
    values: tuple[pl.DataFrame, pl.DataFrame],
    written: tuple[str, ...],
    cause: str,
) -> pl.DataFrame:
    """Delete the customers an import created (``ids``) unless they changed or were used
    since; answer the conflicts that kept the others.

    ``values`` are what the import wrote, (customer_id, field, value), and what is
    stored now, (customer_id, field, now); ``written`` the tables it filled for
    them besides profiles; ``cause`` names it in the reasons ("the import").
    """
    if ids.is_empty():
        return no_conflicts()
    wrote, now = values
    compared = wrote.join(now, on=["customer_id", "field"], how="full", coalesce=True).filter(
        pl.col("customer_id").is_in(ids.implode())
    )
    changed = compared.filter(pl.col("now").ne_missing(pl.col("value"))).select(
        "customer_id", "field", reason=pl.lit(f"changed since {cause}; the customer was kept")
    )
    used = pl.DataFrame({"customer_id": used_since(conn, ctx, ids, written)}).select(
        "customer_id",
        field=pl.lit(None, dtype=pl.String),
        reason=pl.lit(f"has data from elsewhere since {cause}; the customer was kept"),
    )
    conflicts = pl.concat([changed, used])
    delete_customers(conn, ctx, ids.filter(~ids.is_in(conflicts["customer_id"].implode())), written)
    return conflicts


def used_since(
    conn: Connection, ctx: ImportContext, ids: pl.Series, written: tuple[str, ...]
) -> pl.Series:
    """The customers of ``ids`` (created by an import) that gained data since.

    A second profile, or a row in any table that refers to customers other than
    the ``written`` tables the import itself filled: the schema is the list, so
    a domain added later counts too.
    """
    staged = _stage(conn, ids)
    queries: list[sa.Select[tuple[int]]] = [
        sa.select(profiles.c.customer_id)
        .where(profiles.c.org_id == ctx.org_id, profiles.c.customer_id.in_(staged))
        .group_by(profiles.c.customer_id)
        .having(sa.func.count() > 1)
    ]
    skipped = {*written, profiles.name, customers.name}
    for table in metadata.sorted_tables:
        if table.name in skipped:
            continue
        for key in table.foreign_keys:
            if key.column is customers.c.id:  # not the org_id half of a composite key
                query = sa.select(key.parent).where(
                    table.c.org_id == ctx.org_id, key.parent.in_(staged)
                )
                if table.name == _LEDGER:
                    # The consent the import itself recorded (and its undo took back) is
                    # the import's, not data from elsewhere.
                    query = query.where(table.c.origin.not_in(own_origins(ctx.import_id)))
                queries.append(query)
    found = [fetch_frame(conn, query, {"customer_id": pl.Int64}) for query in queries]
    return pl.concat(found)["customer_id"].unique()


def delete_customers(
    conn: Connection, ctx: ImportContext, ids: pl.Series, written: tuple[str, ...]
) -> None:
    """Delete customers an import created, with the rows of the ``written`` tables and the
    consent-ledger entries of the import and its undo."""
    if ids.is_empty():
        return
    staged = _stage(conn, ids)
    ledger = metadata.tables[_LEDGER]
    conn.execute(
        ledger.delete().where(
            ledger.c.org_id == ctx.org_id,
            ledger.c.customer_id.in_(staged),
            ledger.c.origin.in_(own_origins(ctx.import_id)),
        )
    )
    for name in (*written, profiles.name):
        table = metadata.tables[name]
        conn.execute(
            table.delete().where(table.c.org_id == ctx.org_id, table.c.customer_id.in_(staged))
        )
    conn.execute(
        customers.delete().where(customers.c.org_id == ctx.org_id, customers.c.id.in_(staged))
    )


def _stage(conn: Connection, ids: pl.Series) -> sa.Select[tuple[int]]:
    return stage_ids(conn, "import_new_customers", ids)
