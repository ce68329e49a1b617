"""Update Fraud Status: mark customers as fraud, confirm it, or clear it.

A row names a customer by the identifier the template chooses (the seed's
"select the user input type"), the fraud status to set (INTERNAL, MARKED,
CONFIRMED, RECONFIRMED or NOT_FRAUD, in any letter case), why, and the store the
change is made for. Every change goes to the change log (``FRAUD``) with the
import as its cause, as a change through the API does. A customer marked,
confirmed or reconfirmed as fraud is then refused by the API (618) and by the
other imports (97012); this profile is the one import that may still change it.
"""

from __future__ import annotations

from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from patron.customer.status import MAX_REASON_LENGTH
from patron.customer.tables import customers
from patron.imports import columns
from patron.imports.changelog import log_changes
from patron.imports.codes import RowCode
from patron.imports.context import ImportContext
from patron.imports.customers import LABELS, customer_key, find_customers, key_option
from patron.imports.duplicates import reject_duplicates
from patron.imports.profile import FieldSpec, Plan, ProfileSpec
from patron.imports.profiles.customer_status import CUSTOMER_FIELDS
from patron.imports.rowcheck import Checks, row_status
from patron.imports.stores import REPLACE_INVALID_STORE, STORES_BY_EXTERNAL_ID, store_rule
from patron.kit.bulk import create_temp_table, fetch_frame, insert_frame
from patron.orgs.settings import FRAUD_STATUSES

FIELDS = (
    *CUSTOMER_FIELDS,
    FieldSpec(
        "fraud_status",
        "Fraud status",
        f"The fraud status to set: {', '.join(FRAUD_STATUSES)} (any letter case).",
        ("status", "fraud", "fraud status", "new fraud status"),
    ),
    FieldSpec(
        "reason",
        "Fraud reason",
        f"Why the status changes (up to {MAX_REASON_LENGTH} characters); kept in the change log.",
        ("reason", "fraud reason", "comment", "comments", "remarks"),
    ),
    FieldSpec(
        "store",
        "Store code",
        "The store or till the change is made for: its code, or its external id with "
        "stores_by_external_id.",
        ("store code", "storecode", "store", "till", "till iun", "till iun or store ext id"),
    ),
)
SPEC = ProfileSpec(
    id="fraud-status",
    name="Update Fraud Status",
    fields=FIELDS,
    options=(REPLACE_INVALID_STORE, STORES_BY_EXTERNAL_ID, key_option()),
)
_STAGED = {
    "customer_id": "BIGINT",
    "fraud_status": "VARCHAR(16)",
    "modified_at": "TIMESTAMP WITH TIME ZONE",
}


class FraudStatus:
    spec = SPEC
    undo_kinds: tuple[str, ...] = ("changes",)

    def missing_fields(self, mapped: set[str], options: dict[str, Any]) -> list[str]:
        wanted = [options["unique_identifier"], "fraud_status", "reason"]
        if not options.get("replace_invalid_store"):
            wanted.append("store")
        return [name for name in wanted if name not in mapped]

    def plan(
        self, conn: Connection, ctx: ImportContext, mapped: pl.DataFrame
    ) -> Plan[pl.DataFrame]:
        key = ctx.options["unique_identifier"]
        checks = Checks(mapped, ctx, [spec.name for spec in FIELDS])
        customer_key(checks, ctx, key)
        _fraud_status_rule(checks)
        _reason_rule(checks)
        store_rule(checks, ctx)
        rows = reject_duplicates(
            checks.result(), ctx, key, RowCode.DUPLICATE_CUSTOMER_IN_FILE, LABELS[key]
        )
        rows = find_customers(conn, rows, ctx, key)
        rows = rows.join(
            _fraud_states(conn, ctx, rows["customer_id"]),
            on="customer_id",
            how="left",
            maintain_order="left",
        )
        rows = rows.with_columns(status=row_status(pl.col("fraud_status") == pl.col("before")))
        changes = rows.filter(pl.col("status") == "update").select(
            "customer_id",
            "before",
            "before_at",
            "reason",
            store_id="store_unit_id",
            after="fraud_status",
        )
        return Plan(rows=rows, data=changes)

    def apply(
        self, conn: Connection, ctx: ImportContext, plan: Plan[pl.DataFrame]
    ) -> tuple[pl.DataFrame, dict[str, pl.DataFrame]]:
        changes: pl.DataFrame = plan.data.with_columns(
            after_at=pl.lit(ctx.now, dtype=pl.Datetime("us", "UTC"))
        )
        _set_fraud_status(conn, ctx, changes.select("customer_id", "after", modified_at="after_at"))
        details = changes.select(
            "customer_id",
            details=pl.struct(
                pl.col("before").alias("from"),
                pl.col("after").alias("to"),
                "reason",
                storeId="store_id",
            ),
        )
        log_changes(conn, ctx, details, "FRAUD")
        return plan.rows, {"changes": changes}

    def undo(
        self, conn: Connection, ctx: ImportContext, data: dict[str, pl.DataFrame]
    ) -> pl.DataFrame:
        changes = data["changes"]
        now = _fraud_states(conn, ctx, changes["customer_id"]).select(
            "customer_id", now="before", now_at="before_at"
        )
        compared = changes.join(now, on="customer_id", how="left")
        moved = pl.col("now").ne_missing(pl.col("after")) | pl.col("now_at").ne_missing(
            pl.col("after_at")
        )
        restore = compared.filter(~moved)
        _set_fraud_status(
            conn, ctx, restore.select("customer_id", after="before", modified_at="before_at")
        )
        details = restore.select(
            "customer_id",
            details=pl.struct(
                pl.col("after").alias("from"),
                pl.col("before").alias("to"),
                reason=pl.lit(f"undo of import {ctx.import_id}"),
            ),
        )
        log_changes(conn, ctx, details, "FRAUD", undo=True)
        return compared.filter(moved).select(
            "customer_id",
            field=pl.lit("fraud_status"),
            reason=pl.lit("the fraud status changed again since the import"),
        )


