"""The import in chunks: a file of more than ``PATRON_IMPORT_CHUNK_ROWS`` rows is planned
one chunk at a time, so a step holds one chunk, never the whole file (docs/imports.md,
"Large files: the import in chunks").

The one rule that spans the whole file is the in-file duplicate rule
(:func:`patron.imports.duplicates.reject_duplicates`): every row sharing a value is rejected,
each naming the others, wherever they are in the file. It holds exactly, in two passes:

1. **The key pass** plans every chunk with the rule recording, instead of rejecting, the
   non-null values each of its calls sees (call, row, value). The records are spilled to
   Parquet files partitioned by a hash of the value, so finding the values shared by several
   rows needs the memory of one partition. Each shared value's rows get the message the rule
   would have given them in the whole file (the same words, rows and "and N more").
2. **The real pass** plans each chunk again with those rejections put in where the rule is
   called.

A profile whose later keys depended on an earlier duplicate rejection would record more keys
in the first pass than it checks in the second; none does (each call sees the rows its
profile gives it whatever the duplicates: Loyalty's and Legacy's matching resolve every row).

Every chunk is planned against the store as it was before the step, as a whole file is, and
the plans are spilled (a pickle per chunk) until every chunk is planned; the commit then
applies them one after the other in the step's one transaction.
"""

from __future__ import annotations

import pickle
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy.engine import Connection

from patron.imports.context import ImportContext
from patron.imports.duplicates import KEY_PASS
from patron.imports.profile import ImportProfile, Plan
from patron.imports.rowcheck import line_numbers
from patron.settings import get_settings

#: Rows named in a duplicate message: at most ten, then how many more.
_SHOWN = 10


#: Profiles with a rule over the whole file besides the duplicate rule, planned whole whatever
#: the file's size (their files are still stored in parts): Coupon Redemption counts a
#: customer's redemptions of a series over every row of the file, in date order; V2 Profile
#: Identifiers rejects every row touching a customer another row merges.
WHOLE_FILE_PROFILES = frozenset({"coupon-redemption", "v2-profile-identifiers"})


#: How many times each profile's plan calls the duplicate rule, whatever the file: the key
#: pass stops a chunk's plan after the last call (what comes after it, the matching against
#: the store and the decisions, is left to the real pass). The real pass checks the count.
#: A profile not named here is planned to its end in the key pass too.
KEY_CALLS = {
    "loyalty-customers": 3,  # mobile, email, external id: all in validation
    "legacy-customers": 5,  # code, card number, email, username; customer id after matching
    "cards": 2,
    "card-series": 1,
    "customer-status": 1,
    "fraud-status": 1,
    "user-subscription": 1,
    "entity-lifecycle": 1,
}


class _KeysRecorded(Exception):
    """Raised by the key pass after a profile's last call of the duplicate rule."""


def chunk_rows() -> int:
    return get_settings().import_chunk_rows


@contextmanager
def spill_directory() -> Iterator[Path]:
    """A directory for a step's spill files under the data directory, deleted when the step
    ends, whether it succeeded or failed."""
    root = get_settings().data_dir / "spill"
    root.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix="import-", dir=root))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


class _Recording:
    """The key pass: each call's non-null values go to the spill, partitioned by value."""

    def __init__(self, directory: Path, chunk: int, partitions: int, last: int | None) -> None:
        self.directory = directory
        self.chunk = chunk
        self.partitions = partitions
        self.last = last
        self.calls = 0

    def duplicates(self, frame: pl.DataFrame, field: str, label: str) -> pl.DataFrame | None:
        call = self.calls
        self.calls += 1
        keys = frame.select(
            call=pl.lit(call, dtype=pl.Int32),
            row=pl.col("row").cast(pl.Int64),
            value=pl.col(field).cast(pl.String),
            label=pl.lit(label),
        ).filter(pl.col("value").is_not_null())
        if keys.is_empty():
            self._stop_after_last()
            return None
        part = keys.with_columns(_part=(pl.col("value").hash() % self.partitions).cast(pl.Int32))
        for (number,), group in part.group_by("_part"):
            folder = self.directory / "keys" / f"p{number}"
            folder.mkdir(parents=True, exist_ok=True)
            group.drop("_part").write_parquet(folder / f"c{self.chunk}-{call}.parquet")
        self._stop_after_last()
        return None

    def _stop_after_last(self) -> None:
        if self.last is not None and self.calls == self.last:
            raise _KeysRecorded


class _Injecting:
    """The real pass: each call rejects the chunk's rows the key pass found shared."""

    def __init__(self, messages: pl.DataFrame) -> None:
        self.messages = messages
        self.calls = 0

    def duplicates(self, frame: pl.DataFrame, field: str, label: str) -> pl.DataFrame | None:
        call = self.calls
        self.calls += 1
        return self.messages.filter(pl.col("call") == call).select("row", "message")


