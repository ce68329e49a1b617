"""A registration runs in the request's transaction without a savepoint: a race lost to a
concurrent registration rolls the whole transaction back and runs it again (the thirty
concurrent registrations of ``test_concurrency`` keep that honest over HTTP)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from patron.kit.db import retry_in_request_transaction
from tests.conftest import Api
from tests.factories import registration
from tests.statements import recorded_statements


def test_a_registration_takes_one_statement_on_postgresql_and_no_savepoint(
    api: Api, engine: Engine
) -> None:
    assert api.post("/v2/customers", json=registration(mobile="919845055555")).status_code == 200
    with recorded_statements(engine) as statements:
        answer = api.post("/v2/customers", json=registration(mobile="919845066666"))
    assert answer.status_code == 200, answer.text
    assert not [s for s in statements if "SAVEPOINT" in s.upper()], statements
    # What the identifiers meet (their owners, suppressions and pending invitations), and as
    # they meet nothing the customer, its profile, its identifier and the audit entry: one
    # statement on PostgreSQL; on SQLite (no data-modifying CTEs) the read, then one a table.
    expected = 1 if engine.dialect.name == "postgresql" else 5
    assert len(statements) == expected, statements


def test_a_lost_race_runs_the_work_again_in_a_new_transaction(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.exec_driver_sql("CREATE TEMPORARY TABLE race (name VARCHAR(20) PRIMARY KEY)")
        conn.exec_driver_sql("INSERT INTO race VALUES ('taken')")
        conn.commit()
        attempts: list[int] = []

        def work(c: Connection) -> int:
            attempts.append(len(attempts) + 1)
            c.execute(sa.text("INSERT INTO race VALUES (:name)"), {"name": f"mine-{len(attempts)}"})
            if len(attempts) == 1:
                c.exec_driver_sql("INSERT INTO race VALUES ('taken')")  # another won it
            return len(attempts)

        assert retry_in_request_transaction(conn, work) == 2
        conn.commit()
        # The first attempt's own row went with its transaction.
        names = sorted(conn.exec_driver_sql("SELECT name FROM race").scalars())
        assert names == ["mine-2", "taken"]
        conn.exec_driver_sql("DROP TABLE race")
        conn.commit()
