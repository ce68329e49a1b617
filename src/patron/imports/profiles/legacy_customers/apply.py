"""Legacy Customers, commit: write the accepted rows set-based, and keep what undo needs.

New customers get ids reserved up front and are written with ``COPY`` /
``executemany`` into each table; changes to existing customers go through
:func:`~patron.imports.profiles.legacy_customers.store.write_values`. Codes and card
numbers are generated here, not in the preview, so the ids the caller records are
the ones committed.
"""

from __future__ import annotations

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from patron.customer.bulk_repository import write_rows
from patron.customer.tables import customers, identifiers
from patron.imports import repository as imports_repository
from patron.imports.context import ImportContext
from patron.imports.newcustomers import insert_customers, insert_profiles
from patron.imports.profiles.legacy_customers.address import log_address_changes
from patron.imports.profiles.legacy_customers.generate import unique_numbers
from patron.imports.profiles.legacy_customers.resolve import COLUMN_OF, Resolution, as_text
from patron.imports.profiles.legacy_customers.spec import (
    ATTRIBUTE_COLUMNS,
    BLANKABLE,
    CODE_DIGITS,
    IDENTIFIER_TYPES,
    NAME_FIELDS,
    SECRETS_KIND,
)
from patron.imports.profiles.legacy_customers.store import write_values
from patron.kit.bulk import create_temp_table, fetch_frame, insert_frame, next_ids
from patron.legacy.tables import legacy_profiles
from patron.loyalty.tables import campaign_enrollments, campaign_ledger

LEDGER_REASON = "auto_add"
VALUE_SCHEMA = {"customer_id": pl.Int64, "field": pl.String, "value": pl.String}


def apply(
    conn: Connection, ctx: ImportContext, resolution: Resolution
) -> tuple[pl.DataFrame, dict[str, pl.DataFrame]]:
    """Write the plan; answer the rows with their final customer ids, and the undo data."""
    rows = _generated(conn, ctx, resolution.rows)
    new = rows.filter(pl.col("status") == "insert")
    new = new.with_columns(customer_id=next_ids(conn, customers, new.height))
    ids_of_new = new.select("row", new_id="customer_id")
    rows = (
        rows.join(ids_of_new, on="row", how="left", maintain_order="left")
        .with_columns(customer_id=pl.coalesce("new_id", "customer_id"))
        .drop("new_id")
    )
    inserted_values = _insert_customers(conn, ctx, new)
    cards = rows.filter(pl.col("generate_card") & (pl.col("status") == "update")).select(
        "row",
        "customer_id",
        "profile_id",
        field=pl.lit("card_number"),
        before=pl.lit(None, dtype=pl.String),
        after="card_number",
    )
    changes = _with_profiles(conn, ctx, pl.concat([resolution.changes, cards]))
    write_values(conn, ctx, changes.select("customer_id", "profile_id", "field", value="after"))
    log_address_changes(conn, ctx, changes)
    enrollments = _fill_ids(resolution.enrollments, ids_of_new)
    insert_frame(
        conn,
        campaign_enrollments,
        enrollments.select(
            org_id=pl.lit(ctx.org_id, dtype=pl.Int64),
            campaign_id="campaign_id",
            customer_id="customer_id",
        ),
    )
    ledger = _add_to_balances(conn, ctx, _fill_ids(resolution.additions, ids_of_new))
    # The hashed secrets are in legacy_profiles now; the import keeps no copy.
    imports_repository.delete_frames(conn, ctx.org_id, ctx.import_id, (SECRETS_KIND,))
    if ctx.options["no_undo"]:
        return rows, {}
    return rows, {
        "inserted": new.select("customer_id"),
        "inserted_values": inserted_values,
        "changes": changes.drop("row"),
        "enrollments": enrollments.select("campaign_id", "customer_id"),
        "ledger": ledger,
    }


def _generated(conn: Connection, ctx: ImportContext, rows: pl.DataFrame) -> pl.DataFrame:
    """Codes for new customers without one, card numbers where asked for."""
    wanted_codes = rows.filter(pl.col("generate_code") & (pl.col("status") == "insert"))
    codes = unique_numbers(
        conn, ctx, wanted_codes.height, CODE_DIGITS, IDENTIFIER_TYPES["code"], rows["code"]
    )
    wanted_cards = rows.filter(
        pl.col("generate_card") & pl.col("status").is_in(["insert", "update"])
    )
    digits = ctx.options["card_number_generate"]
    cards = (
        unique_numbers(
            conn,
            ctx,
            wanted_cards.height,
            int(digits),
            IDENTIFIER_TYPES["card_number"],
            rows["card_number"],
        )
        if wanted_cards.height
        else pl.Series("value", [], dtype=pl.String)
    )
    drawn = (
        pl.concat(
            [
                wanted_codes.select("row", _code=codes, _card=pl.lit(None, dtype=pl.String)),
                wanted_cards.select("row", _code=pl.lit(None, dtype=pl.String), _card=cards),
            ]
        )
        .group_by("row")
        .agg(pl.col("_code").drop_nulls().first(), pl.col("_card").drop_nulls().first())
    )
    return (
        rows.join(drawn, on="row", how="left", maintain_order="left")
        .with_columns(
            code=pl.coalesce("code", "_code"),
            card_number=pl.coalesce("card_number", "_card"),
            generate_card=pl.col("_card").is_not_null(),
        )
        .drop("_code", "_card")
    )


def _fill_ids(frame: pl.DataFrame, ids_of_new: pl.DataFrame) -> pl.DataFrame:
    return (
        frame.join(ids_of_new, on="row", how="left", maintain_order="left")
        .with_columns(customer_id=pl.coalesce("customer_id", "new_id"))
        .drop("new_id")
    )


