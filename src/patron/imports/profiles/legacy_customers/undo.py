"""Legacy Customers: undo a batch.

In order: the balances ``auto_add`` changed, the enrollments the batch created, the
values it changed on existing customers, then the customers it created. Each is
compared with what is stored now: where they still agree the state before the
batch comes back; where someone changed it since, it is left alone and reported as
a conflict (customer_id, field, reason).
"""

from __future__ import annotations

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from patron.imports.conflicts import CONFLICT_SCHEMA, no_conflicts, split_changed_since
from patron.imports.context import ImportContext
from patron.imports.newcustomers import undo_new_customers
from patron.imports.profiles.legacy_customers.address import log_address_changes
from patron.imports.profiles.legacy_customers.apply import amount_text, balances
from patron.imports.profiles.legacy_customers.store import current_values, write_values
from patron.kit.bulk import create_temp_table, fetch_frame, insert_frame
from patron.loyalty.tables import campaign_enrollments, campaign_ledger, campaigns

#: Tables the batch itself fills for a customer it creates, besides profiles. Its
#: enrollments and ledger entries are undone first: any still there mean "used since".
WRITTEN = ("identifiers", "legacy_profiles")


def undo(conn: Connection, ctx: ImportContext, data: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """Restore the store; answer the conflicts left alone."""
    conflicts = [
        _restore_balances(conn, ctx, data["ledger"]),
        _remove_enrollments(conn, ctx, data["enrollments"]),
        _restore_changes(conn, ctx, data["changes"]),
        _delete_inserted(conn, ctx, data["inserted"], data["inserted_values"]),
    ]
    return pl.concat([frame.select(CONFLICT_SCHEMA.keys()) for frame in conflicts])


def _stage_pairs(
    conn: Connection, frame: pl.DataFrame, extra: dict[str, str] | None = None
) -> None:
    columns = {"campaign_id": "BIGINT", "customer_id": "BIGINT", **(extra or {})}
    create_temp_table(conn, "legacy_pairs", columns)
    insert_frame(conn, "legacy_pairs", frame.select(columns.keys()))


def _restore_balances(conn: Connection, ctx: ImportContext, ledger: pl.DataFrame) -> pl.DataFrame:
    """Take back each ``auto_add`` whose balance is still what the batch left."""
    if ledger.is_empty():
        return no_conflicts()
    _stage_pairs(conn, ledger)
    now = balances(conn, ctx, "legacy_pairs")
    compared = ledger.join(now, on=["campaign_id", "customer_id"], how="left")
    kept = pl.col("balance").ne_missing(pl.col("balance_after"))
    back = compared.filter(~kept)
    if not back.is_empty():
        _stage_pairs(
            conn,
            back,
            {"change": "NUMERIC(18, 2)", "id": "BIGINT"},
        )
        conn.execute(
            sa.text(
                "UPDATE campaign_enrollments "
                "SET balance = campaign_enrollments.balance - s.change, "
                "updated_at = CURRENT_TIMESTAMP FROM legacy_pairs AS s "
                "WHERE campaign_enrollments.org_id = :org "
                "AND campaign_enrollments.campaign_id = s.campaign_id "
                "AND campaign_enrollments.customer_id = s.customer_id"
            ),
            {"org": ctx.org_id},
        )
        conn.execute(
            campaign_ledger.delete().where(
                campaign_ledger.c.org_id == ctx.org_id,
                campaign_ledger.c.id.in_(sa.select(sa.table("legacy_pairs", sa.column("id")).c.id)),
            )
        )
    return compared.filter(kept).select(
        "customer_id",
        field=pl.format("campaign {}", "number"),
        reason=pl.lit("the balance changed since the batch; its auto_add was left in place"),
    )


def _remove_enrollments(
    conn: Connection, ctx: ImportContext, enrollments: pl.DataFrame
) -> pl.DataFrame:
    """Delete the enrollments the batch created, unless their balance has moved since."""
    if enrollments.is_empty():
        return no_conflicts()
    _stage_pairs(conn, enrollments)
    now = balances(conn, ctx, "legacy_pairs")
    pairs = sa.table("legacy_pairs", sa.column("campaign_id"), sa.column("customer_id"))
    entries = fetch_frame(
        conn,
        sa.select(campaign_ledger.c.campaign_id, campaign_ledger.c.customer_id)
        .join(
            pairs,
            sa.and_(
                campaign_ledger.c.campaign_id == pairs.c.campaign_id,
                campaign_ledger.c.customer_id == pairs.c.customer_id,
            ),
        )
        .where(campaign_ledger.c.org_id == ctx.org_id)
        .distinct(),
        {"campaign_id": pl.Int64, "customer_id": pl.Int64},
    )
    zero = amount_text(pl.lit("0"))
    moved = now.filter(pl.col("balance") != zero).select("campaign_id", "customer_id")
    kept = pl.concat([moved, entries]).unique()
    gone = enrollments.join(kept, on=["campaign_id", "customer_id"], how="anti")
    if not gone.is_empty():
        _stage_pairs(conn, gone)
        conn.execute(
            campaign_enrollments.delete().where(
                campaign_enrollments.c.org_id == ctx.org_id,
                sa.tuple_(
                    campaign_enrollments.c.campaign_id, campaign_enrollments.c.customer_id
                ).in_(sa.select(pairs.c.campaign_id, pairs.c.customer_id)),
            )
        )
    numbers = fetch_frame(
        conn,
        sa.select(campaigns.c.id, campaigns.c.number).where(campaigns.c.org_id == ctx.org_id),
        {"campaign_id": pl.Int64, "number": pl.Int64},
    )
    return (
        enrollments.join(kept, on=["campaign_id", "customer_id"], how="semi")
        .join(numbers, on="campaign_id", how="left")
        .select(
            "customer_id",
            field=pl.format("campaign {}", "number"),
            reason=pl.lit("the balance changed since the batch; the enrollment was kept"),
        )
    )


def _restore_changes(conn: Connection, ctx: ImportContext, changes: pl.DataFrame) -> pl.DataFrame:
    if changes.is_empty():
        return no_conflicts()
    now = current_values(conn, ctx, changes["customer_id"]).rename({"value": "now"})
    unchanged, conflicts = split_changed_since(changes, now, "changed again since the batch")
    write_values(conn, ctx, unchanged.select("customer_id", "profile_id", "field", value="before"))
    log_address_changes(conn, ctx, unchanged, undo=True)
    return conflicts


def _delete_inserted(
    conn: Connection, ctx: ImportContext, inserted: pl.DataFrame, written: pl.DataFrame
) -> pl.DataFrame:
    """Delete the customers the batch created, unless they were changed or used since."""
    if inserted.is_empty():
        return no_conflicts()
    ids = inserted["customer_id"]
    now = current_values(conn, ctx, ids).rename({"value": "now"})
    return undo_new_customers(conn, ctx, ids, (written, now), WRITTEN, cause="the batch")
