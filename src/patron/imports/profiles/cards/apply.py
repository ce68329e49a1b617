"""Card Import, writing: new cards inserted and changed ones updated at once, and each
newly held card made a ``cardnumber`` identifier of its holder (logged as
``changeIdentifier`` logs it).
"""

from __future__ import annotations

import polars as pl
from sqlalchemy.engine import Connection

from patron.cards import bulk_repository
from patron.cards.tables import cards
from patron.customer.tables import identifiers
from patron.imports.changelog import log_changes
from patron.imports.context import ImportContext
from patron.kit.bulk import next_ids

_ADDED = pl.Struct({"type": pl.String, "value": pl.String})


def apply(
    conn: Connection, ctx: ImportContext, rows: pl.DataFrame
) -> tuple[pl.DataFrame, dict[str, pl.DataFrame]]:
    """Write the planned rows; answers them with the ``inserted`` and ``updated`` cards
    (what the undo needs)."""
    written = rows.filter(pl.col("status").is_in(("insert", "update")))
    linked = written.filter(pl.col("new_identifier"))
    linked = linked.with_columns(
        next_ids(conn, identifiers, linked.height).alias("identifier_id")
    ).select("row", "identifier_id")
    rows = rows.join(linked, on="row", how="left", maintain_order="left")
    fresh = rows.filter(pl.col("status") == "insert")
    fresh = fresh.with_columns(next_ids(conn, cards, fresh.height).alias("card_id"))
    bulk_repository.insert_cards(
        conn,
        fresh.select(
            id="card_id",
            org_id=pl.lit(ctx.org_id, dtype=pl.Int64),
            series_id="series_id",
            number="card_number",
            status="system_status",
            status_label="label",
            customer_id="customer_id",
            unit_id="store_unit_id",
            external_id="card_external_id",
            issued_at="new_issued_at",
            expires_at="new_expires_at",
        ),
    )
    changed = rows.filter(pl.col("status") == "update")
    bulk_repository.write_cards(
        conn,
        ctx.org_id,
        changed.select(
            id="card_id",
            status="system_status",
            status_label="label",
            unit_id="store_unit_id",
            external_id=pl.coalesce("card_external_id", "card_external_id_stored"),
            customer_id="customer_id",
            issued_at=pl.coalesce("new_issued_at", "card_issued_at"),
            expires_at=pl.when(pl.col("new_issued_at").is_not_null())
            .then("new_expires_at")
            .otherwise("card_expires_at"),
        ),
    )
    _add_identifiers(conn, ctx, rows.filter(pl.col("identifier_id").is_not_null()))
    inserted = fresh.select(
        "card_id",
        number="card_number",
        status_label="label",
        unit_id="store_unit_id",
        external_id="card_external_id",
        holder_id="customer_id",
        identifier_id="identifier_id",
    )
    updated = changed.select(
        "card_id",
        number="card_number",
        old_status="card_status",
        old_status_label="card_status_label",
        old_unit_id="card_unit_id",
        old_external_id="card_external_id_stored",
        old_customer_id="card_customer_id",
        old_issued_at="card_issued_at",
        old_expires_at="card_expires_at",
        new_status_label="label",
        new_unit_id="store_unit_id",
        new_external_id=pl.coalesce("card_external_id", "card_external_id_stored"),
        holder_id="customer_id",
        identifier_id="identifier_id",
    )
    return rows, {"inserted": inserted, "updated": updated}


def _add_identifiers(conn: Connection, ctx: ImportContext, rows: pl.DataFrame) -> None:
    """Each newly held card becomes a ``cardnumber`` identifier of its holder."""
    if rows.is_empty():
        return
    profiles = bulk_repository.holder_profiles(conn, ctx.org_id, rows["customer_id"])
    added = rows.join(profiles, on="customer_id", how="left")
    bulk_repository.insert_card_identifiers(
        conn,
        added.select(
            id="identifier_id",
            org_id=pl.lit(ctx.org_id, dtype=pl.Int64),
            customer_id="customer_id",
            profile_id="profile_id",
            value="card_number",
        ),
    )
    log_changes(
        conn, ctx, identifier_log(added, "customer_id", "card_number", add=True), "IDENTIFIER"
    )


def identifier_log(frame: pl.DataFrame, customer: str, number: str, *, add: bool) -> pl.DataFrame:
    """Change-log entries as ``changeIdentifier`` writes them (``add`` and ``remove`` lists)."""
    item = pl.concat_list(pl.struct(type=pl.lit("cardnumber"), value=pl.col(number)))
    none = pl.lit([], dtype=pl.List(_ADDED))
    return frame.select(
        customer_id=customer,
        details=pl.struct(add=item if add else none, remove=none if add else item),
    )
