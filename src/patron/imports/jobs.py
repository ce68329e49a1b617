"""Running imports in the background: claim, run one step, release.

State lives in the database, so any number of ``patron serve`` processes can
work side by side. A worker claims an import with a lease stored on its row and
renews it with a heartbeat while a step runs; a worker that died stops beating,
and another takes the import over once the lease runs out (within a minute by
default). Each step runs in one transaction that commits only while the worker
still holds the lease: a process killed in the middle of a commit leaves the
store untouched, and a worker that lost its import to another writes nothing.
The import is then committed again from its stored file by whoever holds it.

On SQLite one writer at a time holds the database: a step that cannot get the
write lock within the busy timeout (another import's commit holds it) wrote
nothing and waits, quietly, to be run again; it never counts as a failed attempt.
Claims, releases and heartbeats meet the lock the same way: they wait and try
again, and never fail the import or the worker.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from types import TracebackType

from sqlalchemy.engine import Connection, Engine, RowMapping
from sqlalchemy.exc import OperationalError

from patron.imports import chunks, service
from patron.imports import repository as repo
from patron.imports.failures import ImportStepError, TerminalImportError, classify
from patron.imports.progress import tracking
from patron.imports.states import ImportState, move
from patron.kit import statistics
from patron.kit.db import is_lock_timeout, sqlite_page_cache, transaction
from patron.notifications.events import import_ended
from patron.settings import get_settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Lease:
    """How long a worker's claim on an import lasts after a beat, and how often it beats."""

    seconds: float
    beat_seconds: float

    @classmethod
    def from_settings(cls) -> Lease:
        settings = get_settings()
        return cls(settings.import_lease_seconds, settings.import_heartbeat())

    @property
    def period(self) -> timedelta:
        return timedelta(seconds=self.seconds)


class LeaseLost(ImportStepError):
    """Another worker took the import over: this worker's step must not commit."""


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def run_one(engine: Engine, owner: str, lease: Lease | None = None) -> bool:
    """Claim and run one step of one import; ``False`` when nothing was waiting, or the
    database was too busy to claim anything (SQLite: try again at the next poll)."""
    lease = lease or Lease.from_settings()
    try:
        with transaction(engine) as conn:
            found = repo.claim_next(conn, owner, lease.period)
    except OperationalError as exc:
        if not is_lock_timeout(exc):
            raise
        log.debug("no import claimed: another writer holds the database")
        return False
    if found is None:
        return False
    try:
        run_step(engine, found, owner, lease)
    finally:
        _release(engine, found["id"], owner, lease)
    return True


def run_import(
    engine: Engine,
    org_id: int,
    import_id: int,
    owner: str | None = None,
    lease: Lease | None = None,
) -> str:
    """Run the steps of one import until it waits for someone; answer its state.

    The CLI runs its own import this way, without taking other orgs' work.
    """
    owner = owner or worker_name()
    lease = lease or Lease.from_settings()
    while True:
        try:
            with transaction(engine) as conn:
                found = repo.claim(conn, org_id, import_id, owner, lease.period)
        except OperationalError as exc:
            if not is_lock_timeout(exc):
                raise
            # Another writer (another import's commit) holds SQLite: the caller waits
            # and asks again, as it does while another worker runs this import.
            log.debug("import %s not claimed: another writer holds the database", import_id)
            found = None
        if found is None:
            with transaction(engine, write=False) as conn:
                current = repo.get_import(conn, org_id, import_id)
            return str(current["state"]) if current else "unknown"
        try:
            run_step(engine, found, owner, lease)
        finally:
            _release(engine, import_id, owner, lease)


def run_pending(engine: Engine, owner: str | None = None) -> int:
    """Run steps until no import is waiting (the CLI and tests drain the queue this way)."""
    owner = owner or worker_name()
    steps = 0
    while run_one(engine, owner):
        steps += 1
    return steps


