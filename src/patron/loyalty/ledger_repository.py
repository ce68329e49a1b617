"""SQL of the points ledger and the balances it adds up to.

A balance changes only in :func:`apply_deltas`, one conditional ``UPDATE`` that
refuses to take the points below zero when asked to: PostgreSQL re-checks the
condition on the row version it waited for, SQLite runs one writer at a time, so
two spends of the same points cannot both pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, RowMapping

from patron.kit.db import insert_returning_id
from patron.loyalty.tables import BALANCE_COLUMNS, loyalty_balances, points_ledger


def _member(org_id: int, program_id: int, customer_id: int) -> sa.ColumnElement[bool]:
    return sa.and_(
        loyalty_balances.c.org_id == org_id,
        loyalty_balances.c.program_id == program_id,
        loyalty_balances.c.customer_id == customer_id,
    )


def ensure_balance(conn: Connection, values: dict[str, Any]) -> None:
    """Create the member's balance row (all zero) unless it exists."""
    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    statement = dialect_insert(loyalty_balances).values(**values)
    conn.execute(
        statement.on_conflict_do_nothing(index_elements=["org_id", "customer_id", "program_id"])
    )


def apply_deltas(
    conn: Connection,
    org_id: int,
    program_id: int,
    customer_id: int,
    deltas: dict[str, Decimal],
    *,
    floor: bool,
) -> RowMapping | None:
    """Add ``deltas`` to the member's balances; ``None`` (nothing changed) when ``floor``
    is set and the points would go below zero."""
    conditions = [_member(org_id, program_id, customer_id)]
    change = deltas.get("points", Decimal(0))
    if floor and change < 0:
        conditions.append(loyalty_balances.c.points + change >= 0)
    values: dict[str, Any] = {
        name: loyalty_balances.c[name] + amount for name, amount in deltas.items() if amount
    }
    query = (
        loyalty_balances.update()
        .where(*conditions)
        .values(updated_at=sa.func.now(), **values)
        .returning(*loyalty_balances.c)
    )
    return conn.execute(query).mappings().first()


def credit(
    conn: Connection,
    values: dict[str, Any],
    deltas_by_slab: dict[int, dict[str, Decimal]],
    entry_slab_id: int,
) -> RowMapping:
    """Add to the member's balances in one statement, creating its row (``values``: its
    key and entry slab) when it has none: ``deltas_by_slab`` gives each column's change
    for each slab the member may be in before the change (an earn's points follow the
    slab's rate), so the slab is read by the same statement that changes the balance.
    Only for changes that need no floor (nothing to refuse)."""
    entry = deltas_by_slab[entry_slab_id]
    names = [name for name in BALANCE_COLUMNS if any(d[name] for d in deltas_by_slab.values())]
    changes: dict[str, Any] = {}
    for name in names:
        column = loyalty_balances.c[name]
        amounts = {slab_id: d[name] for slab_id, d in deltas_by_slab.items()}
        if len(set(amounts.values())) == 1:
            change: Any = entry[name]
        else:
            # A slab the program no longer has counts as its entry slab (Program.slab).
            change = sa.case(
                {slab_id: sa.literal(amount, column.type) for slab_id, amount in amounts.items()},
                value=loyalty_balances.c.slab_id,
                else_=sa.literal(entry[name], column.type),
            )
        changes[name] = column + change
    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    statement = dialect_insert(loyalty_balances).values(
        **values, **{name: entry[name] for name in names}
    )
    query = statement.on_conflict_do_update(
        index_elements=["org_id", "customer_id", "program_id"],
        set_={"updated_at": sa.func.now(), **changes},
    ).returning(*loyalty_balances.c)
    return conn.execute(query).mappings().one()


def insert_entry(conn: Connection, values: dict[str, Any]) -> int:
    return insert_returning_id(conn, points_ledger, values)


def get_balance(
    conn: Connection, org_id: int, program_id: int, customer_id: int, *, for_update: bool = False
) -> RowMapping | None:
    query = sa.select(loyalty_balances).where(_member(org_id, program_id, customer_id))
    if for_update:
        query = query.with_for_update()
    return conn.execute(query).mappings().first()


# Built once, with bound parameters: ``loyaltyDetails`` reads one member's balances on every
# request, and building the statement (and its expanding IN) cost more CPU than running it.
_BALANCES_OF_CUSTOMER = (
    sa.select(loyalty_balances)
    .where(
        loyalty_balances.c.org_id == sa.bindparam("org_id"),
        loyalty_balances.c.customer_id == sa.bindparam("customer_id"),
    )
    .order_by(loyalty_balances.c.program_id)
)


