"""The import in chunks: a file of more than ``PATRON_IMPORT_CHUNK_ROWS`` rows is planned
one chunk at a time, so a step holds one chunk, never the whole file (docs/imports.md,
"Large files: the import in chunks").

The rule every profile has over the whole file is the in-file duplicate rule
(:func:`patron.imports.duplicates.reject_duplicates`): every row sharing a value is rejected,
each naming the others, wherever they are in the file. It holds exactly, in two passes:

1. **The key pass** plans every chunk with the rule recording, instead of rejecting, the
   non-null values each of its calls sees (call, row, value). The records are spilled, one
   Parquet file per chunk, in the order of their partition (a hash of the value), so finding
   the values shared by several rows reads one partition at a time from every chunk's file
   and needs the memory of one partition. A chunk writes one file however many partitions
   the file has, so its cost does not grow with the file's size. Each shared value's rows
   get the message the rule would have given them in the whole file (the same words, rows
   and "and N more").
2. **The real pass** plans each chunk again with those rejections put in where the rule is
   called.

A profile whose later keys depended on an earlier duplicate rejection would record more keys
in the first pass than it checks in the second; none does (each call sees the rows its
profile gives it whatever the duplicates: Loyalty's and Legacy's matching resolve every row).

Two profiles have another rule over the whole file
(:func:`patron.imports.duplicates.across_file`): Coupon Redemption counts a customer's
redemptions of a series over every row of the file, in date order, and V2 Profile
Identifiers rejects every row touching a customer another row merges. Such a rule decides
from records (what it needs of each row) that only records sharing its keys can change: a
series and customer, a customer. Its input depends on the duplicate rejections, so these
profiles take a third pass between the two:

* **The group pass** plans each chunk with the duplicate rejections put in, the rule
  recording its records instead of deciding, spilled in the order of a hash of the keys, and
  stops after the profile's last call of the rule (``GROUP_CALLS``). The rule then decides
  one partition at a time, over every record of the file sharing a key, and its findings
  are spilled by partition.
* **The real pass** gets, where the rule is called, its findings for the chunk's rows.

Every chunk is planned against the store as it was before the step, as a whole file is, and
the plans are spilled (a pickle per chunk) until every chunk is planned; the commit then
applies them one after the other in the step's one transaction.

A profile that looks ahead (:class:`patron.imports.profile.LooksAhead`: Loyalty Customers on
PostgreSQL) has the key pass keep, besides the keys, what each chunk's plan will look up in
the store (``lookups/c<chunk>.parquet``); before the real pass it looks the whole file up at
once, and each chunk's plan is made with that chunk's answers in place.

A step's spill directory names its owner, ``spill/i<import>-p<pid>-<random>-<host>``, so
that a directory a killed worker left behind is found and removed
(:func:`remove_stale_spills`) by the next worker that starts on its host or takes the
import over.
"""

from __future__ import annotations

import os
import pickle
import re
import shutil
import socket
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy.engine import Connection

from patron.imports.context import ImportContext
from patron.imports.duplicates import KEY_PASS
from patron.imports.profile import ChunkAnswers, ImportProfile, LooksAhead, Plan
from patron.imports.rowcheck import line_numbers
from patron.settings import get_settings

#: Rows named in a duplicate message: at most ten, then how many more.
_SHOWN = 10


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
    "coupon-redemption": 1,  # the coupon, first thing in the resolution
    "v2-profile-identifiers": 2,  # identifier, target: both in validation
}

#: How many times each profile's plan calls :func:`patron.imports.duplicates.across_file`
#: (a rule over the whole file besides the duplicate rule); the group pass stops a chunk's
#: plan after the last call. A profile not named here has no such rule (no group pass).
GROUP_CALLS = {
    "coupon-redemption": 1,  # the redemptions per customer of a series, in date order
    "v2-profile-identifiers": 1,  # a customer merged by one row and touched by another
}


class _KeysRecorded(Exception):
    """Raised by the key pass after a profile's last call of the duplicate rule."""


def chunk_rows() -> int:
    return get_settings().import_chunk_rows


