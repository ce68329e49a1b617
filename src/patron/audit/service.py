"""Writing the audit log and the change log."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Connection

from patron.audit.tables import audit_log, change_log

if TYPE_CHECKING:
    from patron.auth.actor import Actor


def audit(
    conn: Connection,
    actor: Actor,
    action: str,
    entity_type: str,
    entity_id: object,
    details: dict[str, Any],
) -> None:
    """Record who did what. ``details`` must never hold personal data."""
    conn.execute(
        audit_log.insert().values(
            org_id=actor.org_id,
            actor=actor.name,
            action=action,
            entity_type=entity_type,
            entity_id=str(entity_id),
            details=details,
        )
    )


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
