"""The rows of stored import files that named a customer: shown by the data-subject
export, scrubbed by erasure.

An import keeps its file (``source``), one outcome per row (``outcomes``, with the
customer each row named), what its undo needs (``undo:<part>``) and the conflicts of
an undo, as Parquet blobs until retention purges them. A row names a customer when
its outcome carries the customer's id.

Scrubbing keeps every frame's shape, so reports and row numbers stay aligned: the
file row's cells become empty, its outcome keeps its status but loses the messages
(they may quote values), and the undo data and conflicts of the customer are dropped
(an undo then leaves the deleted customer alone instead of writing its old values back).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl
from sqlalchemy.engine import Connection

from patron.customer import export_repository
from patron.imports import repository as imports_repository
from patron.kit.clock import iso

#: The file line of the first data row: a header line comes first, pasted rows have none.
_FIRST_LINE = {"pasted": 1}


def _outcomes(conn: Connection, org_id: int, import_id: int) -> pl.DataFrame | None:
    return imports_repository.get_frame(conn, org_id, import_id, "outcomes")


def rows_naming(conn: Connection, org_id: int, customer_ids: Sequence[int]) -> list[dict[str, Any]]:
    """Every stored import row whose outcome names one of ``customer_ids``, oldest import
    first: the import, the file line, the outcome and the row's cells as uploaded."""
    ids = list(customer_ids)
    found: list[dict[str, Any]] = []
    for imported in export_repository.imports_with_outcomes(conn, org_id):
        import_id = int(imported["id"])
        outcomes = _outcomes(conn, org_id, import_id)
        if outcomes is None or "customer_id" not in outcomes.columns:
            continue
        mine = outcomes.filter(pl.col("customer_id").is_in(ids)).sort("row")
        if mine.is_empty():
            continue
        source = imports_repository.get_frame(conn, org_id, import_id, "source")
        first_line = _FIRST_LINE.get(imported["file_format"], 2)
        for outcome in mine.iter_rows(named=True):
            row = int(outcome["row"])
            cells: dict[str, Any] = {}
            if source is not None and row < source.height:
                cells = {k: v for k, v in source.row(row, named=True).items() if v is not None}
            found.append(
                {
                    "importId": import_id,
                    "profile": imported["profile"],
                    "fileName": imported["file_name"],
                    "importedOn": iso(imported["created_at"]),
                    "state": imported["state"],
                    "line": row + first_line,
                    "status": outcome["status"],
                    "customerId": outcome["customer_id"],
                    "errors": list(outcome.get("errors") or []),
                    "autoCorrections": list(outcome.get("auto_corrections") or []),
                    "values": cells,
                }
            )
    return found


def scrub(conn: Connection, org_id: int, customer_ids: Sequence[int]) -> int:
    """Remove the person's values from every stored import that named ``customer_ids``;
    answers the number of file rows emptied."""
    ids = list(customer_ids)
    emptied = 0
    for imported in export_repository.imports_with_outcomes(conn, org_id):
        import_id = int(imported["id"])
        outcomes = _outcomes(conn, org_id, import_id)
        if outcomes is None or "customer_id" not in outcomes.columns:
            continue
        named = outcomes.filter(pl.col("customer_id").is_in(ids))["row"].to_list()
        if not named:
            continue
        emptied += len(named)
        _scrub_frames(conn, org_id, import_id, ids, named, outcomes)
    return emptied


def _scrub_frames(
    conn: Connection,
    org_id: int,
    import_id: int,
    ids: list[int],
    rows: list[int],
    outcomes: pl.DataFrame,
) -> None:
    put = imports_repository.put_frame
    source = imports_repository.get_frame(conn, org_id, import_id, "source")
    if source is not None:
        hit = pl.int_range(pl.len(), dtype=pl.Int64).is_in(rows)
        put(
            conn,
            org_id,
            import_id,
            "source",
            source.with_columns(
                pl.when(hit).then(None).otherwise(pl.col(name)).alias(name)
                for name in source.columns
            ),
        )
    hit = pl.col("row").is_in(rows)
    messages = [
        pl.when(hit).then(pl.lit([], dtype=outcomes.schema[name])).otherwise(name).alias(name)
        for name in ("errors", "auto_corrections")
        if name in outcomes.columns
    ]
    put(conn, org_id, import_id, "outcomes", outcomes.with_columns(messages))
    for kind in export_repository.blob_kinds(conn, org_id, import_id):
        if not (kind.startswith("undo:") or kind == "conflicts"):
            continue
        frame = imports_repository.get_frame(conn, org_id, import_id, kind)
        if frame is None or "customer_id" not in frame.columns:
            continue
        kept = frame.filter(~pl.col("customer_id").is_in(ids).fill_null(False))
        if kept.height != frame.height:
            put(conn, org_id, import_id, kind, kept)
