"""A customer's goodwill and retro requests and points transfers (``/goodwillRequest``,
``/retroRequest``, ``/pointsTransfers``), in the seed's shapes.

Roles: viewers read; editors ask for goodwill, claim bills and transfer points; admins
decide pending requests.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from patron.api.deps import Db, TransactionRoute, admin, editor, viewer
from patron.api.params import CustomerId, Paging, PathId, query_id, unknown_as
from patron.auth.actor import Actor
from patron.codes import generic
from patron.kit.errors import NotFound, Notice, PatronError
from patron.loyalty import goodwill, retro, transfers
from patron.loyalty.request_answers import (
    GoodwillAnswer,
    GoodwillList,
    RetroList,
    RetroRequest,
    TransferAnswer,
    TransferList,
)
from patron.loyalty.schemas import DecisionIn, GoodwillIn, RetroIn, TransferIn

router = APIRouter(prefix="/v2/customers", tags=["loyalty"], route_class=TransactionRoute)

Viewer = Annotated[Actor, Depends(viewer)]
Editor = Annotated[Actor, Depends(editor)]
Admin = Annotated[Actor, Depends(admin)]


def _unknown_request(request_id: int) -> PatronError:
    return NotFound(generic.NOT_FOUND, f"the customer has no goodwill request {request_id}")


RequestId = Annotated[PathId, unknown_as(_unknown_request)]


def _unknown_retro(request_id: int) -> PatronError:
    return NotFound(generic.NOT_FOUND, f"the customer has no retro request {request_id}")


RetroId = Annotated[PathId, unknown_as(_unknown_retro)]


def _warnings(warnings: list[Notice]) -> list[dict[str, Any]]:
    return [w.as_dict() for w in warnings]


# Goodwill answers show ``approvedValue`` and ``updatedComments`` only once they apply, retro
# answers ``addedByParent`` only for a bill with a store: ``exclude_unset`` keeps them out.
@router.post(
    "/{customer_id:id}/goodwillRequest",
    response_model=GoodwillAnswer,
    response_model_exclude_unset=True,
)
def request_goodwill(
    customer_id: CustomerId, body: GoodwillIn, actor: Editor, conn: Db
) -> dict[str, Any]:
    """Ask for goodwill points; approved at once up to the program's limit, else pending."""
    spec = goodwill.GoodwillInput(
        points=body.points,
        reason=body.reason,
        comments=body.comments,
        program_number=body.program_id,
        store=body.store_code,
    )
    resolved, shown = goodwill.request_goodwill(conn, actor, customer_id, spec)
    return {**shown, "warnings": _warnings(resolved.warnings)}


@router.put(
    "/{customer_id:id}/goodwillRequest/{request_id:id}",
    response_model=GoodwillAnswer,
    response_model_exclude_unset=True,
)
def decide_goodwill(
    customer_id: CustomerId, request_id: RequestId, body: DecisionIn, actor: Admin, conn: Db
) -> dict[str, Any]:
    """Approve or reject a pending goodwill request (admin)."""
    resolved, shown = goodwill.decide_goodwill(
        conn,
        actor,
        customer_id,
        request_id,
        status=body.status,
        comments=body.comments,
        approved_value=body.approved_value,
    )
    return {**shown, "warnings": _warnings(resolved.warnings)}


@router.get(
    "/{customer_id:id}/goodwillRequest",
    response_model=GoodwillList,
    response_model_exclude_unset=True,
)
def list_goodwill(
    customer_id: CustomerId,
    actor: Viewer,
    conn: Db,
    wanted: Paging,
    request_id: Annotated[int | None, query_id("requestId", "Only this request")] = None,
    program_id: Annotated[int | None, query_id("programId", "Only this program's")] = None,
    auto_approve: Annotated[
        bool | None, Query(alias="autoApprove", description="Only auto-approved ones (or not).")
    ] = None,
    one_step: Annotated[
        bool | None,
        Query(alias="is_one_step_change", description="Only requests issued at once (none)."),
    ] = None,
) -> dict[str, Any]:
    """A page of a customer's goodwill requests, newest first."""
    filters = goodwill.GoodwillFilters(
        request_id=request_id,
        program_number=program_id,
        auto_approve=auto_approve,
        one_step=one_step,
    )
    found, total, warnings = goodwill.list_goodwill(
        conn, actor.org_id, customer_id, filters, wanted
    )
    return {
        "pagination": wanted.envelope(total),
        "data": found,
        "warnings": _warnings(warnings),
        "errors": [],
    }


