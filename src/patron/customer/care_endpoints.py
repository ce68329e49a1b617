"""Customer care endpoints: search, status and fraud changes, change history, deletion.

Included before the main customer router, and every route with a customer id
uses ``{customer_id:id}``, so fixed paths such as ``/v2/customers/search`` never
reach an id route.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from patron.api.contract import errors
from patron.api.deps import Db, TransactionRoute, admin, editor, viewer
from patron.api.params import CustomerId, paging, query_id
from patron.auth.actor import Actor
from patron.customer import deletion, history, lookup, search, status
from patron.customer.answers import (
    ChangeRequestsAnswer,
    CustomerDeleted,
    FraudStatusChanged,
    SearchAnswer,
    StatusChanged,
)
from patron.kit.pagination import Page

router = APIRouter(prefix="/v2/customers", tags=["customer care"], route_class=TransactionRoute)


class StatusChange(BaseModel):
    """Body of ``PUT /v2/customers/lookup/status``."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"reason": "testing2", "createdOn": "2021-09-16T12:10:45Z", "label": "Active"}
            ]
        }
    )

    reason: str | None = None
    created_on: str | None = Field(None, alias="createdOn")
    label: str | None = None


class FraudChange(BaseModel):
    """Body of ``PUT /v2/customers/{id}/fraudStatus``."""

    status: str | None = None
    reason: str | None = None


class DeleteRequest(BaseModel):
    """Optional body of ``DELETE /v2/customers/{id}``."""

    reason: str | None = None


def _warnings(notices: list[Any]) -> list[dict[str, Any]]:
    return [notice.as_dict() for notice in notices]


@router.get("/search", response_model=SearchAnswer)
def search_customers(
    conn: Db,
    q: str | None = None,
    actor: Actor = Depends(viewer),
    requested: Page = Depends(paging),
) -> dict[str, Any]:
    """Find customers whose first name, last name or an identifier starts with ``q``."""
    found, total = search.search(conn, actor.org_id, q, requested)
    return {"pagination": requested.envelope(total), "data": found, "warnings": [], "errors": []}


@router.put("/lookup/status", response_model=StatusChanged, responses=errors(404))
def update_status(
    conn: Db,
    source: str | None = None,
    account_id: str | None = Query(None, alias="accountId"),
    identifier_name: str | None = Query(None, alias="identifierName"),
    identifier_value: str | None = Query(None, alias="identifierValue"),
    body: StatusChange | None = None,
    actor: Actor = Depends(editor),
) -> dict[str, Any]:
    """Move the customer holding an identifier to another status label."""
    where = lookup.source_account(source, account_id, default="INSTORE")
    change = body or StatusChange()
    warnings = status.change_status(
        conn,
        actor,
        where,
        identifier_name,
        identifier_value,
        label=change.label,
        reason=change.reason,
        created_on=change.created_on,
    )
    return {"warnings": _warnings(warnings), "errors": []}


@router.put("/{customer_id:id}/fraudStatus", response_model=FraudStatusChanged)
def update_fraud_status(
    conn: Db,
    customer_id: CustomerId,
    body: FraudChange | None = None,
    actor: Actor = Depends(admin),
) -> dict[str, Any]:
    """Mark a customer as fraud (which freezes it) or clear the mark."""
    change = body or FraudChange()
    changed_id, fraud_status, warnings = status.change_fraud_status(
        conn, actor, customer_id, status=change.status, reason=change.reason
    )
    return {"id": changed_id, "fraudStatus": fraud_status, "warnings": _warnings(warnings)}


@router.get("/{customer_id:id}/changeRequest", response_model=ChangeRequestsAnswer)
def change_requests(
    conn: Db,
    customer_id: CustomerId,
    source: str | None = None,
    account_id: str | None = Query(None, alias="accountId"),
    change_type: str | None = Query(None, alias="changeType"),
    start_date: str | None = Query(None, alias="startDate"),
    end_date: str | None = Query(None, alias="endDate"),
    start_id: Annotated[int | None, query_id("startId", "The first change id")] = None,
    end_id: Annotated[int | None, query_id("endId", "The last change id")] = None,
    sort_by: str | None = Query(None, alias="sortBy"),
    sort_order: str | None = Query(None, alias="sortOrder"),
    actor: Actor = Depends(viewer),
    requested: Page = Depends(paging),
) -> dict[str, Any]:
    """The history of changes of a customer and of the customers merged into it."""
    query = history.change_query(
        change_type=change_type,
        source=source,
        account_id=account_id,
        start_date=start_date,
        end_date=end_date,
        start_id=start_id,
        end_id=end_id,
        sort_by=sort_by,
        sort_order=sort_order,
    )
    entries, total, warnings = history.history(conn, actor.org_id, customer_id, query, requested)
    return {
        "pagination": requested.envelope(total),
        "data": entries,
        "warnings": _warnings(warnings),
        "errors": [],
    }


@router.delete("/{customer_id:id}", response_model=CustomerDeleted)
def delete_customer(
    conn: Db,
    customer_id: CustomerId,
    reason: str | None = None,
    body: DeleteRequest | None = Body(None),
    actor: Actor = Depends(admin),
) -> dict[str, Any]:
    """Delete a customer's personal data, keeping an audit entry and a suppression."""
    given = reason if reason is not None and reason.strip() else (body.reason if body else None)
    deleted_id = deletion.delete_customer(conn, actor, customer_id, given)
    return {"id": deleted_id, "deleted": True, "warnings": []}
