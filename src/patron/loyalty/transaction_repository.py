"""SQL of bills (the ``transactions`` table), their line items and returns."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from patron.coupons.tables import transactions
from patron.customer.care_repository import family_cte
from patron.kit.db import insert_returning_id
from patron.loyalty.tables import (
    loyalty_programs,
    points_ledger,
    transaction_lines,
    transaction_returns,
)
from patron.orgs.tables import org_units


def insert_bill(conn: Connection, values: dict[str, Any]) -> int:
    return insert_returning_id(conn, transactions, values)


def insert_lines(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        conn.execute(transaction_lines.insert(), list(rows))


def _bill_query(org_id: int) -> sa.Select[Any]:
    return sa.select(
        transactions,
        org_units.c.code.label("unit_code"),
        org_units.c.name.label("unit_name"),
    ).outerjoin(
        org_units, sa.and_(org_units.c.id == transactions.c.unit_id, org_units.c.org_id == org_id)
    )


def get_bill(
    conn: Connection, org_id: int, transaction_id: int, *, for_update: bool = False
) -> RowMapping | None:
    if for_update:
        conn.execute(
            sa.select(transactions.c.id)
            .where(transactions.c.org_id == org_id, transactions.c.id == transaction_id)
            .with_for_update()
        ).all()
    query = _bill_query(org_id).where(
        transactions.c.org_id == org_id, transactions.c.id == transaction_id
    )
    return conn.execute(query).mappings().first()


def lines_of(conn: Connection, org_id: int, transaction_ids: Sequence[int]) -> list[RowMapping]:
    if not transaction_ids:
        return []
    query = (
        sa.select(transaction_lines)
        .where(
            transaction_lines.c.org_id == org_id,
            transaction_lines.c.transaction_id.in_(list(transaction_ids)),
        )
        .order_by(transaction_lines.c.transaction_id, transaction_lines.c.serial)
    )
    return list(conn.execute(query).mappings())


def bills(
    conn: Connection,
    org_id: int,
    *,
    customer_ids: Sequence[int] | None = None,
    number: str | None = None,
    unit_ids: Sequence[int] | None = None,
    since: datetime | None = None,
    before: datetime | None = None,
    limit: int,
    offset: int,
) -> tuple[list[RowMapping], int]:
    """A page of bills, newest first, and how many match."""
    conditions = [transactions.c.org_id == org_id]
    if customer_ids is not None:
        conditions.append(transactions.c.customer_id.in_(list(customer_ids)))
    if number is not None:
        conditions.append(transactions.c.number == number)
    if unit_ids is not None:
        conditions.append(transactions.c.unit_id.in_(list(unit_ids)))
    if since is not None:
        conditions.append(transactions.c.occurred_at >= since)
    if before is not None:
        conditions.append(transactions.c.occurred_at < before)
    total = conn.execute(
        sa.select(sa.func.count()).select_from(transactions).where(*conditions)
    ).scalar_one()
    query = (
        _bill_query(org_id)
        .where(*conditions)
        .order_by(transactions.c.occurred_at.desc(), transactions.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(conn.execute(query).mappings()), int(total)


def returned_lines(
    conn: Connection, org_id: int, transaction_id: int, changes: dict[int, tuple[Decimal, Decimal]]
) -> None:
    """Add (quantity, amount) returned to the bill's lines, by serial."""
    for serial, (quantity, amount) in changes.items():
        conn.execute(
            transaction_lines.update()
            .where(
                transaction_lines.c.org_id == org_id,
                transaction_lines.c.transaction_id == transaction_id,
                transaction_lines.c.serial == serial,
            )
            .values(
                returned_quantity=transaction_lines.c.returned_quantity + quantity,
                returned_amount=transaction_lines.c.returned_amount + amount,
            )
        )


def update_bill(conn: Connection, org_id: int, transaction_id: int, values: dict[str, Any]) -> None:
    conn.execute(
        transactions.update()
        .where(transactions.c.org_id == org_id, transactions.c.id == transaction_id)
        .values(**values)
    )


def add_returned(conn: Connection, org_id: int, transaction_id: int, amount: Decimal) -> None:
    conn.execute(
        transactions.update()
        .where(transactions.c.org_id == org_id, transactions.c.id == transaction_id)
        .values(returned_amount=transactions.c.returned_amount + amount)
    )


