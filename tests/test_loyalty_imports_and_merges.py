"""Imports, undo, merges and unmerges keep the points ledger consistent: the Loyalty
Customers import's values become opening entries and the member's slab, its undo takes
them back, a merge moves the victim's ledger to the survivor and an unmerge back."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from patron.customer.tables import merges
from patron.identity.merge import unmerge
from patron.kit.db import transaction
from patron.loyalty.tables import points_ledger
from tests.conftest import Api, OrgHandle, warning_codes
from tests.factories import register
from tests.importing import csv, import_org, run, undo
from tests.loyalty_setup import add_program, bill, consistent

HEADER = "Mobile,First Name,Till IUN Or Store Ext Id,Loyalty Points,Lifetime Points,"
HEADER += "Lifetime Purchases,Slab Name"


@pytest.fixture
def imported(engine: Engine, app_client: TestClient) -> Api:
    """An org fit for imports, with a three-slab program (Gold from 1000 lifetime points)."""
    api = Api(app_client, import_org(engine))
    add_program(api)
    return api


def loyalty(api: Api, customer_id: int) -> dict[str, Any]:
    response = api.get(f"/v2/customers/{customer_id}/loyaltyDetails")
    assert response.status_code == 200, response.text
    return dict(response.json()["data"][0])


def holder(api: Api, mobile: str) -> int:
    found = api.get(
        "/v2/customers/lookup", params={"identifierName": "mobile", "identifierValue": mobile}
    )
    assert found.status_code == 200, found.text
    return int(found.json()["entity"])


def tier_changes(api: Api, customer_id: int) -> list[tuple[str, str, str]]:
    response = api.get(f"/v2/customers/{customer_id}/changeRequest", params={"changeType": "TIER"})
    assert response.status_code == 200, response.text
    return [
        (d["details"]["from"], d["details"]["to"], d["details"]["reason"])
        for d in response.json()["data"]
    ]


def entries(engine: Engine, org: OrgHandle, customer_id: int) -> list[tuple[str, float]]:
    with transaction(engine, write=False) as conn:
        rows = conn.execute(
            sa.select(points_ledger.c.kind, points_ledger.c.points)
            .where(points_ledger.c.org_id == org.id, points_ledger.c.customer_id == customer_id)
            .order_by(points_ledger.c.id)
        ).all()
    return [(kind, float(points)) for kind, points in rows]


def test_an_import_opens_balances_and_slabs_and_its_undo_takes_them_back(
    engine: Engine, imported: Api
) -> None:
    api, org = imported, imported.org
    tom = register(api, mobile="919845012345")
    bill(api, tom, 1000)  # 100 points of its own, before the import
    done = run(
        engine,
        org,
        csv(
            HEADER,
            "919845012345,Tom,mal,500,2600,26000,",  # existing: 2600 lifetime reaches Gold
            "919845012346,Huck,mal,250,250,900,Platinum",  # new, in the slab the file names
        ),
    )
    assert done.statuses() == ["updated", "inserted"]
    huck = holder(api, "919845012346")
    mine = loyalty(api, tom)
    # The file's balance is the system's the customer comes from: added to patron's own.
    assert (mine["loyaltyPoints"], mine["lifetimePoints"], mine["cumulativePurchases"]) == (
        600.0,
        2700.0,
        27000.0,
    )
    assert mine["currentSlab"] == "Gold"
    theirs = loyalty(api, huck)
    assert (theirs["loyaltyPoints"], theirs["currentSlab"]) == (250.0, "Platinum")
    assert api.get(f"/v2/customers/{huck}").json()["loyaltyInfo"]["lifetimePurchases"] == 900.0
    consistent(engine, org.id)
    # A second file changes Tom's balance: only the difference is posted.
    second = run(engine, org, csv(HEADER, "919845012345,Tom,mal,800,2600,26000,"))
    assert loyalty(api, tom)["loyaltyPoints"] == 900.0
    assert [k for k, _ in entries(engine, org, tom)].count("OPENING") == 2
    undone = undo(engine, org, second.record["id"])
    assert undone.state == "undone", undone.record["message"]
    assert loyalty(api, tom)["loyaltyPoints"] == 600.0
    assert tier_changes(api, tom) == []  # an import writes no change requests
    first_undone = undo(engine, org, done.record["id"])
    assert first_undone.state == "undone", first_undone.record["message"]
    mine = loyalty(api, tom)
    assert (mine["loyaltyPoints"], mine["lifetimePoints"], mine["currentSlab"]) == (
        100.0,
        100.0,
        "Silver",
    )
    # The undo's return to Silver is a tier change as any other: in the change requests
    # and in the ledger (after the import's own TIER entry to Gold).
    assert tier_changes(api, tom) == [("Gold", "Silver", "IMPORT_UNDO")]
    assert [k for k, _ in entries(engine, org, tom)].count("TIER") == 2
    # The customer the import created is gone with its entries.
    assert api.get(f"/v2/customers/{huck}").status_code == 404
    assert entries(engine, org, huck) == []
    consistent(engine, org.id)


def test_a_merge_moves_the_ledger_and_an_unmerge_moves_it_back(
    engine: Engine, imported: Api
) -> None:
    api, org = imported, imported.org
    survivor = register(api, mobile="919845099001")
    victim = register(
        api,
        identifiers=[{"type": "wechat", "value": "wx-1"}],
        mobile="919845099002",
        source="WECHAT",
        account_id="acc",
    )
    bill(api, survivor, 6000, number="S-1")  # 600 points
    bill(api, victim, 5000, number="V-1")  # 500 points
    spent = api.post(f"/v2/customers/{victim}/pointsRedemptions", json={"points": 100})
    assert spent.status_code == 200
    before_victim = entries(engine, org, victim)
    # Giving the victim the survivor's mobile merges the victim into the survivor.
    merged = api.post(
        f"/v2/customers/{victim}/changeIdentifier",
        params={"source": "WECHAT", "accountId": "acc"},
        json={
            "add": [{"type": "mobile", "value": "919845099001"}],
            "remove": [{"type": "mobile", "value": "919845099002"}],
        },
    )
    assert warning_codes(merged) == [8051], merged.text
    mine = loyalty(api, survivor)
    assert (mine["loyaltyPoints"], mine["lifetimePoints"], mine["redeemed"]) == (
        1000.0,
        1100.0,
        100.0,
    )
    assert mine["currentSlab"] == "Gold"  # 1100 lifetime points together
    assert entries(engine, org, victim) == []
    # The victim's id answers for the survivor.
    assert loyalty(api, victim)["loyaltyId"] == survivor
    consistent(engine, org.id)
    with transaction(engine) as conn:
        merge_id = conn.execute(
            sa.select(merges.c.id).where(merges.c.org_id == org.id, merges.c.victim_id == victim)
        ).scalar_one()
        assert unmerge(conn, org.admin, int(merge_id)) is None
    assert entries(engine, org, victim) == before_victim
    theirs, mine = loyalty(api, victim), loyalty(api, survivor)
    assert (theirs["loyaltyPoints"], mine["loyaltyPoints"]) == (400.0, 600.0)
    assert mine["currentSlab"] == "Silver"  # its slab before the merge
    consistent(engine, org.id)
