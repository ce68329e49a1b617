"""Coupon Redemption, resolution: rows matched with customers, coupons and stored
redemptions, then checked against the series' range and limits; each row's status.

Every read is one statement over staged keys, whatever the number of rows.
"""

from __future__ import annotations

import polars as pl
from sqlalchemy.engine import Connection

from patron.coupons import bulk_repository
from patron.imports.codes import RowCode
from patron.imports.context import ImportContext
from patron.imports.customers import customer_states, find_customers, reject_fraud
from patron.imports.duplicates import across_file, reject_duplicates
from patron.imports.profiles.coupon_redemption.spec import update_fields
from patron.imports.profiles.coupon_redemption.validate import shown
from patron.imports.rowcheck import add_errors, has_errors

#: The values of a redemption an import writes (and undo compares).
VALUES = ("unit_id", "redeemed_at", "amount")


def resolve(conn: Connection, ctx: ImportContext, rows: pl.DataFrame) -> pl.DataFrame:
    """The validated rows with their customer, coupon, stored redemption and status."""
    rows = rows.with_columns(
        coupon_key=pl.when(pl.col("series_id").is_not_null())
        .then(pl.format("{} {}", "series_number", "coupon_code"))
        .cast(pl.String)
    )
    rows = reject_duplicates(rows, ctx, "coupon_key", RowCode.DUPLICATE_COUPON_IN_FILE, "coupon")
    rows = find_customers(conn, rows, ctx, ctx.options["unique_identifier"])
    rows = reject_fraud(rows, customer_states(conn, ctx, rows["customer_id"]))
    rows = _match_coupons(conn, rows, ctx)
    rows = _match_redemptions(conn, rows, ctx)
    if not ctx.options["skip_redemption_range_check"]:
        rows = _check_range(rows)
    if ctx.options["validate_transaction_number"]:
        rows = _check_transactions(conn, rows, ctx)
    return _decide(conn, rows, ctx).drop("coupon_key")


def _match_coupons(conn: Connection, rows: pl.DataFrame, ctx: ImportContext) -> pl.DataFrame:
    """``coupon_id``, ``owner_id``, ``redemption_count``, ``expires_at`` of each row's
    coupon; unknown coupons and coupons of other customers are errors."""
    keys = rows.filter(pl.col("series_id").is_not_null() & pl.col("coupon_code").is_not_null())
    found = bulk_repository.coupons_frame(
        conn, ctx.org_id, keys.select("series_id", code="coupon_code")
    ).rename({"code": "coupon_code"})
    rows = rows.join(found, on=["series_id", "coupon_code"], how="left", maintain_order="left")
    unknown = rows.filter(
        pl.col("series_id").is_not_null()
        & pl.col("coupon_code").is_not_null()
        & pl.col("coupon_id").is_null()
    ).select(
        "row",
        message=pl.format("no coupon '{}' in series {}", "coupon_code", "series_number"),
    )
    rows = add_errors(rows, unknown, RowCode.COUPON_UNKNOWN)
    theirs = rows.filter(
        pl.col("owner_id").is_not_null()
        & pl.col("customer_id").is_not_null()
        & (pl.col("owner_id") != pl.col("customer_id"))
    ).select(
        "row",
        message=pl.format(
            "coupon {} of series {} was issued to another customer (id {})",
            "coupon_code",
            "series_number",
            "owner_id",
        ),
    )
    return add_errors(rows, theirs, RowCode.COUPON_OF_OTHER_CUSTOMER)


def _match_redemptions(conn: Connection, rows: pl.DataFrame, ctx: ImportContext) -> pl.DataFrame:
    """The stored redemption of each row's coupon on its transaction number, if any."""
    keys = rows.filter(
        pl.col("coupon_id").is_not_null() & pl.col("transaction_number").is_not_null()
    )
    found = bulk_repository.redemptions_frame(conn, ctx.org_id, keys)
    rows = rows.join(
        found, on=["coupon_id", "transaction_number"], how="left", maintain_order="left"
    )
    theirs = rows.filter(
        pl.col("redeemed_by").is_not_null()
        & pl.col("customer_id").is_not_null()
        & (pl.col("redeemed_by") != pl.col("customer_id"))
    ).select(
        "row",
        message=pl.format(
            "coupon {} of series {} was redeemed on transaction {} by another customer (id {})",
            "coupon_code",
            "series_number",
            "transaction_number",
            "redeemed_by",
        ),
    )
    return add_errors(rows, theirs, RowCode.COUPON_OF_OTHER_CUSTOMER)


def _check_range(rows: pl.DataFrame) -> pl.DataFrame:
    """A redemption date before the series' start or after the coupon's end is an error."""
    at = pl.col("redeemed_at")
    end = pl.min_horizontal("valid_until", "expires_at")
    early = rows.filter(at < pl.col("valid_from")).select(
        "row",
        message=pl.format(
            "redeemed {}, before coupon series {} is valid (from {}); "
            "skip_redemption_range_check accepts it",
            shown(at),
            "series_number",
            shown(pl.col("valid_from")),
        ),
    )
    late = (
        rows.with_columns(_end=end)
        .filter(at > pl.col("_end"))
        .select(
            "row",
            message=pl.format(
                "redeemed {}, after coupon {} of series {} expired ({}); "
                "skip_redemption_range_check accepts it",
                shown(at),
                "coupon_code",
                "series_number",
                shown(pl.col("_end")),
            ),
        )
    )
    rows = add_errors(rows, early, RowCode.REDEMPTION_DATE_OUT_OF_RANGE)
    return add_errors(rows, late, RowCode.REDEMPTION_DATE_OUT_OF_RANGE)


