"""Answers of the loyalty endpoints, as ``/openapi.json`` states them (the seed's shapes).

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


def _examples(*samples: dict[str, Any]) -> ConfigDict:
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

    model_config = _examples(LOYALTY_DETAILS_SAMPLE)

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


# --- goodwill and retro requests, points transfers ----------------------------------------


class RequestUser(BaseModel):
    """Who added or decided a request (or, ``addedByParent``, the bill's store)."""

    id: int
    code: str
    description: str = ""
    name: str
    type: str = Field(description="ADMIN_USER, API_KEY, SYSTEM or STORE.")
    adminType: str
    isActive: bool
    isOuEnabled: bool
    timeZoneId: int
    currencyId: int
    languageId: int


_ADMIN = {
    "id": 15000449,
    "code": "1371622280_919866643044",
    "description": "",
    "name": "1371622280_Ashish",
    "type": "ADMIN_USER",
    "adminType": "GENERAL",
    "isActive": True,
    "isOuEnabled": False,
    "timeZoneId": 0,
    "currencyId": 0,
    "languageId": 0,
}
GOODWILL_REQUEST_SAMPLE: dict[str, Any] = {
    "id": 43114,
    "addedBy": _ADMIN,
    "updatedBy": _ADMIN,
    "addedOn": "2019-11-04T15:18:23+05:30",
    "updatedOn": "2019-11-04T15:18:23+05:30",
    "userId": 343040815,
    "requestId": 770197,
    "goodwillType": "POINTS",
    "goodwillStatus": "APPROVED",
    "comments": "sample",
    "reason": " ",
    "approvedValue": "450",
    "updatedComments": "sample; AUTO_APPROVED",
    "oneStep": False,
}


class GoodwillRequest(BaseModel):
    """A goodwill request (``approvedValue`` once approved, ``updatedComments`` once
    decided)."""

    id: int
    addedBy: RequestUser
    updatedBy: RequestUser
    addedOn: str
    updatedOn: str
    userId: int = Field(description="The customer's id.")
    requestId: int
    goodwillType: str = Field(description="POINTS.")
    goodwillStatus: str = Field(description="PENDING, APPROVED or REJECTED.")
    comments: str
    reason: str
    approvedValue: str | None = Field(None, description='The points granted, as text ("450").')
    updatedComments: str | None = None
    oneStep: bool


class GoodwillAnswer(GoodwillRequest):
    """The goodwill request as asked for or decided."""

    model_config = _examples({**GOODWILL_REQUEST_SAMPLE, "warnings": []})

    warnings: Warnings


class GoodwillList(BaseModel):
    """A page of a customer's goodwill requests, newest first."""

    model_config = _examples(
        {
            "pagination": {"limit": 10, "offset": 0, "total": 1},
            "data": [GOODWILL_REQUEST_SAMPLE],
            "warnings": [],
            "errors": [],
        }
    )

    pagination: Pagination
    data: list[GoodwillRequest]
    warnings: Warnings
    errors: list[Problem]


class TransferAnswer(BaseModel):
    """A points transfer made."""

    model_config = ConfigDict(populate_by_name=True)

    transferId: int
    pointsTransferred: float
    from_: int = Field(alias="from", description="The giving customer's id.")
    to: int = Field(description="The receiving customer's id.")
    programId: int
    warnings: Warnings


class TransferParty(BaseModel):
    """A customer on one side of a transfer."""

    userId: int
    firstName: str
    lastName: str


class PointsTransfer(BaseModel):
    """Points a customer gave (DEDUCTION) or received (ADDITION)."""

    pointsTransferDate: str = Field(description="In the org's time: YYYY-MM-DD HH:MM:SS.")
    pointsTransferred: float
    transferId: int
    transferType: str = Field(description="DEDUCTION or ADDITION.")
    transferredFrom: TransferParty
    transferredTo: TransferParty
    notes: str
    programName: str


def _party(user_id: int, first: str, last: str) -> dict[str, Any]:
    return {"userId": user_id, "firstName": first, "lastName": last}


class TransferList(BaseModel):
    """A page of a customer's transfers, oldest first."""

    model_config = _examples(
        {
            "pagination": {"limit": 10, "offset": 0, "total": 2},
            "data": [
                {
                    "pointsTransferDate": "2019-10-16 15:53:42",
                    "pointsTransferred": 15.0,
                    "transferId": 100,
                    "transferType": "DEDUCTION",
                    "transferredFrom": _party(343015431, "Tom", "Sawyer"),
                    "transferredTo": _party(343015432, "James", "Thomas"),
                    "notes": "",
                    "programName": "Nightly_ApiAutoDefaultProgram",
                },
                {
                    "pointsTransferDate": "2019-10-26 10:23:42",
                    "pointsTransferred": 5.0,
                    "transferId": 100,
                    "transferType": "ADDITION",
                    "transferredFrom": _party(343015432, "James", "Thomas"),
                    "transferredTo": _party(343015431, "Tom", "Sawyer"),
                    "notes": "",
                    "programName": "Nightly_ApiAutoDefaultProgram",
                },
            ],
            "warnings": [],
            "errors": [],
        }
    )

    pagination: Pagination
    data: list[PointsTransfer]
    warnings: Warnings
    errors: list[Problem]


RETRO_REQUEST_SAMPLE: dict[str, Any] = {
    "id": 4,
    "status": "APPROVED",
    "addedBy": {
        "id": 15091433,
        "code": "till.india1",
        "description": "",
        "name": "till.india1",
        "type": "TILL",
        "adminType": "GENERAL",
        "isActive": True,
        "isOuEnabled": False,
        "timeZoneId": 0,
        "currencyId": 0,
        "languageId": 0,
    },
    "addedByParent": {
        "id": 15091431,
        "code": "store_india",
        "description": "",
        "name": "StoreIndia",
        "type": "STORE",
        "adminType": "GENERAL",
        "isActive": True,
        "isOuEnabled": False,
        "timeZoneId": 0,
        "currencyId": 23,
        "languageId": 148,
    },
    "updatedBy": {
        "id": 8730028,
        "code": "Patel",
        "name": "Nayan Kumar",
        "type": "ADMIN_USER",
        "adminType": "GENERAL",
        "isActive": True,
        "isOuEnabled": False,
        "timeZoneId": 0,
        "currencyId": 0,
        "languageId": 0,
    },
    "addedOn": "2019-07-22T15:47:22+05:30",
    "updatedOn": "2019-10-13T16:12:54+05:30",
    "userId": 9113108,
    "requestId": 116679,
    "baseType": "RETRO",
    "reason": "",
    "comments": "",
    "transactionId": 2865,
    "warnings": [],
    "reqAdd": True,
    "oneStep": False,
}


class RetroRequest(BaseModel):
    """A retro request: a claim of a bill recorded without a customer. ``addedByParent`` is
    the bill's store, when it has one."""

    model_config = _examples(RETRO_REQUEST_SAMPLE)

    id: int
    status: str = Field(description="PENDING, APPROVED or REJECTED.")
    addedBy: RequestUser
    addedByParent: RequestUser | None = None
    updatedBy: RequestUser
    addedOn: str
    updatedOn: str
    userId: int = Field(description="The customer's id.")
    requestId: int
    baseType: str = Field(description="RETRO.")
    # Patron always writes these two; the seed's samples leave them out at times.
    reason: str = ""
    comments: str = Field("", description="The request's, or once decided the decision's.")
    transactionId: int = Field(description="The bill claimed.")
    warnings: Warnings
    reqAdd: bool
    oneStep: bool


class RetroList(BaseModel):
    """A page of a customer's retro requests, newest first."""

    model_config = _examples(
        {
            "pagination": {"limit": 10, "offset": 0, "total": 1},
            "data": [RETRO_REQUEST_SAMPLE],
            "warnings": [],
            "errors": [],
        }
    )

    pagination: Pagination
    data: list[RetroRequest]
    warnings: Warnings
    errors: list[Problem]


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
