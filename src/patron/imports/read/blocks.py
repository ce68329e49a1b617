"""Reading a delimited text file a block of lines at a time.

:func:`read_text_blocks` gives the table :func:`patron.imports.read.text.read_text_file`
gives, cell for cell, with the same refusals (codes, messages and line numbers), but never
holds more than a block of the file's lines, decoded and parsed, at once.

The whole reader decides a few things over the whole file: its encoding (UTF-8, else
Windows-1252, else ISO-8859-1), its parser (polars when every line is a record of regular
quoting, else the csv module for every line), which refusal comes first (a file too long is
refused before a ragged row the fast parser found, a ragged row the csv module met is
refused as it is met), and which trailing header-less columns are empty and dropped. So the
file is read twice: the first pass decides all of it and refuses what the whole reader
refuses, keeping only counts and first findings; the second parses the blocks again and
gives their rows, a chunk at a time.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

import polars as pl

from patron.imports.read.table import (
    AT,
    ReadLimits,
    _cell_too_long,
    _check_unique,
    no_data,
    ragged_row,
    too_many_columns,
    too_many_rows,
)
from patron.imports.read.text import (
    _CONTROL,
    _QUOTED,
    _SNIFF_CHARS,
    _bomless_utf16,
    _check_width,
    _decoded_blocks,
    _not_text,
    _regular_line,
    check_lines,
    csv_frames,
    line_frame,
    sniff_delimiter,
)
from patron.kit.errors import InvalidInput


@dataclass
class BlockStats:
    """What the reader built: the most lines one block held, the most rows one frame held."""

    largest_block: int = 0
    largest_frame: int = 0


@dataclass(frozen=True)
class TextBlocks:
    """A text file read a block at a time: what :class:`~.table.SourceTable` holds, with its
    rows given by :meth:`frames` (the file is read again, a chunk of rows at a time)."""

    headers: tuple[str, ...]
    file_format: str
    delimiter: str
    encoding: str
    row_count: int
    _frames: Callable[[BinaryIO | None], Iterator[pl.DataFrame]]
    stats: BlockStats = field(default_factory=BlockStats)

    def frames(self, stream: BinaryIO | None = None) -> Iterator[pl.DataFrame]:
        """The data rows in frames of ``rows`` rows each (the last may hold fewer), read again
        from the stream read first, or from ``stream`` (the same file opened again)."""
        return self._frames(stream)


def read_text_blocks(stream: BinaryIO, limits: ReadLimits, rows: int) -> TextBlocks:
    """Read a seekable text file in blocks of ``rows`` lines, giving frames of ``rows`` rows."""
    check_lines(stream, limits)
    codec, label = _codec(stream)
    stats = BlockStats()
    delimiter = sniff_delimiter(_head(stream, codec))
    reader = _Reader(stream, codec, delimiter, limits, rows, stats)
    survey = reader.survey()
    return TextBlocks(
        survey.headers,
        "csv",
        delimiter,
        label,
        survey.rows,
        lambda again: reader.frames(survey, again),
        stats,
    )


# -- encoding ------------------------------------------------------------------------------


def _codec(stream: BinaryIO) -> tuple[str, str]:
    """The codec the file is decoded with and its label, as ``text._decode`` decides them,
    checking the text as ``text.check_text`` does; decoded a block at a time."""
    head = stream.read(1024)
    stream.seek(0)
    if head.startswith(codecs.BOM_UTF8):
        return _checked(stream, "utf-8-sig", strict=True), "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return _checked(stream, "utf-16", strict=True), "utf-16"
    if codec := _bomless_utf16(head):
        return _checked(stream, codec, strict=True), "utf-16"
    for codec in ("utf-8", "cp1252"):
        try:
            return _checked(stream, codec, strict=False), "utf-8" if codec == "utf-8" else "latin-1"
        except UnicodeDecodeError:
            continue
    return _checked(stream, "latin-1", strict=False), "latin-1"


def _checked(stream: BinaryIO, codec: str, *, strict: bool) -> str:
    """Decode the whole file once: a NUL anywhere, or too many control characters among the
    first characters, is not text. A decoding error is not text when ``strict``, else raised
    for the next codec to be tried."""
    decoder = codecs.getincrementaldecoder(codec)("strict")
    wide = codec.startswith("utf-16")
    sample: list[str] = []
    kept = 0
    stream.seek(0)
    try:
        while True:
            raw = stream.read(1024 * 1024)
            if not wide and b"\x00" in raw:
                raise _not_text()
            try:
                text = decoder.decode(raw, final=not raw)
            except UnicodeDecodeError:
                if strict:
                    raise _not_text() from None
                raise
            if "\x00" in text:
                raise _not_text()
            if kept < _SNIFF_CHARS:
                sample.append(text[: _SNIFF_CHARS - kept])
                kept += len(sample[-1])
            if not raw:
                break
    finally:
        stream.seek(0)
    first = "".join(sample)
    if len(_CONTROL.findall(first)) > 1 + len(first) // 100:
        raise _not_text()
    return codec


def _head(stream: BinaryIO, codec: str) -> str:
    """Enough of the text's start for :func:`sniff_delimiter` to see what it sees in the
    whole text (its sample, and whether the text goes on past it)."""
    parts, kept = [], 0
    for text in _decoded_blocks(stream, codec):
        parts.append(text)
        kept += len(text)
        if kept > _SNIFF_CHARS:
            break
    stream.seek(0)
    return "".join(parts)[: _SNIFF_CHARS + 1]


def _line_blocks(stream: BinaryIO, codec: str, lines: int) -> Iterator[str]:
    """The text in blocks of ``lines`` whole lines (each but the last ending with ``\\n``)."""
    pending: list[str] = []
    count = 0
    for text in _decoded_blocks(stream, codec):
        start = 0
        while count + text.count("\n", start) >= lines:
            end = start
            for _ in range(lines - count):
                end = text.index("\n", end) + 1
            pending.append(text[start:end])
            yield "".join(pending)
            pending, count, start = [], 0, end
        rest = text[start:]
        if rest:
            pending.append(rest)
            count += rest.count("\n")
    stream.seek(0)
    if pending:
        yield "".join(pending)


# -- the two passes ------------------------------------------------------------------------


@dataclass
class _Survey:
    headers: tuple[str, ...]
    names_width: int  # the grid columns kept (trailing empty ones dropped)
    rows: int
    fast: bool


class _Fallback(Exception):
    """The whole reader would read this file with the csv module."""


class _Reader:
    def __init__(
        self,
        stream: BinaryIO,
        codec: str,
        delimiter: str,
        limits: ReadLimits,
        rows: int,
        stats: BlockStats,
    ) -> None:
        self.stream, self.codec, self.delimiter = stream, codec, delimiter
        self.limits, self.rows, self.stats = limits, rows, stats
        self.max_records = limits.max_rows + 1

    # The grids: record frames of cell columns ``_0.._n`` and ``AT``, header row included.

    def _fast_grids(self, check: bool) -> Iterator[pl.DataFrame]:
        """The polars reading of ``text._fast_records``, block by block; with ``check``, the
        refusals it makes before it parses, in its order, after the last block (until then
        only their first findings are kept, and no more grids are parsed once one is found).
        """
        records = width = offset = 0
        wide: InvalidInput | None = None
        ragged: tuple[int, int] | None = None
        disagree = False
        text = pl.col("text")
        for block in _line_blocks(self.stream, self.codec, self.rows):
            payload = block.encode()
            lines = line_frame(payload)
            self.stats.largest_block = max(self.stats.largest_block, lines.height)
            count = text.str.count_matches(self.delimiter, literal=True)
            quoted = b'"' in payload
            if quoted:
                has_quote = text.str.contains('"', literal=True)
                regular = text.str.contains(_regular_line(self.delimiter))
                if lines.select((has_quote & ~regular).any()).item():
                    raise _Fallback
                unquoted = text.str.replace_all(_QUOTED, "")
                count = (
                    pl.when(has_quote)
                    .then(unquoted.str.count_matches(self.delimiter, literal=True))
                    .otherwise(count)
                )
            info = lines.select(fields=count + 1, blank=text.str.strip_chars() == "")
            info = info.with_row_index(AT, offset=offset + 1)
            found = info.filter(~pl.col("blank"))
            if found.height and not width:
                width = int(found["fields"][0])
                if width > self.limits.max_columns:
                    first = str(lines["text"][int(found[AT][0]) - offset - 1])
                    row = next(csv.reader([first], delimiter=self.delimiter, strict=False))
                    try:
                        _check_width(row, self.limits, True)
                    except InvalidInput as exc:
                        wide = exc
            records += found.height
            if ragged is None and found.height:
                off = found.filter(pl.col("fields") != width)
                if off.height:
                    ragged = (int(off[AT][0]), int(off["fields"][0]))
            offset += lines.height
            if not found.height or wide or ragged or disagree or records > self.max_records:
                continue
            frame = pl.read_csv(
                payload,
                has_header=False,
                separator=self.delimiter,
                quote_char='"' if quoted else None,
                schema={f"_{i}": pl.String for i in range(width)},
                raise_if_empty=False,
                missing_columns="insert",  # a block may start with a blank line
            )
            if frame.height != lines.height:
                disagree = True  # the whole reader gives the file to the csv module
                if not check:
                    raise _Fallback
                continue
            grid = frame.with_columns(info[AT], blank=info["blank"])
            yield grid.filter(~pl.col("blank")).drop("blank")
        if not check:
            return
        if records == 0:
            raise no_data()
        if records > self.max_records:
            raise too_many_rows(records - 1, self.limits)
        if wide is not None:
            raise wide
        if ragged is not None:
            raise ragged_row("line", ragged[0], ragged[1], width, True)
        if disagree:
            raise _Fallback

    def _csv_grids(self) -> Iterator[pl.DataFrame]:
        """``text.csv_frames`` over the file's lines, a frame of ``rows`` records at a time."""
        lines = self._lines()
        for frame in csv_frames(
            lines, self.delimiter, self.limits, self.max_records, True, self.rows
        ):
            self.stats.largest_block = max(self.stats.largest_block, frame.height)
            yield frame

    def _lines(self) -> Iterator[str]:
        for block in _line_blocks(self.stream, self.codec, self.rows):
            lines = block.split("\n")
            for line in lines[:-1]:
                yield line + "\n"
            if lines[-1]:
                yield lines[-1]

    def _grids(self, fast: bool, check: bool) -> Iterator[pl.DataFrame]:
        return self._fast_grids(check) if fast else self._csv_grids()

    # The first pass: every refusal of ``table.finish_table``, from counts and first findings.

    def survey(self) -> _Survey:
        try:
            return self._survey(fast=True)
        except _Fallback:
            return self._survey(fast=False)

    def _survey(self, *, fast: bool) -> _Survey:
        cells: list[str] = []
        raw: list[str | None] = []
        rows = 0
        filled: list[bool] = []  # per grid column: a data row has a value in it
        too_long: tuple[int, int, int] | None = None  # (line, column, length), the first
        limit = self.limits.max_cell_chars
        for grid in self._grids(fast, check=True):
            if not cells:
                cells = [name for name in grid.columns if name != AT]
                filled = [False] * len(cells)
            frame = _nulls(grid, cells)
            if not raw:
                raw = list(frame.select(cells).row(0))
                frame = frame.slice(1)
            frame = frame.filter(pl.any_horizontal(pl.col(cells).is_not_null()))
            rows += frame.height
            if frame.height:
                counts = frame.select(pl.col(cells).is_not_null().any()).row(0)
                filled = [a or bool(b) for a, b in zip(filled, counts, strict=True)]
            if too_long is None:
                too_long = _first_too_long(frame, cells, limit)
        if rows == 0:
            raise no_data()
        if rows > self.limits.max_rows:
            raise too_many_rows(rows, self.limits)
        names = [(value or "").strip() for value in raw]
        while len(names) > 1 and not names[-1] and not filled[len(names) - 1]:
            names.pop()
        if len(names) > self.limits.max_columns:
            raise too_many_columns(len(names), self.limits)
        names = [name or f"column_{i}" for i, name in enumerate(names, start=1)]
        _check_unique(names)
        for position, name in enumerate(names, start=1):
            if len(name) > limit:
                raise _cell_too_long(f"line 1, column {position}", len(name), limit)
        if too_long is not None and too_long[1] < len(names):
            at, index, length = too_long
            raise _cell_too_long(f"line {at}, column '{names[index]}'", length, limit)
        return _Survey(tuple(names), len(names), rows, fast)

    # The second pass: the rows, in frames of ``rows`` rows.

    def frames(self, survey: _Survey, stream: BinaryIO | None) -> Iterator[pl.DataFrame]:
        if stream is not None:
            self.stream = stream
        cells = [f"_{i}" for i in range(survey.names_width)]
        header = True
        pending: list[pl.DataFrame] = []
        held = 0
        for grid in self._grids(survey.fast, check=False):
            frame = _nulls(grid, [c for c in grid.columns if c != AT])
            if header and frame.height:
                frame, header = frame.slice(1), False
            frame = frame.filter(pl.any_horizontal(pl.all().exclude(AT).is_not_null()))
            frame = frame.select(
                pl.col(c).alias(name) for c, name in zip(cells, survey.headers, strict=True)
            )
            pending.append(frame)
            held += frame.height
            while held >= self.rows:
                yield self._cut(pending, held)
                held -= self.rows
        if held:
            whole = pl.concat(pending)
            self.stats.largest_frame = max(self.stats.largest_frame, whole.height)
            yield whole

    def _cut(self, pending: list[pl.DataFrame], held: int) -> pl.DataFrame:
        whole = pl.concat(pending)
        pending[:] = [whole.slice(self.rows)]
        out = whole.slice(0, self.rows)
        self.stats.largest_frame = max(self.stats.largest_frame, out.height)
        return out


def _nulls(grid: pl.DataFrame, cells: list[str]) -> pl.DataFrame:
    return grid.with_columns(pl.when(pl.col(c) != "").then(pl.col(c)).alias(c) for c in cells)


def _first_too_long(
    frame: pl.DataFrame, cells: list[str], limit: int
) -> tuple[int, int, int] | None:
    longest = frame.select(pl.col(cells).str.len_chars().max()).row(0)
    over = [c for c, most in zip(cells, longest, strict=True) if most is not None and most > limit]
    if not over:
        return None
    firsts = []
    for c in over:
        lengths = frame.select(pl.col(AT), pl.col(c).str.len_chars().alias("n"))
        at, length = lengths.filter(pl.col("n") > limit).row(0)
        firsts.append((at, cells.index(c), length))
    return min(firsts)
