"""Loyalty Customers, stage 6: write the accepted rows, set-based, and keep what undo needs.

New customers get ids reserved up front and are written with ``COPY`` /
``executemany`` into each table; changes to existing customers go through a
staging table and one ``UPDATE ... FROM`` / ``DELETE`` + ``INSERT`` per field (the
loyalty fields together: one ``UPDATE`` of the account row).

The changes to existing customers are written last, by :func:`finish`, in customer
order over the whole step (a chunk at a time of the customers, not of the file): a
chunk of a file names customers anywhere in the store, so writing them chunk by chunk
read and wrote the pages of the changed customers' rows and index entries once per
chunk, a cost that grew with the store (docs/postgresql-loads.md, "Changes in customer
order"). Every chunk is planned against the store as it was before the step, so no plan
depends on when the changes are written.
Undo writes its restored values through the same :func:`write_changes`.
"""

from __future__ import annotations

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from patron.customer.bulk_repository import write_rows
from patron.customer.tables import customers, field_values, identifiers
from patron.imports import progress
from patron.imports.context import ImportContext
from patron.imports.newcustomers import insert_customers, insert_profiles
from patron.imports.profiles.loyalty_customers.resolve import Resolution
from patron.imports.profiles.loyalty_customers.stored import (
    IDENTIFIER_TYPES,
    LOYALTY_FIELDS,
    NUMBER_FIELDS,
    PROFILE_FIELDS,
    as_text,
)
from patron.kit.bulk import insert_frame, is_postgres, next_ids, read_frame, stage
from patron.loyalty import opening
from patron.loyalty.tables import loyalty_accounts
from patron.settings import get_settings


def apply(
    conn: Connection, ctx: ImportContext, resolution: Resolution
) -> tuple[pl.DataFrame, dict[str, pl.DataFrame]]:
    """Write the plan; answer the rows with their final customer ids, and the undo data.

    The undo data holds the new customers' written values one row per customer
    (``customer_id`` and a text column per field); :mod:`.undo` also reads the
    long form (customer_id, field, value) that earlier versions stored.
    """
    rows = resolution.rows
    inserting = pl.col("status") == "insert"
    # The columns a new customer is written from; its error and correction lists stay behind.
    wanted = [name for name in rows.columns if name not in _ROW_LISTS]
    new = rows.lazy().filter(inserting).select(wanted).collect()
    customer_ids = next_ids(conn, customers, new.height)
    new = new.with_columns(customer_id=customer_ids)
    inserted_values = _insert_customers(conn, ctx, new)
    progress.part(0.96)
    changes = _with_profiles(conn, ctx, resolution.changes)
    # Written by finish (the service calls it after the last chunk), with their ledger.
    _defer(conn, changes.select("row", "customer_id", "profile_id", "field", value="after"))
    progress.part(0.98)
    # The loyalty values written become opening ledger entries and slabs (patron.loyalty).
    slabs_before = opening.slabs_before(conn, ctx.org_id, loyalty_customers(changes))
    sync_loyalty(conn, ctx, new["customer_id"])
    progress.part(0.99)
    final = rows
    if new.height:  # the n-th new row gets the n-th new id: no join of the whole file
        order = (inserting.cast(pl.Int64).cum_sum() - 1).clip(0)
        final = rows.with_columns(
            customer_id=pl.when(inserting)
            .then(pl.lit(customer_ids).gather(order))
            .otherwise(pl.col("customer_id"))
        )
    undo_data = {
        "inserted": new.select("customer_id"),
        "inserted_values": inserted_values.drop("profile_id"),
        "changes": changes.drop("row"),
        "loyalty_slabs": slabs_before,
    }
    return final, undo_data


def loyalty_customers(changes: pl.DataFrame) -> pl.Series:
    """The customers whose loyalty values ``changes`` changes."""
    return changes.filter(pl.col("field").is_in(list(LOYALTY_FIELDS)))["customer_id"].unique()


