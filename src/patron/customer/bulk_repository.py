"""Set-based writes of customer rows by the imports: one staged writer, one id-staging helper.

The profiles that write customers (Loyalty Customers, the legacy batch API's,
V2 Profile Identifier) write their rows of ``customers``, ``profiles``,
``identifiers``, ``loyalty_accounts`` and ``field_values`` through
:func:`write_rows`.

On PostgreSQL a foreign key checks each inserted row on its own (an index
look-up and a ``FOR KEY SHARE`` lock of the parent row, through a trigger):
two thirds of a million-customer load (docs/postgresql-loads.md). For a large
frame :func:`write_rows` does the same checks set-based instead, once per key
and frame, and copies the rows in with the keys' triggers off for that one
statement (``session_replication_role = replica``, local to the transaction):

1. the frame's distinct key values are staged, and one statement counts those
   without a parent *of the same org* (stricter than the keys, which do not
   all carry ``org_id``) and the parents this transaction did not write: a
   look-up by index per value, or, when the values fill a range of the parent's
   ids (a chunk's new rows), one read of that range of the parent. When they are
   every id of the range and this transaction wrote each of those parents, one
   count over the range decides it, nothing staged;
2. those parents are locked ``FOR KEY SHARE``, as the key's trigger does, so
   that no other transaction can delete them before this one commits, and
   counted again: every one must be locked (rows this transaction wrote are
   out of other transactions' reach already: a first load locks only its org,
   its status label and its stores);
3. only then are the rows copied in. A value without its parent fails the
   transaction with PostgreSQL's own foreign-key error (SQLSTATE 23503), as
   the key would; should other transactions keep committing parents between
   the lock and the count, the frame is inserted with the keys' triggers on.

Every other write (the API, the CLI, small frames, SQLite) keeps the per-row
keys. Turning the triggers off needs the right to set the parameter: a
superuser, or on PostgreSQL 15 and later ``GRANT SET ON PARAMETER
session_replication_role TO <role>``. Without it the writer inserts with the
keys' own checks, as before.
"""

from __future__ import annotations

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from patron.kit.bulk import insert_frame, is_postgres, stage

#: From this many rows a frame is checked set-based: below it the staging costs more than
#: the keys' own look-ups (measured: about 15 µs a row for a key, 10-20 ms a staged check).
SET_BASED_ROWS = 2_000
#: Parents committed by another transaction between the lock and the check are locked in
#: another pass; after this many passes the keys' own checks decide.
_LOCK_PASSES = 3
_STAGE = "bulk_references"


def stage_ids(conn: Connection, name: str, ids: pl.Series) -> sa.Select[tuple[int]]:
    """Stage the distinct ids of ``ids`` in a temporary table ``name``; answer them as a
    sub-query for ``IN (...)``."""
    frame = pl.DataFrame({"id": ids.drop_nulls().unique()}, schema={"id": pl.Int64})
    return sa.select(stage(conn, name, {"id": "BIGINT"}, frame).c.id)


def write_rows(conn: Connection, table: sa.Table, frame: pl.DataFrame) -> None:
    """Insert every row of ``frame`` (columns named like ``table``'s) into ``table``.

    Large frames on PostgreSQL have their foreign keys checked set-based (see the
    module's text); the rows written are the same either way, and a row naming a
    missing parent, or a parent of another org, is refused either way.
    """
    if frame.height < SET_BASED_ROWS or not is_postgres(conn):
        insert_frame(conn, table, frame)
        return
    role = _replication_role(conn)
    if role is None or not all(_references_locked(conn, table, key, frame) for key in _keys(table)):
        insert_frame(conn, table, frame)
        return
    conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
    insert_frame(conn, table, frame)
    # Back to what it was for the rest of the transaction: every later write keeps its keys.
    # (Should the COPY fail, the rollback undoes the SET LOCAL as well.)
    conn.execute(
        sa.text("SELECT set_config('session_replication_role', :role, true)"), {"role": role}
    )


