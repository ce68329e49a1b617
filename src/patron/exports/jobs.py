"""Writing export files in the background, and deleting them after 7 days.

A worker claims the oldest queued export with a lease on its row (as imports are
claimed: ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, the single write lock on SQLite),
writes the file to a temporary folder while it reads the list in one read
transaction (one statement, streamed in batches), renewing the lease as batches go
by, then stores the file in the database in one write transaction that also marks
the export ready and notifies its user. A worker that dies leaves the lease to run
out; another one starts the export again (up to :data:`MAX_ATTEMPTS` times).
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.engine import Connection, Engine, RowMapping

from patron.customer import listing
from patron.exports import repository, service
from patron.exports.service import KEEP, Plan, filters_from
from patron.exports.writer import CsvWriter, Writer, XlsxWriter
from patron.kit.clock import utcnow
from patron.kit.db import is_lock_timeout, transaction
from patron.kit.errors import PatronError
from patron.notifications.service import Event, notify_user
from patron.settings import Settings

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)
#: Renew the lease this often while batches are written.
RENEW_EVERY = 60.0
MAX_ATTEMPTS = 3
#: Bytes per stored chunk of a file.
CHUNK_BYTES = 1 << 20


class LeaseLost(Exception):
    """Another worker took the export over (this one's lease ran out): store nothing."""


def run_one(engine: Engine, owner: str, settings: Settings) -> bool:
    """Claim and write one export; ``False`` when none was waiting."""
    now = utcnow()
    with transaction(engine, write=False) as conn:
        if not repository.has_waiting(conn, now):
            return False
    try:
        with transaction(engine) as conn:
            _give_up_abandoned(conn, settings, now)
            found = repository.claim_next(conn, owner, now, LEASE, MAX_ATTEMPTS)
    except Exception as exc:
        if is_lock_timeout(exc):
            return False  # SQLite: another writer holds the database; the next poll
        raise
    if found is None:
        return False
    run(engine, found, owner, settings)
    return True


def run_pending(engine: Engine, owner: str, settings: Settings) -> int:
    """Write every waiting export (the CLI's ``--once`` and the tests)."""
    done = 0
    while run_one(engine, owner, settings):
        done += 1
    return done


def run(engine: Engine, found: RowMapping, owner: str, settings: Settings) -> None:
    """Write the claimed export ``found``, store it, and tell its user."""
    export_id, org_id = int(found["id"]), int(found["org_id"])
    try:
        with tempfile.TemporaryDirectory(prefix="patron-export-") as folder:
            path = Path(folder) / f"export.{found['format']}"
            rows = _write(engine, found, owner, path)
            _store(engine, found, owner, settings, path, rows)
    except LeaseLost:
        log.warning("export %s: another worker took it over; this one stored nothing", export_id)
    except Exception as exc:
        if is_lock_timeout(exc):
            log.info("export %s: the database is busy; it will be written again", export_id)
            return  # the lease runs out and the export is claimed again
        message = exc.message if isinstance(exc, PatronError) else "the export could not be written"
        if not isinstance(exc, PatronError):
            log.exception("export %s failed", export_id)
        with transaction(engine) as conn:
            if repository.finish(
                conn, export_id, owner, state="failed", message=message, finished_at=utcnow()
            ):
                _notify(conn, settings, found, failed=message)
    else:
        log.info("export %s of org %s: %s rows written", export_id, org_id, rows)


def _write(engine: Engine, found: RowMapping, owner: str, path: Path) -> int:
    chosen = Plan(
        columns=list(found["fields"]),
        format=found["format"],
        sort=listing.Sort.parse(found["sort"]),
        filters=filters_from(found["filters"]),
    )
    renew = _renewer(engine, int(found["id"]), owner)
    with path.open("wb") as file, transaction(engine, write=False) as conn:
        writer: Writer = (
            CsvWriter(file, chosen.columns)
            if chosen.format == "csv"
            else XlsxWriter(path.with_suffix(".tmp.xlsx"), chosen.columns)
        )
        for frame in service.frames(conn, int(found["org_id"]), chosen):
            writer.write_frame(frame)
            renew()
        writer.close()
    if chosen.format == "xlsx":
        path.with_suffix(".tmp.xlsx").replace(path)
    return writer.rows


def _renewer(engine: Engine, export_id: int, owner: str) -> Callable[[], None]:
    last = time.monotonic()

    def renew() -> None:
        nonlocal last
        if time.monotonic() - last < RENEW_EVERY:
            return
        try:
            with transaction(engine) as conn:
                held = repository.renew_lease(conn, export_id, owner, utcnow() + LEASE)
        except Exception as exc:
            if is_lock_timeout(exc):
                return  # SQLite: tried again at the next page; the lease lasts minutes
            raise
        if not held:
            raise LeaseLost(f"export {export_id} is no longer held by {owner}")
        last = time.monotonic()

    return renew


def _store(
    engine: Engine, found: RowMapping, owner: str, settings: Settings, path: Path, rows: int
) -> None:
    export_id, org_id = int(found["id"]), int(found["org_id"])
    now = utcnow()
    with transaction(engine) as conn:
        repository.delete_chunks(conn, org_id, export_id)  # a takeover's leftovers: none
        size = seq = 0
        with path.open("rb") as file:
            while block := file.read(CHUNK_BYTES):
                repository.put_chunk(conn, org_id, export_id, seq, block)
                size += len(block)
                seq += 1
        done = repository.finish(
            conn,
            export_id,
            owner,
            state="ready",
            row_count=rows,
            byte_count=size,
            finished_at=now,
            expires_at=now + KEEP,
            message="",
        )
        if not done:
            raise LeaseLost(f"export {export_id} is no longer held by {owner}")
        stored = repository.get_export(conn, org_id, export_id)
        assert stored is not None
        _notify(conn, settings, stored)


def _give_up_abandoned(conn: Connection, settings: Settings, now: datetime) -> None:
    for row in repository.abandoned(conn, now, MAX_ATTEMPTS):
        message = f"the export was started {MAX_ATTEMPTS} times and never finished"
        if repository.finish(conn, int(row["id"]), None, state="failed", message=message):
            _notify(conn, settings, row, failed=message)


def _notify(
    conn: Connection, settings: Settings, row: RowMapping, failed: str | None = None
) -> None:
    if not row["created_by"]:
        return
    notify_user(
        conn,
        settings,
        int(row["org_id"]),
        str(row["created_by"]),
        export_event(settings, row, failed),
    )


def export_event(settings: Settings, row: RowMapping, failed: str | None = None) -> Event:
    """The notification of an export's end: ready (with its signed link) or failed."""
    export = service.as_export(row)
    what = "all fields" if len(export.fields) > 12 else f"{len(export.fields)} fields"
    filters = ", ".join(f"{k}={v}" for k, v in export.filters.items()) or "none"
    if failed is not None:
        return Event(
            kind="export.failed",
            subject_type="export",
            subject_id=export.id,
            title=f"Export of the profile list failed ({export.format.upper()})",
            body=f"Reason: {failed}\nFilters: {filters}",
            link=f"/exports/{export.id}",
        )
    link = service.download_link(settings, export)
    assert link is not None
    assert export.expires_at is not None
    return Event(
        kind="export.ready",
        subject_type="export",
        subject_id=export.id,
        title=f"Export of {export.row_count:,} profiles is ready ({export.format.upper()})",
        body=(
            f"{export.row_count:,} profiles, {what}, {export.format.upper()} "
            f"({(export.byte_count or 0) / 1_000_000:.1f} MB).\nFilters: {filters}\n"
            f"The file is kept until {export.expires_at:%Y-%m-%d %H:%M} UTC; the link "
            "works without signing in, so keep it to yourself."
        ),
        link=f"/exports/{export.id}",
        mail_link=settings.base_url() + link,
        link_label="Download",
    )


def purge_expired(engine: Engine, limit: int = 100) -> int:
    """Delete the files of exports kept 7 days; answer how many."""
    with transaction(engine) as conn:
        found = repository.expired(conn, utcnow(), limit)
        for row in found:
            repository.delete_chunks(conn, int(row["org_id"]), int(row["id"]))
            repository.mark_expired(conn, int(row["org_id"]), int(row["id"]))
    return len(found)
