"""Legacy Customers, matching: the customer each row speaks of, and what it changes.

A row's customer is the owner of its ``code`` (an external id), else of its card
number. Set-based: the file's values go to temporary tables and come back joined,
a handful of queries per batch whatever its size.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from patron.customer.tables import identifiers
from patron.imports.codes import INVALID_OPTION, RowCode
from patron.imports.context import ImportContext
from patron.imports.customers import (
    customer_states,
    identifier_holders,
    reject_fraud,
    reject_suppressed,
)
from patron.imports.duplicates import reject_duplicates
from patron.imports.profiles.legacy_customers.spec import (
    BLANKABLE,
    IDENTIFIER_TYPES,
    PASSWORD,
    PIN,
)
from patron.imports.profiles.legacy_customers.store import (
    current_values,
    instore_profiles,
    stage_ids,
)
from patron.imports.rowcheck import add_errors, has_errors
from patron.kit.bulk import create_temp_table, fetch_frame, insert_frame
from patron.kit.errors import InvalidInput
from patron.legacy.tables import legacy_profiles
from patron.loyalty.service import Campaign
from patron.loyalty.tables import campaign_enrollments

INACTIVE_STATUSES = ("Suspended", "Deleted")
FRAUD_LABEL_STATUSES = ("Fraud Suspected", "Fraud Confirmed")
#: The columns of the validated frame holding each field's value, where they differ.
COLUMN_OF = {PASSWORD: "password_hash", PIN: "pin_digest"}
CHANGE_SCHEMA = {
    "row": pl.Int64,
    "customer_id": pl.Int64,
    "profile_id": pl.Int64,
    "field": pl.String,
    "before": pl.String,
    "after": pl.String,
}


@dataclass(frozen=True)
class Resolution:
    #: The validated rows plus customer_id, profile_id, status, generate_code, generate_card.
    rows: pl.DataFrame
    #: Existing customers' changes in long form: row, customer_id, profile_id, field, before, after.
    changes: pl.DataFrame
    #: Enrollments to create: row, customer_id (null for a new customer), campaign_id.
    enrollments: pl.DataFrame
    #: Balance changes (``auto_add``): row, customer_id, campaign_id, number, change, product.
    additions: pl.DataFrame


def resolve(
    conn: Connection, ctx: ImportContext, rows: pl.DataFrame, campaigns: list[Campaign]
) -> Resolution:
    rows = _match(conn, ctx, rows)
    rows = reject_duplicates(
        rows, ctx, "customer_id", RowCode.DUPLICATE_CUSTOMER_IN_FILE, "customer (id)"
    )
    ids = rows["customer_id"].drop_nulls().unique()
    current = current_values(conn, ctx, ids)
    rows = rows.join(
        instore_profiles(conn, ctx, ids), on="customer_id", how="left", maintain_order="left"
    )
    rows = _check_held(rows, current)
    rows = _check_states(conn, ctx, rows, ids)
    labels = {f: (kind, f.replace("_", " ")) for f, kind in IDENTIFIER_TYPES.items()}
    rows = reject_suppressed(conn, ctx, rows, labels)
    mode = ctx.options["overwrite"]
    accepted = ~has_errors()
    if mode == "ignore":
        ignored = rows.filter(accepted & pl.col("customer_id").is_not_null()).select(
            "row",
            message=pl.format(
                "the customer (id {}) exists: left untouched (overwrite_duplicates=ignore)",
                "customer_id",
            ),
        )
        rows = add_errors(rows, ignored, RowCode.LEGACY_EXISTING_IGNORED)
        accepted = ~has_errors()
    held_card = current.filter(pl.col("field") == "card_number").select("customer_id")
    generate = ctx.options["card_number_generate"] is not None
    rows = rows.with_columns(
        generate_code=accepted & pl.col("customer_id").is_null() & pl.col("code").is_null(),
        generate_card=accepted
        & pl.lit(generate)
        & pl.col("card_number").is_null()
        & ~pl.col("customer_id").is_in(held_card["customer_id"].implode()).fill_null(False),
    )
    _check_room_for_cards(conn, ctx, int(rows["generate_card"].sum()))
    changes = _changes(rows.filter(accepted & pl.col("customer_id").is_not_null()), current, mode)
    enrollments = _enrollments(conn, ctx, rows.filter(accepted), campaigns)
    additions = _additions(rows.filter(accepted), campaigns)
    # As the original API counted them, every known customer of the batch is "updated"
    # (overwrite yes or update), whether or not a value differs.
    status = (
        pl.when(pl.col("error_codes").list.contains(int(RowCode.LEGACY_EXISTING_IGNORED)))
        .then(pl.lit("skip"))
        .when(~accepted)
        .then(pl.lit("reject"))
        .when(pl.col("customer_id").is_null())
        .then(pl.lit("insert"))
        .otherwise(pl.lit("update"))
    )
    return Resolution(rows.with_columns(status=status), changes, enrollments, additions)


# --- matching ----------------------------------------------------------------------


def _match(conn: Connection, ctx: ImportContext, rows: pl.DataFrame) -> pl.DataFrame:
    """Each row's owners of its code, card number, email and user name; its customer."""
    values = (
        pl.concat(
            [
                rows.select(pl.lit(kind).alias("type"), pl.col(field).alias("value"))
                for field, kind in IDENTIFIER_TYPES.items()
            ]
        )
        .drop_nulls("value")
        .unique()
    )
    owned = identifier_holders(conn, ctx.org_id, values).rename({"customer_id": "owner"})
    for field, kind in IDENTIFIER_TYPES.items():
        mine = owned.filter(pl.col("type") == kind).select(
            pl.col("value").alias(field), pl.col("owner").alias(f"_owner_{field}")
        )
        rows = rows.join(mine, on=field, how="left", maintain_order="left")
    names = rows.select("customer_username").drop_nulls().unique()
    create_temp_table(conn, "legacy_names", {"name": "VARCHAR(100)"})
    insert_frame(conn, "legacy_names", names.select(name="customer_username"))
    taken = fetch_frame(
        conn,
        sa.select(legacy_profiles.c.username, legacy_profiles.c.customer_id).where(
            legacy_profiles.c.org_id == ctx.org_id,
            legacy_profiles.c.username.in_(
                sa.select(sa.table("legacy_names", sa.column("name")).c.name)
            ),
        ),
        {"customer_username": pl.String, "_owner_customer_username": pl.Int64},
    )
    rows = rows.join(taken, on="customer_username", how="left", maintain_order="left")
    # The code is the key; the card number is the key of a row without one.
    return rows.with_columns(
        customer_id=pl.when(pl.col("code").is_not_null())
        .then(pl.col("_owner_code"))
        .otherwise(pl.col("_owner_card_number"))
    )


