"""Answers of the loyalty endpoints, as ``/openapi.json`` states them (the seed's shapes;
those of the goodwill and retro requests and points transfers are in ``request_answers``).

Fields are named as the answers spell them (camelCase). A field with a default is one an
answer may leave out; the routes that have such fields answer with
``response_model_exclude_unset=True``, so that what is left out stays out (no ``null``
appears that the service did not write). Amounts and points are floats, as the seed
shows them; dates are ISO 8601 strings with their offset.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from patron.api.contract import Problem
from patron.kit.pagination import Pagination

Warnings = list[Problem]


def examples(*samples: dict[str, Any]) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": list(samples)})


# --- a member's loyalty: /loyaltyDetails and the changes answering with it -------------------

LOYALTY_DETAILS_SAMPLE: dict[str, Any] = {
    "data": [
        {
            "redeemed": 40.11,
            "expired": 0.0,
            "returned": 0.0,
            "adjusted": 0.0,
            "lifetimePoints": 1050.0,
            "loyaltyPoints": 1009.89,
            "cumulativePurchases": 9500.0,
            "loyaltyId": 86637581,
            "currentSlab": "SILVER",
            "nextSlab": "GOLD",
            "nextSlabSerialNumber": 2,
            "nextSlabDescription": "GOLD",
            "slabSNo": 1,
            "slabExpiryDate": "2120-11-10T23:59:59+05:30",
            "programId": 622,
            "delayedPoints": 0.0,
            "delayedReturnedPoints": 250.0,
            "totalAvailablePoints": 1009.89,
            "totalReturnedPoints": 250.0,
            "linkedPartnerPrograms": [
                {
                    "partnerProgramId": 5,
                    "partnerProgramName": "1stProgram",
                    "partnerProgramDescription": "1stProgram",
                    "partnerTierNumber": 1,
                    "partnerTierName": "1stSlab",
                    "partnerTierExpiryDate": "2022-12-29T23:59:59+05:30",
                    "partnerMembershipId": "916215776456",
                    "partnerProgramType": "EXTERNAL",
                    "tierBased": True,
                },
                {
                    "partnerProgramId": 11,
                    "partnerProgramName": "NoTierPartnerProgram",
                    "partnerProgramDescription": "NoTierPartnerProgram",
                    "partnerMembershipId": "916215776456",
                    "partnerProgramType": "EXTERNAL",
                    "tierBased": False,
                },
            ],
        }
    ],
    "warnings": [],
    "errors": [],
}


class PartnerLink(BaseModel):
    """The member's link to a partner program; the tier fields only for a tier-based one
    with a tier set."""

    partnerProgramId: int = Field(description="The partner program's id.")
    partnerProgramName: str
    partnerProgramDescription: str
    partnerTierNumber: int | None = Field(None, description="The member's tier there (1-based).")
    partnerTierName: str | None = None
    partnerTierExpiryDate: str | None = Field(None, description="When that tier ends.")
    partnerMembershipId: str = Field(description="The member's id in the partner program.")
    partnerProgramType: str = Field(description="EXTERNAL or SUPPLEMENTARY.")
    tierBased: bool = Field(description="Whether the partner program has tiers.")


class ProgramLoyalty(BaseModel):
    """A member's balances and slab in one loyalty program."""

    redeemed: float = Field(description="Points spent.")
    expired: float = Field(description="Points that expired.")
    returned: float = Field(description="Points taken back by returns.")
    adjusted: float = Field(description="Points added or taken by hand.")
    lifetimePoints: float = Field(description="Points ever earned.")
    loyaltyPoints: float = Field(description="Points that may be spent now.")
    cumulativePurchases: float = Field(description="What the member bought, less returns.")
    loyaltyId: int = Field(description="The member's customer id.")
    currentSlab: str = Field(description="The slab (tier) the member is in.")
    nextSlab: str = Field(description="The next slab up; empty in the highest.")
    nextSlabSerialNumber: int = Field(description="Its serial number; -1 in the highest.")
    nextSlabDescription: str
    slabSNo: int = Field(description="The current slab's serial number.")
    slabExpiryDate: str | None = Field(description="When the slab ends; null: it lasts.")
    programId: int = Field(description="The program's id.")
    delayedPoints: float = Field(description="Points earned that may not be spent yet.")
    delayedReturnedPoints: float = Field(description="Delayed points taken back by returns.")
    totalAvailablePoints: float
    totalReturnedPoints: float
    linkedPartnerPrograms: list[PartnerLink]


