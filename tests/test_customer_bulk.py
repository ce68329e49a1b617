"""``/v2/customers/bulk``: the seed's samples (a parent with children, a child with its
parent, the update of an association, the group lookup), per-entry answers, the batch
limit, and the org's hierarchies."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from pydantic import BaseModel
from sqlalchemy.engine import Engine

from patron.customer import bulk
from patron.customer.bulk_endpoints import BulkCustomerIn
from patron.customer.record_answers import BulkEntryAnswer, GroupAnswer
from patron.kit.db import transaction
from patron.kit.pagination import Page
from patron.orgs import service as orgs
from tests.conftest import Api, error_codes
from tests.factories import register
from tests.loyalty_setup import add_program, bill

MOBILE2, MOBILE3 = "919553000011", "916894126424"


def sample_parent_with_children() -> list[dict[str, Any]]:
    """The seed's "Associate Child with Parent" request ({{mobile2}}, {{mobile3}} filled)."""

    def child(mobile: str) -> dict[str, Any]:
        return {
            "profiles": [
                {
                    "firstName": "Capillary",
                    "lastName": "Customer",
                    "identifiers": [
                        {"type": "mobile", "value": mobile},
                        {"type": "cuid", "value": f"cuid_{mobile}"},
                        {"type": "unionId", "value": f"unionId_{mobile}"},
                    ],
                    "commChannels": [
                        {"type": "mobile", "value": mobile, "primary": True, "verified": True},
                        {"type": "email", "value": f"{mobile}@mail.com", "primary": True,
                         "verified": True},
                    ],
                    "fields": {"gender": "MALE", "city": "city0"},
                    "source": "WECHAT",
                    "accountId": "WECHAT-CM",
                }
            ],
            "extendedFields": {"gender": "Male", "city": "city_6878387"},
        }  # fmt: skip

    return [
        {
            "profiles": [
                {
                    "firstName": "Capillary",
                    "lastName": "Customer",
                    "identifiers": [
                        {"type": "mobile", "value": "917979000000"},
                        {"type": "cuid", "value": "cuid_917979000000"},
                        {"type": "unionId", "value": "unionId_917979000000"},
                        {
                            "type": "cardnumber",
                            "cardExternalId": "carduuid_710000",
                            "value": "card_710000",
                            "seriesCode": "FleetCard1",
                            "statusLabel": "ACTIVE",
                            "extendedFields": {
                                "custom_card_name": "64346srt34532323",
                                "vehicle_number": "879976453431adsgfsf",
                            },
                        },
                    ],
                    "commChannels": [
                        {"type": "mobile", "value": "9020000000", "primary": True,
                         "verified": True},
                        {"type": "email", "value": "tom.sawyer@mail.com", "primary": True,
                         "verified": True},
                    ],
                    "fields": {"gender": "MALE", "city": "city0"},
                    "source": "WECHAT",
                    "accountId": "WECHAT-CM",
                }
            ],
            "extendedFields": {"gender": "Male", "city": "city_6878387"},
            "loyaltyInfo": {"loyaltyType": "loyalty"},
            "referralCode": "",
            "associationDetails": {
                "hierarchyCode": "code-association2",
                "roleCode": "FA",
                "childCustomers": [child(MOBILE2), child(MOBILE3)],
                "fleetCompany": {"externalId": "ex917471949194"},
                "childRoleCode": "FC",
            },
        }
    ]  # fmt: skip


def sample_child_to_parent() -> list[dict[str, Any]]:
    """The seed's "Associate Child to Parent" fragment, in an entry for the child."""
    return [
        {
            "profiles": [
                {
                    "firstName": "Becky",
                    "lastName": "Thatcher",
                    "identifiers": [{"type": "mobile", "value": "917875000001"}],
                    "source": "WECHAT",
                    "accountId": "WECHAT-CM",
                }
            ],
            "loyaltyInfo": {"loyaltyType": "loyalty"},
            "associationDetails": {
                "hierarchyCode": "code-association2",
                "roleCode": "FC",
                "parentCustomer": {
                    "profiles": [
                        {
                            "firstName": "慧慧",
                            "lastName": "慧慧",
                            "identifiers": [
                                {"type": "mobile", "value": "917875000000"},
                                {"type": "cuid", "value": "cuid_917875000000"},
                                {"type": "unionId", "value": "unionId_917875000000"},
                            ],
                            "commChannels": [
                                {"type": "mobile", "value": "917685000000", "primary": True,
                                 "verified": True},
                                {"type": "email", "value": "917685000000@mail.com",
                                 "primary": True, "verified": True},
                            ],
                            "source": "WECHAT",
                            "accountId": "WECHAT-CM",
                        }
                    ],
                    "extendedFields": {"gender": "Male", "city": "city_6878387"},
                },
                "fleetCompany": {"externalId": "ex91747000000"},
            },
        }
    ]  # fmt: skip


