"""``GET /v2/customers`` (the list) and ``POST /v2/customers/delete`` (up to 100 at once)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict

from patron.api.deps import Db, TransactionRoute, admin, viewer
from patron.api.params import Limit, Offset
from patron.auth.actor import Actor
from patron.customer import bulk_delete, listing
from patron.customer.answers import BulkDeleteAnswer, CustomerList
from patron.kit.clock import iso

router = APIRouter(prefix="/v2/customers", tags=["customer list"], route_class=TransactionRoute)

#: ``customField.NAME=VALUE`` filters on a custom field's value.
CUSTOM_FIELD_PREFIX = "customField."


class BulkDeleteIn(BaseModel):
    """Body of ``POST /v2/customers/delete``."""

    model_config = ConfigDict(extra="forbid")

    ids: list[int]
    reason: str | None = None


def _render(item: listing.CustomerItem) -> dict[str, Any]:
    store = item.store
    return {
        "id": item.id,
        "firstName": item.first_name,
        "lastName": item.last_name,
        "mobile": item.mobile,
        "email": item.email,
        "externalId": item.external_id,
        "loyaltyType": item.loyalty_type,
        "statusLabel": item.status_label,
        "systemStatus": item.system_status,
        "fraudStatus": item.fraud_status,
        "registeredAt": iso(item.registered_at),
        "source": item.source,
        "accountId": item.account_id,
        "sources": list(item.sources),
        "store": (
            {"id": store.id, "kind": store.kind, "code": store.code, "name": store.name}
            if store
            else None
        ),
    }


def _custom_fields(request: Request) -> dict[str, list[str]]:
    wanted: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        if key.startswith(CUSTOM_FIELD_PREFIX):
            wanted.setdefault(key.removeprefix(CUSTOM_FIELD_PREFIX), []).append(value)
    return wanted


@router.get("", response_model=CustomerList)
def list_customers(
    request: Request,
    conn: Db,
    actor: Annotated[Actor, Depends(viewer)],
    q: str | None = None,
    source: str | None = None,
    loyalty_type: Annotated[str | None, Query(alias="loyaltyType")] = None,
    status_label: Annotated[str | None, Query(alias="statusLabel")] = None,
    fraud_status: Annotated[str | None, Query(alias="fraudStatus")] = None,
    registered_from: Annotated[str | None, Query(alias="registeredFrom")] = None,
    registered_to: Annotated[str | None, Query(alias="registeredTo")] = None,
    store: str | None = None,
    sort: str | None = None,
    limit: Limit = None,
    offset: Offset = None,
    cursor: str | None = None,
    include_total: Annotated[bool, Query(alias="includeTotal")] = False,
) -> dict[str, Any]:
    """A page of the org's customers: searched, filtered, sorted; by cursor or offset."""
    filters = listing.ListFilters(
        q=q,
        source=source,
        loyalty_type=loyalty_type,
        status_label=status_label,
        fraud_status=fraud_status,
        registered_from=registered_from,
        registered_to=registered_to,
        store=store,
        custom_fields=_custom_fields(request),
    )
    order = listing.Sort.parse(sort)
    wanted = listing.page_request(limit, offset, cursor, with_total=include_total)
    found = listing.list_customers(conn, actor.org_id, filters, order, wanted)
    pagination: dict[str, Any] = {
        "limit": found.limit,
        "offset": found.offset,
        "sort": found.sort.text,
        "nextCursor": found.next_cursor,
    }
    if found.total is not None:
        pagination["total"] = found.total
    return {
        "pagination": pagination,
        "data": [_render(item) for item in found.items],
        "warnings": [],
    }


@router.post("/delete", response_model=BulkDeleteAnswer)
def delete_customers(
    body: BulkDeleteIn,
    conn: Db,
    actor: Annotated[Actor, Depends(admin)],
) -> dict[str, Any]:
    """Delete up to 100 customers' personal data for one reason; an answer per id."""
    outcomes = bulk_delete.delete_customers(conn, actor, body.ids, body.reason)
    return {
        "data": [
            {"id": o.id, "status": o.status}
            | ({"code": o.code, "message": o.message} if o.code is not None else {})
            for o in outcomes
        ],
        "deleted": sum(1 for o in outcomes if o.status == "deleted"),
        "warnings": [],
    }
