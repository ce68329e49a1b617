"""Reading what is recorded: the consent ledger (``/consents``), the merges (``/merges``)
and the address changes of the legacy batch in the change history."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from tests.conftest import Api, error_codes, warning_codes
from tests.factories import merge, register
from tests.test_legacy_batch import customer_of, legacy_org
from tests.test_legacy_undo import admin_headers, batch, undo


def subscribe(api: Api, customer_id: int, *items: dict[str, Any], **params: Any) -> None:
    response = api.post(
        f"/v2/customers/{customer_id}/subscriptions",
        params=params,
        json={"subscriptions": list(items), "reason": "asked at the till"},
    )
    assert response.status_code == 200, response.text


def test_the_consent_ledger_says_who_when_where_and_why(api: Api) -> None:
    tom = register(
        api,
        identifiers=[{"type": "mobile", "value": "919845066001", "subscribed": True}],
    )
    subscribe(api, tom, {"channel": "SMS", "priority": "BULK", "type": "OPTOUT"})
    subscribe(
        api,
        tom,
        {"channel": "EMAIL", "priority": "TRANS", "type": "OPTIN"},
    )

    response = api.get(f"/v2/customers/{tom}/consents", role="viewer")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["pagination"] == {"limit": 10, "offset": 0, "total": 3}
    newest, middle, oldest = body["data"]
    assert (oldest["channel"], oldest["priority"], oldest["type"]) == ("SMS", "BULK", "OPTIN")
    assert oldest["origin"] == "registration"
    assert (middle["type"], middle["previousType"], middle["reason"]) == (
        "OPTOUT",
        "OPTIN",
        "asked at the till",
    )
    assert middle["addedBy"].startswith("key:")  # the editor's API key
    assert middle["source"] == "INSTORE"
    assert middle["addedOn"] is not None
    assert newest["channel"] == "EMAIL"
    assert newest["orgUnit"] is None  # org-wide

    oldest_first = api.get(f"/v2/customers/{tom}/consents", params={"sortOrder": "asc"})
    assert [e["id"] for e in oldest_first.json()["data"]] == [
        oldest["id"],
        middle["id"],
        newest["id"],
    ]
    sms = api.get(f"/v2/customers/{tom}/consents", params={"channel": "mobile", "limit": 1})
    assert sms.json()["pagination"]["total"] == 2
    assert [e["type"] for e in sms.json()["data"]] == ["OPTOUT"]
    assert error_codes(api.get(f"/v2/customers/{tom}/consents", params={"channel": "fax"})) == [
        1101
    ]
    assert api.get(f"/v2/customers/{tom}/consents", params={"sortOrder": "up"}).status_code == 400


def test_a_survivor_shows_the_consents_of_the_customers_merged_into_it(
    api: Api, other_api: Api
) -> None:
    survivor = register(api, mobile="919845066101")
    victim = register(
        api,
        email="victim.records@example.com",
        identifiers=[{"type": "wechat", "value": "wx-rec"}],
        source="WECHAT",
        account_id="acc",
        loyalty_type="non_loyalty",
    )
    subscribe(
        api,
        victim,
        {
            "channel": "WECHAT",
            "priority": "BULK",
            "type": "OPTIN",
            "sourceName": "WECHAT",
            "accountId": "acc",
        },
    )
    merge(api, victim=victim, survivor_mobile="919845066101", source="WECHAT", account_id="acc")

    by_victim = api.get(f"/v2/customers/{victim}/consents")
    assert warning_codes(by_victim) == [91009]
    [entry] = by_victim.json()["data"]
    assert (entry["channel"], entry["source"], entry["accountId"]) == ("WECHAT", "WECHAT", "acc")
    assert entry["userId"] == survivor
    merges = api.get(f"/v2/customers/{victim}/merges").json()
    assert [(m["survivorId"], m["victimId"]) for m in merges["data"]] == [(survivor, victim)]
    assert merges["data"][0]["mergedBy"].startswith("key:")
    # Another org's id is unknown.
    for path in ("consents", "merges"):
        assert error_codes(other_api.get(f"/v2/customers/{survivor}/{path}")) == [8015]
        assert api.get(f"/v2/customers/{survivor}/{path}", params={"limit": 0}).status_code == 400


def test_a_customer_without_merges_lists_none(api: Api) -> None:
    tom = register(api, mobile="919845066201")
    body = api.get(f"/v2/customers/{tom}/merges").json()
    assert body["data"] == []
    assert body["pagination"]["total"] == 0


def test_a_legacy_batch_records_address_changes_and_its_undo_reverses_them(
    engine: Engine, app_client: TestClient
) -> None:
    legacy = legacy_org(engine, app_client)
    headers = ("code", "first_name", "city", "street1")
    batch(legacy, "A1|Tom|Hannibal|1 River Rd\n", headers)
    tom = customer_of(legacy, "A1")
    second = batch(legacy, "A1|Tom|St. Louis|1 River Rd\n", headers)

    def addresses() -> list[dict[str, Any]]:
        response = app_client.get(
            f"/v2/customers/{tom}/changeRequest",
            params={"changeType": "ADDRESS", "sortOrder": "ASC"},
            headers=admin_headers(legacy),
        )
        assert response.status_code == 200, response.text
        return [entry["details"] for entry in response.json()["data"]]

    # A new customer's first address is its registration, not a change.
    assert addresses() == [
        {"changed": ["city"], "from": {"city": "Hannibal"}, "to": {"city": "St. Louis"}}
    ]
    assert undo(legacy, second).status_code == 200
    assert addresses()[1] == {
        "changed": ["city"],
        "from": {"city": "St. Louis"},
        "to": {"city": "Hannibal"},
    }
