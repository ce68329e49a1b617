"""The table every reader produces, the limits it is read under, and the refusals."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import polars as pl

from patron.codes import imports
from patron.kit.errors import InvalidInput

MB = 1024 * 1024
AT = "_at"  # the line (text) or row (workbook) a record starts on, for messages


@dataclass(frozen=True)
class ReadLimits:
    """How much one upload may hold."""

    max_bytes: int = 100 * 1024 * 1024
    max_rows: int = 1_000_000  # data rows, the header excluded
    max_columns: int = 200
    max_cell_chars: int = 10_000
    max_pasted_rows: int = 1_000
    #: What a workbook's parts may unpack to, and what reading it may use (memory).
    max_workbook_bytes: int = 256 * 1024 * 1024


@dataclass(frozen=True)
class SourceTable:
    """One table of text cells and what was detected about its source."""

    frame: pl.DataFrame  # all pl.String; columns named by the header; data rows only
    headers: tuple[str, ...]  # the column names in file order (== frame.columns)
    file_format: str  # "csv" | "xlsx" | "xls" | "ods" | "pasted"
    delimiter: str | None  # None for workbooks
    encoding: str | None  # "utf-8" | "utf-8-sig" | "utf-16" | "latin-1"; None unless a text file
    #: A text file of more rows than a chunk, read a chunk at a time (``frame`` then holds
    #: its columns and none of its rows): each call reads the file again, a frame of a chunk
    #: at a time. None: every row is in ``frame``.
    parts: Callable[[], Iterator[pl.DataFrame]] | None = None
    part_rows: int = 0  # the rows of ``parts``, all of them

    @property
    def height(self) -> int:
        """The data rows, wherever they are held."""
        return self.part_rows if self.parts is not None else self.frame.height

    def chunks(self) -> Iterator[pl.DataFrame]:
        """The data rows: ``frame``, or the parts one at a time."""
        if self.parts is None:
            yield self.frame
        else:
            yield from self.parts()


@dataclass(frozen=True)
class Grid:
    """Records before the header is applied: cell columns ``_0.._n`` and ``AT``."""

    frame: pl.DataFrame
    unit: str  # "line" or "row", the word messages use for ``AT``


def check_size(size: int, limits: ReadLimits) -> None:
    if size > limits.max_bytes:
        raise InvalidInput(
            imports.FILE_TOO_LARGE,
            f"the file is {size_text(size)}; the largest file that can be imported is "
            f"{size_text(limits.max_bytes)}: split it into smaller files",
        )


def size_text(size: int) -> str:
    if size >= MB:
        return f"{size / MB:,.1f} MB".replace(".0 MB", " MB")
    if size >= 1024:
        return f"{size / 1024:,.1f} KB".replace(".0 KB", " KB")
    return f"{size:,} bytes"


# -- delimited text --------------------------------------------------------------------


def finish_table(
    grid: Grid, limits: ReadLimits, *, header: bool
) -> tuple[pl.DataFrame, tuple[str, ...]]:
    """Apply the header, drop empty rows and columns, enforce the remaining limits."""
    cells = [name for name in grid.frame.columns if name != AT]
    frame = grid.frame.with_columns(
        pl.when(pl.col(c) != "").then(pl.col(c)).alias(c) for c in cells
    )
    raw: list[str | None] = [None] * len(cells)
    if header:
        raw = list(frame.select(cells).row(0)) if frame.height else raw
        frame = frame.slice(1)
    frame = frame.filter(pl.any_horizontal(pl.col(cells).is_not_null()))
    if frame.height == 0:
        raise no_data()
    if frame.height > limits.max_rows:
        raise too_many_rows(frame.height, limits)
    names = [(value or "").strip() for value in raw]
    while len(names) > 1 and not names[-1] and frame[cells[-1]].null_count() == frame.height:
        names.pop()  # an "a,b,c," export: empty header cell, no data under it
        frame = frame.drop(cells.pop())
    if len(names) > limits.max_columns:
        raise too_many_columns(len(names), limits)
    names = [name or f"column_{i}" for i, name in enumerate(names, start=1)]
    _check_unique(names)
    _check_cell_lengths(grid.unit, frame, cells, names, limits, header)
    frame = frame.select(pl.col(c).alias(name) for c, name in zip(cells, names, strict=True))
    return frame, tuple(names)


def _check_unique(names: list[str]) -> None:
    seen: dict[str, int] = {}
    for position, name in enumerate(names, start=1):
        first = seen.setdefault(name.casefold(), position)
        if first != position:
            raise InvalidInput(
                imports.DUPLICATE_HEADER,
                f"the header '{name}' appears twice, in columns {first} and {position}: "
                "give every column a different name",
            )


def _check_cell_lengths(
    unit: str,
    frame: pl.DataFrame,
    cells: list[str],
    names: list[str],
    limits: ReadLimits,
    header: bool,
) -> None:
    limit = limits.max_cell_chars
    for position, name in enumerate(names, start=1):
        if header and len(name) > limit:
            raise _cell_too_long(f"{unit} 1, column {position}", len(name), limit)
    longest = frame.select(pl.col(cells).str.len_chars().max()).row(0)
    over = [c for c, most in zip(cells, longest, strict=True) if most is not None and most > limit]
    if not over:
        return
    firsts = []
    for c in over:
        lengths = frame.select(pl.col(AT), pl.col(c).str.len_chars().alias("n"))
        at, length = lengths.filter(pl.col("n") > limit).row(0)
        firsts.append((at, cells.index(c), length))
    at, index, length = min(firsts)
    raise _cell_too_long(f"{unit} {at}, column '{names[index]}'", length, limit)


def _cell_too_long(where: str, length: int, limit: int) -> InvalidInput:
    return InvalidInput(
        imports.CELL_TOO_LONG,
        f"{where}: a cell has {length:,} characters; at most {limit:,} are allowed",
    )


def too_many_rows(count: int, limits: ReadLimits) -> InvalidInput:
    return InvalidInput(
        imports.TOO_MANY_ROWS,
        f"the file has {count:,} data rows; at most {limits.max_rows:,} can be imported at "
        "once: split it into smaller files",
    )


def too_many_columns(count: int, limits: ReadLimits) -> InvalidInput:
    return InvalidInput(
        imports.TOO_MANY_COLUMNS,
        f"the file has {count:,} columns; at most {limits.max_columns:,} can be imported: "
        "remove the columns you do not need",
    )


def ragged_row(unit: str, at: int, count: int, width: int, header: bool) -> InvalidInput:
    reference = "the header has" if header else "the first line has"
    return InvalidInput(
        imports.RAGGED_ROW,
        f"{unit} {at} has {count} cells but {reference} {width}: check the delimiter and quoting",
    )


def no_data() -> InvalidInput:
    return InvalidInput(imports.NO_DATA, "the file has no data rows")
