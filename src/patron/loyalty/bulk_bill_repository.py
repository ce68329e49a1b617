"""SQL of bills recorded in bulk: one statement per table for a whole request (rows go
in by :func:`patron.kit.bulk.insert_rows`, ids come back in the order of the rows)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
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


def customers_for_bills(conn: Connection, org_id: int, ids: Iterable[int]) -> dict[int, RowMapping]:
    """The customers with these ids, share-locked in id order (``FOR KEY SHARE``, the lock
    the bills' foreign keys take anyway): a merge or an erasure (they lock the customer
    ``FOR UPDATE``) waits until the bills are written, as it would for a single bill;
    concurrent bulk requests naming the same customers do not wait for each other here
    (their balances, locked later, keep the points right)."""
    wanted = sorted({i for i in ids if 0 < i <= MAX_ID})
    if not wanted:
        return {}
    query = (
        sa.select(customers)
        .where(customers.c.org_id == org_id, customers.c.id.in_(wanted))
        .order_by(customers.c.id)
        .with_for_update(read=True, key_share=True)
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


def balances_of(
    conn: Connection, org_id: int, pairs: Iterable[tuple[int, int]]
) -> dict[tuple[int, int], RowMapping]:
    """The balance rows of these (program, customer) pairs that exist, as they are (no
    lock)."""
    wanted = sorted(set(pairs))
    if not wanted:
        return {}
    query = sa.select(loyalty_balances).where(
        loyalty_balances.c.org_id == org_id,
        loyalty_balances.c.customer_id.in_(sorted({c for _, c in wanted})),
    )
    found = {
        (int(r["program_id"]), int(r["customer_id"])): r for r in conn.execute(query).mappings()
    }
    return {pair: row for pair, row in found.items() if pair in set(wanted)}


def lock_balances(
    conn: Connection, org_id: int, rows: Sequence[dict[str, Any]]
) -> dict[tuple[int, int], RowMapping]:
    """The balance rows of the members (``rows``: the values of a new one: org, program,
    customer, entry slab and its dates), created (all zero) where missing and locked, in
    customer order; by (program, customer).

    PostgreSQL: one ``INSERT ... ON CONFLICT DO UPDATE ... RETURNING``, which locks an
    existing row as it returns it (its "update" changes nothing). SQLite: the missing rows
    inserted, then the rows read (the write transaction holds the database's lock).
    """
    ordered = sorted(rows, key=lambda r: (r["customer_id"], r["program_id"]))
    if not ordered:
        return {}
    if conn.dialect.name == "postgresql":
        arrays = {key: [row[key] for row in ordered] for key in _NEW_BALANCE}
        found = conn.exec_driver_sql(_LOCK_BALANCES_PG, arrays).mappings()
    else:
        statement = sqlite.insert(loyalty_balances).on_conflict_do_nothing(
            index_elements=["org_id", "customer_id", "program_id"]
        )
        conn.execute(statement, ordered)
        pairs = [(r["program_id"], r["customer_id"]) for r in ordered]
        query = sa.select(loyalty_balances).where(
            loyalty_balances.c.org_id == org_id,
            sa.tuple_(loyalty_balances.c.program_id, loyalty_balances.c.customer_id).in_(pairs),
        )
        found = conn.execute(query).mappings()
    return {(int(row["program_id"]), int(row["customer_id"])): row for row in found}


_NEW_BALANCE = ("org_id", "program_id", "customer_id", "slab_id", "slab_since", "slab_expires_at")
_LOCK_BALANCES_PG = (
    f"INSERT INTO loyalty_balances ({', '.join(_NEW_BALANCE)})"  # noqa: S608 - names
    " SELECT u.org_id, u.program_id, u.customer_id, u.slab_id, u.slab_since,"
    " u.slab_expires_at FROM unnest(%(org_id)s::BIGINT[], %(program_id)s::BIGINT[],"
    " %(customer_id)s::BIGINT[], %(slab_id)s::BIGINT[], %(slab_since)s::TIMESTAMPTZ[],"
    " %(slab_expires_at)s::TIMESTAMPTZ[]) WITH ORDINALITY"
    f" AS u({', '.join(_NEW_BALANCE)}, n) ORDER BY u.n"
    " ON CONFLICT (org_id, customer_id, program_id)"
    " DO UPDATE SET updated_at = loyalty_balances.updated_at RETURNING *"
)


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
    SQLite; the rows are those locked by :func:`lock_balances`."""
    if not changes:
        return
    if conn.dialect.name == "postgresql":
        arrays = {key: [change[key] for change in changes] for key in changes[0]}
        conn.exec_driver_sql(_BALANCE_UPDATE_PG, arrays)
    else:
        conn.execute(_BALANCE_UPDATE, list(changes))
