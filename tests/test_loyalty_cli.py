"""``patron loyalty ...`` against the real test databases."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy.engine import Engine

from patron.kit.db import transaction
from patron.loyalty import ledger, programs
from patron.loyalty.tables import loyalty_balances
from tests.conftest import Api
from tests.factories import register
from tests.loyalty_setup import bill
from tests.test_cli_coupons import Patron

PROGRAM = {
    "name": "Main",
    "programId": 622,
    "pointsExpiryDays": 30,
    "slabs": [
        {"name": "Silver", "earnRate": 0.1},
        {"name": "Gold", "threshold": 1000, "earnRate": 0.2, "validityDays": 365},
    ],
}


def test_programs_details_expiry_and_check(engine: Engine, api: Api, tmp_path: Path) -> None:
    patron = Patron(engine, api.org)
    program = tmp_path / "program.json"
    program.write_text(json.dumps(PROGRAM), encoding="utf-8")
    created = patron.json("loyalty", "programs", "add", "--file", str(program))
    assert (created["programId"], created["default"]) == (622, True)
    assert [s["name"] for s in created["slabs"]] == ["Silver", "Gold"]
    assert "Gold" in patron("loyalty", "programs", "show", "622").stdout
    assert [p["programId"] for p in patron.json("loyalty", "programs", "list")] == [622]
    change = tmp_path / "change.json"
    change.write_text(json.dumps({"pointsExpiryDays": 0}), encoding="utf-8")
    assert (
        patron.json("loyalty", "programs", "change", "622", "--file", str(change))[
            "pointsExpiryDays"
        ]
        is None
    )
    tom = register(api, mobile="919845012345")
    bill(api, tom, 12000)  # 1200 points: Gold
    [shown] = patron.json("loyalty", "details", str(tom))
    assert (shown["loyaltyPoints"], shown["currentSlab"]) == (1200.0, "Gold")
    report = patron.json("loyalty", "expire", "--date", "2030-01-01")
    assert report["day"] == "2030-01-01"
    assert report["expiredPoints"] == 0.0  # points of this program never expire now
    assert patron.json("loyalty", "check") == []
    # A balance that no longer adds up is found, and the check fails.
    with transaction(engine) as conn:
        conn.execute(
            loyalty_balances.update()
            .where(loyalty_balances.c.org_id == api.org.id)
            .values(points=loyalty_balances.c.points + 1)
        )
    failed = patron("loyalty", "check", code=1)
    assert "622" in failed.stdout  # the program, by its programId
    assert "1 balances differ from their entries" in failed.stderr
    with transaction(engine) as conn:
        conn.execute(
            loyalty_balances.update()
            .where(loyalty_balances.c.org_id == api.org.id)
            .values(points=loyalty_balances.c.points - 1)
        )
        found = programs.program_for(conn, api.org.id, None)
        assert ledger.balance(conn, api.org.id, found, tom).points == 1200


def test_a_program_file_that_is_not_a_program_is_one_line(
    engine: Engine, api: Api, tmp_path: Path
) -> None:
    patron = Patron(engine, api.org)
    program = tmp_path / "program.json"
    program.write_text(json.dumps({"name": "P", "slabs": [{"nam": "x"}]}), encoding="utf-8")
    line = patron.fails("loyalty", "programs", "add", "--file", str(program), code=3)
    assert "slabs.0" in line
    program.write_text("{not json", encoding="utf-8")
    assert "not JSON" in patron.fails("loyalty", "programs", "add", "--file", str(program), code=3)


def test_recommendations_are_refreshed_by_hand(engine: Engine, api: Api) -> None:
    patron = Patron(engine, api.org)
    tom, huck = (register(api, mobile=f"91984501234{n}") for n in range(2))
    for customer, skus in ((huck, ["TENT", "STOVE"]), (tom, ["TENT"])):
        body = {
            "number": f"B-{customer}",
            "customerId": customer,
            "lineItems": [{"sku": sku, "rate": 10} for sku in skus],
        }
        assert api.post("/v2/transactions", json=body).status_code == 200
    assert "2 item pairs scored" in patron("loyalty", "refresh-recommendations").stderr
    picks = api.get(f"/v2/customers/{tom}/recommendations").json()["data"]
    assert [p["sku"] for p in picks] == ["STOVE"]
