"""The v2 Customer API: register, read, update, look up, change identifiers."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from patron.api import deps
from patron.api.contract import errors
from patron.api.deps import Db, EditorSession, ViewerSession
from patron.api.lean import LeanRoute
from patron.api.params import CustomerId, PathId, unknown_as
from patron.auth.actor import Actor
from patron.codes import customer
from patron.customer import service
from patron.customer.answers import (
    CustomerDetails,
    CustomerSaved,
    IdentifiersChanged,
    LookupAnswer,
)
from patron.customer.schemas import ChangeIdentifiersIn, RegisterIn, UpdateIn
from patron.customer.service import Identifier, Saved
from patron.kit.errors import NotFound, PatronError

# The look-up, customerDetails and get by id are served by the lean handler (``api.lean``);
# the other routes of this router by FastAPI's, as any TransactionRoute.
router = APIRouter(prefix="/v2/customers", tags=["customers"], route_class=LeanRoute)


def _unknown_for_change(_customer_id: int) -> PatronError:
    return NotFound(customer.CUSTOMER_ID_INVALID, "No customer found with the given identifier")


#: changeIdentifier answers an unknown customer with 8009, not 8015.
ChangedCustomerId = Annotated[PathId, unknown_as(_unknown_for_change)]


def _saved(saved: Saved) -> dict[str, Any]:
    return {
        "createdId": saved.customer_id,
        "warnings": [w.as_dict() for w in saved.warnings],
        "sideEffects": [],
    }


@router.post("", response_model=CustomerSaved)
def register_customer(body: RegisterIn, s: EditorSession) -> Response:
    """Register a customer (loyalty or not) on a source, combining across sources."""
    saved = service.register_customer(s.conn, s.actor, body)
    # The answer checked by its model and serialized here, in the endpoint's worker thread:
    # a dict returned from a synchronous endpoint is checked in another worker thread, a
    # hand-off of the event loop more on every registration.
    answer = CustomerSaved.model_validate(_saved(saved))
    return Response(answer.model_dump_json(), media_type="application/json")


@router.get("/lookup", response_model=LookupAnswer, responses=errors(404))
def lookup_customer_id(
    s: ViewerSession,
    identifierName: str | None = None,
    identifierValue: str | None = None,
    source: str | None = None,
    accountId: str | None = None,
) -> dict[str, Any]:
    """The customer id behind an identifier (mobile, email, externalId, cardnumber...)."""
    given = Identifier(identifierName, identifierValue, source, accountId)
    found = service.lookup_customer(s.conn, s.actor, given)
    return {"entity": found.customer_id, "warnings": [w.as_dict() for w in found.warnings]}


@router.get(
    "/lookup/customerDetails",
    response_model=CustomerDetails,
    response_model_exclude_unset=True,
    responses=errors(404),
)
def customer_details_by_identifier(
    s: ViewerSession,
    identifierName: str | None = None,
    identifierValue: str | None = None,
    source: str | None = None,
    accountId: str | None = None,
    embed: str | None = None,
) -> dict[str, Any]:
    """Full details of the customer behind an identifier."""
    given = Identifier(identifierName, identifierValue, source, accountId)
    return service.details_by_identifier(s.conn, s.actor, given, embed)


@router.put("/lookup", response_model=CustomerSaved, responses=errors(404))
def update_customer_by_identifier(
    body: UpdateIn,
    conn: Db,
    identifierName: str | None = None,
    identifierValue: str | None = None,
    source: str | None = None,
    accountId: str | None = None,
    actor: Actor = Depends(deps.editor),
) -> dict[str, Any]:
    """Update names, fields, extended fields, channels or loyalty type, found by identifier."""
    given = Identifier(identifierName, identifierValue, source, accountId)
    return _saved(service.update_by_identifier(conn, actor, given, body))


@router.get("/{customer_id:id}", response_model=CustomerDetails, response_model_exclude_unset=True)
def get_customer(
    customer_id: CustomerId,
    s: ViewerSession,
    source: str | None = None,
    accountId: str | None = None,
    embed: str | None = None,
) -> dict[str, Any]:
    """Details of a customer; a merged id answers with its survivor (warning 91009)."""
    return service.details_by_id(s.conn, s.actor, customer_id, source, accountId, embed)


@router.put("/{customer_id:id}", response_model=CustomerSaved)
def update_customer(
    customer_id: CustomerId,
    body: UpdateIn,
    conn: Db,
    source: str | None = None,
    accountId: str | None = None,
    actor: Actor = Depends(deps.editor),
) -> dict[str, Any]:
    """Update names, fields, extended fields, channels or loyalty type of a customer."""
    return _saved(service.update_by_id(conn, actor, customer_id, source, accountId, body))


@router.post("/{customer_id:id}/changeIdentifier", response_model=IdentifiersChanged)
def change_customer_identifiers(
    customer_id: ChangedCustomerId,
    body: ChangeIdentifiersIn,
    conn: Db,
    source: str | None = None,
    accountId: str | None = None,
    actor: Actor = Depends(deps.editor),
) -> dict[str, Any]:
    """Add or remove identifiers; adding one held on another source merges the accounts."""
    changed = service.change_identifiers_of(conn, actor, customer_id, source, accountId, body)
    return {"createdId": changed.customer_id, "warnings": [w.as_dict() for w in changed.warnings]}