def sync_loyalty(conn: Connection, ctx: ImportContext, customer_ids: pl.Series) -> None:
    """The ledger follows the loyalty values the import wrote (or its undo restored)."""
    opening.sync_imported(
        conn,
        org_id=ctx.org_id,
        import_id=ctx.import_id,
        actor=ctx.actor_name,
        now=ctx.now,
        customer_ids=customer_ids.cast(pl.Int64),
    )


_ROW_LISTS = ("error_codes", "errors", "corrections")


def _insert_customers(conn: Connection, ctx: ImportContext, new: pl.DataFrame) -> pl.DataFrame:
    """Insert the new customers; answer their written values, a row per customer (for undo)."""
    if new.is_empty():
        return pl.DataFrame(schema={"customer_id": pl.Int64, "profile_id": pl.Int64})
    registered = (
        pl.col("registration_date").cast(pl.Datetime("us", "UTC")).fill_null(pl.lit(ctx.now))
        if "registration_date" in new.columns
        else pl.lit(ctx.now)
    )
    new = insert_customers(
        conn, ctx, new, registered_at=registered, registered_unit_id=pl.col("store_unit_id")
    )
    progress.part(0.6)  # rough shares of the time of a file of new customers
    fields = [
        name
        for name in (*PROFILE_FIELDS, *IDENTIFIER_TYPES, *LOYALTY_FIELDS, *ctx.fields)
        if name in ctx.columns
    ]
    # Every written value as text, one column per field: each table takes its columns.
    wide = new.select("customer_id", "profile_id", *[as_text(f, new.schema[f]) for f in fields])
    _insert_identifiers(conn, ctx, wide)
    progress.part(0.95)
    _insert_loyalty(conn, ctx, wide)
    _insert_org_fields(conn, ctx, wide)
    return wide


def _with_profiles(conn: Connection, ctx: ImportContext, changes: pl.DataFrame) -> pl.DataFrame:
    """Customers changed on fields of an in-store profile they lack get one first."""
    needs = changes.filter(
        pl.col("profile_id").is_null() & pl.col("field").is_in([*PROFILE_FIELDS, *IDENTIFIER_TYPES])
    )["customer_id"].unique()
    if needs.is_empty():
        return changes.with_columns(created_profile=pl.lit(False))
    created = insert_profiles(conn, ctx, pl.DataFrame({"customer_id": needs})).rename(
        {"profile_id": "new_profile"}
    )
    changes = changes.join(created, on="customer_id", how="left")
    return changes.with_columns(
        created_profile=pl.col("new_profile").is_not_null(),
        profile_id=pl.coalesce("profile_id", "new_profile"),
    ).drop("new_profile")


# --- writing values -------------------------------------------------------------------


def write_changes(conn: Connection, ctx: ImportContext, values: pl.DataFrame) -> None:
    """Set each (customer, field) to ``value`` (null: clear), one statement group per field,
    and the changed customers' ``updated_at`` and ``modified_by``."""
    if values.is_empty():
        return
    loyalty = pl.col("field").is_in(list(LOYALTY_FIELDS))
    for (field,), group in values.filter(~loyalty).group_by("field", maintain_order=True):
        _write_field(conn, ctx, str(field), group)
    _write_loyalty(conn, ctx, values.filter(loyalty))
    touched = values["customer_id"].unique()
    _stage(
        conn,
        pl.DataFrame(
            {"customer_id": touched, "profile_id": touched, "value": None}, schema=_STAGE_SCHEMA
        ),
    )
    _run(
        conn,
        "UPDATE customers SET updated_at = CURRENT_TIMESTAMP, modified_by = :actor "  # noqa: S608 - our own text
        f"WHERE {_staged(conn, 'id', 'customer_id', 'import_stage')}",
        actor=ctx.actor_name,
    )


#: The changes :func:`apply` leaves to :func:`finish`: a temporary table that lives until
#: the step's transaction ends (on disk, not in memory, however many chunks the step has).
_DEFERRED = "import_deferred_changes"
_DEFERRED_SCHEMA = {
    "row": pl.Int64,
    "customer_id": pl.Int64,
    "profile_id": pl.Int64,
    "field": pl.String,
    "value": pl.String,
}


