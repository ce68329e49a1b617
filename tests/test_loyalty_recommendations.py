"""Recommendations from co-purchases: what customers who bought the same items bought
too, computed set-based by the job, less what the customer bought recently."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine

from patron.kit.db import transaction
from patron.loyalty import recommendations
from tests.conftest import Api, warning_codes
from tests.factories import register


def buy(api: Api, customer_id: int, *skus: str, date: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "number": f"B-{customer_id}-{'-'.join(skus)}",
        "customerId": customer_id,
        "lineItems": [{"sku": sku, "description": f"the {sku}", "rate": 10} for sku in skus],
    }
    if date is not None:
        body["date"] = date
    response = api.post("/v2/transactions", json=body)
    assert response.status_code == 200, response.text
    return dict(response.json()["transaction"])


def refresh(engine: Engine, api: Api) -> None:
    with transaction(engine) as conn:
        recommendations.refresh(conn, api.org.id)


def test_items_bought_together_are_recommended(engine: Engine, api: Api) -> None:
    people = [register(api, mobile=f"91984501234{n}") for n in range(5)]
    tom, huck, becky, joe, amy = people
    for someone in (huck, becky, joe):
        buy(api, someone, "TENT", "STOVE", date="2024-01-10")
    buy(api, huck, "LAMP", date="2024-01-11")
    buy(api, becky, "LAMP", date="2024-01-11")
    buy(api, joe, "MAP", date="2024-01-11")
    buy(api, tom, "TENT", date="2024-01-12")
    nothing = api.get(f"/v2/customers/{tom}/recommendations")
    assert nothing.json()["data"] == []  # the scores are not computed yet
    assert warning_codes(nothing) == [1051]
    refresh(engine, api)
    response = api.get(f"/v2/customers/{tom}/recommendations", role="viewer")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"]["code"] == 1061
    # Three who bought the tent bought the stove, two the lamp, one the map.
    assert [(r["sku"], r["score"]) for r in body["data"]] == [
        ("STOVE", 3),
        ("LAMP", 2),
        ("MAP", 1),
    ]
    assert body["data"][0]["description"] == "the STOVE"
    assert [
        r["sku"]
        for r in api.get(f"/v2/customers/{tom}/recommendations", params={"limit": 1}).json()["data"]
    ] == ["STOVE"]
    # What the customer bought recently is left out (the stove); what it bought long ago
    # may come back (the tent, bought with the stove by all four now).
    buy(api, tom, "STOVE")
    refresh(engine, api)
    recent = api.get(f"/v2/customers/{tom}/recommendations").json()["data"]
    assert [(r["sku"], r["score"]) for r in recent] == [("LAMP", 4), ("TENT", 4), ("MAP", 2)]
    assert warning_codes(api.get(f"/v2/customers/{amy}/recommendations")) == [1051]


def test_a_returned_item_no_longer_counts(engine: Engine, api: Api) -> None:
    tom, huck = (register(api, mobile=f"91984501234{n}") for n in range(2))
    bought = buy(api, huck, "TENT", "STOVE", date="2024-01-10")
    buy(api, tom, "TENT", date="2024-01-12")
    refresh(engine, api)
    assert [r["sku"] for r in api.get(f"/v2/customers/{tom}/recommendations").json()["data"]] == [
        "STOVE"
    ]
    back = api.post(
        f"/v2/transactions/{bought['id']}/return",
        json={"lineItems": [{"serial": 2, "quantity": 1}]},
    )
    assert back.status_code == 200, back.text
    refresh(engine, api)
    assert api.get(f"/v2/customers/{tom}/recommendations").json()["data"] == []


def test_the_daily_job_refreshes_each_org_once_a_day(engine: Engine, api: Api) -> None:
    tom, huck = (register(api, mobile=f"91984501234{n}") for n in range(2))
    buy(api, huck, "TENT", "STOVE", date="2024-01-10")
    buy(api, tom, "TENT", date="2024-01-12")
    first = recommendations.refresh_due(engine)
    assert first[api.org.id] == 2  # TENT-STOVE and STOVE-TENT
    assert api.org.id not in recommendations.refresh_due(engine)
    assert [r["sku"] for r in api.get(f"/v2/customers/{tom}/recommendations").json()["data"]] == [
        "STOVE"
    ]