def ok(response: Any) -> Any:
    assert response.status_code in (200, 201), response.text
    return response.json()


@pytest.fixture
def fleet(api: Api, engine: Engine) -> Api:
    """The fields, card series and hierarchy the samples name: OWNER over FA over FC."""
    with transaction(engine) as conn:
        actor = api.org.admin
        orgs.add_field(conn, actor, kind="custom", name="gender")
        orgs.add_field(conn, actor, kind="custom", name="city")
        orgs.add_field(conn, actor, kind="extended", name="gender")
        orgs.add_field(conn, actor, kind="extended", name="city")
        for name in ("custom_card_name", "vehicle_number"):
            orgs.add_field(conn, actor, kind="extended", name=name, scope="card")
    ok(api.post("/v2/cards/series", json={"code": "FleetCard1", "type": "DIGITAL"}, role="admin"))
    roles = [
        {"code": "OWNER", "name": "Fleet owner"},
        {"code": "FA", "name": "Fleet admin", "parentRoleCode": "OWNER"},
        {"code": "FC", "name": "Fleet customer", "parentRoleCode": "FA"},
    ]
    body = {"code": "code-association2", "poolPoints": True, "roles": roles}
    made = ok(api.post("/v2/org/hierarchies", json=body, role="admin"))
    assert [r["parentRoleCode"] for r in made["roles"]] == [None, "OWNER", "FA"]
    return api


def test_the_seed_sample_registers_a_parent_with_its_children(fleet: Api) -> None:
    [answer] = ok(fleet.post("/v2/customers/bulk", json=sample_parent_with_children()))
    entity = answer["entity"]
    assert entity["loyaltyInfo"]["loyaltyType"] == "loyalty"
    [profile] = entity["profiles"]
    assert (profile["source"], profile["accountId"]) == ("WECHAT", "WECHAT-CM")
    card = next(i for i in profile["identifiers"] if i["type"] == "cardnumber")
    assert card["value"] == "card_710000"
    details = entity["associationDetails"]
    assert (details["hierarchyCode"], details["roleCode"], details["childCustomer"]) == (
        "code-association2",
        "FA",
        False,
    )
    assert details["new"] is True
    assert details["fleetCompany"]["externalId"] == "ex917471949194"
    company_id = details["fleetCompany"]["companyId"]
    assert (answer["childCount"], answer["childSuccessCount"], answer["childFailureCount"]) == (
        2,
        2,
        0,
    )
    children = answer["childEntities"]
    assert [c["associationDetails"]["roleCode"] for c in children] == ["FC", "FC"]
    assert {c["associationDetails"]["parentCustomerId"] for c in children} == {entity["id"]}
    assert {c["associationDetails"]["fleetCompany"]["companyId"] for c in children} == {company_id}
    assert all(c["associationDetails"]["childCustomer"] for c in children)
    assert [c["loyaltyInfo"]["loyaltyType"] for c in children] == ["loyalty", "loyalty"]
    assert [c["id"] for c in details["childCustomers"]] == [c["id"] for c in children]
    # Sent again, the same people are found, not registered twice.
    [again] = ok(fleet.post("/v2/customers/bulk", json=sample_parent_with_children()))
    assert again["entity"]["id"] == entity["id"]
    assert [c["id"] for c in again["childEntities"]] == [c["id"] for c in children]
    assert again["entity"]["associationDetails"]["new"] is False


