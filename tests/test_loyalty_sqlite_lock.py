"""The daily loyalty jobs meet SQLite's write lock held by another writer (a long import
commit): a poll logs no warning or error, claims nothing, and the next poll runs them."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from patron.api.app import create_app
from patron.kit.db import create_engine, transaction
from patron.kit.migrate import upgrade
from patron.loyalty import expiry
from patron.loyalty.recommendations import RECOMMENDATIONS_JOB
from patron.loyalty.tables import loyalty_job_runs
from patron.settings import Settings
from tests.conftest import BACKENDS, Api, make_org
from tests.factories import register
from tests.loyalty_setup import add_program, bill

#: Short, so that the poll meeting the held lock gives up quickly.
BUSY_SECONDS = 0.3


@contextmanager
def _holding_the_write_lock(engine: Engine) -> Iterator[None]:
    """Hold SQLite's write lock, as a long commit of another connection does."""
    with transaction(engine) as conn:
        conn.exec_driver_sql("SELECT 1")  # BEGIN IMMEDIATE has taken the lock
        yield


def _ran_on(engine: Engine, org_id: int) -> dict[str, date]:
    """The day each loyalty job last ran for the org (a job never claimed is absent)."""
    query = sa.select(loyalty_job_runs.c.job, loyalty_job_runs.c.ran_on).where(
        loyalty_job_runs.c.org_id == org_id
    )
    with transaction(engine, write=False) as conn:
        return {str(job): ran_on for job, ran_on in conn.execute(query)}


@pytest.mark.skipif("sqlite" not in BACKENDS, reason="SQLite's write lock")
def test_a_poll_on_a_busy_database_is_quiet_and_the_next_one_runs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'patron.db'}", sqlite_busy_timeout=BUSY_SECONDS)
    try:
        upgrade(engine)
        org = make_org(engine)
        app = create_app(Settings(import_worker=False), engine=engine)
        api = Api(TestClient(app), org)
        add_program(api)  # the expiry job has an org to run
        tom = register(api, mobile="919845012345")
        bill(api, tom, 500)  # a bill with a line: the recommendations have one too
        worker = expiry.LoyaltyWorker(engine)
        caplog.set_level(logging.DEBUG, logger="patron")
        with _holding_the_write_lock(engine):
            worker.run_once()
        loud = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert loud == []
        assert any("busy" in r.getMessage() for r in caplog.records)
        assert _ran_on(engine, org.id) == {}  # nothing claimed: the day is still to run
        worker.run_once()
        ran = _ran_on(engine, org.id)
        assert set(ran) == {expiry.EXPIRY_JOB, RECOMMENDATIONS_JOB}
        assert all(day > date(1970, 1, 1) for day in ran.values())
        assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    finally:
        engine.dispose()
