"""The seed's sample responses of the loyalty read side (``loyaltyDetails``,
``pointsTransfers``, ``goodwillRequest``), reproduced field by field from a store set up
to match them.

Ids are the store's own (a customer, a transfer, a request get the next free id), so
the samples' ids are replaced by the ones the store gave; every other field must be the
sample's. Where patron differs on purpose, :func:`goodwill_as_patron_shows_it` says so.
"""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError
from sqlalchemy.engine import Engine

from patron.auth.actor import Actor, Role
from patron.kit.db import transaction
from patron.loyalty import expiry, goodwill, ledger, transactions, transfers
from patron.orgs import service as orgs
from tests.conftest import Api
from tests.factories import register

# --- Fetch Customer Loyalty Details (GET /v2/customers/{id}/loyaltyDetails) ---------------

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


@pytest.fixture
def kolkata(engine: Engine, api: Api) -> Api:
    """The samples show times at +05:30: the org keeps Kolkata's time."""
    with transaction(engine) as conn:
        orgs.change_settings(conn, api.org.admin, {"time_zone": "Asia/Kolkata"})
    return api


def test_the_loyalty_details_sample(engine: Engine, kolkata: Api) -> None:
    api = kolkata
    program = {
        "name": "Main",
        "programId": 622,
        "pointsDelayDays": 1,
        "goodwillAutoApproveLimit": 100,
        "slabs": [
            # Entered on 2020-11-10 (Kolkata), kept for 36524 days: to 2120-11-10.
            {"name": "SILVER", "earnRate": 0.1, "validityDays": 36524},
            {"name": "GOLD", "description": "GOLD", "threshold": 2000, "earnRate": 0.2},
        ],
        "partnerPrograms": [
            {
                "partnerProgramId": 5,
                "name": "1stProgram",
                "description": "1stProgram",
                "tiers": ["1stSlab"],
            },
            {
                "partnerProgramId": 11,
                "name": "NoTierPartnerProgram",
                "description": "NoTierPartnerProgram",
            },
        ],
    }
    assert api.post("/v2/loyalty/programs", json=program, role="admin").status_code == 201
    tom = register(api, mobile="916215776456")
    actor = api.org.admin
    morning = datetime(2020, 11, 10, 6, 0, tzinfo=UTC)  # 11:30 in Kolkata
    with transaction(engine) as conn:
        # 950 points, delayed a day; 250 more, returned while still delayed.
        kept = transactions.BillInput(number="B-1", customer_id=tom, amount=9500)
        transactions.record_bill(conn, actor, kept, at=morning)
        back = transactions.BillInput(number="B-2", customer_id=tom, amount=2500)
        returned = transactions.record_bill(conn, actor, back, at=morning).bill
        transactions.return_bill(
            conn, actor, returned["id"], transactions.ReturnInput(), at=morning
        )
        expiry.run_day(conn, api.org.id, date(2020, 11, 11), at=morning.replace(day=11))
        goodwill.request_goodwill(conn, actor, tom, goodwill.GoodwillInput(points=100))
        ledger.redeem(conn, actor, tom, 40.11)
    for partner, tier in ((5, 1), (11, None)):
        body = {
            "partnerProgramId": partner,
            "membershipId": "916215776456",
            "tierNumber": tier,
            "tierExpiryDate": "2022-12-29" if tier else None,
        }
        assert api.put(f"/v2/customers/{tom}/partnerPrograms", json=body).status_code == 200
    expected = copy.deepcopy(LOYALTY_DETAILS_SAMPLE)
    expected["data"][0]["loyaltyId"] = tom  # the store's id of the member
    response = api.get(f"/v2/customers/{tom}/loyaltyDetails", role="viewer")
    assert response.status_code == 200, response.text
    assert response.json() == expected
    # The same by identifier, and for the one program asked for.
    by_mobile = api.get(
        "/v2/customers/lookup/loyaltyDetails",
        params={
            "source": "INSTORE",
            "identifierName": "mobile",
            "identifierValue": "916215776456",
            "programId": 622,
        },
    )
    assert by_mobile.json() == expected
    # embed=points shows the default program's summary (the sample of Get Customer Details).
    shown = api.get(f"/v2/customers/{tom}", params={"embed": "points"}).json()["pointsSummary"]
    assert shown == {
        "adjusted": 0.0,
        "cumulativePurchases": 9500.0,
        "currentSlab": "SILVER",
        "expired": 0.0,
        "lifetimePoints": 1050.0,
        "loyaltyId": tom,
        "loyaltyPoints": 1009.89,
        "nextSlab": "GOLD",
        "nextSlabDescription": "GOLD",
        "nextSlabSerialNumber": 2,
        "redeemed": 40.11,
        "returned": 0.0,
        "slabExpiryDate": "2120-11-10T23:59:59+05:30",
        "slabSNo": 1,
    }
    unknown = api.get(f"/v2/customers/{tom}/loyaltyDetails", params={"programId": 623})
    assert (unknown.status_code, unknown.json()["errors"][0]["code"]) == (404, 8062)


