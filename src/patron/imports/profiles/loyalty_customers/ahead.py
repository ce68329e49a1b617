"""Loyalty Customers: a file in chunks looked up in the store once, before its chunks' plans.

A chunk of a large file names customers all over the store: the owners of its rows'
identifiers, then its matched customers' state (their rows, in-store profiles, accounts,
identifiers and org fields), are looked up about one to a page of the store's indexes and
tables, and the next chunk reads those pages again. Here the whole file is looked up at
once, each kind of look-up by one join, so that the server reads each page about once:

1. the identifier values of every row (kept by the key pass: :func:`lookup_keys`) are
   staged, and one join answers their owners;
2. each row's customer as the match finds it (its user id, else the owner of its unique
   identifier) is staged, and one join per :func:`.stored.state_queries` query answers the
   state of all of them;
3. the answers are spilled by chunk (Parquet under the step's spill directory, read as they
   stream in) and each chunk's plan is made with its own in place (:func:`owners`,
   :func:`current_state`).

The answers are a cache with a complete fallback: a value or a customer a chunk's plan asks
about that was not looked up here (the survivor of a merged customer named by its user id,
say) is looked up in the store as before, so a chunk's plan is the same whoever answers.
The store is read in the step's transaction, before the first chunk's plan, as every
chunk's plan reads it (nothing is written until every chunk is planned).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from patron.customer.tables import identifiers
from patron.imports.context import ImportContext
from patron.imports.profile import ChunkAnswers
from patron.imports.profiles.loyalty_customers.stored import (
    IDENTIFIER_TYPES,
    LOYALTY_FIELDS,
    PROFILE_FIELDS,
    Current,
    Reads,
    assemble,
    read_state,
    state_queries,
)
from patron.imports.profiles.loyalty_customers.stored import (
    current_state as read_current_state,
)
from patron.kit.bulk import create_temp_table, insert_frame, is_postgres, read_batches

_VALUES = "import_ahead_values"
_CUSTOMERS = "import_ahead_customers"
_OWNERS_SCHEMA = {"row": pl.Int64, "type": pl.String, "value": pl.String, "owner_id": pl.Int64}


@dataclass(frozen=True)
class Answers:
    """What was looked up ahead for one chunk's rows."""

    looked_up: pl.DataFrame  # (type, value): every identifier value of the chunk's rows
    owners: pl.DataFrame  # (type, value, owner_id): those a customer of the org holds
    ids: pl.Series  # the customers whose state was read
    frames: dict[str, pl.DataFrame]  # the frames of :func:`.stored.state_queries`, for them


_ANSWERS: ContextVar[Answers | None] = ContextVar("patron_loyalty_answers", default=None)


def looks_ahead(conn: Connection) -> bool:
    """On PostgreSQL, whose planner joins the whole file's rows by cost (a hash join of the
    store's tables read once, or look-ups by index for a file small against its store).
    SQLite's planner drives these joins from the store's table, scanning every customer
    of the org for each query whatever the file's size (and with no index on the staged
    rows, the staged rows for every customer), where a chunk's look-ups go by index in
    the staged ids' order: each chunk looks its own rows up there."""
    return is_postgres(conn)


def lookup_keys(validated: pl.DataFrame) -> pl.DataFrame:
    """What the plan looks up of a chunk's rows: its user ids and identifier values."""
    looked = [field for field in ("user_id", *IDENTIFIER_TYPES) if field in validated.columns]
    return validated.select("row", *looked)


def owners(values: pl.DataFrame, in_store: Callable[[pl.DataFrame], pl.DataFrame]) -> pl.DataFrame:
    """(type, value, owner_id) of the identifier ``values`` (type, value) already stored:
    answered ahead where they were looked up, ``in_store`` for the others."""
    answers = _ANSWERS.get()
    if answers is None:
        return in_store(values)
    known = values.join(answers.looked_up, on=["type", "value"], how="semi")
    found = answers.owners.join(known.unique(), on=["type", "value"], how="semi")
    rest = values.join(answers.looked_up, on=["type", "value"], how="anti")
    return found if rest.is_empty() else pl.concat([found, in_store(rest)])


def current_state(
    conn: Connection, rows: pl.DataFrame, ctx: ImportContext, updatable: list[str]
) -> Current:
    """:func:`.stored.current_state`, answered ahead for the customers whose state was read
    ahead, from the store for the others."""
    answers = _ANSWERS.get()
    if answers is None:
        return read_current_state(conn, rows, ctx, updatable)
    reads = Reads.of(ctx, updatable)
    ids = rows["customer_id"].drop_nulls().unique()
    known = ids.is_in(answers.ids.implode())
    ahead = assemble(reads, _of_ids(answers, reads, ids.filter(known)))
    rest = ids.filter(~known)
    if rest.is_empty():
        return ahead
    return _joined(ahead, read_state(conn, ctx, rest, reads), reads)


