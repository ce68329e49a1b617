"""Legacy Customers: a customer's stored values, read and written set-based.

Values travel in long form, one row per (customer, field), as text: names of the
in-store profile, the ``code`` / ``card_number`` / ``email`` identifiers, and the
columns of ``legacy_profiles``. A customer with several card numbers reads as
their values joined with ``,`` (so a card added since a batch shows as a change).
"""

from __future__ import annotations

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from patron.customer.tables import customers, identifiers, profiles
from patron.imports.context import ImportContext
from patron.imports.newcustomers import SOURCE
from patron.imports.profiles.legacy_customers.spec import (
    ATTRIBUTE_COLUMNS,
    IDENTIFIER_TYPES,
    NAME_FIELDS,
)
from patron.kit.bulk import create_temp_table, fetch_frame, insert_frame, is_postgres
from patron.legacy.tables import legacy_profiles

VALUE_SCHEMA = {"customer_id": pl.Int64, "field": pl.String, "value": pl.String}
WRITE_SCHEMA = {
    "customer_id": pl.Int64,
    "profile_id": pl.Int64,
    "field": pl.String,
    "value": pl.String,
}
_IDS = "legacy_ids"
_STAGE = "legacy_stage"


def stage_ids(conn: Connection, ids: pl.Series) -> sa.Select[tuple[int]]:
    """Stage customer ids in a temporary table; answer a sub-select of them."""
    create_temp_table(conn, _IDS, {"id": "BIGINT"})
    insert_frame(
        conn, _IDS, pl.DataFrame({"id": ids.drop_nulls().unique()}, schema={"id": pl.Int64})
    )
    return sa.select(sa.table(_IDS, sa.column("id")).c.id)


def instore_profiles(conn: Connection, ctx: ImportContext, ids: pl.Series) -> pl.DataFrame:
    """(customer_id, profile_id) of the in-store profiles of ``ids``."""
    staged = stage_ids(conn, ids)
    return fetch_frame(
        conn,
        sa.select(profiles.c.customer_id, profiles.c.id).where(
            profiles.c.org_id == ctx.org_id,
            profiles.c.source == SOURCE,
            profiles.c.account_id == "",
            profiles.c.customer_id.in_(staged),
        ),
        {"customer_id": pl.Int64, "profile_id": pl.Int64},
    )


def current_values(conn: Connection, ctx: ImportContext, ids: pl.Series) -> pl.DataFrame:
    """(customer_id, field, value): every stored value this profile writes, as text."""
    staged = stage_ids(conn, ids)
    org = ctx.org_id
    parts = [
        fetch_frame(
            conn,
            sa.select(profiles.c.customer_id, sa.literal(name), getattr(profiles.c, name)).where(
                profiles.c.org_id == org,
                profiles.c.source == SOURCE,
                profiles.c.account_id == "",
                profiles.c.customer_id.in_(staged),
            ),
            VALUE_SCHEMA,
        ).filter(pl.col("value") != "")  # an empty name is no name
        for name in NAME_FIELDS
    ]
    field_of = {kind: field for field, kind in IDENTIFIER_TYPES.items()}
    held = fetch_frame(
        conn,
        sa.select(identifiers.c.customer_id, identifiers.c.type, identifiers.c.value).where(
            identifiers.c.org_id == org,
            identifiers.c.type.in_(tuple(field_of)),
            identifiers.c.customer_id.in_(staged),
        ),
        VALUE_SCHEMA,
    )
    parts.append(
        held.with_columns(field=pl.col("field").replace_strict(field_of))
        .group_by("customer_id", "field")
        .agg(pl.col("value").sort().str.join(","))
        .select(VALUE_SCHEMA.keys())
    )
    columns = [sa.cast(legacy_profiles.c[c], sa.String) for c in ATTRIBUTE_COLUMNS.values()]
    wide = fetch_frame(
        conn,
        sa.select(legacy_profiles.c.customer_id, *columns).where(
            legacy_profiles.c.org_id == org, legacy_profiles.c.customer_id.in_(staged)
        ),
        {"customer_id": pl.Int64, **dict.fromkeys(ATTRIBUTE_COLUMNS, pl.String)},
    )
    parts.append(
        wide.unpivot(index="customer_id", variable_name="field", value_name="value").drop_nulls(
            "value"
        )
    )
    return pl.concat(parts)


