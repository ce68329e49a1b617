"""Dates as ``date.fromisoformat`` and ``datetime.strptime`` read them, column-wise."""

from __future__ import annotations

import _strptime  # type: ignore[import-not-found]  # no stub; see strptime_date
import re
from datetime import date as Date

import polars as pl

from patron.identity.rules import (
    parse_date,
)
from patron.imports.columns.semantics import rust_pattern


def calendar_date(year: pl.Expr, ymd: pl.Expr) -> pl.Expr:
    """``YYYY-MM-DD`` text as a date; Python has no year 0 (polars does)."""
    return pl.when(year != "0000").then(ymd.str.to_date("%Y-%m-%d", strict=False))


def iso_date(text: pl.Expr) -> pl.Expr:
    """``date.fromisoformat`` as CPython 3.11 implements it (``parse_isoformat_date``).

    It accepts 7, 8 or 10 UTF-8 bytes: ``YYYY-MM-DD``, ``YYYYMMDD``,
    ``YYYY-Www``, ``YYYY-Www-D``, ``YYYYWww``, ``YYYYWwwD``, and does not check
    that the basic forms used the whole string, so ``20240301ab`` and
    ``2024W011ab`` are dates too. Reproduced on purpose: the API and the
    import must agree.
    """
    size = text.str.len_bytes()
    year = text.str.slice(0, 4)
    extended = text.str.contains(r"^[0-9]{4}-")
    calendar = (extended & text.str.contains(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")) | (
        text.str.contains(r"^[0-9]{8}") & size.is_in([8, 10])
    )
    ymd = (
        pl.when(extended)
        .then(text)
        .otherwise(pl.format("{}-{}-{}", year, text.str.slice(4, 2), text.str.slice(6, 2)))
    )
    week = pl.when(extended).then(text.str.slice(6, 2)).otherwise(text.str.slice(5, 2))
    weekday = (
        pl.when(
            text.str.contains(r"^[0-9]{4}-W[0-9]{2}$") | text.str.contains(r"^[0-9]{4}W[0-9]{2}$")
        )
        .then(pl.lit("1"))
        .when(text.str.contains(r"^[0-9]{4}-W[0-9]{2}-[0-9]$"))
        .then(text.str.slice(9, 1))
        .when(text.str.contains(r"^[0-9]{4}W[0-9]{3}") & size.is_in([8, 10]))
        .then(text.str.slice(7, 1))
    )
    return (
        pl.when(calendar)
        .then(calendar_date(year, ymd))
        .when(weekday.is_not_null())
        .then(
            _week_date(
                year, week.cast(pl.Int32, strict=False), weekday.cast(pl.Int32, strict=False)
            )
        )
    )


def _week_date(year: pl.Expr, week: pl.Expr, weekday: pl.Expr) -> pl.Expr:
    """An ISO week date (``iso_to_ymd``): week 53 only in long years, result in 1..9999."""
    january = pl.when(year != "0000").then(
        pl.format("{}-01-01", year).str.to_date("%Y-%m-%d", strict=False)
    )
    first = january.dt.weekday()  # Monday = 1
    long_year = (first == 4) | ((first == 3) & january.dt.is_leap_year())
    # Week 1 holds the year's first Thursday: its Monday is within 3 days of 1 January.
    monday = january + pl.duration(days=pl.when(first <= 4).then(1 - first).otherwise(8 - first))
    day = monday + pl.duration(days=(week - 1) * 7 + weekday - 1)
    valid = (week.is_between(1, 52) | ((week == 53) & long_year)) & weekday.is_between(1, 7)
    return pl.when(valid & (day.dt.year() <= 9999)).then(day)


#: strptime directives whose values strptime_date computes (as _strptime._strptime does).
_DATE_DIRECTIVES = frozenset("dmyYbBHMSf%")


def strptime_date(text: pl.Expr, fmt: str) -> pl.Expr:
    """``datetime.strptime(text, fmt).date()`` for ASCII text.

    The match is CPython's own: ``_strptime.TimeRE`` (the live table of the
    running Python, in its current locale) turns ``fmt`` into the regex strptime
    uses, which the regex crate runs unchanged once ``\\s`` is translated; both
    engines are leftmost-first, so they find the same match, and strptime
    requires it to cover the text. The date is then built from the groups as
    ``_strptime`` does it (``%y``: 69-99 in the 1900s; default year 1900, which
    makes 29 February without a year invalid; seconds 60 and 61 are rejected by
    ``datetime``). Other directives (``%j``, ``%a``, ``%p``, ``%z``, ...) and
    repeated ones are left to polars' own parser, which is close to strptime
    but not identical.
    """
    directives = re.findall(r"%(.)", fmt)
    if not set(directives) <= _DATE_DIRECTIVES or len(set(directives)) != len(directives):
        return text.str.strptime(pl.Datetime("us"), fmt, strict=False).dt.date()
    time_re = _strptime.TimeRE()
    pattern = rust_pattern(time_re.pattern(fmt))
    groups = text.str.extract_groups(f"(?i)^(?P<whole>{pattern})")
    whole = groups.struct.field("whole")
    matched = whole.str.len_bytes() == text.str.len_bytes()

    def group(directive: str) -> pl.Expr:
        return groups.struct.field(directive)

    year: pl.Expr = pl.lit(1900)
    month: pl.Expr = pl.lit(1)
    day: pl.Expr = pl.lit(1)
    valid: pl.Expr = pl.lit(True)
    for directive in directives:  # the order of the groups: a later one wins
        if directive == "Y":
            year = group("Y").cast(pl.Int32, strict=False)
        elif directive == "y":
            short = group("y").cast(pl.Int32, strict=False)
            year = short + pl.when(short <= 68).then(2000).otherwise(1900)
        elif directive == "m":
            month = group("m").cast(pl.Int32, strict=False)
        elif directive in "bB":
            names = time_re.locale_time.a_month if directive == "b" else time_re.locale_time.f_month
            month = (
                group(directive)
                .str.to_lowercase()
                .replace_strict(names[1:], range(1, 13), default=None, return_dtype=pl.Int32)
            )
        elif directive == "d":
            day = group("d").str.strip_chars(" ").cast(pl.Int32, strict=False)
        elif directive == "S":
            valid = group("S").cast(pl.Int32, strict=False) < 60
    ymd = pl.format(
        "{}-{}-{}",
        year.cast(pl.String).str.zfill(4),
        month.cast(pl.String).str.zfill(2),
        day.cast(pl.String).str.zfill(2),
    )
    return pl.when(matched & valid & (year >= 1)).then(ymd.str.to_date("%Y-%m-%d", strict=False))


def python_date(raw: str, *, fmt: str) -> Date | None:
    return parse_date(raw, fmt)
