"""Customer Status Import: move customers to another status label of the org.

A row names a customer by the identifier the template chooses and gives the
label to set (an org label over Active, Suspended, Fraud Suspected, Fraud
Confirmed or Internal, in any letter case); the store is optional. Every change
goes to the change log (``STATUS``) with the import as its cause. Customers
marked as fraud are not changed; a customer named by two rows is not guessed at.
"""

from __future__ import annotations

from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from patron.customer.tables import customers
from patron.imports.changelog import log_changes
from patron.imports.codes import RowCode
from patron.imports.context import ImportContext
from patron.imports.customers import (
    LABELS,
    customer_key,
    customer_states,
    find_customers,
    key_option,
    reject_fraud,
)
from patron.imports.duplicates import reject_duplicates
from patron.imports.profile import FieldSpec, Plan, ProfileSpec
from patron.imports.rowcheck import Checks, row_status
from patron.imports.stores import STORES_BY_EXTERNAL_ID, store_rule
from patron.kit.bulk import create_temp_table, fetch_frame, insert_frame
from patron.orgs.tables import status_labels

#: Only deleting a customer (with its reason) may move it to a label over this status.
DELETED = "Deleted"
CUSTOMER_FIELDS = (
    FieldSpec("user_id", "User ID", "patron's customer id.", ("user id", "userid"), "integer"),
    FieldSpec("mobile", "Mobile", "The customer's mobile number.", ("mobile no", "phone")),
    FieldSpec("email", "Email", "The customer's email address.", ("email id", "e-mail")),
    FieldSpec("external_id", "External ID", "The customer's id in the brand's systems."),
)
FIELDS = (
    *CUSTOMER_FIELDS,
    FieldSpec(
        "status_label",
        "Customer Status Label",
        "The status label to set: one of the org's labels (any letter case).",
        ("status label", "status", "customer status", "label", "new status"),
    ),
    FieldSpec(
        "store",
        "Till IUN Or Store Ext Id",
        "The store or till the change is made for (optional).",
        ("store code", "storecode", "store", "till", "till iun"),
    ),
)
SPEC = ProfileSpec(
    id="customer-status",
    name="Customer Status Import",
    fields=FIELDS,
    options=(key_option(), STORES_BY_EXTERNAL_ID),
)
CHANGE_SCHEMA = {
    "customer_id": pl.Int64,
    "before_id": pl.Int64,
    "after_id": pl.Int64,
    "before": pl.String,
    "after": pl.String,
}


class CustomerStatus:
    spec = SPEC
    undo_kinds: tuple[str, ...] = ("changes",)

    def missing_fields(self, mapped: set[str], options: dict[str, Any]) -> list[str]:
        key = options["unique_identifier"]
        wanted = [key, "status_label"]
        return [name for name in wanted if name not in mapped]

    def plan(
        self, conn: Connection, ctx: ImportContext, mapped: pl.DataFrame
    ) -> Plan[pl.DataFrame]:
        key = ctx.options["unique_identifier"]
        checks = Checks(mapped, ctx, [spec.name for spec in FIELDS])
        customer_key(checks, ctx, key)
        _label_rule(conn, checks, ctx)
        store_rule(checks, ctx, required=False)
        rows = reject_duplicates(
            checks.result(),
            ctx,
            key,
            RowCode.DUPLICATE_CUSTOMER_IN_FILE,
            LABELS[key],
        )
        rows = find_customers(conn, rows, ctx, key)
        states = customer_states(conn, ctx, rows["customer_id"])
        rows = reject_fraud(rows, states).join(
            states.select("customer_id", before_id="status_label_id", before="label"),
            on="customer_id",
            how="left",
            maintain_order="left",
        )
        rows = rows.with_columns(status=row_status(pl.col("label_id") == pl.col("before_id")))
        changes = rows.filter(pl.col("status") == "update").select(
            "customer_id", "before_id", after_id="label_id", before="before", after="label"
        )
        return Plan(rows=rows, data=changes)

    def apply(
        self, conn: Connection, ctx: ImportContext, plan: Plan[pl.DataFrame]
    ) -> tuple[pl.DataFrame, dict[str, pl.DataFrame]]:
        changes: pl.DataFrame = plan.data
        _set_labels(conn, ctx, changes.select("customer_id", label_id="after_id"))
        log_changes(conn, ctx, _details(changes, "before", "after", ctx), "STATUS")
        return plan.rows, {"changes": changes}

    def undo(
        self, conn: Connection, ctx: ImportContext, data: dict[str, pl.DataFrame]
    ) -> pl.DataFrame:
        changes = data["changes"]
        now = customer_states(conn, ctx, changes["customer_id"]).select(
            "customer_id", now_id="status_label_id"
        )
        compared = changes.join(now, on="customer_id", how="left")
        moved = pl.col("now_id").ne_missing(pl.col("after_id"))
        restore = compared.filter(~moved)
        _set_labels(conn, ctx, restore.select("customer_id", label_id="before_id"))
        log_changes(conn, ctx, _details(restore, "after", "before", ctx), "STATUS", undo=True)
        return compared.filter(moved).select(
            "customer_id",
            field=pl.lit("status_label"),
            reason=pl.lit("the status changed again since the import"),
        )


