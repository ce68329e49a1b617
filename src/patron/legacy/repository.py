"""SQL of the legacy domain: the ids a batch answers with, and the batches' undo states."""

from __future__ import annotations

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from patron.customer.tables import identifiers
from patron.imports.tables import import_blobs, imports
from patron.kit.bulk import create_temp_table, fetch_frame, insert_frame

#: An import whose commit stored this frame has an undo state.
UNDO_MARKER = "undo:inserted"


def codes_and_cards(conn: Connection, org_id: int, ids: pl.Series) -> pl.DataFrame:
    """(customer_id, code, card_number) of ``ids``: the external id, and the newest card."""
    create_temp_table(conn, "legacy_answer_ids", {"id": "BIGINT"})
    insert_frame(
        conn,
        "legacy_answer_ids",
        pl.DataFrame({"id": ids.drop_nulls().unique()}, schema={"id": pl.Int64}),
    )
    staged = sa.select(sa.table("legacy_answer_ids", sa.column("id")).c.id)
    held = fetch_frame(
        conn,
        sa.select(
            identifiers.c.customer_id, identifiers.c.type, identifiers.c.value, identifiers.c.id
        ).where(
            identifiers.c.org_id == org_id,
            identifiers.c.type.in_(("externalId", "cardnumber")),
            identifiers.c.customer_id.in_(staged),
        ),
        {"customer_id": pl.Int64, "type": pl.String, "value": pl.String, "id": pl.Int64},
    )
    newest = held.sort("id").group_by("customer_id", "type").agg(pl.col("value").last())
    return (
        newest.pivot(on="type", index="customer_id", values="value")
        .with_columns(
            pl.lit(None, dtype=pl.String).alias(name)
            for name in ("externalId", "cardnumber")
            if name not in newest["type"]
        )
        .select("customer_id", code="externalId", card_number="cardnumber")
    )


def _with_undo_state(profile: str) -> sa.ColumnElement[bool]:
    marker = (
        sa.select(import_blobs.c.id)
        .where(
            import_blobs.c.org_id == imports.c.org_id,
            import_blobs.c.import_id == imports.c.id,
            import_blobs.c.kind == UNDO_MARKER,
        )
        .exists()
    )
    return sa.and_(imports.c.profile == profile, marker)


def undo_states(
    conn: Connection, org_id: int, profile: str, limit: int, offset: int
) -> tuple[list[RowMapping], int]:
    """The org's batches committed with an undo state, newest first, and how many there are."""
    where = sa.and_(imports.c.org_id == org_id, _with_undo_state(profile))
    total = conn.execute(sa.select(sa.func.count()).select_from(imports).where(where)).scalar_one()
    query = (
        sa.select(imports).where(where).order_by(imports.c.id.desc()).limit(limit).offset(offset)
    )
    return list(conn.execute(query).mappings()), int(total)
