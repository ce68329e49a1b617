"""Coupon Redemption, validation: every row normalized and checked, column-wise.

The customer column is read as the identifier the template chooses; the series
id resolves to the org's series (or the template's replacement); the store, the
redemption date (a date or a date-time), the transaction number and the amount
are checked. Only the series are read from the database here.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC

import polars as pl
from sqlalchemy.engine import Connection

from patron.coupons import bulk_repository
from patron.imports import columns
from patron.imports.codes import INVALID_OPTION, RowCode
from patron.imports.context import ImportContext
from patron.imports.customers import customer_key
from patron.imports.profiles.coupon_redemption.spec import (
    AMOUNT_LIMIT,
    CODE_MAX_LENGTH,
    FIELDS,
    TRANSACTION_MAX_LENGTH,
    replacement_series,
)
from patron.imports.rowcheck import Checks
from patron.imports.stores import store_rule
from patron.kit.db import MAX_ID
from patron.kit.errors import InvalidInput

_EMPTY_TEXT = pl.lit([], dtype=pl.List(pl.String))
_MOMENT_FORMAT = "%Y-%m-%d %H:%M:%S"
#: strptime directives that give a time of day: a format without one also reads date-times.
_TIME_DIRECTIVES = ("%H", "%I", "%M", "%S", "%T", "%R", "%p", "%c", "%X", "%r")
_ISO = (
    r"^(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})"
    r"(?:[T ](?P<hour>[0-9]{2}):(?P<minute>[0-9]{2})"
    r"(?::(?P<second>[0-9]{2})(?:[.,](?P<fraction>[0-9]{1,9}))?)?"
    r" ?(?P<zone>Z|z|[+-][0-9]{2}:?[0-9]{2})?)?$"
)


def validate(
    conn: Connection, ctx: ImportContext, mapped: pl.DataFrame
) -> tuple[pl.DataFrame, ImportContext]:
    """Every row with its normalized values, errors and auto-corrections, and the context
    whose messages name the file's customer column after the chosen identifier."""
    key = ctx.options["unique_identifier"]
    ctx = replace(ctx, columns={**ctx.columns, key: ctx.column("customer")})
    if "customer" in mapped.columns:
        mapped = mapped.rename({"customer": key})
    names = [spec.name for spec in FIELDS if spec.name != "customer"]
    checks = Checks(mapped, ctx, [*names, key])
    customer_key(checks, ctx, key)
    _series_rule(conn, checks, ctx)
    checks.rule(
        "coupon_code",
        columns.plain_identifier(pl.col("coupon_code"), max_length=CODE_MAX_LENGTH),
        RowCode.COUPON_UNKNOWN,
        "invalid coupon code",
    )
    checks.error(
        _blank(checks.raw("coupon_code")),
        RowCode.COUPON_CODE_EMPTY,
        pl.lit("the coupon code is empty"),
    )
    store_rule(checks, ctx, required=True)
    _date_rule(checks, ctx)
    _transaction_rule(checks)
    _amount_rule(checks)
    return checks.result(), ctx


def _blank(text: pl.Expr) -> pl.Expr:
    trimmed = text.str.strip_chars()
    return trimmed.is_null() | (trimmed == "")


def _series_rule(conn: Connection, checks: Checks, ctx: ImportContext) -> None:
    """``series_id`` -> the series' internal id, its number and its rules; the template's
    replacement stands in for an empty, invalid or unknown id (an auto-correction)."""
    raw = checks.raw("series_id").str.strip_chars()
    number = pl.when(raw.str.contains(r"^[0-9]{1,19}$")).then(raw.cast(pl.Int64, strict=False))
    number = pl.when(number.is_between(1, MAX_ID)).then(number)
    checks.frame = checks.frame.with_columns(_number=number)
    replacement = replacement_series(ctx.options)
    wanted = checks.frame["_number"]
    if replacement is not None:
        wanted = pl.concat([wanted, pl.Series([replacement], dtype=pl.Int64)])
    known = bulk_repository.series_frame(conn, ctx.org_id, wanted)
    if replacement is not None and replacement not in set(known["series_number"].to_list()):
        raise InvalidInput(
            INVALID_OPTION,
            f"option replace_invalid_series_id: {replacement} is not a coupon series of this org",
        )
    found = pl.col("_number").is_in(known["series_number"].implode()).fill_null(False)
    empty = raw.is_null() | (raw == "")
    if replacement is not None:
        column = ctx.column("series_id")
        checks.correction(
            ~found,
            pl.when(empty)
            .then(pl.lit(f"{column}: empty series id replaced by {replacement}"))
            .when(pl.col("_number").is_null())
            .then(pl.format(f"{column}: invalid series id '{{}}' replaced by {replacement}", raw))
            .otherwise(
                pl.format(f"{column}: unknown series id {{}} replaced by {replacement}", raw)
            ),
        )
        checks.frame = checks.frame.with_columns(
            _number=pl.when(found).then("_number").otherwise(pl.lit(replacement, dtype=pl.Int64))
        )
    else:
        checks.error(
            empty, RowCode.COUPON_SERIES_ID_INVALID, pl.lit("the coupon series id is empty")
        )
        checks.error(
            ~empty & pl.col("_number").is_null(),
            RowCode.COUPON_SERIES_ID_INVALID,
            pl.format("'{}' is not a coupon series id (a positive whole number)", raw),
        )
        checks.error(
            pl.col("_number").is_not_null() & ~found,
            RowCode.COUPON_SERIES_UNKNOWN,
            pl.format("no coupon series {} in this org", pl.col("_number")),
        )
    checks.frame = (
        checks.frame.drop("series_id")
        .join(
            known.rename({"series_number": "_number"}),
            on="_number",
            how="left",
            maintain_order="left",
        )
        .rename({"_number": "series_number"})
    )