def _replication_role(conn: Connection) -> str | None:
    """The current ``session_replication_role``, or None when this role may not change it."""
    if conn.dialect.server_version_info is not None and conn.dialect.server_version_info >= (15,):
        may = "has_parameter_privilege('session_replication_role', 'SET')"
    else:
        may = "current_setting('is_superuser') = 'on'"
    row = conn.exec_driver_sql(f"SELECT current_setting('session_replication_role'), {may}").one()
    return str(row[0]) if row[1] and row[0] == "origin" else None


def _keys(table: sa.Table) -> list[sa.ForeignKeyConstraint]:
    return sorted(
        table.foreign_key_constraints, key=lambda key: [column.name for column in key.columns]
    )


def _references_locked(
    conn: Connection, table: sa.Table, key: sa.ForeignKeyConstraint, frame: pl.DataFrame
) -> bool:
    """Check that the parents ``frame`` names through ``key`` exist, in the frame's org
    when both tables carry ``org_id``, and lock them; raise PostgreSQL's foreign-key error
    when one does not. False: parents kept appearing between the lock and the count."""
    columns = [column.name for column in key.columns]
    parent = key.referred_table
    targets = [element.column.name for element in key.elements]
    missing = [name for name in columns if name not in frame.columns]
    if missing:
        # A column the frame leaves out takes its default: no reference unless it has one.
        return all(
            table.c[name].server_default is None and table.c[name].default is None
            for name in missing
        )
    pairs = list(zip(columns, targets, strict=True))
    if "org_id" in frame.columns and "org_id" not in columns and "org_id" in parent.c:
        pairs.append(("org_id", "org_id"))  # the tenant: a parent of another org is missing
    names = [name for name, _ in pairs]
    values = frame.select(names).drop_nulls().unique()
    if values.is_empty():
        return True
    tenants = [name for name, target in pairs if target == "org_id"]
    one_org = bool(tenants) and values[tenants[0]].n_unique() == 1
    # One org (an import's frame): its rows of the parent are read by the (org_id, ...)
    # index, not the whole table of every org.
    in_org = [parent.c.org_id == int(values[tenants[0]][0])] if one_org else []
    span = _dense_span(values, pairs)
    if (
        span is not None
        and (one_org or not tenants)
        and _all_written_here(conn, parent, span, in_org, values.height)
    ):
        return True
    kinds = {name: table.c[name].type.compile(conn.dialect) for name in names}
    staged = stage(conn, _STAGE, kinds, values)
    match = sa.and_(*(parent.c[target] == staged.c[name] for name, target in pairs), *in_org)
    # Rows written (inserted or updated) by this transaction are already out of other
    # transactions' reach; locking them would cost as much as the keys' own checks.
    foreign = sa.not_(_written_here(parent))
    # Each staged row looks its parent up by index (a LATERAL sub-select with LIMIT 1 is a
    # nested loop): joined whole, the planner hashed every row of the org's parent table for
    # each batch, so an import in chunks cost more per chunk as the table grew (3.2 s a
    # check at 3M customers; BENCHMARKS.md, "The import in chunks").
    locked_parent = (
        sa.select(sa.literal(1).label("one"))
        .select_from(parent)
        .where(match, foreign)
        .limit(1)
        .with_for_update(read=True, key_share=True, of=parent)
        .lateral("locked_parent")
    )
    locking = sa.select(sa.literal(1)).select_from(staged.join(locked_parent, sa.true())).subquery()
    found: sa.FromClause
    if span is None:
        found = (
            sa.select(parent.c[targets[0]].label("t_0"), foreign.label("foreign"))
            .where(match)
            .limit(1)
            .lateral("found")
        )
        joined = staged.outerjoin(found, sa.true())
    else:
        # The values fill most of one range of the parent's ids (a chunk's new customers or
        # profiles: ids drawn in a row from the sequence): the parent's rows of that range,
        # read once by index and joined, cost a fraction of one look-up per value (the
        # look-ups were a quarter of a million-row first load: docs/postgresql-loads.md),
        # and only that range is read, however large the table grows. The org is matched
        # in the join (it is one of the pairs), not searched for in the range (see
        # _all_written_here).
        target, low, high = span
        found = (
            sa.select(
                *(parent.c[target].label(f"t_{n}") for n, (_, target) in enumerate(pairs)),
                foreign.label("foreign"),
            )
            .where(parent.c[target].between(low, high))
            .subquery("found")
        )
        on = [staged.c[name] == found.c[f"t_{n}"] for n, (name, _) in enumerate(pairs)]
        joined = staged.outerjoin(found, sa.and_(*on))
    counting = sa.select(
        sa.func.count().filter(found.c.t_0.is_(None)),
        sa.func.count().filter(found.c.t_0.is_not(None) & found.c.foreign),
    ).select_from(joined)
    locked = 0
    for _ in range(_LOCK_PASSES):
        absent, others = conn.execute(counting).one()
        if absent:
            _refuse(conn, table, parent, names, absent)
        if others == locked:
            return True
        locked = conn.execute(sa.select(sa.func.count()).select_from(locking)).scalar_one()
    return False


