"""V2 Profile Identifier Add/Update, matching: what each row does, from what the store holds."""

from __future__ import annotations

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from patron.customer.tables import identifiers, profiles
from patron.imports.codes import RowCode
from patron.imports.context import ImportContext
from patron.imports.customers import customer_states, identifier_holders, reject_fraud
from patron.imports.duplicates import across_file
from patron.imports.profiles.v2_profile_identifiers.spec import (
    SINGLE_VALUED,
)
from patron.imports.rowcheck import add_errors, has_errors
from patron.kit.bulk import create_temp_table, fetch_frame, insert_frame


def decide(conn: Connection, ctx: ImportContext, rows: pl.DataFrame) -> pl.DataFrame:
    """Each row's action (skip, add, replace, merge) and status, from what the store holds."""
    valid = rows.filter(~has_errors())
    owners = _owners(conn, ctx, valid)
    rows = rows.join(owners, on="row", how="left", maintain_order="left")
    involved = pl.concat([rows["customer_id"], rows["owner_id"]]).drop_nulls().unique()
    held = profiles_of(conn, ctx, involved)
    rows = rows.join(
        held.select("customer_id", "source", "account_id", profile_id="profile_id"),
        on=["customer_id", "source", "account_id"],
        how="left",
        maintain_order="left",
    )
    states = customer_states(conn, ctx, involved)
    rows = reject_fraud(rows, states)
    rows = rows.join(
        states.select(owner_id="customer_id", _owner_fraud="fraud_status"),
        on="owner_id",
        how="left",
        maintain_order="left",
    )
    other = pl.col("owner_id").is_not_null() & (pl.col("owner_id") != pl.col("customer_id"))
    rows = _merge_checks(rows, held, other)
    rows = _existing(conn, ctx, rows)
    allow = bool(ctx.options["allow_updating_existing_identifier"])
    clash = ~other & pl.col("owner_id").is_null() & (pl.col("_existing_ids").list.len() > 0)
    rows = add_errors(
        rows,
        rows.filter(clash & pl.lit(not allow)).select(
            "row",
            message=pl.format(
                "the customer (id {}) already has {} {}: set "
                "allow_updating_existing_identifier to replace it",
                "customer_id",
                "identifier_type",
                pl.col("_existing_values").list.join(", "),
            ),
        ),
        RowCode.V2_EXISTING_IDENTIFIER,
    )
    rejected = has_errors()
    action = (
        pl.when(rejected)
        .then(pl.lit(None, pl.String))
        .when(pl.col("owner_id") == pl.col("customer_id"))
        .then(pl.lit("skip"))
        .when(other)
        .then(pl.lit("merge"))
        .when(clash)
        .then(pl.lit("replace"))
        .otherwise(pl.lit("add"))
    )
    rows = rows.with_columns(action=action)
    return rows.with_columns(
        status=pl.when(rejected)
        .then(pl.lit("reject"))
        .when(pl.col("action") == "skip")
        .then(pl.lit("skip"))
        .otherwise(pl.lit("update"))
    ).drop("_owner_fraud")


def _owners(conn: Connection, ctx: ImportContext, valid: pl.DataFrame) -> pl.DataFrame:
    """(row, owner_id, owner_source, owner_account) of the rows whose identifier is held."""
    wanted = valid.select(type="identifier_type", value="identifier_value")
    found = identifier_holders(conn, ctx.org_id, wanted).rename(
        {"type": "identifier_type", "value": "identifier_value", "customer_id": "owner_id"}
    )
    return (
        valid.select("row", "identifier_type", "identifier_value")
        .join(found, on=["identifier_type", "identifier_value"])
        .select("row", "owner_id")
    )


def profiles_of(conn: Connection, ctx: ImportContext, ids: pl.Series) -> pl.DataFrame:
    """(customer_id, source, account_id, profile_id) of every profile of the customers ``ids``."""
    create_temp_table(conn, "import_customer_ids", {"id": "BIGINT"})
    insert_frame(conn, "import_customer_ids", pl.DataFrame({"id": ids}, schema={"id": pl.Int64}))
    staged = sa.select(sa.table("import_customer_ids", sa.column("id")).c.id)
    return fetch_frame(
        conn,
        sa.select(
            profiles.c.customer_id, profiles.c.source, profiles.c.account_id, profiles.c.id
        ).where(profiles.c.org_id == ctx.org_id, profiles.c.customer_id.in_(staged)),
        {
            "customer_id": pl.Int64,
            "source": pl.String,
            "account_id": pl.String,
            "profile_id": pl.Int64,
        },
    )


