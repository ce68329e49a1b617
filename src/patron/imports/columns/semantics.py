"""Python's string semantics in the syntax of polars' regex crate: whitespace, patterns,
and the org's mobile regex."""

from __future__ import annotations

import functools
import re
import sys
import warnings

import polars as pl


@functools.cache
def python_whitespace() -> str:
    """Every character ``str.isspace`` accepts: ``str.strip``, ``str.split``, ``re``'s ``\\s``."""
    return "".join(c for c in map(chr, range(sys.maxunicode + 1)) if c.isspace())


@functools.cache
def whitespace_class() -> str:
    return "[" + "".join(f"\\x{{{ord(c):X}}}" for c in python_whitespace()) + "]"


def rust_pattern(pattern: str) -> str:
    """A rules.py pattern (Python ``re`` / ``regex`` syntax) for polars' regex crate.

    Every construct the constants use has the same syntax and meaning in the
    crate (``\\p{L}``, ``\\u2019``, ``\\x00``, ``(?:...)``) except ``\\s``, which is
    narrower there (no U+001C..U+001F); it becomes Python's explicit set. The
    crate reads a ``[...]`` nested in a class as a union, so the replacement is
    valid inside and outside a class. ``$`` also differs (Python's matches
    before a final newline) but every rule applies its patterns to trimmed text.
    """

    def translate(escape: re.Match[str]) -> str:
        if escape.group(1) == "s":
            return whitespace_class()
        return escape.group(0)

    return re.sub(r"\\(.)", translate, pattern, flags=re.DOTALL)


#: The syntax an org mobile regex may use and still run in the regex crate with
#: Python's meaning on a string of ASCII digits: literals, classes, groups,
#: alternation, greedy and lazy quantifiers, anchors, \d.
_PORTABLE_SYNTAX = re.compile(r"(?:[0-9^$\[\]{}()|*+?,:\-]|\\d)*")
#: Possessive quantifiers (Python 3.11) that the crate reads as nested repetition.
_POSSESSIVE = re.compile(r"[*+?}]\+")


@functools.cache
def _portable(pattern: str) -> bool:
    """Whether polars can match ``pattern`` exactly as ``re.fullmatch`` does on digit strings."""
    if not _PORTABLE_SYNTAX.fullmatch(pattern) or _POSSESSIVE.search(pattern):
        return False
    try:
        with warnings.catch_warnings():
            # Python warns about "[[", "--", "&&" in classes: set syntax in the crate.
            warnings.simplefilter("error")
            re.compile(pattern)
        pl.select(pl.lit("0").str.contains(f"^(?:{pattern})$"))
    except (re.error, FutureWarning, pl.exceptions.PolarsError):
        return False
    return True


def org_rule(digits: pl.Expr, pattern: str) -> pl.Expr:
    """Whether the org's mobile regex accepts each digit string (null stays null)."""
    if _portable(pattern):
        return digits.str.contains(f"^(?:{pattern})$")

    # Anything else (lookarounds, backreferences, ...) is Python's, once per distinct value.
    def accepted(series: pl.Series) -> pl.Series:
        distinct = series.drop_nulls().unique().to_list()
        return series.is_in([d for d in distinct if re.fullmatch(pattern, d)])

    return digits.map_batches(accepted, return_dtype=pl.Boolean, is_elementwise=True)
