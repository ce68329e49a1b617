"""Collecting per-row errors and auto-corrections while a profile validates a frame.

Each check is evaluated at once, column-wise; what it finds is kept in long
form (one record per row it hit: ``row``, code, message), so a message is
only formatted for the rows that have the problem and a file of a million
good rows carries no million empty lists through every check. The result
gathers the records into three list columns per row, in the order the checks
ran: ``error_codes``, ``errors`` (plain words) and ``corrections``
(``"<file column>: <what>"``). Rows are identified by the frame's ``row``.
The raw cell of every field stays readable as :meth:`Checks.raw` after the
field's column has been replaced by its normalized value.
"""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl

from patron.imports.context import ImportContext
from patron.imports.profile import CUSTOM_PREFIX, EXTENDED_PREFIX

RAW = "raw:"


def line_numbers(row: pl.Expr, ctx: ImportContext) -> pl.Expr:
    """The row numbers people see in their spreadsheet (the header is row 1)."""
    return row + ctx.first_row_number


def has_errors() -> pl.Expr:
    """Whether a checked row was rejected by any check."""
    return pl.col("error_codes").list.len() > 0


def row_status(unchanged: pl.Expr, changed: str = "update") -> pl.Expr:
    """A row's fate: ``reject`` with errors, ``skip`` where ``unchanged``, else ``changed``."""
    return (
        pl.when(has_errors())
        .then(pl.lit("reject"))
        .when(unchanged)
        .then(pl.lit("skip"))
        .otherwise(pl.lit(changed))
    )


_ROW = "row"
_ORDER = "_order"


class Checks:
    def __init__(self, mapped: pl.DataFrame, ctx: ImportContext, fields: Iterable[str]) -> None:
        self.ctx = ctx
        self._mapped = set(mapped.columns) - {_ROW}
        missing = [name for name in fields if name not in mapped.columns]
        frame = mapped.with_columns(pl.lit(None, dtype=pl.String).alias(name) for name in missing)
        self.frame = frame.with_columns(
            pl.col(name).alias(RAW + name) for name in frame.columns if name != _ROW
        )
        # Long records, in the order the checks ran: (row, code, message) and (row, text).
        self._errors: list[pl.DataFrame] = []
        self._corrections: list[pl.DataFrame] = []
        # Rows whose corrections are unknown (a rule answered a null list): no list at all.
        self._unknown_corrections: list[pl.Series] = []

    def mapped(self, field: str) -> bool:
        return field in self._mapped

    def mapped_org_fields(self) -> list[str]:
        return sorted(
            name for name in self._mapped if name.startswith((CUSTOM_PREFIX, EXTENDED_PREFIX))
        )

    @staticmethod
    def raw(field: str) -> pl.Expr:
        return pl.col(RAW + field)

    def rule(self, field: str, checked: pl.Expr, code: int, what: str) -> None:
        """Apply a rule of :mod:`patron.imports.columns` (a value/corrections/problem struct)."""
        column = self.ctx.column(field)
        self.frame = self.frame.with_columns(checked.alias("_checked"))
        problem = pl.col("_checked").struct.field("problem")
        self.error(problem.is_not_null(), code, pl.format("{}: {}", pl.lit(what), problem))
        self._add_corrections(pl.col("_checked").struct.field("corrections"), f"{column}: ")
        self.frame = self.frame.with_columns(
            pl.col("_checked").struct.field("value").alias(field)
        ).drop("_checked")

    def error(self, condition: pl.Expr, code: int, message: pl.Expr) -> None:
        """Rows where ``condition`` holds get ``code`` with ``message``.

        ``message`` is evaluated on those rows only, so it must be element-wise
        (no aggregation or window over the frame).
        """
        found = self.frame.filter(condition.fill_null(False)).select(
            _ROW, pl.lit(code, dtype=pl.Int64).alias("code"), message.alias("message")
        )
        self._errors.append(found.with_columns(pl.col("message").cast(pl.String)))

    def correction(self, condition: pl.Expr, message: pl.Expr) -> None:
        """Rows where ``condition`` holds record the auto-correction ``message``."""
        found = self.frame.filter(condition.fill_null(False)).select(
            _ROW, message.cast(pl.String).alias("text")
        )
        self._corrections.append(found)

    def _add_corrections(self, lists: pl.Expr, prefix: str) -> None:
        found = self.frame.select(_ROW, lists.alias("text"))
        unknown = found.filter(pl.col("text").is_null())
        if unknown.height:
            self._unknown_corrections.append(unknown[_ROW])
        made = found.filter(pl.col("text").list.len() > 0).explode("text")
        self._corrections.append(made.with_columns(text=pl.lit(prefix) + pl.col("text")))

    def result(self) -> pl.DataFrame:
        """The frame with ``error_codes``, ``errors`` and ``corrections``; temporaries dropped."""
        frame = self.frame.drop([name for name in self.frame.columns if name.startswith(RAW)])
        row = frame.schema[_ROW]
        errors = _gathered(
            self._errors,
            pl.DataFrame(
                schema={_ROW: row, "error_codes": pl.List(pl.Int64), "errors": pl.List(pl.String)}
            ),
            error_codes=pl.col("code"),
            errors=pl.col("message").drop_nulls(),
        )
        corrections = _gathered(
            self._corrections,
            pl.DataFrame(schema={_ROW: row, "corrections": pl.List(pl.String)}),
            corrections=pl.col("text"),
        )
        frame = frame.join(errors, on=_ROW, how="left", maintain_order="left").join(
            corrections, on=_ROW, how="left", maintain_order="left"
        )
        unknown = (
            pl.concat(self._unknown_corrections).implode()
            if self._unknown_corrections
            else pl.lit([], dtype=pl.List(frame.schema[_ROW]))
        )
        return frame.with_columns(
            error_codes=pl.col("error_codes").fill_null(pl.lit([], dtype=pl.List(pl.Int64))),
            errors=pl.col("errors").fill_null(pl.lit([], dtype=pl.List(pl.String))),
            corrections=pl.when(pl.col(_ROW).is_in(unknown))
            .then(pl.lit(None, dtype=pl.List(pl.String)))
            .otherwise(pl.col("corrections").fill_null(pl.lit([], dtype=pl.List(pl.String)))),
        )


