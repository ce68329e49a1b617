"""The background loop beside the import worker: the mail outbox, export jobs, old exports.

Started by ``patron serve`` (with the import worker) and by ``patron imports worker``.
Every step claims its work through the database, so any number of processes may run
it; each step's failure is logged and the loop goes on (a mail server that is down
delays mail, and nothing else).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from sqlalchemy.engine import Engine

from patron.exports import jobs as exports
from patron.imports.jobs import worker_name
from patron.kit.db import is_lock_timeout
from patron.notifications import outbox
from patron.settings import Settings, get_settings

log = logging.getLogger(__name__)

#: Expired export files are looked for this often.
PURGE_EVERY = 600.0


def run_once(engine: Engine, settings: Settings | None = None, owner: str | None = None) -> None:
    """Write every waiting export, send the mail that is due, delete expired exports."""
    settings = settings or get_settings()
    owner = owner or worker_name()
    exports.run_pending(engine, owner, settings)
    exports.purge_expired(engine)
    outbox.drain(engine, settings)


class BackgroundJobs:
    """A thread that writes exports and sends mail until stopped."""

    def __init__(
        self, engine: Engine, settings: Settings | None = None, poll_seconds: float = 1.0
    ) -> None:
        self.engine = engine
        self.settings = settings or get_settings()
        self.poll_seconds = poll_seconds
        self.owner = worker_name()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="patron-jobs", daemon=True)
        self._purged = 0.0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _loop(self) -> None:
        while not self._stop.is_set():
            busy = self._guarded(
                "export job", lambda: exports.run_one(self.engine, self.owner, self.settings)
            )
            if time.monotonic() - self._purged >= PURGE_EVERY:
                self._guarded("export purge", lambda: exports.purge_expired(self.engine))
                self._purged = time.monotonic()
            self._guarded("mail outbox", lambda: outbox.drain(self.engine, self.settings))
            if not busy:
                self._stop.wait(self.poll_seconds)

    def _guarded(self, what: str, step: Callable[[], object]) -> bool:
        try:
            return bool(step())
        except Exception as exc:
            if is_lock_timeout(exc):
                log.debug("%s: the database is busy; next round", what)
            else:
                log.exception("%s failed", what)
            return False