def write_values(conn: Connection, ctx: ImportContext, values: pl.DataFrame) -> None:
    """Set each (customer, field) to ``value`` (null clears it): a few statements per field.

    Names and identifiers need the customer's in-store ``profile_id``.
    """
    if values.is_empty():
        return
    for (field,), group in values.group_by("field", maintain_order=True):
        _stage(conn, group)
        _write_field(conn, ctx, str(field))
    touched = values["customer_id"].unique()
    staged = stage_ids(conn, touched)
    # A legacy profile left with no value at all is no legacy profile.
    conn.execute(
        legacy_profiles.delete().where(
            legacy_profiles.c.org_id == ctx.org_id,
            legacy_profiles.c.customer_id.in_(staged),
            *[legacy_profiles.c[c].is_(None) for c in ATTRIBUTE_COLUMNS.values()],
        )
    )
    conn.execute(
        customers.update()
        .where(customers.c.org_id == ctx.org_id, customers.c.id.in_(staged))
        .values(updated_at=sa.func.now(), modified_by=ctx.actor_name)
    )


def _stage(conn: Connection, group: pl.DataFrame) -> None:
    create_temp_table(
        conn, _STAGE, {"customer_id": "BIGINT", "profile_id": "BIGINT", "value": "TEXT"}
    )
    insert_frame(conn, _STAGE, group.select("customer_id", "profile_id", "value"))


def _write_field(conn: Connection, ctx: ImportContext, field: str) -> None:
    params: dict[str, object] = {"org": ctx.org_id}
    if field in NAME_FIELDS:
        conn.exec_driver_sql(
            f"UPDATE profiles SET {field} = COALESCE(s.value, ''), "  # noqa: S608 - our names
            "updated_at = CURRENT_TIMESTAMP FROM legacy_stage AS s WHERE profiles.id = s.profile_id"
        )
    elif field in IDENTIFIER_TYPES:
        params["kind"] = IDENTIFIER_TYPES[field]
        _run(
            conn,
            "DELETE FROM identifiers WHERE org_id = :org AND type = :kind "
            "AND customer_id IN (SELECT customer_id FROM legacy_stage)",
            params,
        )
        _run(
            conn,
            "INSERT INTO identifiers (org_id, customer_id, profile_id, type, value) "
            "SELECT :org, customer_id, profile_id, :kind, value FROM legacy_stage "
            "WHERE value IS NOT NULL",
            params,
        )
    else:
        column = ATTRIBUTE_COLUMNS[field]
        _run(
            conn,
            "INSERT INTO legacy_profiles (org_id, customer_id) SELECT :org, s.customer_id "
            "FROM legacy_stage AS s WHERE s.value IS NOT NULL AND NOT EXISTS "
            "(SELECT 1 FROM legacy_profiles AS p WHERE p.org_id = :org "
            "AND p.customer_id = s.customer_id)",
            params,
        )
        value = (
            "CAST(s.value AS DATE)" if column == "custom_date" and is_postgres(conn) else "s.value"
        )
        _run(
            conn,
            f"UPDATE legacy_profiles SET {column} = {value}, updated_at = CURRENT_TIMESTAMP "  # noqa: S608
            "FROM legacy_stage AS s WHERE legacy_profiles.org_id = :org "
            "AND legacy_profiles.customer_id = s.customer_id",
            params,
        )


def _run(conn: Connection, sql: str, params: dict[str, object]) -> None:
    conn.execute(sa.text(sql), params)
