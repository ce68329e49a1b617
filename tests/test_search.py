"""GET /v2/customers/search: prefix search over names and identifiers."""

from __future__ import annotations

from typing import Any

import pytest

from patron.settings import get_settings
from tests.conftest import Api, error_codes
from tests.factories import merge, register


def search(api: Api, q: str | None, **params: Any) -> Any:
    if q is not None:
        params["q"] = q
    return api.get("/v2/customers/search", params=params, role="viewer")


def found_ids(response: Any) -> list[int]:
    assert response.status_code == 200, response.text
    return [item["userId"] for item in response.json()["data"]]


@pytest.fixture
def people(api: Api) -> dict[str, int]:
    return {
        "tom": register(api, first_name="Tom", last_name="Sawyer", mobile="919845012345"),
        "tomas": register(
            api,
            first_name="Tomas",
            last_name="Brown",
            mobile="919845000001",
            email="tb@example.com",
        ),
        "alice": register(api, first_name="Alice", last_name="Tomlin", mobile="919845000002"),
        "bob": register(api, first_name="Bob", last_name="Smith", mobile="447700900123"),
    }


def test_first_name_prefix_answers_the_seed_shape(api: Api, people: dict[str, int]) -> None:
    response = search(api, "tom")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["pagination"] == {"limit": 10, "offset": 0, "total": 3}
    assert body["warnings"] == []
    assert body["errors"] == []
    assert [item["userId"] for item in body["data"]] == [
        people["tom"],
        people["tomas"],
        people["alice"],
    ]
    assert body["data"][0] == {
        "userId": people["tom"],
        "matchedIdentifiers": [
            {"idType": "firstName", "idValue": "Tom", "source": "INSTORE", "accountId": ""}
        ],
        "profiles": [
            {"source": "INSTORE", "accountId": "", "firstName": "Tom", "lastName": "Sawyer"}
        ],
    }
    assert body["data"][2]["matchedIdentifiers"] == [
        {"idType": "lastName", "idValue": "Tomlin", "source": "INSTORE", "accountId": ""}
    ]


def test_names_match_case_insensitively_and_last_names_too(
    api: Api, people: dict[str, int]
) -> None:
    assert found_ids(search(api, "TOM")) == [people["tom"], people["tomas"], people["alice"]]
    assert found_ids(search(api, "sMiT")) == [people["bob"]]
    assert found_ids(search(api, "Tomlin")) == [people["alice"]]
    assert found_ids(search(api, "Tomx")) == []


def test_identifier_prefix_reports_the_matching_identifiers(
    api: Api, people: dict[str, int]
) -> None:
    response = search(api, "9198450000")
    assert found_ids(response) == [people["tomas"], people["alice"]]
    assert response.json()["data"][0]["matchedIdentifiers"] == [
        {"idType": "mobile", "idValue": "919845000001", "source": "INSTORE", "accountId": ""}
    ]
    by_email = search(api, "TB@EX")
    assert found_ids(by_email) == [people["tomas"]]
    assert by_email.json()["data"][0]["matchedIdentifiers"] == [
        {"idType": "email", "idValue": "tb@example.com", "source": "INSTORE", "accountId": ""}
    ]


def test_a_customer_matching_on_several_fields_appears_once(api: Api) -> None:
    both = register(api, first_name="Sam", last_name="Samson", mobile="919800000001")
    response = search(api, "sam")
    assert found_ids(response) == [both]
    assert [m["idType"] for m in response.json()["data"][0]["matchedIdentifiers"]] == [
        "firstName",
        "lastName",
    ]


