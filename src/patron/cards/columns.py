"""The card rules of :mod:`patron.cards.rules` as polars expressions, for the import path.

Each expression gives what its rules.py function returns, row by row (a test
compares them on generated values): a problem text, or null when the value is fine.
"""

from __future__ import annotations

import polars as pl

from patron.cards.rules import (
    AFFIX_FORBIDDEN,
    AFFIX_MAX_LENGTH,
    CARD_NUMBER_MAX_LENGTH,
    SERIES_CODE_MAX_LENGTH,
    SERIES_CODE_PATTERN,
)


def _joined(parts: list[pl.Expr]) -> pl.Expr:
    text = pl.concat_str(parts, separator="; ", ignore_nulls=True)
    return pl.when(text != "").then(text)


def series_code_problem(code: pl.Expr) -> pl.Expr:
    """:func:`~patron.cards.rules.series_code_problem` of a trimmed, non-empty code."""
    return (
        pl.when(code.str.len_chars() > SERIES_CODE_MAX_LENGTH)
        .then(pl.lit(f"a series code has at most {SERIES_CODE_MAX_LENGTH} characters"))
        .when(~code.str.contains(SERIES_CODE_PATTERN))
        .then(
            pl.format(
                "'{}' is not alphanumeric: a series code has only letters A-Z and digits", code
            )
        )
    )


def affix_problem(affix: pl.Expr, what: str) -> pl.Expr:
    """:func:`~patron.cards.rules.affix_problem`."""
    return (
        pl.when(affix.str.len_chars() > AFFIX_MAX_LENGTH)
        .then(pl.lit(f"a card {what} has at most {AFFIX_MAX_LENGTH} characters"))
        .when(affix.str.contains(AFFIX_FORBIDDEN))
        .then(pl.lit(f"a card {what} may not contain spaces or control characters"))
    )


def misfit(number: pl.Expr, prefix: pl.Expr, suffix: pl.Expr, length: pl.Expr) -> pl.Expr:
    """:func:`~patron.cards.rules.misfit`: every part of the shape ``number`` breaks."""
    size = number.str.len_chars()
    return _joined(
        [
            pl.when(~number.str.starts_with(prefix)).then(
                pl.format("does not start with the prefix '{}'", prefix)
            ),
            pl.when(~number.str.ends_with(suffix)).then(
                pl.format("does not end with the suffix '{}'", suffix)
            ),
            pl.when(length.is_not_null() & (size != length))
            .then(pl.format("has {} characters, not {}", size, length))
            .when(size < prefix.str.len_chars() + suffix.str.len_chars())
            .then(pl.lit("is shorter than prefix and suffix together")),
        ]
    )


def shape_problem(prefix: pl.Expr, suffix: pl.Expr, length: pl.Expr, generates: pl.Expr) -> pl.Expr:
    """:func:`~patron.cards.rules.shape_problem`."""
    fixed = prefix.str.len_chars() + suffix.str.len_chars()
    known = length.is_not_null()
    return (
        pl.when(known & ((length < 1) | (length > CARD_NUMBER_MAX_LENGTH)))
        .then(pl.lit(f"the card length must be between 1 and {CARD_NUMBER_MAX_LENGTH}"))
        .when(known & (fixed > length))
        .then(
            pl.format(
                "prefix and suffix have {} characters, more than the card length {}",
                fixed,
                length,
            )
        )
        .when(generates & ~known)
        .then(pl.lit("a series that generates its cards needs a card length"))
        .when(generates & known & (fixed >= length))
        .then(
            pl.format(
                "the card length {} leaves no digit between prefix and suffix "
                "for generated card numbers",
                length,
            )
        )
    )


def label_key(label: pl.Expr) -> pl.Expr:
    """:func:`~patron.cards.rules.label_key`."""
    return label.str.strip_chars().str.to_lowercase().str.replace_all(r"[\s_-]+", "_")
