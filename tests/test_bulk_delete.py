"""POST /v2/customers/delete: up to 100 customers erased at once, an answer per id."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from patron.audit.tables import audit_log
from patron.auth.actor import Actor, Role
from patron.customer.bulk_delete import Deleted, delete_customers
from patron.customer.tables import identifiers
from patron.kit.db import transaction
from patron.kit.errors import Forbidden
from tests.conftest import Api, OrgHandle, error_codes
from tests.factories import merge, register

UNKNOWN = 987_654_321


def bulk(api: Api, body: Any, role: str = "admin") -> Any:
    return api.post("/v2/customers/delete", json=body, role=role)


def customer_exists(api: Api, customer_id: int) -> bool:
    return bool(api.get(f"/v2/customers/{customer_id}", role="viewer").status_code == 200)


@pytest.fixture
def three(api: Api) -> list[int]:
    return [register(api, first_name="Tom", mobile=f"91984501234{n}") for n in range(3)]


def test_an_admin_deletes_several_customers_with_one_reason(
    api: Api, other_api: Api, engine: Engine, org: OrgHandle, three: list[int]
) -> None:
    theirs = register(other_api, mobile="919845012340")
    ids = [three[0], UNKNOWN, three[1], theirs, three[0], three[2], -5]
    response = bulk(api, {"ids": ids, "reason": "erasure requests 12-14"})
    assert response.status_code == 200, response.text
    body = response.json()
    not_found = {"status": "notFound", "code": 8015,
                 "message": "No customer found with the given identifier"}  # fmt: skip
    assert body == {
        "data": [
            {"id": three[0], "status": "deleted"},
            {"id": UNKNOWN, **not_found},
            {"id": three[1], "status": "deleted"},
            {"id": theirs, **not_found},  # another org's id is an unknown id
            {"id": three[2], "status": "deleted"},
            {"id": -5, **not_found},
        ],
        "deleted": 3,
        "warnings": [],
    }
    assert not any(customer_exists(api, customer_id) for customer_id in three)
    assert customer_exists(other_api, theirs)
    with transaction(engine, write=False) as conn:
        left = conn.execute(
            sa.select(sa.func.count()).where(
                identifiers.c.org_id == org.id, identifiers.c.customer_id.in_(three)
            )
        ).scalar_one()
        entries = conn.execute(
            sa.select(audit_log.c.entity_id, audit_log.c.details, audit_log.c.created_at)
            .where(audit_log.c.org_id == org.id, audit_log.c.action == "customer.delete")
            .order_by(audit_log.c.id)
        ).all()
    assert left == 0
    # One entry per customer: what, when and why, without the person's data.
    assert [int(entity) for entity, _, _ in entries] == [three[0], three[1], three[2]]
    for _, details, created_at in entries:
        assert details["reason"] == "erasure requests 12-14"
        assert created_at is not None
        assert "91984501234" not in str(details)
        assert "Tom" not in str(details)
    again = bulk(api, {"ids": three, "reason": "again"})
    assert [d["status"] for d in again.json()["data"]] == ["notFound"] * 3


def test_customers_that_cannot_be_deleted_are_refused_and_the_others_deleted(
    api: Api, three: list[int]
) -> None:
    marked = api.put(
        f"/v2/customers/{three[0]}/fraudStatus", json={"status": "MARKED", "reason": "r"},
        role="admin",
    )  # fmt: skip
    assert marked.status_code == 200, marked.text
    victim = register(
        api, email="victim@example.com", source="FACEBOOK", account_id="fb",
        loyalty_type="non_loyalty",
    )  # fmt: skip
    merge(api, victim=victim, survivor_mobile="919845012341", source="FACEBOOK", account_id="fb")
    response = bulk(api, {"ids": [three[0], victim, three[2]], "reason": "asked"})
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert [(d["id"], d["status"], d.get("code")) for d in data] == [
        (three[0], "refused", 618),
        (victim, "refused", 8069),
        (three[2], "deleted", None),
    ]
    assert str(three[1]) in data[1]["message"]  # names the survivor to delete instead
    assert customer_exists(api, three[0])
    assert customer_exists(api, three[1])
    assert not customer_exists(api, three[2])


@pytest.mark.parametrize("role", ["editor", "viewer"])
def test_only_an_admin_deletes(api: Api, three: list[int], role: str) -> None:
    response = bulk(api, {"ids": three, "reason": "asked"}, role=role)
    assert response.status_code == 403
    assert all(customer_exists(api, customer_id) for customer_id in three)


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"ids": list(range(1, 102)), "reason": "asked"}, 400, 91003),
        ({"ids": [], "reason": "asked"}, 400, 91003),
        ({"ids": [1]}, 400, 91003),
        ({"ids": [1], "reason": "   "}, 400, 91003),
        ({"ids": [1], "reason": "x" * 501}, 400, 91003),
        ({"reason": "asked"}, 400, 400),
        ({"ids": ["one"], "reason": "asked"}, 400, 400),
        ({"ids": [1], "reason": "asked", "force": True}, 400, 400),
    ],
)
def test_limits_of_a_request(
    api: Api, three: list[int], body: dict[str, Any], status: int, code: int
) -> None:
    response = bulk(api, body)
    assert response.status_code == status, response.text
    assert error_codes(response) == [code]
    assert all(customer_exists(api, customer_id) for customer_id in three)


def test_a_hundred_ids_and_a_reason_of_500_characters_are_accepted(
    api: Api, three: list[int]
) -> None:
    ids = [*three, *range(UNKNOWN, UNKNOWN + 97)]
    response = bulk(api, {"ids": ids, "reason": "r" * 500})
    assert response.status_code == 200, response.text
    assert response.json()["deleted"] == 3
    assert len(response.json()["data"]) == 100


def test_the_service_answers_typed_outcomes_and_checks_the_role(
    engine: Engine, org: OrgHandle, three: list[int]
) -> None:
    editor = Actor(org_id=org.id, role=Role.editor, name="ed", kind="user")
    with pytest.raises(Forbidden), transaction(engine) as conn:
        delete_customers(conn, editor, three, "asked")
    admin = Actor(org_id=org.id, role=Role.admin, name="ad", kind="user")
    with transaction(engine) as conn:
        outcomes = delete_customers(conn, admin, [three[0], UNKNOWN], "asked")
    assert outcomes == [
        Deleted(three[0], "deleted"),
        Deleted(UNKNOWN, "notFound", 8015, "No customer found with the given identifier"),
    ]