def _written_here(parent: sa.Table) -> sa.ColumnElement[bool]:
    """The parent's row was inserted or last updated by this transaction."""
    return sa.literal_column(f'"{parent.name}".xmin') == sa.func.xid(sa.func.pg_current_xact_id())


def _all_written_here(
    conn: Connection,
    parent: sa.Table,
    span: tuple[str, int, int],
    in_org: list[sa.ColumnElement[bool]],
    height: int,
) -> bool:
    """True when the frame's ``height`` values (of one org: ``in_org``) are every id of the
    ``span`` of the parent, and the parent holds each of them in that org, written by this
    transaction: a chunk's new customers or profiles, which no other transaction can see,
    delete or lock yet.

    One count over that range of the parent's index decides it, with nothing staged;
    any other answer (a missing id, a parent committed before) leaves the decision to the
    staged check, which refuses or locks as it always did.
    """
    target, low, high = span
    if height != high - low + 1:  # one row per id: every id of the range
        return False
    # The key's target is unique in the parent (within the org where the key has org_id).
    # The org is counted, not searched for: in the WHERE, the planner ANDed the range with
    # every entry of the org in another index of profiles (whose key is the id alone), a
    # read that grew with the table (0.04 to 0.40 s a chunk through a 10M first load).
    counted = sa.func.count().filter(*in_org) if in_org else sa.func.count()
    where = [parent.c[target].between(low, high), _written_here(parent)]
    found = conn.execute(sa.select(counted).select_from(parent).where(*where))
    return int(found.scalar_one()) == height


def _dense_span(values: pl.DataFrame, pairs: list[tuple[str, str]]) -> tuple[str, int, int] | None:
    """(the parent's column, lowest, highest) when the key names its parent by one integer
    column besides ``org_id`` and the frame's values fill at least half of their range."""
    ids = [(name, target) for name, target in pairs if target != "org_id"]
    if len(ids) != 1 or not values.schema[ids[0][0]].is_integer():
        return None
    name, target = ids[0]
    column = values[name]
    low, high = column.min(), column.max()
    distinct = column.n_unique()
    if not isinstance(low, int) or not isinstance(high, int) or (high - low + 1) > 2 * distinct:
        return None
    return target, low, high


def _refuse(
    conn: Connection, table: sa.Table, parent: sa.Table, names: list[str], absent: int
) -> None:
    """Fail the transaction with the error a foreign key gives (``IntegrityError``)."""
    message = (
        f"insert into {table.name} names {absent} value(s) of ({', '.join(names)}) "
        f"with no row in {parent.name} of the same org"
    )
    conn.exec_driver_sql(
        f"DO $refuse$ BEGIN RAISE foreign_key_violation USING MESSAGE = '{message}'; END $refuse$"
    )
    raise AssertionError("unreachable: the DO block raises")  # pragma: no cover