def test_profiles_of_every_source_are_listed(api: Api) -> None:
    customer_id = register(api, first_name="Tom", mobile="919845012345")
    again = register(
        api,
        first_name="Thomas",
        last_name="Sawyer",
        mobile="919845012345",
        source="WECHAT",
        account_id="22232",
    )
    assert again == customer_id
    item = search(api, "thom").json()["data"][0]
    assert item["matchedIdentifiers"] == [
        {"idType": "firstName", "idValue": "Thomas", "source": "WECHAT", "accountId": "22232"}
    ]
    assert {(p["source"], p["firstName"]) for p in item["profiles"]} == {
        ("INSTORE", "Tom"),
        ("WECHAT", "Thomas"),
    }


def test_like_wildcards_in_q_match_literally(api: Api) -> None:
    underscore = register(api, mobile="919800000001", external_id="AB_1")
    register(api, mobile="919800000002", external_id="ABX1")
    percent = register(api, mobile="919800000003", external_id="50%off")
    register(api, mobile="919800000004", external_id="500ff")
    slash = register(api, mobile="919800000005", external_id="a/b")
    register(api, mobile="919800000006", external_id="ab")
    assert found_ids(search(api, "AB_")) == [underscore]
    assert found_ids(search(api, "50%")) == [percent]
    assert found_ids(search(api, "a/")) == [slash]
    assert found_ids(search(api, "%")) == []
    assert found_ids(search(api, "_")) == []


def test_pagination_and_the_hard_maximum(api: Api, people: dict[str, int]) -> None:
    first = search(api, "tom", limit=2)
    assert first.json()["pagination"] == {"limit": 2, "offset": 0, "total": 3}
    assert found_ids(first) == [people["tom"], people["tomas"]]
    second = search(api, "tom", limit=2, offset=2)
    assert second.json()["pagination"] == {"limit": 2, "offset": 2, "total": 3}
    assert found_ids(second) == [people["alice"]]
    beyond = search(api, "tom", limit=2, offset=10)
    assert found_ids(beyond) == []
    assert beyond.json()["pagination"]["total"] == 3
    too_many = search(api, "tom", limit=get_settings().max_page_size + 1)
    assert too_many.status_code == 400
    assert str(get_settings().max_page_size) in too_many.json()["errors"][0]["message"]
    assert search(api, "tom", limit=0).status_code == 400
    assert search(api, "tom", offset=-1).status_code == 400


@pytest.mark.parametrize("q", [None, "", "   "])
def test_q_is_required(api: Api, q: str | None) -> None:
    response = search(api, q)
    assert response.status_code == 400
    assert error_codes(response) == [400]
    assert "q is required" in response.json()["errors"][0]["message"]


def test_an_overlong_q_is_refused(api: Api) -> None:
    response = search(api, "x" * 256)
    assert response.status_code == 400
    assert "at most 255" in response.json()["errors"][0]["message"]


def test_merge_victims_and_deleted_customers_are_not_found(api: Api) -> None:
    survivor = register(api, first_name="Wendy", mobile="919811111111")
    victim = register(
        api,
        first_name="Wendy",
        email="wendy@example.com",
        source="WECHAT",
        account_id="w1",
        loyalty_type="non_loyalty",
    )
    assert found_ids(search(api, "wend")) == [survivor, victim]
    merge(api, victim=victim, survivor_mobile="919811111111", source="WECHAT", account_id="w1")
    gone = register(api, first_name="Wendell", mobile="919833333333")
    assert found_ids(search(api, "wend")) == [survivor, gone]
    deleted = api.delete(f"/v2/customers/{gone}", params={"reason": "asked"}, role="admin")
    assert deleted.status_code == 200, deleted.text
    assert found_ids(search(api, "wend")) == [survivor]
    assert found_ids(search(api, "9198333")) == []


def test_search_sees_only_the_callers_org(api: Api, other_api: Api, people: dict[str, int]) -> None:
    response = search(other_api, "tom")
    assert found_ids(response) == []
    assert response.json()["pagination"]["total"] == 0
    assert found_ids(search(other_api, "9198")) == []


def test_search_needs_credentials(api: Api) -> None:
    response = api.client.get("/v2/customers/search", params={"q": "tom"})
    assert response.status_code == 401
