"""Loyalty Customers: undo a commit.

Every value the import wrote is compared with what is stored now. Where they
still agree the value before the import is restored (a customer the import
created is deleted); where someone changed it since, the field is left alone
and reported as a conflict.
"""

from __future__ import annotations

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from patron.audit.tables import change_log
from patron.customer.tables import (
    comm_channels,
    customers,
    field_values,
    identifiers,
    merges,
    profiles,
)
from patron.imports.conflicts import no_conflicts, split_changed_since
from patron.imports.context import ImportContext
from patron.imports.profiles.loyalty_customers.apply import write_changes
from patron.imports.profiles.loyalty_customers.stored import current_values
from patron.kit.bulk import create_temp_table, fetch_frame, insert_frame
from patron.loyalty.tables import loyalty_accounts
from patron.subscriptions.tables import consent_ledger, subscriptions


def undo(conn: Connection, ctx: ImportContext, data: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """Restore the store; answer the conflicts (customer_id, field, reason) left alone."""
    changes, inserted = data["changes"], data["inserted"]
    ids = pl.concat([changes["customer_id"], inserted["customer_id"]]).unique()
    now = current_values(conn, ctx, ids).rename({"before": "now"})
    conflicts = [_restore_changes(conn, ctx, changes, now)]
    conflicts.append(_delete_inserted(conn, ctx, _long(data["inserted_values"]), now))
    return pl.concat(conflicts)


def _long(written: pl.DataFrame) -> pl.DataFrame:
    """The new customers' written values as (customer_id, field, value).

    Commits store them a row per customer with a column per field; earlier
    versions stored this long form, which is taken as it is.
    """
    if "field" in written.columns:
        return written
    fields = [name for name in written.columns if name != "customer_id"]
    if not fields:
        return pl.DataFrame(
            schema={"customer_id": pl.Int64, "field": pl.String, "value": pl.String}
        )
    return written.unpivot(
        index="customer_id", on=fields, variable_name="field", value_name="value"
    ).drop_nulls("value")


def _restore_changes(
    conn: Connection, ctx: ImportContext, changes: pl.DataFrame, now: pl.DataFrame
) -> pl.DataFrame:
    unchanged, conflicts = split_changed_since(changes, now, "changed again since the import")
    write_changes(conn, ctx, unchanged.select("customer_id", "profile_id", "field", value="before"))
    return conflicts


def _delete_inserted(
    conn: Connection, ctx: ImportContext, written: pl.DataFrame, now: pl.DataFrame
) -> pl.DataFrame:
    """Delete the customers the import created, unless they were changed or used since."""
    if written.is_empty():
        return no_conflicts()
    ids = written["customer_id"].unique()
    compared = written.join(now, on=["customer_id", "field"], how="full", coalesce=True).filter(
        pl.col("customer_id").is_in(ids.implode())
    )
    changed = compared.filter(pl.col("now").ne_missing(pl.col("value"))).select(
        "customer_id", "field", reason=pl.lit("changed since the import; the customer was kept")
    )
    used = _used_since(conn, ctx, ids).select(
        "customer_id",
        field=pl.lit(None, dtype=pl.String),
        reason=pl.lit("has data from elsewhere since the import; the customer was kept"),
    )
    conflicts = pl.concat([changed, used])
    doomed = ids.filter(~ids.is_in(conflicts["customer_id"].implode()))
    _delete_customers(conn, ctx, doomed)
    return conflicts


def _used_since(conn: Connection, ctx: ImportContext, ids: pl.Series) -> pl.DataFrame:
    """Customers that gained profiles, subscriptions, consent, history or merges since."""
    _stage(conn, ids)
    staged = sa.select(sa.table("import_ids", sa.column("id")).c.id)
    queries = [
        sa.select(profiles.c.customer_id)
        .where(profiles.c.org_id == ctx.org_id, profiles.c.customer_id.in_(staged))
        .group_by(profiles.c.customer_id)
        .having(sa.func.count() > 1),
        *[
            sa.select(table.c.customer_id).where(table.c.customer_id.in_(staged))
            for table in (subscriptions, consent_ledger, change_log, comm_channels)
        ],
        sa.select(merges.c.survivor_id).where(merges.c.survivor_id.in_(staged)),
        sa.select(merges.c.victim_id).where(merges.c.victim_id.in_(staged)),
    ]
    found = [fetch_frame(conn, query, {"customer_id": pl.Int64}) for query in queries]
    return pl.concat(found).unique()


def _stage(conn: Connection, ids: pl.Series) -> None:
    create_temp_table(conn, "import_ids", {"id": "BIGINT"})
    insert_frame(conn, "import_ids", pl.DataFrame({"id": ids}))


def _delete_customers(conn: Connection, ctx: ImportContext, ids: pl.Series) -> None:
    if ids.is_empty():
        return
    _stage(conn, ids)
    staged = sa.select(sa.table("import_ids", sa.column("id")).c.id)
    for table in (identifiers, field_values, loyalty_accounts, profiles):
        conn.execute(
            table.delete().where(table.c.org_id == ctx.org_id, table.c.customer_id.in_(staged))
        )
    conn.execute(
        customers.delete().where(customers.c.org_id == ctx.org_id, customers.c.id.in_(staged))
    )