# --- Get Points Transfer Summary of Customer (GET /v2/customers/{id}/pointsTransfers) -----

TRANSFERS_SAMPLE: list[dict[str, Any]] = [
    {
        "pointsTransferDate": "2019-10-16 15:53:42",
        "pointsTransferred": 15.0,
        "transferId": 100,
        "transferType": "DEDUCTION",
        "transferredFrom": {"userId": 343015431, "firstName": "Tom", "lastName": "Sawyer"},
        "transferredTo": {"userId": 343015432, "firstName": "James", "lastName": "Thomas"},
        "notes": "",
        "programName": "Nightly_ApiAutoDefaultProgram",
    },
    {
        "pointsTransferDate": "2019-10-26 10:23:42",
        "pointsTransferred": 5.0,
        "transferId": 100,
        "transferType": "ADDITION",
        "transferredFrom": {"userId": 343015432, "firstName": "James", "lastName": "Thomas"},
        "transferredTo": {"userId": 343015431, "firstName": "Tom", "lastName": "Sawyer"},
        "notes": "",
        "programName": "Nightly_ApiAutoDefaultProgram",
    },
]


def test_the_points_transfers_sample(engine: Engine, kolkata: Api) -> None:
    api = kolkata
    program = {"name": "Nightly_ApiAutoDefaultProgram", "slabs": [{"name": "Base"}]}
    assert api.post("/v2/loyalty/programs", json=program, role="admin").status_code == 201
    tom = register(api, mobile="919845012345")
    james = register(api, mobile="919845012346", first_name="James", last_name="Thomas")
    actor = api.org.admin
    with transaction(engine) as conn:
        ledger.adjust(conn, actor, tom, 15, reason="opening")
        first = transfers.transfer(
            conn,
            actor,
            tom,
            transfers.TransferInput(points=15, to_customer_id=james),
            at=datetime(2019, 10, 16, 10, 23, 42, tzinfo=UTC),
        )[1]
        second = transfers.transfer(
            conn,
            actor,
            james,
            transfers.TransferInput(points=5, to_customer_id=tom),
            at=datetime(2019, 10, 26, 4, 53, 42, tzinfo=UTC),
        )[1]
    expected = copy.deepcopy(TRANSFERS_SAMPLE)
    for entry, made in zip(expected, (first, second), strict=True):
        entry["transferId"] = made["transferId"]
        for side in ("transferredFrom", "transferredTo"):
            entry[side]["userId"] = {343015431: tom, 343015432: james}[entry[side]["userId"]]
    response = api.get(f"/v2/customers/{tom}/pointsTransfers", role="viewer")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["data"] == expected
    assert (body["warnings"], body["errors"]) == ([], [])
    # James sees the same two transfers the other way round.
    theirs = api.get(f"/v2/customers/{james}/pointsTransfers").json()["data"]
    assert [t["transferType"] for t in theirs] == ["ADDITION", "DEDUCTION"]


# --- Get Customer Goodwill Requests (GET /v2/customers/{id}/goodwillRequest) --------------