def insert_return(conn: Connection, values: dict[str, Any]) -> int:
    return insert_returning_id(conn, transaction_returns, values)


def returns_of(conn: Connection, org_id: int, transaction_ids: Sequence[int]) -> list[RowMapping]:
    if not transaction_ids:
        return []
    query = (
        sa.select(transaction_returns)
        .where(
            transaction_returns.c.org_id == org_id,
            transaction_returns.c.transaction_id.in_(list(transaction_ids)),
        )
        .order_by(transaction_returns.c.id)
    )
    return list(conn.execute(query).mappings())


def _lifetime_purchases_query() -> sa.Select[tuple[Any, Any]]:
    org_id: sa.BindParameter[int] = sa.bindparam("org_id")
    family = sa.select(family_cte().c.id)
    bills = sa.select(
        sa.func.coalesce(
            sa.func.sum(
                sa.func.coalesce(transactions.c.amount, 0) - transactions.c.returned_amount
            ),
            0,
        )
    ).where(transactions.c.org_id == org_id, transactions.c.customer_id.in_(family))
    # The program bills earn in unless they name another: the default one, else the first.
    default_program = (
        sa.select(loyalty_programs.c.id)
        .where(loyalty_programs.c.org_id == org_id)
        .order_by(loyalty_programs.c.is_default.desc(), loyalty_programs.c.number)
        .limit(1)
        .scalar_subquery()
    )
    opening = sa.select(sa.func.coalesce(sa.func.sum(points_ledger.c.purchases), 0)).where(
        points_ledger.c.org_id == org_id,
        points_ledger.c.customer_id.in_(family),
        points_ledger.c.kind == "OPENING",
        sa.or_(points_ledger.c.program_id == default_program, default_program.is_(None)),
    )
    return sa.select(
        bills.scalar_subquery().label(LIFETIME_BILLS),
        opening.scalar_subquery().label(LIFETIME_OPENING),
    )


LIFETIME_BILLS = "lifetime_bills"
LIFETIME_OPENING = "lifetime_opening"
#: Built once: the statement takes longer to build than to run, and a look-up needs it. Its
#: two columns (bound parameters ``org_id``, ``customer_id``) may also be selected beside
#: the customer's row, saving a statement: see :func:`lifetime_purchases_in`.
LIFETIME_PURCHASES = _lifetime_purchases_query()


def lifetime_purchases(conn: Connection, org_id: int, customer_id: int) -> Decimal:
    """What the customer and those merged into it bought, in one statement: their bills less
    returns, and the purchases imports brought as opening entries of the default program."""
    row = conn.execute(LIFETIME_PURCHASES, {"org_id": org_id, "customer_id": customer_id})
    return lifetime_purchases_in(row.mappings().one())


def lifetime_purchases_in(row: RowMapping) -> Decimal:
    """The lifetime purchases of a row that selected the columns of :data:`LIFETIME_PURCHASES`."""
    return Decimal(str(row[LIFETIME_BILLS])) + Decimal(str(row[LIFETIME_OPENING]))


def units_by_code(conn: Connection, org_id: int, code: str) -> list[int]:
    """The stores or tills whose code or external id is ``code``, with a store's tills."""
    found = [
        int(i)
        for i in conn.execute(
            sa.select(org_units.c.id).where(
                org_units.c.org_id == org_id,
                org_units.c.kind.in_(("store", "till")),
                sa.or_(org_units.c.code == code, org_units.c.external_id == code),
            )
        ).scalars()
    ]
    if not found:
        return []
    tills = conn.execute(
        sa.select(org_units.c.id).where(
            org_units.c.org_id == org_id, org_units.c.parent_id.in_(found)
        )
    ).scalars()
    return sorted({*found, *(int(t) for t in tills)})


def units_by_id(conn: Connection, org_id: int, unit_ids: set[int]) -> dict[int, RowMapping]:
    """Code and name of the org's units with these ids."""
    if not unit_ids:
        return {}
    rows = conn.execute(
        sa.select(org_units.c.id, org_units.c.code, org_units.c.name).where(
            org_units.c.org_id == org_id, org_units.c.id.in_(sorted(unit_ids))
        )
    ).mappings()
    return {int(r["id"]): r for r in rows}