class LoyaltyDetailsAnswer(BaseModel):
    """A member's loyalty, per program of the org (or the one asked for)."""

    model_config = examples(LOYALTY_DETAILS_SAMPLE)

    data: list[ProgramLoyalty]
    warnings: Warnings
    errors: list[Problem]


class PointsChangeAnswer(BaseModel):
    """The ledger entry a redemption or an adjustment wrote, and the program's balances
    after it."""

    entryId: int = Field(description="The ledger entry's id.")
    data: ProgramLoyalty
    warnings: Warnings
    errors: list[Problem]


class TierMove(BaseModel):
    """The slabs a member moved from and to."""

    model_config = ConfigDict(populate_by_name=True)

    from_: str = Field(alias="from", description="The slab left.")
    to: str = Field(description="The slab entered.")


class TierChangeAnswer(BaseModel):
    """A member's move by hand, and the program's balances and slab after it."""

    tierChange: TierMove
    data: ProgramLoyalty
    warnings: Warnings
    errors: list[Problem]


class Recommendation(BaseModel):
    """An item to recommend."""

    sku: str = Field(description="The item code.")
    description: str = Field(description="The item's description on the bills; may be empty.")
    score: int = Field(description="How many customers bought it with what the customer bought.")


class FetchedStatus(BaseModel):
    """The outcome of a read, as the seed's list answers carry it."""

    success: bool
    code: int
    message: str


class RecommendationsAnswer(BaseModel):
    """The items a customer is most likely to buy next, best first (warning 1051 when none)."""

    data: list[Recommendation]
    warnings: Warnings
    errors: list[Problem]
    status: FetchedStatus


# --- campaigns and programs ------------------------------------------------------------------


class LoyaltyCampaign(BaseModel):
    """A campaign; ``id`` is the number integrations use."""

    id: int
    name: str
    type: str = Field(description="points, visits, amount or product.")
    createdAt: str | None = Field(description="When it was created (UTC).")


class CampaignList(BaseModel):
    """A page of the org's campaigns, by id."""

    pagination: Pagination
    data: list[LoyaltyCampaign]


class ProgramSlab(BaseModel):
    """A slab (tier) of a program."""

    serialNumber: int = Field(description="The n-th slab has serial number n.")
    name: str
    description: str
    threshold: float = Field(description="The tier basis to reach.")
    earnRate: float = Field(description="Points per unit of a bill's amount.")
    validityDays: int | None = Field(
        description="Days the slab lasts once entered; null: for good."
    )


class PartnerProgram(BaseModel):
    """A partner program linked to a loyalty program."""

    partnerProgramId: int
    name: str
    description: str
    type: str = Field(description="EXTERNAL or SUPPLEMENTARY.")
    tiers: list[str] = Field(description="Tier names in order (none: not tier-based).")


class LoyaltyProgram(BaseModel):
    """A loyalty program with its slabs and partner programs."""

    programId: int = Field(description="The program's id, as integrations use it.")
    name: str
    description: str
    default: bool = Field(description="Bills earn here unless they name a program.")
    tierBasis: str = Field(description="LIFETIME_POINTS or CUMULATIVE_PURCHASES.")
    downgradeRule: str = Field(description="NONE, TO_QUALIFYING or ONE_SLAB.")
    pointsExpiryDays: int | None = Field(description="Days until credited points expire.")
    pointsDelayDays: int = Field(description="Days before earned points may be spent.")
    allowNegative: bool
    goodwillAutoApproveLimit: float = Field(description="Goodwill up to this is approved at once.")
    slabs: list[ProgramSlab]
    partnerPrograms: list[PartnerProgram]
    createdOn: str | None
    updatedOn: str | None