ASHISH = {
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
GOODWILL_SAMPLE: dict[str, Any] = {
    "pagination": {"limit": 10, "offset": 0, "total": 2},
    "data": [
        {
            "id": 43114,
            "addedBy": ASHISH,
            "updatedBy": ASHISH,
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
        },
        {
            "id": 43113,
            # The sample names this one "enteredBy", twice (one JSON key, so once).
            "enteredBy": ASHISH,
            "addedOn": "2019-11-04T15:17:55+05:30",
            "updatedOn": "2019-11-04T15:17:55+05:30",
            "userId": 343040815,
            "requestId": 770196,
            "goodwillType": "POINTS",
            "goodwillStatus": "PENDING",
            "comments": "",
            "reason": " ",
            "oneStep": False,
        },
    ],
    "warnings": [],
    "errors": [],
}


def goodwill_as_patron_shows_it(
    sample: dict[str, Any], customer_id: int, request_ids: list[int]
) -> dict[str, Any]:
    """The sample with the store's ids, and where patron differs on purpose:

    - a user has one name, so ``code`` is the name too;
    - reasons are trimmed (the sample's " " is "");
    - every request names ``addedBy`` and ``updatedBy`` (the sample's pending one says
      ``enteredBy``, the same person);
    - ``id`` and ``requestId`` are both the request's id.
    """
    shown = copy.deepcopy(sample)
    for entry, request_id in zip(shown["data"], request_ids, strict=True):
        person = entry.pop("enteredBy", None) or entry["addedBy"]
        person = {**person, "code": person["name"]}
        entry["addedBy"] = entry["updatedBy"] = person
        entry["id"] = entry["requestId"] = request_id
        entry["userId"] = customer_id
        entry["reason"] = entry["reason"].strip()
    return shown


def test_the_goodwill_requests_sample(engine: Engine, kolkata: Api) -> None:
    api = kolkata
    program = {"name": "Main", "goodwillAutoApproveLimit": 450, "slabs": [{"name": "Base"}]}
    assert api.post("/v2/loyalty/programs", json=program, role="admin").status_code == 201
    tom = register(api, mobile="919845012345")
    ashish = Actor(
        org_id=api.org.id,
        role=Role.admin,
        name="1371622280_Ashish",
        kind="user",
        credential="user:15000449",
    )
    with transaction(engine) as conn:
        pending = goodwill.request_goodwill(
            conn,
            ashish,
            tom,
            goodwill.GoodwillInput(points=500, reason=" "),
            at=datetime(2019, 11, 4, 9, 47, 55, tzinfo=UTC),
        )[1]
        approved = goodwill.request_goodwill(
            conn,
            ashish,
            tom,
            goodwill.GoodwillInput(points=450, reason=" ", comments="sample"),
            at=datetime(2019, 11, 4, 9, 48, 23, tzinfo=UTC),
        )[1]
    response = api.get(f"/v2/customers/{tom}/goodwillRequest", role="viewer")
    assert response.status_code == 200, response.text
    expected = goodwill_as_patron_shows_it(GOODWILL_SAMPLE, tom, [approved["id"], pending["id"]])
    assert response.json() == expected
    # The pending request waits for an admin; approving it grants its points.
    mine = api.get(f"/v2/customers/{tom}/loyaltyDetails").json()["data"][0]
    assert mine["loyaltyPoints"] == 450.0
    decided = api.put(
        f"/v2/customers/{tom}/goodwillRequest/{pending['id']}",
        json={"status": "APPROVED", "approvedValue": 300, "comments": "checked"},
        role="admin",
    )
    assert decided.status_code == 200, decided.text
    assert (decided.json()["goodwillStatus"], decided.json()["approvedValue"]) == (
        "APPROVED",
        "300",
    )
    mine = api.get(f"/v2/customers/{tom}/loyaltyDetails").json()["data"][0]
    assert (mine["loyaltyPoints"], mine["lifetimePoints"]) == (750.0, 750.0)
    again = api.put(
        f"/v2/customers/{tom}/goodwillRequest/{pending['id']}",
        json={"status": "REJECTED"},
        role="admin",
    )
    assert again.status_code == 409
    promotional = api.get(f"/v2/customers/{tom}", params={"embed": "promotionalPoints"}).json()
    given = promotional["promotionalPoints"]["customerPromotionType"]
    assert [(g["points"], g["promotionName"]) for g in given] == [
        (300.0, "Goodwill Promotion"),
        (450.0, "Goodwill Promotion"),
    ]
    assert given[1]["issuedOn"] == "2019-11-04T15:18:23+05:30"


# --- The answer models /openapi.json states ------------------------------------------------


def test_the_samples_fit_the_answer_models_key_by_key() -> None:
    """The seed's samples, read through the answer models as FastAPI reads an answer, come
    out unchanged: no key lost, none added, no number retyped. So do the examples that
    ``/openapi.json`` shows beside the models."""
    from patron.loyalty import answers, request_answers

    def through(model: type[BaseModel], sample: dict[str, Any]) -> dict[str, Any]:
        return model.model_validate(sample).model_dump(
            mode="json", by_alias=True, exclude_unset=True
        )

    assert through(answers.LoyaltyDetailsAnswer, LOYALTY_DETAILS_SAMPLE) == LOYALTY_DETAILS_SAMPLE
    for entry in TRANSFERS_SAMPLE:
        assert through(request_answers.PointsTransfer, entry) == entry
    shown = goodwill_as_patron_shows_it(GOODWILL_SAMPLE, 1, [1, 2])
    assert through(request_answers.GoodwillList, shown) == shown
    with pytest.raises(ValidationError):  # the sample's pending request has no addedBy
        request_answers.GoodwillList.model_validate(GOODWILL_SAMPLE)
    examples = [
        (model, example)
        for module in (answers, request_answers)
        for model in vars(module).values()
        if isinstance(model, type)
        and issubclass(model, BaseModel)
        and model.__module__ == module.__name__
        for example in model.model_json_schema().get("examples", [])
    ]
    assert len(examples) >= 5
    for model, example in examples:
        assert through(model, example) == example, model.__name__
