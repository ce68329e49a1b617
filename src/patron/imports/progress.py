"""Live progress within an import's step: how far its validation, commit or undo has got.

A step runs in one long transaction, so what it writes to the import's row is seen only
when it ends (0 when the step starts, 100 when it ends). Within the step the pipeline
reports how far it has got (:func:`reached`: a percent at each stage it passes, at no
cost); beside it a thread of its own writes the latest figure every
:data:`WRITE_SECONDS` at most, and only when it moved, in a short transaction on its own
connection (:mod:`patron.imports.progress_repository`): never a write per row.

On PostgreSQL that is the import's ``progress`` column. On SQLite the step holds the
database's only write lock for its whole transaction, so the figure goes to a small
database file beside the store instead (``<store>-progress``), which
:func:`shown` reads for an import at work: the API and the console's import pages then
show it, whichever process runs the step.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from sqlalchemy.engine import Connection, Engine, RowMapping

from patron.imports import progress_repository as store
from patron.imports.states import ImportState

log = logging.getLogger(__name__)

#: At most one write of the figure this often (seconds), and only when it moved.
WRITE_SECONDS = 0.5

#: The states in which a step is at work and the figure moves.
AT_WORK = (ImportState.VALIDATING, ImportState.COMMITTING, ImportState.UNDOING)


class Tracker:
    """The latest figure of one running step (set by the step, read by its writer)."""

    def __init__(self) -> None:
        self.percent = 0
        #: The figures the stage running now goes from and to (see :func:`stage`).
        self.span = (0, 100)

    def reached(self, percent: float) -> None:
        # Never backwards, and 100 only when the step's own transaction says so.
        self.percent = max(self.percent, min(int(percent), 99))


_current: ContextVar[Tracker | None] = ContextVar("patron_import_progress", default=None)


def reached(percent: int) -> None:
    """The running step has got ``percent`` of its way (nothing outside a tracked step)."""
    tracker = _current.get()
    if tracker is not None:
        tracker.reached(percent)


@contextmanager
def stage(start: int, end: int) -> Iterator[None]:
    """A stage of the step that takes it from ``start`` to ``end`` percent; inside it,
    :func:`part` says how much of the stage is done (a profile's own stages, say)."""
    tracker = _current.get()
    if tracker is None:
        yield
        return
    outer = tracker.span
    tracker.reached(start)
    tracker.span = (start, end)
    try:
        yield
    finally:
        tracker.span = outer
    tracker.reached(end)


def part(done: float) -> None:
    """The share ``done`` (0 to 1) of the running stage is done."""
    tracker = _current.get()
    if tracker is not None:
        start, end = tracker.span
        tracker.reached(start + (end - start) * min(max(done, 0.0), 1.0))


@contextmanager
def tracking(engine: Engine, import_id: int, owner: str) -> Iterator[Tracker]:
    """Track the step of import ``import_id`` that ``owner`` runs in this block, writing
    its figure as it moves; the figure kept beside a SQLite store is removed at the end."""
    tracker = Tracker()
    _forget(engine, import_id)  # a figure left by an attempt that died
    token = _current.set(tracker)
    stop = threading.Event()
    writer = threading.Thread(
        target=_write_while_running,
        args=(engine, import_id, owner, tracker, stop),
        name=f"patron-progress-{import_id}",
        daemon=True,
    )
    writer.start()
    try:
        yield tracker
    finally:
        _current.reset(token)
        stop.set()
        writer.join()
        _forget(engine, import_id)


def _forget(engine: Engine, import_id: int) -> None:
    try:
        store.forget(engine, import_id)
    except Exception as exc:  # never a reason to stop the step: the next step overwrites it
        log.debug("import %s: progress not removed: %s", import_id, exc)


def _write_while_running(
    engine: Engine, import_id: int, owner: str, tracker: Tracker, stop: threading.Event
) -> None:
    written = 0
    while not stop.wait(WRITE_SECONDS):
        percent = tracker.percent
        if percent == written:
            continue
        try:
            store.record(engine, import_id, owner, percent, AT_WORK)
        except Exception as exc:  # a figure not written is only a figure shown late
            log.debug("import %s: progress not written: %s", import_id, exc)
            continue
        written = percent


def shown(conn: Connection, row: RowMapping) -> int:
    """The import's progress as it stands now: the live figure of a step at work on SQLite
    (see the module's docstring), else the row's own."""
    recorded = int(row["progress"] or 0)
    if row["state"] not in AT_WORK:
        return recorded
    live = store.live(conn, int(row["id"]))
    return max(recorded, live) if live is not None else recorded