def test_the_seed_sample_places_a_child_under_a_parent_it_registers(fleet: Api) -> None:
    [answer] = ok(fleet.post("/v2/customers/bulk", json=sample_child_to_parent()))
    details = answer["entity"]["associationDetails"]
    parent_id = details["parentCustomerId"]
    assert details["roleCode"] == "FC"
    assert details["fleetCompany"]["externalId"] == "ex91747000000"
    parent = ok(fleet.get(f"/v2/customers/{parent_id}"))
    assert parent["profiles"][0]["firstName"] == "慧慧"
    # The parent took the role above FC.
    group = ok(
        fleet.get(
            "/v2/customers/bulk",
            params={
                "associationEntityType": "parentCustomer",
                "associationEntityIdentifierType": "mobile",
                "associationEntityIdentifierValue": "917875000000",
            },
        )
    )
    [member] = group["entity"]["customers"]
    assert member["id"] == answer["entity"]["id"]


def test_the_group_lookup_answers_the_members_and_their_pooled_points(
    fleet: Api, engine: Engine
) -> None:
    add_program(fleet)
    [answer] = ok(fleet.post("/v2/customers/bulk", json=sample_parent_with_children()))
    for number, child in enumerate(answer["childEntities"], start=1):
        bill(fleet, child["id"], 100.0 * number, number=f"FLEET-{number}")
    bill(fleet, answer["entity"]["id"], 50.0, number="FLEET-0")
    params = {
        "source": "WECHAT",
        "accountId": "WECHAT-CM",
        "associationEntityType": "parentCustomer",
        "associationEntityIdentifierType": "mobile",
        "associationEntityIdentifierValue": "917979000000",
        "limit": 10,
        "offset": 0,
        "sortOrder": "DESC",
    }
    group = ok(fleet.get("/v2/customers/bulk", params=params, role="viewer"))
    assert group["success"] is True
    entity = group["entity"]
    assert entity["count"] == 2
    children = [c["id"] for c in answer["childEntities"]]
    assert [c["id"] for c in entity["customers"]] == list(reversed(children))
    assert all(c["profiles"][0]["source"] == "WECHAT" for c in entity["customers"])
    loyalty = entity["groupLoyalty"]
    assert loyalty["poolPoints"] is True
    assert loyalty["members"] == 3
    [balance] = loyalty["pooledBalances"]
    # 10 + 20 points for the children's bills, 5 for the parent's (1 point per 10).
    assert (balance["points"], balance["members"]) == (35.0, 3)
    ascending = ok(fleet.get("/v2/customers/bulk", params={**params, "sortOrder": "ASC"}))
    assert [c["id"] for c in ascending["entity"]["customers"]] == children
    second = ok(fleet.get("/v2/customers/bulk", params={**params, "limit": 1, "offset": 1}))
    assert [c["id"] for c in second["entity"]["customers"]] == [children[0]]
    assert second["pagination"] == {"limit": 1, "offset": 1, "total": 2}
    company = {
        "associationEntityType": "fleetCompany",
        "associationEntityIdentifierType": "externalId",
        "associationEntityIdentifierValue": "ex917471949194",
    }
    by_company = ok(fleet.get("/v2/customers/bulk", params=company))
    assert by_company["entity"]["count"] == 3
    unknown = fleet.get(
        "/v2/customers/bulk", params={**company, "associationEntityIdentifierValue": "x"}
    )
    assert error_codes(unknown) == [95347]
    assert error_codes(fleet.get("/v2/customers/bulk", params={"associationEntityType": "x"})) == [
        400
    ]


