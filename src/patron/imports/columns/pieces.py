"""What the rules share: trimming, corrections, the checked struct, staged evaluation, and
the rows handed to :mod:`patron.identity.rules` itself; the mobile rule's own pieces."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from typing import Any

import polars as pl

from patron.identity.rules import (
    SPREADSHEET_FLOAT,
    SPREADSHEET_MAX_DIGITS,
    SPREADSHEET_SCIENTIFIC,
    Checked,
    spreadsheet_digits,
)
from patron.imports.columns.semantics import python_whitespace

_EMPTY = pl.lit([], dtype=pl.List(pl.String))


def strip_python(col: pl.Expr) -> pl.Expr:
    return col.str.strip_chars(python_whitespace())


def is_blank(trimmed: pl.Expr) -> pl.Expr:
    return trimmed.is_null() | (trimmed == "")


def was_trimmed(raw: pl.Expr, trimmed: pl.Expr) -> pl.Expr:
    return raw.str.len_bytes() != trimmed.str.len_bytes()


def non_ascii(text: pl.Expr) -> pl.Expr:
    return text.str.len_bytes() != text.str.len_chars()


def corrections_of(*steps: tuple[pl.Expr, str]) -> pl.Expr:
    """The wording of each step whose condition holds, in order.

    The steps that hold make a bit mask, and each of the few possible masks
    picks its ready-made list: no list is built row by row.
    """
    mask = pl.sum_horizontal(
        pl.when(done).then(pl.lit(1 << bit, pl.UInt32)).otherwise(pl.lit(0, pl.UInt32))
        for bit, (done, _) in enumerate(steps)
    )
    lists = pl.Series(
        [
            [text for bit, (_, text) in enumerate(steps) if combination & (1 << bit)]
            for combination in range(1 << len(steps))
        ],
        dtype=pl.List(pl.String),
    )
    return pl.lit(lists).gather(mask)


NO_PROBLEM = pl.lit(None, pl.String)


def staged(col: pl.Expr, steps: Callable[[pl.Series], pl.Series], value: pl.DataType) -> pl.Expr:
    """A rule computed by ``steps`` on the whole column at once.

    Polars evaluates every reference to a sub-expression again (the trimmed
    text of a rule appears a dozen times), so the rules compute their stages
    into named columns of a frame once and refer to those instead.
    """
    return col.map_batches(steps, return_dtype=checked_schema(value), is_elementwise=True)


def trimmed_frame(raw: pl.Series) -> pl.DataFrame:
    return raw.rename("raw").to_frame().with_columns(trimmed=strip_python(pl.col("raw")))


def checked_struct(
    frame: pl.DataFrame,
    name: str,
    blank: pl.Expr,
    value: pl.Expr,
    corrections: pl.Expr,
    problem: pl.Expr,
) -> pl.Series:
    """The Checked struct over the columns of ``frame``, each part computed once: no value
    and no corrections for a problem, nothing for a blank."""
    frame = frame.with_columns(is_blank=blank, _problem=problem).with_columns(
        _accepted=~pl.col("is_blank") & pl.col("_problem").is_null()
    )
    accepted = pl.col("_accepted")
    return frame.select(
        pl.struct(
            value=pl.when(accepted).then(value),
            corrections=pl.when(accepted).then(corrections).otherwise(_EMPTY),
            problem=pl.when(~pl.col("is_blank")).then(pl.col("_problem")),
        ).alias(name)
    ).to_series()


def where_rows(
    frame: pl.DataFrame, rows: pl.Expr, costly: pl.Expr, otherwise: pl.Expr
) -> pl.Series:
    """``costly`` on the rows where ``rows`` holds, ``otherwise`` elsewhere; ``costly`` is
    evaluated on those rows only."""
    result = frame.select(otherwise).to_series()
    at = frame.select(pl.arg_where(rows.fill_null(False))).to_series()
    if at.is_empty():
        return result
    some = frame[at].select(costly).to_series()
    return result.scatter(at, some)


def with_rules(
    raw: pl.Series,
    rows: pl.Series,
    checked: pl.Series,
    check: Callable[[str], Checked],
    value: pl.DataType,
) -> pl.Series:
    """``checked``, with ``check`` (a rules.py function) deciding ``rows`` instead."""
    if not rows.any():
        return checked
    frame = pl.DataFrame({"raw": raw, "rows": rows, "checked": checked})
    merged = _merge(
        pl.col("rows"), _via_rules(pl.col("raw"), pl.col("rows"), check, value), pl.col("checked")
    )
    return frame.select(merged.alias(raw.name)).to_series()


def checked_schema(value: pl.DataType) -> pl.Struct:
    return pl.Struct({"value": value, "corrections": pl.List(pl.String), "problem": pl.String})


def _via_rules(
    raw: pl.Expr, rows: pl.Expr, check: Callable[[str], Checked], value: pl.DataType
) -> pl.Expr:
    """``check`` applied by Python to the raw text of ``rows`` only (null elsewhere)."""

    def row(text: str) -> dict[str, Any]:
        checked = check(text)
        return {
            "value": checked.value,
            "corrections": list(checked.corrections),
            "problem": checked.problem,
        }

    return (
        pl.when(rows)
        .then(raw)
        .map_elements(row, return_dtype=checked_schema(value), skip_nulls=True)
    )


def _merge(rows: pl.Expr, python: pl.Expr, vectorized: pl.Expr) -> pl.Expr:
    return pl.struct(
        pl.when(rows).then(python.struct.field(f)).otherwise(vectorized.struct.field(f)).alias(f)
        for f in ("value", "corrections", "problem")
    ).name.keep()


COMPATIBLE = pl.Struct({"text": pl.String, "converted": pl.Boolean, "spreadsheet": pl.Boolean})


def compatible_form(text: str) -> dict[str, Any]:
    """NFKC and spreadsheet digits of a non-ASCII mobile, as rules.normalize_mobile does them."""
    compatible = unicodedata.normalize("NFKC", text)
    digits = spreadsheet_digits(compatible)
    return {
        "text": compatible if digits is None else digits,
        "converted": compatible != text,
        "spreadsheet": digits is not None,
    }


def sheet_digits(text: pl.Expr) -> pl.Expr:
    """:func:`~patron.identity.rules.spreadsheet_digits` for ASCII text (other rows: Python).

    The scientific form is exact decimal arithmetic on the digit strings:
    ``m.f E e`` is an integer when ``f`` without trailing zeros has at most
    ``e`` digits, and then its digits are ``m f`` followed by zeros; an integer
    of more than ``SPREADSHEET_MAX_DIGITS`` digits is left as text.
    """
    limit = SPREADSHEET_MAX_DIGITS
    mantissa = text.str.to_lowercase().str.split("e").list.first()
    exponent_text = text.str.to_lowercase().str.split("e").list.last().str.strip_chars_start("+0")
    exponent = (
        pl.when(exponent_text.str.len_chars() > len(str(limit)))
        .then(pl.lit(limit + 1, pl.Int64))
        .otherwise(exponent_text.cast(pl.Int64, strict=False).fill_null(0))
    )
    fraction = (
        mantissa.str.split(".").list.get(1, null_on_oob=True).fill_null("").str.strip_chars_end("0")
    )
    significant = pl.concat_str(
        mantissa.str.split(".").list.first(), fraction
    ).str.strip_chars_start("0")
    length = significant.str.len_chars() + exponent - fraction.str.len_chars()
    scientific = (
        pl.when(~text.str.contains(SPREADSHEET_SCIENTIFIC) | (fraction.str.len_chars() > exponent))
        .then(pl.lit(None, pl.String))
        .when(significant == "")
        .then(pl.lit("0"))
        .when(length <= limit)
        .then(significant.str.pad_end(length.clip(0), "0"))
    )
    return pl.coalesce(text.str.extract(SPREADSHEET_FLOAT, 1), scientific)
