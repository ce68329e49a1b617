"""SQL of the coupons domain: series, coupons, redemptions and transactions.

The single-record functions serve the API and the CLI; the ``*_frame`` functions
and the ones taking frames serve the Coupon Redemption import, one statement per
kind of read or change whatever the number of rows (keys are staged in a
temporary table first). Every query is limited to one org.

Datetimes are handed over in UTC; frames carry them as naive ``Datetime("us")``
values meaning UTC (SQLite stores them naive, PostgreSQL converts them).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from patron.coupons.tables import coupon_redemptions, coupon_series, coupons, transactions
from patron.customer.tables import customers
from patron.kit.bulk import create_temp_table, fetch_frame, insert_frame
from patron.kit.db import insert_returning_id
from patron.orgs.tables import org_units

STAMP = pl.Datetime("us")
#: Redemptions are stored with two decimals; frames compare amounts rounded alike.
AMOUNT = sa.Float()


# --- series ---------------------------------------------------------------------------


def insert_series(conn: Connection, values: dict[str, Any]) -> int:
    return insert_returning_id(conn, coupon_series, values)


def _series_columns() -> list[Any]:
    issued = (
        sa.select(sa.func.count())
        .where(
            coupons.c.org_id == coupon_series.c.org_id, coupons.c.series_id == coupon_series.c.id
        )
        .scalar_subquery()
    )
    redeemed = (
        sa.select(sa.func.count())
        .select_from(
            coupon_redemptions.join(coupons, coupons.c.id == coupon_redemptions.c.coupon_id)
        )
        .where(
            coupon_redemptions.c.org_id == coupon_series.c.org_id,
            coupons.c.series_id == coupon_series.c.id,
        )
        .scalar_subquery()
    )
    return [
        *_with_float_amounts(coupon_series, "discount_value", "discount_upto"),
        issued.label("num_issued"),
        redeemed.label("num_redeemed"),
    ]


def _with_float_amounts(table: sa.Table, *names: str) -> list[Any]:
    """The table's columns, the ``Numeric`` ones read as floats (labelled as themselves)."""
    return [sa.cast(c, AMOUNT).label(c.name) if c.name in names else c for c in table.c]


def get_series(conn: Connection, org_id: int, number: int) -> RowMapping | None:
    """A series by the org's own series number, with its issued and redeemed counts."""
    query = sa.select(*_series_columns()).where(
        coupon_series.c.org_id == org_id, coupon_series.c.number == number
    )
    return conn.execute(query).mappings().first()


def list_series(
    conn: Connection, org_id: int, limit: int, offset: int
) -> tuple[list[RowMapping], int]:
    where = coupon_series.c.org_id == org_id
    total = conn.execute(sa.select(sa.func.count()).where(where)).scalar_one()
    query = (
        sa.select(*_series_columns())
        .where(where)
        .order_by(coupon_series.c.number)
        .limit(limit)
        .offset(offset)
    )
    return list(conn.execute(query).mappings()), int(total)


# --- coupons ----------------------------------------------------------------------------


def existing_codes(
    conn: Connection, org_id: int, series_id: int, codes: Sequence[str]
) -> list[str]:
    """Which of ``codes`` the series already has."""
    create_temp_table(conn, "coupon_codes", {"code": "VARCHAR(64)"})
    insert_frame(
        conn, "coupon_codes", pl.DataFrame({"code": list(codes)}, schema={"code": pl.String})
    )
    staged = sa.table("coupon_codes", sa.column("code"))
    query = sa.select(coupons.c.code).where(
        coupons.c.org_id == org_id,
        coupons.c.series_id == series_id,
        coupons.c.code.in_(sa.select(staged.c.code)),
    )
    return sorted(str(code) for code in conn.execute(query).scalars())


def insert_coupons(conn: Connection, frame: pl.DataFrame) -> None:
    insert_frame(conn, coupons, frame)


def coupons_with_codes(
    conn: Connection, org_id: int, series_id: int, codes: Sequence[str]
) -> list[RowMapping]:
    """The series' coupons of ``codes``, in the order of ``codes``."""
    create_temp_table(conn, "coupon_codes", {"code": "VARCHAR(64)"})
    insert_frame(
        conn, "coupon_codes", pl.DataFrame({"code": list(codes)}, schema={"code": pl.String})
    )
    staged = sa.table("coupon_codes", sa.column("code"))
    view = coupon_view(org_id)
    query = sa.select(view).where(
        view.c.series_key == series_id, view.c.code.in_(sa.select(staged.c.code))
    )
    found = {row["code"]: row for row in conn.execute(query).mappings()}
    return [found[code] for code in codes if code in found]