def _deferred(conn: Connection) -> sa.TableClause:
    """The table of deferred changes, made by the step's first use of it."""
    definition = ", ".join(
        f'"{column}" {"BIGINT" if kind == pl.Int64 else "TEXT"}'
        for column, kind in _DEFERRED_SCHEMA.items()
    )
    dropped = " ON COMMIT DROP" if is_postgres(conn) else ""
    conn.exec_driver_sql(f"CREATE TEMP TABLE IF NOT EXISTS {_DEFERRED} ({definition}){dropped}")
    return sa.table(_DEFERRED, *(sa.column(column) for column in _DEFERRED_SCHEMA))


def _defer(conn: Connection, values: pl.DataFrame) -> None:
    """Keep a chunk's changes to stored customers (row, customer_id, profile_id, field,
    value) for :func:`finish`."""
    if values.is_empty():
        return
    _deferred(conn)
    insert_frame(conn, _DEFERRED, values)


def finish(conn: Connection, ctx: ImportContext) -> None:
    """The step's last writes: the changes :func:`apply` deferred, and the ledger of the
    loyalty values among them, for at most a chunk's worth of customers at a time
    (``PATRON_IMPORT_CHUNK_ROWS``), in customer order."""
    deferred = _deferred(conn)
    conn.exec_driver_sql(
        f"CREATE INDEX IF NOT EXISTS {_DEFERRED}_customer ON {_DEFERRED} (customer_id)"
    )
    columns = [deferred.c[name] for name in _DEFERRED_SCHEMA]
    ends = _batch_ends(conn, deferred)
    low = None
    for done, high in enumerate(ends, start=1):
        query = sa.select(*columns).where(deferred.c.customer_id <= high)
        if low is not None:
            query = query.where(deferred.c.customer_id > low)
        # A customer named by rows of several chunks: its field takes the last row's value.
        batch = (
            read_frame(conn, query, _DEFERRED_SCHEMA)
            .sort("row")
            .unique(["customer_id", "field"], keep="last", maintain_order=True)
        )
        write_changes(conn, ctx, batch.drop("row"))
        sync_loyalty(conn, ctx, loyalty_customers(batch))
        progress.part(done / len(ends))
        low = high
    conn.exec_driver_sql(f"DROP TABLE {_DEFERRED}")


def _batch_ends(conn: Connection, deferred: sa.TableClause) -> list[int]:
    """The last customer id of each batch of :func:`finish`: every
    ``PATRON_IMPORT_CHUNK_ROWS``-th customer of the deferred changes, and the last one."""
    ids = sa.select(deferred.c.customer_id).distinct().subquery()
    ranked = sa.select(
        ids.c.customer_id,
        sa.func.row_number().over(order_by=ids.c.customer_id).label("rank"),
        sa.func.count().over().label("total"),
    ).subquery()
    size = get_settings().import_chunk_rows
    ends = sa.select(ranked.c.customer_id).where(
        sa.or_(ranked.c.rank % size == 0, ranked.c.rank == ranked.c.total)
    )
    return [int(end) for end in conn.execute(ends.order_by(ranked.c.customer_id)).scalars()]


_STAGE_SCHEMA = {"customer_id": pl.Int64, "profile_id": pl.Int64, "value": pl.String}


def _stage(conn: Connection, frame: pl.DataFrame) -> None:
    # In customer order the statements below walk the tables' indexes from one end to the
    # other instead of jumping about (three times faster on a million-customer SQLite store).
    stage(
        conn,
        "import_stage",
        {"customer_id": "BIGINT", "profile_id": "BIGINT", "value": "TEXT"},
        frame.select(_STAGE_SCHEMA.keys()).sort("customer_id", "profile_id", nulls_last=True),
    )


