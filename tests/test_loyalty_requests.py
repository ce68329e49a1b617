"""Retro requests, and what goodwill and transfers refuse, over HTTP."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from tests.conftest import Api, error_codes
from tests.factories import declare_sample_setup, register
from tests.loyalty_setup import add_program, bill, consistent, details

TOM, HUCK, BECKY = "919845012345", "919845012346", "919845012347"


def test_a_retro_claim_earns_the_bills_points(engine: Engine, api: Api) -> None:
    add_program(api, goodwillAutoApproveLimit=50)
    tom = register(api, mobile=TOM)
    small = bill(api, None, 400, number="R-1")["transaction"]  # 40 points: within the limit
    large = bill(api, None, 2000, number="R-2")["transaction"]  # 200 points: an admin decides
    claimed = api.post(f"/v2/customers/{tom}/retroRequest", json={"transactionId": small["id"]})
    assert claimed.status_code == 200, claimed.text
    assert (claimed.json()["status"], claimed.json()["baseType"]) == ("APPROVED", "RETRO")
    assert details(api, tom)["loyaltyPoints"] == 40.0
    recorded = api.get(f"/v2/transactions/{small['id']}").json()["transaction"]
    assert (recorded["customerId"], recorded["type"]) == (tom, "RETRO")
    again = api.post(f"/v2/customers/{tom}/retroRequest", json={"transactionId": small["id"]})
    assert (again.status_code, error_codes(again)) == (409, [409])
    pending = api.post(
        f"/v2/customers/{tom}/retroRequest",
        json={"transactionNumber": "R-2", "reason": "forgot the card", "comments": "till 4"},
    ).json()
    assert (pending["status"], pending["transactionId"]) == ("PENDING", large["id"])
    assert details(api, tom)["loyaltyPoints"] == 40.0
    huck = register(api, mobile=HUCK)
    second_claim = api.post(f"/v2/customers/{huck}/retroRequest", json={"transactionNumber": "R-2"})
    assert second_claim.status_code == 409  # claimed already, though still pending
    as_editor = api.put(
        f"/v2/customers/{tom}/retroRequest/{pending['id']}", json={"status": "APPROVED"}
    )
    assert as_editor.status_code == 403
    approved = api.put(
        f"/v2/customers/{tom}/retroRequest/{pending['id']}",
        json={"status": "APPROVED", "comments": "receipt seen"},
        role="admin",
    )
    assert approved.status_code == 200, approved.text
    assert details(api, tom)["loyaltyPoints"] == 240.0
    listed = api.get(f"/v2/customers/{tom}/retroRequest", role="viewer").json()
    assert listed["pagination"]["total"] == 2
    assert [r["transactionId"] for r in listed["data"]] == [large["id"], small["id"]]
    assert listed["data"][0]["comments"] == "receipt seen"
    only_first = api.get(
        f"/v2/customers/{tom}/retroRequest",
        params={"startId": small_request_id(listed), "endId": small_request_id(listed)},
    ).json()
    assert [r["transactionId"] for r in only_first["data"]] == [small["id"]]
    assert (
        api.get(f"/v2/customers/{tom}/retroRequest", params={"changeType": "POINTS"}).json()["data"]
        == []
    )
    assert (
        api.get(f"/v2/customers/{tom}/retroRequest", params={"startDate": "2999-01-01"}).json()[
            "data"
        ]
        == []
    )
    bad = api.get(f"/v2/customers/{tom}/retroRequest", params={"startDate": "01-01-2024"})
    assert bad.status_code == 400
    history = api.get(f"/v2/customers/{tom}/changeRequest", params={"changeType": "RETRO"})
    assert history.json()["pagination"]["total"] == 2
    owned = bill(api, tom, 10, number="R-3")["transaction"]
    not_free = api.post(f"/v2/customers/{huck}/retroRequest", json={"transactionId": owned["id"]})
    assert not_free.status_code == 409
    consistent(engine, api.org.id)


def small_request_id(listed: dict[str, object]) -> int:
    data = listed["data"]
    assert isinstance(data, list)
    return int(data[-1]["id"])


def test_transfers_are_refused_where_the_seed_says(api: Api) -> None:
    add_program(api)
    tom = register(api, mobile=TOM)
    huck = register(api, mobile=HUCK)
    becky = register(api, mobile=BECKY, loyalty_type="non_loyalty")
    bill(api, tom, 1000)  # 100 points

    def give(giver: int, points: float, **to: object) -> tuple[int, list[int]]:
        body = {"transferTo": to, "points": points, "notes": "birthday"}
        response = api.post(f"/v2/customers/{giver}/pointsTransfers", json=body)
        return response.status_code, error_codes(response) if response.status_code != 200 else []

    assert give(tom, 100.01, customerId=huck) == (400, [1010])
    assert give(tom, 5, customerId=tom) == (400, [400])
    assert give(tom, 5, customerId=becky) == (400, [1013])
    assert give(becky, 5, customerId=tom) == (400, [1013])
    assert give(tom, 5, customerId=999999999) == (404, [8015])
    assert give(tom, 40, identifierName="mobile", identifierValue=HUCK) == (200, [])
    fraud = api.put(
        f"/v2/customers/{huck}/fraudStatus",
        json={"status": "MARKED", "reason": "chargebacks"},
        role="admin",
    )
    assert fraud.status_code == 200, fraud.text
    assert give(tom, 5, customerId=huck) == (403, [618])
    assert give(huck, 5, customerId=tom) == (403, [618])
    assert details(api, tom)["loyaltyPoints"] == 60.0
    summary = api.get(f"/v2/customers/{huck}/pointsTransfers").json()["data"]
    assert [(t["transferType"], t["pointsTransferred"], t["notes"]) for t in summary] == [
        ("ADDITION", 40.0, "birthday")
    ]


def test_goodwill_is_refused_for_non_members_and_pending_ones_wait(api: Api) -> None:
    add_program(api)  # no goodwill limit: every request waits for an admin
    tom = register(api, mobile=TOM)
    becky = register(api, mobile=BECKY, loyalty_type="non_loyalty")
    refused = api.post(f"/v2/customers/{becky}/goodwillRequest", json={"points": 10})
    assert error_codes(refused) == [1013]
    asked = api.post(f"/v2/customers/{tom}/goodwillRequest", json={"points": 10}).json()
    assert asked["goodwillStatus"] == "PENDING"
    rejected = api.put(
        f"/v2/customers/{tom}/goodwillRequest/{asked['id']}",
        json={"status": "REJECTED", "comments": "not eligible"},
        role="admin",
    ).json()
    assert (rejected["goodwillStatus"], rejected["updatedComments"]) == ("REJECTED", "not eligible")
    assert details(api, tom)["loyaltyPoints"] == 0.0
    listed = api.get(f"/v2/customers/{tom}/goodwillRequest", params={"autoApprove": True})
    assert listed.json()["pagination"]["total"] == 0
    unknown = api.put(
        f"/v2/customers/{tom}/goodwillRequest/99999999", json={"status": "APPROVED"}, role="admin"
    )
    assert unknown.status_code == 404


def test_answers_keep_their_renamed_and_optional_keys(engine: Engine, api: Api) -> None:
    """The answers whose keys the models rename (``from``) or may leave out (a retro
    request's store) come out of the models exactly as the services write them."""
    declare_sample_setup(engine, api.org)
    add_program(api)
    tom, huck = register(api, mobile=TOM), register(api, mobile=HUCK)
    bill(api, tom, 1000)
    redeemed = api.post(f"/v2/customers/{tom}/pointsRedemptions", json={"points": 10})
    assert redeemed.status_code == 200, redeemed.text
    assert set(redeemed.json()) == {"entryId", "data", "warnings", "errors"}
    assert redeemed.json()["data"]["loyaltyPoints"] == 90.0
    moved = api.post(
        f"/v2/customers/{tom}/tierChange",
        json={"direction": "UPGRADE", "reason": "a loyal customer"},
        role="admin",
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["tierChange"] == {"from": "Silver", "to": "Gold"}
    assert moved.json()["data"]["currentSlab"] == "Gold"
    given = api.post(
        f"/v2/customers/{tom}/pointsTransfers",
        json={"transferTo": {"customerId": huck}, "points": 5},
    )
    assert given.status_code == 200, given.text
    assert {k: given.json()[k] for k in ("from", "to", "pointsTransferred")} == {
        "from": tom,
        "to": huck,
        "pointsTransferred": 5.0,
    }
    nowhere = bill(api, None, 100, number="R-1")["transaction"]
    in_store = bill(api, None, 100, number="R-2", storeCode="bukl")["transaction"]
    claims = [
        api.post(f"/v2/customers/{tom}/retroRequest", json={"transactionId": b["id"]}).json()
        for b in (nowhere, in_store)
    ]
    assert "addedByParent" not in claims[0]
    assert (claims[1]["addedByParent"]["code"], claims[1]["addedByParent"]["type"]) == (
        "bukl",
        "STORE",
    )
    listed = api.get(f"/v2/customers/{tom}/retroRequest").json()["data"]
    assert ["addedByParent" in r for r in listed] == [True, False]