#: The ``status`` filters of the customer coupon reads (see ``patron.coupons.service``).
STATUSES = (
    "ACTIVE",
    "UNEXPIRED",
    "REDEEMED",
    "UNREDEEMED",
    "ACTIVE_REDEEMED",
    "ACTIVE_UNREDEEMED",
    "EXPIRED_REDEEMED",
    "EXPIRED_UNREDEEMED",
)


def coupons_page(
    conn: Connection,
    org_id: int,
    *,
    customer_ids: Sequence[int] | None = None,
    series_id: int | None = None,
    status: str | None = None,
    now: datetime,
    limit: int,
    offset: int,
) -> tuple[list[RowMapping], int]:
    """A page of the org's coupons, newest first: those issued to or redeemed by
    ``customer_ids``, of one series, in one of :data:`STATUSES` at ``now``."""
    view = coupon_view(org_id)
    conditions: list[Any] = []
    if customer_ids is not None:
        conditions.append(
            sa.or_(
                view.c.customer_id.in_(list(customer_ids)),
                view.c.id.in_(redeemed_by(org_id, customer_ids)),
            )
        )
    if series_id is not None:
        conditions.append(view.c.series_key == series_id)
    if status is not None:
        conditions.append(_status_condition(view, status, now))
    total = conn.execute(
        sa.select(sa.func.count()).select_from(view).where(*conditions)
    ).scalar_one()
    query = (
        sa.select(view)
        .where(*conditions)
        .order_by(view.c.created_at.desc(), view.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(conn.execute(query).mappings()), int(total)


def _status_condition(view: sa.Subquery, status: str, now: datetime) -> Any:
    started = sa.or_(view.c.valid_from.is_(None), view.c.valid_from <= now)
    ended = sa.and_(view.c.valid_till.is_not(None), view.c.valid_till < now)
    redeemed = view.c.redemption_count > 0
    active = sa.and_(started, sa.not_(ended))
    return {
        "ACTIVE": active,
        "UNEXPIRED": sa.not_(ended),
        "REDEEMED": redeemed,
        "UNREDEEMED": sa.not_(redeemed),
        "ACTIVE_REDEEMED": sa.and_(active, redeemed),
        "ACTIVE_UNREDEEMED": sa.and_(active, sa.not_(redeemed)),
        "EXPIRED_REDEEMED": sa.and_(ended, redeemed),
        "EXPIRED_UNREDEEMED": sa.and_(ended, sa.not_(redeemed)),
    }[status]


def coupon_view(org_id: int) -> sa.Subquery:
    """Coupons of the org with their series and issuing store; ``valid_till`` is the
    coupon's own expiry, else its series' end."""
    issuer = org_units.alias("issuer")
    query = (
        sa.select(
            coupons.c.id,
            coupons.c.code,
            coupons.c.customer_id,
            coupons.c.status,
            coupons.c.redemption_count,
            coupons.c.issued_at,
            coupons.c.transaction_number,
            coupons.c.created_at,
            sa.func.coalesce(coupons.c.expires_at, coupon_series.c.valid_until).label("valid_till"),
            coupon_series.c.id.label("series_key"),
            coupon_series.c.number.label("series_number"),
            coupon_series.c.name.label("series_name"),
            coupon_series.c.description.label("series_description"),
            coupon_series.c.valid_from,
            coupon_series.c.valid_until,
            coupon_series.c.max_redemptions_per_coupon,
            coupon_series.c.max_redemptions_per_customer,
            coupon_series.c.discount_type,
            sa.cast(coupon_series.c.discount_value, AMOUNT).label("discount_value"),
            sa.cast(coupon_series.c.discount_upto, AMOUNT).label("discount_upto"),
            coupon_series.c.created_at.label("series_created_at"),
            issuer.c.id.label("issuer_id"),
            issuer.c.code.label("issuer_code"),
            issuer.c.name.label("issuer_name"),
            issuer.c.kind.label("issuer_kind"),
        )
        .join(coupon_series, coupon_series.c.id == coupons.c.series_id)
        .outerjoin(issuer, issuer.c.id == coupons.c.unit_id)
        .where(coupons.c.org_id == org_id)
    )
    return query.subquery("coupon_view")


def redeemed_by(org_id: int, customer_ids: Sequence[int]) -> sa.Select[Any]:
    """The coupons the customers redeemed (a subquery for ``IN``)."""
    return sa.select(coupon_redemptions.c.coupon_id).where(
        coupon_redemptions.c.org_id == org_id,
        coupon_redemptions.c.customer_id.in_(list(customer_ids)),
    )


def redemptions_of(conn: Connection, org_id: int, coupon_ids: Sequence[int]) -> list[RowMapping]:
    """Redemptions of the coupons, oldest first, with the store they were redeemed at."""
    if not coupon_ids:
        return []
    query = (
        sa.select(
            *_with_float_amounts(coupon_redemptions, "amount"),
            org_units.c.code.label("unit_code"),
            org_units.c.name.label("unit_name"),
        )
        .outerjoin(org_units, org_units.c.id == coupon_redemptions.c.unit_id)
        .where(
            coupon_redemptions.c.org_id == org_id,
            coupon_redemptions.c.coupon_id.in_(list(coupon_ids)),
        )
        .order_by(coupon_redemptions.c.redeemed_at, coupon_redemptions.c.id)
    )
    return list(conn.execute(query).mappings())


def recount(conn: Connection, org_id: int, coupon_ids: pl.Series) -> None:
    """Set the redemption count and status of the coupons from their redemptions."""
    if coupon_ids.is_empty():
        return
    create_temp_table(conn, "coupon_recount", {"coupon_id": "BIGINT"})
    insert_frame(conn, "coupon_recount", pl.DataFrame({"coupon_id": coupon_ids.unique()}))
    staged = sa.table("coupon_recount", sa.column("coupon_id"))
    count = (
        sa.select(sa.func.count())
        .where(
            coupon_redemptions.c.org_id == coupons.c.org_id,
            coupon_redemptions.c.coupon_id == coupons.c.id,
        )
        .scalar_subquery()
    )
    limit = (
        sa.select(coupon_series.c.max_redemptions_per_coupon)
        .where(coupon_series.c.id == coupons.c.series_id)
        .scalar_subquery()
    )
    conn.execute(
        coupons.update()
        .where(coupons.c.org_id == org_id, coupons.c.id.in_(sa.select(staged.c.coupon_id)))
        .values(
            redemption_count=count,
            status=sa.case(
                (sa.and_(limit.is_not(None), count >= limit), "REDEEMED"), else_="ISSUED"
            ),
            updated_at=sa.func.now(),
        )
    )


# --- transactions -------------------------------------------------------------------------


def insert_transaction(conn: Connection, values: dict[str, Any]) -> int:
    return insert_returning_id(conn, transactions, values)


def get_transaction(conn: Connection, org_id: int, transaction_id: int) -> RowMapping | None:
    query = _transaction_query(org_id).where(transactions.c.id == transaction_id)
    return conn.execute(query).mappings().first()


def list_transactions(
    conn: Connection,
    org_id: int,
    *,
    number: str | None,
    customer_ids: Sequence[int] | None,
    limit: int,
    offset: int,
) -> tuple[list[RowMapping], int]:
    conditions = [transactions.c.org_id == org_id]
    if number is not None:
        conditions.append(transactions.c.number == number)
    if customer_ids is not None:
        conditions.append(transactions.c.customer_id.in_(list(customer_ids)))
    total = conn.execute(sa.select(sa.func.count()).where(*conditions)).scalar_one()
    query = (
        _transaction_query(org_id)
        .where(*conditions)
        .order_by(transactions.c.occurred_at.desc(), transactions.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(conn.execute(query).mappings()), int(total)


def _transaction_query(org_id: int) -> sa.Select[Any]:
    return sa.select(
        *_with_float_amounts(transactions, "amount"),
        org_units.c.code.label("unit_code"),
        org_units.c.name.label("unit_name"),
    ).outerjoin(
        org_units, sa.and_(org_units.c.id == transactions.c.unit_id, org_units.c.org_id == org_id)
    )


# --- the import: set-based reads and writes ------------------------------------------------


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


def as_utc(value: datetime | None) -> datetime | None:
    """A stored datetime as aware UTC (SQLite hands back naive UTC values)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