def _merge_checks(rows: pl.DataFrame, held: pl.DataFrame, other: pl.Expr) -> pl.DataFrame:
    """Held by another customer: conflicts (8007, 8066, fraud) and merges crossing in the file."""
    keys = ["source", "account_id"]
    theirs = held.select(owner_id="customer_id", source="source", account_id="account_id")
    same_source = rows.filter(other).join(theirs, on=["owner_id", *keys], how="semi").select(
        "row",
        message=pl.format(
            "{} {} is held by customer {} on the same source", "identifier_type",
            "identifier_value", "owner_id",
        ),
    )  # fmt: skip
    rows = add_errors(rows, same_source, RowCode.V2_HELD_ON_SAME_SOURCE)
    mine = held.select("customer_id", *keys)
    shared = (
        rows.filter(other)
        .select("row", "customer_id", "owner_id")
        .join(mine, on="customer_id")
        .join(theirs, on=["owner_id", *keys])
        .unique("row")
        .select(
            "row",
            message=pl.format(
                "customer {} and customer {} both have a profile on {}: they cannot be merged",
                "customer_id",
                "owner_id",
                "source",
            ),
        )
    )
    rows = add_errors(rows, shared, RowCode.V2_SHARED_SOURCE)
    fraud = rows.filter(
        other & pl.col("_owner_fraud").is_in(["MARKED", "CONFIRMED", "RECONFIRMED"])
    )
    rows = add_errors(
        rows,
        fraud.select(
            "row", message=pl.format("the holder (customer {}) is marked as fraud", "owner_id")
        ),
        RowCode.CUSTOMER_FRAUD,
    )
    # A customer merged by one row cannot be touched by another row of the same file: the
    # customers each row touches (its own, and the holder it merges into), over the whole
    # file (a file in chunks decides it over every chunk, chunks.py).
    merging = other & ~has_errors()
    records = pl.concat(
        [
            rows.select(
                "row", customer=pl.col("customer_id"), holder=pl.lit(False), merging=merging
            ),
            rows.filter(other).select(
                "row", customer=pl.col("owner_id"), holder=pl.lit(True), merging=merging
            ),
        ]
    ).filter(pl.col("customer").is_not_null())
    crossing = (
        across_file(records, ["customer"], _crossing)
        # A row touching two such customers names its own first.
        .sort("row", "holder", "customer")
        .unique("row", keep="first", maintain_order=True)
        .select("row", "message")
    )
    return add_errors(rows, crossing, RowCode.V2_MERGE_CROSSES_ROWS)


def _crossing(records: pl.DataFrame) -> pl.DataFrame:
    """(row, holder, customer, message) of the records of customers a merging row touches,
    when more than one row touches them."""
    touched = records.filter(pl.col("merging")).select("customer").unique()
    return (
        records.join(touched, on="customer", how="semi")
        .with_columns(rows_touching=pl.col("row").n_unique().over("customer"))
        .filter(pl.col("rows_touching") > 1)
        .select(
            "row",
            "holder",
            "customer",
            message=pl.format(
                "customer {} is merged by this file; import its other rows separately", "customer"
            ),
        )
    )


def _existing(conn: Connection, ctx: ImportContext, rows: pl.DataFrame) -> pl.DataFrame:
    """The identifiers of the row's type the target already has (ids and values)."""
    ids = rows["customer_id"].drop_nulls().unique()
    create_temp_table(conn, "import_customer_ids", {"id": "BIGINT"})
    insert_frame(conn, "import_customer_ids", pl.DataFrame({"id": ids}, schema={"id": pl.Int64}))
    staged = sa.select(sa.table("import_customer_ids", sa.column("id")).c.id)
    stored = fetch_frame(
        conn,
        sa.select(
            identifiers.c.id,
            identifiers.c.customer_id,
            identifiers.c.profile_id,
            identifiers.c.type,
            identifiers.c.value,
        ).where(identifiers.c.org_id == ctx.org_id, identifiers.c.customer_id.in_(staged)),
        {
            "id": pl.Int64,
            "customer_id": pl.Int64,
            "_profile": pl.Int64,
            "identifier_type": pl.String,
            "_value": pl.String,
        },
    )
    single = pl.col("identifier_type").is_in(SINGLE_VALUED)
    matches = (
        rows.select("row", "customer_id", "profile_id", "identifier_type")
        .join(stored, on=["customer_id", "identifier_type"])
        .filter(single | (pl.col("_profile") == pl.col("profile_id")))
        .group_by("row")
        .agg(_existing_ids=pl.col("id"), _existing_values=pl.col("_value").sort())
    )
    rows = rows.join(matches, on="row", how="left", maintain_order="left")
    return rows.with_columns(
        _existing_ids=pl.col("_existing_ids").fill_null(pl.lit([], pl.List(pl.Int64))),
        _existing_values=pl.col("_existing_values").fill_null(pl.lit([], pl.List(pl.String))),
    )
