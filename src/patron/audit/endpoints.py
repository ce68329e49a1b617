"""``GET /v2/audit``: the org's audit log (admin)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from patron.api.deps import Db, TransactionRoute, admin
from patron.api.params import Paging
from patron.audit import answers, service
from patron.auth.actor import Actor
from patron.kit.clock import iso

router = APIRouter(prefix="/v2/audit", tags=["audit"], route_class=TransactionRoute)


def _render(entry: service.AuditEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "actor": entry.actor,
        "action": entry.action,
        "objectType": entry.object_type,
        "objectId": entry.object_id,
        "createdAt": iso(entry.at),
        "reason": entry.reason,
        "details": entry.details,
    }


@router.get("", response_model=answers.AuditLog)
def list_audit_entries(
    actor: Annotated[Actor, Depends(admin)],
    conn: Db,
    wanted: Paging,
    by: Annotated[str | None, Query(alias="actor")] = None,
    action: str | None = None,
    since: Annotated[str | None, Query(alias="from")] = None,
    until: Annotated[str | None, Query(alias="to")] = None,
    object_type: Annotated[str | None, Query(alias="objectType")] = None,
    object_id: Annotated[str | None, Query(alias="objectId")] = None,
) -> dict[str, Any]:
    """Who did what to which object, when and why: newest first, filtered, paged."""
    filters = service.AuditFilters(
        actor=by,
        action=action,
        since=since,
        until=until,
        object_type=object_type,
        object_id=object_id,
    )
    entries, total = service.list_entries(conn, actor, filters, wanted)
    return {
        "pagination": wanted.envelope(total),
        "data": [_render(entry) for entry in entries],
        "warnings": [],
    }
