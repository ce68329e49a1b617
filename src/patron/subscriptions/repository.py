"""SQL of the subscriptions domain: current subscriptions and the consent ledger."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, RowMapping

from patron.kit.bulk import create_temp_table, fetch_frame, insert_frame
from patron.kit.db import BigId
from patron.subscriptions.tables import consent_ledger, subscriptions

#: The columns after (org_id, customer_id) that tell two subscriptions apart.
KEY_COLUMNS = ("channel", "priority", "org_unit_id", "source", "account_id")
_UNIQUE_KEY = ("org_id", "customer_id", *KEY_COLUMNS)

Key = tuple[str, str, int, str, str]


def statuses_for_update(conn: Connection, org_id: int, customer_id: int) -> dict[Key, str]:
    """The customer's stored statuses by key, rows locked until the transaction ends.

    The lock makes the previous status written to the ledger the one the change
    replaced, even when two requests change the same subscription at once
    (SQLite serializes writers anyway and ignores ``FOR UPDATE``).
    """
    query = (
        sa.select(subscriptions.c.status, *(subscriptions.c[name] for name in KEY_COLUMNS))
        .where(subscriptions.c.org_id == org_id, subscriptions.c.customer_id == customer_id)
        .with_for_update()
    )
    return {
        (row.channel, row.priority, int(row.org_unit_id), row.source, row.account_id): row.status
        for row in conn.execute(query)
    }


def upsert(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert subscriptions; one that exists under the same key gets the new status.

    ``rows`` must not repeat a key (PostgreSQL refuses to update a row twice in
    one statement).
    """
    if not rows:
        return
    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    statement = dialect_insert(subscriptions).values(list(rows))
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=list(_UNIQUE_KEY),
            set_={"status": statement.excluded.status, "updated_at": sa.func.now()},
        )
    )


