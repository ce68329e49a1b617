"""Retention: deleting the files of old imports, keeping the imports themselves.

An import keeps the file as uploaded, every row's outcome and its undo data, so
that its report can be downloaded and it can be undone. Those hold the people
of the file. :func:`purge_files` deletes them for the org's imports created
more than N days ago; the import stays listed with its counts, and asking it
for a report, its rows, an undo or a replay answers 96207. Imports still at
work, and failed imports that may still be replayed, are left alone; a preview
nobody confirmed, or a console upload nobody mapped, is cancelled.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from patron.audit.service import audit
from patron.auth.actor import Actor, Role
from patron.codes import generic
from patron.imports import codes
from patron.imports.mapping import require
from patron.imports.states import SETTLED, ImportState, targets
from patron.imports.tables import import_blobs, imports
from patron.kit.clock import utcnow
from patron.kit.errors import Conflict, InvalidInput

#: States in which nothing more happens to an import unless someone asks.
PURGEABLE = SETTLED
#: What purging does to an import's state (a draft or a preview is cancelled).
PURGED_STATE = targets("purge")
MAX_DAYS = 36_500


def purge_files(conn: Connection, actor: Actor, older_than_days: int) -> list[int]:
    """Delete the files, results and undo data of imports created more than
    ``older_than_days`` days ago; answer the ids of the imports purged."""
    require(actor, Role.admin, "purge import files")
    if not 1 <= older_than_days <= MAX_DAYS:
        raise InvalidInput(
            generic.INVALID_INPUT, f"older than: a number of days from 1 to {MAX_DAYS}"
        )
    now = utcnow()
    due = sa.and_(
        imports.c.org_id == actor.org_id,
        imports.c.created_at < now - timedelta(days=older_than_days),
        imports.c.files_purged_at.is_(None),
        imports.c.state.in_(PURGEABLE),
        sa.or_(
            imports.c.state != ImportState.FAILED,
            imports.c.replay_until.is_(None),
            imports.c.replay_until < now,
        ),
    )
    conn.execute(
        import_blobs.delete().where(
            import_blobs.c.org_id == actor.org_id,
            import_blobs.c.import_id.in_(sa.select(imports.c.id).where(due)),
        )
    )
    state: Any = sa.case(
        *((imports.c.state == old, str(new)) for old, new in PURGED_STATE.items()),
        else_=imports.c.state,
    )
    purged = sorted(
        int(import_id)
        for (import_id,) in conn.execute(
            imports.update()
            .where(due)
            .values(files_purged_at=now, state=state, updated_at=now)
            .returning(imports.c.id)
        )
    )
    audit(
        conn,
        actor,
        "import.purge_files",
        "org",
        actor.org_id,
        {"olderThanDays": older_than_days, "imports": len(purged)},
    )
    return purged


def ensure_files_kept(found: RowMapping) -> None:
    """Refuse to work on an import whose files retention deleted (96207)."""
    if found["files_purged_at"] is not None:
        raise Conflict(
            codes.FILES_PURGED,
            f"the file, results and undo data of import {found['id']} were deleted by "
            f"retention on {found['files_purged_at']:%Y-%m-%d}: it has no report, rows, "
            "undo or replay any more",
        )