def _shared_values(directory: Path, ctx: ImportContext) -> None:
    """Per partition of the keys, the rows sharing a value and each one's message."""
    out = directory / "messages"
    out.mkdir(parents=True, exist_ok=True)
    keys_root = directory / "keys"
    if not keys_root.exists():
        return
    for folder in sorted(keys_root.iterdir()):
        keys = pl.concat([pl.read_parquet(path) for path in sorted(folder.glob("*.parquet"))])
        lines = keys.with_columns(line=line_numbers(pl.col("row"), ctx))
        groups = (
            lines.group_by("call", "value")
            .agg(
                count=pl.len(),
                # The rows a message can show: the first ones, one more than shown, since
                # a row's own line is not among its "others".
                first=pl.col("line").sort().head(_SHOWN + 1),
            )
            .filter(pl.col("count") > 1)
        )
        if groups.is_empty():
            continue
        shared = lines.join(groups, on=["call", "value"], how="inner")
        others = pl.col("first").list.set_difference(pl.concat_list("line")).list.sort()
        shown = others.list.head(_SHOWN)
        many = pl.col("count") - 1
        messages = shared.select(
            "call",
            "row",
            message=pl.format(
                "duplicate {} {} in the file: also in row{} {}",
                pl.col("label"),
                pl.col("value"),
                pl.when(many > 1).then(pl.lit("s")).otherwise(pl.lit("")),
                _listed(shown, many),
            ),
        )
        messages.write_parquet(out / f"{folder.name}.parquet")


def _listed(shown: pl.Expr, count: pl.Expr) -> pl.Expr:
    """:func:`patron.imports.duplicates.listed` of a row's others, from the first
    ``_SHOWN`` of them and how many there are."""
    text = shown.cast(pl.List(pl.String)).list.join(", ")
    extra = count.cast(pl.Int64) - _SHOWN
    return pl.when(extra > 0).then(pl.format("{} and {} more", text, extra)).otherwise(text)


def _messages_of(directory: Path, first: int, end: int) -> pl.DataFrame:
    files = sorted((directory / "messages").glob("*.parquet"))
    if not files:
        return pl.DataFrame(schema={"call": pl.Int32, "row": pl.Int64, "message": pl.String})
    return (
        pl.scan_parquet(files)
        .filter((pl.col("row") >= first) & (pl.col("row") < end))
        .select("call", "row", "message")
        .collect()
    )


def plans(
    conn: Connection,
    profile: ImportProfile,
    ctx: ImportContext,
    chunks: Callable[[], Iterator[pl.DataFrame]],
    directory: Path,
    rows: int,
    *,
    on_chunk: Callable[[int], None] | None = None,
) -> Iterator[Plan[Any]]:
    """Each chunk's plan, in file order, as the whole file's plan has it (``chunks``: the
    mapped chunks, each with its file-wide ``row``; read twice, once per pass)."""
    partitions = max(1, -(-rows // chunk_rows()))
    last = KEY_CALLS.get(profile.spec.id)
    for number, mapped in enumerate(chunks()):
        token = KEY_PASS.set(_Recording(directory, number, partitions, last))
        try:
            profile.plan(conn, ctx, mapped)
        except _KeysRecorded:
            pass
        finally:
            KEY_PASS.reset(token)
        if on_chunk is not None:
            on_chunk(number)
    _shared_values(directory, ctx)
    first = 0
    for mapped in chunks():
        messages = _messages_of(directory, first, first + mapped.height)
        injecting = _Injecting(messages)
        token = KEY_PASS.set(injecting)
        try:
            plan = profile.plan(conn, ctx, mapped)
        finally:
            KEY_PASS.reset(token)
        if last is not None and injecting.calls != last:
            # The key pass stopped early and missed calls: its keys would be incomplete.
            raise RuntimeError(
                f"profile {profile.spec.id} called the duplicate rule {injecting.calls} "
                f"times, not {last} (chunks.KEY_CALLS)"
            )
        first += mapped.height
        yield plan


def spill_plan(directory: Path, number: int, plan: Plan[Any]) -> Path:
    """Keep a chunk's plan on disk until the commit applies it."""
    path = directory / f"plan-{number}.pickle"
    with path.open("wb") as stream:
        pickle.dump(plan, stream, protocol=pickle.HIGHEST_PROTOCOL)
    return path


def load_plan(path: Path) -> Plan[Any]:
    # The file is this step's own spill, written a moment ago by this process.
    with path.open("rb") as stream:
        plan: Plan[Any] = pickle.load(stream)  # noqa: S301
    path.unlink()
    return plan
