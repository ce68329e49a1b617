"""The bare load: the least SQL that stores the same accepted rows, with no validation.

What a careful engineer would hand-write to load rows already known to be good
into patron's tables (same tables, same indexes and constraints): ids reserved
in one statement, ``COPY`` (PostgreSQL) or ``executemany`` (SQLite) into
``customers``, ``profiles``, ``identifiers`` and ``loyalty_accounts``, and for
rows of existing customers a staging table plus one set-based ``UPDATE`` per
table the file changes (names, identifiers, loyalty balances, the customer's
``updated_at``), matched on the mobile number. Nothing is compared first: every
matched row is written.
"""

from __future__ import annotations

import io
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection

SOURCE = "INSTORE"
ACTOR = "bench:bare"

#: The accepted rows, already normalized: what the bare load is given.
ROW_SCHEMA = {
    "first_name": pl.String,
    "last_name": pl.String,
    "mobile": pl.String,
    "email": pl.String,
    "external_id": pl.String,
    "unit_id": pl.Int64,
    "registered_at": pl.String,
    "points": pl.String,
    "slab_name": pl.String,
}


def load(
    conn: Connection,
    org_id: int,
    label_id: int,
    new: pl.DataFrame,
    matched: pl.DataFrame,
    *,
    checked: bool = True,
) -> None:
    """Insert ``new`` customers and overwrite the matched ones with ``matched``.

    ``checked=False`` (PostgreSQL, a superuser): no foreign key is checked at all, for
    the whole transaction — what writing these rows into these tables and indexes costs
    with nothing verified, the floor under any load that keeps the keys' guarantee."""
    postgres = conn.dialect.name == "postgresql"
    if postgres and not checked:
        conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
    if new.height:
        _insert(conn, org_id, label_id, new, postgres=postgres)
    if matched.height:
        _update(conn, org_id, matched, postgres=postgres)


def _insert(
    conn: Connection, org_id: int, label_id: int, new: pl.DataFrame, *, postgres: bool
) -> None:
    new = new.with_columns(
        customer_id=_reserve(conn, "customers", new.height, postgres=postgres),
        profile_id=_reserve(conn, "profiles", new.height, postgres=postgres),
        org_id=pl.lit(org_id, dtype=pl.Int64),
        actor=pl.lit(ACTOR),
    )
    write = _copy if postgres else _executemany
    write(
        conn,
        "customers",
        new.select(
            id="customer_id",
            org_id="org_id",
            loyalty_type=pl.lit("loyalty"),
            status_label_id=pl.lit(label_id, dtype=pl.Int64),
            fraud_status=pl.lit("NOT_FRAUD"),
            registered_at="registered_at",
            registered_unit_id="unit_id",
            created_by="actor",
            modified_by="actor",
        ),
    )
    write(
        conn,
        "profiles",
        new.select(
            id="profile_id",
            org_id="org_id",
            customer_id="customer_id",
            source=pl.lit(SOURCE),
            account_id=pl.lit(""),
            first_name=pl.col("first_name").fill_null(""),
            last_name=pl.col("last_name").fill_null(""),
            created_by="actor",
            modified_by="actor",
        ),
    )
    identifiers = pl.concat(
        [
            new.select("org_id", "customer_id", "profile_id", type=pl.lit(kind), value=field)
            for field, kind in (
                ("mobile", "mobile"),
                ("email", "email"),
                ("external_id", "externalId"),
            )
        ]
    ).drop_nulls("value")
    write(conn, "identifiers", identifiers)
    write(conn, "loyalty_accounts", new.select("org_id", "customer_id", "points", "slab_name"))


def _reserve(conn: Connection, table: str, count: int, *, postgres: bool) -> pl.Series:
    """``count`` fresh ids for ``table``.

    PostgreSQL: one ``nextval`` per row, read back with ``COPY``, as any load
    must while other sessions insert (moving the sequence past a block with
    ``setval`` would race them). SQLite: the writer holds the lock, so the
    ids above the current maximum are free.
    """
    if postgres:
        sql = (
            f"COPY (SELECT nextval(pg_get_serial_sequence('{table}', 'id')) "  # noqa: S608
            f"FROM generate_series(1, {count})) TO STDOUT"
        )
        buffer = io.BytesIO()
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        with cursor.copy(sql) as copy:
            for block in copy:
                buffer.write(block)
        buffer.seek(0)
        return pl.read_csv(buffer, has_header=False, schema={"id": pl.Int64})["id"]
    top = int(conn.exec_driver_sql(f"SELECT coalesce(max(id), 0) FROM {table}").scalar_one())  # noqa: S608
    return pl.int_range(top + 1, top + 1 + count, dtype=pl.Int64, eager=True)