#: A spill directory's name: its import, the process of its step, a random part, the host.
_SPILL_NAME = re.compile(r"^i(?P<import_id>[0-9]+)-p(?P<pid>[0-9]+)-[^-]+-(?P<host>.+)$")


def _spill_root() -> Path:
    return get_settings().data_dir / "spill"


@contextmanager
def spill_directory(import_id: int) -> Iterator[Path]:
    """A directory for a step's spill files under the data directory, deleted when the step
    ends, whether it succeeded or failed. Its name says which import and which process on
    which host own it, for :func:`remove_stale_spills` when the process is killed."""
    root = _spill_root()
    root.mkdir(parents=True, exist_ok=True)
    prefix = f"i{import_id}-p{os.getpid()}-"
    path = Path(tempfile.mkdtemp(prefix=prefix, suffix=f"-{socket.gethostname()}", dir=root))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def remove_stale_spills(held: int | None = None) -> list[Path]:
    """Remove the spill directories no live step owns; answer them. Several workers may share
    the data directory, so a directory made on this host is stale only when the process that
    made it is no longer alive (a live one, even one that lost its import, removes its own
    as its step ends; one of another store sharing the data directory is never touched). Of
    another host, whose processes cannot be seen from here, only a directory of ``held``
    (the import whose lease the caller now holds: the step that made it is dead or lost the
    import) is stale."""
    root = _spill_root()
    if not root.is_dir():
        return []
    host = socket.gethostname()
    removed = []
    for path in sorted(root.iterdir()):
        named = _SPILL_NAME.match(path.name)
        if named is None or not path.is_dir():
            continue  # not a step's directory (or an older one's): left alone
        if named["host"] == host:
            stale = not _alive(int(named["pid"]))
        else:
            stale = held is not None and int(named["import_id"]) == held
        if stale:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def _alive(pid: int) -> bool:
    """Whether a process ``pid`` runs on this host (signal 0 checks without signalling)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process: alive
    return True


def _spill_partitioned(frame: pl.DataFrame, part: pl.Expr, partitions: int, path: Path) -> None:
    """Write ``frame`` to one file, its rows in the order of their partition ``part``
    (rows of one partition in the order they came), about four row groups a partition, so
    that :func:`_partition` reads one partition of a file and little of the others. LZ4:
    the file is read once, soon after (zstd cost more to write and read, for a smaller
    file)."""
    if frame.is_empty():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.with_columns(_part=part.cast(pl.Int32)).sort("_part", maintain_order=True).write_parquet(
        path,
        compression="lz4",
        row_group_size=max(_ROW_GROUP, frame.height // (4 * partitions)),
    )


#: The least rows of a row group of a spill file (smaller ones cost more than they skip).
_ROW_GROUP = 4096


def _partition(files: list[Path], number: int) -> pl.DataFrame:
    """Partition ``number`` of spill files :func:`_spill_partitioned` wrote, in file order: the
    row groups of other partitions are skipped by their statistics."""
    # Each file scanned apart: a column a chunk had no value in may be typed apart too.
    scans = [pl.scan_parquet(path).filter(pl.col("_part") == number) for path in files]
    return pl.concat(scans, how="vertical_relaxed").drop("_part").collect()


def _spilled(folder: Path) -> list[Path]:
    """The spill files of ``folder`` (``c<chunk>.parquet``), in the order of their chunks."""
    return sorted(folder.glob("c*.parquet"), key=lambda path: int(path.stem[1:]))


def _partitions(folder: Path, partitions: int) -> Iterator[tuple[int, pl.DataFrame]]:
    """Each partition of ``folder``'s spill files that holds records: (its number, them)."""
    files = _spilled(folder)
    if not files:
        return
    for number in range(partitions):
        records = _partition(files, number)
        if not records.is_empty():
            yield number, records


