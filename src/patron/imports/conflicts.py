"""What an undo left alone: conflicts, one per (customer, field), with the reason.

Every profile's undo answers this frame. Values the import wrote are compared
with the store as it is now: where they still agree, the value from before the
import comes back; where someone changed them since, they stay and are listed.
"""

from __future__ import annotations

import polars as pl

CONFLICT_SCHEMA = {"customer_id": pl.Int64, "field": pl.String, "reason": pl.String}


def no_conflicts() -> pl.DataFrame:
    """An undo that left nothing alone."""
    return pl.DataFrame(schema=CONFLICT_SCHEMA)


def split_changed_since(
    written: pl.DataFrame, now: pl.DataFrame, reason: str
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``written`` (customer_id, field, after, ...) against ``now`` (customer_id, field, now):
    the rows that still hold what the import wrote, and the conflicts of the others."""
    compared = written.join(now, on=["customer_id", "field"], how="left")
    moved = pl.col("now").ne_missing(pl.col("after"))
    conflicts = compared.filter(moved).select("customer_id", "field", reason=pl.lit(reason))
    return compared.filter(~moved), conflicts