def _fraud_status_rule(checks: Checks) -> None:
    """``fraud_status``: one of the fraud statuses, upper-cased."""
    text = checks.raw("fraud_status").str.strip_chars()
    wanted = text.str.to_uppercase()
    checks.frame = checks.frame.with_columns(
        pl.when(wanted.is_in(FRAUD_STATUSES)).then(wanted).alias("fraud_status")
    )
    empty = text.is_null() | (text == "")
    checks.error(empty, RowCode.FRAUD_STATUS_INVALID, pl.lit("the fraud status is empty"))
    checks.error(
        ~empty & pl.col("fraud_status").is_null(),
        RowCode.FRAUD_STATUS_INVALID,
        pl.format(
            "unknown fraud status '{}'; use one of {}", text, pl.lit(", ".join(FRAUD_STATUSES))
        ),
    )


def _reason_rule(checks: Checks) -> None:
    """``reason``: mandatory, trimmed, printable, at most 500 characters (as the API's)."""
    checks.rule(
        "reason",
        columns.plain_identifier(pl.col("reason"), max_length=MAX_REASON_LENGTH),
        RowCode.FRAUD_REASON_INVALID,
        "invalid reason",
    )
    text = checks.raw("reason").str.strip_chars()
    checks.error(
        text.is_null() | (text == ""),
        RowCode.FRAUD_REASON_EMPTY,
        pl.lit("the fraud reason is empty: say why the status changes"),
    )


def _fraud_states(conn: Connection, ctx: ImportContext, ids: pl.Series) -> pl.DataFrame:
    """(customer_id, before, before_at): the stored fraud status of ``ids`` and its time."""
    create_temp_table(conn, "import_customer_ids", {"id": "BIGINT"})
    insert_frame(conn, "import_customer_ids", pl.DataFrame({"id": ids.drop_nulls().unique()}))
    staged = sa.table("import_customer_ids", sa.column("id"))
    query = sa.select(
        customers.c.id, customers.c.fraud_status, customers.c.fraud_modified_at
    ).where(customers.c.org_id == ctx.org_id, customers.c.id.in_(sa.select(staged.c.id)))
    # SQLite hands back naive times, PostgreSQL aware ones: both are read as UTC.
    return fetch_frame(
        conn,
        query,
        {"customer_id": pl.Int64, "before": pl.String, "before_at": pl.Datetime("us", "UTC")},
    )


def _set_fraud_status(conn: Connection, ctx: ImportContext, frame: pl.DataFrame) -> None:
    """Set each customer's fraud status and its time (``customer_id``, ``after``,
    ``modified_at``), one statement."""
    if frame.is_empty():
        return
    create_temp_table(conn, "import_fraud", _STAGED)
    insert_frame(conn, "import_fraud", frame.rename({"after": "fraud_status"}))
    staged = sa.table(
        "import_fraud",
        sa.column("customer_id"),
        sa.column("fraud_status"),
        sa.column("modified_at", sa.DateTime(timezone=True)),
    )
    conn.execute(
        customers.update()
        .where(customers.c.org_id == ctx.org_id, customers.c.id == staged.c.customer_id)
        .values(
            fraud_status=staged.c.fraud_status,
            fraud_modified_at=staged.c.modified_at,
            updated_at=sa.func.now(),
            modified_by=ctx.actor_name,
        )
    )


PROFILE = FraudStatus()
