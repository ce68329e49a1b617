"""The key pass's spill of an import in chunks: what a chunk writes does not grow with the
file (:mod:`patron.imports.chunks`), and a partition reads back exactly its own records."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from sqlalchemy.engine import Engine

from patron.imports import chunks
from tests.conftest import CHUNK
from tests.importing import MEMBERS_HEADER, csv, import_org, letters, run


def member(i: int) -> str:
    return f"{letters(i)},{letters(i + 3)},98000{i:05d},m{i}@example.com,X{i},mal,{i}"


@pytest.mark.parametrize("rows", [3 * CHUNK, 12 * CHUNK])
def test_a_chunk_writes_one_key_file_however_large_the_file(
    engine: Engine, chunked: Callable[[bool], None], monkeypatch: pytest.MonkeyPatch, rows: int
) -> None:
    """Every chunk's keys (three calls of the duplicate rule) go to one file, whatever the
    number of partitions (one per chunk): a file per partition and call made each chunk's
    key pass cost more in a larger file."""
    spilled: list[tuple[int, list[str]]] = []
    shared_values = chunks._shared_values

    def listing(directory: Path, ctx: Any, partitions: int) -> None:
        found = sorted(path.relative_to(directory).as_posix() for path in directory.rglob("*.*"))
        spilled.append((partitions, found))
        shared_values(directory, ctx, partitions)

    monkeypatch.setattr(chunks, "_shared_values", listing)
    org = import_org(engine)
    chunked(True)
    lines = [member(i) for i in range(rows)]
    lines[-1] = lines[-1].replace(f"m{rows - 1}@", "m1@")  # an email of the first chunk
    done = run(engine, org, csv(MEMBERS_HEADER, *lines))
    assert done.counts["rejected"] == 2
    count = -(-rows // CHUNK)
    # The preview's key pass and the commit's: one file of keys per chunk each, and on
    # PostgreSQL one of the values the plan looks up (looked up ahead, for the whole file).
    kinds = ("keys", "lookups") if engine.dialect.name == "postgresql" else ("keys",)
    kept = sorted(f"{kind}/c{n}.parquet" for kind in kinds for n in range(count))
    assert spilled == [(count, kept)] * 2


def test_a_partition_reads_back_its_own_records_in_order(tmp_path: Path) -> None:
    """Each partition of the chunks' files gives its records, chunk after chunk, each
    chunk's in the order written, and nothing of the other partitions."""
    partitions = 5
    part = pl.col("value").hash() % partitions
    frames = []
    for chunk in range(3):
        frame = pl.DataFrame(
            {
                "row": range(chunk * 1000, (chunk + 1) * 1000),
                "value": [f"v{(i * 7919) % 613}" for i in range(1000)],
            }
        )
        chunks._spill_partitioned(frame, part, partitions, tmp_path / f"c{chunk}.parquet")
        frames.append(frame.with_columns(_part=part))
    # A chunk with no keys writes nothing.
    empty = pl.DataFrame(schema={"row": pl.Int64, "value": pl.String})
    chunks._spill_partitioned(empty, part, partitions, tmp_path / "c3.parquet")
    files = chunks._spilled(tmp_path)
    assert [path.name for path in files] == ["c0.parquet", "c1.parquet", "c2.parquet"]
    every = pl.concat(frames)
    for number in range(partitions):
        expected = every.filter(pl.col("_part") == number).drop("_part")
        assert chunks._partition(files, number).equals(expected)