def _copy(conn: Connection, table: str, frame: pl.DataFrame) -> None:
    columns = ", ".join(frame.columns)
    buffer = io.BytesIO()
    frame.write_csv(buffer, include_header=False, null_value="")
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(f"COPY {table} ({columns}) FROM STDIN (FORMAT csv)") as copy:
        copy.write(buffer.getvalue())


def _executemany(conn: Connection, table: str, frame: pl.DataFrame) -> None:
    columns = ", ".join(frame.columns)
    marks = ", ".join("?" for _ in frame.columns)
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", frame.iter_rows())  # noqa: S608


_STAGE = "bare_stage"
_MATCHED = "bare_matched"
_COLUMNS = (
    "first_name VARCHAR(100), last_name VARCHAR(100), email VARCHAR(255), points NUMERIC, "
    "slab_name VARCHAR(100)"
)


def _update(conn: Connection, org_id: int, matched: pl.DataFrame, *, postgres: bool) -> None:
    """Stage the rows, find each one's customer by its mobile, then one UPDATE per table."""
    stage = matched.select("mobile", "first_name", "last_name", "email", "points", "slab_name")
    key = "BIGINT" if postgres else "INTEGER"
    for sql in (
        f"DROP TABLE IF EXISTS {_STAGE}",
        f"DROP TABLE IF EXISTS {_MATCHED}",
        f"CREATE TEMP TABLE {_STAGE} (mobile VARCHAR(255) PRIMARY KEY, {_COLUMNS})",
        f"CREATE TEMP TABLE {_MATCHED} (customer_id {key} PRIMARY KEY, {_COLUMNS})",
    ):
        conn.exec_driver_sql(sql)
    (_copy if postgres else _executemany)(conn, _STAGE, stage)
    params: dict[str, Any] = {"org": org_id, "actor": ACTOR}
    statements = [
        f"INSERT INTO {_MATCHED} SELECT m.customer_id, s.first_name, s.last_name, s.email, "  # noqa: S608
        f"s.points, s.slab_name FROM {_STAGE} AS s JOIN identifiers AS m ON m.org_id = :org "
        "AND m.type = 'mobile' AND m.value = s.mobile",
        *([f"ANALYZE {_MATCHED}"] if postgres else []),
        f"UPDATE profiles SET first_name = coalesce(s.first_name, ''), "  # noqa: S608
        "last_name = coalesce(s.last_name, ''), modified_by = :actor, "
        f"updated_at = CURRENT_TIMESTAMP FROM {_MATCHED} AS s WHERE profiles.org_id = :org "
        f"AND profiles.customer_id = s.customer_id AND profiles.source = '{SOURCE}' "
        "AND profiles.account_id = ''",
        "UPDATE loyalty_accounts SET points = s.points, slab_name = s.slab_name, "  # noqa: S608
        f"updated_at = CURRENT_TIMESTAMP FROM {_MATCHED} AS s "
        "WHERE loyalty_accounts.org_id = :org AND loyalty_accounts.customer_id = s.customer_id",
        f"UPDATE identifiers SET value = s.email FROM {_MATCHED} AS s "  # noqa: S608
        "WHERE identifiers.org_id = :org AND identifiers.customer_id = s.customer_id "
        "AND identifiers.type = 'email' AND s.email IS NOT NULL",
        "UPDATE customers SET modified_by = :actor, updated_at = CURRENT_TIMESTAMP "  # noqa: S608
        f"FROM {_MATCHED} AS s WHERE customers.org_id = :org AND customers.id = s.customer_id",
    ]
    for statement in statements:
        conn.execute(sa.text(statement), params)