def insert_ledger(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        conn.execute(consent_ledger.insert(), list(rows))


def list_for_customer(conn: Connection, org_id: int, customer_id: int) -> list[RowMapping]:
    query = (
        sa.select(subscriptions)
        .where(subscriptions.c.org_id == org_id, subscriptions.c.customer_id == customer_id)
        .order_by(subscriptions.c.id)
    )
    return list(conn.execute(query).mappings())


def ledger_of(conn: Connection, org_id: int, customer_id: int) -> list[RowMapping]:
    query = (
        sa.select(consent_ledger)
        .where(consent_ledger.c.org_id == org_id, consent_ledger.c.customer_id == customer_id)
        .order_by(consent_ledger.c.id)
    )
    return list(conn.execute(query).mappings())


def move(
    conn: Connection, org_id: int, victim_id: int, survivor_id: int
) -> tuple[int, list[int], list[int]]:
    """Give the victim's subscriptions and ledger rows to the survivor, in three statements.

    Where both hold a subscription under the same key, the survivor's row stays
    and the victim's is deleted (its history remains in the moved ledger rows),
    except that an opt-out always wins: one person's "stop" must not be undone
    by merging in an older "yes" of the same person.
    Returns the number deleted and the ids of the moved subscription and ledger rows.
    """
    victim = subscriptions.alias("victim")
    victim_opted_out = sa.exists().where(
        victim.c.org_id == org_id,
        victim.c.customer_id == victim_id,
        victim.c.status == "OPTOUT",
        *(victim.c[name] == subscriptions.c[name] for name in KEY_COLUMNS),
    )
    conn.execute(
        subscriptions.update()
        .where(
            subscriptions.c.org_id == org_id,
            subscriptions.c.customer_id == survivor_id,
            subscriptions.c.status == "OPTIN",
            victim_opted_out,
        )
        .values(status="OPTOUT", updated_at=sa.func.now())
    )
    survivor = subscriptions.alias("survivor")
    same_key_at_survivor = sa.exists().where(
        survivor.c.org_id == org_id,
        survivor.c.customer_id == survivor_id,
        *(survivor.c[name] == subscriptions.c[name] for name in KEY_COLUMNS),
    )
    of_victim = sa.and_(subscriptions.c.org_id == org_id, subscriptions.c.customer_id == victim_id)
    deleted = conn.execute(subscriptions.delete().where(of_victim, same_key_at_survivor)).rowcount
    moved = conn.execute(
        subscriptions.update()
        .where(of_victim)
        .values(customer_id=survivor_id)
        .returning(subscriptions.c.id)
    ).scalars()
    ledger = conn.execute(
        consent_ledger.update()
        .where(consent_ledger.c.org_id == org_id, consent_ledger.c.customer_id == victim_id)
        .values(customer_id=survivor_id)
        .returning(consent_ledger.c.id)
    ).scalars()
    return int(deleted), sorted(int(i) for i in moved), sorted(int(i) for i in ledger)


# --- many customers at once (the User Subscription import) --------------------------------

#: A staged subscription: the customer, its key and a status.
_STAGED = {
    "customer_id": "BIGINT",
    "channel": "VARCHAR(16)",
    "priority": "VARCHAR(8)",
    "org_unit_id": "BIGINT",
    "source": "VARCHAR(16)",
    "account_id": "VARCHAR(100)",
    "status": "VARCHAR(8)",
}
_STAGED_FRAME = pl.Schema(
    {
        "customer_id": pl.Int64(),
        "channel": pl.String(),
        "priority": pl.String(),
        "org_unit_id": pl.Int64(),
        "source": pl.String(),
        "account_id": pl.String(),
        "status": pl.String(),
    }
)


def _stage(conn: Connection, name: str, frame: pl.DataFrame) -> sa.TableClause:
    """``frame`` (customer_id, the key columns, status) in a temporary table."""
    create_temp_table(conn, name, _STAGED)
    insert_frame(conn, name, frame.select(list(_STAGED)).cast(_STAGED_FRAME))
    return sa.table(name, *(sa.column(column) for column in _STAGED))


def _same_key(staged: sa.TableClause, org_id: int) -> list[sa.ColumnElement[bool]]:
    return [
        subscriptions.c.org_id == org_id,
        subscriptions.c.customer_id == staged.c.customer_id,
        *(subscriptions.c[name] == staged.c[name] for name in KEY_COLUMNS),
    ]


def statuses_of(conn: Connection, org_id: int, keys: pl.DataFrame) -> pl.DataFrame:
    """``keys`` (customer_id and the key columns, unique) with the stored ``status`` (or null)."""
    staged = _stage(conn, "import_subscription_keys", keys.with_columns(status=pl.lit("")))
    query = sa.select(
        staged.c.customer_id, *(staged.c[name] for name in KEY_COLUMNS), subscriptions.c.status
    ).where(*_same_key(staged, org_id))
    schema = {name: _STAGED_FRAME[name] for name in ("customer_id", *KEY_COLUMNS, "status")}
    found = fetch_frame(conn, query, schema)
    on = ["customer_id", *KEY_COLUMNS]
    return keys.select(on).join(found, on=on, how="left", maintain_order="left")


def upsert_many(conn: Connection, org_id: int, frame: pl.DataFrame) -> None:
    """Give every subscription of ``frame`` its ``status``, inserting the missing ones; one
    statement. ``frame`` must not repeat a key."""
    if frame.is_empty():
        return
    staged = _stage(conn, "import_subscriptions", frame)
    names = ["org_id", "customer_id", *KEY_COLUMNS, "status"]
    # SQLite needs a WHERE before ON CONFLICT to parse an INSERT ... SELECT.
    values = (staged.c[name] for name in names[1:])
    rows = sa.select(sa.literal(org_id, BigId), *values).where(sa.true())
    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    statement = dialect_insert(subscriptions).from_select(names, rows)
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=list(_UNIQUE_KEY),
            set_={"status": statement.excluded.status, "updated_at": sa.func.now()},
        )
    )


def delete_many(conn: Connection, org_id: int, keys: pl.DataFrame) -> None:
    """Delete the subscriptions of ``keys`` (customer_id and the key columns); one statement."""
    if keys.is_empty():
        return
    staged = _stage(conn, "import_subscription_keys", keys.with_columns(status=pl.lit("")))
    conn.execute(
        subscriptions.delete().where(
            subscriptions.c.org_id == org_id,
            sa.exists().where(*_same_key(staged, org_id)),
        )
    )


def insert_ledger_frame(conn: Connection, frame: pl.DataFrame) -> None:
    """Ledger rows from a frame named like the table's columns (``COPY`` / ``executemany``)."""
    insert_frame(conn, consent_ledger, frame)
