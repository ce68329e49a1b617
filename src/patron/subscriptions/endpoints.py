"""``/v2/customers/{id}/subscriptions``: opt-in / opt-out per channel and priority."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from patron.api.deps import Db, TransactionRoute, editor, viewer
from patron.api.params import CustomerId
from patron.auth.actor import Actor
from patron.subscriptions import service
from patron.subscriptions.schemas import (
    SubscriptionsAnswer,
    SubscriptionUpdate,
    SubscriptionUpdateAnswer,
    retrieve_response,
    update_response,
)

router = APIRouter(tags=["subscriptions"], route_class=TransactionRoute)


# Entries leave out the org unit and the source when org-wide and INSTORE: ``exclude_unset``
# keeps them out.
@router.post(
    "/v2/customers/{customer_id:id}/subscriptions",
    response_model=SubscriptionUpdateAnswer,
    response_model_exclude_unset=True,
)
def update_subscriptions(
    customer_id: CustomerId,
    body: SubscriptionUpdate,
    actor: Annotated[Actor, Depends(editor)],
    conn: Db,
) -> dict[str, Any]:
    """Opt a customer in to or out of channels; every entry is kept in the consent ledger."""
    outcome = service.update(conn, actor, customer_id, body)
    return update_response(
        body, outcome.subscriptions, [notice.as_dict() for notice in outcome.warnings]
    )


@router.get(
    "/v2/customers/{customer_id:id}/subscriptions",
    response_model=SubscriptionsAnswer,
    response_model_exclude_unset=True,
)
def retrieve_subscriptions(
    customer_id: CustomerId, actor: Annotated[Actor, Depends(viewer)], conn: Db
) -> dict[str, Any]:
    """The subscriptions recorded for a customer."""
    outcome = service.retrieve(conn, actor.org_id, customer_id)
    return retrieve_response(
        outcome.subscriptions, [notice.as_dict() for notice in outcome.warnings]
    )
