"""The README's tour, request by request, on an org set up like the demo org."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from patron.cli.demo import DEMO_SETTINGS
from tests.conftest import EXAMPLES, Api, make_org, warning_codes
from tests.factories import declare_sample_setup


def test_register_find_update_and_merge_with_the_sample_requests(
    app_client: TestClient, engine: Engine
) -> None:
    org = make_org(engine, DEMO_SETTINGS)
    declare_sample_setup(engine, org)
    api = Api(app_client, org)
    app = {"source": "MOBILE_APP", "accountId": "400"}

    def ok(response: Any) -> dict[str, Any]:
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    sample = json.loads((EXAMPLES / "register_tom_sawyer.json").read_text())
    registered = api.post("/v2/customers", json=sample, role="admin")
    tom = ok(registered)["createdId"]
    assert sorted(warning_codes(registered)) == [95001, 95002]

    found = api.get(
        "/v2/customers/lookup",
        params={"identifierName": "mobile", "identifierValue": "919010000022", **app},
    )
    assert ok(found) == {"entity": tom, "warnings": []}
    details = ok(
        api.get(f"/v2/customers/{tom}", params={"source": "ALL", "embed": "subscriptions"})
    )
    assert details["subscriptionInfo"] == {"subscriptions": []}

    renamed = api.put(
        f"/v2/customers/{tom}", params=app, json={"profiles": [{"firstName": "Thomas"}]}
    )
    assert ok(renamed)["createdId"] == tom
    changed = api.post(
        f"/v2/customers/{tom}/changeIdentifier",
        params=app,
        json={
            "add": [{"type": "wechat", "value": "ray11"}],
            "remove": [{"type": "cuid", "value": "cuid_91901000002"}],
        },
    )
    assert ok(changed) == {"createdId": tom, "warnings": []}

    casual = ok(
        api.post(
            "/v2/customers",
            json={
                "loyaltyInfo": {"loyaltyType": "non_loyalty"},
                "associatedWith": "bukl.till",
                "profiles": [
                    {
                        "firstName": "Tom",
                        "identifiers": [{"type": "email", "value": "tom@example.com"}],
                    }
                ],
            },
        )
    )["createdId"]
    merged = api.post(
        f"/v2/customers/{tom}/changeIdentifier",
        params=app,
        json={"add": [{"type": "email", "value": "tom@example.com"}]},
    )
    assert ok(merged)["createdId"] == casual
    assert warning_codes(merged) == [8051]

    survivor = api.get(f"/v2/customers/{tom}", params={"source": "ALL"})
    assert ok(survivor)["id"] == casual
    assert warning_codes(survivor) == [91009]
    assert {p["source"] for p in survivor.json()["profiles"]} == {"MOBILE_APP", "INSTORE"}
    assert survivor.json()["loyaltyInfo"]["loyaltyType"] == "loyalty"
    search = ok(api.get("/v2/customers/search", params={"q": "Tho"}))
    assert [c["userId"] for c in search["data"]] == [casual]
