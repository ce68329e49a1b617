"""Set-based SQL of the Coupon Redemption import: one statement per kind of read or
change, whatever the number of rows (keys are staged in a temporary table first).

Every query is limited to one org. Frames carry datetimes as naive
``Datetime("us")`` values meaning UTC (SQLite stores them naive, PostgreSQL
converts them to UTC as they are read).
"""

from __future__ import annotations

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from patron.coupons.tables import coupon_redemptions, coupon_series, coupons, transactions
from patron.customer.tables import customers
from patron.kit.bulk import create_temp_table, fetch_frame, insert_frame

STAMP = pl.Datetime("us")
#: Amounts are read as floats (Numeric(18, 2) stored); compared rounded to two decimals.
AMOUNT = sa.Float()


def series_frame(conn: Connection, org_id: int, numbers: pl.Series) -> pl.DataFrame:
    """(series_number, series_id, valid_from, valid_until, max_per_coupon, max_per_customer)."""
    create_temp_table(conn, "import_series", {"number": "BIGINT"})
    insert_frame(conn, "import_series", pl.DataFrame({"number": numbers.drop_nulls().unique()}))
    staged = sa.table("import_series", sa.column("number"))
    query = sa.select(
        coupon_series.c.number,
        coupon_series.c.id,
        coupon_series.c.valid_from,
        coupon_series.c.valid_until,
        coupon_series.c.max_redemptions_per_coupon,
        coupon_series.c.max_redemptions_per_customer,
    ).where(
        coupon_series.c.org_id == org_id, coupon_series.c.number.in_(sa.select(staged.c.number))
    )
    return fetch_frame(
        conn,
        query,
        {
            "series_number": pl.Int64,
            "series_id": pl.Int64,
            "valid_from": STAMP,
            "valid_until": STAMP,
            "max_per_coupon": pl.Int64,
            "max_per_customer": pl.Int64,
        },
    )


def coupons_frame(conn: Connection, org_id: int, keys: pl.DataFrame) -> pl.DataFrame:
    """The coupons named by ``keys`` (series_id, code): id, owner (a merged owner's
    survivor), redemption count and expiry."""
    create_temp_table(conn, "import_coupons", {"series_id": "BIGINT", "code": "VARCHAR(255)"})
    insert_frame(conn, "import_coupons", keys.select("series_id", "code").unique())
    staged = sa.table("import_coupons", sa.column("series_id"), sa.column("code"))
    owner = customers.alias("owner")
    query = (
        sa.select(
            coupons.c.series_id,
            coupons.c.code,
            coupons.c.id,
            sa.func.coalesce(owner.c.merged_into_id, owner.c.id),
            coupons.c.redemption_count,
            coupons.c.expires_at,
        )
        .join(
            staged,
            sa.and_(staged.c.series_id == coupons.c.series_id, staged.c.code == coupons.c.code),
        )
        # The owner is reached through a coupon of the org: its primary key is enough.
        .outerjoin(owner, owner.c.id == coupons.c.customer_id)
        .where(coupons.c.org_id == org_id)
    )
    return fetch_frame(
        conn,
        query,
        {
            "series_id": pl.Int64,
            "code": pl.String,
            "coupon_id": pl.Int64,
            "owner_id": pl.Int64,
            "redemption_count": pl.Int64,
            "expires_at": STAMP,
        },
    )


def redemptions_frame(conn: Connection, org_id: int, keys: pl.DataFrame) -> pl.DataFrame:
    """Stored redemptions of ``keys`` (coupon_id, transaction_number)."""
    create_temp_table(
        conn, "import_redemptions", {"coupon_id": "BIGINT", "transaction_number": "VARCHAR(255)"}
    )
    insert_frame(
        conn, "import_redemptions", keys.select("coupon_id", "transaction_number").unique()
    )
    staged = sa.table("import_redemptions", sa.column("coupon_id"), sa.column("transaction_number"))
    r = coupon_redemptions
    query = (
        sa.select(
            r.c.coupon_id,
            r.c.transaction_number,
            r.c.id,
            r.c.customer_id,
            r.c.unit_id,
            r.c.redeemed_at,
            sa.cast(r.c.amount, AMOUNT),
        )
        .join(
            staged,
            sa.and_(
                staged.c.coupon_id == r.c.coupon_id,
                staged.c.transaction_number == r.c.transaction_number,
            ),
        )
        .where(r.c.org_id == org_id)
        .order_by(r.c.id)
    )
    return fetch_frame(
        conn,
        query,
        {
            "coupon_id": pl.Int64,
            "transaction_number": pl.String,
            "redemption_id": pl.Int64,
            "redeemed_by": pl.Int64,
            "before_unit_id": pl.Int64,
            "before_redeemed_at": STAMP,
            "before_amount": pl.Float64,
        },
    ).unique(["coupon_id", "transaction_number"], keep="first", maintain_order=True)


def customer_counts_frame(conn: Connection, org_id: int, keys: pl.DataFrame) -> pl.DataFrame:
    """How often each (series_id, customer_id) of ``keys`` has redeemed a coupon of the series."""
    create_temp_table(
        conn, "import_customer_series", {"series_id": "BIGINT", "customer_id": "BIGINT"}
    )
    insert_frame(conn, "import_customer_series", keys.select("series_id", "customer_id").unique())
    staged = sa.table("import_customer_series", sa.column("series_id"), sa.column("customer_id"))
    r = coupon_redemptions
    query = (
        sa.select(coupons.c.series_id, r.c.customer_id, sa.func.count())
        .select_from(r.join(coupons, coupons.c.id == r.c.coupon_id))
        .join(
            staged,
            sa.and_(
                staged.c.series_id == coupons.c.series_id, staged.c.customer_id == r.c.customer_id
            ),
        )
        .where(r.c.org_id == org_id)
        .group_by(coupons.c.series_id, r.c.customer_id)
    )
    return fetch_frame(
        conn, query, {"series_id": pl.Int64, "customer_id": pl.Int64, "customer_count": pl.Int64}
    )


