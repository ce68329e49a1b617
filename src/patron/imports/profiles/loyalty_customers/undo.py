"""Loyalty Customers: undo a commit.

Every value the import wrote is compared with what is stored now. Where they
still agree the value before the import is restored (a customer the import
created is deleted); where someone changed it since, the field is left alone
and reported as a conflict.
"""

from __future__ import annotations

import polars as pl
from sqlalchemy.engine import Connection

from patron.imports.context import ImportContext
from patron.imports.newcustomers import undo_new_customers
from patron.imports.profiles.loyalty_customers.apply import (
    loyalty_customers,
    sync_loyalty,
    write_changes,
)
from patron.imports.profiles.loyalty_customers.stored import current_values
from patron.loyalty import opening

#: Tables the import fills for a customer it creates, besides profiles (the ledger's
#: opening entries and balances before the accounts they follow).
WRITTEN = ("identifiers", "field_values", "points_ledger", "loyalty_balances", "loyalty_accounts")


def undo(conn: Connection, ctx: ImportContext, data: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """Restore the store; answer the conflicts (customer_id, field, reason) left alone."""
    written, inserted = data["changes"], data["inserted"]
    changes = _collapsed(written)
    ids = pl.concat([changes["customer_id"], inserted["customer_id"]]).unique()
    now = current_values(conn, ctx, ids).rename({"before": "now"})
    conflicts = [_restore_changes(conn, ctx, changes, written, now)]
    # The ledger follows the restored accounts: entries reversing the import's openings.
    sync_loyalty(conn, ctx, loyalty_customers(changes))
    # Not listed in the profile's undo kinds (patron.imports.undoing.OPTIONAL_KINDS):
    # imports committed before the ledger existed have none, and their undo must still run.
    slabs = data.get("loyalty_slabs")
    if slabs is not None:
        opening.restore_slabs(
            conn,
            ctx.org_id,
            slabs,
            created=inserted["customer_id"],
            import_id=ctx.import_id,
            actor=ctx.actor_name,
            now=ctx.now,
        )
    values = (_long(data["inserted_values"]), now)
    conflicts.append(
        undo_new_customers(conn, ctx, inserted["customer_id"], values, WRITTEN, cause="the import")
    )
    return pl.concat(conflicts)


def _collapsed(changes: pl.DataFrame) -> pl.DataFrame:
    """The changes, a value from before once per (customer, field), with the last value
    written.

    A commit holds one change per (customer, field), or one per identifier the customer
    held before (a merged customer may hold several emails). Commits of earlier versions
    held one per row reaching the customer, each with the same value from before, and so
    do the parts of an import in chunks (each planned against the store before the
    commit): restored once each, the values from before go back once.
    """
    keys = ["customer_id", "field"]
    return changes.with_columns(after=pl.col("after").last().over(keys)).unique(
        [*keys, "before"], keep="first", maintain_order=True
    )


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
    conn: Connection,
    ctx: ImportContext,
    changes: pl.DataFrame,
    written: pl.DataFrame,
    now: pl.DataFrame,
) -> pl.DataFrame:
    """Restore the (customer, field)s that hold what the import left there; answer the
    conflicts of the others.

    A field holds what the import left when it holds the last value written and nothing
    the import did not write: a commit of an earlier version left every row's email on
    a customer reached by several rows, and they all go.
    """
    keys = ["customer_id", "field"]
    held = now.drop_nulls("now").join(changes, on=keys, how="semi")
    foreign = held.join(written, left_on=[*keys, "now"], right_on=[*keys, "after"], how="anti")
    last = changes.select(*keys, "after").unique(keys)
    kept = last.join(held, left_on=[*keys, "after"], right_on=[*keys, "now"], how="semi")
    emptied = last.filter(pl.col("after").is_null()).join(held, on=keys, how="anti")
    moved = last.join(pl.concat([kept, emptied]), on=keys, how="anti").select(keys)
    moved = pl.concat([moved, foreign.select(keys)]).unique(maintain_order=True)
    unchanged = changes.join(moved, on=keys, how="anti")
    write_changes(conn, ctx, unchanged.select("customer_id", "profile_id", "field", value="before"))
    return moved.with_columns(reason=pl.lit("changed again since the import"))
