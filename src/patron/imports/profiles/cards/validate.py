"""Card Import, validation: every row normalized and checked, column-wise, and a card
number or card external id in two rows of the file rejects each such row.

The number must fit its series' shape; the status label resolves to an org label
or a system status; the store or till and the card external id are checked, and
so is the holder's identifier when rows link holders. Only the series and the
labels are read from the database here.
"""

from __future__ import annotations

import polars as pl
from sqlalchemy.engine import Connection

from patron.cards import bulk_repository, service
from patron.cards import columns as card_columns
from patron.cards.rules import CARD_NUMBER_MAX_LENGTH
from patron.imports import columns
from patron.imports.codes import RowCode
from patron.imports.context import ImportContext
from patron.imports.customers import customer_key
from patron.imports.duplicates import reject_duplicates
from patron.imports.profiles.card_series import series_code_rule
from patron.imports.profiles.cards.spec import FIELDS
from patron.imports.rowcheck import Checks
from patron.imports.stores import store_rule


def validate(
    conn: Connection, ctx: ImportContext, mapped: pl.DataFrame, *, linking: bool
) -> pl.DataFrame:
    """Every row with its normalized values, series, label and errors; with ``linking``,
    the holder's identifier (the template's ``unique_identifier``) is checked too."""
    key = ctx.options["unique_identifier"]
    checks = Checks(mapped, ctx, [spec.name for spec in FIELDS])
    _number_rule(checks, ctx)
    series_code_rule(checks, ctx)
    _series_rule(conn, checks, ctx)
    _label_rule(conn, checks, ctx)
    store_rule(checks, ctx, what="store or till")
    checks.rule(
        "card_external_id",
        columns.external_id(pl.col("card_external_id")),
        RowCode.CARD_EXTERNAL_ID_INVALID,
        "invalid card external id",
    )
    if linking:
        customer_key(checks, ctx, key, required=False)
    rows = reject_duplicates(
        checks.result(), ctx, "card_number", RowCode.DUPLICATE_CARD_IN_FILE, "card number"
    )
    return reject_duplicates(
        rows,
        ctx,
        "card_external_id",
        RowCode.DUPLICATE_CARD_EXTERNAL_ID_IN_FILE,
        "card external id",
    )


def _number_rule(checks: Checks, ctx: ImportContext) -> None:
    checks.rule(
        "card_number",
        columns.plain_identifier(pl.col("card_number"), max_length=CARD_NUMBER_MAX_LENGTH),
        RowCode.CARD_NUMBER_INVALID,
        "invalid card number",
    )
    raw = checks.raw("card_number").str.strip_chars()
    checks.error(
        raw.is_null() | (raw == ""), RowCode.CARD_NUMBER_EMPTY, pl.lit("the card number is empty")
    )


def _series_rule(conn: Connection, checks: Checks, ctx: ImportContext) -> None:
    """``series_key`` -> the series (``series_id``, its shape); the number must fit it."""
    stored = bulk_repository.series_frame(conn, ctx.org_id).select(
        "series_id",
        "prefix",
        "suffix",
        "length",
        "expiry_days",
        series_key=pl.col("code").str.to_uppercase(),
        series_name=pl.col("code"),
    )
    checks.frame = checks.frame.join(stored, on="series_key", how="left", maintain_order="left")
    code = pl.col("series_code")
    valid_code = code.is_not_null() & card_columns.series_code_problem(code).is_null()
    checks.error(
        valid_code & pl.col("series_id").is_null(),
        RowCode.SERIES_UNKNOWN,
        pl.format("unknown card series '{}': add the series first (card-series import)", code),
    )
    number = pl.col("card_number")
    misfit = card_columns.misfit(number, pl.col("prefix"), pl.col("suffix"), pl.col("length"))
    checks.error(
        pl.col("series_id").is_not_null() & number.is_not_null() & misfit.is_not_null(),
        RowCode.CARD_NUMBER_NOT_IN_SERIES,
        pl.format(
            "card number {} does not fit series {}: {}", number, pl.col("series_name"), misfit
        ),
    )


def _label_rule(conn: Connection, checks: Checks, ctx: ImportContext) -> None:
    """``status_label`` -> ``label`` (as the org spells it) and ``system_status``."""
    known = service.labels(conn, ctx.org_id)
    labels = pl.DataFrame(
        {
            "_label_key": [label.key for label in known],
            "label": [label.label for label in known],
            "system_status": [label.system_status for label in known],
        },
        schema={"_label_key": pl.String, "label": pl.String, "system_status": pl.String},
    )
    text = checks.raw("status_label").str.strip_chars()
    checks.frame = (
        checks.frame.with_columns(card_columns.label_key(text).alias("_label_key"))
        .join(labels, on="_label_key", how="left", maintain_order="left")
        .drop("_label_key")
    )
    empty = text.is_null() | (text == "")
    listed = ", ".join(label.label for label in known)
    checks.error(empty, RowCode.CARD_STATUS_LABEL_EMPTY, pl.lit("the card status label is empty"))
    checks.error(
        ~empty & pl.col("label").is_null(),
        RowCode.CARD_STATUS_LABEL_UNKNOWN,
        pl.format("unknown card status label '{}'; the labels are: {}", text, pl.lit(listed)),
    )
