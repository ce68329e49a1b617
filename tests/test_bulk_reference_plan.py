"""The set-based reference checks of a large frame (bulk_repository.write_rows, PostgreSQL)
look each staged value's parent up by index: a plan that reads the whole parent table per
check made an import in chunks pay more per chunk as its tables grew."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from patron.customer import bulk_repository
from patron.customer.tables import identifiers
from patron.kit.db import transaction

from .conftest import OrgHandle
from .test_postgresql_loads import ROWS, _identifiers, _new_customers


def test_the_reference_checks_read_parents_by_index(
    engine: Engine, backend: str, org: OrgHandle
) -> None:
    if backend != "postgresql":
        pytest.skip("the set-based checks are PostgreSQL's (SQLite keeps its keys)")
    with transaction(engine) as conn:
        people = _new_customers(conn, org.id, ROWS)
    checks: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "bulk_references" in statement and "count(*) FILTER" in statement:
            checks.append((statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        with transaction(engine) as conn:
            bulk_repository.write_rows(conn, identifiers, _identifiers(org.id, people, "P-"))
            # The last key's values are still staged: its check planned as it ran.
            statement, parameters = checks[-1]
            plan = "\n".join(
                str(row[0]) for row in conn.exec_driver_sql(f"EXPLAIN {statement}", parameters)
            )
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    assert len(checks) >= 2  # one per foreign key of identifiers
    assert "Index" in plan, plan
    assert "Hash" not in plan, plan
    assert "Seq Scan on customers" not in plan, plan
