"""GET /v2/audit and the audit page's service: who did what, when and why."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from patron.audit.service import AuditEntry, AuditFilters, list_entries
from patron.audit.tables import audit_log
from patron.auth.actor import Actor, Role
from patron.kit.db import transaction
from patron.kit.errors import Forbidden
from patron.kit.pagination import page
from tests.conftest import Api, OrgHandle, error_codes
from tests.factories import register


def audit(api: Api, role: str = "admin", **params: Any) -> Any:
    return api.get("/v2/audit", params=params, role=role)


def entries(api: Api, **params: Any) -> list[dict[str, Any]]:
    response = audit(api, limit=100, **params)
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


def add_entry(engine: Engine, org: OrgHandle, at: datetime, **values: Any) -> None:
    row = {"actor": "old.admin", "action": "org.settings.change", "entity_type": "org",
           "entity_id": str(org.id), "details": {}} | values  # fmt: skip
    with transaction(engine) as conn:
        conn.execute(audit_log.insert().values(org_id=org.id, created_at=at, **row))


@pytest.fixture
def history(api: Api, engine: Engine, org: OrgHandle) -> dict[str, int]:
    """Entries of 2024 written with their time, then a registration and a deletion now."""
    add_entry(engine, org, datetime(2024, 1, 5, 10, 0, 0, tzinfo=UTC))
    add_entry(
        engine, org, datetime(2024, 1, 6, 9, 30, 0, tzinfo=UTC), actor="clerk",
        action="customer.delete", entity_type="customer", entity_id="77",
        details={"reason": "asked by phone", "identifiers": 2},
    )  # fmt: skip
    tom = register(api, mobile="919845012345")
    deleted = api.delete(f"/v2/customers/{tom}", params={"reason": "erasure 12"}, role="admin")
    assert deleted.status_code == 200, deleted.text
    return {"tom": tom}


def test_newest_first_with_who_what_which_when_and_why(api: Api, history: dict[str, int]) -> None:
    response = audit(api)
    assert response.status_code == 200, response.text
    body = response.json()
    # Creating the org's API keys was audited too.
    keys = len(entries(api, action="api_key.create"))
    assert keys == 3
    assert body["pagination"] == {"limit": 10, "offset": 0, "total": 4 + keys}
    ours = [entry for entry in body["data"] if entry["action"] != "api_key.create"]
    actions = [entry["action"] for entry in ours]
    assert actions == ["customer.delete", "customer.register", "customer.delete",
                       "org.settings.change"]  # fmt: skip
    newest = body["data"][0]
    assert newest["objectType"] == "customer"
    assert newest["objectId"] == str(history["tom"])
    assert newest["reason"] == "erasure 12"
    assert newest["details"]["identifiers"] == 1
    assert datetime.fromisoformat(newest["createdAt"]).year >= 2025
    assert ours[2] == {
        "id": ours[2]["id"],
        "actor": "clerk",
        "action": "customer.delete",
        "objectType": "customer",
        "objectId": "77",
        "createdAt": "2024-01-06T09:30:00+00:00",
        "reason": "asked by phone",
        "details": {"reason": "asked by phone", "identifiers": 2},
    }
    assert ours[1]["reason"] is None


def test_filters_by_actor_action_and_dates(api: Api, history: dict[str, int]) -> None:
    def actions(**params: Any) -> list[tuple[str, str]]:
        return [(e["actor"], e["action"]) for e in entries(api, **params)]

    assert actions(actor="clerk") == [("clerk", "customer.delete")]
    assert [a for _, a in actions(action="customer.delete")] == ["customer.delete"] * 2
    assert actions(to="2024-01-05") == [("old.admin", "org.settings.change")]
    assert actions(**{"from": "2024-01-06", "to": "2024-12-31"}) == [("clerk", "customer.delete")]
    # Date-times are inclusive at both ends.
    assert actions(**{"from": "2024-01-05T10:00:00Z", "to": "2024-01-05T10:00:00Z"}) == [
        ("old.admin", "org.settings.change")
    ]
    assert actions(**{"from": "2024-01-05T10:00:01Z", "to": "2024-01-06T09:29:59Z"}) == []
    today = datetime.now(UTC).date().isoformat()
    assert len(actions(**{"from": today})) == 2 + len(actions(action="api_key.create"))
    assert actions(action="customer.delete", actor="clerk", to="2023-12-31") == []
    # One object's entries: the customer deleted, after it was registered.
    tom = {"objectType": "customer", "objectId": str(history["tom"])}
    assert [a for _, a in actions(**tom)] == ["customer.delete", "customer.register"]
    assert actions(objectType="customer", objectId="77") == [("clerk", "customer.delete")]
    assert actions(objectType="org", objectId="77") == []


def test_pages_with_the_hard_maximum(api: Api, history: dict[str, int]) -> None:
    everything = [e["id"] for e in entries(api)]
    assert everything == sorted(everything, reverse=True)
    paged: list[int] = []
    for offset in range(0, len(everything), 3):
        body = audit(api, limit=3, offset=offset).json()
        assert body["pagination"] == {"limit": 3, "offset": offset, "total": len(everything)}
        paged += [e["id"] for e in body["data"]]
    assert paged == everything
    for params in ({"limit": 101}, {"limit": 0}, {"offset": -1}, {"from": "soon"}):
        response = audit(api, **params)
        assert response.status_code == 400, params
        assert error_codes(response) == [400]


@pytest.mark.parametrize("role", ["viewer", "editor"])
def test_only_an_admin_reads_the_audit_log(api: Api, history: dict[str, int], role: str) -> None:
    assert audit(api, role=role).status_code == 403


def test_an_org_reads_its_own_entries_only(
    api: Api, other_api: Api, history: dict[str, int]
) -> None:
    register(other_api, mobile="919845099999")
    theirs = entries(other_api)
    assert {e["action"] for e in theirs} == {"customer.register", "api_key.create"}
    assert entries(other_api, actor="clerk") == []
    assert all(e["objectId"] != str(history["tom"]) for e in theirs)


def test_the_service_answers_typed_entries(
    engine: Engine, org: OrgHandle, history: dict[str, int]
) -> None:
    admin = Actor(org_id=org.id, role=Role.admin, name="ad", kind="user")
    with transaction(engine, write=False) as conn:
        found, total = list_entries(conn, admin, AuditFilters(actor="clerk"), page(10, 0))
    assert total == 1
    assert isinstance(found[0], AuditEntry)
    assert (found[0].object_id, found[0].reason) == ("77", "asked by phone")
    editor = Actor(org_id=org.id, role=Role.editor, name="ed", kind="user")
    with pytest.raises(Forbidden), transaction(engine, write=False) as conn:
        list_entries(conn, editor, AuditFilters(), page(10, 0))
