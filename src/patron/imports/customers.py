"""Finding the customer each row speaks of, by the identifier its template chooses.

Most profiles (status, fraud, subscriptions, cards, coupons, lifecycle events)
name an existing customer by one column: a user id (patron's customer id), a
mobile, an email or an external id. :func:`customer_key` normalizes that column
with the profile store's rules while the profile validates; :func:`find_customers`
then matches every row at once against the store (a staged table and one join),
follows merged customers to their survivor, and rejects rows whose customer is
unknown or deleted. :func:`customer_states` reads the status and fraud status
that decide whether a customer may still be changed.
"""

from __future__ import annotations

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from patron.customer.deletion import suppression_digest
from patron.customer.tables import customers, identifiers, suppressions
from patron.imports import columns
from patron.imports.codes import RowCode
from patron.imports.context import ImportContext
from patron.imports.profile import OptionSpec
from patron.imports.rowcheck import Checks, add_errors
from patron.kit.bulk import create_temp_table, fetch_frame, insert_frame
from patron.kit.db import MAX_ID
from patron.orgs.settings import BLOCKING_FRAUD_STATUSES
from patron.orgs.tables import status_labels

#: The identifiers a template may choose to name customers by, with their store type.
KEYS = {"user_id": None, "mobile": "mobile", "email": "email", "external_id": "externalId"}
LABELS = {"user_id": "user id", "mobile": "mobile", "email": "email", "external_id": "external id"}


def key_option(default: str = "mobile", name: str = "unique_identifier") -> OptionSpec:
    """The template option that chooses the identifier column (the seed's "user input type")."""
    return OptionSpec(
        name,
        "choice",
        default,
        "The customer identifier the file holds: user_id, mobile, email or external_id.",
        tuple(KEYS),
    )


def customer_key(checks: Checks, ctx: ImportContext, key: str, *, required: bool = True) -> None:
    """Normalize the ``key`` column in place; an invalid value rejects the row, and so does
    an empty one when ``required`` (otherwise the row names no customer)."""
    if key == "user_id":
        raw = checks.raw(key).str.strip_chars()
        parsed = raw.cast(pl.Int64, strict=False)
        checks.frame = checks.frame.with_columns(
            pl.when(parsed.is_between(1, MAX_ID)).then(parsed).alias(key)
        )
        checks.error(
            raw.is_not_null() & (raw != "") & pl.col(key).is_null(),
            RowCode.USER_ID_UNKNOWN,
            pl.format("user id '{}' is not a customer id", raw),
        )
    elif key == "mobile":
        checks.rule(
            key, columns.mobile(pl.col(key), ctx.mobile_rules), RowCode.INVALID_MOBILE,
            "invalid mobile number",
        )  # fmt: skip
    elif key == "email":
        checks.rule(key, columns.email(pl.col(key)), RowCode.INVALID_EMAIL, "invalid email id")
    else:
        checks.rule(
            key, columns.external_id(pl.col(key)), RowCode.INVALID_EXTERNAL_ID,
            "invalid external id",
        )  # fmt: skip
    if not required:
        return
    raw = checks.raw(key).str.strip_chars()
    checks.error(
        raw.is_null() | (raw == ""),
        RowCode.IDENTIFIER_EMPTY,
        pl.lit(f"the customer's {LABELS[key]} is empty"),
    )


def find_customers(
    conn: Connection, rows: pl.DataFrame, ctx: ImportContext, key: str
) -> pl.DataFrame:
    """``rows`` with ``customer_id``: the live customer its ``key`` names (merges followed).

    Rows that already have errors are matched too (their report shows the
    customer); a row whose customer is unknown or deleted gets an error.
    """
    values = rows.select("row", pl.col(key).alias("value")).drop_nulls("value")
    kind = KEYS[key]
    found = _by_id(conn, values, ctx) if kind is None else _by_identifier(conn, values, ctx, kind)
    rows = rows.join(found, on="row", how="left", maintain_order="left")
    unknown = rows.filter(pl.col(key).is_not_null() & pl.col("_found_id").is_null()).select(
        "row",
        message=pl.format(
            "no customer of this org has {} {}", pl.lit(LABELS[key]), pl.col(key).cast(pl.String)
        ),
    )
    rows = add_errors(rows, unknown, RowCode.CUSTOMER_UNKNOWN)
    deleted = rows.filter(pl.col("_deleted")).select(
        "row", message=pl.format("the customer (id {}) was deleted", "_found_id")
    )
    rows = add_errors(rows, deleted, RowCode.DELETED_CUSTOMER)
    return rows.with_columns(
        customer_id=pl.when(~pl.col("_deleted").fill_null(False)).then("_found_id")
    ).drop("_found_id", "_deleted")


def _by_id(conn: Connection, values: pl.DataFrame, ctx: ImportContext) -> pl.DataFrame:
    create_temp_table(conn, "import_keys", {"id": "BIGINT"})
    insert_frame(conn, "import_keys", values.select(id=pl.col("value").cast(pl.Int64)).unique())
    staged = sa.table("import_keys", sa.column("id"))
    query = sa.select(
        customers.c.id,
        sa.func.coalesce(customers.c.merged_into_id, customers.c.id),
        customers.c.deleted_at.is_not(None),
    ).where(customers.c.org_id == ctx.org_id, customers.c.id.in_(sa.select(staged.c.id)))
    known = fetch_frame(
        conn, query, {"value": pl.Int64, "_found_id": pl.Int64, "_deleted": pl.Boolean}
    )
    return values.with_columns(pl.col("value").cast(pl.Int64)).join(known, on="value").drop("value")


