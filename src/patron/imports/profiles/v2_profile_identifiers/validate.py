"""V2 Profile Identifier Add/Update, validation: each column by its rule, vectorized."""

from __future__ import annotations

from typing import Any

import polars as pl
from sqlalchemy.engine import Connection

from patron.identity.types import IDENTIFIER_TYPES, MULTI_ACCOUNT_SOURCES, Source
from patron.imports import columns
from patron.imports.codes import RowCode
from patron.imports.context import ImportContext
from patron.imports.customers import customer_key, find_customers
from patron.imports.duplicates import reject_duplicates
from patron.imports.profiles.v2_profile_identifiers.spec import (
    _SOURCE_SPELLINGS,
    _TYPE_SPELLINGS,
    FIELDS,
)
from patron.imports.rowcheck import Checks


def validate(conn: Connection, ctx: ImportContext, mapped: pl.DataFrame) -> pl.DataFrame:
    """Every row checked, with the customer its user id names (no other store access)."""
    checks = Checks(mapped, ctx, [spec.name for spec in FIELDS])
    customer_key(checks, ctx, "user_id")
    _source_rule(checks)
    _account_rule(checks)
    _type_rule(checks)
    _value_rule(checks, ctx)
    rows = checks.result().with_columns(
        _identifier=pl.format("{} {}", "identifier_type", "identifier_value"),
        _target=pl.format(
            "{} on {}/{} of user {}", "identifier_type", "source", "account_id", "user_id"
        ),
    )
    rows = reject_duplicates(
        rows, ctx, "_identifier", RowCode.V2_DUPLICATE_IDENTIFIER_IN_FILE, "identifier"
    )
    rows = reject_duplicates(
        rows, ctx, "_target", RowCode.V2_DUPLICATE_TARGET_IN_FILE, "identifier type"
    )
    return find_customers(conn, rows, ctx, "user_id").drop("_identifier", "_target")


def _source_rule(checks: Checks) -> None:
    text = checks.raw("source").str.strip_chars()
    spelled = text.str.replace_all(r"[\s_\-]", "").str.to_lowercase()
    source = spelled.replace_strict(_SOURCE_SPELLINGS, default=None, return_dtype=pl.String)
    checks.frame = checks.frame.with_columns(source=source)
    empty = text.is_null() | (text == "")
    checks.error(empty, RowCode.V2_SOURCE_UNKNOWN, pl.lit("the source is empty"))
    checks.error(
        ~empty & pl.col("source").is_null(),
        RowCode.V2_SOURCE_UNKNOWN,
        pl.format(
            "unknown source '{}'; sources: {}", text, pl.lit(", ".join(s.value for s in Source))
        ),
    )
    checks.correction(
        pl.col("source").is_not_null() & (text != pl.col("source")),
        pl.format("{}: source {} read as {}", pl.lit(checks.ctx.column("source")), text, "source"),
    )


def _account_rule(checks: Checks) -> None:
    checks.rule(
        "account_id",
        columns.plain_identifier(pl.col("account_id"), max_length=100),
        RowCode.V2_ACCOUNT_ID_INVALID,
        "invalid account id",
    )
    needs = pl.col("source").is_in([source.value for source in MULTI_ACCOUNT_SOURCES])
    blank = checks.raw("account_id").str.strip_chars().fill_null("") == ""
    checks.error(
        needs & blank,
        RowCode.V2_ACCOUNT_ID_MISSING,
        pl.format("source {} needs an account id", "source"),
    )
    checks.frame = checks.frame.with_columns(pl.col("account_id").fill_null(""))


def _type_rule(checks: Checks) -> None:
    text = checks.raw("identifier_type").str.strip_chars()
    kind = text.str.to_lowercase().replace_strict(_TYPE_SPELLINGS, default=None)
    checks.frame = checks.frame.with_columns(identifier_type=kind)
    empty = text.is_null() | (text == "")
    checks.error(
        empty | pl.col("identifier_type").is_null(),
        RowCode.V2_IDENTIFIER_TYPE_UNKNOWN,
        pl.format(
            "unknown identifier type '{}'; types: {}",
            text.fill_null(""),
            pl.lit(", ".join(IDENTIFIER_TYPES)),
        ),
    )
    checks.error(
        pl.col("identifier_type") == "cardnumber",
        RowCode.V2_CARD_NUMBER,
        pl.lit("card numbers are issued with the Card Import profile, which links the card too"),
    )
    checks.correction(
        pl.col("identifier_type").is_not_null() & (checks.raw("identifier_type") != text),
        pl.lit(f"{checks.ctx.column('identifier_type')}: whitespace trimmed"),
    )


def _value_rule(checks: Checks, ctx: ImportContext) -> None:
    """The rule of each row's identifier type: mobile, email, external id, or plain."""
    value = pl.col("identifier_value")
    kind = pl.col("identifier_type")
    by_type = {
        "mobile": columns.mobile(value, ctx.mobile_rules),
        "email": columns.email(value),
        "externalId": columns.external_id(value),
    }
    plain = columns.plain_identifier(value)

    def pick(part: str) -> pl.Expr:
        chosen: Any = pl.when(kind == "mobile").then(by_type["mobile"].struct.field(part))
        for name in ("email", "externalId"):
            chosen = chosen.when(kind == name).then(by_type[name].struct.field(part))
        picked: pl.Expr = chosen.otherwise(plain.struct.field(part))
        return picked

    checked = pl.struct(
        value=pick("value"), corrections=pick("corrections"), problem=pick("problem")
    )
    checks.rule(
        "identifier_value", checked, RowCode.V2_IDENTIFIER_VALUE_INVALID, "invalid identifier"
    )
    raw = checks.raw("identifier_value").str.strip_chars()
    checks.error(
        raw.is_null() | (raw == ""),
        RowCode.V2_IDENTIFIER_VALUE_INVALID,
        pl.lit("the identifier value is empty"),
    )
