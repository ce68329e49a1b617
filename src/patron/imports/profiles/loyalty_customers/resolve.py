"""Loyalty Customers, stage 4: match rows to stored customers and decide each row's fate.

Set-based: the file's identifier values and the matched customer ids go to
temporary tables and come back joined, a handful of queries per import
whatever its size. The result is the validated frame plus ``customer_id``,
``status`` (insert | update | skip | reject), and the ``changes`` of each
updated customer in long form (customer_id, profile_id, field, before, after).
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from patron.customer.deletion import suppression_digest
from patron.customer.tables import customers, field_values, identifiers, profiles, suppressions
from patron.imports.codes import RowCode
from patron.imports.context import ImportContext
from patron.imports.rowcheck import add_errors
from patron.kit.bulk import create_temp_table, fetch_frame, insert_frame
from patron.loyalty.tables import loyalty_accounts
from patron.orgs.settings import BLOCKING_FRAUD_STATUSES
from patron.orgs.tables import status_labels

#: Import field -> identifier type in the profile store.
IDENTIFIER_TYPES = {"mobile": "mobile", "email": "email", "external_id": "externalId"}
OWNED_CODES = {
    "mobile": RowCode.MOBILE_OF_OTHER_CUSTOMER,
    "email": RowCode.EMAIL_OF_OTHER_CUSTOMER,
    "external_id": RowCode.EXTERNAL_ID_OF_OTHER_CUSTOMER,
}
LABELS = {"mobile": "mobile", "email": "email", "external_id": "external id"}
PROFILE_FIELDS = ("first_name", "last_name")
LOYALTY_FIELDS = {
    "loyalty_points": "points",
    "lifetime_points": "lifetime_points",
    "lifetime_purchases": "lifetime_purchases",
    "slab_name": "slab_name",
    "join_date": "joined_on",
}
NUMBER_FIELDS = ("loyalty_points", "lifetime_points", "lifetime_purchases")
INACTIVE_STATUSES = ("Suspended", "Deleted")
FRAUD_LABEL_STATUSES = ("Fraud Suspected", "Fraud Confirmed")
SOURCE = "INSTORE"


@dataclass(frozen=True)
class Resolution:
    rows: pl.DataFrame  # validated rows + customer_id, profile_id, status
    changes: pl.DataFrame  # customer_id, profile_id, field, before, after (updates only)


def resolve(conn: Connection, rows: pl.DataFrame, ctx: ImportContext) -> Resolution:
    owners = _identifier_owners(conn, rows, ctx)
    rows = _match(rows, owners, ctx)
    rows = _check_user_ids(conn, rows, ctx)
    current = _current_state(conn, rows, ctx)
    rows = _check_owned_identifiers(rows, owners)
    rows = _check_customers(rows, current)
    rows = _check_suppressed(conn, rows, ctx)
    changes = _changes(rows, current, ctx)
    return _decide(rows, changes, ctx)


# --- matching -------------------------------------------------------------------


def _identifier_owners(conn: Connection, rows: pl.DataFrame, ctx: ImportContext) -> pl.DataFrame:
    """(field, value, owner_id) for every identifier value of the file already stored."""
    values = pl.concat(
        [
            rows.select(pl.lit(kind).alias("type"), pl.col(field).alias("value")).drop_nulls(
                "value"
            )
            for field, kind in IDENTIFIER_TYPES.items()
        ]
    ).unique()
    create_temp_table(conn, "import_values", {"type": "VARCHAR(32)", "value": "VARCHAR(255)"})
    insert_frame(conn, "import_values", values)
    staged = sa.table("import_values", sa.column("type"), sa.column("value"))
    query = sa.select(identifiers.c.type, identifiers.c.value, identifiers.c.customer_id).join(
        staged,
        sa.and_(
            identifiers.c.org_id == ctx.org_id,
            identifiers.c.type == staged.c.type,
            identifiers.c.value == staged.c.value,
        ),
    )
    found = fetch_frame(conn, query, {"type": pl.String, "value": pl.String, "owner_id": pl.Int64})
    field_of = {kind: field for field, kind in IDENTIFIER_TYPES.items()}
    return found.with_columns(field=pl.col("type").replace_strict(field_of)).drop("type")


def _owner_column(rows: pl.DataFrame, owners: pl.DataFrame, field: str) -> pl.Series:
    mine = owners.filter(pl.col("field") == field).select(
        pl.col("value").alias(field), pl.col("owner_id")
    )
    return rows.select(field).join(mine, on=field, how="left", maintain_order="left")["owner_id"]


def _match(rows: pl.DataFrame, owners: pl.DataFrame, ctx: ImportContext) -> pl.DataFrame:
    """The customer a row speaks of: its user id, else the owner of its unique identifier."""
    key = ctx.options["unique_identifier"]
    owner_columns = {
        f"_owner_{field}": _owner_column(rows, owners, field) for field in IDENTIFIER_TYPES
    }
    rows = rows.with_columns(**owner_columns)
    return rows.with_columns(customer_id=pl.coalesce("user_id", f"_owner_{key}"))


def _check_user_ids(conn: Connection, rows: pl.DataFrame, ctx: ImportContext) -> pl.DataFrame:
    """A user id must name a live customer of the org; a merged id stands for its survivor."""
    given = rows.filter(pl.col("user_id").is_not_null()).select("row", "user_id")
    if given.is_empty():
        return rows
    _stage_ids(conn, given["user_id"].unique())
    staged = sa.table("import_ids", sa.column("id"))
    query = sa.select(customers.c.id, customers.c.merged_into_id).where(
        customers.c.org_id == ctx.org_id,
        customers.c.id.in_(sa.select(staged.c.id)),
        customers.c.deleted_at.is_(None),
    )
    known = fetch_frame(conn, query, {"user_id": pl.Int64, "survivor": pl.Int64})
    given = given.join(known, on="user_id", how="left")
    unknown = given.filter(
        pl.col("survivor").is_null() & ~pl.col("user_id").is_in(known["user_id"].implode())
    )
    rows = add_errors(
        rows,
        unknown.select(
            "row", message=pl.format("user id {} is not a customer of this org", "user_id")
        ),
        RowCode.USER_ID_UNKNOWN,
    )
    survivors = given.select("row", "survivor").drop_nulls()
    rows = rows.join(survivors, on="row", how="left", maintain_order="left")
    return rows.with_columns(
        customer_id=pl.when(pl.col("row").is_in(unknown["row"].implode()))
        .then(pl.lit(None, dtype=pl.Int64))
        .otherwise(pl.coalesce("survivor", "customer_id"))
    ).drop("survivor")


def _stage_ids(conn: Connection, ids: pl.Series) -> None:
    create_temp_table(conn, "import_ids", {"id": "BIGINT"})
    insert_frame(conn, "import_ids", pl.DataFrame({"id": ids.unique().drop_nulls()}))


# --- what is stored -----------------------------------------------------------------


@dataclass(frozen=True)
class Current:
    customers: pl.DataFrame  # customer_id, system_status, fraud_status, profile_id
    values: pl.DataFrame  # customer_id, field, before (text)


def _current_state(conn: Connection, rows: pl.DataFrame, ctx: ImportContext) -> Current:
    ids = rows["customer_id"].drop_nulls().unique()
    values = current_values(conn, ctx, ids)  # stages ids in import_ids
    staged = sa.select(sa.table("import_ids", sa.column("id")).c.id)
    people = fetch_frame(
        conn,
        sa.select(
            customers.c.id, status_labels.c.system_status, customers.c.fraud_status, profiles.c.id
        )
        .join(status_labels, status_labels.c.id == customers.c.status_label_id)
        .outerjoin(
            profiles,
            sa.and_(
                profiles.c.customer_id == customers.c.id,
                profiles.c.org_id == ctx.org_id,
                profiles.c.source == SOURCE,
                profiles.c.account_id == "",
            ),
        )
        .where(customers.c.org_id == ctx.org_id, customers.c.id.in_(staged)),
        {
            "customer_id": pl.Int64,
            "system_status": pl.String,
            "fraud_status": pl.String,
            "profile_id": pl.Int64,
        },
    )
    return Current(customers=people, values=values)


def current_values(conn: Connection, ctx: ImportContext, ids: pl.Series) -> pl.DataFrame:
    """(customer_id, field, before): every stored value this profile can write, as text."""
    _stage_ids(conn, ids)
    staged = sa.select(sa.table("import_ids", sa.column("id")).c.id)
    org = ctx.org_id
    parts = [
        fetch_frame(
            conn,
            sa.select(profiles.c.customer_id, sa.literal(field), getattr(profiles.c, field)).where(
                profiles.c.org_id == org,
                profiles.c.source == SOURCE,
                profiles.c.account_id == "",
                profiles.c.customer_id.in_(staged),
            ),
            _VALUE_SCHEMA,
        ).filter(pl.col("before") != "")  # an empty name is no name
        for field in PROFILE_FIELDS
    ]
    field_of = {kind: field for field, kind in IDENTIFIER_TYPES.items()}
    stored_ids = fetch_frame(
        conn,
        sa.select(identifiers.c.customer_id, identifiers.c.type, identifiers.c.value).where(
            identifiers.c.org_id == org,
            identifiers.c.type.in_(tuple(field_of)),
            identifiers.c.customer_id.in_(staged),
        ),
        _VALUE_SCHEMA,
    )
    parts.append(stored_ids.with_columns(field=pl.col("field").replace_strict(field_of)))
    for field, column in LOYALTY_FIELDS.items():
        parts.append(
            fetch_frame(
                conn,
                sa.select(
                    loyalty_accounts.c.customer_id,
                    sa.literal(field),
                    sa.cast(getattr(loyalty_accounts.c, column), sa.String),
                ).where(
                    loyalty_accounts.c.org_id == org, loyalty_accounts.c.customer_id.in_(staged)
                ),
                _VALUE_SCHEMA,
            ).with_columns(
                before=number_text(pl.col("before")) if field in NUMBER_FIELDS else pl.col("before")
            )
        )
    for target in ctx.fields:
        kind, name = target.split(".", 1)
        parts.append(
            fetch_frame(
                conn,
                sa.select(
                    field_values.c.customer_id, sa.literal(target), field_values.c.value
                ).where(
                    field_values.c.org_id == org,
                    field_values.c.kind == kind,
                    field_values.c.name == name,
                    field_values.c.customer_id.in_(staged),
                ),
                _VALUE_SCHEMA,
            )
        )
    return pl.concat(parts).drop_nulls("before")


_VALUE_SCHEMA = {"customer_id": pl.Int64, "field": pl.String, "before": pl.String}


# --- checks against the store ------------------------------------------------------------


def _check_owned_identifiers(rows: pl.DataFrame, owners: pl.DataFrame) -> pl.DataFrame:
    """An identifier of the row that belongs to another customer rejects the row."""
    for field in IDENTIFIER_TYPES:
        owner = pl.col(f"_owner_{field}")
        clash = rows.filter(
            owner.is_not_null()
            & (pl.col("customer_id").is_null() | (owner != pl.col("customer_id")))
        ).select(
            "row",
            message=pl.format(
                "{} {} is already registered to another customer (id {})",
                pl.lit(LABELS[field]),
                pl.col(field),
                owner,
            ),
        )
        rows = add_errors(rows, clash, OWNED_CODES[field])
    return rows.drop([f"_owner_{field}" for field in IDENTIFIER_TYPES])


def _check_customers(rows: pl.DataFrame, current: Current) -> pl.DataFrame:
    """Inactive and fraud-marked customers are not updated; a mobile or an external id
    is never changed."""
    rows = rows.join(current.customers, on="customer_id", how="left", maintain_order="left")
    inactive = rows.filter(pl.col("system_status").is_in(INACTIVE_STATUSES)).select(
        "row",
        message=pl.format("the customer (id {}) is inactive ({})", "customer_id", "system_status"),
    )
    rows = add_errors(rows, inactive, RowCode.CUSTOMER_INACTIVE)
    fraud = rows.filter(
        pl.col("fraud_status").is_in(tuple(BLOCKING_FRAUD_STATUSES))
        | pl.col("system_status").is_in(FRAUD_LABEL_STATUSES)
    ).select("row", message=pl.format("the customer (id {}) is marked as fraud", "customer_id"))
    rows = add_errors(rows, fraud, RowCode.CUSTOMER_FRAUD)
    for field, code, what in (
        (
            "mobile",
            RowCode.MOBILE_CHANGE_NOT_ALLOWED,
            "the customer (id {}) has mobile {}: "
            "a mobile number cannot be changed through an import",
        ),
        (
            "external_id",
            RowCode.OTHER_EXTERNAL_ID_ON_CUSTOMER,
            "the customer (id {}) already has another external id ({})",
        ),
    ):
        stored = current.values.filter(pl.col("field") == field).select(
            "customer_id", pl.col("before").alias("_stored")
        )
        differs = (
            rows.join(stored, on="customer_id", how="inner")
            .filter(pl.col(field).is_not_null() & (pl.col(field) != pl.col("_stored")))
            .select("row", message=pl.format(what, "customer_id", "_stored"))
        )
        rows = add_errors(rows, differs, code)
    return rows.drop("system_status", "fraud_status")


def _check_suppressed(conn: Connection, rows: pl.DataFrame, ctx: ImportContext) -> pl.DataFrame:
    """A new row carrying an identifier of a deleted customer is refused."""
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
    new = rows.filter(pl.col("customer_id").is_null())
    found = []
    for field, kind in IDENTIFIER_TYPES.items():
        # Keyed hashes are computed in Python, only for new rows of orgs that deleted someone.
        values = new[field]
        digests = pl.DataFrame(
            {
                "row": new["row"],
                "digest": [None if v is None else suppression_digest(kind, v) for v in values],
            },
            schema={"row": pl.Int64, "digest": pl.String},
        ).drop_nulls()
        hits = digests.join(stored.filter(pl.col("type") == kind), on="digest", how="semi")
        found.append(
            hits.select("row", message=pl.lit(f"the {LABELS[field]} belongs to a deleted customer"))
        )
    return add_errors(rows, pl.concat(found).unique("row", keep="first"), RowCode.DELETED_CUSTOMER)


# --- what changes ------------------------------------------------------------------


def updatable_fields(rows: pl.DataFrame, ctx: ImportContext) -> list[str]:
    """The mapped fields an update may change (all of them, or the template's selection)."""
    candidates = [
        *PROFILE_FIELDS,
        *IDENTIFIER_TYPES,
        *LOYALTY_FIELDS,
        *(name for name in rows.columns if name in ctx.fields),
    ]
    mapped = [name for name in candidates if name in ctx.columns]
    allowed = ctx.options.get("update_fields")
    return [name for name in mapped if allowed is None or name in allowed]


def _changes(rows: pl.DataFrame, current: Current, ctx: ImportContext) -> pl.DataFrame:
    """Per matched, valid row: every field whose new value differs from the stored one."""
    fields = updatable_fields(rows, ctx)
    matched = rows.filter(
        pl.col("customer_id").is_not_null() & (pl.col("error_codes").list.len() == 0)
    )
    if not fields or matched.is_empty():
        return _empty_changes()
    keep_empty_custom = not ctx.options["skip_empty_custom_fields"]
    long = matched.select(
        "row", "customer_id", "profile_id", *[as_text(name, rows.schema[name]) for name in fields]
    ).unpivot(index=["row", "customer_id", "profile_id"], variable_name="field", value_name="after")
    # An empty cell changes nothing, except that it clears a custom field (unless told not to).
    org_field = pl.col("field").is_in(list(ctx.fields))
    long = long.filter(pl.col("after").is_not_null() | (org_field & keep_empty_custom))
    long = long.join(current.values, on=["customer_id", "field"], how="left")
    return long.filter(pl.col("after").ne_missing(pl.col("before"))).select(
        "row", "customer_id", "profile_id", "field", "before", "after"
    )


def as_text(name: str, dtype: pl.DataType) -> pl.Expr:
    column = pl.col(name)
    if dtype == pl.Float64:
        return number_text(column).alias(name)
    if dtype == pl.Date:
        return column.dt.strftime("%Y-%m-%d").alias(name)
    return column.cast(pl.String).alias(name)


def number_text(column: pl.Expr) -> pl.Expr:
    """A balance as stored (Numeric(18, 2)): two decimals, so unchanged values compare equal."""
    return column.cast(pl.Float64).round(2).cast(pl.Decimal(20, 2)).cast(pl.String)


def _empty_changes() -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            "row": pl.Int64,
            "customer_id": pl.Int64,
            "profile_id": pl.Int64,
            "field": pl.String,
            "before": pl.String,
            "after": pl.String,
        }
    )


def _decide(rows: pl.DataFrame, changes: pl.DataFrame, ctx: ImportContext) -> Resolution:
    rejected = pl.col("error_codes").list.len() > 0
    matched = pl.col("customer_id").is_not_null()
    changed = pl.col("row").is_in(changes["row"].unique().implode())
    if ctx.options["disable_existing_update"]:
        skipped = rows.filter(~rejected & matched).select(
            "row", message=pl.lit("existing customer not updated: the template disables updates")
        )
        rows = add_errors(rows, skipped, RowCode.EXISTING_NOT_UPDATED)
        changes = _empty_changes()
        changed = pl.lit(False)
    status = (
        pl.when(pl.col("error_codes").list.contains(int(RowCode.EXISTING_NOT_UPDATED)))
        .then(pl.lit("skip"))
        .when(rejected)
        .then(pl.lit("reject"))
        .when(~matched)
        .then(pl.lit("insert"))
        .when(changed)
        .then(pl.lit("update"))
        .otherwise(pl.lit("skip"))
    )
    return Resolution(rows=rows.with_columns(status=status), changes=changes.drop("row"))
