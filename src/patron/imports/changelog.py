"""Writing the change log of many customers at once, with the import as the cause."""

from __future__ import annotations

import polars as pl
from sqlalchemy.engine import Connection

from patron.audit.tables import change_log
from patron.imports.context import ImportContext
from patron.kit.bulk import insert_frame


def cause(ctx: ImportContext, *, undo: bool = False) -> str:
    """``import:12``, or ``undo:import:12`` for what an undo restores."""
    return f"undo:import:{ctx.import_id}" if undo else f"import:{ctx.import_id}"


def log_changes(
    conn: Connection,
    ctx: ImportContext,
    frame: pl.DataFrame,
    change_type: str,
    *,
    undo: bool = False,
    source: str = "INSTORE",
    account_id: str = "",
) -> None:
    """One change-log entry per row of ``frame`` (``customer_id``, ``details``: a struct or
    JSON text), all with one ``change_type`` and the import as their cause. The profile
    changed is ``source`` / ``account_id``, or the frame's columns of those names."""
    if frame.is_empty():
        return
    details = frame["details"]
    if details.dtype != pl.String:
        details = details.struct.json_encode()
    insert_frame(
        conn,
        change_log,
        pl.DataFrame(
            {
                "org_id": pl.Series([ctx.org_id] * frame.height, dtype=pl.Int64),
                "customer_id": frame["customer_id"],
                "change_type": [change_type] * frame.height,
                "source": frame["source"] if "source" in frame.columns else [source] * frame.height,
                "account_id": frame["account_id"]
                if "account_id" in frame.columns
                else [account_id] * frame.height,
                "details": details,
                "actor": [ctx.actor_name] * frame.height,
                "cause": [cause(ctx, undo=undo)] * frame.height,
            }
        ),
    )