def test_the_seed_put_sample_updates_a_customer_and_gives_it_a_parent(fleet: Api) -> None:
    tom = register(
        fleet,
        mobile="915905000000",
        source="WECHAT",
        account_id="WECHAT-CM",
        first_name="Thomas",
        identifiers=[
            {"type": "cuid", "value": "cuid_915905000000"},
            {"type": "unionId", "value": "unionId_915905000000"},
        ],
    )
    entry = sample_parent_with_children()[0]
    entry["profiles"][0].update(
        firstName="Tom",
        lastName="Sawyer",
        identifiers=[
            {"type": "mobile", "value": "915905000000"},
            {"type": "cuid", "value": "cuid_915905000000"},
        ],
        commChannels=[],
    )
    entry["associationDetails"] = {
        "hierarchyCode": "code-association2",
        "roleCode": "FA",
        "parentCustomer": {
            "profiles": [
                {
                    "firstName": "Jim",
                    "lastName": "Solace",
                    "identifiers": [{"type": "mobile", "value": "919905000000"}],
                    "source": "WECHAT",
                    "accountId": "WECHAT-CM",
                }
            ],
            "extendedFields": {"gender": "Male", "city": "city_6878387"},
        },
        "fleetCompany": {"externalId": "ex917471000000"},
    }
    params = {"source": "WECHAT", "accountId": "WECHAT-CM"}
    [answer] = ok(fleet.put("/v2/customers/bulk", params=params, json=[entry]))
    assert answer["errors"] == []
    assert answer["id"] == tom
    assert (answer["profiles"][0]["firstName"], answer["profiles"][0]["lastName"]) == (
        "Tom",
        "Sawyer",
    )
    details = answer["associationDetails"]
    assert (details["roleCode"], details["fleetCompany"]["externalId"]) == (
        "FA",
        "ex917471000000",
    )
    parent = ok(fleet.get(f"/v2/customers/{details['parentCustomerId']}"))
    assert parent["profiles"][0]["firstName"] == "Jim"
    # An unknown customer is that entry's error.
    stranger = copy.deepcopy(entry)
    stranger["profiles"][0]["identifiers"] = [{"type": "mobile", "value": "919999000123"}]
    [refused] = ok(fleet.put("/v2/customers/bulk", params=params, json=[stranger]))
    assert [e["code"] for e in refused["errors"]] == [8015]


def test_each_entry_answers_alone_with_its_code(fleet: Api) -> None:
    good = sample_child_to_parent()[0]
    bad_mobile = copy.deepcopy(good)
    bad_mobile["profiles"][0]["identifiers"] = [{"type": "mobile", "value": "12"}]
    unknown_hierarchy = copy.deepcopy(good)
    unknown_hierarchy["associationDetails"]["hierarchyCode"] = "nope"
    wrong_role = copy.deepcopy(good)
    wrong_role["associationDetails"]["roleCode"] = "OWNER"  # the top: no parent
    plain = {
        "loyaltyInfo": {"loyaltyType": "loyalty"},
        "profiles": [{"identifiers": [{"type": "mobile", "value": "917875000009"}]}],
    }
    answers = ok(
        fleet.post(
            "/v2/customers/bulk", json=[good, bad_mobile, unknown_hierarchy, wrong_role, plain]
        )
    )
    assert answers[0]["entity"]["associationDetails"]["roleCode"] == "FC"
    assert [a.get("errors", []) and a["errors"][0]["code"] for a in answers[1:4]] == [
        1001,
        95343,
        95344,
    ]
    assert all(a["entity"] is None for a in answers[1:4])
    assert answers[4]["entity"]["id"] > 0
    assert "associationDetails" not in answers[4]["entity"]
    # A registered customer sent again without an association is refused as registration is.
    [again] = ok(fleet.post("/v2/customers/bulk", json=[plain]))
    assert [e["code"] for e in again["errors"]] == [1014]


def test_a_loop_or_a_second_place_is_refused(fleet: Api) -> None:
    [first] = ok(fleet.post("/v2/customers/bulk", json=sample_parent_with_children()))
    parent_mobile = "917979000000"
    # The first child as the parent's parent: a loop.
    loop = {
        "loyaltyInfo": {"loyaltyType": "loyalty"},
        "profiles": [{"identifiers": [{"type": "mobile", "value": parent_mobile}],
                      "source": "WECHAT", "accountId": "WECHAT-CM"}],
        "associationDetails": {
            "hierarchyCode": "code-association2",
            "roleCode": "FA",
            "parentCustomer": {"profiles": [{"identifiers": [{"type": "mobile", "value": MOBILE2}],
                                             "source": "WECHAT", "accountId": "WECHAT-CM"}]},
        },
    }  # fmt: skip
    [refused] = ok(fleet.post("/v2/customers/bulk", json=[loop]))
    assert [e["code"] for e in refused["errors"]] == [95345]
    # A child under another FA: POST refuses to move it, PUT moves it.
    other = copy.deepcopy(sample_parent_with_children()[0])
    other["profiles"][0]["identifiers"] = [{"type": "mobile", "value": "917979000077"}]
    other["profiles"][0]["commChannels"] = []
    other["associationDetails"]["childCustomers"] = other["associationDetails"]["childCustomers"][
        :1
    ]
    [moved] = ok(fleet.post("/v2/customers/bulk", json=[other]))
    assert moved["childFailureCount"] == 1
    assert moved["childEntities"][0]["errors"][0]["code"] == 95346
    [put] = ok(
        fleet.put(
            "/v2/customers/bulk",
            params={"source": "WECHAT", "accountId": "WECHAT-CM"},
            json=[other],
        )
    )
    assert put["errors"] == []
    child = put["childEntities"][0]
    assert child["associationDetails"]["parentCustomerId"] == put["id"]
    assert child["id"] == first["childEntities"][0]["id"]


