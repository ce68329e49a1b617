"""The org's limits of retro requests: disabled (91101), a bill past the age limit (91102),
a claim too soon after registration (91103); each refused with nothing written."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from patron.codes import loyalty
from patron.customer.tables import customers
from patron.kit.db import transaction
from tests.conftest import Api, error_codes
from tests.factories import register
from tests.loyalty_setup import add_program, bill, consistent, details


def settle(api: Api, **settings: object) -> None:
    response = api.put("/v2/org/settings", json=settings, role="admin")
    assert response.status_code == 200, response.text
    shown = response.json()["settings"]
    assert {key: shown[key] for key in settings} == settings


def claim(api: Api, customer_id: int, transaction_id: int) -> object:
    return api.post(
        f"/v2/customers/{customer_id}/retroRequest", json={"transactionId": transaction_id}
    )


def refused(api: Api, customer_id: int, transaction_id: int, code: int) -> None:
    """The claim answers 400 with ``code`` and leaves the bill, the balance and the
    requests as they were."""
    response = claim(api, customer_id, transaction_id)
    assert (response.status_code, error_codes(response)) == (400, [code]), response.text
    recorded = api.get(f"/v2/transactions/{transaction_id}").json()["transaction"]
    assert recorded["customerId"] is None
    assert details(api, customer_id)["loyaltyPoints"] == 0.0
    listed = api.get(f"/v2/customers/{customer_id}/retroRequest").json()
    assert listed["pagination"]["total"] == 0
    history = api.get(f"/v2/customers/{customer_id}/changeRequest", params={"changeType": "RETRO"})
    assert history.json()["pagination"]["total"] == 0


def test_retro_requests_keep_the_orgs_limits(engine: Engine, api: Api) -> None:
    add_program(api, goodwillAutoApproveLimit=1000)
    defaults = api.get("/v2/org/settings", role="admin").json()["settings"]
    assert (
        defaults["retroEnabled"],
        defaults["retroMaxAgeDays"],
        defaults["retroDelaySinceRegistrationHours"],
    ) == (True, None, 0)
    tom = register(api, mobile="919845012345")
    today = datetime.now(UTC)
    old = bill(api, None, 400, number="R-OLD", date=(today - timedelta(days=40)).isoformat())
    recent = bill(api, None, 300, number="R-NEW", date=(today - timedelta(days=10)).isoformat())
    old_id, recent_id = old["transaction"]["id"], recent["transaction"]["id"]

    settle(api, retroEnabled=False)
    refused(api, tom, recent_id, loyalty.RETRO_DISABLED)

    settle(api, retroEnabled=True, retroMaxAgeDays=30)
    refused(api, tom, old_id, loyalty.RETRO_BILL_TOO_OLD)

    settle(api, retroDelaySinceRegistrationHours=24)
    refused(api, tom, recent_id, loyalty.RETRO_TOO_SOON)

    # Registered two days ago, the member may claim the bill within the age limit.
    with transaction(engine) as conn:
        conn.execute(
            sa.update(customers)
            .where(customers.c.id == tom)
            .values(registered_at=today - timedelta(days=2))
        )
    accepted = claim(api, tom, recent_id)
    assert accepted.status_code == 200, accepted.text
    assert details(api, tom)["loyaltyPoints"] == 30.0
    consistent(engine, api.org.id)
