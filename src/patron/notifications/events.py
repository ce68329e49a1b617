"""What the end of an import says: which ends are announced, and their words.

Called by the import job (:mod:`patron.imports.jobs`) in each step's transaction,
with the import as the step found it: when the step moved it to an end, the user
who uploaded it gets a notification (and a mail) in the same transaction.
"""

from __future__ import annotations

from sqlalchemy.engine import Connection, RowMapping

from patron.imports import repository as imports
from patron.imports.states import ImportState as S
from patron.notifications.service import Event, notify_user
from patron.settings import Settings, get_settings

#: (state before the step, state after it) -> the event's kind. A preview that ends is
#: not announced: the person confirms it at the report, and the commit is announced.
ENDS = {
    (S.QUEUED, S.COMMITTED): "import.committed",
    (S.COMMITTING, S.COMMITTED): "import.committed",
    (S.QUEUED, S.FAILED): "import.failed",
    (S.COMMITTING, S.FAILED): "import.failed",
    (S.VALIDATING, S.INVALID): "import.invalid",
    (S.QUEUED, S.INVALID): "import.invalid",
    (S.COMMITTING, S.INVALID): "import.invalid",
    (S.UNDO_QUEUED, S.UNDONE): "import.undone",
    (S.UNDOING, S.UNDONE): "import.undone",
    (S.UNDO_QUEUED, S.COMMITTED): "import.undo_failed",
    (S.UNDOING, S.COMMITTED): "import.undo_failed",
}
_OUTCOMES = {
    "import.committed": "imported",
    "import.failed": "failed",
    "import.invalid": "could not be imported",
    "import.undone": "undone",
    "import.undo_failed": "could not be undone",
}
COUNT_WORDS = (
    ("total", "rows"),
    ("inserted", "new"),
    ("updated", "updated"),
    ("skipped", "skipped"),
    ("rejected", "rejected"),
    ("auto_corrected", "auto-corrected"),
)


def import_ended(conn: Connection, before: RowMapping, settings: Settings | None = None) -> None:
    """Announce the import's end when the step that found it as ``before`` ended it."""
    current = imports.get_import(conn, before["org_id"], before["id"])
    if current is None:
        return
    kind = ENDS.get((S(before["state"]), S(current["state"])))
    if kind is None or not current["created_by"]:
        return
    notify_user(
        conn,
        settings or get_settings(),
        int(current["org_id"]),
        str(current["created_by"]),
        import_event(current, kind),
    )


def import_event(found: RowMapping, kind: str) -> Event:
    """The notification of an import's end: the file, the outcome, the counts, the report."""
    title = f"Import of {found['file_name']} {_OUTCOMES[kind]}"
    counts = found["counts"] or {}
    lines = []
    if kind in ("import.committed", "import.undone") or counts:
        lines.append(
            ", ".join(f"{int(counts.get(name, 0)):,} {word}" for name, word in COUNT_WORDS)
        )
    if kind == "import.undone" and "undo_conflicts" in counts:
        lines.append(f"{int(counts['undo_conflicts']):,} fields changed since were left alone")
    if found["message"] and kind != "import.committed":
        lines.append(f"Reason: {found['message']}")
    if kind == "import.failed":
        lines.append("It can be replayed from its report for 7 days.")
    return Event(
        kind=kind,
        subject_type="import",
        subject_id=int(found["id"]),
        title=title,
        body="\n".join(lines),
        link=f"/imports/{found['id']}",
        link_label="Report",
    )
