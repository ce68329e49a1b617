"""The set-based reference checks of a large frame (bulk_repository.write_rows, PostgreSQL)
read parents by index (each staged value's, or the range of ids a frame of new rows fills):
a plan that reads the whole parent table per check made an import in chunks pay more per
chunk as its tables grew."""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from patron.customer import bulk_repository
from patron.customer.tables import identifiers, profiles
from patron.kit.db import transaction

from .conftest import OrgHandle, make_org
from .test_postgresql_loads import ROWS, _identifiers, _new_customers


def _check_plan(engine: Engine, frame_of: Any) -> str:
    """The plan of the last set-based check run while writing ``frame_of(conn)``'s
    identifiers (the profile key's: its values are still staged)."""
    checks: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "bulk_references" in statement and "count(*) FILTER" in statement:
            checks.append((statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        with transaction(engine) as conn:
            bulk_repository.write_rows(conn, identifiers, frame_of(conn))
            statement, parameters = checks[-1]
            plan = "\n".join(
                str(row[0]) for row in conn.exec_driver_sql(f"EXPLAIN {statement}", parameters)
            )
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    assert len(checks) >= 2  # one per foreign key of identifiers
    return plan


@pytest.mark.parametrize("step", [1, 4])
def test_the_reference_checks_read_parents_by_index(
    engine: Engine, backend: str, org: OrgHandle, step: int
) -> None:
    """Values spread over the parent's ids (step 4) are looked up one by one by index; values
    filling a range of ids (step 1: a chunk's new rows) read that range of the index once.
    Either way the check reads no more of the parent than the frame's part of it, in a
    table ten times the frame's size."""
    if backend != "postgresql":
        pytest.skip("the set-based checks are PostgreSQL's (SQLite keeps its keys)")
    with transaction(engine) as conn:
        people = _new_customers(conn, org.id, ROWS * 10)
    with engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE customers, profiles")
        conn.commit()
    named = people.tail(ROWS * step).gather_every(step)
    plan = _check_plan(engine, lambda conn: _identifiers(org.id, named, "P-"))
    assert "Seq Scan on customers" not in plan, plan
    assert "Seq Scan on profiles" not in plan, plan
    if step == 1:
        assert "Index Cond: ((id >= " in plan, plan  # the range of the frame's ids
    else:
        assert "Index" in plan, plan
        assert "Hash" not in plan, plan


def test_the_range_check_still_refuses_a_missing_or_foreign_parent(
    engine: Engine, backend: str, org: OrgHandle
) -> None:
    """A frame whose values fill a range is checked by that range: a profile id inside the
    range that is no profile of the org is refused as before, and nothing is written."""
    if backend != "postgresql":
        pytest.skip("the set-based checks are PostgreSQL's (SQLite keeps its keys)")
    other = make_org(engine)
    with transaction(engine) as conn:
        people = _new_customers(conn, org.id, ROWS)
        strangers = _new_customers(conn, other.id, 1)
    frame = _identifiers(org.id, people, "R-")
    # The other org's profile, within the frame's range of profile ids once the range
    # reaches it: the last row names it instead of its own.
    stranger = int(strangers["profile_id"][0])
    frame = pl.concat(
        [frame.head(ROWS - 1), frame.tail(1).with_columns(profile_id=pl.lit(stranger, pl.Int64))]
    )
    with pytest.raises(sa.exc.IntegrityError, match="same org"), transaction(engine) as conn:
        bulk_repository.write_rows(conn, identifiers, frame)
    with transaction(engine, write=False) as conn:
        count = conn.execute(
            sa.select(sa.func.count()).where(identifiers.c.org_id == org.id)
        ).scalar_one()
    assert count == 0


def test_a_frame_of_new_rows_written_here_is_checked_by_one_count(
    engine: Engine, backend: str, org: OrgHandle
) -> None:
    """Identifiers of customers and profiles that the same transaction just wrote (a chunk's
    new rows) are checked by counting the parents' range, nothing staged; they are written."""
    if backend != "postgresql":
        pytest.skip("the set-based checks are PostgreSQL's (SQLite keeps its keys)")
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    with transaction(engine) as conn:
        people = _new_customers(conn, org.id, ROWS)
        sa.event.listen(engine, "before_cursor_execute", record)
        try:
            bulk_repository.write_rows(conn, identifiers, _identifiers(org.id, people, "N-"))
        finally:
            sa.event.remove(engine, "before_cursor_execute", record)
    assert not [s for s in statements if "bulk_references" in s], statements
    assert len([s for s in statements if "pg_current_xact_id" in s]) == 2  # one per key
    with transaction(engine, write=False) as conn:
        count = conn.execute(
            sa.select(sa.func.count()).where(identifiers.c.org_id == org.id)
        ).scalar_one()
    assert count == ROWS


def test_a_gap_in_new_rows_written_here_is_refused(
    engine: Engine, backend: str, org: OrgHandle
) -> None:
    """One profile of the range deleted in the same transaction: the count falls short, the
    staged check finds the missing parent and refuses the frame, as the key would."""
    if backend != "postgresql":
        pytest.skip("the set-based checks are PostgreSQL's (SQLite keeps its keys)")

    def load() -> None:
        with transaction(engine) as conn:
            people = _new_customers(conn, org.id, ROWS)
            gone = int(people["profile_id"][ROWS // 2])
            conn.execute(sa.delete(profiles).where(profiles.c.id == gone))
            bulk_repository.write_rows(conn, identifiers, _identifiers(org.id, people, "G-"))

    with pytest.raises(sa.exc.IntegrityError, match="no row in profiles"):
        load()
    with transaction(engine, write=False) as conn:
        count = conn.execute(
            sa.select(sa.func.count()).where(identifiers.c.org_id == org.id)
        ).scalar_one()
    assert count == 0


def test_the_count_of_new_rows_reads_their_range_and_no_other_index(
    engine: Engine, backend: str, org: OrgHandle
) -> None:
    """The one count that checks a chunk's new rows reads the range of their ids, whatever
    the planner thinks of the table: with the org in its WHERE it ANDed that range with every
    entry of the org in another index of profiles (whose key is the id alone), a read that
    grew with the table (0.04 to 0.40 s a chunk through a ten-million-row first load)."""
    if backend != "postgresql":
        pytest.skip("the set-based checks are PostgreSQL's (SQLite keeps its keys)")
    counts: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "pg_current_xact_id" in statement and "FROM profiles" in statement:
            counts.append((statement, parameters))

    with transaction(engine) as conn:
        # The table grows within the transaction, past what its statistics know of it, as
        # an import's first load grows it chunk after chunk.
        people = _new_customers(conn, org.id, ROWS * 20)
        sa.event.listen(engine, "before_cursor_execute", record)
        try:
            bulk_repository.write_rows(
                conn, identifiers, _identifiers(org.id, people.tail(ROWS), "C-")
            )
        finally:
            sa.event.remove(engine, "before_cursor_execute", record)
        [(statement, parameters)] = counts
        plan = "\n".join(
            str(row[0]) for row in conn.exec_driver_sql(f"EXPLAIN {statement}", parameters)
        )
    assert "pk_profiles" in plan, plan
    assert "BitmapAnd" not in plan, plan
    assert "uq_profiles" not in plan, plan
    assert "ix_profiles" not in plan, plan
