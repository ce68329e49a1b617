"""Undo a part at a time: the profile's undo of an import stored in parts holds at most a
part's worth of its undo frames, with the same store, conflicts and history afterwards as the
undo of the frames put together (docs/imports.md, "Large files: the import in chunks").

A profile's undo weighs together what it wrote under one key, whichever part wrote it: the
Loyalty Customers undo compares every value the import wrote to a customer's field with what
the field holds now, and a customer reached by rows of two chunks has values in two parts.
Undone part by part, each part would see the other's value as a change made since. So:

* **By key** (every profile but V2 Profile Identifiers): the frames are spilled, a part at a
  time, to Parquet files partitioned by a hash of each frame's key (``UNDO_KEYS``: the
  customer for the profiles that change customers, the card, series, coupon or event for
  the others), and the profile's undo runs once per partition, over every frame of the
  keys in it, in part order, as it ran over the whole frames. A partition larger than the
  largest part is split again by another hash before it is read.
* **In steps** (V2 Profile Identifiers, ``STEPS``): its undo is steps over kinds whose rows
  each stand alone (the merges, newest first; the identifiers added; those replaced; the
  profiles created), and each runs over every part in turn before the next step starts.

An import stored in one part is undone in one call over its frames, as before.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import polars as pl
from sqlalchemy.engine import Connection

from patron.imports import chunks, codes, progress
from patron.imports import repository as repo
from patron.imports.conflicts import CONFLICT_SCHEMA, no_conflicts
from patron.imports.context import ImportContext
from patron.imports.profile import ImportProfile, UndoStep
from patron.imports.profiles.v2_profile_identifiers import undo as v2_undo
from patron.kit.errors import NotFound

#: The column each undo frame of a profile is keyed by: the profile's undo of one key reads
#: only the frames of that key (with the same value in that column), so the frames of every
#: key are undone together, whichever parts hold them.
UNDO_KEYS: dict[str, dict[str, str]] = {
    "loyalty-customers": {
        "inserted": "customer_id",
        "inserted_values": "customer_id",
        "changes": "customer_id",
        "loyalty_slabs": "customer_id",
    },
    "legacy-customers": {
        "inserted": "customer_id",
        "inserted_values": "customer_id",
        "changes": "customer_id",
        "enrollments": "customer_id",
        "ledger": "customer_id",
    },
    "customer-status": {"changes": "customer_id"},
    "fraud-status": {"changes": "customer_id"},
    "user-subscription": {"changes": "customer_id"},
    "cards": {"inserted": "card_id", "updated": "card_id"},
    "card-series": {"inserted": "series_id", "updated": "series_id"},
    # A coupon's redemption count moves by the redemptions undone: by coupon.
    "coupon-redemption": {"redemptions": "coupon_id", "updates": "coupon_id"},
    "entity-lifecycle": {"events": "id"},
}

#: Kinds a profile's undo reads when they are stored (imports committed before they
#: existed have none): not in its ``undo_kinds``, whose absence refuses the undo.
OPTIONAL_KINDS: dict[str, tuple[str, ...]] = {"loyalty-customers": ("loyalty_slabs",)}

#: Profiles undone in steps, each over every part before the next (see the docstring).
STEPS: dict[str, tuple[UndoStep, ...]] = {"v2-profile-identifiers": v2_undo.STEPS}

#: Partitions per stored part: each holds half a part on average, so that few need
#: splitting again.
_PARTITIONS_PER_PART = 2

#: How many times a partition larger than a part is split again before it is undone as it
#: is (its rows all of a few keys: no hash separates them).
_SPLITS = 4


def stored_frames(conn: Connection, profile: ImportProfile, ctx: ImportContext) -> dict[str, int]:
    """How many parts of each of its undo frames the import holds; refused when one the
    profile needs is missing."""
    org_id, import_id = ctx.org_id, ctx.import_id
    kinds = (*profile.undo_kinds, *OPTIONAL_KINDS.get(profile.spec.id, ()))
    counts = {kind: repo.part_count(conn, org_id, import_id, _kind(kind)) for kind in kinds}
    if any(counts[kind] == 0 for kind in profile.undo_kinds):
        raise NotFound(codes.UNKNOWN_IMPORT, f"import {import_id} has no undo data")
    return {kind: count for kind, count in counts.items() if count}


def undo_frames(
    conn: Connection, profile: ImportProfile, ctx: ImportContext, stored: dict[str, int]
) -> pl.DataFrame:
    """Run the profile's undo over the import's undo frames (``stored``: their parts), a part
    at a time when they are stored in several; answer its conflicts."""
    import_id = ctx.import_id
    parts = max(stored.values(), default=0)
    if parts <= 1:
        return profile.undo(conn, ctx, {kind: _part(conn, ctx, kind, 0) for kind in stored})
    steps = STEPS.get(profile.spec.id)
    if steps is not None:
        return _in_steps(conn, ctx, steps, stored)
    keys = UNDO_KEYS.get(profile.spec.id)
    if keys is None or set(stored) - set(keys):
        raise RuntimeError(f"profile {profile.spec.id}: no key for its undo frames (UNDO_KEYS)")
    with chunks.spill_directory(import_id) as directory:
        undo = _ByKey(conn, profile, ctx, directory, {kind: keys[kind] for kind in stored})
        return undo.run(stored, parts)


def in_order(conflicts: pl.DataFrame) -> pl.DataFrame:
    """An undo's conflicts in the order they are shown: by customer, field and reason (those
    of no customer last). The order in which they were found depends on how the frames were
    stored (in parts or whole, partitioned by key); this one does not."""
    return conflicts.sort(["customer_id", "field", "reason"], nulls_last=True, maintain_order=True)


def _kind(kind: str) -> str:
    return f"undo:{kind}"


def _part(conn: Connection, ctx: ImportContext, kind: str, part: int) -> pl.DataFrame:
    frame = repo.get_part(conn, ctx.org_id, ctx.import_id, _kind(kind), part)
    if frame is None:  # parts are written and deleted together, in one transaction
        raise LookupError(f"import {ctx.import_id}: part {part} of undo:{kind} is missing")
    return frame


def _in_steps(
    conn: Connection,
    ctx: ImportContext,
    steps: tuple[UndoStep, ...],
    stored: dict[str, int],
) -> pl.DataFrame:
    conflicts = [no_conflicts()]
    for number, step in enumerate(steps):
        count = stored.get(step.kind, 0)
        order = range(count - 1, -1, -1) if step.newest_first else range(count)
        for done, part in enumerate(order):
            conflicts.append(step.run(conn, ctx, _part(conn, ctx, step.kind, part)))
            progress.part((number + (done + 1) / count) / len(steps))
    return pl.concat(conflicts)


class _ByKey:
    """The profile's undo once per partition of the frames by their keys."""

    def __init__(
        self,
        conn: Connection,
        profile: ImportProfile,
        ctx: ImportContext,
        directory: Path,
        keys: dict[str, str],
    ) -> None:
        self.conn = conn
        self.profile = profile
        self.ctx = ctx
        self.directory = directory
        self.keys = keys
        #: Each kind's columns, of every part (a part holds the columns its rows have).
        self.empty: dict[str, pl.DataFrame] = {}
        #: The most frame rows one part holds (all kinds): no partition undone holds more.
        self.limit = 0

    def run(self, stored: dict[str, int], parts: int) -> pl.DataFrame:
        def read() -> Iterator[tuple[int, dict[str, pl.DataFrame]]]:
            for part in range(parts):
                frames = {
                    kind: _part(self.conn, self.ctx, kind, part)
                    for kind, count in stored.items()
                    if part < count
                }
                for kind, frame in frames.items():
                    cleared = frame.clear()
                    known = self.empty.get(kind)
                    self.empty[kind] = (
                        cleared
                        if known is None
                        else pl.concat([known, cleared], how="diagonal_relaxed")
                    )
                self.limit = max(self.limit, sum(frame.height for frame in frames.values()))
                yield part, frames

        ways = max(1, _PARTITIONS_PER_PART * parts)
        folders = self._spill(read(), self.directory / "k", ways, seed=0)
        if not folders:  # every part empty: the undo runs once, as over the whole frames
            return self.profile.undo(self.conn, self.ctx, self.empty).select(CONFLICT_SCHEMA.keys())
        conflicts = [no_conflicts()]
        for done, (folder, rows) in enumerate(folders):
            conflicts.extend(self._undo(folder, rows, depth=0))
            progress.part((done + 1) / len(folders))
        return pl.concat(conflicts)

    def _spill(
        self,
        parts: Iterator[tuple[int, dict[str, pl.DataFrame]]],
        root: Path,
        ways: int,
        seed: int,
    ) -> list[tuple[Path, int]]:
        """Write each part's frames to ``root/p<n>/<kind>/<part>.parquet``, ``n`` a hash of
        the frame's key; answer the partitions with their rows."""
        rows = [0] * ways
        for part, frames in parts:
            for kind, frame in frames.items():
                if frame.is_empty():
                    continue
                key = pl.col(self.keys[kind]).cast(pl.Int64).hash(seed) % ways
                numbered = frame.with_columns(_partition=key.cast(pl.Int32))
                groups = numbered.partition_by("_partition", as_dict=True, include_key=False)
                for (number,), group in groups.items():
                    folder = root / f"p{number}" / kind
                    folder.mkdir(parents=True, exist_ok=True)
                    group.write_parquet(folder / f"{part:08d}.parquet")
                    rows[int(number)] += group.height
        return [(root / f"p{number}", count) for number, count in enumerate(rows) if count]

    def _undo(self, folder: Path, rows: int, depth: int) -> list[pl.DataFrame]:
        if rows > self.limit and depth < _SPLITS:
            # A partition larger than a part: split again, by another hash, a file at a time.
            parts = self._stored(folder)
            ways = 2 * -(-rows // self.limit)
            found = []
            for sub, count in self._spill(parts, folder / "s", ways, seed=depth + 1):
                found.extend(self._undo(sub, count, depth + 1))
            return found
        frames = {}
        for kind, empty in self.empty.items():
            files = sorted((folder / kind).glob("*.parquet"))
            # In part order, as the frames put together have them.
            read = [pl.read_parquet(path) for path in files]
            frames[kind] = pl.concat([empty, *read], how="diagonal_relaxed")
        conflicts = self.profile.undo(self.conn, self.ctx, frames)
        return [conflicts.select(CONFLICT_SCHEMA.keys())]

    def _stored(self, folder: Path) -> Iterator[tuple[int, dict[str, pl.DataFrame]]]:
        """A partition's files, a stored part's at a time (each at most a part's rows)."""
        by_part: dict[int, dict[str, Path]] = {}
        for kind in self.empty:
            for path in (folder / kind).glob("*.parquet"):
                by_part.setdefault(int(path.stem), {})[kind] = path
        for part in sorted(by_part):
            yield part, {kind: pl.read_parquet(path) for kind, path in by_part[part].items()}
