"""POST /v2/customers/{id}/changeIdentifier: add, remove, merge and their codes."""

from __future__ import annotations

import json

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from patron.audit.tables import change_log
from patron.kit.db import transaction
from tests.conftest import EXAMPLES, Api, error_codes, warning_codes
from tests.factories import merge, register, registration
from tests.test_customer_read_update import mark_fraud


def lookup(api: Api, name: str, value: str) -> int:
    response = api.get(
        "/v2/customers/lookup",
        params={"source": "ALL", "identifierName": name, "identifierValue": value},
    )
    assert response.status_code == 200, response.text
    return int(response.json()["entity"])


def test_seed_sample_adds_wechat_and_removes_email(api: Api, engine: Engine) -> None:
    customer_id = register(api, mobile="919845012345", email="tom.sawyer@example.com")
    api.post(
        "/v2/customers",
        json=registration(mobile="919845012345", source="WECHAT", account_id="22232"),
    )
    body = json.loads((EXAMPLES / "change_identifier.json").read_text())
    response = api.post(
        f"/v2/customers/{customer_id}/changeIdentifier",
        params={"source": "WECHAT", "accountId": "22232"},
        json=body,
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"createdId": customer_id, "warnings": []}
    details = api.get(f"/v2/customers/{customer_id}", params={"source": "ALL"}).json()
    held = {(i["type"], i["value"]) for i in details["profiles"][0]["identifiersAll"]}
    assert held == {("mobile", "919845012345"), ("wechat", "ray11")}
    with transaction(engine, write=False) as conn:
        logged = conn.execute(
            sa.select(change_log.c.change_type, change_log.c.details)
            .where(change_log.c.customer_id == customer_id)
            .order_by(change_log.c.change_type)
        ).all()
    assert [(r.change_type, r.details) for r in logged] == [
        ("EMAIL", {"add": [], "remove": [{"type": "EMAIL", "value": "tom.sawyer@example.com"}]}),
        ("IDENTIFIER", {"add": [{"type": "wechat", "value": "ray11"}], "remove": []}),
    ]


def test_issue_card_sample_keeps_the_card_number(api: Api) -> None:
    customer_id = register(api, mobile="919845012345")
    body = json.loads((EXAMPLES / "issue_card.json").read_text())
    response = api.post(f"/v2/customers/{customer_id}/changeIdentifier", json=body)
    assert response.status_code == 200
    assert warning_codes(response) == [95001]
    assert lookup(api, "cardnumber", "TTM001110000000001ZS") == customer_id


def test_adding_an_identifier_held_on_another_source_merges(api: Api) -> None:
    survivor = register(api, mobile="919845012345", email="tom@example.com")
    victim = register(
        api,
        identifiers=[{"type": "wechat", "value": "wx-tom"}],
        email="tommy@example.com",
        source="WECHAT",
        account_id="acc",
        loyalty_type="non_loyalty",
    )
    response = api.post(
        f"/v2/customers/{victim}/changeIdentifier",
        params={"source": "WECHAT", "accountId": "acc"},
        json={
            "add": [{"type": "mobile", "value": "919845012345"}],
            "remove": [{"type": "email", "value": "tommy@example.com"}],
        },
    )
    assert response.status_code == 200, response.text
    assert response.json()["createdId"] == survivor
    assert warning_codes(response) == [8051]
    # Every identifier of both customers now finds the survivor.
    for name, value in (
        ("mobile", "919845012345"),
        ("email", "tom@example.com"),
        ("wechat", "wx-tom"),
    ):
        assert lookup(api, name, value) == survivor
    merged = api.get(f"/v2/customers/{victim}")
    assert merged.json()["id"] == survivor
    assert warning_codes(merged) == [91009]
    assert {p["source"] for p in merged.json()["profiles"]} == {"INSTORE", "WECHAT"}
    # The victim id keeps working for changes: they apply to the survivor (8067).
    again = api.post(
        f"/v2/customers/{victim}/changeIdentifier",
        json={"add": [{"type": "externalId", "value": "EXT-9"}]},
    )
    assert again.json()["createdId"] == survivor
    assert warning_codes(again) == [8067]
    assert lookup(api, "externalId", "EXT-9") == survivor


