"""Bills over HTTP: what members earn, what non-members and nobody's bills keep, returns,
tier moves at the thresholds, and the customer's bill list."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from tests.conftest import Api, error_codes, warning_codes
from tests.factories import register
from tests.loyalty_setup import add_program, bill, consistent, details

TOM, HUCK = "919845012345", "919845012346"


def test_a_member_earns_by_its_slab_and_the_bill_keeps_its_lines(engine: Engine, api: Api) -> None:
    add_program(api)
    tom = register(api, mobile=TOM)
    response = api.post(
        "/v2/transactions",
        json={
            "number": "2147877652",
            "customerId": tom,
            "date": "2024-02-29T10:00:00+05:30",
            "lineItems": [
                {"sku": "TSHIRT", "description": "T-shirt", "quantity": 2, "rate": 250},
                {"sku": "CAP", "quantity": 1, "rate": 99.5},
            ],
        },
    )
    assert response.status_code == 200, response.text
    recorded = response.json()["transaction"]
    assert recorded["amount"] == 599.5  # the lines' total
    assert recorded["type"] == "REGULAR"
    assert recorded["date"] == "2024-02-29T04:30:00+00:00"
    assert [(li["sku"], li["quantity"], li["amount"]) for li in recorded["lineItems"]] == [
        ("TSHIRT", 2.0, 500.0),
        ("CAP", 1.0, 99.5),
    ]
    assert recorded["points"] == {"earned": 59.95, "delayed": 0.0, "returned": 0.0}
    mine = details(api, tom)
    assert (mine["loyaltyPoints"], mine["lifetimePoints"], mine["cumulativePurchases"]) == (
        59.95,
        59.95,
        599.5,
    )
    assert (mine["currentSlab"], mine["slabSNo"], mine["nextSlab"]) == ("Silver", 1, "Gold")
    assert (mine["nextSlabSerialNumber"], mine["nextSlabDescription"]) == (2, "Gold tier")
    customer = api.get(f"/v2/customers/{tom}").json()
    assert customer["loyaltyInfo"]["lifetimePurchases"] == 599.5
    consistent(engine, api.org.id)


def test_non_members_and_nobody_keep_their_bills_but_earn_nothing(api: Api) -> None:
    add_program(api)
    huck = register(api, mobile=HUCK, loyalty_type="non_loyalty")
    kept = api.post("/v2/transactions", json={"number": "N1", "customerId": huck, "amount": 230})
    assert kept.status_code == 200
    assert warning_codes(kept) == [1013]
    assert kept.json()["transaction"]["points"]["earned"] == 0.0
    # A non-member's purchases still count on its details; it has no loyalty details.
    assert api.get(f"/v2/customers/{huck}").json()["loyaltyInfo"]["lifetimePurchases"] == 230.0
    refused = api.get(f"/v2/customers/{huck}/loyaltyDetails")
    assert (refused.status_code, error_codes(refused)) == (400, [1013])
    anonymous = api.post("/v2/transactions", json={"number": "N2", "amount": 50})
    assert anonymous.json()["transaction"]["type"] == "NOT_INTERESTED"
    assert anonymous.json()["transaction"]["customerId"] is None


def test_a_bill_without_a_program_is_kept_with_1088(api: Api) -> None:
    tom = register(api, mobile=TOM)
    response = api.post("/v2/transactions", json={"number": "B", "customerId": tom, "amount": 9})
    assert response.status_code == 200
    assert warning_codes(response) == [1088]
    missing = api.get(f"/v2/customers/{tom}/loyaltyDetails")
    assert (missing.status_code, error_codes(missing)) == (404, [8062])


def test_a_bill_names_its_customer_by_identifier(api: Api) -> None:
    add_program(api)
    tom = register(api, mobile=TOM)
    body = {"number": "B", "identifierName": "mobile", "identifierValue": TOM, "amount": 100}
    response = api.post("/v2/transactions", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["transaction"]["customerId"] == tom
    assert details(api, tom)["loyaltyPoints"] == 10.0
    unknown = api.post("/v2/transactions", json={**body, "identifierValue": "919800000000"})
    assert (unknown.status_code, error_codes(unknown)) == (404, [8015])


def test_upgrade_at_the_threshold_and_the_next_bill_earns_at_the_new_rate(api: Api) -> None:
    add_program(api)
    tom = register(api, mobile=TOM)
    bill(api, tom, 9999.9)  # 999.99 points: one cent short of Gold
    assert details(api, tom)["currentSlab"] == "Silver"
    bill(api, tom, 0.1, number="B-2")  # 0.01 more: exactly 1000
    mine = details(api, tom)
    assert (mine["currentSlab"], mine["slabSNo"], mine["lifetimePoints"]) == ("Gold", 2, 1000.0)
    bill(api, tom, 100, number="B-3")
    assert details(api, tom)["loyaltyPoints"] == 1020.0  # 100 at Gold's 0.2
    history = api.get(f"/v2/customers/{tom}/changeRequest", params={"changeType": "TIER"}).json()
    [change] = history["data"]
    assert (change["details"]["from"], change["details"]["to"]) == ("Silver", "Gold")


def test_one_bill_may_cross_several_slabs(api: Api) -> None:
    add_program(api)
    tom = register(api, mobile=TOM)
    bill(api, tom, 60000)  # 6000 points at Silver's rate
    assert details(api, tom)["currentSlab"] == "Platinum"


def test_a_return_after_a_tier_change_takes_the_points_back_and_keeps_the_slab(
    engine: Engine, api: Api
) -> None:
    add_program(api)
    tom = register(api, mobile=TOM)
    first = bill(api, tom, 8000)["transaction"]  # 800 points
    second = api.post(
        "/v2/transactions",
        json={
            "number": "B-2",
            "customerId": tom,
            "lineItems": [
                {"sku": "A", "quantity": 4, "rate": 500},
                {"sku": "B", "quantity": 1, "rate": 1000},
            ],
        },
    ).json()["transaction"]  # 3000 at Silver: 300 points, 1100 in all: Gold
    assert details(api, tom)["currentSlab"] == "Gold"
    partial = api.post(
        f"/v2/transactions/{second['id']}/return",
        json={"lineItems": [{"serial": 1, "quantity": 2}]},
    )
    assert partial.status_code == 200, partial.text
    after = partial.json()["transaction"]
    assert after["returnedAmount"] == 1000.0
    assert after["points"]["returned"] == 100.0  # a third of the bill: a third of its 300
    assert after["lineItems"][0]["returnedQuantity"] == 2.0
    mine = details(api, tom)
    assert (mine["loyaltyPoints"], mine["lifetimePoints"], mine["returned"]) == (
        1000.0,
        1000.0,
        100.0,
    )
    assert mine["cumulativePurchases"] == 10000.0
    whole = api.post(f"/v2/transactions/{first['id']}/return")
    assert whole.status_code == 200, whole.text
    mine = details(api, tom)
    assert (mine["loyaltyPoints"], mine["returned"]) == (200.0, 900.0)
    assert mine["currentSlab"] == "Gold"  # moving down waits for the slab's validity to end
    again = api.post(f"/v2/transactions/{first['id']}/return")
    assert (again.status_code, error_codes(again)) == (400, [400])
    too_many = api.post(
        f"/v2/transactions/{second['id']}/return",
        json={"lineItems": [{"serial": 1, "quantity": 3}]},
    )
    assert too_many.status_code == 400
    consistent(engine, api.org.id)


def test_a_return_of_spent_points_takes_what_is_left(engine: Engine, api: Api) -> None:
    add_program(api)
    tom = register(api, mobile=TOM)
    recorded = bill(api, tom, 1000)["transaction"]  # 100 points
    spent = api.post(f"/v2/customers/{tom}/pointsRedemptions", json={"points": 80})
    assert spent.status_code == 200, spent.text
    returned = api.post(f"/v2/transactions/{recorded['id']}/return")
    assert returned.status_code == 200
    assert warning_codes(returned) == [1010]  # 100 to take back, 20 left
    mine = details(api, tom)
    assert (mine["loyaltyPoints"], mine["returned"], mine["redeemed"]) == (0.0, 20.0, 80.0)
    consistent(engine, api.org.id)


def test_redemptions_never_overdraw(api: Api) -> None:
    add_program(api)
    tom = register(api, mobile=TOM)
    bill(api, tom, 500)
    too_much = api.post(f"/v2/customers/{tom}/pointsRedemptions", json={"points": 50.01})
    assert (too_much.status_code, error_codes(too_much)) == (400, [1010])
    exact = api.post(f"/v2/customers/{tom}/pointsRedemptions", json={"points": 50})
    assert exact.json()["data"]["loyaltyPoints"] == 0.0
    huck = register(api, mobile=HUCK, loyalty_type="non_loyalty")
    non_member = api.post(f"/v2/customers/{huck}/pointsRedemptions", json={"points": 1})
    assert error_codes(non_member) == [1013]


def test_the_customer_bill_list_filters_and_pages(api: Api) -> None:
    add_program(api)
    unit = api.post("/v2/org/units", json={"kind": "store", "code": "mal"}, role="admin")
    assert unit.status_code == 200, unit.text
    tom = register(api, mobile=TOM)
    nothing = api.get(f"/v2/customers/{tom}/transactions")
    assert nothing.json()["pagination"]["total"] == 0
    assert warning_codes(nothing) == [1051]
    for day in ("2024-01-10", "2024-02-10", "2024-03-10"):
        bill(api, tom, 10, number=f"B-{day}", date=day, storeCode="mal")
    bill(api, tom, 10, number="ELSEWHERE", date="2024-02-11")
    listed = api.get(f"/v2/customers/{tom}/transactions", params={"limit": 2}).json()
    assert listed["pagination"] == {"limit": 2, "offset": 0, "total": 4}
    assert listed["status"]["code"] == 1052
    assert [t["number"] for t in listed["data"]] == ["B-2024-03-10", "ELSEWHERE"]
    february = api.get(
        f"/v2/customers/{tom}/transactions",
        params={"startDate": "2024-02-01", "endDate": "2024-02-29", "storeCode": "mal"},
    ).json()
    assert [t["number"] for t in february["data"]] == ["B-2024-02-10"]
    unknown_store = api.get(f"/v2/customers/{tom}/transactions", params={"storeCode": "nowhere"})
    assert error_codes(unknown_store) == [1150]
    assert api.get("/v2/customers/999999999/transactions").status_code == 404


def test_delayed_points_are_spendable_after_the_delay(engine: Engine, api: Api) -> None:
    from datetime import UTC, datetime, timedelta

    from patron.kit.db import transaction
    from patron.loyalty import expiry

    add_program(api, pointsDelayDays=14)
    tom = register(api, mobile=TOM)
    recorded = bill(api, tom, 1000)["transaction"]
    assert recorded["points"]["delayed"] == 100.0
    mine = details(api, tom)
    assert (mine["delayedPoints"], mine["loyaltyPoints"], mine["lifetimePoints"]) == (
        100.0,
        0.0,
        100.0,
    )
    spend = api.post(f"/v2/customers/{tom}/pointsRedemptions", json={"points": 1})
    assert error_codes(spend) == [1010]
    later = datetime.now(UTC) + timedelta(days=15)
    with transaction(engine) as conn:
        report = expiry.run_day(conn, api.org.id, at=later)
    assert float(report.released) == 100.0
    mine = details(api, tom)
    assert (mine["delayedPoints"], mine["loyaltyPoints"]) == (0.0, 100.0)
    consistent(engine, api.org.id)
