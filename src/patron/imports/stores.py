"""The store (or till) column of a row: a unit of the org, or the template's replacement.

``ImportContext.stores`` holds the org's stores and tills by code, or by
external id when the template sets ``stores_by_external_id``; the join is one
vectorized lookup. A template's ``replace_invalid_store`` stands in for an empty
or unknown store, and the replacement is recorded as an auto-correction.
"""

from __future__ import annotations

import polars as pl

from patron.imports.codes import RowCode
from patron.imports.context import ImportContext
from patron.imports.profile import OptionSpec
from patron.imports.rowcheck import Checks

REPLACE_INVALID_STORE = OptionSpec(
    "replace_invalid_store",
    "text",
    None,
    "The store (code, or external id with stores_by_external_id) used wherever a row's "
    "store is empty or unknown.",
)
STORES_BY_EXTERNAL_ID = OptionSpec(
    "stores_by_external_id",
    "bool",
    False,
    "The store column holds stores' external ids instead of their codes.",
)


def store_rule(
    checks: Checks,
    ctx: ImportContext,
    *,
    field: str = "store",
    required: bool = True,
    what: str = "store",
) -> None:
    """Resolve ``field`` to ``<field>_unit_id``; errors 97018 (empty, when ``required``) and
    97017 (unknown), unless the template's replacement store stands in."""
    target = f"{field}_unit_id"
    text = checks.raw(field).str.strip_chars()
    checks.frame = (
        checks.frame.with_columns(text.str.to_lowercase().alias("_store_key"))
        .join(
            ctx.stores.rename({"key": "_store_key", "unit_id": target}),
            on="_store_key",
            how="left",
            maintain_order="left",
        )
        .drop("_store_key")
    )
    found = pl.col(target)
    empty = text.is_null() | (text == "")
    replacement = ctx.options.get("replace_invalid_store")
    replacement_id = unit_id(ctx, replacement) if replacement else None
    if replacement is not None and replacement_id is not None:
        column = ctx.column(field)
        checks.correction(
            found.is_null() & (required | ~empty),
            pl.when(empty)
            .then(pl.lit(f"{column}: empty {what} replaced by {replacement}"))
            .otherwise(
                pl.format(
                    "{}: unknown {} '{}' replaced by {}",
                    pl.lit(column),
                    pl.lit(what),
                    text,
                    pl.lit(replacement),
                )
            ),
        )
        fill = pl.lit(replacement_id, dtype=pl.Int64)
        checks.frame = checks.frame.with_columns(
            pl.when(found.is_null() & (pl.lit(required) | ~empty))
            .then(fill)
            .otherwise(found)
            .alias(target)
        )
        return
    if required:
        checks.error(empty, RowCode.STORE_EMPTY, pl.lit(f"invalid {what}: the store is empty"))
    checks.error(
        ~empty & found.is_null(),
        RowCode.STORE_UNKNOWN,
        pl.format(f"invalid {what}: '{{}}' is not a store or till of this org", text),
    )


def unit_id(ctx: ImportContext, key: str) -> int | None:
    """The unit a store code (or external id) names, if the org has it."""
    found = ctx.stores.filter(pl.col("key") == key.strip().lower())
    return int(found["unit_id"][0]) if found.height else None
