"""Builders shared by the loyalty tests: programs, members and bills."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine

from patron.kit.db import transaction
from patron.loyalty import ledger
from tests.conftest import Api

#: Silver (entry, 1 point per 10), Gold from 1000 lifetime points (2 per 10), Platinum
#: from 5000 (3 per 10); points expire after 30 days.
SLABS = [
    {"name": "Silver", "description": "Silver tier", "earnRate": 0.1},
    {"name": "Gold", "description": "Gold tier", "threshold": 1000, "earnRate": 0.2},
    {"name": "Platinum", "description": "Platinum tier", "threshold": 5000, "earnRate": 0.3},
]


def add_program(api: Api, **fields: Any) -> dict[str, Any]:
    """Create a program (admin); three slabs and a 30-day expiry unless given."""
    body = {"name": "Main", "slabs": SLABS, "pointsExpiryDays": 30, **fields}
    response = api.post("/v2/loyalty/programs", json=body, role="admin")
    assert response.status_code == 201, response.text
    return dict(response.json())


def bill(api: Api, customer_id: int | None, amount: float, **fields: Any) -> dict[str, Any]:
    """Record a bill of ``amount`` (one line) for the customer; answers the response body."""
    body: dict[str, Any] = {
        "number": fields.pop("number", "B-1"),
        "lineItems": [{"sku": "SKU-1", "quantity": 1, "rate": amount}],
        **fields,
    }
    if customer_id is not None:
        body["customerId"] = customer_id
    response = api.post("/v2/transactions", json=body)
    assert response.status_code == 200, response.text
    return dict(response.json())


def details(api: Api, customer_id: int, **params: Any) -> dict[str, Any]:
    """The member's loyalty details of its only (or the given) program."""
    response = api.get(f"/v2/customers/{customer_id}/loyaltyDetails", params=params)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert len(data) == 1, data
    return dict(data[0])


def consistent(engine: Engine, org_id: int) -> None:
    """Every balance of the org is the sum of its ledger entries."""
    with transaction(engine, write=False) as conn:
        assert ledger.check(conn, org_id) == []
