"""Generated ids: 16-digit customer codes and card numbers of a chosen length.

Numbers are drawn from the operating system's random source (a card number must
not be guessable from another), never start with 0 (a point-of-sale system that
keeps them as integers would lose it), and are unique in the org and in the batch:
candidates are checked against the store in one staged query per round, and the
few that collide are drawn again.
"""

from __future__ import annotations

import secrets

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from patron.customer.tables import identifiers
from patron.imports.context import ImportContext
from patron.kit.bulk import create_temp_table, fetch_frame, insert_frame

#: Rounds of drawing again before giving up (each round leaves a tiny fraction to redraw).
ROUNDS = 20


def unique_numbers(
    conn: Connection, ctx: ImportContext, count: int, digits: int, kind: str, taken: pl.Series
) -> pl.Series:
    """``count`` distinct numbers of ``digits`` digits, held by nobody as a ``kind`` identifier
    and not among ``taken`` (the batch's own values)."""
    chosen = pl.Series("value", [], dtype=pl.String)
    avoid = taken.drop_nulls().cast(pl.String)
    low, span = 10 ** (digits - 1), 9 * 10 ** (digits - 1)
    for _ in range(ROUNDS):
        need = count - chosen.len()
        if need <= 0:
            break
        # One draw per number is inherent: the operating system's generator has no batch form.
        drawn = pl.Series(
            "value", [str(low + secrets.randbelow(span)) for _ in range(need)], dtype=pl.String
        ).unique(maintain_order=True)
        fresh = drawn.filter(~drawn.is_in(pl.concat([avoid, chosen]).implode()))
        chosen = pl.concat(
            [chosen, fresh.filter(~fresh.is_in(_held(conn, ctx, kind, fresh).implode()))]
        )
    if chosen.len() < count:
        raise RuntimeError(f"could not draw {count} unused numbers of {digits} digits")
    return chosen.head(count)


def _held(conn: Connection, ctx: ImportContext, kind: str, values: pl.Series) -> pl.Series:
    create_temp_table(conn, "legacy_drawn", {"value": "VARCHAR(255)"})
    insert_frame(conn, "legacy_drawn", values.to_frame())
    staged = sa.select(sa.table("legacy_drawn", sa.column("value")).c.value)
    held = fetch_frame(
        conn,
        sa.select(identifiers.c.value).where(
            identifiers.c.org_id == ctx.org_id,
            identifiers.c.type == kind,
            identifiers.c.value.in_(staged),
        ),
        {"value": pl.String},
    )
    return held["value"]
