"""The v2 Customer API: register, read, update, look up, change identifiers."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from patron.api import deps
from patron.api.contract import errors
from patron.api.deps import Db, TransactionRoute
from patron.api.params import CustomerId, PathId, unknown_as
from patron.auth.actor import Actor
from patron.codes import customer
from patron.customer import lookup
from patron.customer.answers import (
    CustomerDetails,
    CustomerSaved,
    IdentifiersChanged,
    LookupAnswer,
)
from patron.customer.details import details
from patron.customer.identifiers import change_identifiers
from patron.customer.registration import register
from patron.customer.schemas import ChangeIdentifiersIn, RegisterIn, UpdateIn
from patron.customer.update import update
from patron.kit.db import retry_in_savepoint
from patron.kit.errors import NotFound, PatronError
from patron.orgs import service as orgs

router = APIRouter(prefix="/v2/customers", tags=["customers"], route_class=TransactionRoute)


def _unknown_for_change(_customer_id: int) -> PatronError:
    return NotFound(customer.CUSTOMER_ID_INVALID, "No customer found with the given identifier")


#: changeIdentifier answers an unknown customer with 8009, not 8015.
ChangedCustomerId = Annotated[PathId, unknown_as(_unknown_for_change)]


def _result(customer_id: int, warnings: list[Any]) -> dict[str, Any]:
    return {
        "createdId": customer_id,
        "warnings": [w.as_dict() for w in warnings],
        "sideEffects": [],
    }


@router.post("", response_model=CustomerSaved)
def register_customer(
    body: RegisterIn, conn: Db, actor: Actor = Depends(deps.editor)
) -> dict[str, Any]:
    """Register a customer (loyalty or not) on a source, combining across sources."""
    # A concurrent registration of the same person may win the unique index: the savepoint
    # is run again and then finds the winner.
    outcome = retry_in_savepoint(conn, lambda c: register(c, actor, body))
    return _result(outcome.customer_id, outcome.warnings)


@router.get("/lookup", response_model=LookupAnswer, responses=errors(404))
def lookup_customer_id(
    conn: Db,
    identifierName: str | None = None,
    identifierValue: str | None = None,
    source: str | None = None,
    accountId: str | None = None,
    actor: Actor = Depends(deps.viewer),
) -> dict[str, Any]:
    """The customer id behind an identifier (mobile, email, externalId, cardnumber...)."""
    where = lookup.source_account(
        source,
        accountId,
        allow_all=True,
        invalid_source_code=customer.SOURCE_ACCOUNT_INVALID,
        default=lookup.ALL_SOURCES,
    )
    settings = orgs.get_settings(conn, actor.org_id)
    found = lookup.by_identifier(
        conn, actor.org_id, settings, identifierName, identifierValue, where
    )
    return {"entity": found.id, "warnings": [w.as_dict() for w in found.warnings]}


@router.get(
    "/lookup/customerDetails",
    response_model=CustomerDetails,
    response_model_exclude_unset=True,
    responses=errors(404),
)
def customer_details_by_identifier(
    conn: Db,
    identifierName: str | None = None,
    identifierValue: str | None = None,
    source: str | None = None,
    accountId: str | None = None,
    embed: str | None = None,
    actor: Actor = Depends(deps.viewer),
) -> dict[str, Any]:
    """Full details of the customer behind an identifier."""
    where = lookup.source_account(
        source,
        accountId,
        allow_all=True,
        invalid_source_code=customer.SOURCE_ACCOUNT_INVALID,
        default=lookup.ALL_SOURCES,
    )
    settings = orgs.get_settings(conn, actor.org_id)
    found = lookup.by_identifier(
        conn, actor.org_id, settings, identifierName, identifierValue, where
    )
    return details(conn, actor.org_id, found, where, embed)


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
    where = lookup.source_account(source, accountId, default="INSTORE")
    settings = orgs.get_settings(conn, actor.org_id)
    found = lookup.by_identifier(
        conn, actor.org_id, settings, identifierName, identifierValue, where, for_update=True
    )
    warnings = update(conn, actor, found, where, body)
    return _result(found.id, warnings)


@router.get("/{customer_id:id}", response_model=CustomerDetails, response_model_exclude_unset=True)
def get_customer(
    customer_id: CustomerId,
    conn: Db,
    source: str | None = None,
    accountId: str | None = None,
    embed: str | None = None,
    actor: Actor = Depends(deps.viewer),
) -> dict[str, Any]:
    """Details of a customer; a merged id answers with its survivor (warning 91009)."""
    where = lookup.source_account(source, accountId, allow_all=True, default=lookup.ALL_SOURCES)
    found = lookup.resolve(conn, actor.org_id, customer_id)
    return details(conn, actor.org_id, found, where, embed)


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
    where = lookup.source_account(source, accountId, default="INSTORE")
    found = lookup.resolve(conn, actor.org_id, customer_id, for_update=True)
    warnings = update(conn, actor, found, where, body)
    return _result(found.id, warnings)


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
    where = lookup.source_account(source, accountId, default="INSTORE")
    outcome = retry_in_savepoint(
        conn, lambda c: change_identifiers(c, actor, customer_id, where, body)
    )
    return {"createdId": outcome.customer_id, "warnings": [w.as_dict() for w in outcome.warnings]}
