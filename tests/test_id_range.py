"""Numbers beyond the 64-bit range of the stored ids: answered, never a server error.

Both databases keep ids as 64-bit integers and refuse a larger parameter with an
error, so such numbers are settled before they reach a query: an id names nobody
(the endpoint's "not found"), an id bound or an offset selects no row.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api, error_codes
from tests.factories import register
from tests.test_tenancy_and_roles import CUSTOMER_ENDPOINTS, UNKNOWN_ID

BEYOND = [2**63, 10**20]


def _call(api: Api, method: str, path: str, params: dict[str, Any], body: Any) -> Any:
    kwargs: dict[str, Any] = {"params": params, "role": "admin"}
    if body is not None:
        kwargs["json"] = body
    return api.request(method, path, **kwargs)


@pytest.mark.parametrize("huge", BEYOND)
@pytest.mark.parametrize(("method", "path", "params", "body", "_role"), CUSTOMER_ENDPOINTS)
def test_a_customer_id_beyond_the_range_is_an_unknown_id(
    api: Api,
    method: str,
    path: str,
    params: dict[str, str],
    body: Any,
    _role: str,
    huge: int,
) -> None:
    beyond = _call(api, method, path.format(id=huge), params, body)
    unknown = _call(api, method, path.format(id=UNKNOWN_ID), params, body)
    assert beyond.status_code == 404, beyond.text
    assert beyond.json() == unknown.json()


@pytest.mark.parametrize("huge", BEYOND)
def test_an_org_unit_id_beyond_the_range_is_an_unknown_unit(api: Api, huge: int) -> None:
    for method, body in (("GET", None), ("PUT", {"name": "Renamed"})):
        response = api.request(method, f"/v2/org/units/{huge}", json=body, role="admin")
        assert response.status_code == 404, response.text
        assert error_codes(response) == [404]
    parent = api.post(
        "/v2/org/units", json={"kind": "till", "code": "t1", "parentId": huge}, role="admin"
    )
    assert parent.status_code == 404, parent.text
    customer_id = register(api, mobile="919845012345")
    subscription = api.post(
        f"/v2/customers/{customer_id}/subscriptions",
        json={
            "subscriptions": [
                {"channel": "EMAIL", "priority": "BULK", "type": "OPTIN", "orgUnitId": huge}
            ]
        },
    )
    assert subscription.status_code == 400, subscription.text
    assert error_codes(subscription) == [1150]


@pytest.mark.parametrize("huge", BEYOND)
def test_offsets_and_id_bounds_beyond_the_range_select_nothing(api: Api, huge: int) -> None:
    customer_id = register(api, mobile="919845012345", first_name="Tom")
    changed = api.post(
        f"/v2/customers/{customer_id}/changeIdentifier",
        json={"add": [{"type": "externalId", "value": "EXT-1"}]},
    )
    assert changed.status_code == 200, changed.text
    history = f"/v2/customers/{customer_id}/changeRequest"

    def data(path: str, role: str = "viewer", **params: Any) -> list[Any]:
        response = api.get(path, params=params, role=role)
        assert response.status_code == 200, response.text
        return list(response.json()["data"])

    assert data(history, offset=huge) == []
    assert data(history, startId=huge) == []
    assert len(data(history, endId=huge)) == 1
    assert len(data(history, startId=-huge, endId=huge)) == 1
    assert data("/v2/customers/search", q="tom", offset=huge) == []
    assert data("/v2/org/units", role="admin", offset=huge) == []