def test_merge_chains_resolve_to_the_last_survivor(app_client, engine: Engine) -> None:
    from patron.orgs.settings import OrgSettings
    from tests.conftest import make_org

    api = Api(app_client, make_org(engine, OrgSettings(primary_identifier="externalId")))
    first = register(
        api,
        identifiers=[{"type": "wechat", "value": "wx"}],
        email="e@example.com",
        source="WECHAT",
        account_id="a",
        loyalty_type="non_loyalty",
    )
    second = register(api, mobile="919845000002", loyalty_type="non_loyalty")
    third = register(
        api,
        external_id="Z1",
        identifiers=[{"type": "line", "value": "l3"}],
        source="LINE",
        account_id="b",
    )
    merged = api.post(
        f"/v2/customers/{first}/changeIdentifier",
        params={"source": "WECHAT", "accountId": "a"},
        json={"add": [{"type": "mobile", "value": "919845000002"}]},
    )
    assert merged.json()["createdId"] == second
    merged = api.post(
        f"/v2/customers/{second}/changeIdentifier",
        json={"add": [{"type": "externalId", "value": "Z1"}]},
    )
    assert merged.json()["createdId"] == third
    for customer_id in (first, second, third):
        got = api.get(f"/v2/customers/{customer_id}").json()
        assert got["id"] == third
        assert {p["source"] for p in got["profiles"]} == {"WECHAT", "INSTORE", "LINE"}
    for name, value in (
        ("wechat", "wx"),
        ("email", "e@example.com"),
        ("mobile", "919845000002"),
        ("externalId", "Z1"),
        ("line", "l3"),
    ):
        assert lookup(api, name, value) == third


def test_change_identifier_codes(api: Api, engine: Engine) -> None:
    me = register(api, mobile="919845012345", email="me@example.com")
    other = register(api, mobile="919845099999", email="other@example.com")
    path = f"/v2/customers/{me}/changeIdentifier"

    def codes(body: dict, **params: str) -> list[int]:
        return error_codes(api.post(path, json=body, params=params))

    assert codes({"add": [{"type": "email", "value": "me@example.com"}]}) == [8008]
    assert codes(
        {
            "add": [{"type": "email", "value": "other@example.com"}],
            "remove": [{"type": "email", "value": "me@example.com"}],
        }
    ) == [8007]
    assert codes({"add": [{"type": "mobile", "value": "9x"}]}) == [8056]
    assert codes({"add": [{"type": "email", "value": "@@"}]}) == [8055]
    assert codes({"add": [{"type": "externalId", "value": " "}]}) == [8064]
    assert codes({"remove": [{"type": "email", "value": "nobody@example.com"}]}) == [1041]
    assert codes({"remove": [{"type": "mobile", "value": "919845012345"}]}) == [91005]
    assert codes({"add": [{"type": "email", "value": "second@example.com"}]}) == [1041]
    assert codes({}) == [400]
    assert codes({"add": [{"type": "cuid", "value": "c"}]}, source="WECHAT") == [8045]
    assert error_codes(
        api.post(
            "/v2/customers/99999999/changeIdentifier",
            json={"add": [{"type": "cuid", "value": "c"}]},
        )
    ) == [8009]
    mark_fraud(engine, other)
    wechat = register(
        api,
        identifiers=[{"type": "wechat", "value": "w"}],
        email="w@example.com",
        source="WECHAT",
        account_id="a",
        loyalty_type="non_loyalty",
    )
    response = api.post(
        f"/v2/customers/{wechat}/changeIdentifier",
        params={"source": "WECHAT", "accountId": "a"},
        json={"add": [{"type": "mobile", "value": "919845099999"}]},
    )
    assert error_codes(response) == [618]
    # Nothing was half-applied by the refused requests.
    details = api.get(f"/v2/customers/{me}").json()
    assert {(i["type"], i["value"]) for i in details["profiles"][0]["identifiersAll"]} == {
        ("mobile", "919845012345"),
        ("email", "me@example.com"),
    }