def _staged(conn: Connection, column: str, staged: str, table: str) -> str:
    """``column IN (SELECT staged FROM table)``, by index on PostgreSQL.

    There the planner joins a staged chunk with the whole table by a hash, reading every
    row of it to change a few: one chunk of a weekly update into a store of 1.5 million
    customers spent 4.5 s in ``UPDATE customers`` that way and 1.7 s with the ids as an
    array (``= ANY``, an index scan), and the table's scan grows with the store where the
    look-ups do not (BENCHMARKS.md, "The import in chunks"). The same rows either way.
    """
    if is_postgres(conn):
        return f"{column} = ANY(ARRAY(SELECT {staged} FROM {table}))"  # noqa: S608 - our names
    return f"{column} IN (SELECT {staged} FROM {table})"  # noqa: S608 - our names


def _write_field(conn: Connection, ctx: ImportContext, field: str, group: pl.DataFrame) -> None:
    _stage(conn, group.select("customer_id", "profile_id", "value"))
    org = ctx.org_id
    if field in PROFILE_FIELDS:
        conn.exec_driver_sql(
            f"UPDATE profiles SET {field} = COALESCE(s.value, ''), updated_at = CURRENT_TIMESTAMP "  # noqa: S608
            "FROM import_stage AS s WHERE profiles.id = s.profile_id "
            f"AND {_staged(conn, 'profiles.id', 'profile_id', 'import_stage')}"
        )
    elif field in IDENTIFIER_TYPES:
        kind = IDENTIFIER_TYPES[field]
        _run(
            conn,
            "DELETE FROM identifiers WHERE org_id = :org AND type = :kind "  # noqa: S608
            f"AND {_staged(conn, 'customer_id', 'customer_id', 'import_stage')}",
            org=org,
            kind=kind,
        )
        _run(
            conn,
            "INSERT INTO identifiers (org_id, customer_id, profile_id, type, value) "
            "SELECT :org, customer_id, profile_id, :kind, value FROM import_stage "
            "WHERE value IS NOT NULL",
            org=org,
            kind=kind,
        )
    else:
        kind, name = field.split(".", 1)
        _run(
            conn,
            "DELETE FROM field_values WHERE org_id = :org AND kind = :kind AND name = :name "  # noqa: S608
            f"AND {_staged(conn, 'customer_id', 'customer_id', 'import_stage')}",
            org=org,
            kind=kind,
            name=name,
        )
        _run(
            conn,
            "INSERT INTO field_values (org_id, customer_id, kind, name, value) "
            "SELECT :org, customer_id, :kind, :name, value FROM import_stage "
            "WHERE value IS NOT NULL",
            org=org,
            kind=kind,
            name=name,
        )


