"""Legacy Customers: address changes of existing customers go to their change history.

One ``ADDRESS`` entry per customer whose address a batch (or its undo) changed,
with the fields changed and their values before and after (the change history is
erased with the customer, as the identifier changes it holds are).
"""

from __future__ import annotations

import json

import polars as pl
from sqlalchemy.engine import Connection

from patron.imports.changelog import log_changes
from patron.imports.context import ImportContext

#: The fields of the address, in the order they are written on an envelope.
ADDRESS_FIELDS = ("street1", "street2", "city", "state", "postal_code", "country")


def log_address_changes(
    conn: Connection, ctx: ImportContext, changes: pl.DataFrame, *, undo: bool = False
) -> None:
    """Log the address changes among ``changes`` (customer_id, field, before, after); an
    undo restores ``before``, so its entries go from ``after`` to ``before``."""
    moved = changes.filter(pl.col("field").is_in(ADDRESS_FIELDS))
    if moved.is_empty():
        return
    old, new = ("after", "before") if undo else ("before", "after")
    customers, details = [], []
    for (customer_id,), group in moved.group_by("customer_id", maintain_order=True):
        fields = list(group["field"])
        customers.append(int(customer_id))
        details.append(
            json.dumps(
                {
                    "changed": fields,
                    "from": dict(zip(fields, group[old], strict=True)),
                    "to": dict(zip(fields, group[new], strict=True)),
                }
            )
        )
    frame = pl.DataFrame(
        {"customer_id": customers, "details": details},
        schema={"customer_id": pl.Int64, "details": pl.String},
    )
    log_changes(conn, ctx, frame, "ADDRESS", undo=undo)
