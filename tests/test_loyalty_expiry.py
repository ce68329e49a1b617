"""The daily loyalty job: points expire on the exact day (the org's calendar), spent
points first; slabs are renewed or moved down by the program's rule when their validity
ends; the job runs once a day per org, whoever polls."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy.engine import Engine

from patron.kit.db import transaction
from patron.loyalty import expiry, ledger, transactions
from patron.orgs import service as orgs
from tests.conftest import Api
from tests.factories import register
from tests.loyalty_setup import add_program, consistent, details

#: 2024-01-10 20:00 UTC is already 2024-01-11 (01:30) in Kolkata, the org's time zone.
T0 = datetime(2024, 1, 10, 20, 0, tzinfo=UTC)


@pytest.fixture
def kolkata(engine: Engine, api: Api) -> Api:
    with transaction(engine) as conn:
        orgs.change_settings(conn, api.org.admin, {"time_zone": "Asia/Kolkata"})
    return api


def earn(engine: Engine, api: Api, customer_id: int, amount: float, at: datetime) -> None:
    spec = transactions.BillInput(
        number=f"B-{at.isoformat()}", customer_id=customer_id, amount=amount
    )
    with transaction(engine) as conn:
        transactions.record_bill(conn, api.org.admin, spec, at=at)


def run(engine: Engine, api: Api, day: date, at: datetime | None = None) -> expiry.DayReport:
    with transaction(engine) as conn:
        return expiry.run_day(conn, api.org.id, day, at=at or datetime.now(UTC))


def test_points_expire_on_the_exact_day_of_the_orgs_calendar(engine: Engine, kolkata: Api) -> None:
    api = kolkata
    add_program(api)  # 30 days
    tom = register(api, mobile="919845012345")
    earn(engine, api, tom, 1000, T0)  # 100 points credited on 2024-01-11 in Kolkata
    schedule = api.get(f"/v2/customers/{tom}", params={"embed": "expirySchedules"}).json()
    assert schedule["expirySchedules"] == []  # that day is long past; nothing ran yet
    assert run(engine, api, date(2024, 2, 9)).expired == 0  # the day before: nothing
    assert details(api, tom)["loyaltyPoints"] == 100.0
    report = run(engine, api, date(2024, 2, 10))
    assert (report.expired, report.members_expired) == (Decimal("100.00"), 1)
    mine = details(api, tom)
    assert (mine["loyaltyPoints"], mine["expired"], mine["lifetimePoints"]) == (0.0, 100.0, 100.0)
    assert run(engine, api, date(2024, 2, 10)).expired == 0  # a second run expires nothing more
    expired = api.get(f"/v2/customers/{tom}", params={"embed": "expiredPoints"}).json()
    assert expired["expiredPoints"]["total"] == 100.0
    consistent(engine, api.org.id)


def test_spent_points_are_the_earliest_to_expire(engine: Engine, kolkata: Api) -> None:
    api = kolkata
    add_program(api)
    tom = register(api, mobile="919845012345")
    earn(engine, api, tom, 1000, T0)  # 100, expiring 2024-02-10
    with transaction(engine) as conn:
        ledger.redeem(conn, api.org.admin, tom, 30)
    earn(engine, api, tom, 500, T0 + timedelta(days=5))  # 50, expiring 2024-02-15
    assert run(engine, api, date(2024, 2, 10)).expired == Decimal("70.00")
    assert details(api, tom)["loyaltyPoints"] == 50.0
    assert run(engine, api, date(2024, 2, 14)).expired == 0
    assert run(engine, api, date(2024, 2, 15)).expired == Decimal("50.00")
    mine = details(api, tom)
    assert (mine["loyaltyPoints"], mine["expired"], mine["redeemed"]) == (0.0, 120.0, 30.0)
    consistent(engine, api.org.id)


def test_the_expiry_schedule_shows_what_will_expire_when(engine: Engine, kolkata: Api) -> None:
    api = kolkata
    add_program(api)
    tom = register(api, mobile="919845012345")
    now = datetime.now(UTC)
    earn(engine, api, tom, 1000, now - timedelta(days=2))
    earn(engine, api, tom, 200, now)
    with transaction(engine) as conn:
        ledger.redeem(conn, api.org.admin, tom, 40)
    shown = api.get(f"/v2/customers/{tom}", params={"embed": "expirySchedules"}).json()
    assert [s["points"] for s in shown["expirySchedules"]] == [60.0, 20.0]
    assert all(s["expiryDate"].endswith("T23:59:59+05:30") for s in shown["expirySchedules"])


SLABS = [
    {"name": "Silver", "earnRate": 0.1},
    {"name": "Gold", "threshold": 1000, "earnRate": 0.2, "validityDays": 365},
    {"name": "Platinum", "threshold": 5000, "earnRate": 0.3, "validityDays": 365},
]


def test_a_slab_is_renewed_when_the_period_reached_it_else_moved_down(
    engine: Engine, kolkata: Api
) -> None:
    api = kolkata
    add_program(api, slabs=SLABS, downgradeRule="TO_QUALIFYING")
    tom = register(api, mobile="919845012345")
    huck = register(api, mobile="919845012346")
    for member in (tom, huck):
        earn(engine, api, member, 10000, T0)  # 1000 points: Gold until 2025-01-10 (Kolkata)
    assert details(api, tom)["slabExpiryDate"] == "2025-01-10T23:59:59+05:30"
    earn(engine, api, tom, 5000, T0 + timedelta(days=100))  # 1000 more within the year
    earn(engine, api, huck, 2000, T0 + timedelta(days=100))  # only 400
    last_day = run(engine, api, date(2025, 1, 10), at=T0 + timedelta(days=365))
    assert (last_day.renewed, last_day.downgraded) == (0, 0)  # the slab lasts through its day
    report = run(engine, api, date(2025, 1, 11), at=datetime(2025, 1, 11, 1, tzinfo=UTC))
    assert (report.renewed, report.downgraded) == (1, 1)
    renewed = details(api, tom)
    assert (renewed["currentSlab"], renewed["slabExpiryDate"]) == (
        "Gold",
        "2026-01-11T23:59:59+05:30",
    )
    assert details(api, huck)["currentSlab"] == "Silver"
    history = api.get(f"/v2/customers/{huck}/changeRequest", params={"changeType": "TIER"})
    reasons = [c["details"]["reason"] for c in history.json()["data"]]
    assert reasons == ["DOWNGRADE", "UPGRADE"]  # newest first


def test_one_slab_rule_and_none_rule(engine: Engine, kolkata: Api) -> None:
    api = kolkata
    add_program(api, slabs=SLABS, downgradeRule="ONE_SLAB")
    tom = register(api, mobile="919845012345")
    earn(engine, api, tom, 60000, T0)  # 6000 points: Platinum
    run(engine, api, date(2025, 1, 11), at=datetime(2025, 1, 11, 1, tzinfo=UTC))
    assert details(api, tom)["currentSlab"] == "Gold"  # one down, though it earned nothing
    changed = api.put("/v2/loyalty/programs/1", json={"downgradeRule": "NONE"}, role="admin")
    assert changed.status_code == 200
    run(engine, api, date(2026, 1, 12), at=datetime(2026, 1, 12, 1, tzinfo=UTC))
    assert details(api, tom)["currentSlab"] == "Gold"  # renewed: no rule, no downgrade


def test_manual_tier_changes_answer_the_seed_codes(api: Api) -> None:
    add_program(api, slabs=SLABS)  # downgrade rule NONE
    tom = register(api, mobile="919845012345")

    def change(direction: str) -> tuple[int, list[int]]:
        body = {"direction": direction, "reason": "service recovery"}
        response = api.post(f"/v2/customers/{tom}/tierChange", json=body, role="admin")
        codes = [e["code"] for e in response.json().get("errors", [])]
        return response.status_code, codes

    assert change("DOWNGRADE") == (400, [91010])
    assert change("UPGRADE")[0] == 200
    assert change("UPGRADE")[0] == 200
    assert details(api, tom)["currentSlab"] == "Platinum"
    assert change("UPGRADE") == (400, [91012])
    api.put("/v2/loyalty/programs/1", json={"downgradeRule": "ONE_SLAB"}, role="admin")
    assert change("DOWNGRADE")[0] == 200
    assert change("DOWNGRADE")[0] == 200
    assert change("DOWNGRADE") == (400, [91011])
    as_editor = api.post(
        f"/v2/customers/{tom}/tierChange", json={"direction": "UPGRADE", "reason": "x"}
    )
    assert as_editor.status_code == 403


def test_the_job_runs_once_a_day_per_org_whoever_polls(engine: Engine, api: Api) -> None:
    add_program(api)
    tom = register(api, mobile="919845012345")
    earn(engine, api, tom, 1000, datetime.now(UTC) - timedelta(days=40))
    first = expiry.run_due(engine)
    assert first[api.org.id].expired == Decimal("100.00")
    assert api.org.id not in expiry.run_due(engine)  # the day is taken
    tomorrow = expiry.run_due(engine, datetime.now(UTC) + timedelta(days=1))
    assert tomorrow[api.org.id].expired == 0


def test_the_worker_runs_the_daily_job_on_its_own(engine: Engine, api: Api) -> None:
    import time

    add_program(api)
    tom = register(api, mobile="919845012345")
    earn(engine, api, tom, 1000, datetime.now(UTC) - timedelta(days=40))
    worker = expiry.LoyaltyWorker(engine, poll_seconds=0.05)
    worker.start()
    try:
        deadline = time.monotonic() + 30
        while details(api, tom)["expired"] == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        worker.stop()
    assert details(api, tom)["expired"] == 100.0
