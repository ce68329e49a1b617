"""Over HTTP: imports of status labels, fraud statuses and lifecycle events, then the
customer's ``/changeRequest`` with the seed's filters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from patron.imports import jobs
from tests.conftest import Api, OrgHandle
from tests.factories import register
from tests.importing import csv, import_org

LIFECYCLE_HEADER = (
    "Entity Type,Entity ID,Org Source ID,Activity,State,Added by,Reference ID,Updated on"
)


@pytest.fixture
def org(engine: Engine) -> OrgHandle:
    return import_org(engine)


@pytest.fixture
def api(app_client: TestClient, org: OrgHandle) -> Api:
    return Api(app_client, org)


def imported(engine: Engine, api: Api, profile: str, content: str) -> int:
    """Upload ``content``, preview it, confirm it; answer the import's id."""
    created = api.post(
        "/v2/imports",
        files={"file": ("changes.csv", content.encode(), "text/csv")},
        data={"profile": profile},
    )
    assert created.status_code == 202, created.text
    import_id = int(created.json()["id"])
    jobs.run_pending(engine)
    assert api.get(f"/v2/imports/{import_id}").json()["state"] == "previewed"
    confirmed = api.post(f"/v2/imports/{import_id}/confirm")
    assert confirmed.status_code == 202, confirmed.text
    jobs.run_pending(engine)
    assert api.get(f"/v2/imports/{import_id}").json()["state"] == "committed"
    return import_id


def history(api: Api, customer_id: int, **params: Any) -> dict[str, Any]:
    response = api.get(f"/v2/customers/{customer_id}/changeRequest", params=params, role="viewer")
    assert response.status_code == 200, response.text
    return dict(response.json())


def kinds(body: dict[str, Any]) -> list[str]:
    return [entry["changeType"] for entry in body["data"]]


def test_status_fraud_and_lifecycle_changes_in_the_history(engine: Engine, api: Api) -> None:
    tom = register(api, mobile="919800012001")
    status_import = imported(
        engine, api, "customer-status", csv("Mobile,Status Label", "919800012001,Suspended")
    )
    fraud_import = imported(
        engine,
        api,
        "fraud-status",
        csv("Mobile,Status,Reason,StoreCode", "919800012001,INTERNAL,Staff customer,mal"),
    )
    lifecycle_import = imported(
        engine,
        api,
        "entity-lifecycle",
        csv(
            LIFECYCLE_HEADER,
            f"CUSTOMER,{tom},wx-brand,FOLLOW,SUBSCRIBED,gateway,ref-1,2024-03-01T10:30:00Z",
        ),
    )
    everything = history(api, tom, sortOrder="ASC")
    assert everything["pagination"] == {"limit": 10, "offset": 0, "total": 3}
    assert kinds(everything) == ["STATUS", "FRAUD", "LIFECYCLE"]
    status, fraud, event = everything["data"]
    assert [status["cause"], fraud["cause"], event["cause"]] == [
        f"import:{status_import}",
        f"import:{fraud_import}",
        f"import:{lifecycle_import}",
    ]
    assert status["details"] == {
        "from": "Active",
        "to": "Suspended",
        "reason": f"import {status_import}",
    }
    assert fraud["details"]["from"] == "NOT_FRAUD"
    assert fraud["details"]["to"] == "INTERNAL"
    assert fraud["comments"] == "Staff customer"
    assert event["comments"] == "FOLLOW: SUBSCRIBED (source wx-brand, reference ref-1)"
    assert event["details"]["updatedOn"] == "2024-03-01T10:30:00+00:00"
    assert all(entry["userId"] == tom for entry in everything["data"])
    assert all(entry["status"] == "APPROVED" for entry in everything["data"])

    # changeType, and its letter case
    for kind in ("STATUS", "FRAUD", "LIFECYCLE"):
        assert kinds(history(api, tom, changeType=kind.lower())) == [kind]
    # the default order is newest first
    assert kinds(history(api, tom)) == ["LIFECYCLE", "FRAUD", "STATUS"]
    # startId / endId
    ids = [entry["id"] for entry in everything["data"]]
    assert kinds(history(api, tom, startId=ids[1], sortOrder="ASC")) == ["FRAUD", "LIFECYCLE"]
    assert kinds(history(api, tom, endId=ids[1], sortOrder="ASC")) == ["STATUS", "FRAUD"]
    assert kinds(history(api, tom, startId=ids[1], endId=ids[1])) == ["FRAUD"]
    # limit / offset
    middle = history(api, tom, limit=1, offset=1, sortOrder="ASC")
    assert middle["pagination"] == {"limit": 1, "offset": 1, "total": 3}
    assert kinds(middle) == ["FRAUD"]
    # startDate / endDate (UTC days)
    today = datetime.now(UTC).date()
    assert len(history(api, tom, startDate=str(today), endDate=str(today))["data"]) == 3
    tomorrow = str(today + timedelta(days=1))
    assert history(api, tom, startDate=tomorrow)["data"] == []
    # source: imports change the in-store profile
    assert len(history(api, tom, source="INSTORE")["data"]) == 3
    assert history(api, tom, source="WECHAT", accountId="wx-brand")["data"] == []

    # An undone import shows its undo; an undone lifecycle import leaves no event behind.
    for import_id in (fraud_import, lifecycle_import):
        assert api.post(f"/v2/imports/{import_id}/undo").status_code == 202
    jobs.run_pending(engine)
    after = history(api, tom, sortOrder="ASC")
    assert kinds(after) == ["STATUS", "FRAUD", "FRAUD"]
    assert after["data"][2]["cause"] == f"undo:import:{fraud_import}"
    assert after["data"][2]["details"]["to"] == "NOT_FRAUD"
    assert after["data"][2]["comments"] == f"undo of import {fraud_import}"


def test_an_unknown_change_type_is_refused(api: Api) -> None:
    tom = register(api, mobile="919800012101")
    response = api.get(f"/v2/customers/{tom}/changeRequest", params={"changeType": "EVENTS"})
    assert response.status_code == 400
    assert "LIFECYCLE" in response.json()["errors"][0]["message"]