def _of_ids(answers: Answers, reads: Reads, ids: pl.Series) -> dict[str, pl.DataFrame]:
    """The frames read ahead, of the customers ``ids`` and the columns ``reads`` asks for."""
    mine = pl.col("customer_id").is_in(ids.implode())
    people = answers.frames["people"].select(
        "customer_id", "system_status", "fraud_status", "profile_id", *reads.names, *reads.loyalty
    )
    frames = {"people": people.filter(mine)}
    if reads.identifiers:
        kinds = [IDENTIFIER_TYPES[field] for field in reads.identifiers]
        held = answers.frames["identifiers"]
        frames["identifiers"] = held.filter(mine & pl.col("type").is_in(kinds))
    for target in reads.org_fields:
        frames[target] = answers.frames[target].filter(mine)
    return frames


def _joined(ahead: Current, stored: Current, reads: Reads) -> Current:
    """Two :class:`Current` of different customers as one, in customer order."""

    def both(first: pl.DataFrame, second: pl.DataFrame) -> pl.DataFrame:
        return pl.concat([first, second]).sort("customer_id", maintain_order=True)

    return Current(
        customers=both(ahead.customers, stored.customers),
        values={field: both(ahead.of(field), stored.of(field)) for field in ahead.values},
        held={
            field: both(ahead.held_of(field), stored.held_of(field)) for field in reads.identifiers
        },
    )


# --- the whole file's look-ups --------------------------------------------------------------


def look_ahead(
    conn: Connection, ctx: ImportContext, keys: list[Path], directory: Path
) -> ChunkAnswers:
    """Look every chunk's ``keys`` (:func:`lookup_keys`, a file per chunk in file order) up;
    answer what each chunk's plan is made within."""
    firsts = [_first_row(path) for path in keys]
    reads = Reads.of(ctx, _mapped_fields(ctx))
    owners_looked_up = _look_up_owners(conn, ctx, keys, directory, firsts)
    _stage_customers(conn, ctx, keys, directory)
    for name, read in state_queries(ctx, reads).items():
        staged = sa.table(_CUSTOMERS, sa.column("row"), sa.column("customer_id"))
        query = read.query.join(staged, read.key == staged.c.customer_id).add_columns(staged.c.row)
        _spill(
            read_batches(conn, query, {**read.schema, "row": pl.Int64}), directory / name, firsts
        )
    conn.exec_driver_sql(f'TRUNCATE "{_CUSTOMERS}"')

    @contextmanager
    def answering(first: int, end: int) -> Iterator[None]:
        if first not in firsts:
            yield  # a chunk without kept keys: its plan looks its rows up itself
            return
        chunk = firsts.index(first)
        token = _ANSWERS.set(_answers(keys, directory, chunk, ctx, reads, owners_looked_up))
        try:
            yield
        finally:
            _ANSWERS.reset(token)

    return answering


def _mapped_fields(ctx: ImportContext) -> list[str]:
    """Every field a chunk's plan may read the stored value of (it reads those it updates)."""
    every = [*PROFILE_FIELDS, *IDENTIFIER_TYPES, *LOYALTY_FIELDS, *ctx.fields]
    return [field for field in every if field in ctx.columns]


def _first_row(path: Path) -> int:
    first = pl.scan_parquet(path).select(pl.col("row").min()).collect().item()
    return int(first)


def _values(keys: pl.DataFrame) -> pl.DataFrame:
    """(row, type, value) of every identifier value of ``keys``."""
    parts = [
        keys.select("row", type=pl.lit(kind), value=pl.col(field).cast(pl.String))
        for field, kind in IDENTIFIER_TYPES.items()
        if field in keys.columns
    ]
    frame = pl.concat(parts) if parts else pl.DataFrame(schema=_OWNERS_SCHEMA).drop("owner_id")
    return frame.drop_nulls("value")


