"""Collecting per-row errors and auto-corrections while a profile validates a frame.

Each check is evaluated at once, column-wise, into a temporary column; the
result gathers them into three list columns per row: ``error_codes``,
``errors`` (plain words) and ``corrections`` (``"<file column>: <what>"``).
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


class Checks:
    def __init__(self, mapped: pl.DataFrame, ctx: ImportContext, fields: Iterable[str]) -> None:
        self.ctx = ctx
        self._mapped = set(mapped.columns) - {"row"}
        missing = [name for name in fields if name not in mapped.columns]
        frame = mapped.with_columns(pl.lit(None, dtype=pl.String).alias(name) for name in missing)
        self.frame = frame.with_columns(
            pl.col(name).alias(RAW + name) for name in frame.columns if name != "row"
        )
        self._errors: list[tuple[str, str]] = []
        self._corrections: list[str] = []

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
        self.error(
            pl.col("_checked").struct.field("problem").is_not_null(),
            code,
            pl.format("{}: {}", pl.lit(what), pl.col("_checked").struct.field("problem")),
        )
        name = f"_c{len(self._corrections)}"
        self.frame = self.frame.with_columns(
            pl.col("_checked")
            .struct.field("corrections")
            .list.eval(pl.lit(f"{column}: ") + pl.element())
            .alias(name),
            pl.col("_checked").struct.field("value").alias(field),
        ).drop("_checked")
        self._corrections.append(name)

    def error(self, condition: pl.Expr, code: int, message: pl.Expr) -> None:
        """Rows where ``condition`` holds get ``code`` with ``message``."""
        index = len(self._errors)
        code_name, message_name = f"_ec{index}", f"_em{index}"
        hit = condition.fill_null(False)
        self.frame = self.frame.with_columns(
            pl.when(hit).then(pl.lit(code, dtype=pl.Int64)).alias(code_name),
            pl.when(hit).then(message).alias(message_name),
        )
        self._errors.append((code_name, message_name))

    def correction(self, condition: pl.Expr, message: pl.Expr) -> None:
        """Rows where ``condition`` holds record the auto-correction ``message``."""
        name = f"_c{len(self._corrections)}"
        self.frame = self.frame.with_columns(
            pl.when(condition.fill_null(False))
            .then(pl.concat_list(message))
            .otherwise(pl.lit([], dtype=pl.List(pl.String)))
            .alias(name)
        )
        self._corrections.append(name)

    def result(self) -> pl.DataFrame:
        """The frame with ``error_codes``, ``errors`` and ``corrections``; temporaries dropped."""
        codes = [code for code, _ in self._errors]
        messages = [message for _, message in self._errors]
        empty_codes = pl.lit([], dtype=pl.List(pl.Int64))
        empty_text = pl.lit([], dtype=pl.List(pl.String))
        frame = self.frame.with_columns(
            error_codes=pl.concat_list(codes).list.drop_nulls() if codes else empty_codes,
            errors=pl.concat_list(messages).list.drop_nulls() if messages else empty_text,
            corrections=pl.concat_list(self._corrections) if self._corrections else empty_text,
        )
        temporaries = [*codes, *messages, *self._corrections]
        raws = [name for name in frame.columns if name.startswith(RAW)]
        return frame.drop(temporaries + raws)


def add_errors(frame: pl.DataFrame, found: pl.DataFrame, code: int) -> pl.DataFrame:
    """Append ``code`` and each found row's ``message`` (``found``: row, message) to its lists."""
    if found.is_empty():
        return frame
    joined = frame.join(found.select("row", "message"), on="row", how="left", maintain_order="left")
    has = pl.col("message").is_not_null()
    return joined.with_columns(
        error_codes=pl.when(has)
        .then(pl.col("error_codes").list.concat(pl.lit([code], dtype=pl.List(pl.Int64))))
        .otherwise(pl.col("error_codes")),
        errors=pl.when(has)
        .then(pl.col("errors").list.concat(pl.concat_list(pl.col("message"))))
        .otherwise(pl.col("errors")),
    ).drop("message")
