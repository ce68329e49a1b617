"""The coupon endpoints over HTTP: series, issuing, transactions, and the customer coupon
reads of the seed (basic and detailed), with statuses, merges, roles and tenant isolation."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from patron.coupons import service
from patron.coupons.schemas import (
    CUSTOMER_COUPONS_SAMPLE,
    DETAILED_COUPONS_SAMPLE,
    Coupon,
    CouponRedemption,
    CouponSeries,
    CouponSeriesOfCoupon,
    CustomerCouponDetails,
    CustomerCoupons,
    DetailedCoupon,
    render_basic,
    render_detailed,
    render_series,
)
from patron.kit.db import transaction
from patron.kit.pagination import Page
from patron.orgs import service as orgs
from patron.settings import get_settings
from tests.conftest import Api, OrgHandle, error_codes, warning_codes
from tests.factories import register
from tests.importing import csv, import_org, run

TOM = "919900111111"
BECKY = "919900111112"
#: The keys of one coupon of ``GET /v2/customers/coupons`` in the seed's sample.
BASIC_KEYS = {
    "code",
    "seriesId",
    "description",
    "validTill",
    "discountType",
    "discountValue",
    "discountUpto",
    "redemptionCount",
    "redemptionsLeft",
    "id",
    "createdDate",
    "transactionNumber",
    "issuedAt",
    "redemptions",
}


@pytest.fixture
def org(engine: Engine) -> OrgHandle:
    return import_org(engine)


@pytest.fixture
def api(app_client: TestClient, org: OrgHandle) -> Api:
    return Api(app_client, org)


def add_series(api: Api, number: int = 5309, **body: Any) -> dict[str, Any]:
    response = api.post(
        "/v2/coupons/series",
        json={"seriesId": number, "name": f"Series {number}", **body},
        role="admin",
    )
    assert response.status_code == 200, response.text
    return dict(response.json()["series"])


def issue(api: Api, number: int, *codes: str, **body: Any) -> list[dict[str, Any]]:
    response = api.post("/v2/coupons", json={"seriesId": number, "codes": list(codes), **body})
    assert response.status_code == 200, response.text
    return list(response.json()["coupons"])


def redeem(engine: Engine, org: OrgHandle, *lines: str) -> None:
    """Redeem through the Coupon Redemption import (lines: series,code,mobile,date,bill)."""
    done = run(
        engine,
        org,
        csv("Series,Code,Customer,Date,Bill,Store", *(f"{line},mal" for line in lines)),
        profile="coupon-redemption",
        mapping={
            "Series": "series_id",
            "Code": "coupon_code",
            "Customer": "customer",
            "Date": "redeemed_date",
            "Bill": "transaction_number",
            "Store": "store",
        },
        options={"skip_redemption_range_check": True},
    )
    assert set(done.statuses()) == {"inserted"}, done.outcomes.to_dicts()


def codes_of(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    coupons = response.json()["entity"]["customers"][0]["coupons"]
    return sorted(c["code"] for c in coupons)


# --- series ----------------------------------------------------------------------------------


def test_a_series_is_added_read_and_listed(api: Api) -> None:
    series = add_series(
        api,
        5309,
        description="Paper coupons",
        validFrom="2016-01-01",
        validTill="2016-12-31",
        maxRedemptionsPerCoupon=2,
        maxRedemptionsPerCustomer=-1,
        discountType="perc",
        discountValue=10,
    )
    assert series == {
        "seriesId": 5309,
        "name": "Series 5309",
        "description": "Paper coupons",
        "validFrom": "2016-01-01T00:00:00+00:00",
        "validTill": "2016-12-31T23:59:59+00:00",
        "maxRedemptionsPerCoupon": 2,
        "maxRedemptionsPerCustomer": -1,
        "discountType": "PERC",
        "discountValue": 10.0,
        "discountUpto": None,
        "numIssued": 0,
        "numRedeemed": 0,
        "createdOn": series["createdOn"],
    }
    add_series(api, 14162)
    issue(api, 5309, "A1", "A2")
    one = api.get("/v2/coupons/series/5309", role="viewer").json()["series"]
    assert one["numIssued"] == 2
    listed = api.get("/v2/coupons/series?limit=1", role="viewer").json()
    assert listed["pagination"] == {"limit": 1, "offset": 0, "total": 2}
    assert [s["seriesId"] for s in listed["data"]] == [5309]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"validFrom": "2017-01-01", "validTill": "2016-01-01"}, "validFrom must not be after"),
        ({"validTill": "31/12/2016"}, "validTill must be an ISO date"),
        ({"discountType": "FREE"}, "discountType must be ABS or PERC"),
        ({"discountType": "PERC", "discountValue": 150}, "a PERC discountValue is a percentage"),
        ({"maxRedemptionsPerCoupon": 0}, "maxRedemptionsPerCoupon must be between 1"),
        ({"discountValue": -1}, "discountValue must be a number of at least 0"),
        ({"name": "  "}, "name must not be empty"),
        ({"seriesId": 0}, "seriesId must be a positive number"),
    ],
)
def test_invalid_series_are_refused(api: Api, body: dict[str, Any], message: str) -> None:
    response = api.post(
        "/v2/coupons/series", json={"seriesId": 77, "name": "x", **body}, role="admin"
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["message"].startswith(message)
    assert api.get("/v2/coupons/series/77").status_code == 404


def test_a_series_number_is_unique_in_its_org_only(api: Api, other_api: Api) -> None:
    add_series(api, 5309)
    again = api.post("/v2/coupons/series", json={"seriesId": 5309, "name": "x"}, role="admin")
    assert again.status_code == 409
    assert error_codes(again) == [409]
    add_series(other_api, 5309)  # another org may use the same number
    assert other_api.get("/v2/coupons/series/5309").json()["series"]["numIssued"] == 0


# --- issuing ---------------------------------------------------------------------------------


def test_coupons_are_issued_to_a_customer_or_to_anyone(engine: Engine, api: Api) -> None:
    tom = register(api, mobile=TOM)
    add_series(api, 5309, validTill="2030-12-31", discountValue=1000)
    issued = issue(
        api, 5309, "KNRYHMRW", "7TF6TBQB", customerId=tom, storeCode="mal", transactionNumber="T1"
    )
    assert [c["code"] for c in issued] == ["KNRYHMRW", "7TF6TBQB"]
    assert set(issued[0]) == BASIC_KEYS
    assert issued[0]["issuedAt"] == {"code": "mal", "name": "mal"}
    assert issued[0]["transactionNumber"] == "T1"
    assert issued[0]["validTill"] == "2030-12-31T23:59:59+00:00"
    anyone = issue(api, 5309, "OPEN1", validTill="2029-01-31")
    assert anyone[0]["validTill"] == "2029-01-31T23:59:59+00:00"
    listed = api.get("/v2/coupons?seriesId=5309", role="viewer").json()
    assert listed["pagination"]["total"] == 3
    assert {c["code"]: c["issuedTo"] for c in listed["data"]} == {
        "KNRYHMRW": tom,
        "7TF6TBQB": tom,
        "OPEN1": None,
    }
    history = api.get(f"/v2/customers/{tom}/changeRequest?changeType=COUPON").json()["data"]
    assert history[0]["details"]["action"] == "ISSUED"
    assert history[0]["details"]["codes"] == ["KNRYHMRW", "7TF6TBQB"]


def test_issuing_refuses_taken_codes_and_bad_requests(api: Api) -> None:
    tom = register(api, mobile=TOM)
    add_series(api, 5309, validTill="2030-12-31")
    issue(api, 5309, "TAKEN")
    taken = api.post("/v2/coupons", json={"seriesId": 5309, "codes": ["NEW", "TAKEN"]})
    assert taken.status_code == 409
    assert "already has the codes TAKEN" in taken.json()["errors"][0]["message"]
    cases = [
        ({"codes": ["A", "A"]}, 400, 400),
        ({"codes": [" "]}, 400, 400),
        ({"codes": ["A"], "customerId": 999999999}, 404, 8015),
        ({"codes": ["A"], "storeCode": "nowhere"}, 400, 400),
        ({"codes": ["A"], "validTill": "2031-01-01"}, 400, 400),
        ({"codes": ["A"], "seriesId": 1}, 404, 404),
    ]
    for body, status, code in cases:
        response = api.post("/v2/coupons", json={"seriesId": 5309, **body})
        assert (response.status_code, error_codes(response)) == (status, [code]), body
    # Nothing of the refused requests was issued.
    assert api.get("/v2/coupons?seriesId=5309").json()["pagination"]["total"] == 1
    assert tom


def test_a_customer_marked_as_fraud_gets_no_coupon(api: Api) -> None:
    tom = register(api, mobile=TOM)
    marked = api.put(
        f"/v2/customers/{tom}/fraudStatus",
        json={"status": "MARKED", "reason": "chargebacks"},
        role="admin",
    )
    assert marked.status_code == 200, marked.text
    add_series(api, 5309)
    response = api.post("/v2/coupons", json={"seriesId": 5309, "codes": ["A"], "customerId": tom})
    assert (response.status_code, error_codes(response)) == (403, [618])


# --- transactions ------------------------------------------------------------------------------


def test_transactions_are_recorded_and_listed(api: Api) -> None:
    tom = register(api, mobile=TOM)
    response = api.post(
        "/v2/transactions",
        json={
            "number": "2147877652",
            "customerId": tom,
            "storeCode": "EXT-MAL",
            "amount": 120.5,
            "date": "2024-02-29T10:00:00+05:30",
        },
    )
    assert response.status_code == 200, response.text
    recorded = response.json()["transaction"]
    assert recorded["number"] == "2147877652"
    assert recorded["customerId"] == tom
    assert recorded["store"] == {"code": "mal", "name": "mal"}
    assert recorded["amount"] == 120.5
    assert recorded["date"] == "2024-02-29T04:30:00+00:00"
    api.post("/v2/transactions", json={"number": "OTHER"})
    by_number = api.get("/v2/transactions?number=2147877652", role="viewer").json()
    assert [t["id"] for t in by_number["data"]] == [recorded["id"]]
    by_customer = api.get(f"/v2/transactions?customerId={tom}", role="viewer").json()
    assert by_customer["pagination"]["total"] == 1
    future = api.post("/v2/transactions", json={"number": "X", "date": "2999-01-01"})
    assert future.status_code == 400
    empty = api.post("/v2/transactions", json={"number": " "})
    assert empty.status_code == 400


# --- the customer coupon reads -------------------------------------------------------------------


def test_basic_coupons_by_any_identifier(engine: Engine, api: Api) -> None:
    tom = register(api, mobile=TOM, email="tom@example.com", external_id="EXT-TOM")
    add_series(api, 363653, description="NewCouponForAll", validTill="2029-09-01")
    issue(api, 363653, "KNRYHMRW", "7TF6TBQB", customerId=tom, storeCode="mal")
    issue(api, 363653, "FORALL")
    by_mobile = api.get(f"/v2/customers/coupons?mobile={TOM}", role="viewer")
    assert by_mobile.status_code == 200, by_mobile.text
    body = by_mobile.json()
    assert set(body) == {"entity", "warnings", "errors", "success"}
    assert body["success"] is True
    limit = get_settings().default_page_size
    assert body["entity"]["pagination"] == {"limit": limit, "offset": 0, "total": 2}
    customer = body["entity"]["customers"][0]
    assert {k: customer[k] for k in ("firstname", "lastname", "mobile", "id")} == {
        "firstname": "Tom",
        "lastname": "Sawyer",
        "mobile": TOM,
        "id": tom,
    }
    first = customer["coupons"][0]
    assert set(first) == BASIC_KEYS
    assert first["seriesId"] == 363653
    assert first["description"] == "NewCouponForAll"
    assert first["redemptionCount"] == 0
    assert first["redemptionsLeft"] == 1
    assert first["redemptions"] == []
    for query in ("email=Tom@Example.com", "externalId=EXT-TOM", f"id={tom}"):
        found = api.get(f"/v2/customers/coupons?{query}", role="viewer")
        assert codes_of(found) == ["7TF6TBQB", "KNRYHMRW"], query
    paged = api.get(f"/v2/customers/coupons?id={tom}&limit=1&offset=1").json()["entity"]
    assert paged["pagination"] == {"limit": 1, "offset": 1, "total": 2}
    assert len(paged["customers"][0]["coupons"]) == 1
    too_many = api.get(f"/v2/customers/coupons?id={tom}&limit={get_settings().max_page_size + 1}")
    assert too_many.status_code == 400


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ("", 400, 8013),
        (f"mobile={TOM}&email=tom@example.com", 400, 8013),
        ("id=abc", 400, 8013),
        ("mobile=919900999999", 404, 8015),
        (f"mobile={TOM}&status=Gone", 400, 400),
    ],
)
def test_basic_coupons_refuse_bad_lookups(api: Api, query: str, status: int, code: int) -> None:
    register(api, mobile=TOM, email="tom@example.com")
    response = api.get(f"/v2/customers/coupons?{query}")
    assert (response.status_code, error_codes(response)) == (status, [code])


def test_detailed_coupons_with_series_and_redemptions(
    engine: Engine, org: OrgHandle, api: Api
) -> None:
    tom = register(api, mobile=TOM)
    add_series(api, 14162, description="Mobile Push offer 1", validFrom="2016-01-01")
    issue(api, 14162, "ER07BCJ8", customerId=tom, storeCode="mal")
    issue(api, 14162, "PAPER1")  # for anyone: Tom's once he redeems it
    issue(api, 14162, "NOTTOMS")
    redeem(engine, org, f"14162,PAPER1,{TOM},2016-12-15 15:06,BILL-9")
    response = api.get(f"/v2/customers/{tom}/coupons", role="viewer")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True
    by_code = {c["code"]: c for c in body["entity"]}
    assert set(by_code) == {"ER07BCJ8", "PAPER1"}
    unredeemed = by_code["ER07BCJ8"]
    assert unredeemed["seriesId"] == 14162
    assert unredeemed["series"]["id"] == 14162
    assert unredeemed["series"]["description"] == "Mobile Push offer 1"
    assert unredeemed["issuedTo"] == tom
    assert unredeemed["issuedAt"]["code"] == "mal"
    assert unredeemed["issuedAt"]["type"] == "STORE"
    assert unredeemed["isRedeemed"] is False
    assert unredeemed["redemptionsLeft"] == 1
    assert unredeemed["activeFrom"] == "2016-01-01T00:00:00+00:00"
    paper = by_code["PAPER1"]
    assert paper["isRedeemed"] is True
    assert paper["status"] == "REDEEMED"
    assert paper["issuedTo"] is None
    info = paper["redemptionInfo"]
    assert [(r["customerId"], r["transactionNumber"], r["redemptionDate"]) for r in info] == [
        (tom, "BILL-9", "2016-12-15T15:06:00+00:00")
    ]
    assert info[0]["redeemedAt"] == {"code": "mal", "name": "mal"}
    basic = api.get(f"/v2/customers/coupons?id={tom}").json()["entity"]["customers"][0]
    paper_basic = next(c for c in basic["coupons"] if c["code"] == "PAPER1")
    assert paper_basic["redemptions"] == [info[0]["id"]]
    assert paper_basic["redemptionCount"] == 1


def test_the_seed_samples_fit_the_answer_models() -> None:
    basic = CustomerCoupons.model_validate(CUSTOMER_COUPONS_SAMPLE)
    assert basic.model_dump(exclude_unset=True) == CUSTOMER_COUPONS_SAMPLE
    assert set(Coupon.model_fields) == BASIC_KEYS
    detailed = CustomerCouponDetails.model_validate(DETAILED_COUPONS_SAMPLE)
    assert detailed.model_dump(exclude_unset=True) == DETAILED_COUPONS_SAMPLE


def test_the_answer_models_have_every_key_the_documents_carry(
    engine: Engine, org: OrgHandle, api: Api
) -> None:
    # An answer goes through its model, which drops a key it does not name: the documents
    # as built must have exactly the models' keys.
    tom = register(api, mobile=TOM)
    add_series(api, 14162, validTill="2030-12-31")
    issue(api, 14162, "PAPER1", customerId=tom, storeCode="mal")
    redeem(engine, org, f"14162,PAPER1,{TOM},2016-12-15 15:06,BILL-9")
    with transaction(engine, write=False) as conn:
        (row,), _, _ = service.list_coupons(conn, org.id, Page(limit=10, offset=0))
        redemptions = service.redemptions_by_coupon(conn, org.id, [row])[int(row["id"])]
        (series,), _ = service.list_series(conn, org.id, Page(limit=10, offset=0))
    detailed = render_detailed(row, redemptions, org.id)
    assert set(detailed) == set(DetailedCoupon.model_fields)
    assert set(detailed["series"]) == set(CouponSeriesOfCoupon.model_fields)
    assert set(detailed["redemptionInfo"][0]) == set(CouponRedemption.model_fields)
    assert set(render_basic(row, redemptions)) == set(Coupon.model_fields)
    assert set(render_series(series)) == set(CouponSeries.model_fields)


def test_a_coupon_no_store_issued_answers_an_empty_issued_at(api: Api) -> None:
    tom = register(api, mobile=TOM)
    add_series(api, 5309)
    (issued,) = issue(api, 5309, "NOSTORE", customerId=tom)
    assert issued["issuedAt"] == {}
    listed = api.get("/v2/coupons", role="viewer").json()
    assert listed["data"][0]["issuedAt"] == {}
    basic = api.get(f"/v2/customers/coupons?id={tom}").json()
    assert basic["entity"]["customers"][0]["coupons"][0]["issuedAt"] == {}
    detailed = api.get(f"/v2/customers/{tom}/coupons").json()
    assert detailed["entity"][0]["issuedAt"] == {}
    assert detailed["entity"][0]["series"]["maxRedemptionsPerCoupon"] == 1


def test_status_filters(engine: Engine, org: OrgHandle, api: Api) -> None:
    tom = register(api, mobile=TOM)
    add_series(api, 1, validFrom="2015-01-01", validTill="2015-12-31")  # over
    add_series(api, 2, validFrom="2015-01-01", validTill="2099-12-31")  # running
    add_series(api, 3, validFrom="2098-01-01", validTill="2099-12-31")  # not begun
    for number in (1, 2, 3):
        issue(api, number, f"S{number}-USED", f"S{number}-NEW", customerId=tom)
    redeem(
        engine,
        org,
        f"1,S1-USED,{TOM},2015-06-01,B1",
        f"2,S2-USED,{TOM},2016-06-01,B2",
        f"3,S3-USED,{TOM},2016-06-01,B3",
    )
    expected = {
        "Active": ["S2-NEW", "S2-USED"],
        "Unexpired": ["S2-NEW", "S2-USED", "S3-NEW", "S3-USED"],
        "Redeemed": ["S1-USED", "S2-USED", "S3-USED"],
        "Unredeemed": ["S1-NEW", "S2-NEW", "S3-NEW"],
        "Active_Redeemed": ["S2-USED"],
        "active_unredeemed": ["S2-NEW"],
        "Expired_Redeemed": ["S1-USED"],
        "EXPIRED_UNREDEEMED": ["S1-NEW"],
    }
    for status, codes in expected.items():
        found = api.get(f"/v2/customers/coupons?id={tom}&status={status}")
        assert codes_of(found) == codes, status
        detailed = api.get(f"/v2/customers/{tom}/coupons?status={status}").json()["entity"]
        assert sorted(c["code"] for c in detailed) == codes, status


def test_a_merge_victim_answers_with_the_survivors_coupons(
    engine: Engine, org: OrgHandle, api: Api
) -> None:
    survivor = register(api, mobile=TOM)
    victim = register(api, email="victim@example.com", source="WEBSITE", loyalty_type="non_loyalty")
    add_series(api, 5309)
    issue(api, 5309, "FOR-SURVIVOR", customerId=survivor)
    issue(api, 5309, "FOR-VICTIM", customerId=victim)
    merged = api.post(
        f"/v2/customers/{victim}/changeIdentifier",
        params={"source": "WEBSITE"},
        json={"add": [{"type": "mobile", "value": TOM}]},
    )
    assert merged.status_code == 200, merged.text
    response = api.get(f"/v2/customers/{victim}/coupons")
    assert response.status_code == 200, response.text
    assert warning_codes(response) == [91009]
    assert sorted(c["code"] for c in response.json()["entity"]) == ["FOR-SURVIVOR", "FOR-VICTIM"]
    basic = api.get(f"/v2/customers/coupons?id={victim}")
    assert basic.json()["entity"]["customers"][0]["id"] == survivor
    assert codes_of(basic) == ["FOR-SURVIVOR", "FOR-VICTIM"]


# --- roles and tenancy ---------------------------------------------------------------------------


def test_roles(api: Api) -> None:
    tom = register(api, mobile=TOM)
    as_editor = api.post("/v2/coupons/series", json={"seriesId": 1, "name": "x"}, role="editor")
    assert (as_editor.status_code, error_codes(as_editor)) == (403, [403])
    add_series(api, 1)
    as_viewer = api.post("/v2/coupons", json={"seriesId": 1, "codes": ["A"]}, role="viewer")
    assert as_viewer.status_code == 403
    bill = api.post("/v2/transactions", json={"number": "B"}, role="viewer")
    assert bill.status_code == 403
    for path in (
        "/v2/coupons/series",
        "/v2/coupons/series/1",
        "/v2/coupons",
        "/v2/transactions",
        f"/v2/customers/{tom}/coupons",
        f"/v2/customers/coupons?id={tom}",
    ):
        assert api.get(path, role="viewer").status_code == 200, path
        anonymous = api.client.get(path)
        assert anonymous.status_code == 401, path


def test_another_orgs_customers_series_and_coupons_are_unknown(
    engine: Engine, api: Api, other_api: Api
) -> None:
    tom = register(api, mobile=TOM)
    add_series(api, 5309)
    issue(api, 5309, "OURS", customerId=tom)
    with transaction(engine) as conn:
        orgs.add_unit(conn, other_api.org.admin, kind="store", code="theirs")
    assert other_api.get(f"/v2/customers/{tom}/coupons").status_code == 404
    theirs = other_api.get(f"/v2/customers/coupons?mobile={TOM}")
    assert (theirs.status_code, error_codes(theirs)) == (404, [8015])
    assert other_api.get("/v2/coupons/series/5309").status_code == 404
    assert other_api.get("/v2/coupons").json()["pagination"]["total"] == 0
    issue_there = other_api.post(
        "/v2/coupons", json={"seriesId": 5309, "codes": ["X"], "customerId": tom}
    )
    assert issue_there.status_code == 404
    bill = other_api.post("/v2/transactions", json={"number": "B", "customerId": tom})
    assert (bill.status_code, error_codes(bill)) == (404, [8015])
    store = other_api.post("/v2/transactions", json={"number": "B", "storeCode": "mal"})
    assert store.status_code == 400  # "mal" is this org's store, not theirs
    assert codes_of(api.get(f"/v2/customers/coupons?mobile={TOM}")) == ["OURS"]
