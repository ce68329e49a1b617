"""SQL of the scheduled loyalty jobs: which orgs have work, and who runs it today."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from patron.loyalty.tables import loyalty_job_runs, loyalty_programs

_NEVER = date(1970, 1, 1)


def orgs_with_programs(conn: Connection) -> list[int]:
    query = sa.select(loyalty_programs.c.org_id).distinct().order_by(loyalty_programs.c.org_id)
    return [int(i) for i in conn.execute(query).scalars()]


def claim(conn: Connection, org_id: int, job: str, today: date) -> bool:
    """Mark ``job`` as run today for the org; ``False`` when it ran today already.

    The conditional update makes a second worker wait for the first one's
    transaction and then find the day taken; a job that fails rolls its claim back.
    """
    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    conn.execute(
        dialect_insert(loyalty_job_runs)
        .values(org_id=org_id, job=job, ran_on=_NEVER)
        .on_conflict_do_nothing(index_elements=["org_id", "job"])
    )
    done = conn.execute(
        loyalty_job_runs.update()
        .where(
            loyalty_job_runs.c.org_id == org_id,
            loyalty_job_runs.c.job == job,
            loyalty_job_runs.c.ran_on < today,
        )
        .values(ran_on=today, ran_at=sa.func.now())
    )
    return bool(done.rowcount)
