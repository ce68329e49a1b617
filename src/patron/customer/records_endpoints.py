"""What is recorded about a customer: the consent ledger, the merges, and unmerging by hand.

Every route with a customer id uses ``{customer_id:id}`` (see ``patron.api.params``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from patron.api import deps
from patron.api.deps import Db, TransactionRoute
from patron.api.params import CustomerId, Paging
from patron.auth.actor import Actor
from patron.customer import export, records
from patron.customer.answers import (
    ConsentsAnswer,
    CustomerExport,
    MergesAnswer,
    Unmerged,
)
from patron.customer.unmerge import unmerge_customer
from patron.kit.db import MAX_ID
from patron.kit.errors import Notice
from patron.kit.pagination import Page

router = APIRouter(prefix="/v2/customers", tags=["customer records"], route_class=TransactionRoute)

Viewer = Annotated[Actor, Depends(deps.viewer)]
Editor = Annotated[Actor, Depends(deps.editor)]
Admin = Annotated[Actor, Depends(deps.admin)]


class UnmergeIn(BaseModel):
    """Body of ``POST /v2/customers/{id}/unmerge``."""

    model_config = ConfigDict(extra="forbid")

    reason: str | None = None
    merge_id: int | None = Field(None, alias="mergeId", ge=1, le=MAX_ID)


def _listed(
    data: list[dict[str, Any]], total: int, page: Page, warnings: list[Notice]
) -> dict[str, Any]:
    return {
        "pagination": page.envelope(total),
        "data": data,
        "warnings": [w.as_dict() for w in warnings],
        "errors": [],
    }


@router.post("/{customer_id:id}/unmerge", response_model=Unmerged)
def unmerge(
    customer_id: CustomerId,
    conn: Db,
    actor: Admin,
    body: Annotated[UnmergeIn | None, Body()] = None,
) -> dict[str, Any]:
    """Reverse a merge: the victim gets back what it brought; later changes stay, as conflicts."""
    given = body or UnmergeIn()
    done = unmerge_customer(conn, actor, customer_id, reason=given.reason, merge_id=given.merge_id)
    return {
        "id": done.victim_id,
        "survivorId": done.survivor_id,
        "mergeId": done.merge_id,
        "unmerged": True,
        "conflicts": done.conflicts,
        "warnings": [],
    }


@router.get("/{customer_id:id}/consents", response_model=ConsentsAnswer)
def consents(
    customer_id: CustomerId,
    conn: Db,
    actor: Viewer,
    page: Paging,
    channel: str | None = None,
    sort_order: Annotated[str | None, Query(alias="sortOrder")] = None,
) -> dict[str, Any]:
    """The consent ledger of a customer: every opt-in and opt-out, who, when, where and why."""
    data, total, warnings = records.consents(
        conn, actor.org_id, customer_id, page, channel=channel, sort_order=sort_order
    )
    return _listed(data, total, page, warnings)


@router.get("/{customer_id:id}/merges", response_model=MergesAnswer)
def merges(customer_id: CustomerId, conn: Db, actor: Viewer, page: Paging) -> dict[str, Any]:
    """The merges a customer took part in, newest first, and whether each was reversed."""
    data, total, warnings = records.merges(conn, actor.org_id, customer_id, page)
    return _listed(data, total, page, warnings)


@router.get(
    "/{customer_id:id}/export",
    response_model=CustomerExport,
    responses={
        200: {
            "content": {"application/zip": {}},
            "description": "The document (JSON), or with format=zip a ZIP of it and the image.",
        },
    },
)
@deps.audited  # a read that is audited: a write transaction
def export_customer(
    customer_id: CustomerId,
    conn: Db,
    actor: Admin,
    format: str | None = None,
) -> dict[str, Any] | Response:
    """Everything patron holds on a person, as JSON or a ZIP with the image (audited)."""
    chosen = export.export_format(format)
    done = export.export_customer(conn, actor, customer_id, chosen)
    if chosen == "json":
        return done.document
    return Response(
        done.zip_bytes(),
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="customer-{done.customer_id}.zip"'},
    )
