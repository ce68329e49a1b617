"""Answers of the goodwill and retro requests and the points transfers, as
``/openapi.json`` states them (the seed's shapes; see :mod:`patron.loyalty.answers` for
the conventions: a field with a default is one an answer may leave out).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from patron.api.contract import Problem
from patron.kit.pagination import Pagination
from patron.loyalty.answers import Warnings, examples


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

    model_config = examples({**GOODWILL_REQUEST_SAMPLE, "warnings": []})

    warnings: Warnings


class GoodwillList(BaseModel):
    """A page of a customer's goodwill requests, newest first."""

    model_config = examples(
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

    model_config = examples(
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

    model_config = examples(RETRO_REQUEST_SAMPLE)

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

    model_config = examples(
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