def _label_rule(conn: Connection, checks: Checks, ctx: ImportContext) -> None:
    """``status_label`` -> ``label_id`` and the label as the org spells it."""
    labels = fetch_frame(
        conn,
        sa.select(
            sa.func.lower(status_labels.c.label),
            status_labels.c.id,
            status_labels.c.label,
            status_labels.c.system_status,
        ).where(status_labels.c.org_id == ctx.org_id),
        {"_key": pl.String, "label_id": pl.Int64, "label": pl.String, "_system": pl.String},
    )
    text = checks.raw("status_label").str.strip_chars()
    checks.frame = (
        checks.frame.with_columns(text.str.to_lowercase().alias("_key"))
        .join(labels, on="_key", how="left", maintain_order="left")
        .drop("_key")
    )
    empty = text.is_null() | (text == "")
    known = ", ".join(labels.filter(pl.col("_system") != DELETED)["label"].sort().to_list())
    checks.error(empty, RowCode.STATUS_LABEL_EMPTY, pl.lit("the customer status label is empty"))
    checks.error(
        ~empty & pl.col("label_id").is_null(),
        RowCode.STATUS_LABEL_UNKNOWN,
        pl.format("unknown status label '{}'; the org's labels are: {}", text, pl.lit(known)),
    )
    checks.error(
        pl.col("_system") == DELETED,
        RowCode.STATUS_LABEL_UNKNOWN,
        pl.format(
            "the label '{}' marks deleted customers: delete them with their reason instead",
            pl.col("label"),
        ),
    )
    checks.frame = checks.frame.drop("_system")


def _set_labels(conn: Connection, ctx: ImportContext, frame: pl.DataFrame) -> None:
    """Set each customer's status label (``customer_id``, ``label_id``), one statement."""
    if frame.is_empty():
        return
    create_temp_table(conn, "import_labels", {"customer_id": "BIGINT", "label_id": "BIGINT"})
    insert_frame(conn, "import_labels", frame)
    staged = sa.table("import_labels", sa.column("customer_id"), sa.column("label_id"))
    conn.execute(
        customers.update()
        .where(customers.c.org_id == ctx.org_id, customers.c.id == staged.c.customer_id)
        .values(
            status_label_id=staged.c.label_id,
            updated_at=sa.func.now(),
            modified_by=ctx.actor_name,
        )
    )


def _details(changes: pl.DataFrame, old: str, new: str, ctx: ImportContext) -> pl.DataFrame:
    return changes.select(
        "customer_id",
        details=pl.struct(
            pl.col(old).alias("from"),
            pl.col(new).alias("to"),
            reason=pl.lit(f"import {ctx.import_id}"),
        ),
    )


PROFILE = CustomerStatus()