def balances_of_customer(conn: Connection, org_id: int, customer_id: int) -> list[RowMapping]:
    """One customer's balance rows, every program, in program order."""
    found = conn.execute(_BALANCES_OF_CUSTOMER, {"org_id": org_id, "customer_id": customer_id})
    return list(found.mappings())


def balances_of(conn: Connection, org_id: int, customer_ids: Sequence[int]) -> list[RowMapping]:
    """The balance rows of the customers, every program."""
    query = (
        sa.select(loyalty_balances)
        .where(
            loyalty_balances.c.org_id == org_id,
            loyalty_balances.c.customer_id.in_(list(customer_ids)),
        )
        .order_by(loyalty_balances.c.program_id, loyalty_balances.c.customer_id)
    )
    return list(conn.execute(query).mappings())


def lock_balances(
    conn: Connection, org_id: int, program_id: int, customer_ids: Sequence[int]
) -> None:
    """Lock the members' balance rows in customer order, so two transfers between the same
    two members in opposite directions wait for each other instead of deadlocking."""
    for customer_id in sorted(set(customer_ids)):
        get_balance(conn, org_id, program_id, customer_id, for_update=True)


def set_slab(
    conn: Connection,
    balance_id: int,
    slab_id: int,
    since: datetime,
    expires_at: datetime | None,
) -> None:
    conn.execute(
        loyalty_balances.update()
        .where(loyalty_balances.c.id == balance_id)
        .values(slab_id=slab_id, slab_since=since, slab_expires_at=expires_at)
    )


def entries_of(
    conn: Connection,
    org_id: int,
    customer_ids: Sequence[int],
    *,
    kinds: Sequence[str] | None = None,
    program_id: int | None = None,
) -> list[RowMapping]:
    """The customers' entries, oldest first."""
    conditions = [
        points_ledger.c.org_id == org_id,
        points_ledger.c.customer_id.in_(list(customer_ids)),
    ]
    if kinds is not None:
        conditions.append(points_ledger.c.kind.in_(list(kinds)))
    if program_id is not None:
        conditions.append(points_ledger.c.program_id == program_id)
    query = sa.select(points_ledger).where(*conditions).order_by(points_ledger.c.id)
    return list(conn.execute(query).mappings())


