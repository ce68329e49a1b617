"""Card Import: load cards of existing series, and hand them to customers.

A row gives a card number of a series of the org (it must fit the series'
prefix, suffix and length), its status label (an org label, or a system status
NOT_ISSUED, ACTIVE, INACTIVE, DELETED or EXPIRED, in any letter case), its till
or store, and optionally the customer who holds it, by the identifier the
template's ``unique_identifier`` chooses (``link_user`` off: customer columns are
ignored). An unknown number creates the card; a known one is updated.

A card number belongs to one customer at most: a card held by someone else is
refused, and a linked card is also a ``cardnumber`` identifier of its holder, so
the holder is found by it like by any identifier. A number, or a card external
id, in two rows of the file rejects every such row.
"""

from __future__ import annotations

from typing import Any

import polars as pl
from sqlalchemy.engine import Connection

from patron.imports.context import ImportContext
from patron.imports.profile import Plan
from patron.imports.profiles.cards import apply, resolve, undo, validate
from patron.imports.profiles.cards.spec import SPEC


class Cards:
    spec = SPEC
    undo_kinds: tuple[str, ...] = ("inserted", "updated")

    def missing_fields(self, mapped: set[str], options: dict[str, Any]) -> list[str]:
        wanted = ("card_number", "series_code", "status_label", "store")
        return [name for name in wanted if name not in mapped]

    def plan(self, conn: Connection, ctx: ImportContext, mapped: pl.DataFrame) -> Plan[None]:
        key = ctx.options["unique_identifier"]
        linking = bool(ctx.options["link_user"]) and key in ctx.columns
        rows = validate.validate(conn, ctx, mapped, linking=linking)
        return Plan(rows=resolve.resolve(conn, ctx, rows, linking=linking), data=None)

    def apply(
        self, conn: Connection, ctx: ImportContext, plan: Plan[None]
    ) -> tuple[pl.DataFrame, dict[str, pl.DataFrame]]:
        return apply.apply(conn, ctx, plan.rows)

    def undo(
        self, conn: Connection, ctx: ImportContext, data: dict[str, pl.DataFrame]
    ) -> pl.DataFrame:
        return undo.undo(conn, ctx, data)


PROFILE = Cards()
