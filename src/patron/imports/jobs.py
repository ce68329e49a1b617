"""Running imports in the background: claim, run one step, release.

State lives in the database, so any number of ``patron serve`` processes can
work side by side and a job whose process died is taken over when its lease
expires. Each step runs in one transaction: a process killed in the middle of
a commit leaves the store untouched, and the import is committed again from
its stored file when it is picked up.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy.engine import Connection, Engine, RowMapping

from patron.imports import repository as repo
from patron.imports import service
from patron.imports.failures import TerminalImportError, classify
from patron.kit.db import transaction
from patron.settings import get_settings

log = logging.getLogger(__name__)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def run_one(engine: Engine, owner: str) -> bool:
    """Claim and run one step of one import; ``False`` when nothing was waiting."""
    lease = timedelta(seconds=get_settings().import_lease_seconds)
    with transaction(engine) as conn:
        found = repo.claim_next(conn, owner, lease)
    if found is None:
        return False
    try:
        _run_step(engine, found, owner)
    finally:
        with transaction(engine) as conn:
            repo.release(conn, found["id"], owner)
    return True


def run_import(engine: Engine, org_id: int, import_id: int, owner: str | None = None) -> str:
    """Run the steps of one import until it waits for someone; answer its state.

    The CLI runs its own import this way, without taking other orgs' work.
    """
    owner = owner or worker_name()
    lease = timedelta(seconds=get_settings().import_lease_seconds)
    while True:
        with transaction(engine) as conn:
            found = repo.claim(conn, org_id, import_id, owner, lease)
            if found is None:
                current = repo.get_import(conn, org_id, import_id)
                return str(current["state"]) if current else "unknown"
        try:
            _run_step(engine, found, owner)
        finally:
            with transaction(engine) as conn:
                repo.release(conn, import_id, owner)


def run_pending(engine: Engine, owner: str | None = None) -> int:
    """Run steps until no import is waiting (the CLI and tests drain the queue this way)."""
    owner = owner or worker_name()
    steps = 0
    while run_one(engine, owner):
        steps += 1
    return steps


def _run_step(engine: Engine, found: RowMapping, owner: str) -> None:
    state = found["state"]
    if state == "validating":
        _guarded(engine, found, service.preview_step, failed_state="invalid")
    elif state in ("queued", "committing"):
        with transaction(engine) as conn:
            repo.move_state(
                conn, found["org_id"], found["id"], ("queued",), state="committing", progress=0
            )
        try:
            with transaction(engine) as conn:
                service.commit_step(conn, _reload(conn, found))
        except Exception as exc:
            failure = classify(exc)
            with transaction(engine) as conn:
                if isinstance(failure, TerminalImportError):
                    log.warning("import %s cannot be committed: %s", found["id"], failure)
                    repo.move_state(
                        conn, found["org_id"], found["id"], ("queued", "committing"),
                        state="invalid", message=str(failure),
                    )  # fmt: skip
                else:
                    log.exception("commit of import %s failed", found["id"])
                    service.record_commit_failure(conn, _reload(conn, found), str(failure))
    elif state in ("undo_queued", "undoing"):
        with transaction(engine) as conn:
            repo.move_state(
                conn, found["org_id"], found["id"], ("undo_queued",), state="undoing", progress=0
            )
        _guarded(engine, found, service.undo_step, failed_state="committed")


def _guarded(
    engine: Engine,
    found: RowMapping,
    step: Callable[[Connection, RowMapping], None],
    *,
    failed_state: str,
) -> None:
    """Run ``step``; on failure record why and move to ``failed_state``."""
    try:
        with transaction(engine) as conn:
            step(conn, _reload(conn, found))
    except Exception as exc:
        log.exception("import %s: %s failed", found["id"], found["state"])
        with transaction(engine) as conn:
            repo.update_import(
                conn, found["org_id"], found["id"], state=failed_state, message=str(classify(exc))
            )


def _reload(conn: Connection, found: RowMapping) -> RowMapping:
    current = repo.get_import(conn, found["org_id"], found["id"])
    assert current is not None  # imports are never deleted while leased
    return current


class Worker:
    """A background thread that runs import steps until stopped (inside ``patron serve``)."""

    def __init__(self, engine: Engine, poll_seconds: float = 1.0) -> None:
        self.engine = engine
        self.poll_seconds = poll_seconds
        self.owner = worker_name()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="patron-imports", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                busy = run_one(self.engine, self.owner)
            except Exception:
                log.exception("import worker step failed")
                busy = False
            if not busy:
                self._stop.wait(self.poll_seconds)