def _check_transactions(conn: Connection, rows: pl.DataFrame, ctx: ImportContext) -> pl.DataFrame:
    known = bulk_repository.known_transactions(conn, ctx.org_id, rows["transaction_number"])
    unknown = rows.filter(
        pl.col("transaction_number").is_not_null()
        & ~pl.col("transaction_number").is_in(known.implode())
    ).select(
        "row",
        message=pl.format(
            "transaction {} is not a recorded transaction of this org", "transaction_number"
        ),
    )
    return add_errors(rows, unknown, RowCode.REDEMPTION_TRANSACTION_UNKNOWN)


def _decide(conn: Connection, rows: pl.DataFrame, ctx: ImportContext) -> pl.DataFrame:
    """Each row's status: skip, update (an existing redemption), insert, or reject — the
    limits of the series are checked on the rows that would insert."""
    ok = ~has_errors()
    existing = pl.col("redemption_id").is_not_null()
    if ctx.options["disable_existing_update"]:
        again = rows.filter(ok & (pl.col("redemption_count") > 0)).select(
            "row",
            message=pl.format(
                "coupon {} of series {} is already redeemed: not redeemed again "
                "(disable_existing_update)",
                "coupon_code",
                "series_number",
            ),
        )
        rows = add_errors(rows, again, RowCode.COUPON_ALREADY_REDEEMED)
    skipped = pl.col("error_codes").list.contains(int(RowCode.COUPON_ALREADY_REDEEMED))
    allowed = update_fields(ctx.options, set(ctx.columns))
    fields = {"unit_id": "store", "redeemed_at": "redeemed_date", "amount": "amount"}
    source = {"unit_id": "store_unit_id", "redeemed_at": "redeemed_at", "amount": "amount"}
    rows = rows.with_columns(
        (
            pl.coalesce(source[name], f"before_{name}")
            if fields[name] in allowed
            else pl.col(f"before_{name}")
        ).alias(f"after_{name}")
        for name in VALUES
    )
    changed = pl.any_horizontal(
        pl.col(f"after_{name}").ne_missing(pl.col(f"before_{name}")) for name in VALUES
    )
    rows = _check_limits(conn, rows, ctx, candidate=ok & ~existing)
    rejected = has_errors()
    return rows.with_columns(
        status=pl.when(skipped)
        .then(pl.lit("skip"))
        .when(rejected)
        .then(pl.lit("reject"))
        .when(existing & changed)
        .then(pl.lit("update"))
        .when(existing)
        .then(pl.lit("skip"))
        .otherwise(pl.lit("insert"))
    )


def _check_limits(
    conn: Connection, rows: pl.DataFrame, ctx: ImportContext, *, candidate: pl.Expr
) -> pl.DataFrame:
    """Redemptions per coupon, then per customer of a series, stored ones and the file's
    rows counted together (the file's in the order they were redeemed)."""
    rows = rows.with_columns(_new=candidate)
    full = rows.filter(
        pl.col("_new")
        & pl.col("max_per_coupon").is_not_null()
        & (pl.col("redemption_count") >= pl.col("max_per_coupon"))
    ).select(
        "row",
        message=pl.format(
            "coupon {} of series {} is redeemed {} time(s) already: the series allows {}",
            "coupon_code",
            "series_number",
            "redemption_count",
            "max_per_coupon",
        ),
    )
    rows = add_errors(rows, full, RowCode.COUPON_LIMIT_REACHED).with_columns(
        _new=pl.col("_new") & ~has_errors()
    )
    limited = rows.filter(pl.col("_new") & pl.col("max_per_customer").is_not_null())
    stored = bulk_repository.customer_counts_frame(conn, ctx.org_id, limited)
    records = limited.join(stored, on=["series_id", "customer_id"], how="left").select(
        "row",
        "series_id",
        "series_number",
        "customer_id",
        "redeemed_at",
        "max_per_customer",
        customer_count=pl.col("customer_count").fill_null(0),
    )
    # A customer's redemptions of a series in date order over the whole file: a file in
    # chunks counts them over every chunk (chunks.py).
    counted = across_file(records, ["series_id", "customer_id"], _over_customer_limit)
    return add_errors(rows, counted, RowCode.COUPON_CUSTOMER_LIMIT_REACHED).drop("_new")


def _over_customer_limit(records: pl.DataFrame) -> pl.DataFrame:
    """(row, message) of the new redemptions past their series' limit per customer, the
    stored ones (``customer_count``) counted first, then the file's in the order they were
    redeemed."""
    return (
        records.sort("redeemed_at", "row")
        .with_columns(
            _nth=pl.col("customer_count")
            + pl.int_range(1, pl.len() + 1).over("series_id", "customer_id")
        )
        .filter(pl.col("_nth") > pl.col("max_per_customer"))
        .select(
            "row",
            message=pl.format(
                "this would be redemption {} of series {} by the customer (id {}): "
                "the series allows {} per customer",
                "_nth",
                "series_number",
                "customer_id",
                "max_per_customer",
            ),
        )
    )