def _check_held(rows: pl.DataFrame, current: pl.DataFrame) -> pl.DataFrame:
    """Identifiers and user names of other customers, and a second card, reject the row."""
    customer = pl.col("customer_id")
    checks = (
        (
            "_owner_card_number",
            RowCode.LEGACY_CARD_OF_OTHER_CUSTOMER,
            "card number {} belongs to another customer (id {})",
            "card_number",
        ),
        (
            "_owner_email",
            RowCode.EMAIL_OF_OTHER_CUSTOMER,
            "email {} is already registered to another customer (id {})",
            "email",
        ),
        (
            "_owner_customer_username",
            RowCode.LEGACY_USERNAME_OF_OTHER_CUSTOMER,
            "customer_username {} is taken by another customer (id {})",
            "customer_username",
        ),
    )
    for owner, code, what, field in checks:
        clash = rows.filter(
            pl.col(owner).is_not_null() & (customer.is_null() | (pl.col(owner) != customer))
        ).select("row", message=pl.format(what, pl.col(field), pl.col(owner)))
        rows = add_errors(rows, clash, code)
    held = current.filter(pl.col("field") == "card_number").select(
        "customer_id", _held_card_number="value"
    )
    rows = rows.join(held, on="customer_id", how="left", maintain_order="left")
    other_card = rows.filter(
        pl.col("card_number").is_not_null()
        & pl.col("_owner_card_number").is_null()
        & pl.col("_held_card_number").is_not_null()
    ).select(
        "row",
        message=pl.format(
            "the customer (id {}) already has card number {}: a card number cannot be "
            "changed through the batch API",
            "customer_id",
            "_held_card_number",
        ),
    )
    rows = add_errors(rows, other_card, RowCode.LEGACY_OTHER_CARD_ON_CUSTOMER)
    return rows.drop([name for name in rows.columns if name.startswith(("_owner_", "_held_"))])


def _check_states(
    conn: Connection, ctx: ImportContext, rows: pl.DataFrame, ids: pl.Series
) -> pl.DataFrame:
    """Inactive and fraud-marked customers are not changed."""
    states = customer_states(conn, ctx, ids)
    rows = reject_fraud(rows, states)
    joined = rows.join(states, on="customer_id", how="left", maintain_order="left")
    inactive = joined.filter(pl.col("system_status").is_in(INACTIVE_STATUSES)).select(
        "row",
        message=pl.format("the customer (id {}) is inactive ({})", "customer_id", "label"),
    )
    rows = add_errors(rows, inactive, RowCode.CUSTOMER_INACTIVE)
    flagged = joined.filter(pl.col("system_status").is_in(FRAUD_LABEL_STATUSES)).select(
        "row", message=pl.format("the customer (id {}) is marked as fraud", "customer_id")
    )
    return add_errors(rows, flagged, RowCode.CUSTOMER_FRAUD)