def _write_loyalty(conn: Connection, ctx: ImportContext, values: pl.DataFrame) -> None:
    """Set the loyalty fields of ``values`` (customer_id, field, value): every field of a
    customer in one ``UPDATE`` of its account, so that the row gets one new version and
    not one per field (each a write of the row and, without room on its page, of every
    index of the table)."""
    if values.is_empty():
        return
    given_fields = set(values["field"])
    fields = [field for field in LOYALTY_FIELDS if field in given_fields]
    # One row per customer: for the n-th field its value (v<n>) and whether it is set
    # (s<n>: 1), as a null value clears the field and an absent one leaves it alone.
    wide = values.select("customer_id").unique()
    for n, field in enumerate(fields):
        given = values.filter(pl.col("field") == field).unique("customer_id", keep="last")
        wide = wide.join(
            given.select("customer_id", pl.col("value").alias(f"v{n}"), pl.lit(1).alias(f"s{n}")),
            on="customer_id",
            how="left",
        )
    kinds = {"customer_id": "BIGINT"}
    for n in range(len(fields)):
        kinds |= {f"v{n}": "TEXT", f"s{n}": "INTEGER"}
    flags = [pl.col(f"s{n}").fill_null(0).cast(pl.Int32) for n in range(len(fields))]
    stage(conn, "import_loyalty_stage", kinds, wide.with_columns(flags).sort("customer_id"))
    if is_postgres(conn):
        # Each staged customer's account looked up by index (LATERAL ... LIMIT 1): NOT EXISTS
        # became an anti-join hashing every account of the org (see _staged).
        missing = (
            "FROM import_loyalty_stage AS s LEFT JOIN LATERAL (SELECT 1 AS one "
            "FROM loyalty_accounts AS a WHERE a.org_id = :org AND a.customer_id = s.customer_id "
            "LIMIT 1) AS held ON true WHERE held.one IS NULL"
        )
    else:
        missing = (
            "FROM import_loyalty_stage AS s WHERE NOT EXISTS (SELECT 1 FROM loyalty_accounts "
            "AS a WHERE a.org_id = :org AND a.customer_id = s.customer_id)"
        )
    _run(
        conn,
        f"INSERT INTO loyalty_accounts (org_id, customer_id) SELECT :org, s.customer_id {missing}",
        org=ctx.org_id,
    )
    sets = []
    for n, field in enumerate(fields):
        column = LOYALTY_FIELDS[field]
        cast = (
            "NUMERIC" if field in NUMBER_FIELDS else "DATE" if field == "join_date" else "VARCHAR"
        )
        value = (
            f"s.v{n}"
            if conn.dialect.name == "sqlite" and cast == "DATE"
            else f"CAST(s.v{n} AS {cast})"
        )
        sets.append(
            f"{column} = CASE WHEN s.s{n} = 1 THEN {value} ELSE loyalty_accounts.{column} END"
        )
    _run(
        conn,
        f"UPDATE loyalty_accounts SET {', '.join(sets)}, updated_at = CURRENT_TIMESTAMP "  # noqa: S608 - our column names
        "FROM import_loyalty_stage AS s WHERE loyalty_accounts.org_id = :org "
        "AND loyalty_accounts.customer_id = s.customer_id AND "
        f"{_staged(conn, 'loyalty_accounts.customer_id', 'customer_id', 'import_loyalty_stage')}",
        org=ctx.org_id,
    )


def _run(conn: Connection, sql: str, **params: object) -> None:
    conn.execute(sa.text(sql), params)


def _insert_identifiers(conn: Connection, ctx: ImportContext, wide: pl.DataFrame) -> None:
    parts = [
        wide.select("customer_id", "profile_id", type=pl.lit(kind), value=pl.col(field)).drop_nulls(
            "value"
        )
        for field, kind in IDENTIFIER_TYPES.items()
        if field in wide.columns
    ]
    if not parts:
        return
    # A type at a time, in customer order: the rows, the customer index and the foreign
    # keys' look-ups stay next to the previous ones (measured faster than value order).
    found = pl.concat(parts)
    write_rows(
        conn,
        identifiers,
        found.select(
            org_id=pl.lit(ctx.org_id, dtype=pl.Int64),
            customer_id="customer_id",
            profile_id="profile_id",
            type="type",
            value="value",
        ),
    )


def _insert_loyalty(conn: Connection, ctx: ImportContext, wide: pl.DataFrame) -> None:
    fields = [field for field in LOYALTY_FIELDS if field in wide.columns]
    if not fields:
        return
    # A customer gets an account when the file gives it at least one loyalty value.
    holders = wide.filter(pl.any_horizontal(pl.col(fields).is_not_null()))
    write_rows(
        conn,
        loyalty_accounts,
        holders.select(
            org_id=pl.lit(ctx.org_id, dtype=pl.Int64),
            customer_id="customer_id",
            **{
                LOYALTY_FIELDS[field]: pl.col(field)
                for field in fields
                if holders[field].null_count() < holders.height
            },
        ),
    )


def _insert_org_fields(conn: Connection, ctx: ImportContext, wide: pl.DataFrame) -> None:
    parts = [
        wide.select(
            "customer_id",
            kind=pl.lit(target.split(".", 1)[0]),
            name=pl.lit(target.split(".", 1)[1]),
            value=pl.col(target),
        ).drop_nulls("value")
        for target in ctx.fields
        if target in wide.columns
    ]
    if not parts:
        return
    write_rows(
        conn,
        field_values,
        pl.concat(parts).select(
            org_id=pl.lit(ctx.org_id, dtype=pl.Int64),
            customer_id="customer_id",
            kind="kind",
            name="name",
            value="value",
        ),
    )
