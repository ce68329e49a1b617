"""Import leases: renewed by a heartbeat while a step runs, taken over soon after a worker
dies, and never written through once lost.

A worker's lease on an import lasts ``PATRON_IMPORT_LEASE_SECONDS`` after its last
heartbeat. The tests shrink the lease and the beat to seconds, as an operator would
through the environment.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy.engine import Engine, RowMapping

from patron.imports import jobs, service
from patron.imports import repository as repo
from patron.kit.db import transaction
from patron.settings import Settings
from tests.conftest import OrgHandle
from tests.importing import (
    customer_count,
    editor,
    import_org,
    members_file,
    people,
    result,
    run,
    start,
)

PATRON = Path(sys.executable).parent / "patron"
#: The lease and beat the worker processes run with (environment variables).
LEASE_SECONDS, BEAT_SECONDS = 3.0, 0.5


def _rows(engine: Engine) -> int:
    """Enough rows that a commit lasts longer than the short leases below (several
    seconds; PostgreSQL commits them about three times slower than SQLite)."""
    return 40_000 if engine.dialect.name == "sqlite" else 15_000


@dataclass(frozen=True)
class Seen:
    """The import's row as a reader saw it, and when."""

    at: datetime
    state: str
    owner: str | None
    expires: datetime | None


def _seen(engine: Engine, org: OrgHandle, import_id: int) -> Seen:
    with transaction(engine, write=False) as conn:
        row = repo.get_import(conn, org.id, import_id)
    assert row is not None
    expires = row["lease_expires_at"]
    if expires is not None and expires.tzinfo is None:
        expires = expires.replace(tzinfo=UTC)  # SQLite hands back naive UTC values
    return Seen(datetime.now(UTC), str(row["state"]), row["lease_owner"], expires)


def _wait_for(
    engine: Engine,
    org: OrgHandle,
    import_id: int,
    wanted: Callable[[Seen], bool],
    *,
    seconds: float = 120,
) -> Seen:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        seen = _seen(engine, org, import_id)
        if wanted(seen):
            return seen
        time.sleep(0.02)
    pytest.fail(f"import {import_id} never reached the awaited state ({seen})")


def _queued(engine: Engine, org: OrgHandle, data: str) -> int:
    """An import of ``data``, previewed and confirmed: waiting for its commit."""
    import_id = start(engine, org, data)
    with transaction(engine) as conn:
        service.confirm(conn, editor(org), import_id)
    return import_id


def _claim(engine: Engine, org: OrgHandle, import_id: int, owner: str, lease: jobs.Lease) -> bool:
    with transaction(engine) as conn:
        return repo.claim(conn, org.id, import_id, owner, lease.period) is not None


def _row(engine: Engine, org: OrgHandle, import_id: int) -> RowMapping:
    with transaction(engine, write=False) as conn:
        row = repo.get_import(conn, org.id, import_id)
    assert row is not None
    return row


def test_the_lease_outlasts_several_beats() -> None:
    defaults = Settings()
    assert (defaults.import_lease_seconds, defaults.import_heartbeat()) == (60, 10)
    assert Settings(import_lease_seconds=3).import_heartbeat() == 0.5
    with pytest.raises(ValidationError, match="three times"):
        Settings(import_lease_seconds=20, import_heartbeat_seconds=10)


