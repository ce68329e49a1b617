"""Writing the audit log and the change log; reading the audit log."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from patron.audit import repository
from patron.audit.tables import audit_log, change_log
from patron.auth.actor import Actor, Role
from patron.codes import generic
from patron.kit.bulk import insert_rows
from patron.kit.clock import range_bound
from patron.kit.errors import Forbidden
from patron.kit.pagination import Page


def audit(
    conn: Connection,
    actor: Actor,
    action: str,
    entity_type: str,
    entity_id: object,
    details: dict[str, Any],
) -> None:
    """Record who did what. ``details`` must never hold personal data."""
    conn.execute(_RECORD, entry(actor, action, entity_type, entity_id, details))


def entry(
    actor: Actor, action: str, entity_type: str, entity_id: object, details: dict[str, Any]
) -> dict[str, Any]:
    """An audit log row's values (for a repository that writes the entry in the statement
    of the change it records). ``details`` must never hold personal data."""
    return {
        "org_id": actor.org_id,
        "actor": actor.name,
        "action": action,
        "entity_type": entity_type,
        "entity_id": str(entity_id),
        "details": details,
    }


#: Built once (every change is audited): building a statement costs more than running it.
_RECORD = audit_log.insert()


def audit_many(
    conn: Connection,
    actor: Actor,
    action: str,
    entity_type: str,
    done: Sequence[tuple[object, dict[str, Any]]],
) -> None:
    """Record the same action on many entities, ``(entity_id, details)`` each, in one
    statement (a bulk request's entries). ``details`` must never hold personal data."""
    if not done:
        return
    rows = [entry(actor, action, entity_type, entity_id, details) for entity_id, details in done]
    insert_rows(conn, audit_log, rows)


def log_change(
    conn: Connection,
    actor: Actor,
    customer_id: int,
    change_type: str,
    details: dict[str, Any],
    *,
    source: str = "INSTORE",
    account_id: str = "",
    cause: str = "api",
) -> None:
    """Record a change of a customer in its change log."""
    conn.execute(
        change_log.insert().values(
            org_id=actor.org_id,
            customer_id=customer_id,
            change_type=change_type,
            source=source,
            account_id=account_id,
            details=details,
            actor=actor.name,
            cause=cause,
        )
    )


@dataclass(frozen=True)
class Change:
    """One change of a customer for :func:`log_changes`."""

    customer_id: int
    change_type: str
    details: dict[str, Any]
    cause: str = "api"


def log_changes(conn: Connection, actor: Actor, changes: Sequence[Change]) -> None:
    """Record many changes in their customers' change logs, in one statement, in order."""
    if not changes:
        return
    rows = [
        {
            "org_id": actor.org_id,
            "customer_id": c.customer_id,
            "change_type": c.change_type,
            "source": "INSTORE",
            "account_id": "",
            "details": c.details,
            "actor": actor.name,
            "cause": c.cause,
        }
        for c in changes
    ]
    insert_rows(conn, change_log, rows)


# --- reading the audit log (the console's audit page, GET /v2/audit) ---------------------


@dataclass(frozen=True)
class AuditFilters:
    """Filters of the audit log as given (text); :func:`list_entries` checks them."""

    actor: str | None = None
    """Exact user or API key name."""
    action: str | None = None
    """Exact action, e.g. ``customer.delete``."""
    since: str | None = None
    """ISO date (from its start) or date-time, inclusive."""
    until: str | None = None
    """ISO date (to its end) or date-time, inclusive."""
    object_type: str | None = None
    """Exact object type, e.g. ``customer``."""
    object_id: str | None = None
    """Exact object id (with ``object_type``: one profile's entries)."""


@dataclass(frozen=True)
class AuditEntry:
    """Who did what to which object, when, and why."""

    id: int
    actor: str
    action: str
    object_type: str
    object_id: str
    at: datetime
    reason: str | None
    details: dict[str, Any]


def list_entries(
    conn: Connection, actor: Actor, filters: AuditFilters, page: Page
) -> tuple[list[AuditEntry], int]:
    """A page of the actor's org's audit log, newest first, and the number of entries
    that match (admin only)."""
    if not actor.can(Role.admin):
        raise Forbidden(generic.FORBIDDEN, "reading the audit log needs the admin role")
    rows, total = repository.page(
        conn,
        actor.org_id,
        actor=(filters.actor or "").strip() or None,
        action=(filters.action or "").strip() or None,
        since=range_bound(filters.since, "from", end=False),
        before=range_bound(filters.until, "to", end=True),
        entity_type=(filters.object_type or "").strip() or None,
        entity_id=(filters.object_id or "").strip() or None,
        limit=page.limit,
        offset=page.offset,
    )
    return [_entry(row) for row in rows], total


def _entry(row: Any) -> AuditEntry:
    details = row["details"] if isinstance(row["details"], dict) else {}
    reason = details.get("reason")
    return AuditEntry(
        id=int(row["id"]),
        actor=row["actor"],
        action=row["action"],
        object_type=row["entity_type"],
        object_id=row["entity_id"],
        at=row["created_at"],
        reason=reason if isinstance(reason, str) else None,
        details=details,
    )
