"""Referrals: ``POST /v2/customers/referrals``, ``GET /v2/customers/{id}/referrals`` (the
seed's shapes) and the org's campaigns at ``/v2/org/referralCampaigns``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from patron.api import deps
from patron.api.contract import errors
from patron.api.deps import Db, TransactionRoute
from patron.api.params import CustomerId, Paging
from patron.auth.actor import Actor
from patron.codes import customer
from patron.customer import referrals
from patron.customer.record_answers import (
    ReferralCampaignAnswer,
    ReferralCampaignList,
    ReferralList,
    ReferralsInvited,
)
from patron.customer.schemas import Text
from patron.kit.db import MAX_ID

router = APIRouter(prefix="/v2/customers", tags=["referrals"], route_class=TransactionRoute)
org_router = APIRouter(prefix="/v2/org", tags=["referrals"], route_class=TransactionRoute)

Viewer = Annotated[Actor, Depends(deps.viewer)]
Editor = Annotated[Actor, Depends(deps.editor)]
Admin = Annotated[Actor, Depends(deps.admin)]


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class ReferrerIn(_Lenient):
    id: int | None = Field(None, ge=1, le=MAX_ID)
    mobile: Text | None = None
    email: Text | None = None
    externalId: Text | None = None


class InviteeIn(_Lenient):
    name: Text | None = None
    identifier: Text | None = None
    invitedOn: Text | None = None


class GroupIn(_Lenient):
    type: Text | None = None
    referral: list[InviteeIn] = Field(default_factory=list)


class CustomerReferralIn(_Lenient):
    customer: ReferrerIn = Field(default_factory=ReferrerIn)
    campaignToken: Text | None = None
    referrals: list[GroupIn] = Field(default_factory=list)


class ReferralsIn(_Lenient):
    """Body of ``POST /v2/customers/referrals``."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "customerReferrals": [
                        {
                            "customer": {
                                "id": 420007388,
                                "mobile": "918867710031",
                                "email": "sample.email10031@gmail.com",
                                "externalId": "",
                            },
                            "campaignToken": "CWRME",
                            "referrals": [
                                {
                                    "type": "MOBILE",
                                    "referral": [
                                        {
                                            "name": "some random name",
                                            "identifier": "918867710032",
                                            "invitedOn": "2021-12-16 13:15:45",
                                        }
                                    ],
                                }
                            ],
                        }
                    ]
                }
            ]
        }
    )

    customerReferrals: list[CustomerReferralIn] = Field(default_factory=list)

    def invitations(self) -> list[referrals.Invitation]:
        return [
            referrals.Invitation(
                customer=referrals.Referrer(
                    id=entry.customer.id,
                    mobile=entry.customer.mobile,
                    email=entry.customer.email,
                    external_id=entry.customer.externalId,
                ),
                campaign_token=entry.campaignToken,
                referrals=[
                    referrals.InviteGroup(
                        type=group.type,
                        invitees=[
                            referrals.Invitee(
                                name=item.name,
                                identifier=item.identifier,
                                invited_on=item.invitedOn,
                            )
                            for item in group.referral
                        ],
                    )
                    for group in entry.referrals
                ],
            )
            for entry in self.customerReferrals
        ]


class ReferralCampaignIn(BaseModel):
    """Body of ``POST /v2/org/referralCampaigns`` and ``PUT .../{token}``."""

    model_config = ConfigDict(extra="forbid")

    token: str | None = None
    name: str | None = None
    active: bool | None = None


# 404: the referrer named by id or identifier is unknown.
@router.post("/referrals", response_model=ReferralsInvited, responses=errors(404))
def invite(body: ReferralsIn, conn: Db, actor: Editor) -> dict[str, Any]:
    """Record the friends customers invited in a referral campaign."""
    answered = referrals.invite(conn, actor, body.invitations())
    return {
        "customerReferrals": answered,
        "code": customer.CUSTOMER_SUCCESS,
        "message": "Referrals are invited successfully",
        "warnings": [],
        "errors": [],
    }


# A referee's names and identifiers are left out when it has none (or was erased).
@router.get(
    "/{customer_id:id}/referrals", response_model=ReferralList, response_model_exclude_unset=True
)
def list_referrals(
    customer_id: CustomerId, conn: Db, actor: Viewer, page: Paging
) -> dict[str, Any]:
    """A customer's referrals per campaign: code, invitees, referees and statistics."""
    data, total, warnings = referrals.referrals_of(conn, actor.org_id, customer_id, page)
    return {
        "pagination": page.envelope(total),
        "data": data,
        "warnings": [w.as_dict() for w in warnings],
        "errors": [],
    }


@org_router.get("/referralCampaigns", response_model=ReferralCampaignList)
def list_referral_campaigns(conn: Db, actor: Viewer) -> dict[str, Any]:
    """The org's referral campaigns."""
    return {"data": referrals.list_campaigns(conn, actor.org_id), "warnings": []}


@org_router.post("/referralCampaigns", status_code=201, response_model=ReferralCampaignAnswer)
def define_referral_campaign(body: ReferralCampaignIn, conn: Db, actor: Admin) -> dict[str, Any]:
    """Define a referral campaign (its token is what invitations name)."""
    made = referrals.define_campaign(
        conn,
        actor,
        token=body.token,
        name=body.name,
        active=True if body.active is None else body.active,
    )
    return {**made, "warnings": []}


@org_router.put("/referralCampaigns/{token}", response_model=ReferralCampaignAnswer)
def change_referral_campaign(
    token: str, body: ReferralCampaignIn, conn: Db, actor: Admin
) -> dict[str, Any]:
    """Rename a referral campaign, or end or resume it."""
    changed = referrals.change_campaign(conn, actor, token, name=body.name, active=body.active)
    return {**changed, "warnings": []}
