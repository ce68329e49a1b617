"""The Loyalty Customers profile: add new loyalty customers and update existing ones."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy.engine import Connection

from patron.imports.context import ImportContext
from patron.imports.profile import ChunkAnswers, Plan
from patron.imports.profiles.loyalty_customers import ahead, apply, resolve, undo, validate
from patron.imports.profiles.loyalty_customers.spec import FIELDS, OPTIONS, SPEC, UNIQUE_IDENTIFIERS

__all__ = ["FIELDS", "OPTIONS", "PROFILE", "SPEC", "UNIQUE_IDENTIFIERS"]


class LoyaltyCustomers:
    spec = SPEC
    undo_kinds: tuple[str, ...] = ("inserted", "inserted_values", "changes")

    def missing_fields(self, mapped: set[str], options: dict[str, Any]) -> list[str]:
        missing = []
        key = options["unique_identifier"]
        if key not in mapped and "user_id" not in mapped:
            missing.append(f"{key} (the unique identifier) or user_id")
        if "store" not in mapped and not options["replace_invalid_store"]:
            missing.append("store (or set replace_invalid_store)")
        return missing

    def plan(
        self, conn: Connection, ctx: ImportContext, mapped: pl.DataFrame
    ) -> Plan[resolve.Resolution]:
        rows = validate.validate(mapped, ctx)
        del mapped  # the file's text columns are not needed past validation
        resolution = resolve.resolve(conn, rows, ctx)
        return Plan(rows=resolution.rows, data=resolution)

    def looks_ahead(self, conn: Connection) -> bool:
        return ahead.looks_ahead(conn)

    def lookup_keys(self, validated: pl.DataFrame) -> pl.DataFrame:
        return ahead.lookup_keys(validated)

    def look_ahead(
        self, conn: Connection, ctx: ImportContext, keys: list[Path], directory: Path
    ) -> ChunkAnswers:
        return ahead.look_ahead(conn, ctx, keys, directory)

    def apply(
        self, conn: Connection, ctx: ImportContext, plan: Plan[resolve.Resolution]
    ) -> tuple[pl.DataFrame, dict[str, pl.DataFrame]]:
        return apply.apply(conn, ctx, plan.data)

    def finish_commit(self, conn: Connection, ctx: ImportContext) -> None:
        apply.finish(conn, ctx)

    def undo(
        self, conn: Connection, ctx: ImportContext, data: dict[str, pl.DataFrame]
    ) -> pl.DataFrame:
        return undo.undo(conn, ctx, data)


PROFILE = LoyaltyCustomers()
