"""A customer's loyalty: ``/loyaltyDetails`` (by id and by identifier), redemptions,
adjustments, tier changes, partner program links and recommendations.

Roles: viewers read; editors redeem and link partners; admins adjust points and
move members between slabs.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from patron.api.contract import errors
from patron.api.deps import Db, ViewerSession, admin, editor, viewer
from patron.api.lean import LeanRoute
from patron.api.params import CustomerId, query_id
from patron.auth.actor import Actor
from patron.codes import loyalty
from patron.kit.errors import Notice
from patron.loyalty import member, recommendations
from patron.loyalty.answers import (
    LoyaltyDetailsAnswer,
    PointsChangeAnswer,
    RecommendationsAnswer,
    TierChangeAnswer,
)
from patron.loyalty.schemas import AdjustIn, PartnerMembershipIn, RedeemIn, TierChangeIn

# The two loyaltyDetails reads are as hot as the customer read beside them: the lean handler.
router = APIRouter(prefix="/v2/customers", tags=["loyalty"], route_class=LeanRoute)

Viewer = Annotated[Actor, Depends(viewer)]
Editor = Annotated[Actor, Depends(editor)]
Admin = Annotated[Actor, Depends(admin)]
ProgramQuery = Annotated[
    int | None, query_id("programId", "Only this loyalty program (its programId)")
]


def _answer(data: Any, warnings: list[Notice]) -> dict[str, Any]:
    return {"data": data, "warnings": [w.as_dict() for w in warnings], "errors": []}


# Partner links leave out the tier fields they do not have: ``exclude_unset`` keeps them out.
@router.get(
    "/lookup/loyaltyDetails",
    response_model=LoyaltyDetailsAnswer,
    response_model_exclude_unset=True,
    responses=errors(404),
)
def loyalty_details_by_identifier(
    s: ViewerSession,
    identifierName: str | None = None,
    identifierValue: str | None = None,
    source: str | None = None,
    accountId: str | None = None,
    program_id: ProgramQuery = None,
) -> dict[str, Any]:
    """The loyalty details of the customer behind an identifier, per program."""
    found, warnings = member.details_by_identifier(
        s.conn,
        s.actor.org_id,
        name=identifierName,
        value=identifierValue,
        source=source,
        account_id=accountId,
        program_number=program_id,
    )
    return _answer(found, warnings)


@router.get(
    "/{customer_id:id}/loyaltyDetails",
    response_model=LoyaltyDetailsAnswer,
    response_model_exclude_unset=True,
)
def loyalty_details(
    customer_id: CustomerId, s: ViewerSession, program_id: ProgramQuery = None
) -> dict[str, Any]:
    """A loyalty member's balances and slab in every program of the org (or one)."""
    found, warnings = member.details_by_id(s.conn, s.actor.org_id, customer_id, program_id)
    return _answer(found, warnings)


@router.post(
    "/{customer_id:id}/pointsRedemptions",
    response_model=PointsChangeAnswer,
    response_model_exclude_unset=True,
)
def redeem_points(
    customer_id: CustomerId, body: RedeemIn, actor: Editor, conn: Db
) -> dict[str, Any]:
    """Spend a member's points; never beyond its balance (1010)."""
    changed = member.redeem(conn, actor, customer_id, body.points, body.program_id)
    return {"entryId": changed.done, **_answer(changed.entry, changed.warnings)}


@router.post(
    "/{customer_id:id}/pointsAdjustments",
    response_model=PointsChangeAnswer,
    response_model_exclude_unset=True,
)
def adjust_points(
    customer_id: CustomerId, body: AdjustIn, actor: Admin, conn: Db
) -> dict[str, Any]:
    """Add (or, negative, take) points by hand, with a reason (admin)."""
    changed = member.adjust(
        conn, actor, customer_id, body.points, reason=body.reason, program_number=body.program_id
    )
    return {"entryId": changed.done, **_answer(changed.entry, changed.warnings)}


@router.post(
    "/{customer_id:id}/tierChange",
    response_model=TierChangeAnswer,
    response_model_exclude_unset=True,
)
def change_tier(
    customer_id: CustomerId, body: TierChangeIn, actor: Admin, conn: Db
) -> dict[str, Any]:
    """Move a member one slab up or down by hand (admin; 91010, 91011, 91012)."""
    changed = member.change_tier(
        conn,
        actor,
        customer_id,
        direction=body.direction,
        reason=body.reason,
        program_number=body.program_id,
    )
    return {"tierChange": changed.done, **_answer(changed.entry, changed.warnings)}


@router.put(
    "/{customer_id:id}/partnerPrograms",
    response_model=LoyaltyDetailsAnswer,
    response_model_exclude_unset=True,
)
def link_partner_program(
    customer_id: CustomerId, body: PartnerMembershipIn, actor: Editor, conn: Db
) -> dict[str, Any]:
    """Link a member to a partner program (its id there and tier), or change the link."""
    found, warnings = member.link_partner(
        conn,
        actor,
        customer_id,
        partner_number=body.partner_program_id,
        membership_id=body.membership_id,
        tier_number=body.tier_number,
        tier_expiry=body.tier_expiry_date,
    )
    return _answer(found, warnings)


@router.get("/{customer_id:id}/recommendations", response_model=RecommendationsAnswer)
def recommend(
    customer_id: CustomerId,
    actor: Viewer,
    conn: Db,
    limit: Annotated[int, Query(ge=1, le=recommendations.MAX_LIMIT)] = 10,
    recent_days: Annotated[
        int,
        Query(alias="recentDays", ge=0, le=3660, description="Leave out what was bought since."),
    ] = recommendations.DEFAULT_RECENT_DAYS,
) -> dict[str, Any]:
    """The products the customer is most likely to buy next, from co-purchases (1061)."""
    wanted = recommendations.Wanted(limit=limit, recent_days=recent_days)
    found, warnings = recommendations.recommend(conn, actor.org_id, customer_id, wanted)
    status = {
        "success": True,
        "code": loyalty.RECOMMENDATIONS_FETCHED,
        "message": "Customer recommendations fetched successfully",
    }
    return {**_answer(found, warnings), "status": status}