class _Recording:
    """The key pass: each call's non-null values go to the spill, partitioned by value, one
    file per chunk whatever the number of partitions (a file per partition and call made a
    chunk's cost grow with the file's size, every chunk writing to every partition)."""

    def __init__(
        self,
        directory: Path,
        chunk: int,
        partitions: int,
        last: int | None,
        lookups: Callable[[pl.DataFrame], pl.DataFrame] | None = None,
    ) -> None:
        self.directory = directory
        self.chunk = chunk
        self.partitions = partitions
        self.last = last
        self.lookups = lookups
        self.calls = 0
        self.keys: list[pl.DataFrame] = []
        self.looked_up: pl.DataFrame | None = None

    def duplicates(self, frame: pl.DataFrame, field: str, label: str) -> pl.DataFrame | None:
        call = self.calls
        self.calls += 1
        if self.lookups is not None and self.calls == self.last:
            # The rows as validated, where the key pass stops: what the plan looks up.
            self.looked_up = self.lookups(frame)
        keys = frame.select(
            call=pl.lit(call, dtype=pl.Int32),
            row=pl.col("row").cast(pl.Int64),
            value=pl.col(field).cast(pl.String),
            label=pl.lit(label),
        ).filter(pl.col("value").is_not_null())
        self.keys.append(keys)
        if self.last is not None and self.calls == self.last:
            raise _KeysRecorded
        return None

    def spill(self) -> None:
        """Write the chunk's keys once its plan has stopped (or ended)."""
        if self.looked_up is not None:
            path = self.directory / "lookups" / f"c{self.chunk}.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            self.looked_up.write_parquet(path, compression="lz4")
            self.looked_up = None
        if not self.keys:
            return
        keys = pl.concat(self.keys)
        self.keys = []
        part = pl.col("value").hash() % self.partitions
        _spill_partitioned(keys, part, self.partitions, self._path())

    def _path(self) -> Path:
        return self.directory / "keys" / f"c{self.chunk}.parquet"

    def grouped(
        self,
        records: pl.DataFrame,
        keys: list[str],
        decide: Callable[[pl.DataFrame], pl.DataFrame],
    ) -> pl.DataFrame:
        # Only reached by a profile planned to its end here: the group pass decides.
        return decide(records.clear())


class _Injecting:
    """The real pass: each call rejects the chunk's rows the key pass found shared, and each
    rule over the whole file answers what the group pass decided for the chunk's rows."""

    def __init__(self, messages: pl.DataFrame, directory: Path, first: int, end: int) -> None:
        self.messages = messages
        self.directory = directory
        self.first = first
        self.end = end
        self.calls = 0
        self.group_calls = 0

    def duplicates(self, frame: pl.DataFrame, field: str, label: str) -> pl.DataFrame | None:
        call = self.calls
        self.calls += 1
        return self.messages.filter(pl.col("call") == call).select("row", "message")

    def grouped(
        self,
        records: pl.DataFrame,
        keys: list[str],
        decide: Callable[[pl.DataFrame], pl.DataFrame],
    ) -> pl.DataFrame:
        call = self.group_calls
        self.group_calls += 1
        empty = decide(records.clear())
        files = sorted((self.directory / "groups" / f"g{call}" / "found").glob("*.parquet"))
        if not files:
            return empty
        found = (
            pl.scan_parquet(files)
            .filter((pl.col("row") >= self.first) & (pl.col("row") < self.end))
            .collect()
        )
        return pl.concat([empty, found], how="vertical_relaxed")


class _Grouping(_Injecting):
    """The group pass: the duplicate rejections put in, each rule over the whole file records
    its records, partitioned by a hash of its keys, and the plan stops after the last one."""

    def __init__(
        self,
        messages: pl.DataFrame,
        directory: Path,
        chunk: int,
        partitions: int,
        last: int,
        rules: dict[int, Callable[[pl.DataFrame], pl.DataFrame]],
    ) -> None:
        super().__init__(messages, directory, 0, 0)
        self.chunk = chunk
        self.partitions = partitions
        self.last = last
        self.rules = rules

    def grouped(
        self,
        records: pl.DataFrame,
        keys: list[str],
        decide: Callable[[pl.DataFrame], pl.DataFrame],
    ) -> pl.DataFrame:
        call = self.group_calls
        self.group_calls += 1
        self.rules[call] = decide
        part = pl.struct(keys).hash() % self.partitions
        path = self.directory / "groups" / f"g{call}" / f"c{self.chunk}.parquet"
        _spill_partitioned(records, part, self.partitions, path)
        if self.group_calls == self.last:
            raise _KeysRecorded
        return decide(records.clear())