class ProgramList(BaseModel):
    """The org's loyalty programs."""

    data: list[LoyaltyProgram]
    warnings: Warnings


# --- transactions (bills) ----------------------------------------------------------------


class BillStore(BaseModel):
    """The store (or till) of a bill."""

    code: str
    name: str


class BillLine(BaseModel):
    """A line of a bill."""

    serial: int = Field(description="The line's serial number on the bill (from 1).")
    sku: str
    description: str
    quantity: float
    rate: float = Field(description="The price of one.")
    amount: float
    returnedQuantity: float


class BillReturnLine(BaseModel):
    """What a return took of one line."""

    serial: int
    quantity: float
    amount: float


class BillReturn(BaseModel):
    """A return of a bill, whole or some of its lines."""

    id: int
    number: str = Field(description="The return's own bill number; may be empty.")
    amount: float
    lineItems: list[BillReturnLine]
    returnedOn: str | None


class BillPoints(BaseModel):
    """The points a bill earned, of them those delayed, and those its returns took back."""

    earned: float
    delayed: float
    returned: float


class Bill(BaseModel):
    """A bill (transaction) with its lines, returns and points."""

    id: int
    number: str = Field(description="The bill number.")
    type: str = Field(description="REGULAR, NOT_INTERESTED (no customer) or RETRO.")
    customerId: int | None = Field(description="The customer's id; null: nobody's.")
    amount: float | None
    returnedAmount: float
    date: str | None = Field(description="When the purchase happened (UTC).")
    store: BillStore | None
    lineItems: list[BillLine]
    returns: list[BillReturn]
    points: BillPoints
    createdOn: str | None = Field(description="When patron recorded it (UTC).")


class BillAnswer(BaseModel):
    """One bill."""

    transaction: Bill
    warnings: Warnings


_BULK_BILL_SAMPLE: dict[str, Any] = {
    "id": 52341,
    "number": "2147877652",
    "type": "REGULAR",
    "customerId": 342963216,
    "amount": 599.5,
    "returnedAmount": 0.0,
    "date": "2024-02-29T04:30:00+00:00",
    "store": None,
    "lineItems": [
        {
            "serial": 1,
            "sku": "TSHIRT",
            "description": "T-shirt",
            "quantity": 2.0,
            "rate": 250.0,
            "amount": 500.0,
            "returnedQuantity": 0.0,
        },
        {
            "serial": 2,
            "sku": "CAP",
            "description": "",
            "quantity": 1.0,
            "rate": 99.5,
            "amount": 99.5,
            "returnedQuantity": 0.0,
        },
    ],
    "returns": [],
    "points": {"earned": 59.95, "delayed": 0.0, "returned": 0.0},
    "createdOn": "2024-02-29T04:31:07+00:00",
}


class BulkBillAnswer(BaseModel):
    """The outcome of one bill of ``POST /v2/transactions/bulk``, in request order: the bill
    as recorded with its warnings, or the error that refused it (then ``transaction`` is
    null and nothing of it was written)."""

    model_config = examples(
        {"transaction": _BULK_BILL_SAMPLE, "warnings": [], "errors": []},
        {
            "transaction": None,
            "warnings": [],
            "errors": [
                {
                    "status": False,
                    "code": 8015,
                    "message": "No customer found with the given identifier",
                }
            ],
        },
    )

    transaction: Bill | None = Field(description="The bill recorded; null when refused.")
    warnings: Warnings = Field(description="As POST /v2/transactions warns (1013, 618, 1088).")
    errors: list[Problem] = Field(description="Why the bill was refused; empty when recorded.")


class BillList(BaseModel):
    """A page of the org's bills, newest first."""

    pagination: Pagination
    data: list[Bill]
    warnings: Warnings


class CustomerBills(BaseModel):
    """A page of a customer's bills, newest first (warning when none)."""

    pagination: Pagination
    data: list[Bill]
    status: FetchedStatus
    warnings: Warnings
    errors: list[Problem]
