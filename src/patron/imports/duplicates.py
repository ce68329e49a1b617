"""Rows of one file that share a value which must be unique: all of them are rejected.

Keeping the first and rejecting the others would guess which row is right; every
row sharing the value is rejected instead, each naming the other rows, so the
person who prepared the file decides.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import Protocol

import polars as pl

from patron.imports.context import ImportContext
from patron.imports.rowcheck import add_errors, line_numbers


class KeyPass(Protocol):
    """How :func:`reject_duplicates` works while a file in chunks is planned one chunk at a
    time (:mod:`patron.imports.chunks`): the rule still holds across the whole file."""

    def duplicates(self, frame: pl.DataFrame, field: str, label: str) -> pl.DataFrame | None:
        """This call's rejections among ``frame``'s rows (row, message); ``None`` while the
        keys are only being recorded (``frame`` is then returned as it is)."""
        ...

    def grouped(
        self,
        records: pl.DataFrame,
        keys: list[str],
        decide: Callable[[pl.DataFrame], pl.DataFrame],
    ) -> pl.DataFrame:
        """:func:`across_file`'s answer for ``records``' rows, ``decide`` having seen every
        record of the file sharing their ``keys`` (none while the keys are recorded)."""
        ...


#: Set while a chunk of a larger file is planned; unset, the rule sees the frame it is given.
KEY_PASS: ContextVar[KeyPass | None] = ContextVar("patron_import_key_pass", default=None)


def reject_duplicates(
    frame: pl.DataFrame, ctx: ImportContext, field: str, code: int, label: str
) -> pl.DataFrame:
    """Rows whose (non-null) ``field`` appears in another row get ``code``, naming those rows."""
    key_pass = KEY_PASS.get()
    if key_pass is not None:
        found = key_pass.duplicates(frame, field, label)
        return frame if found is None else add_errors(frame, found, code)
    value = pl.col(field)
    shared = (
        frame.select("row", field)
        .filter(value.is_not_null())
        # Only the rows whose value repeats get their list of lines.
        .filter(value.is_duplicated())
        .with_columns(lines=line_numbers(pl.col("row"), ctx).implode().over(field))
        .filter(pl.col("lines").list.len() > 1)
        .with_columns(
            others=pl.col("lines")
            .list.set_difference(pl.concat_list(line_numbers(pl.col("row"), ctx)))
            .list.sort()
        )
        .select(
            "row",
            message=pl.format(
                "duplicate {} {} in the file: also in row{} {}",
                pl.lit(label),
                value.cast(pl.String),
                pl.when(pl.col("others").list.len() > 1).then(pl.lit("s")).otherwise(pl.lit("")),
                listed(pl.col("others")),
            ),
        )
    )
    return add_errors(frame, shared, code)


def across_file(
    records: pl.DataFrame, keys: list[str], decide: Callable[[pl.DataFrame], pl.DataFrame]
) -> pl.DataFrame:
    """A rule over the whole file besides the duplicate rule: ``decide`` answers, from the
    rule's records (one or more per row, each with its ``row``), its findings (each with its
    ``row``). Each finding must depend only on the records sharing its records' ``keys``, so
    that a file in chunks can be decided one group of keys at a time."""
    key_pass = KEY_PASS.get()
    if key_pass is None:
        return decide(records)
    return key_pass.grouped(records, keys, decide)


def listed(lines: pl.Expr, most: int = 10) -> pl.Expr:
    """``3, 7, 12`` — at most ``most`` row numbers, then how many more."""
    shown = lines.list.head(most).cast(pl.List(pl.String)).list.join(", ")
    extra = lines.list.len().cast(pl.Int64) - most
    return pl.when(extra > 0).then(pl.format("{} and {} more", shown, extra)).otherwise(shown)