def _look_up_owners(
    conn: Connection, ctx: ImportContext, keys: list[Path], directory: Path, firsts: list[int]
) -> bool:
    """Every identifier value of the file with its owner, spilled by chunk (row, type, value,
    owner_id); whether they were looked up. A store holding fewer of those identifiers than a
    chunk has values is left to each chunk's plan, which reads it whole
    (:func:`.resolve._owners`)."""
    first = pl.read_parquet(keys[0])
    kinds = [kind for field, kind in IDENTIFIER_TYPES.items() if field in first.columns]
    if not kinds or _few_stored(conn, ctx, kinds, max(_values(first).height, 1)):
        return False
    create_temp_table(
        conn, _VALUES, {"row": "BIGINT", "type": "VARCHAR(32)", "value": "VARCHAR(255)"}
    )
    for path in keys:
        insert_frame(conn, _VALUES, _values(pl.read_parquet(path)))
    conn.exec_driver_sql(f'ANALYZE "{_VALUES}"')  # a temporary table has no statistics else
    staged = sa.table(_VALUES, sa.column("row"), sa.column("type"), sa.column("value"))
    query = sa.select(staged.c.row, staged.c.type, staged.c.value, identifiers.c.customer_id).join(
        identifiers,
        sa.and_(
            identifiers.c.org_id == ctx.org_id,
            identifiers.c.type == staged.c.type,
            identifiers.c.value == staged.c.value,
        ),
    )
    _spill(read_batches(conn, query, _OWNERS_SCHEMA), directory / "owners", firsts)
    conn.exec_driver_sql(f'TRUNCATE "{_VALUES}"')  # its disk space back, before the commit
    return True


def _few_stored(conn: Connection, ctx: ImportContext, kinds: list[str], count: int) -> bool:
    """Whether the org holds fewer than ``count`` identifiers of the ``kinds`` (the counting
    stops at ``count``)."""
    mine = sa.and_(identifiers.c.org_id == ctx.org_id, identifiers.c.type.in_(kinds))
    some = sa.select(identifiers.c.id).where(mine).limit(count).subquery()
    return conn.execute(sa.select(sa.func.count()).select_from(some)).scalar_one() < count


def _stage_customers(
    conn: Connection, ctx: ImportContext, keys: list[Path], directory: Path
) -> None:
    """Each row's customer as the match finds it (its user id, else the owner of its unique
    identifier), staged for the state's look-ups; each chunk's customers kept apart."""
    key = ctx.options["unique_identifier"]
    kind = IDENTIFIER_TYPES[key]
    create_temp_table(conn, _CUSTOMERS, {"row": "BIGINT", "customer_id": "BIGINT"})
    (directory / "ids").mkdir(parents=True, exist_ok=True)
    for number, path in enumerate(keys):
        rows = pl.read_parquet(path)
        owner = _read(directory / "owners", number, _OWNERS_SCHEMA).filter(pl.col("type") == kind)
        given = pl.col("user_id") if "user_id" in rows.columns else pl.lit(None)
        matched = rows.select("row", user_id=given.cast(pl.Int64)).join(
            owner.select("row", "owner_id"), on="row", how="left"
        )
        found = matched.select("row", customer_id=pl.coalesce("user_id", "owner_id")).drop_nulls()
        insert_frame(conn, _CUSTOMERS, found)
        found.select(pl.col("customer_id").unique()).write_parquet(
            directory / "ids" / f"c{number}.parquet"
        )
    conn.exec_driver_sql(f'ANALYZE "{_CUSTOMERS}"')


def _spill(batches: Iterable[pl.DataFrame], folder: Path, firsts: list[int]) -> None:
    """Write each batch's rows to the files of their chunks (``c<chunk>-b<batch>.parquet``)
    as the batches come."""
    folder.mkdir(parents=True, exist_ok=True)
    starts = pl.Series(firsts, dtype=pl.Int64)
    for number, batch in enumerate(batches):
        chunk = starts.search_sorted(batch["row"], side="right") - 1
        parts = batch.with_columns(_chunk=chunk).partition_by("_chunk", as_dict=True)
        for (index,), part in parts.items():
            path = folder / f"c{index}-b{number}.parquet"
            part.drop("_chunk").write_parquet(path, compression="lz4")


def _read(folder: Path, chunk: int, schema: dict[str, Any]) -> pl.DataFrame:
    files = sorted(folder.glob(f"c{chunk}-b*.parquet"))
    if not files:
        return pl.DataFrame(schema=schema)
    return pl.concat([pl.read_parquet(path) for path in files], how="vertical_relaxed")


def _answers(
    keys: list[Path],
    directory: Path,
    chunk: int,
    ctx: ImportContext,
    reads: Reads,
    owners_looked_up: bool,
) -> Answers:
    looked_up = pl.DataFrame(schema={"type": pl.String, "value": pl.String})
    if owners_looked_up:
        looked_up = _values(pl.read_parquet(keys[chunk])).select("type", "value").unique()
    owners = _read(directory / "owners", chunk, _OWNERS_SCHEMA)
    frames = {
        name: _read(directory / name, chunk, {**read.schema, "row": pl.Int64}).drop("row").unique()
        for name, read in state_queries(ctx, reads).items()
    }
    return Answers(
        looked_up=looked_up,
        owners=owners.select("type", "value", "owner_id").unique(),
        ids=pl.read_parquet(directory / "ids" / f"c{chunk}.parquet")["customer_id"],
        frames=frames,
    )
