"""Campaigns: created by admins (API and command line) with their type and the id
integrations use, listed by viewers, one org's invisible to another."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from typer.testing import CliRunner, Result

from patron.cli.main import app
from tests.conftest import Api, OrgHandle, error_codes


def test_an_admin_creates_campaigns_and_a_viewer_lists_them(api: Api) -> None:
    explicit = api.post(
        "/v2/campaigns", json={"name": "Points", "type": "points", "id": 898989889}, role="admin"
    )
    following = api.post("/v2/campaigns", json={"name": "Visits", "type": "Visits"}, role="admin")

    assert explicit.status_code == 201, explicit.text
    assert {k: v for k, v in explicit.json().items() if k != "createdAt"} == {
        "id": 898989889,
        "name": "Points",
        "type": "points",
    }
    assert explicit.json()["createdAt"]
    assert following.json()["id"] == 898989890  # the next free id
    listed = api.get("/v2/campaigns", role="viewer")
    assert listed.status_code == 200
    assert [(c["id"], c["type"]) for c in listed.json()["data"]] == [
        (898989889, "points"),
        (898989890, "visits"),
    ]
    assert listed.json()["pagination"] == {"limit": 10, "offset": 0, "total": 2}


def test_the_first_campaign_of_an_org_gets_id_1(api: Api) -> None:
    created = api.post("/v2/campaigns", json={"name": "Amount", "type": "amount"}, role="admin")

    assert created.json()["id"] == 1


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"name": "Twice", "type": "points", "id": 5}, 409, 409),
        ({"name": "Stamps", "type": "stamps"}, 400, 400),
        ({"name": "  ", "type": "points"}, 400, 400),
        ({"name": "Zero", "type": "points", "id": 0}, 400, 400),
        ({"name": "Huge", "type": "points", "id": 2**63}, 400, 400),
        ({"name": "Extra", "type": "points", "color": "red"}, 400, 400),
    ],
)
def test_wrong_campaigns_are_refused(
    api: Api, body: dict[str, Any], status: int, code: int
) -> None:
    api.post("/v2/campaigns", json={"name": "First", "type": "points", "id": 5}, role="admin")

    response = api.post("/v2/campaigns", json=body, role="admin")

    assert response.status_code == status, response.text
    assert error_codes(response) == [code]
    assert api.get("/v2/campaigns", role="viewer").json()["pagination"]["total"] == 1


def test_only_admins_create_campaigns(api: Api) -> None:
    response = api.post("/v2/campaigns", json={"name": "Mine", "type": "points"}, role="editor")

    assert response.status_code == 403
    assert api.get("/v2/campaigns", role="viewer").json()["data"] == []


def test_another_orgs_campaigns_are_invisible_and_ids_are_per_org(api: Api, other_api: Api) -> None:
    api.post("/v2/campaigns", json={"name": "Ours", "type": "points", "id": 7}, role="admin")

    theirs = other_api.post(
        "/v2/campaigns", json={"name": "Theirs", "type": "visits", "id": 7}, role="admin"
    )

    assert theirs.status_code == 201  # the same id in another org is another campaign
    assert [c["name"] for c in other_api.get("/v2/campaigns", role="viewer").json()["data"]] == [
        "Theirs"
    ]
    assert [c["name"] for c in api.get("/v2/campaigns", role="viewer").json()["data"]] == ["Ours"]


def invoke(engine: Engine, *args: str) -> Result:
    url = engine.url.render_as_string(hide_password=False)
    return CliRunner(env={"PATRON_DATABASE_URL": url}).invoke(app, list(args))


def test_the_command_line_adds_and_lists_campaigns(engine: Engine, org: OrgHandle) -> None:
    added = invoke(
        engine, "campaigns", "add", "--org", org.name, "--name", "Points", "--type", "points",
        "--id", "13234545", "--json",
    )  # fmt: skip
    table = invoke(engine, "campaigns", "add", "--org", org.name, "--name", "Free coffee",
                   "--type", "product")  # fmt: skip
    listed = invoke(engine, "campaigns", "list", "--org", org.name, "--json")

    assert added.exit_code == 0, added.output
    record = json.loads(added.stdout)
    assert (record["id"], record["name"], record["type"]) == (13234545, "Points", "points")
    assert table.exit_code == 0, table.output
    assert "13234546" in table.stdout
    assert [(c["id"], c["type"]) for c in json.loads(listed.stdout)] == [
        (13234545, "points"),
        (13234546, "product"),
    ]
    shown = invoke(engine, "campaigns", "list", "--org", org.name)
    assert "Free coffee" in shown.stdout


def test_the_command_line_refuses_a_taken_id_and_an_unknown_type(
    engine: Engine, org: OrgHandle
) -> None:
    invoke(engine, "campaigns", "add", "--org", org.name, "--name", "A", "--type", "points",
           "--id", "3")  # fmt: skip

    taken = invoke(engine, "campaigns", "add", "--org", org.name, "--name", "B", "--type",
                   "points", "--id", "3")  # fmt: skip
    unknown = invoke(engine, "campaigns", "add", "--org", org.name, "--name", "C", "--type",
                     "stamps")  # fmt: skip

    assert taken.exit_code == 7
    assert taken.stderr.strip() == "error 409: a campaign with id 3 exists"
    assert unknown.exit_code == 2
    listed = json.loads(invoke(engine, "campaigns", "list", "--org", org.name, "--json").stdout)
    assert [c["name"] for c in listed] == ["A"]
