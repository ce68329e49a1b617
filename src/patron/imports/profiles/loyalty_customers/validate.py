"""Loyalty Customers, stage 3: normalize and validate every row, column-wise.

The input is the mapped frame (one String column per mapped field, plus
``row``); the output adds the normalized values, a list of ``error_codes`` with
their ``errors`` in plain words, and the ``corrections`` made, per row. Nothing
here touches the database: matching against stored customers is ``resolve``.
"""

from __future__ import annotations

import polars as pl

from patron.imports import columns
from patron.imports.codes import RowCode
from patron.imports.context import ImportContext
from patron.imports.duplicates import reject_duplicates
from patron.imports.profiles.loyalty_customers.spec import FIELDS
from patron.imports.rowcheck import Checks
from patron.orgs.fields import canonical_value

IDENTIFIER_FIELDS = ("mobile", "email", "external_id")
NAME_FIELDS = ("first_name", "last_name")
NUMBER_FIELDS = ("loyalty_points", "lifetime_points", "lifetime_purchases")
DUPLICATE_CODES = {
    "mobile": RowCode.DUPLICATE_MOBILE_IN_FILE,
    "email": RowCode.DUPLICATE_EMAIL_IN_FILE,
    "external_id": RowCode.DUPLICATE_EXTERNAL_ID_IN_FILE,
}
LABELS = {"mobile": "mobile", "email": "email", "external_id": "external id"}
_RAW_KEY = "_raw_value"


def validate(mapped: pl.DataFrame, ctx: ImportContext) -> pl.DataFrame:
    """Every row normalized, with its errors and auto-corrections."""
    checks = Checks(mapped, ctx, [spec.name for spec in FIELDS])
    _identifiers(checks, ctx)
    for name in NAME_FIELDS:
        checks.rule(
            name,
            columns.name(pl.col(name), strict=ctx.settings.strict_names),
            RowCode.INVALID_NAME,
            "invalid name",
        )
    _store(checks, ctx)
    _dates(checks, ctx)
    for name in NUMBER_FIELDS:
        checks.rule(name, columns.number(pl.col(name)), RowCode.INVALID_NUMBER, "invalid number")
    checks.rule(
        "slab_name",
        columns.trimmed_text(pl.col("slab_name"), max_length=100),
        RowCode.INVALID_FIELD_VALUE,
        "invalid slab name",
    )
    _user_id(checks)
    _org_fields(checks, ctx)
    _unique_identifier_present(checks, ctx)
    frame = checks.result()
    return _duplicates_in_file(frame, ctx)


def _identifiers(checks: Checks, ctx: ImportContext) -> None:
    options = ctx.options
    checks.rule(
        "mobile",
        columns.mobile(
            pl.col("mobile"), ctx.mobile_rules, validate=not options["disable_mobile_validation"]
        ),
        RowCode.INVALID_MOBILE,
        "invalid mobile number",
    )
    checks.rule(
        "email",
        columns.email(pl.col("email"), validate=not options["disable_email_validation"]),
        RowCode.INVALID_EMAIL,
        "invalid email id",
    )
    checks.rule(
        "external_id",
        columns.external_id(pl.col("external_id")),
        RowCode.INVALID_EXTERNAL_ID,
        "invalid external id",
    )


def _store(checks: Checks, ctx: ImportContext) -> None:
    """The join store: a known store or till, else the replacement store, else an error."""
    text = checks.raw("store").str.strip_chars()
    key = text.str.to_lowercase().alias("key")
    checks.frame = (
        checks.frame.with_columns(key)
        .join(
            ctx.stores.rename({"unit_id": "store_unit_id"}),
            on="key",
            how="left",
            maintain_order="left",
        )
        .drop("key")
    )
    found = pl.col("store_unit_id")
    empty = text.is_null() | (text == "")
    replacement = ctx.options.get("replace_invalid_store")
    replacement_id = _store_id(ctx, replacement) if replacement else None
    if replacement is not None and replacement_id is not None:
        column = ctx.column("store")
        checks.correction(
            found.is_null(),
            pl.when(empty)
            .then(pl.lit(f"{column}: empty store replaced by {replacement}"))
            .otherwise(
                pl.format(
                    "{}: unknown store '{}' replaced by {}",
                    pl.lit(column),
                    text,
                    pl.lit(replacement),
                )
            ),
        )
        checks.frame = checks.frame.with_columns(
            store_unit_id=found.fill_null(pl.lit(replacement_id, dtype=pl.Int64))
        )
        return
    checks.error(empty, RowCode.STORE_EMPTY, pl.lit("invalid join store: the store is empty"))
    checks.error(
        ~empty & found.is_null(),
        RowCode.STORE_UNKNOWN,
        pl.format("invalid join store: '{}' is not a store or till of this org", text),
    )