def _date_rule(checks: Checks, ctx: ImportContext) -> None:
    """``redeemed_date`` -> ``redeemed_at`` (naive UTC); empty, invalid or future: errors."""
    checks.rule(
        "redeemed_date",
        _moment(pl.col("redeemed_date"), ctx.date_format),
        RowCode.REDEMPTION_DATE_INVALID,
        "invalid redeemed date",
    )
    checks.frame = checks.frame.rename({"redeemed_date": "redeemed_at"})
    checks.error(
        _blank(checks.raw("redeemed_date")),
        RowCode.REDEMPTION_DATE_EMPTY,
        pl.lit("the redeemed date is empty"),
    )
    now = ctx.now.astimezone(UTC).replace(tzinfo=None)
    checks.error(
        pl.col("redeemed_at") > pl.lit(now),
        RowCode.REDEMPTION_DATE_IN_FUTURE,
        pl.format("the redeemed date {} is in the future", shown(pl.col("redeemed_at"))),
    )


def _moment(col: pl.Expr, fmt: str | None) -> pl.Expr:
    """A date or date-time cell as a ``{value, corrections, problem}`` struct (naive UTC).

    Without a format: ISO, ``2016-12-15``, ``2016-12-15 15:06`` or
    ``2016-12-15T15:06:00.5+05:30`` (the offset is applied). With a format (strptime
    style) the cell must follow it; a format of a date alone also reads that date
    followed by ``HH:MM`` or ``HH:MM:SS``. An ambiguous date is never guessed.
    """
    text = col.str.strip_chars()
    blank = text.is_null() | (text == "")
    if fmt:
        parsed = _formatted(text, fmt)
        wanted = f"the format {fmt}"
    else:
        parsed = _iso(text)
        wanted = "ISO (2016-12-15 or 2016-12-15 15:06), or declare the template's date format"
    return pl.struct(
        value=pl.when(~blank).then(parsed),
        corrections=pl.when(~blank & parsed.is_not_null() & (col != text))
        .then(pl.lit([columns.TRIMMED]))
        .otherwise(_EMPTY_TEXT),
        problem=pl.when(~blank & parsed.is_null()).then(
            pl.format("'{}' is not a date or date-time in {}", text, pl.lit(wanted))
        ),
    ).alias("redeemed_date")


def _formatted(text: pl.Expr, fmt: str) -> pl.Expr:
    formats = [fmt]
    if not any(directive in fmt for directive in _TIME_DIRECTIVES):
        formats += [f"{fmt} %H:%M", f"{fmt} %H:%M:%S"]
    parsed = []
    for each in formats:
        if "%z" in each:  # an offset in the cell: the moment in UTC
            zoned = text.str.strptime(pl.Datetime("us", "UTC"), each, strict=False)
            parsed.append(zoned.dt.replace_time_zone(None))
        else:
            parsed.append(text.str.strptime(pl.Datetime("us"), each, strict=False))
    return pl.coalesce(parsed)


def _iso(text: pl.Expr) -> pl.Expr:
    parts = text.str.extract_groups(_ISO)

    def part(name: str) -> pl.Expr:
        return parts.struct.field(name)

    day = part("date").str.to_date("%Y-%m-%d", strict=False)
    hour = part("hour").cast(pl.Int64).fill_null(0)
    minute = part("minute").cast(pl.Int64).fill_null(0)
    second = part("second").cast(pl.Int64).fill_null(0)
    micro = part("fraction").str.slice(0, 6).str.pad_end(6, "0").cast(pl.Int64).fill_null(0)
    zone = part("zone").str.replace(":", "")
    sign = pl.when(zone.str.starts_with("-")).then(-1).otherwise(1)
    offset = (
        pl.when(zone.is_null() | (zone.str.to_uppercase() == "Z"))
        .then(0)
        .otherwise(
            sign * (zone.str.slice(1, 2).cast(pl.Int64) * 60 + zone.str.slice(3, 2).cast(pl.Int64))
        )
    )
    valid = (hour < 24) & (minute < 60) & (second < 60) & (offset.abs() < 24 * 60)
    moment = day.cast(pl.Datetime("us")) + pl.duration(
        hours=hour, minutes=minute - offset, seconds=second, microseconds=micro
    )
    return pl.when(valid & day.is_not_null()).then(moment)


def shown(moment: pl.Expr) -> pl.Expr:
    return moment.dt.strftime(_MOMENT_FORMAT)


def _transaction_rule(checks: Checks) -> None:
    checks.rule(
        "transaction_number",
        columns.plain_identifier(pl.col("transaction_number"), max_length=TRANSACTION_MAX_LENGTH),
        RowCode.REDEMPTION_TRANSACTION_INVALID,
        "invalid transaction number",
    )
    checks.error(
        _blank(checks.raw("transaction_number")),
        RowCode.REDEMPTION_TRANSACTION_EMPTY,
        pl.lit("the transaction number is empty"),
    )


def _amount_rule(checks: Checks) -> None:
    checks.rule(
        "amount", columns.number(pl.col("amount")), RowCode.INVALID_NUMBER, "invalid amount"
    )
    amount = pl.col("amount")
    checks.error(
        amount < 0,
        RowCode.INVALID_NUMBER,
        pl.format("invalid amount: {} is negative", checks.raw("amount").str.strip_chars()),
    )
    checks.error(
        amount.abs() >= AMOUNT_LIMIT,
        RowCode.INVALID_NUMBER,
        pl.lit("invalid amount: it must be below 10^16"),
    )
    checks.frame = checks.frame.with_columns(
        amount=pl.when(amount.is_between(0, AMOUNT_LIMIT, closed="left")).then(amount.round(2))
    )