def _decide_groups(
    directory: Path, rules: dict[int, Callable[[pl.DataFrame], pl.DataFrame]], partitions: int
) -> None:
    """Each rule over the whole file decides one partition of its records at a time (every
    record sharing a key is in one partition); its findings are spilled by partition."""
    for call, decide in rules.items():
        root = directory / "groups" / f"g{call}"
        out = root / "found"
        out.mkdir(parents=True, exist_ok=True)
        for number, records in _partitions(root, partitions):
            found = decide(records)
            if not found.is_empty():
                found.write_parquet(out / f"p{number}.parquet")


def _shared_values(directory: Path, ctx: ImportContext, partitions: int) -> None:
    """Per partition of the keys, the rows sharing a value and each one's message."""
    out = directory / "messages"
    out.mkdir(parents=True, exist_ok=True)
    for number, keys in _partitions(directory / "keys", partitions):
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
        messages.write_parquet(out / f"p{number}.parquet")


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
    ahead = None
    if isinstance(profile, LooksAhead) and last is not None and profile.looks_ahead(conn):
        ahead = profile
    for number, mapped in enumerate(chunks()):
        recording = _Recording(
            directory, number, partitions, last, ahead.lookup_keys if ahead else None
        )
        token = KEY_PASS.set(recording)
        try:
            profile.plan(conn, ctx, mapped)
        except _KeysRecorded:
            pass
        finally:
            KEY_PASS.reset(token)
        recording.spill()
        if on_chunk is not None:
            on_chunk(number)
    _shared_values(directory, ctx, partitions)
    groups = GROUP_CALLS.get(profile.spec.id)
    if groups is not None:
        rules: dict[int, Callable[[pl.DataFrame], pl.DataFrame]] = {}
        first = 0
        for number, mapped in enumerate(chunks()):
            messages = _messages_of(directory, first, first + mapped.height)
            grouping = _Grouping(messages, directory, number, partitions, groups, rules)
            token = KEY_PASS.set(grouping)
            try:
                profile.plan(conn, ctx, mapped)
            except _KeysRecorded:
                pass
            finally:
                KEY_PASS.reset(token)
            first += mapped.height
        _decide_groups(directory, rules, partitions)
    answers = _looked_ahead(conn, ctx, ahead, directory)
    first = 0
    for mapped in chunks():
        end = first + mapped.height
        injecting = _Injecting(_messages_of(directory, first, end), directory, first, end)
        token = KEY_PASS.set(injecting)
        try:
            with answers(first, end):
                plan = profile.plan(conn, ctx, mapped)
        finally:
            KEY_PASS.reset(token)
        if last is not None and injecting.calls != last:
            # The key pass stopped early and missed calls: its keys would be incomplete.
            raise RuntimeError(
                f"profile {profile.spec.id} called the duplicate rule {injecting.calls} "
                f"times, not {last} (chunks.KEY_CALLS)"
            )
        if injecting.group_calls != (groups or 0):
            raise RuntimeError(
                f"profile {profile.spec.id} called across_file {injecting.group_calls} "
                f"times, not {groups or 0} (chunks.GROUP_CALLS)"
            )
        first = end
        yield plan


def _looked_ahead(
    conn: Connection, ctx: ImportContext, profile: LooksAhead | None, directory: Path
) -> ChunkAnswers:
    """The whole file's look-ups of a profile that makes them ahead (from the keys the key
    pass kept); else each chunk's plan looks its own rows up."""
    kept = _spilled(directory / "lookups")
    if profile is None or not kept:
        return lambda first, end: nullcontext()
    return profile.look_ahead(conn, ctx, kept, directory / "ahead")


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