def _store_id(ctx: ImportContext, key: str) -> int | None:
    found = ctx.stores.filter(pl.col("key") == key.strip().lower())
    return int(found["unit_id"][0]) if found.height else None


def _dates(checks: Checks, ctx: ImportContext) -> None:
    today = ctx.now.date()
    fmt = ctx.date_format
    checks.rule(
        "registration_date",
        columns.date(pl.col("registration_date"), fmt),
        RowCode.REGISTRATION_DATE_INVALID,
        "invalid registration date",
    )
    checks.error(
        pl.col("registration_date") > pl.lit(today),
        RowCode.REGISTRATION_DATE_INVALID,
        pl.format("invalid registration date: {} is in the future", pl.col("registration_date")),
    )
    if not checks.mapped("join_date"):
        return
    raw = checks.raw("join_date").str.strip_chars()
    checks.rule(
        "join_date",
        columns.date(pl.col("join_date"), fmt),
        RowCode.JOIN_DATE_INVALID,
        "invalid join date",
    )
    checks.error(
        raw.is_null() | (raw == ""),
        RowCode.JOIN_DATE_EMPTY,
        pl.lit("invalid join date: the date of joining is empty"),
    )
    checks.error(
        pl.col("join_date") > pl.lit(today),
        RowCode.JOIN_DATE_IN_FUTURE,
        pl.format("invalid join date: {} is in the future", pl.col("join_date")),
    )


def _user_id(checks: Checks) -> None:
    raw = checks.raw("user_id").str.strip_chars()
    parsed = raw.cast(pl.Int64, strict=False)
    checks.frame = checks.frame.with_columns(user_id=parsed)
    checks.error(
        raw.is_not_null() & (raw != "") & parsed.is_null(),
        RowCode.USER_ID_UNKNOWN,
        pl.format("user id '{}' is not a customer id", raw),
    )


def _org_fields(checks: Checks, ctx: ImportContext) -> None:
    """Custom and extended fields, checked against their definition once per distinct value."""
    for target in checks.mapped_org_fields():
        definition = ctx.fields[target]
        values = checks.frame[target].drop_nulls().unique()
        lookup = pl.DataFrame(
            {
                _RAW_KEY: values,
                "_stored": [
                    canonical_value(definition, value, ctx.max_field_length) for value in values
                ],
            },
            schema={_RAW_KEY: pl.String, "_stored": pl.String},
        )
        checks.frame = (
            checks.frame.with_columns(pl.col(target).alias(_RAW_KEY))
            .join(lookup, on=_RAW_KEY, how="left", maintain_order="left")
            .with_columns(pl.col("_stored").alias(target))
            .drop(_RAW_KEY, "_stored")
        )
        raw = checks.raw(target)
        blank = raw.str.strip_chars().fill_null("") == ""
        checks.error(
            ~blank & pl.col(target).is_null(),
            RowCode.INVALID_FIELD_VALUE,
            pl.format(
                "invalid field value: {} '{}' is not a valid {}",
                pl.lit(ctx.column(target)),
                raw,
                pl.lit(definition.data_type),
            ),
        )


def _unique_identifier_present(checks: Checks, ctx: ImportContext) -> None:
    """A row needs its unique identifier, unless it names the customer by user id."""
    key = ctx.options["unique_identifier"]
    raw = checks.raw(key).str.strip_chars()
    checks.error(
        (raw.is_null() | (raw == "")) & pl.col("user_id").is_null(),
        RowCode.IDENTIFIER_EMPTY,
        pl.lit(f"the customer's unique identifier ({LABELS[key]}) is empty"),
    )


def _duplicates_in_file(frame: pl.DataFrame, ctx: ImportContext) -> pl.DataFrame:
    """Rows sharing a mobile, email or external id are all rejected, each naming the others."""
    for field in IDENTIFIER_FIELDS:
        frame = reject_duplicates(frame, ctx, field, DUPLICATE_CODES[field], LABELS[field])
    return frame
