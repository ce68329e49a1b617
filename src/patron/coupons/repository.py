"""SQL of the coupons domain: series, coupons, redemptions and transactions.

These serve the API and the CLI; the set-based reads and writes of the Coupon
Redemption import are in :mod:`patron.coupons.bulk_repository`. Every query is
limited to one org. Datetimes are handed over in UTC.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from patron.coupons.tables import coupon_redemptions, coupon_series, coupons, transactions
from patron.kit.bulk import create_temp_table, insert_frame
from patron.kit.db import insert_returning_id
from patron.orgs.tables import org_units

#: Amounts (Numeric(18, 2)) are read as floats: SQLite has no decimal type.
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
        .join(
            coupon_series,
            sa.and_(coupon_series.c.id == coupons.c.series_id, coupon_series.c.org_id == org_id),
        )
        .outerjoin(issuer, sa.and_(issuer.c.id == coupons.c.unit_id, issuer.c.org_id == org_id))
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
        .outerjoin(
            org_units,
            sa.and_(org_units.c.id == coupon_redemptions.c.unit_id, org_units.c.org_id == org_id),
        )
        .where(
            coupon_redemptions.c.org_id == org_id,
            coupon_redemptions.c.coupon_id.in_(list(coupon_ids)),
        )
        .order_by(coupon_redemptions.c.redeemed_at, coupon_redemptions.c.id)
    )
    return list(conn.execute(query).mappings())


# --- transactions -------------------------------------------------------------------------


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


def as_utc(value: datetime | None) -> datetime | None:
    """A stored datetime as aware UTC (SQLite hands back naive UTC values)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
