"""Card Import, resolution: rows matched with their customers and the stored cards, then
checked against the store (another series, another holder, another card's external
id) and the holders' fraud marks; each row's status.

Every read is one set-based statement, whatever the number of rows.
"""

from __future__ import annotations

import polars as pl
from sqlalchemy.engine import Connection

from patron.cards import bulk_repository
from patron.imports.codes import RowCode
from patron.imports.context import ImportContext
from patron.imports.customers import customer_states, find_customers, reject_fraud
from patron.imports.rowcheck import add_errors, has_errors


def resolve(
    conn: Connection, ctx: ImportContext, rows: pl.DataFrame, *, linking: bool
) -> pl.DataFrame:
    """The validated rows with their customer, stored card, holder and status; with
    ``linking``, a row's customer is found by the template's ``unique_identifier``."""
    if linking:
        rows = find_customers(conn, rows, ctx, ctx.options["unique_identifier"])
    else:
        rows = rows.with_columns(customer_id=pl.lit(None, dtype=pl.Int64))
    rows = _against_the_store(conn, ctx, rows.rename({"customer_id": "row_customer_id"}))
    # The holder after the row: the customer it names, else whoever holds the card now.
    # A holder marked as fraud cannot be changed, so neither can their cards.
    rows = rows.with_columns(customer_id=pl.coalesce("row_customer_id", "holder_id"))
    rows = reject_fraud(rows, customer_states(conn, ctx, rows["customer_id"]))
    return _decide(rows, ctx)


def _against_the_store(conn: Connection, ctx: ImportContext, rows: pl.DataFrame) -> pl.DataFrame:
    """The stored card (and holder) of each number; a card of another series or of another
    customer, or an external id of another card, rejects the row."""
    stored = bulk_repository.card_states(conn, ctx.org_id, rows["card_number"].drop_nulls())
    codes = bulk_repository.series_frame(conn, ctx.org_id).select(
        card_series_id="series_id", card_series_code="code"
    )
    rows = rows.join(
        stored.rename({"card_external_id": "card_external_id_stored"}).join(
            codes, on="card_series_id", how="left"
        ),
        left_on="card_number",
        right_on="number",
        how="left",
        maintain_order="left",
    )
    other_series = rows.filter(
        pl.col("card_id").is_not_null()
        & pl.col("series_id").is_not_null()
        & (pl.col("card_series_id") != pl.col("series_id"))
    ).select(
        "row",
        message=pl.format(
            "card {} belongs to series {}, not {}", "card_number", "card_series_code", "series_name"
        ),
    )
    rows = add_errors(rows, other_series, RowCode.CARD_IN_OTHER_SERIES)
    taken = rows.filter(
        pl.col("holder_id").is_not_null()
        & pl.col("row_customer_id").is_not_null()
        & (pl.col("holder_id") != pl.col("row_customer_id"))
    ).select(
        "row",
        message=pl.format(
            "card number {} is already issued to another customer (id {})",
            "card_number",
            "holder_id",
        ),
    )
    rows = add_errors(rows, taken, RowCode.CARD_OF_OTHER_CUSTOMER)
    named = bulk_repository.cards_by_external_id(
        conn, ctx.org_id, rows["card_external_id"].drop_nulls()
    )
    others = (
        rows.join(named, on="card_external_id")
        .filter(pl.col("owner_number") != pl.col("card_number"))
        .select(
            "row",
            message=pl.format(
                "card external id {} already names card {}", "card_external_id", "owner_number"
            ),
        )
    )
    return add_errors(rows, others, RowCode.CARD_EXTERNAL_ID_OF_OTHER_CARD)


def _decide(rows: pl.DataFrame, ctx: ImportContext) -> pl.DataFrame:
    """Each row's status and, for a card that changes hands, its issue dates."""
    newly_held = pl.col("customer_id").is_not_null() & pl.col("card_customer_id").ne_missing(
        pl.col("customer_id")
    )
    issued = pl.lit(ctx.now, dtype=pl.Datetime("us", "UTC"))
    rows = rows.with_columns(
        new_issued_at=pl.when(newly_held).then(issued),
        new_expires_at=pl.when(newly_held & (pl.col("expiry_days") > 0)).then(
            issued + pl.duration(days=pl.col("expiry_days"))
        ),
        new_identifier=pl.col("customer_id").is_not_null() & pl.col("holder_id").is_null(),
    )
    differs = (
        pl.col("label").ne_missing(pl.col("card_status_label"))
        | pl.col("store_unit_id").ne_missing(pl.col("card_unit_id"))
        | (
            pl.col("card_external_id").is_not_null()
            & pl.col("card_external_id").ne_missing(pl.col("card_external_id_stored"))
        )
        | pl.col("customer_id").ne_missing(pl.col("card_customer_id"))
    )
    return rows.with_columns(
        status=pl.when(has_errors())
        .then(pl.lit("reject"))
        .when(pl.col("card_id").is_null())
        .then(pl.lit("insert"))
        .when(differs)
        .then(pl.lit("update"))
        .otherwise(pl.lit("skip"))
    )
