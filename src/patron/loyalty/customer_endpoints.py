"""A customer's loyalty: ``/loyaltyDetails`` (by id and by identifier), redemptions,
adjustments, tier changes, partner program links and recommendations.

Roles: viewers read; editors redeem and link partners; admins adjust points and
move members between slabs.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy.engine import Connection, Engine

from patron.api.deps import admin, editor, engine_of, viewer
from patron.api.params import CustomerId, query_id
from patron.auth.actor import Actor
from patron.customer import lookup
from patron.customer.lookup import Resolved
from patron.kit.db import transaction
from patron.kit.errors import Notice
from patron.loyalty import details, ledger, memberships, programs, recommendations, tiers
from patron.loyalty.schemas import AdjustIn, PartnerMembershipIn, RedeemIn, TierChangeIn
from patron.orgs import service as orgs

router = APIRouter(prefix="/v2/customers", tags=["loyalty"])

Db = Annotated[Engine, Depends(engine_of)]
Viewer = Annotated[Actor, Depends(viewer)]
Editor = Annotated[Actor, Depends(editor)]
Admin = Annotated[Actor, Depends(admin)]
ProgramQuery = Annotated[
    int | None, query_id("programId", "Only this loyalty program (its programId)")
]


def _answer(data: Any, warnings: list[Notice]) -> dict[str, Any]:
    return {"data": data, "warnings": [w.as_dict() for w in warnings], "errors": []}


def _program_entry(conn: Connection, actor: Actor, resolved: Resolved, number: int) -> Any:
    found, _ = details.loyalty_details(conn, actor.org_id, resolved, number)
    return found[0]


@router.get("/lookup/loyaltyDetails")
def loyalty_details_by_identifier(
    actor: Viewer,
    db: Db,
    identifierName: str | None = None,
    identifierValue: str | None = None,
    source: str | None = None,
    accountId: str | None = None,
    program_id: ProgramQuery = None,
) -> dict[str, Any]:
    """The loyalty details of the customer behind an identifier, per program."""
    where = lookup.source_account(
        source, accountId, allow_all=True, invalid_source_code=8011, default=lookup.ALL_SOURCES
    )
    with transaction(db, write=False) as conn:
        settings = orgs.get_settings(conn, actor.org_id)
        resolved = lookup.by_identifier(
            conn, actor.org_id, settings, identifierName, identifierValue, where
        )
        found, warnings = details.loyalty_details(conn, actor.org_id, resolved, program_id)
    return _answer(found, warnings)


@router.get("/{customer_id:id}/loyaltyDetails")
def loyalty_details(
    customer_id: CustomerId, actor: Viewer, db: Db, program_id: ProgramQuery = None
) -> dict[str, Any]:
    """A loyalty member's balances and slab in every program of the org (or one)."""
    with transaction(db, write=False) as conn:
        resolved = lookup.resolve(conn, actor.org_id, customer_id)
        found, warnings = details.loyalty_details(conn, actor.org_id, resolved, program_id)
    return _answer(found, warnings)


@router.post("/{customer_id:id}/pointsRedemptions")
def redeem_points(customer_id: CustomerId, body: RedeemIn, actor: Editor, db: Db) -> dict[str, Any]:
    """Spend a member's points; never beyond its balance (1010)."""
    with transaction(db) as conn:
        resolved, posted = ledger.redeem(
            conn, actor, customer_id, body.points, program_number=body.program_id
        )
        program = programs.program_by_id(conn, actor.org_id, posted.balance.program_id)
        entry = _program_entry(conn, actor, resolved, program.number)
    return {"entryId": posted.entry_id, **_answer(entry, resolved.warnings)}


@router.post("/{customer_id:id}/pointsAdjustments")
def adjust_points(customer_id: CustomerId, body: AdjustIn, actor: Admin, db: Db) -> dict[str, Any]:
    """Add (or, negative, take) points by hand, with a reason (admin)."""
    with transaction(db) as conn:
        resolved, posted = ledger.adjust(
            conn,
            actor,
            customer_id,
            body.points,
            reason=body.reason,
            program_number=body.program_id,
        )
        program = programs.program_by_id(conn, actor.org_id, posted.balance.program_id)
        entry = _program_entry(conn, actor, resolved, program.number)
    return {"entryId": posted.entry_id, **_answer(entry, resolved.warnings)}


@router.post("/{customer_id:id}/tierChange")
def change_tier(
    customer_id: CustomerId, body: TierChangeIn, actor: Admin, db: Db
) -> dict[str, Any]:
    """Move a member one slab up or down by hand (admin; 91010, 91011, 91012)."""
    with transaction(db) as conn:
        resolved, moved = tiers.change_tier(
            conn,
            actor,
            customer_id,
            direction=body.direction,
            reason=body.reason,
            program_number=body.program_id,
        )
        program = programs.program_for(conn, actor.org_id, body.program_id)
        entry = _program_entry(conn, actor, resolved, program.number)
    return {"tierChange": moved, **_answer(entry, resolved.warnings)}


@router.put("/{customer_id:id}/partnerPrograms")
def link_partner_program(
    customer_id: CustomerId, body: PartnerMembershipIn, actor: Editor, db: Db
) -> dict[str, Any]:
    """Link a member to a partner program (its id there and tier), or change the link."""
    with transaction(db) as conn:
        resolved = memberships.link_partner(
            conn,
            actor,
            customer_id,
            partner_number=body.partner_program_id,
            membership_id=body.membership_id,
            tier_number=body.tier_number,
            tier_expiry=body.tier_expiry_date,
        )
        found, warnings = details.loyalty_details(conn, actor.org_id, resolved)
    return _answer(found, warnings)


@router.get("/{customer_id:id}/recommendations")
def recommend(
    customer_id: CustomerId,
    actor: Viewer,
    db: Db,
    limit: Annotated[int, Query(ge=1, le=recommendations.MAX_LIMIT)] = 10,
    recent_days: Annotated[
        int,
        Query(alias="recentDays", ge=0, le=3660, description="Leave out what was bought since."),
    ] = recommendations.DEFAULT_RECENT_DAYS,
) -> dict[str, Any]:
    """The products the customer is most likely to buy next, from co-purchases (1061)."""
    wanted = recommendations.Wanted(limit=limit, recent_days=recent_days)
    with transaction(db, write=False) as conn:
        found, warnings = recommendations.recommend(conn, actor.org_id, customer_id, wanted)
    status = {
        "success": True,
        "code": recommendations.RECOMMENDATIONS_FETCHED,
        "message": "Customer recommendations fetched successfully",
    }
    return {**_answer(found, warnings), "status": status}