def _by_identifier(
    conn: Connection, values: pl.DataFrame, ctx: ImportContext, kind: str
) -> pl.DataFrame:
    create_temp_table(conn, "import_keys", {"value": "VARCHAR(255)"})
    insert_frame(conn, "import_keys", values.select("value").unique())
    staged = sa.table("import_keys", sa.column("value"))
    query = (
        sa.select(identifiers.c.value, customers.c.id, customers.c.deleted_at.is_not(None))
        .join(customers, customers.c.id == identifiers.c.customer_id)
        .where(
            identifiers.c.org_id == ctx.org_id,
            identifiers.c.type == kind,
            identifiers.c.value.in_(sa.select(staged.c.value)),
        )
    )
    known = fetch_frame(
        conn, query, {"value": pl.String, "_found_id": pl.Int64, "_deleted": pl.Boolean}
    )
    return values.join(known, on="value").drop("value")


def identifier_holders(conn: Connection, org_id: int, pairs: pl.DataFrame) -> pl.DataFrame:
    """(type, value, customer_id) of the ``pairs`` (``type``, ``value``) held in the org."""
    create_temp_table(conn, "import_values", {"type": "VARCHAR(32)", "value": "VARCHAR(255)"})
    insert_frame(conn, "import_values", pairs.select("type", "value").unique())
    staged = sa.table("import_values", sa.column("type"), sa.column("value"))
    query = sa.select(identifiers.c.type, identifiers.c.value, identifiers.c.customer_id).join(
        staged,
        sa.and_(
            identifiers.c.org_id == org_id,
            identifiers.c.type == staged.c.type,
            identifiers.c.value == staged.c.value,
        ),
    )
    return fetch_frame(
        conn, query, {"type": pl.String, "value": pl.String, "customer_id": pl.Int64}
    )


def reject_suppressed(
    conn: Connection, ctx: ImportContext, rows: pl.DataFrame, fields: dict[str, tuple[str, str]]
) -> pl.DataFrame:
    """New rows (no ``customer_id``) carrying an identifier of a deleted customer are refused.

    ``fields`` maps a column to its identifier type and the words that name it.
    Keyed hashes are computed in Python, and only for the new rows of an org
    that deleted someone.
    """
    has_any = conn.execute(
        sa.select(sa.literal(1)).where(suppressions.c.org_id == ctx.org_id).limit(1)
    ).first()
    if has_any is None:
        return rows
    stored = fetch_frame(
        conn,
        sa.select(suppressions.c.type, suppressions.c.digest).where(
            suppressions.c.org_id == ctx.org_id
        ),
        {"type": pl.String, "digest": pl.String},
    )
    new = rows.lazy().filter(pl.col("customer_id").is_null()).select("row", *fields).collect()
    found = []
    for field, (kind, label) in fields.items():
        digests = pl.DataFrame(
            {
                "row": new["row"],
                "digest": [None if v is None else suppression_digest(kind, v) for v in new[field]],
            },
            schema={"row": pl.Int64, "digest": pl.String},
        ).drop_nulls()
        hits = digests.join(stored.filter(pl.col("type") == kind), on="digest", how="semi")
        found.append(
            hits.select("row", message=pl.lit(f"the {label} belongs to a deleted customer"))
        )
    return add_errors(rows, pl.concat(found).unique("row", keep="first"), RowCode.DELETED_CUSTOMER)


def customer_states(conn: Connection, ctx: ImportContext, ids: pl.Series) -> pl.DataFrame:
    """(customer_id, status_label_id, label, system_status, fraud_status) of ``ids``."""
    create_temp_table(conn, "import_customer_ids", {"id": "BIGINT"})
    insert_frame(conn, "import_customer_ids", pl.DataFrame({"id": ids.drop_nulls().unique()}))
    staged = sa.table("import_customer_ids", sa.column("id"))
    query = (
        sa.select(
            customers.c.id,
            customers.c.status_label_id,
            status_labels.c.label,
            status_labels.c.system_status,
            customers.c.fraud_status,
        )
        .join(status_labels, status_labels.c.id == customers.c.status_label_id)
        .where(customers.c.org_id == ctx.org_id, customers.c.id.in_(sa.select(staged.c.id)))
    )
    return fetch_frame(
        conn,
        query,
        {
            "customer_id": pl.Int64,
            "status_label_id": pl.Int64,
            "label": pl.String,
            "system_status": pl.String,
            "fraud_status": pl.String,
        },
    )


def reject_fraud(rows: pl.DataFrame, states: pl.DataFrame) -> pl.DataFrame:
    """Rows of customers marked or confirmed as fraud are rejected (they cannot be changed)."""
    marked = states.filter(pl.col("fraud_status").is_in(tuple(BLOCKING_FRAUD_STATUSES)))
    hits = rows.join(marked.select("customer_id", "fraud_status"), on="customer_id").select(
        "row",
        message=pl.format(
            "the customer (id {}) is marked as fraud ({})", "customer_id", "fraud_status"
        ),
    )
    return add_errors(rows, hits, RowCode.CUSTOMER_FRAUD)
