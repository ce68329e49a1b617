"""Values a database cannot store (too long, NUL, control characters) are refused alike.

SQLite stores any string; PostgreSQL refuses NUL bytes and values longer than
their column. Both give the same documented refusal, never a server error.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.engine import Engine

from patron.kit.db import transaction
from patron.orgs import service as orgs
from tests.conftest import Api, error_codes
from tests.factories import register, registration

NUL = "a\x00b"
LONG_ACCOUNT = "a" * 101
MOBILE = "919845012345"


@pytest.fixture
def tom(api: Api) -> int:
    return register(api, mobile=MOBILE)


@pytest.mark.parametrize("account", [LONG_ACCOUNT, NUL, "tab\there"], ids=["long", "nul", "tab"])
def test_an_account_id_no_profile_can_store_is_8011(api: Api, tom: int, account: str) -> None:
    lookup = {"identifierName": "mobile", "identifierValue": MOBILE}
    calls: list[tuple[str, str, dict[str, Any], Any]] = [
        (
            "POST",
            "/v2/customers",
            {},
            registration(mobile="919845000001", source="WECHAT", account_id=account),
        ),
        ("GET", f"/v2/customers/{tom}", {"source": "WECHAT", "accountId": account}, None),
        ("GET", "/v2/customers/lookup", {"source": "LINE", "accountId": account, **lookup}, None),
        (
            "POST",
            f"/v2/customers/{tom}/changeIdentifier",
            {"source": "WECHAT", "accountId": account},
            {"add": [{"type": "cuid", "value": "c1"}]},
        ),
        ("GET", f"/v2/customers/{tom}/changeRequest", {"accountId": account}, None),
        (
            "POST",
            f"/v2/customers/{tom}/subscriptions",
            {},
            {
                "subscriptions": [
                    {
                        "channel": "EMAIL",
                        "priority": "BULK",
                        "type": "OPTIN",
                        "sourceName": "WECHAT",
                        "accountId": account,
                    }
                ]
            },
        ),
    ]
    for method, path, params, body in calls:
        response = api.request(method, path, params=params, json=body)
        assert response.status_code == 400, (method, path, response.text)
        assert error_codes(response) == [8011], (method, path)
    assert api.get("/v2/customers/search", params={"q": "tom"}).json()["pagination"]["total"] == 1


@pytest.mark.parametrize("value", ["w" * 256, NUL], ids=["long", "nul"])
def test_a_channel_value_no_row_can_store_is_8010(api: Api, tom: int, value: str) -> None:
    channel = {"commChannels": [{"type": "wechat", "value": value}]}
    created = api.post("/v2/customers", json=registration(mobile="919845000001", profile=channel))
    updated = api.put(f"/v2/customers/{tom}", json={"profiles": [channel]})
    for response in (created, updated):
        assert response.status_code == 400, response.text
        assert error_codes(response) == [8010]
    assert api.get(f"/v2/customers/{tom}").json()["profiles"][0]["commChannels"] == []


def test_a_field_value_with_nul_is_refused(api: Api, engine: Engine, tom: int) -> None:
    with transaction(engine) as conn:
        orgs.add_field(conn, api.org.admin, kind="custom", name="city")
        orgs.add_field(conn, api.org.admin, kind="extended", name="nickname")
    custom = api.put(f"/v2/customers/{tom}", json={"profiles": [{"fields": {"city": NUL}}]})
    extended = api.put(f"/v2/customers/{tom}", json={"extendedFields": {"nickname": NUL}})
    assert error_codes(custom) == [1017]
    assert error_codes(extended) == [91015]
    details = api.get(f"/v2/customers/{tom}").json()
    assert details["profiles"][0]["fields"] == {}
    assert details["extendedFields"] == {}


def test_a_till_code_with_nul_is_an_unknown_till(api: Api) -> None:
    response = api.post("/v2/customers", json=registration(mobile=MOBILE, associatedWith=NUL))
    assert response.status_code == 400
    assert error_codes(response) == [91020]


def test_nul_in_a_search_or_a_subscription_reason_is_400(api: Api, tom: int) -> None:
    search = api.get("/v2/customers/search", params={"q": NUL})
    reason = api.post(
        f"/v2/customers/{tom}/subscriptions",
        json={
            "reason": NUL,
            "subscriptions": [{"channel": "EMAIL", "priority": "BULK", "type": "OPTIN"}],
        },
    )
    for response in (search, reason):
        assert response.status_code == 400, response.text
        assert error_codes(response) == [400]
        assert "NUL" in response.json()["errors"][0]["message"]
    assert api.get(f"/v2/customers/{tom}/subscriptions").json()["subscriptions"] == []


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v2/org/units", {"kind": "store", "code": NUL}),
        ("/v2/org/units", {"kind": "store", "code": "s1", "name": NUL}),
        ("/v2/org/units", {"kind": "store", "code": "s1", "externalId": "x\ny"}),
        ("/v2/org/fields", {"kind": "custom", "name": NUL}),
        ("/v2/org/fields", {"kind": "custom", "name": "f", "type": "enum", "enumValues": [NUL]}),
        ("/v2/org/statusLabels", {"label": NUL, "systemStatus": "Active"}),
    ],
    ids=["unit-code", "unit-name", "unit-external-id", "field-name", "enum-value", "label"],
)
def test_org_names_and_codes_with_control_characters_are_400(
    api: Api, path: str, body: dict[str, Any]
) -> None:
    response = api.post(path, json=body, role="admin")
    assert response.status_code == 400, response.text
    assert error_codes(response) == [400]
    assert "control characters" in response.json()["errors"][0]["message"]
