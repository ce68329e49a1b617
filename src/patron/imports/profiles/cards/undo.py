"""Card Import, undo: cards the import created are deleted and fields it changed restored,
where nobody changed them since; the identifiers it added go with them. What was
changed since is kept and reported.
"""

from __future__ import annotations

import polars as pl
from sqlalchemy.engine import Connection

from patron.cards import bulk_repository
from patron.imports.changelog import log_changes
from patron.imports.context import ImportContext
from patron.imports.profiles.cards.apply import identifier_log

#: What the undo compares and restores, by the name the frames give it.
TRACKED = {"status_label": "status_label", "unit_id": "store", "external_id": "card_external_id"}


def undo(conn: Connection, ctx: ImportContext, data: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """Undo the ``inserted`` and ``updated`` cards of an import; answers the conflicts."""
    inserted, updated = data["inserted"], data["updated"]
    now = bulk_repository.current_cards(
        conn, ctx.org_id, pl.concat([inserted["card_id"], updated["card_id"]])
    )
    conflicts = [
        _undo_updates(conn, ctx, updated, now),
        _undo_inserts(conn, ctx, inserted, now),
    ]
    return pl.concat(conflicts)


def _undo_inserts(
    conn: Connection, ctx: ImportContext, inserted: pl.DataFrame, now: pl.DataFrame
) -> pl.DataFrame:
    """Cards the import created go, with their identifiers, unless changed since."""
    compared = inserted.join(now, on="card_id", how="inner")
    same = pl.all_horizontal(
        pl.col(column).eq_missing(pl.col(f"now_{column}")) for column in TRACKED
    ) & pl.col("holder_id").eq_missing(pl.col("now_customer_id"))
    doomed = compared.filter(same)
    _remove_identifiers(conn, ctx, doomed)
    bulk_repository.delete_cards(conn, ctx.org_id, doomed["card_id"])
    return compared.filter(~same).select(
        customer_id="now_customer_id",
        field=pl.lit("card_number"),
        reason=pl.format("card {}: changed since the import; the card was kept", "number"),
    )


def _undo_updates(
    conn: Connection, ctx: ImportContext, updated: pl.DataFrame, now: pl.DataFrame
) -> pl.DataFrame:
    """Fields the import changed come back where nobody changed them again; so does the link."""
    compared = updated.join(now, on="card_id", how="inner")
    conflicts = []
    restored = []
    for column, field in TRACKED.items():
        old, new, current = (pl.col(f"{s}_{column}") for s in ("old", "new", "now"))
        changed = old.ne_missing(new)
        restored.append(
            pl.when(changed & current.eq_missing(new)).then(old).otherwise(current).alias(column)
        )
        conflicts.append(
            compared.filter(changed & current.ne_missing(new)).select(
                customer_id="now_customer_id",
                field=pl.lit(field),
                reason=pl.format("card {}: changed again since the import", "number"),
            )
        )
    back = compared.with_columns(restored)
    label_back = pl.col("status_label").eq_missing(pl.col("old_status_label"))
    bulk_repository.write_cards(
        conn,
        ctx.org_id,
        back.select(
            id="card_id",
            status=pl.when(label_back).then("old_status").otherwise("now_status"),
            status_label="status_label",
            unit_id="unit_id",
            external_id="external_id",
        ),
    )
    linked = compared.filter(pl.col("identifier_id").is_not_null())
    still = pl.col("now_customer_id").eq_missing(pl.col("holder_id"))
    unlink = linked.filter(still)
    _remove_identifiers(conn, ctx, unlink)
    bulk_repository.write_cards(
        conn,
        ctx.org_id,
        unlink.select(
            id="card_id",
            customer_id="old_customer_id",
            issued_at="old_issued_at",
            expires_at="old_expires_at",
        ),
    )
    conflicts.append(
        linked.filter(~still).select(
            customer_id="now_customer_id",
            field=pl.lit("customer"),
            reason=pl.format("card {}: its holder changed since the import", "number"),
        )
    )
    return pl.concat(conflicts)


def _remove_identifiers(conn: Connection, ctx: ImportContext, frame: pl.DataFrame) -> None:
    added = frame.filter(pl.col("identifier_id").is_not_null())
    if added.is_empty():
        return
    bulk_repository.delete_identifiers(conn, ctx.org_id, added["identifier_id"])
    log_changes(
        conn,
        ctx,
        identifier_log(added, "holder_id", "number", add=False),
        "IDENTIFIER",
        undo=True,
    )