def test_the_heartbeat_keeps_a_lease_a_long_step_would_outlive(engine: Engine) -> None:
    org = import_org(engine)
    import_id = _queued(engine, org, members_file(3, "lease", "9197", bad_row=0))
    lease = jobs.Lease(seconds=1.0, beat_seconds=0.2)
    assert _claim(engine, org, import_id, "worker-a", lease)
    claimed = _seen(engine, org, import_id)

    # The step here is the test itself: it runs three times as long as the lease.
    with jobs.Heartbeat(engine, import_id, "worker-a", lease):
        end = time.monotonic() + 3 * lease.seconds
        while time.monotonic() < end:
            seen = _seen(engine, org, import_id)
            assert seen.owner == "worker-a"
            assert seen.expires is not None
            assert seen.expires > seen.at, "the lease ran out"
            assert not _claim(engine, org, import_id, "worker-b", lease)
            time.sleep(0.1)
    beaten = _seen(engine, org, import_id)
    assert claimed.expires is not None
    assert beaten.expires is not None
    assert (beaten.expires - claimed.expires).total_seconds() >= 2 * lease.seconds

    # No more beats: the lease runs out and another worker takes the import over.
    _wait_for(engine, org, import_id, lambda s: s.expires is not None and s.expires < s.at)
    assert _claim(engine, org, import_id, "worker-b", lease)
    assert _seen(engine, org, import_id).owner == "worker-b"
    with transaction(engine) as conn:
        repo.release(conn, import_id, "worker-b")
    assert jobs.run_import(engine, org.id, import_id) == "committed"


def test_a_commit_longer_than_the_lease_keeps_its_import(engine: Engine) -> None:
    org = import_org(engine)
    rows = _rows(engine)
    import_id = _queued(engine, org, members_file(rows, "lease", "9197", bad_row=0))
    lease = jobs.Lease(seconds=0.6, beat_seconds=0.1)
    worker = threading.Thread(target=jobs.run_import, args=(engine, org.id, import_id, "a", lease))
    taken: list[bool] = []

    def other_worker() -> None:
        while worker.is_alive():
            taken.append(_claim(engine, org, import_id, "b", lease))
            time.sleep(0.05)

    rival = threading.Thread(target=other_worker)
    worker.start()
    _wait_for(engine, org, import_id, lambda s: s.owner == "a")
    rival.start()
    committing: list[Seen] = []
    while worker.is_alive():
        seen = _seen(engine, org, import_id)
        if seen.state == "committing":
            committing.append(seen)
        time.sleep(0.02)
    worker.join()
    rival.join()

    assert result(engine, org, import_id).state == "committed"
    assert customer_count(engine, org) == rows - 1
    assert taken
    assert not any(taken), "another worker took the import over"
    assert committing
    assert (committing[-1].at - committing[0].at).total_seconds() > lease.seconds
    if engine.dialect.name == "postgresql":
        # The step holds no lock the heartbeat needs: the lease never ran out. (On SQLite
        # the step holds the only write lock: renewals wait for its commit, and so does
        # every other worker's claim.)
        assert all(s.owner == "a" and s.expires and s.expires > s.at for s in committing)
        first, last = committing[0].expires, committing[-1].expires
        assert first is not None
        assert last is not None
        assert last > first