def test_a_request_naming_too_many_customers_is_refused_whole(fleet: Api) -> None:
    entry = sample_parent_with_children()[0]
    child = entry["associationDetails"]["childCustomers"][0]
    entry["associationDetails"]["childCustomers"] = [child] * 100
    refused = fleet.post("/v2/customers/bulk", json=[entry])
    assert refused.status_code == 400
    assert error_codes(refused) == [1060]
    assert "101 customers" in refused.json()["errors"][0]["message"]
    assert error_codes(fleet.post("/v2/customers/bulk", json=[])) == [400]
    viewer = fleet.post("/v2/customers/bulk", json=sample_child_to_parent(), role="viewer")
    assert viewer.status_code == 403


def test_hierarchies_are_defined_and_checked(api: Api) -> None:
    def define(body: dict[str, Any]) -> Any:
        return api.post("/v2/org/hierarchies", json=body, role="admin")

    assert error_codes(define({"code": "x", "roles": []})) == [95341]
    assert error_codes(define({"code": "x", "roles": [{"code": "A", "parentRoleCode": "B"}]})) == [
        95341
    ]
    looped = [{"code": "A", "parentRoleCode": "B"}, {"code": "B", "parentRoleCode": "A"}]
    assert error_codes(define({"code": "x", "roles": looped})) == [95341]
    family = [{"code": "HEAD"}, {"code": "KID", "parentRoleCode": "head"}]
    made = ok(define({"code": "family", "roles": family}))
    assert (made["poolPoints"], made["skipLevelAllowed"]) == (False, False)
    assert error_codes(define({"code": "FAMILY", "roles": [{"code": "A"}]})) == [95342]
    changed = ok(api.put("/v2/org/hierarchies/family", json={"poolPoints": True}, role="admin"))
    assert changed["poolPoints"] is True
    listed = ok(api.get("/v2/org/hierarchies", role="viewer"))["data"]
    assert [(h["code"], [r["code"] for r in h["roles"]]) for h in listed] == [
        ("family", ["HEAD", "KID"])
    ]
    assert api.post("/v2/org/hierarchies", json={"code": "y"}).status_code == 403


# --- the answers' models ----------------------------------------------------------------


def kept(model: type[BaseModel], raw: Any) -> None:
    """``raw`` (a service's answer) passes the route's model with no key lost or changed."""
    expected = json.loads(json.dumps(raw))
    assert model.model_validate(raw).model_dump(mode="json", exclude_unset=True) == expected


@pytest.mark.parametrize("model", [BulkEntryAnswer, GroupAnswer])
def test_the_seed_samples_are_answers_of_the_models(model: type[BaseModel]) -> None:
    [sample] = model.model_config["json_schema_extra"]["examples"]  # type: ignore[index]
    kept(model, sample)


def test_the_models_keep_every_key_of_a_group_and_of_a_failed_entry(
    fleet: Api, engine: Engine
) -> None:
    ok(fleet.post("/v2/customers/bulk", json=sample_parent_with_children()))
    with transaction(engine) as conn:
        group = bulk.group(
            conn,
            fleet.org.id,
            entity_type="parentCustomer",
            identifier_type_name="mobile",
            identifier_value="917979000000",
            page=Page(limit=10, offset=0),
        )
        refused = BulkCustomerIn.model_validate({"profiles": [{"identifiers": []}]})
        [failed] = bulk.register_many(conn, fleet.org.admin, [refused.entry()])
    assert group["entity"]["customers"][0]["associationDetails"]["parentCustomerId"]
    kept(GroupAnswer, group)
    assert failed["entity"] is None
    assert failed["errors"]
    kept(BulkEntryAnswer, failed)
