"""SQL of bills recorded in bulk: one statement per table for a whole request (rows go
in by :func:`patron.kit.bulk.insert_rows`, ids come back in the order of the rows)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, RowMapping

from patron.coupons.tables import transactions
from patron.customer.tables import customers
from patron.kit.bulk import insert_rows, insert_rows_returning_ids
from patron.kit.db import MAX_ID
from patron.loyalty.tables import (
    BALANCE_COLUMNS,
    loyalty_balances,
    points_ledger,
    transaction_lines,
)


def customers_for_share(conn: Connection, org_id: int, ids: Iterable[int]) -> dict[int, RowMapping]:
    """The customers with these ids, share-locked in id order (``FOR SHARE``): a merge, an
    erasure or any change of them waits until the bills are written, as it would for a
    single bill; concurrent bulk requests naming the same customers do not wait for each
    other here (their balances, locked later, keep the points right)."""
    wanted = sorted({i for i in ids if 0 < i <= MAX_ID})
    if not wanted:
        return {}
    query = (
        sa.select(customers)
        .where(customers.c.org_id == org_id, customers.c.id.in_(wanted))
        .order_by(customers.c.id)
        .with_for_update(read=True)
    )
    return {int(row["id"]): row for row in conn.execute(query).mappings()}


def insert_bills(conn: Connection, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert the bills; answers their ids, in the order given."""
    return insert_rows_returning_ids(conn, transactions, rows)


def insert_lines(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    insert_rows(conn, transaction_lines, rows)


def insert_entries(conn: Connection, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert the ledger entries; answers their ids, in the order given."""
    return insert_rows_returning_ids(conn, points_ledger, rows)


def ensure_balances(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Create the members' balance rows (all zero) that do not exist yet, in customer order."""
    if not rows:
        return
    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    statement = dialect_insert(loyalty_balances).on_conflict_do_nothing(
        index_elements=["org_id", "customer_id", "program_id"]
    )
    conn.execute(statement, sorted(rows, key=lambda r: (r["customer_id"], r["program_id"])))


def balances_for_update(
    conn: Connection, org_id: int, pairs: Iterable[tuple[int, int]]
) -> dict[tuple[int, int], RowMapping]:
    """The balance rows of these (program, customer) pairs, locked in customer order."""
    wanted = sorted(set(pairs), key=lambda p: (p[1], p[0]))
    if not wanted:
        return {}
    query = (
        sa.select(loyalty_balances)
        .where(
            loyalty_balances.c.org_id == org_id,
            sa.tuple_(loyalty_balances.c.program_id, loyalty_balances.c.customer_id).in_(wanted),
        )
        .order_by(loyalty_balances.c.customer_id, loyalty_balances.c.program_id)
        .with_for_update()
    )
    return {
        (int(row["program_id"]), int(row["customer_id"])): row
        for row in conn.execute(query).mappings()
    }


def _balance_update() -> sa.Update:
    amount = sa.Numeric(18, 2)
    return (
        loyalty_balances.update()
        .where(loyalty_balances.c.id == sa.bindparam("balance_id"))
        .values(
            {
                **{
                    name: loyalty_balances.c[name] + sa.bindparam(f"add_{name}", type_=amount)
                    for name in BALANCE_COLUMNS
                },
                "slab_id": sa.bindparam("new_slab_id"),
                "slab_since": sa.bindparam(
                    "new_slab_since", type_=loyalty_balances.c.slab_since.type
                ),
                "slab_expires_at": sa.bindparam(
                    "new_slab_expires_at", type_=loyalty_balances.c.slab_expires_at.type
                ),
                "updated_at": sa.func.now(),
            }
        )
    )


#: Built once: one statement, run once per request with a parameter set per balance.
_BALANCE_UPDATE = _balance_update()


def _balance_update_pg() -> str:
    amounts = [f"%(add_{name})s::NUMERIC(18, 2)[]" for name in BALANCE_COLUMNS]
    names = ", ".join(BALANCE_COLUMNS)
    added = ", ".join(f"{name} = b.{name} + u.{name}" for name in BALANCE_COLUMNS)
    return (
        f"UPDATE loyalty_balances AS b SET {added}, slab_id = u.slab_id,"  # noqa: S608 - names
        " slab_since = u.slab_since, slab_expires_at = u.slab_expires_at, updated_at = now()"
        f" FROM unnest(%(balance_id)s::BIGINT[], {', '.join(amounts)},"
        " %(new_slab_id)s::BIGINT[], %(new_slab_since)s::TIMESTAMPTZ[],"
        " %(new_slab_expires_at)s::TIMESTAMPTZ[])"
        f" AS u(id, {names}, slab_id, slab_since, slab_expires_at) WHERE b.id = u.id"
    )


#: PostgreSQL: one statement of one array a column, whatever the number of balances.
_BALANCE_UPDATE_PG = _balance_update_pg()


def add_to_balances(conn: Connection, changes: Sequence[dict[str, Any]]) -> None:
    """Add each change's amounts (``add_<column>``) to its balance row (``balance_id``) and
    set its slab (``new_slab_id``, ``new_slab_since``, ``new_slab_expires_at``): one
    statement on PostgreSQL (``UPDATE ... FROM unnest(...)``), one ``executemany`` on
    SQLite; the rows are those locked by :func:`balances_for_update`."""
    if not changes:
        return
    if conn.dialect.name == "postgresql":
        arrays = {key: [change[key] for change in changes] for key in changes[0]}
        conn.exec_driver_sql(_BALANCE_UPDATE_PG, arrays)
    else:
        conn.execute(_BALANCE_UPDATE, list(changes))