@router.post("/{customer_id:id}/pointsTransfers", response_model=TransferAnswer)
def transfer_points(
    customer_id: CustomerId, body: TransferIn, actor: Editor, conn: Db
) -> dict[str, Any]:
    """Give a member's points to another member (by id or identifier)."""
    spec = transfers.TransferInput(
        points=body.points,
        to_customer_id=body.transfer_to.customer_id,
        to_identifier_name=body.transfer_to.identifier_name,
        to_identifier_value=body.transfer_to.identifier_value,
        notes=body.notes,
        program_number=body.program_id,
    )
    resolved, shown = transfers.transfer(conn, actor, customer_id, spec)
    return {**shown, "warnings": _warnings(resolved.warnings)}


@router.get("/{customer_id:id}/pointsTransfers", response_model=TransferList)
def list_transfers(
    customer_id: CustomerId, actor: Viewer, conn: Db, wanted: Paging
) -> dict[str, Any]:
    """The points a customer gave (DEDUCTION) and received (ADDITION), oldest first."""
    found, total, warnings = transfers.list_transfers(conn, actor.org_id, customer_id, wanted)
    return {
        "pagination": wanted.envelope(total),
        "data": found,
        "warnings": _warnings(warnings),
        "errors": [],
    }


@router.post(
    "/{customer_id:id}/retroRequest",
    response_model=RetroRequest,
    response_model_exclude_unset=True,
)
def request_retro(
    customer_id: CustomerId, body: RetroIn, actor: Editor, conn: Db
) -> dict[str, Any]:
    """Claim an earlier bill recorded without a customer; approved as goodwill is."""
    spec = retro.RetroInput(
        transaction_id=body.transaction_id,
        transaction_number=body.transaction_number,
        store=body.store_code,
        reason=body.reason,
        comments=body.comments,
    )
    resolved, shown = retro.request_retro(conn, actor, customer_id, spec)
    return {**shown, "warnings": _warnings(resolved.warnings)}


@router.put(
    "/{customer_id:id}/retroRequest/{request_id:id}",
    response_model=RetroRequest,
    response_model_exclude_unset=True,
)
def decide_retro(
    customer_id: CustomerId, request_id: RetroId, body: DecisionIn, actor: Admin, conn: Db
) -> dict[str, Any]:
    """Approve (the bill earns its points) or reject a pending retro request (admin)."""
    resolved, shown = retro.decide_retro(
        conn, actor, customer_id, request_id, status=body.status, comments=body.comments
    )
    return {**shown, "warnings": _warnings(resolved.warnings)}


@router.get(
    "/{customer_id:id}/retroRequest",
    response_model=RetroList,
    response_model_exclude_unset=True,
)
def list_retro(
    customer_id: CustomerId,
    actor: Viewer,
    conn: Db,
    wanted: Paging,
    change_type: Annotated[str | None, Query(alias="changeType")] = None,
    start_date: Annotated[str | None, Query(alias="startDate")] = None,
    end_date: Annotated[str | None, Query(alias="endDate")] = None,
    start_id: Annotated[int | None, query_id("startId", "From this request id")] = None,
    end_id: Annotated[int | None, query_id("endId", "Through this request id")] = None,
) -> dict[str, Any]:
    """A page of a customer's retro requests, newest first, by dates or request ids."""
    filters = retro.RetroFilters(
        change_type=change_type,
        start_date=start_date,
        end_date=end_date,
        start_id=start_id,
        end_id=end_id,
    )
    found, total, warnings = retro.list_retro(conn, actor.org_id, customer_id, filters, wanted)
    return {
        "pagination": wanted.envelope(total),
        "data": found,
        "warnings": _warnings(warnings),
        "errors": [],
    }