def _gathered(parts: list[pl.DataFrame], empty: pl.DataFrame, **lists: pl.Expr) -> pl.DataFrame:
    """One row per ``row`` with the records of ``parts`` as lists, in the parts' order;
    ``empty`` (the result's schema) when there is no record."""
    records = [part for part in parts if part.height]
    if not records:
        return empty
    long = pl.concat(
        [
            part.with_columns(pl.lit(order, pl.Int32).alias(_ORDER))
            for order, part in enumerate(records)
        ]
    )
    gathered = long.sort([_ROW, _ORDER], maintain_order=True).group_by(_ROW, maintain_order=True)
    return gathered.agg(**lists).cast(empty.schema)


def add_errors(frame: pl.DataFrame, found: pl.DataFrame, code: int) -> pl.DataFrame:
    """Append ``code`` and each found row's ``message`` (``found``: row, message) to its lists."""
    if found.is_empty():
        return frame
    # The lists are rebuilt for the found rows only, then put back by ``row``.
    has = pl.col("message").is_not_null()
    hit = (
        frame.select(_ROW, "error_codes", "errors")
        .join(found.select(_ROW, "message"), on=_ROW, how="inner", maintain_order="right")
        .select(
            _ROW,
            _codes=pl.when(has)
            .then(pl.col("error_codes").list.concat(pl.lit([code], dtype=pl.List(pl.Int64))))
            .otherwise(pl.col("error_codes")),
            _errors=pl.when(has)
            .then(pl.col("errors").list.concat(pl.concat_list(pl.col("message"))))
            .otherwise(pl.col("errors")),
        )
    )
    return (
        frame.join(hit, on=_ROW, how="left", maintain_order="left")
        .with_columns(
            error_codes=pl.coalesce("_codes", "error_codes"),
            errors=pl.coalesce("_errors", "errors"),
        )
        .drop("_codes", "_errors")
    )