def entries_page(
    conn: Connection, org_id: int, customer_id: int, *, limit: int, offset: int
) -> tuple[list[RowMapping], int]:
    """A page of the customer's entries in every program, newest first, and their total."""
    where = sa.and_(points_ledger.c.org_id == org_id, points_ledger.c.customer_id == customer_id)
    total = conn.execute(sa.select(sa.func.count()).where(where)).scalar_one()
    query = (
        sa.select(points_ledger)
        .where(where)
        .order_by(points_ledger.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(conn.execute(query).mappings()), int(total)


def entries_of_bills(
    conn: Connection, org_id: int, transaction_ids: Sequence[int]
) -> list[RowMapping]:
    """The entries of the bills, oldest first."""
    if not transaction_ids:
        return []
    query = (
        sa.select(points_ledger)
        .where(
            points_ledger.c.org_id == org_id,
            points_ledger.c.transaction_id.in_(list(transaction_ids)),
        )
        .order_by(points_ledger.c.id)
    )
    return list(conn.execute(query).mappings())


def settled(conn: Connection, org_id: int, entry_id: int) -> list[RowMapping]:
    """The entries that settle ``entry_id`` (its release, returns of its delayed points)."""
    query = sa.select(points_ledger).where(
        points_ledger.c.org_id == org_id, points_ledger.c.ref_entry_id == entry_id
    )
    return list(conn.execute(query).mappings())


def credits_and_debits(
    conn: Connection, org_id: int, program_id: int, customer_id: int, until: date
) -> tuple[Decimal, Decimal]:
    """Credits whose expiry day is ``until`` or earlier, and every debit so far."""
    credit = sa.case(
        (
            sa.and_(
                points_ledger.c.points > 0,
                points_ledger.c.expires_on.is_not(None),
                points_ledger.c.expires_on <= until,
            ),
            points_ledger.c.points,
        ),
        else_=0,
    )
    debit = sa.case((points_ledger.c.points < 0, -points_ledger.c.points), else_=0)
    row = conn.execute(
        sa.select(
            sa.func.coalesce(sa.func.sum(credit), 0), sa.func.coalesce(sa.func.sum(debit), 0)
        ).where(
            points_ledger.c.org_id == org_id,
            points_ledger.c.program_id == program_id,
            points_ledger.c.customer_id == customer_id,
        )
    ).one()
    return Decimal(str(row[0])), Decimal(str(row[1]))


def dated_credits(
    conn: Connection, org_id: int, program_id: int, customer_ids: Sequence[int]
) -> list[tuple[date, Decimal]]:
    """Every credit with an expiry day, as (day, points)."""
    rows = conn.execute(
        sa.select(points_ledger.c.expires_on, points_ledger.c.points).where(
            points_ledger.c.org_id == org_id,
            points_ledger.c.program_id == program_id,
            points_ledger.c.customer_id.in_(list(customer_ids)),
            points_ledger.c.points > 0,
            points_ledger.c.expires_on.is_not(None),
        )
    ).all()
    return [(row[0], Decimal(str(row[1]))) for row in rows]


def members_due_to_expire(conn: Connection, org_id: int, until: date) -> list[tuple[int, int]]:
    """(program, customer) of the members holding credits whose expiry day has come and
    that may not be all spent: those whose due credits exceed their debits."""
    credit = sa.case(
        (
            sa.and_(points_ledger.c.points > 0, points_ledger.c.expires_on <= until),
            points_ledger.c.points,
        ),
        else_=0,
    )
    debit = sa.case((points_ledger.c.points < 0, -points_ledger.c.points), else_=0)
    holders = (
        sa.select(points_ledger.c.program_id, points_ledger.c.customer_id)
        .where(points_ledger.c.org_id == org_id, points_ledger.c.expires_on <= until)
        .distinct()
        .subquery()
    )
    query = (
        sa.select(points_ledger.c.program_id, points_ledger.c.customer_id)
        .join(
            holders,
            sa.and_(
                holders.c.program_id == points_ledger.c.program_id,
                holders.c.customer_id == points_ledger.c.customer_id,
            ),
        )
        .where(points_ledger.c.org_id == org_id)
        .group_by(points_ledger.c.program_id, points_ledger.c.customer_id)
        .having(sa.func.sum(credit) > sa.func.sum(debit))
        .order_by(points_ledger.c.program_id, points_ledger.c.customer_id)
    )
    return [(int(p), int(c)) for p, c in conn.execute(query).all()]


def delayed_due(conn: Connection, org_id: int, until: date) -> list[RowMapping]:
    """Delayed earns whose day to become spendable has come and that no release settled."""
    release = points_ledger.alias("release")
    released = sa.exists().where(
        release.c.org_id == org_id,
        release.c.ref_entry_id == points_ledger.c.id,
        release.c.kind == "RELEASE",
    )
    query = (
        sa.select(points_ledger)
        .where(
            points_ledger.c.org_id == org_id,
            points_ledger.c.available_on <= until,
            points_ledger.c.delayed > 0,
            ~released,
        )
        .order_by(points_ledger.c.id)
    )
    return list(conn.execute(query).mappings())


def slabs_ended(conn: Connection, org_id: int, moment: datetime) -> list[RowMapping]:
    """Balances whose slab's validity ended before ``moment``."""
    query = (
        sa.select(loyalty_balances)
        .where(
            loyalty_balances.c.org_id == org_id,
            loyalty_balances.c.slab_expires_at.is_not(None),
            loyalty_balances.c.slab_expires_at < moment,
        )
        .order_by(loyalty_balances.c.id)
    )
    return list(conn.execute(query).mappings())


def period_value(
    conn: Connection, org_id: int, program_id: int, customer_id: int, column: str, since: datetime
) -> Decimal:
    """The sum of one amount column over the member's entries after ``since`` (the entries
    that put the member in its slab do not count towards keeping it)."""
    total = conn.execute(
        sa.select(sa.func.coalesce(sa.func.sum(points_ledger.c[column]), 0)).where(
            points_ledger.c.org_id == org_id,
            points_ledger.c.program_id == program_id,
            points_ledger.c.customer_id == customer_id,
            points_ledger.c.created_at > since,
        )
    ).scalar_one()
    return Decimal(str(total))


# --- consistency ----------------------------------------------------------------------------


def _sums(org_id: int) -> sa.Subquery:
    return (
        sa.select(
            points_ledger.c.program_id,
            points_ledger.c.customer_id,
            *(sa.func.sum(points_ledger.c[name]).label(name) for name in BALANCE_COLUMNS),
        )
        .where(points_ledger.c.org_id == org_id)
        .group_by(points_ledger.c.program_id, points_ledger.c.customer_id)
        .subquery()
    )


def mismatches(conn: Connection, org_id: int) -> list[RowMapping]:
    """Balances that differ from the sum of their entries, and entries without a balance:
    (program_id, customer_id, column, balance, entries). Empty when all is well."""
    sums = _sums(org_id)
    joined = sa.and_(
        sums.c.program_id == loyalty_balances.c.program_id,
        sums.c.customer_id == loyalty_balances.c.customer_id,
    )
    found: list[RowMapping] = []
    for name in BALANCE_COLUMNS:
        total = sa.func.coalesce(sums.c[name], 0)
        query = (
            sa.select(
                loyalty_balances.c.program_id,
                loyalty_balances.c.customer_id,
                sa.literal(name).label("column"),
                loyalty_balances.c[name].label("balance"),
                total.label("entries"),
            )
            .outerjoin(sums, joined)
            .where(loyalty_balances.c.org_id == org_id, loyalty_balances.c[name] != total)
        )
        found.extend(conn.execute(query).mappings())
        orphans = (
            sa.select(
                sums.c.program_id,
                sums.c.customer_id,
                sa.literal(name).label("column"),
                sa.literal(0).label("balance"),
                sums.c[name].label("entries"),
            )
            .outerjoin(loyalty_balances, sa.and_(loyalty_balances.c.org_id == org_id, joined))
            .where(loyalty_balances.c.id.is_(None), sums.c[name] != 0)
        )
        found.extend(conn.execute(orphans).mappings())
    return found


def recompute(conn: Connection, org_id: int, customer_ids: Sequence[int]) -> None:
    """Set the customers' balances to the sums of their entries (after entries moved)."""

    def total(name: str) -> sa.ScalarSelect[Any]:
        return (
            sa.select(sa.func.coalesce(sa.func.sum(points_ledger.c[name]), 0))
            .where(
                points_ledger.c.org_id == org_id,
                points_ledger.c.customer_id == loyalty_balances.c.customer_id,
                points_ledger.c.program_id == loyalty_balances.c.program_id,
            )
            .scalar_subquery()
        )

    conn.execute(
        loyalty_balances.update()
        .where(
            loyalty_balances.c.org_id == org_id,
            loyalty_balances.c.customer_id.in_(list(customer_ids)),
        )
        .values({**{name: total(name) for name in BALANCE_COLUMNS}, "updated_at": sa.func.now()})
    )


# --- merges -----------------------------------------------------------------------------------


def move_entries(conn: Connection, org_id: int, from_id: int, to_id: int) -> list[int]:
    """Give every entry of ``from_id`` to ``to_id``; answers their ids."""
    ids = [
        int(i)
        for i in conn.execute(
            sa.select(points_ledger.c.id).where(
                points_ledger.c.org_id == org_id, points_ledger.c.customer_id == from_id
            )
        ).scalars()
    ]
    if ids:
        move_entries_back(conn, org_id, ids, from_id=from_id, to_id=to_id)
    return ids


def move_entries_back(
    conn: Connection, org_id: int, ids: Sequence[int], *, from_id: int, to_id: int
) -> None:
    """Give the entries ``ids`` of ``from_id`` to ``to_id`` (an unmerge gives them back)."""
    for start in range(0, len(ids), 500):  # well below SQLite's parameter limit
        chunk = list(ids[start : start + 500])
        conn.execute(
            points_ledger.update()
            .where(
                points_ledger.c.org_id == org_id,
                points_ledger.c.customer_id == from_id,
                points_ledger.c.id.in_(chunk),
            )
            .values(customer_id=to_id)
        )


def move_balance(conn: Connection, balance_id: int, to_id: int) -> None:
    conn.execute(
        loyalty_balances.update()
        .where(loyalty_balances.c.id == balance_id)
        .values(customer_id=to_id, updated_at=sa.func.now())
    )


def set_slab_only(conn: Connection, balance_id: int, slab_id: int | None) -> None:
    conn.execute(
        loyalty_balances.update().where(loyalty_balances.c.id == balance_id).values(slab_id=slab_id)
    )