def run_step(engine: Engine, found: RowMapping, owner: str, lease: Lease) -> None:
    """Run one step of an import ``owner`` has claimed, beating while it runs."""
    # The import is this worker's now: another host's spill directory of it is a dead or
    # ousted step's (and this host's dead processes' directories are stale anyway).
    _remove_stale_spills(found["id"])
    try:
        with Heartbeat(engine, found["id"], owner, lease), tracking(engine, found["id"], owner):
            _step(engine, found, owner, lease)
    except LeaseLost:
        log.warning("import %s: another worker took it over; this step wrote nothing", found["id"])
    except OperationalError as exc:
        if not is_lock_timeout(exc):
            raise
        # SQLite: another writer held the database past the busy timeout before a
        # transaction of this step could begin; that transaction wrote nothing. The
        # import stays in its state and is run again at its next claim.
        log.info("import %s: the database is busy; the step will run again", found["id"])


def _remove_stale_spills(held: int | None) -> None:
    """Remove the spill directories of killed steps (chunks.remove_stale_spills); a data
    directory that cannot be cleaned up is worth a warning, never a failed step."""
    try:
        for path in chunks.remove_stale_spills(held):
            log.info("removed the spill directory %s of a step that ended without it", path)
    except OSError as exc:
        log.warning("spill directories not cleaned up: %s", exc)


def _release(engine: Engine, import_id: int, owner: str, lease: Lease) -> None:
    """Give the import up. On SQLite the release waits its turn for the write lock, for
    as long as the lease would last anyway; past that the lease simply runs out."""
    give_up = time.monotonic() + lease.seconds
    while True:
        try:
            with transaction(engine) as conn:
                repo.release(conn, import_id, owner)
            return
        except OperationalError as exc:
            if not is_lock_timeout(exc):
                raise
            if time.monotonic() >= give_up:
                log.info("import %s: not released (the database stayed busy)", import_id)
                return


def _step(engine: Engine, found: RowMapping, owner: str, lease: Lease) -> None:
    state = ImportState(found["state"])
    if state == ImportState.VALIDATING:
        failed: tuple[tuple[ImportState, ...], ImportState]
        failed = ((ImportState.VALIDATING,), ImportState.INVALID)
        _guarded(engine, found, owner, lease, service.preview_step, failed=failed)
    elif state in (ImportState.QUEUED, ImportState.COMMITTING):
        with _owned(engine, found, owner, lease) as conn:
            # Already committing when this worker took the import over from a dead one.
            move(conn, *_ids(found), ImportState.QUEUED, ImportState.COMMITTING, progress=0)
        try:
            with (
                _owned(engine, found, owner, lease) as conn,
                statistics.watching(conn) as grown,
            ):
                service.commit_step(conn, _reload(conn, found))
        except LeaseLost:
            raise
        except Exception as exc:
            if is_lock_timeout(exc):
                raise  # nothing was written: not a failed attempt (see run_step)
            failure = classify(exc)
            with _owned(engine, found, owner, lease) as conn:
                if isinstance(failure, TerminalImportError):
                    log.warning("import %s cannot be committed: %s", found["id"], failure)
                    running = (ImportState.QUEUED, ImportState.COMMITTING)
                    move(conn, *_ids(found), running, ImportState.INVALID, message=str(failure))
                else:
                    log.exception("commit of import %s failed", found["id"])
                    service.record_commit_failure(conn, _reload(conn, found), str(failure))
        else:
            # Once committed: ANALYZE inside the import's transaction would hold its lock.
            statistics.analyze(engine, grown)
    elif state in (ImportState.UNDO_QUEUED, ImportState.UNDOING):
        with _owned(engine, found, owner, lease) as conn:
            move(conn, *_ids(found), ImportState.UNDO_QUEUED, ImportState.UNDOING, progress=0)
        failed = ((ImportState.UNDO_QUEUED, ImportState.UNDOING), ImportState.COMMITTED)
        _guarded(engine, found, owner, lease, service.undo_step, failed=failed)


def _guarded(
    engine: Engine,
    found: RowMapping,
    owner: str,
    lease: Lease,
    step: Callable[[Connection, RowMapping], None],
    *,
    failed: tuple[tuple[ImportState, ...], ImportState],
) -> None:
    """Run ``step``; on failure record why and move the import ``failed`` (from, to)."""
    try:
        with _owned(engine, found, owner, lease) as conn:
            step(conn, _reload(conn, found))
    except LeaseLost:
        raise
    except Exception as exc:
        if is_lock_timeout(exc):
            raise  # nothing was written: not a failure (see run_step)
        log.exception("import %s: %s failed", found["id"], found["state"])
        with _owned(engine, found, owner, lease) as conn:
            move(conn, *_ids(found), *failed, message=str(classify(exc)))