def test_identifiers_of_two_other_customers_cannot_merge_8053(api: Api) -> None:
    register(api, mobile="919845000001")
    register(api, mobile="919845000002", email="b@example.com", source="WEBSITE")
    me = register(
        api,
        identifiers=[{"type": "wechat", "value": "w"}],
        email="me@example.com",
        source="WECHAT",
        account_id="a",
        loyalty_type="non_loyalty",
    )
    response = api.post(
        f"/v2/customers/{me}/changeIdentifier",
        params={"source": "WECHAT", "accountId": "a"},
        json={
            "add": [
                {"type": "mobile", "value": "919845000001"},
                {"type": "externalId", "value": "x"},
                {"type": "cuid", "value": "c"},
            ]
        },
    )
    assert response.status_code == 200  # one owner: fine
    me2 = register(
        api,
        identifiers=[{"type": "line", "value": "l"}],
        email="me2@example.com",
        source="LINE",
        account_id="b",
        loyalty_type="non_loyalty",
    )
    response = api.post(
        f"/v2/customers/{me2}/changeIdentifier",
        params={"source": "LINE", "accountId": "b"},
        json={
            "add": [
                {"type": "mobile", "value": "919845000002"},
                {"type": "externalId", "value": "x"},
            ]
        },
    )
    assert error_codes(response) == [8053]


def test_merging_customers_sharing_a_source_is_8066(api: Api) -> None:
    register(
        api,
        mobile="919845000001",
        identifiers=[{"type": "wechat", "value": "a1"}],
        source="WECHAT",
        account_id="a",
    )
    register(api, mobile="919845000001")  # the same person on INSTORE (8050)
    me = register(
        api,
        identifiers=[{"type": "wechat", "value": "a2"}],
        email="me@example.com",
        source="WECHAT",
        account_id="z",
        loyalty_type="non_loyalty",
    )
    joined = api.post(
        "/v2/customers", json=registration(email="me@example.com", loyalty_type="non_loyalty")
    )
    assert joined.json()["createdId"] == me
    response = api.post(
        f"/v2/customers/{me}/changeIdentifier",
        params={"source": "WECHAT", "accountId": "z"},
        json={"add": [{"type": "mobile", "value": "919845000001"}]},
    )
    assert error_codes(response) == [8066]


def test_after_a_merge_every_identifier_of_both_finds_the_survivor(api: Api) -> None:
    survivor = register(
        api,
        mobile="919845012345",
        identifiers=[
            {"type": "cardnumber", "value": "CARD-1"},
            {"type": "unionId", "value": "u-1"},
        ],
    )
    victim = register(
        api,
        email="tom@example.com",
        external_id="EXT-7",
        identifiers=[{"type": "wechat", "value": "wx-tom"}, {"type": "cuid", "value": "c-7"}],
        source="WECHAT",
        account_id="acc",
        loyalty_type="non_loyalty",
    )
    merge(api, victim=victim, survivor_mobile="919845012345", source="WECHAT", account_id="acc")
    every = [
        ("mobile", "919845012345"),
        ("cardnumber", "CARD-1"),
        ("unionId", "u-1"),
        ("email", "tom@example.com"),
        ("externalId", "EXT-7"),
        ("wechat", "wx-tom"),
        ("cuid", "c-7"),
    ]
    for name, value in every:
        assert lookup(api, name, value) == survivor, (name, value)
        details = api.get(
            "/v2/customers/lookup/customerDetails",
            params={"source": "ALL", "identifierName": name, "identifierValue": value},
        )
        assert details.status_code == 200, details.text
        assert details.json()["id"] == survivor
        assert details.json()["warnings"] == []
    held = api.get(f"/v2/customers/{survivor}").json()["profiles"][0]["identifiersAll"]
    assert sorted((i["type"], i["value"]) for i in held) == sorted(every)


def test_a_value_held_under_another_type_is_not_an_owner(api: Api) -> None:
    # Two identifiers added at once are looked up by their types and their values apart
    # (repository.owners_of): another customer's external id equal to the new email is not
    # the email's owner, so nothing merges.
    other = register(
        api, mobile="919845011111", identifiers=[{"type": "externalId", "value": "own@example.com"}]
    )
    customer_id = register(api, mobile="919845012345")
    response = api.post(
        f"/v2/customers/{customer_id}/changeIdentifier",
        json={
            "add": [
                {"type": "externalId", "value": "ext-77"},
                {"type": "email", "value": "own@example.com"},
            ]
        },
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"createdId": customer_id, "warnings": []}
    assert lookup(api, "email", "own@example.com") == customer_id
    assert lookup(api, "externalId", "own@example.com") == other
