"""``/v2/campaigns``: the org's loyalty campaigns (viewer lists, admin creates)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from patron.api.deps import Db, TransactionRoute, admin, viewer
from patron.api.params import Paging
from patron.auth.actor import Actor
from patron.kit.clock import iso
from patron.loyalty import service
from patron.loyalty.answers import CampaignList, LoyaltyCampaign
from patron.loyalty.tables import CAMPAIGN_TYPES

router = APIRouter(prefix="/v2/campaigns", tags=["campaigns"], route_class=TransactionRoute)

Viewer = Annotated[Actor, Depends(viewer)]
Admin = Annotated[Actor, Depends(admin)]


class PointsCampaignIn(BaseModel):
    """A new campaign; ``id`` is the number integrations use (default: the next free one)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=service.MAX_NAME_LENGTH)
    type: str = Field(description=f"One of {', '.join(CAMPAIGN_TYPES)}.", max_length=16)
    id: int | None = Field(default=None, ge=1)


def _campaign(campaign: service.Campaign) -> dict[str, Any]:
    return {**campaign.as_dict(), "createdAt": iso(campaign.created_at)}


@router.get("", summary="The org's campaigns, by id", response_model=CampaignList)
def list_campaigns(actor: Viewer, conn: Db, wanted: Paging) -> dict[str, Any]:
    found, total = service.list_campaigns(conn, actor.org_id, wanted.limit, wanted.offset)
    return {"pagination": wanted.envelope(total), "data": [_campaign(c) for c in found]}


@router.post(
    "", status_code=201, summary="Create a campaign (admin)", response_model=LoyaltyCampaign
)
def create_campaign(body: PointsCampaignIn, actor: Admin, conn: Db) -> dict[str, Any]:
    campaign = service.add_campaign(conn, actor, name=body.name, type=body.type, number=body.id)
    return _campaign(campaign)
