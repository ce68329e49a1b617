"""V2 Profile Identifier Add/Update, writing: profiles, identifiers, change log, merges."""

from __future__ import annotations

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from patron.customer.bulk_repository import write_rows
from patron.customer.tables import identifiers
from patron.identity.merge import merge
from patron.imports.changelog import cause, log_changes
from patron.imports.context import ImportContext
from patron.imports.newcustomers import insert_profiles
from patron.imports.profiles.v2_profile_identifiers.resolve import profiles_of
from patron.imports.profiles.v2_profile_identifiers.spec import (
    CHANGE_TYPES,
    IDENTIFIER_ROW,
)
from patron.kit.bulk import create_temp_table, fetch_frame, insert_frame


def apply(
    conn: Connection, ctx: ImportContext, rows: pl.DataFrame
) -> tuple[pl.DataFrame, dict[str, pl.DataFrame]]:
    """Write the updating rows; answer the rows with their final customer and the undo data."""
    acting = rows.filter(pl.col("status") == "update")
    writes = acting.filter(pl.col("action") != "merge")
    created, made_before = _create_profiles(conn, ctx, writes)
    writes = writes.join(
        pl.concat([created, made_before]).select(
            "customer_id", "source", "account_id", new_profile="profile_id"
        ),
        on=["customer_id", "source", "account_id"],
        how="left",
    ).with_columns(profile_id=pl.coalesce("profile_id", "new_profile"))
    removed = _removed(conn, ctx, writes)
    delete_identifiers(conn, ctx, removed)
    added = writes.select(
        "customer_id", "profile_id", type="identifier_type", value="identifier_value"
    )
    write_rows(conn, identifiers, added.with_columns(org_id=pl.lit(ctx.org_id, pl.Int64)))
    _log(conn, ctx, writes)
    merges = _merge(conn, ctx, acting.filter(pl.col("action") == "merge"))
    final = rows.drop("_existing_ids", "_existing_values").with_columns(
        customer_id=pl.when(pl.col("action") == "merge")
        .then(pl.col("owner_id"))
        .otherwise(pl.col("customer_id"))
    )
    undo_data = {
        "added": added,
        "removed": removed,
        "profiles": created.select("profile_id"),
        "merges": merges,
    }
    return final, undo_data


def _create_profiles(
    conn: Connection, ctx: ImportContext, writes: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The missing (customer, source, account) profiles, inserted; answers them with ids, and
    those of the missing ones found stored: a file in chunks plans every chunk against the
    store before its commit, so a profile two chunks need is created by the first one's."""
    keys = ["customer_id", "source", "account_id"]
    missing = writes.filter(pl.col("profile_id").is_null()).select(keys).unique(maintain_order=True)
    made_before = profiles_of(conn, ctx, missing["customer_id"].unique()).join(
        missing, on=keys, how="semi"
    )
    created = insert_profiles(conn, ctx, missing.join(made_before, on=keys, how="anti"))
    return created, made_before.select(*keys, "profile_id")


def _removed(conn: Connection, ctx: ImportContext, writes: pl.DataFrame) -> pl.DataFrame:
    """The identifiers the replacing rows take the place of (whole rows, for undo)."""
    ids = writes.filter(pl.col("action") == "replace")["_existing_ids"].explode().drop_nulls()
    create_temp_table(conn, "import_ids", {"id": "BIGINT"})
    insert_frame(conn, "import_ids", pl.DataFrame({"id": ids}, schema={"id": pl.Int64}))
    staged = sa.select(sa.table("import_ids", sa.column("id")).c.id)
    return fetch_frame(
        conn,
        sa.select(
            identifiers.c.customer_id,
            identifiers.c.profile_id,
            identifiers.c.type,
            identifiers.c.value,
        ).where(identifiers.c.org_id == ctx.org_id, identifiers.c.id.in_(staged)),
        IDENTIFIER_ROW,
    )


def delete_identifiers(conn: Connection, ctx: ImportContext, frame: pl.DataFrame) -> None:
    """Delete (org, type, value) identifiers, held by the frame's customers, in one statement."""
    if frame.is_empty():
        return
    create_temp_table(
        conn,
        "import_values",
        {"type": "VARCHAR(32)", "value": "VARCHAR(255)", "customer_id": "BIGINT"},
    )
    insert_frame(conn, "import_values", frame.select("type", "value", "customer_id"))
    staged = sa.table(
        "import_values", sa.column("type"), sa.column("value"), sa.column("customer_id")
    )
    conn.execute(
        identifiers.delete().where(
            identifiers.c.org_id == ctx.org_id,
            sa.exists().where(
                staged.c.type == identifiers.c.type,
                staged.c.value == identifiers.c.value,
                staged.c.customer_id == identifiers.c.customer_id,
            ),
        )
    )


def _log(conn: Connection, ctx: ImportContext, writes: pl.DataFrame) -> None:
    """One change-log entry per row, as changeIdentifier writes them: what was added and
    what it replaced, under MOBILE, EMAIL, EXTERNAL_ID or IDENTIFIER.

    What a row replaced is what the plan found the customer holding of its type (on its
    profile, for the types a profile holds several of), not what this statement removed:
    a file in chunks plans every chunk against the store before its commit, so two rows of
    two chunks replacing one identifier both replace it, as in a whole file, though the
    first chunk's commit removed it."""
    olds = (
        writes.filter(pl.col("action") == "replace")
        .select("row", "identifier_type", value="_existing_values")
        .explode("value")
        .drop_nulls("value")
        .group_by("row")
        .agg(_old=pl.struct(type=_shown(pl.col("identifier_type")), value="value"))
    )
    entry = pl.Struct({"type": pl.String, "value": pl.String})
    entries = writes.join(olds, on="row", how="left").with_columns(
        change_type=pl.col("identifier_type").replace_strict(CHANGE_TYPES, default="IDENTIFIER"),
        details=pl.struct(
            add=pl.concat_list(
                pl.struct(type=_shown(pl.col("identifier_type")), value="identifier_value")
            ),
            remove=pl.col("_old").fill_null(pl.lit([], pl.List(entry))),
        ),
    )
    for (change_type,), group in entries.group_by("change_type"):
        log_changes(
            conn,
            ctx,
            group.select("customer_id", "details", "source", "account_id"),
            str(change_type),
        )


def _shown(kind: pl.Expr) -> pl.Expr:
    """An identifier type as the change log names it: MOBILE, EMAIL, EXTERNAL_ID, or itself."""
    return kind.replace_strict(CHANGE_TYPES, default=kind)


def _merge(conn: Connection, ctx: ImportContext, merging: pl.DataFrame) -> pl.DataFrame:
    """Merge each merging row's customer into the holder; answers the merge ids."""
    actor = ctx.actor
    merged = [
        merge(conn, actor, victim_id=victim, survivor_id=survivor, cause=cause(ctx))
        for victim, survivor in merging.select("customer_id", "owner_id").iter_rows()
    ]
    return pl.DataFrame({"merge_id": merged}, schema={"merge_id": pl.Int64})