def known_transactions(conn: Connection, org_id: int, numbers: pl.Series) -> pl.Series:
    """Which of ``numbers`` are recorded transactions of the org."""
    create_temp_table(conn, "import_bills", {"number": "VARCHAR(255)"})
    insert_frame(conn, "import_bills", pl.DataFrame({"number": numbers.drop_nulls().unique()}))
    staged = sa.table("import_bills", sa.column("number"))
    query = (
        sa.select(transactions.c.number)
        .where(
            transactions.c.org_id == org_id, transactions.c.number.in_(sa.select(staged.c.number))
        )
        .distinct()
    )
    return fetch_frame(conn, query, {"number": pl.String})["number"]


def insert_redemptions(conn: Connection, frame: pl.DataFrame) -> None:
    insert_frame(conn, coupon_redemptions, frame)


def set_redemptions(conn: Connection, org_id: int, frame: pl.DataFrame) -> None:
    """Set (unit_id, redeemed_at, amount) of the redemptions ``frame`` names by ``id``."""
    if frame.is_empty():
        return
    create_temp_table(
        conn,
        "import_redemption_values",
        {
            "id": "BIGINT",
            "unit_id": "BIGINT",
            "redeemed_at": "TIMESTAMP WITH TIME ZONE",
            "amount": "NUMERIC(18, 2)",
        },
    )
    insert_frame(
        conn, "import_redemption_values", frame.select("id", "unit_id", "redeemed_at", "amount")
    )
    staged = sa.table(
        "import_redemption_values",
        sa.column("id"),
        sa.column("unit_id"),
        sa.column("redeemed_at", sa.DateTime(timezone=True)),
        sa.column("amount"),
    )
    r = coupon_redemptions
    conn.execute(
        r.update()
        .where(r.c.org_id == org_id, r.c.id == staged.c.id)
        .values(unit_id=staged.c.unit_id, redeemed_at=staged.c.redeemed_at, amount=staged.c.amount)
    )


def redemption_values(conn: Connection, org_id: int, ids: pl.Series) -> pl.DataFrame:
    """(id, now_unit_id, now_redeemed_at, now_amount) of the redemptions that still exist."""
    create_temp_table(conn, "import_redemption_ids", {"id": "BIGINT"})
    insert_frame(conn, "import_redemption_ids", pl.DataFrame({"id": ids.unique()}))
    staged = sa.table("import_redemption_ids", sa.column("id"))
    r = coupon_redemptions
    query = sa.select(r.c.id, r.c.unit_id, r.c.redeemed_at, sa.cast(r.c.amount, AMOUNT)).where(
        r.c.org_id == org_id, r.c.id.in_(sa.select(staged.c.id))
    )
    return fetch_frame(
        conn,
        query,
        {
            "id": pl.Int64,
            "now_unit_id": pl.Int64,
            "now_redeemed_at": STAMP,
            "now_amount": pl.Float64,
        },
    )


def delete_redemptions(conn: Connection, org_id: int, ids: pl.Series) -> None:
    if ids.is_empty():
        return
    create_temp_table(conn, "import_redemption_ids", {"id": "BIGINT"})
    insert_frame(conn, "import_redemption_ids", pl.DataFrame({"id": ids.unique()}))
    staged = sa.table("import_redemption_ids", sa.column("id"))
    r = coupon_redemptions
    conn.execute(r.delete().where(r.c.org_id == org_id, r.c.id.in_(sa.select(staged.c.id))))


def add_to_counts(conn: Connection, org_id: int, coupon_ids: pl.Series, delta: int) -> None:
    """Add ``delta`` to the redemption count of each coupon, once per time it is named, and
    set its status to match its series' limit: one statement.

    The counts move by what the import writes rather than being counted again
    from ``coupon_redemptions``: that table has just changed in this transaction,
    and PostgreSQL's statistics of it do not know yet (a recount would be planned
    for an empty table).
    """
    if coupon_ids.is_empty():
        return
    deltas = (
        coupon_ids.alias("coupon_id")
        .to_frame()
        .group_by("coupon_id")
        .agg(delta=pl.len().cast(pl.Int64) * delta)
    )
    create_temp_table(conn, "coupon_counts", {"coupon_id": "BIGINT", "delta": "BIGINT"})
    insert_frame(conn, "coupon_counts", deltas)
    staged = sa.table("coupon_counts", sa.column("coupon_id"), sa.column("delta"))
    count = coupons.c.redemption_count + staged.c.delta
    limit = coupon_series.c.max_redemptions_per_coupon
    conn.execute(
        coupons.update()
        .where(
            coupons.c.org_id == org_id,
            coupons.c.id == staged.c.coupon_id,
            coupon_series.c.id == coupons.c.series_id,
        )
        .values(
            redemption_count=count,
            status=sa.case(
                (sa.and_(limit.is_not(None), count >= limit), "REDEEMED"), else_="ISSUED"
            ),
            updated_at=sa.func.now(),
        )
    )
