"""Loyalty programs over HTTP: defined by admins, read by viewers, audited, per org."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from patron.audit.tables import audit_log
from patron.kit.db import transaction
from tests.conftest import Api, error_codes
from tests.factories import register
from tests.loyalty_setup import SLABS, add_program, bill, details


def test_a_program_is_created_read_and_listed(api: Api) -> None:
    created = add_program(
        api,
        programId=622,
        description="The main program",
        partnerPrograms=[{"partnerProgramId": 5, "name": "Air", "tiers": ["Blue", "Silver"]}],
    )
    assert created["programId"] == 622
    assert created["default"] is True  # the org's first program
    assert [s["name"] for s in created["slabs"]] == ["Silver", "Gold", "Platinum"]
    assert [s["serialNumber"] for s in created["slabs"]] == [1, 2, 3]
    assert created["slabs"][1] == {
        "serialNumber": 2,
        "name": "Gold",
        "description": "Gold tier",
        "threshold": 1000.0,
        "earnRate": 0.2,
        "validityDays": None,
    }
    assert created["pointsExpiryDays"] == 30
    assert created["partnerPrograms"] == [
        {
            "partnerProgramId": 5,
            "name": "Air",
            "description": "",
            "type": "EXTERNAL",
            "tiers": ["Blue", "Silver"],
        }
    ]
    read = api.get("/v2/loyalty/programs/622", role="viewer")
    assert read.status_code == 200
    assert read.json()["slabs"] == created["slabs"]
    second = add_program(api, name="Partner points", slabs=[{"name": "Base"}])
    assert second["programId"] == 623  # the next free number
    assert second["default"] is False
    listed = api.get("/v2/loyalty/programs", role="viewer").json()["data"]
    assert [p["programId"] for p in listed] == [622, 623]


def test_only_admins_define_programs_and_changes_are_audited(engine: Engine, api: Api) -> None:
    body = {"name": "Main", "slabs": SLABS}
    as_editor = api.post("/v2/loyalty/programs", json=body, role="editor")
    assert (as_editor.status_code, error_codes(as_editor)) == (403, [403])
    add_program(api, programId=7)
    changed = api.put("/v2/loyalty/programs/7", json={"description": "x"}, role="editor")
    assert changed.status_code == 403
    changed = api.put(
        "/v2/loyalty/programs/7",
        role="admin",
        json={"pointsExpiryDays": 0, "downgradeRule": "one_slab"},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["pointsExpiryDays"] is None  # 0: points never expire
    assert changed.json()["downgradeRule"] == "ONE_SLAB"
    with transaction(engine, write=False) as conn:
        actions = conn.execute(
            sa.select(audit_log.c.action)
            .where(audit_log.c.org_id == api.org.id, audit_log.c.entity_type == "loyalty_program")
            .order_by(audit_log.c.id)
        ).scalars()
        assert list(actions) == ["loyalty.program.create", "loyalty.program.change"]


def test_invalid_programs_are_refused(api: Api) -> None:
    def refused(body: dict[str, object]) -> list[int]:
        response = api.post("/v2/loyalty/programs", json={"name": "P", **body}, role="admin")
        assert response.status_code == 400, response.text
        return error_codes(response)

    assert refused({"slabs": [{"name": "A", "threshold": 10}]}) == [400]  # entry slab not at 0
    assert refused({"slabs": [{"name": "A"}, {"name": "B", "threshold": 0}]}) == [400]
    assert refused({"slabs": [{"name": "A"}, {"name": "a", "threshold": 5}]}) == [400]
    assert refused({"tierBasis": "VISITS"}) == [400]
    assert refused({"downgradeRule": "SOMETIMES"}) == [400]
    add_program(api, programId=9)
    taken = api.post("/v2/loyalty/programs", json={"name": "P", "programId": 9}, role="admin")
    assert (taken.status_code, error_codes(taken)) == (409, [409])
    assert api.get("/v2/loyalty/programs/10").status_code == 404


def test_a_slab_with_members_cannot_be_removed(api: Api) -> None:
    add_program(api, programId=1)
    tom = register(api, mobile="919845012345")
    bill(api, tom, 20000)  # 2000 points: Gold
    assert details(api, tom)["currentSlab"] == "Gold"
    fewer = api.put("/v2/loyalty/programs/1", json={"slabs": SLABS[:1]}, role="admin")
    assert (fewer.status_code, error_codes(fewer)) == (409, [409])
    # Renaming and re-pricing slabs is fine; the member stays where it is.
    renamed = [{**SLABS[0]}, {**SLABS[1], "name": "Gold+", "earnRate": 0.25}, SLABS[2]]
    changed = api.put("/v2/loyalty/programs/1", json={"slabs": renamed}, role="admin")
    assert changed.status_code == 200, changed.text
    assert details(api, tom)["currentSlab"] == "Gold+"
    bill(api, tom, 100, number="B-2")
    assert details(api, tom)["loyaltyPoints"] == 2025.0  # 100 at Gold+'s 0.25 a unit


def test_another_orgs_programs_are_unknown(api: Api, other_api: Api) -> None:
    add_program(api, programId=622)
    assert other_api.get("/v2/loyalty/programs/622").status_code == 404
    assert other_api.get("/v2/loyalty/programs").json()["data"] == []
    theirs = add_program(other_api, programId=622)  # the same number in another org is theirs
    assert theirs["programId"] == 622