def _insert_customers(conn: Connection, ctx: ImportContext, new: pl.DataFrame) -> pl.DataFrame:
    """Insert the new customers; answer their written values in long form (for undo)."""
    if new.is_empty():
        return pl.DataFrame(schema=VALUE_SCHEMA)
    new = insert_customers(conn, ctx, new)
    org = pl.lit(ctx.org_id, dtype=pl.Int64)
    held = pl.concat(
        [
            new.select(
                org_id=org,
                customer_id="customer_id",
                profile_id="profile_id",
                type=pl.lit(kind),
                value=pl.col(field),
            )
            for field, kind in IDENTIFIER_TYPES.items()
        ]
    ).drop_nulls("value")
    write_rows(conn, identifiers, held)
    attributes = {
        column: COLUMN_OF.get(field, field) for field, column in ATTRIBUTE_COLUMNS.items()
    }
    with_data = new.filter(
        pl.any_horizontal(pl.col(name).is_not_null() for name in attributes.values())
    )
    insert_frame(
        conn,
        legacy_profiles,
        with_data.select(
            org_id=org,
            customer_id="customer_id",
            **{column: pl.col(name) for column, name in attributes.items()},
        ),
    )
    written = [*BLANKABLE, "code", "card_number"]
    return (
        new.select(
            "customer_id",
            *[as_text(name, new.schema[COLUMN_OF.get(name, name)]) for name in written],
        )
        .unpivot(index="customer_id", variable_name="field", value_name="value")
        .drop_nulls("value")
    )


def _with_profiles(conn: Connection, ctx: ImportContext, changes: pl.DataFrame) -> pl.DataFrame:
    """Customers changed on names or identifiers without an in-store profile get one first."""
    on_profile = [*NAME_FIELDS, *IDENTIFIER_TYPES]
    needs = changes.filter(pl.col("profile_id").is_null() & pl.col("field").is_in(on_profile))[
        "customer_id"
    ].unique()
    if needs.is_empty():
        return changes
    created = insert_profiles(conn, ctx, pl.DataFrame({"customer_id": needs})).rename(
        {"profile_id": "new_profile"}
    )
    return (
        changes.join(created, on="customer_id", how="left", maintain_order="left")
        .with_columns(profile_id=pl.coalesce("profile_id", "new_profile"))
        .drop("new_profile")
    )


def _add_to_balances(conn: Connection, ctx: ImportContext, additions: pl.DataFrame) -> pl.DataFrame:
    """Add each ``auto_add`` to its balance and write its ledger entry; answer the entries
    (id, campaign_id, number, customer_id, change, balance_after) for undo."""
    schema = {
        "id": pl.Int64,
        "campaign_id": pl.Int64,
        "number": pl.Int64,
        "customer_id": pl.Int64,
        "change": pl.String,
        "balance_after": pl.String,
    }
    if additions.is_empty():
        return pl.DataFrame(schema=schema)
    create_temp_table(
        conn,
        "legacy_adds",
        {"campaign_id": "BIGINT", "customer_id": "BIGINT", "change": "NUMERIC(18, 2)"},
    )
    insert_frame(conn, "legacy_adds", additions.select("campaign_id", "customer_id", "change"))
    conn.execute(
        sa.text(
            "UPDATE campaign_enrollments SET balance = campaign_enrollments.balance + s.change, "
            "updated_at = CURRENT_TIMESTAMP FROM legacy_adds AS s "
            "WHERE campaign_enrollments.org_id = :org "
            "AND campaign_enrollments.campaign_id = s.campaign_id "
            "AND campaign_enrollments.customer_id = s.customer_id"
        ),
        {"org": ctx.org_id},
    )
    after = balances(conn, ctx, "legacy_adds")
    entries = additions.with_columns(id=next_ids(conn, campaign_ledger, additions.height))
    insert_frame(
        conn,
        campaign_ledger,
        entries.select(
            "id",
            org_id=pl.lit(ctx.org_id, dtype=pl.Int64),
            campaign_id="campaign_id",
            customer_id="customer_id",
            change="change",
            product="product",
            reason=pl.lit(LEDGER_REASON),
            import_id=pl.lit(ctx.import_id, dtype=pl.Int64),
        ),
    )
    return entries.join(after, on=["campaign_id", "customer_id"], how="left").select(
        "id",
        "campaign_id",
        "number",
        "customer_id",
        change=amount_text(pl.col("change")),
        balance_after="balance",
    )


def balances(conn: Connection, ctx: ImportContext, staged: str) -> pl.DataFrame:
    """(campaign_id, customer_id, balance as text) of the pairs in table ``staged``."""
    pairs = sa.table(staged, sa.column("campaign_id"), sa.column("customer_id"))
    found = fetch_frame(
        conn,
        sa.select(
            campaign_enrollments.c.campaign_id,
            campaign_enrollments.c.customer_id,
            sa.cast(campaign_enrollments.c.balance, sa.String),
        )
        .join(
            pairs,
            sa.and_(
                campaign_enrollments.c.campaign_id == pairs.c.campaign_id,
                campaign_enrollments.c.customer_id == pairs.c.customer_id,
            ),
        )
        .where(campaign_enrollments.c.org_id == ctx.org_id),
        {"campaign_id": pl.Int64, "customer_id": pl.Int64, "balance": pl.String},
    )
    return found.with_columns(balance=amount_text(pl.col("balance")))


def amount_text(column: pl.Expr) -> pl.Expr:
    """A NUMERIC(18, 2) as text with two decimals, whatever the database hands back."""
    return column.cast(pl.Float64).round(2).cast(pl.Decimal(20, 2)).cast(pl.String)