def _check_room_for_cards(conn: Connection, ctx: ImportContext, wanted: int) -> None:
    """Refuse a generation the card numbers of that length cannot hold without guessing."""
    digits = ctx.options["card_number_generate"]
    if not wanted or digits is None or digits > 15:
        return
    held = conn.execute(
        sa.select(sa.func.count()).where(
            identifiers.c.org_id == ctx.org_id,
            identifiers.c.type == "cardnumber",
            sa.func.length(identifiers.c.value) == digits,
        )
    ).scalar_one()
    room = 9 * 10 ** (digits - 1)
    if (wanted + int(held)) * 2 > room:
        raise InvalidInput(
            INVALID_OPTION,
            f"card_number_generate={digits} leaves room for {room:,} card numbers, too few "
            f"for {wanted:,} more beside the {int(held):,} stored: generate longer numbers",
        )


# --- what changes ------------------------------------------------------------------


def as_text(name: str, dtype: pl.DataType) -> pl.Expr:
    column = pl.col(COLUMN_OF.get(name, name))
    if dtype == pl.Date:
        return column.dt.strftime("%Y-%m-%d").alias(name)
    return column.cast(pl.String).alias(name)


def _changes(matched: pl.DataFrame, current: pl.DataFrame, mode: str) -> pl.DataFrame:
    """Every field a matched row changes, with its stored value (``yes``: blanks too)."""
    if matched.is_empty():
        return pl.DataFrame(schema=CHANGE_SCHEMA)
    index = ["row", "customer_id", "profile_id"]
    fields = matched.select(
        *index, *[as_text(name, matched.schema[COLUMN_OF.get(name, name)]) for name in BLANKABLE]
    ).unpivot(index=index, variable_name="field", value_name="after")
    if mode != "yes":
        fields = fields.filter(pl.col("after").is_not_null())
    # Identifiers are added where the customer has none; they are never blanked.
    added = (
        matched.select(*index, "code", "card_number")
        .unpivot(index=index, variable_name="field", value_name="after")
        .drop_nulls("after")
    )
    long = pl.concat([fields, added]).join(
        current.rename({"value": "before"}), on=["customer_id", "field"], how="left"
    )
    added_only = pl.col("field").is_in(["code", "card_number"])
    return long.filter(
        pl.when(added_only)
        .then(pl.col("before").is_null())
        .otherwise(pl.col("after").ne_missing(pl.col("before")))
    ).select(CHANGE_SCHEMA.keys())


def _enrollments(
    conn: Connection, ctx: ImportContext, accepted: pl.DataFrame, campaigns: list[Campaign]
) -> pl.DataFrame:
    """Every accepted row's customer in every listed campaign it is not enrolled in yet."""
    schema = {"row": pl.Int64, "customer_id": pl.Int64, "campaign_id": pl.Int64}
    if not campaigns or accepted.is_empty():
        return pl.DataFrame(schema=schema)
    wanted = accepted.select("row", "customer_id").join(
        pl.DataFrame({"campaign_id": [c.id for c in campaigns]}, schema={"campaign_id": pl.Int64}),
        how="cross",
    )
    staged = stage_ids(conn, accepted["customer_id"])
    enrolled = fetch_frame(
        conn,
        sa.select(campaign_enrollments.c.customer_id, campaign_enrollments.c.campaign_id).where(
            campaign_enrollments.c.org_id == ctx.org_id,
            campaign_enrollments.c.customer_id.in_(staged),
            campaign_enrollments.c.campaign_id.in_([c.id for c in campaigns]),
        ),
        {"customer_id": pl.Int64, "campaign_id": pl.Int64},
    )
    return wanted.join(enrolled, on=["customer_id", "campaign_id"], how="anti").select(
        schema.keys()
    )


def _additions(accepted: pl.DataFrame, campaigns: list[Campaign]) -> pl.DataFrame:
    """``auto_add`` of the accepted rows, all to the first campaign."""
    schema = {
        "row": pl.Int64,
        "customer_id": pl.Int64,
        "campaign_id": pl.Int64,
        "number": pl.Int64,
        "change": pl.String,
        "product": pl.String,
    }
    if not campaigns:
        return pl.DataFrame(schema=schema)
    first = campaigns[0]
    return accepted.filter(pl.col("add_amount").is_not_null()).select(
        "row",
        "customer_id",
        campaign_id=pl.lit(first.id, dtype=pl.Int64),
        number=pl.lit(first.number, dtype=pl.Int64),
        change="add_amount",
        product="add_product",
    )