@contextmanager
def _owned(engine: Engine, found: RowMapping, owner: str, lease: Lease) -> Iterator[Connection]:
    """A transaction of a step that commits only while ``owner`` holds the import.

    The check comes last, where the step commits: on PostgreSQL it locks the
    import's row until the commit, so a worker taking the import over waits for
    it and then sees the lease renewed, or the takeover came first and this
    step rolls back. (Checking first would hold that row for the whole step and
    keep the heartbeat out.) On SQLite the step holds the only write lock, so
    no takeover can come in between.
    """
    with (
        transaction(engine) as conn,
        sqlite_page_cache(conn, get_settings().sqlite_import_cache_mb),
    ):
        yield conn
        # A step that ended the import tells its user, in the step's own transaction.
        import_ended(conn, found)
        if not repo.renew_lease(conn, found["id"], owner, lease.period):
            raise LeaseLost(f"import {found['id']} is no longer held by {owner}")


def _ids(found: RowMapping) -> tuple[int, int]:
    """The import's org and id, as :func:`move` takes them."""
    return int(found["org_id"]), int(found["id"])


def _reload(conn: Connection, found: RowMapping) -> RowMapping:
    current = repo.get_import(conn, found["org_id"], found["id"])
    assert current is not None  # imports are never deleted while leased
    return current


class Heartbeat:
    """Renews a worker's lease on an import every beat, beside the step that runs it.

    The step runs in one long transaction; the heartbeat renews from a thread of
    its own, on its own connection, in short transactions. A renewal that cannot
    get its lock is skipped and the next beat tries again: on SQLite the step
    itself holds the database's single write lock while it writes (no other
    worker can take the import then either, and the step renews the lease as it
    commits), or another writer does; on PostgreSQL the step holds the import's
    row only while it commits. The lease lasts several beats, so a few skipped
    renewals do not lose it. Nothing the heartbeat meets stops the step: a lost
    lease is found where the step commits.
    """

    def __init__(self, engine: Engine, import_id: int, owner: str, lease: Lease) -> None:
        self.engine = engine
        self.import_id = import_id
        self.owner = owner
        self.lease = lease
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._beat, name=f"patron-lease-{import_id}", daemon=True
        )

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()

    def _beat(self) -> None:
        while not self._stop.wait(self.lease.beat_seconds):
            try:
                renewed = self._renew()
            except OperationalError as exc:
                # SQLite's lock timeout is the usual case: the step itself, or another
                # writer, holds the only write lock. Not worth more than a debug line.
                level = logging.DEBUG if is_lock_timeout(exc) else logging.INFO
                log.log(
                    level, "import %s: lease not renewed this beat: %s", self.import_id, exc.orig
                )
                continue
            except Exception:
                log.exception("import %s: lease not renewed this beat", self.import_id)
                continue
            if not renewed:
                log.warning("import %s: lease lost to another worker", self.import_id)
                return

    def _renew(self) -> bool:
        wait = timedelta(seconds=self.lease.beat_seconds)
        with transaction(self.engine) as conn:
            return repo.renew_lease(
                conn, self.import_id, self.owner, self.lease.period, lock_wait=wait
            )


class Worker:
    """A background thread that runs import steps until stopped (inside ``patron serve``)."""

    def __init__(self, engine: Engine, poll_seconds: float = 1.0) -> None:
        self.engine = engine
        self.poll_seconds = poll_seconds
        self.owner = worker_name()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="patron-imports", daemon=True)

    def start(self) -> None:
        _remove_stale_spills(None)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                busy = run_one(self.engine, self.owner)
            except Exception as exc:
                if is_lock_timeout(exc):
                    log.debug("the database is busy; the worker waits")  # SQLite, another writer
                else:
                    log.exception("import worker step failed")
                busy = False
            if not busy:
                self._stop.wait(self.poll_seconds)