def test_a_worker_that_lost_its_lease_writes_nothing(engine: Engine) -> None:
    """Worker A stalls past its lease (no beat in time); B takes the import over. A's
    step then rolls back where it commits, and records no failure; B commits it."""
    org = import_org(engine)
    rows = 200
    import_id = _queued(engine, org, members_file(rows, "lease", "9197", bad_row=0))
    stalled = jobs.Lease(seconds=0.5, beat_seconds=60)  # its first beat would come too late
    assert _claim(engine, org, import_id, "worker-a", stalled)
    with transaction(engine, write=False) as conn:
        held_by_a = repo.get_import(conn, org.id, import_id)
    assert held_by_a is not None
    a = threading.Thread(target=jobs.run_step, args=(engine, held_by_a, "worker-a", stalled))

    if engine.dialect.name == "postgresql":
        # A's commit starts, then waits for its stored file (another session holds the
        # table); meanwhile its lease runs out and B takes the import over.
        with engine.connect() as blocker:
            blocker.begin()
            blocker.exec_driver_sql("LOCK TABLE import_blobs IN ACCESS EXCLUSIVE MODE")
            a.start()
            _wait_for(engine, org, import_id, lambda s: s.state == "committing")
            _wait_for(engine, org, import_id, lambda s: s.expires is not None and s.expires < s.at)
            assert _claim(engine, org, import_id, "worker-b", stalled)
            blocker.rollback()
        a.join()
    else:
        # SQLite: a step holds the only write lock, so no takeover can come while it
        # writes; B takes the import over before A's step starts.
        _wait_for(engine, org, import_id, lambda s: s.expires is not None and s.expires < s.at)
        assert _claim(engine, org, import_id, "worker-b", stalled)
        a.start()
        a.join()

    after_a = _row(engine, org, import_id)
    assert customer_count(engine, org) == 0
    assert after_a["lease_owner"] == "worker-b"
    assert after_a["attempts"] == 0
    assert after_a["message"] == ""
    with transaction(engine, write=False) as conn:
        held_by_b = repo.get_import(conn, org.id, import_id)
    assert held_by_b is not None
    jobs.run_step(engine, held_by_b, "worker-b", jobs.Lease(seconds=30, beat_seconds=1))
    with transaction(engine) as conn:
        repo.release(conn, import_id, "worker-b")
    done = result(engine, org, import_id)
    assert done.state == "committed"
    assert done.counts["inserted"] == rows - 1
    assert customer_count(engine, org) == rows - 1


def _worker(engine: Engine, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PATRON_DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "PATRON_IMPORT_LEASE_SECONDS": str(LEASE_SECONDS),
        "PATRON_IMPORT_HEARTBEAT_SECONDS": str(BEAT_SECONDS),
    }
    with log.open("ab") as stderr:
        return subprocess.Popen(
            [str(PATRON), "imports", "worker"], env=env, stdout=subprocess.DEVNULL, stderr=stderr
        )


def _holder(process: subprocess.Popen[bytes]) -> Callable[[Seen], bool]:
    return lambda seen: seen.owner is not None and f":{process.pid}:" in seen.owner


def test_a_killed_workers_import_is_taken_over_within_the_lease(
    engine: Engine, tmp_path: Path
) -> None:
    rows = _rows(engine)
    data = members_file(rows, "lease", "9197", bad_row=0)
    reference_org = import_org(engine)
    reference = run(engine, reference_org, data)
    assert reference.counts["inserted"] == rows - 1

    org = import_org(engine)
    import_id = _queued(engine, org, data)
    log = tmp_path / "workers.log"
    first = _worker(engine, log)
    try:
        committing = _wait_for(
            engine, org, import_id, lambda s: s.state == "committing" and _holder(first)(s)
        )
        if engine.dialect.name == "postgresql":
            # Its heartbeat renews the lease while the commit runs.
            _wait_for(
                engine,
                org,
                import_id,
                lambda s: bool(s.expires and committing.expires and s.expires > committing.expires),
                seconds=5 * BEAT_SECONDS,
            )
        else:
            time.sleep(0.2)  # into the commit
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait(timeout=30)
    killed_at = time.monotonic()
    killed = _seen(engine, org, import_id)
    assert (killed.state, customer_count(engine, org)) == ("committing", 0), "not killed mid-commit"

    second = _worker(engine, log)
    try:
        _wait_for(engine, org, import_id, lambda s: _holder(second)(s) or s.state == "committed")
        taken_after = time.monotonic() - killed_at
        _wait_for(engine, org, import_id, lambda s: s.state in ("committed", "failed"))
    finally:
        second.terminate()
        second.wait(timeout=30)
    # The lease, plus the second worker's start and its one-second poll.
    assert taken_after < LEASE_SECONDS + 10, log.read_text()
    finished = result(engine, org, import_id)
    assert finished.state == "committed", log.read_text()
    assert finished.counts == reference.counts
    assert finished.outcomes.drop("customer_id").equals(reference.outcomes.drop("customer_id"))
    assert people(engine, org) == people(engine, reference_org)
