"""Registering new loyalty customers from import rows, set-based.

Profiles that create customers (Loyalty Customers, the legacy batch API's) give
them the same shape as the API does: a loyalty customer with the org's default
status label and an in-store profile holding the names.
"""

from __future__ import annotations

import polars as pl
from sqlalchemy.engine import Connection

from patron.customer.tables import customers, profiles
from patron.imports.context import ImportContext
from patron.kit.bulk import insert_frame, next_ids
from patron.orgs import service as orgs

#: The profile imports write customers on.
SOURCE = "INSTORE"


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
    insert_frame(
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
    insert_frame(
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
