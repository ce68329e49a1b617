"""GET /v2/customers/{id}/changeRequest: the change history, its filters and order."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from patron.settings import get_settings
from tests.conftest import Api, error_codes, warning_codes
from tests.factories import merge, register

UNKNOWN_ID = 987_654_321


def history(api: Api, customer_id: int, **params: Any) -> Any:
    return api.get(f"/v2/customers/{customer_id}/changeRequest", params=params, role="viewer")


def entries(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


def change_identifiers(api: Api, customer_id: int, body: dict[str, Any], **params: Any) -> None:
    response = api.post(f"/v2/customers/{customer_id}/changeIdentifier", params=params, json=body)
    assert response.status_code == 200, response.text


@pytest.fixture
def tom(api: Api) -> int:
    """A customer with an EMAIL, a MOBILE, an EXTERNAL_ID, a STATUS and a FRAUD change."""
    customer_id = register(api, mobile="919845012345", email="tom@example.com")
    change_identifiers(
        api,
        customer_id,
        {
            "add": [{"type": "email", "value": "tom.sawyer@example.com"}],
            "remove": [{"type": "email", "value": "tom@example.com"}],
        },
    )
    change_identifiers(
        api,
        customer_id,
        {
            "add": [{"type": "mobile", "value": "919845099999"}],
            "remove": [{"type": "mobile", "value": "919845012345"}],
        },
    )
    change_identifiers(api, customer_id, {"add": [{"type": "externalId", "value": "EXT-1"}]})
    status = api.put(
        "/v2/customers/lookup/status",
        params={"source": "INSTORE", "identifierName": "externalId", "identifierValue": "EXT-1"},
        json={"reason": "moved abroad", "label": "Suspended"},
    )
    assert status.status_code == 200, status.text
    fraud = api.put(
        f"/v2/customers/{customer_id}/fraudStatus",
        json={"status": "INTERNAL", "reason": "staff account"},
        role="admin",
    )
    assert fraud.status_code == 200, fraud.text
    return customer_id


def test_identifier_change_has_the_documented_shape(api: Api) -> None:
    customer_id = register(api, mobile="919845012345", email="dore.gold@example.com")
    change_identifiers(
        api,
        customer_id,
        {
            "add": [{"type": "email", "value": "iwan.gold@example.com"}],
            "remove": [{"type": "email", "value": "dore.gold@example.com"}],
        },
        source="INSTORE",
    )
    response = history(api, customer_id, source="INSTORE")
    body = response.json()
    assert body["pagination"] == {"limit": 10, "offset": 0, "total": 1}
    assert body["warnings"] == []
    assert body["errors"] == []
    [entry] = entries(response)
    assert entry["addedOn"] == entry["updatedOn"]
    assert entry["addedOn"].endswith("+00:00")
    assert entry["addedBy"] == entry["updatedBy"]
    assert entry["addedBy"]["type"] == "USER"
    assert entry["addedBy"]["code"]
    assert isinstance(entry["id"], int)
    expected = {
        "status": "APPROVED",
        "userId": customer_id,
        "changeType": "EMAIL",
        "source": "INSTORE",
        "accountId": "",
        "cause": "api",
        "changeIdentifiers": {
            "add": [{"type": "EMAIL", "value": "iwan.gold@example.com"}],
            "remove": [{"type": "EMAIL", "value": "dore.gold@example.com"}],
        },
        "comments": "",
        "oneStep": True,
    }
    assert {k: v for k, v in entry.items() if k in expected} == expected
    assert set(entry) == set(expected) | {"id", "addedBy", "updatedBy", "addedOn", "updatedOn"}


def test_other_changes_carry_their_details_and_reason(api: Api, tom: int) -> None:
    by_type = {e["changeType"]: e for e in entries(history(api, tom))}
    assert set(by_type) == {"EMAIL", "MOBILE", "EXTERNAL_ID", "STATUS", "FRAUD"}
    assert by_type["STATUS"]["details"] == {
        "from": "Active",
        "to": "Suspended",
        "reason": "moved abroad",
    }
    assert by_type["STATUS"]["comments"] == "moved abroad"
    assert "changeIdentifiers" not in by_type["STATUS"]
    assert by_type["FRAUD"]["details"] == {
        "from": "NOT_FRAUD",
        "to": "INTERNAL",
        "reason": "staff account",
    }
    assert by_type["EXTERNAL_ID"]["changeIdentifiers"] == {
        "add": [{"type": "EXTERNAL_ID", "value": "EXT-1"}],
        "remove": [],
    }


def test_default_order_is_newest_first_and_sort_order_reverses_it(api: Api, tom: int) -> None:
    newest_first = [e["id"] for e in entries(history(api, tom))]
    assert len(newest_first) == 5
    assert newest_first == sorted(newest_first, reverse=True)
    oldest_first = [e["id"] for e in entries(history(api, tom, sortOrder="asc"))]
    assert oldest_first == sorted(newest_first)
    for sort_by in ("createdon", "lastUpdatedOn"):
        assert [e["id"] for e in entries(history(api, tom, sortBy=sort_by))] == newest_first
    assert [e["changeType"] for e in entries(history(api, tom, sortOrder="ASC"))] == [
        "EMAIL",
        "MOBILE",
        "EXTERNAL_ID",
        "STATUS",
        "FRAUD",
    ]


def test_filter_by_change_type(api: Api, tom: int) -> None:
    for change_type in ("EMAIL", "MOBILE", "EXTERNAL_ID", "STATUS", "FRAUD"):
        found = entries(history(api, tom, changeType=change_type))
        assert [e["changeType"] for e in found] == [change_type]
    assert [e["changeType"] for e in entries(history(api, tom, changeType="status"))] == ["STATUS"]
    response = history(api, tom, changeType="TIER")
    assert entries(response) == []
    assert response.json()["pagination"]["total"] == 0


def test_filter_by_id_range(api: Api, tom: int) -> None:
    ids = sorted(e["id"] for e in entries(history(api, tom)))
    middle = entries(history(api, tom, startId=ids[1], endId=ids[3], sortOrder="ASC"))
    assert [e["id"] for e in middle] == ids[1:4]
    assert [e["id"] for e in entries(history(api, tom, startId=ids[4]))] == [ids[4]]
    assert [e["id"] for e in entries(history(api, tom, endId=ids[0]))] == [ids[0]]


def test_filter_by_dates_is_inclusive(api: Api, tom: int) -> None:
    found = entries(history(api, tom))
    day = date.fromisoformat(found[0]["addedOn"][:10])
    assert {e["addedOn"][:10] for e in found} == {day.isoformat()}
    same_day = history(api, tom, startDate=day.isoformat(), endDate=day.isoformat())
    assert len(entries(same_day)) == 5
    later = day + timedelta(days=1)
    earlier = day - timedelta(days=1)
    assert entries(history(api, tom, startDate=later.isoformat())) == []
    assert entries(history(api, tom, endDate=earlier.isoformat())) == []
    assert len(entries(history(api, tom, startDate=earlier.isoformat()))) == 5
    assert len(entries(history(api, tom, endDate=later.isoformat()))) == 5


def test_filter_by_source(api: Api) -> None:
    customer_id = register(api, mobile="919845012345")
    register(api, mobile="919845012345", source="WECHAT", account_id="22232")
    change_identifiers(api, customer_id, {"add": [{"type": "externalId", "value": "E1"}]})
    change_identifiers(
        api,
        customer_id,
        {"add": [{"type": "wechat", "value": "wx-1"}]},
        source="WECHAT",
        accountId="22232",
    )
    wechat = entries(history(api, customer_id, source="WECHAT"))
    assert [(e["changeType"], e["source"], e["accountId"]) for e in wechat] == [
        ("IDENTIFIER", "WECHAT", "22232")
    ]
    assert wechat[0]["changeIdentifiers"]["add"] == [{"type": "wechat", "value": "wx-1"}]
    assert [e["source"] for e in entries(history(api, customer_id, source="instore"))] == [
        "INSTORE"
    ]
    assert len(entries(history(api, customer_id, source="ALL"))) == 2
    assert entries(history(api, customer_id, source="WECHAT", accountId="other")) == []


def test_pagination_and_hard_maximum(api: Api, tom: int) -> None:
    ids = [e["id"] for e in entries(history(api, tom))]
    page = history(api, tom, limit=2, offset=2)
    assert page.json()["pagination"] == {"limit": 2, "offset": 2, "total": 5}
    assert [e["id"] for e in entries(page)] == ids[2:4]
    beyond = history(api, tom, limit=2, offset=50)
    assert entries(beyond) == []
    assert beyond.json()["pagination"]["total"] == 5
    assert history(api, tom, limit=get_settings().max_page_size + 1).status_code == 400


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"changeType": "BOGUS"}, 400),
        ({"startDate": "2024-13-01"}, 400),
        ({"startDate": "20240101"}, 400),
        ({"endDate": "01/02/2024"}, 400),
        ({"startDate": "2024-02-02", "endDate": "2024-02-01"}, 400),
        ({"startId": "abc"}, 400),
        ({"startId": 9, "endId": 3}, 400),
        ({"sortBy": "name"}, 400),
        ({"sortOrder": "UP"}, 400),
        ({"source": "NOPE"}, 8012),
        ({"limit": 0}, 400),
    ],
)
def test_invalid_filters_are_refused(api: Api, params: dict[str, Any], code: int) -> None:
    customer_id = register(api, mobile="919845012345")
    response = history(api, customer_id, **params)
    assert response.status_code == 400
    assert error_codes(response) == [code]


def test_survivor_history_includes_its_victims_and_victim_ids_resolve(api: Api) -> None:
    survivor = register(api, mobile="919845012345")
    victim = register(
        api,
        email="tommy@example.com",
        source="WECHAT",
        account_id="acc",
        loyalty_type="non_loyalty",
    )
    change_identifiers(
        api,
        victim,
        {"add": [{"type": "externalId", "value": "V-1"}]},
        source="WECHAT",
        accountId="acc",
    )
    before_merge = entries(history(api, victim))
    assert [(e["userId"], e["changeType"]) for e in before_merge] == [(victim, "EXTERNAL_ID")]
    merge(api, victim=victim, survivor_mobile="919845012345", source="WECHAT", account_id="acc")

    response = history(api, survivor, sortOrder="ASC")
    found = entries(response)
    assert warning_codes(response) == []
    assert (victim, "EXTERNAL_ID") in [(e["userId"], e["changeType"]) for e in found]
    [merged] = [e for e in found if e["changeType"] == "MERGE"]
    assert merged["userId"] == survivor
    assert merged["details"]["survivorId"] == survivor
    assert merged["details"]["victimId"] == victim

    by_victim = history(api, victim, sortOrder="ASC")
    assert warning_codes(by_victim) == [91009]
    assert entries(by_victim) == found
    assert by_victim.json()["pagination"] == response.json()["pagination"]


def test_unknown_other_org_and_deleted_ids_answer_alike(api: Api, other_api: Api, tom: int) -> None:
    unknown = history(api, UNKNOWN_ID)
    assert unknown.status_code == 404
    assert error_codes(unknown) == [8015]
    other = history(other_api, tom)
    assert (other.status_code, other.json()) == (unknown.status_code, unknown.json())
    assert (
        api.delete(f"/v2/customers/{tom}", params={"reason": "gdpr"}, role="admin").status_code
        == 200
    )
    deleted = history(api, tom)
    assert (deleted.status_code, deleted.json()) == (unknown.status_code, unknown.json())


def test_viewer_may_read_but_credentials_are_needed(api: Api, tom: int) -> None:
    assert history(api, tom).status_code == 200
    assert api.client.get(f"/v2/customers/{tom}/changeRequest").status_code == 401
