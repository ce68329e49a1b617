"""Undo states of the legacy batch API: listed, undone (API and CLI), their conflicts,
and ``no_undo`` batches that keep none."""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from patron.cli.main import app
from patron.imports.codes import NO_UNDO_STATE, WRONG_STATE
from patron.kit.db import transaction
from tests.importing import run
from tests.test_legacy_batch import Legacy, balance, customer_of, legacy_org, names

#: The tables a batch writes, compared before a batch and after its undo.
TABLES = (
    ("customers", "id, loyalty_type, status_label_id, fraud_status, deleted_at"),
    ("profiles", "customer_id, source, account_id, first_name, last_name"),
    ("identifiers", "customer_id, type, value"),
    (
        "legacy_profiles",
        "customer_id, username, password_hash, pin_digest, phone, street1, city, "
        "CAST(custom_date AS VARCHAR(10))",
    ),
    ("campaign_enrollments", "campaign_id, customer_id, CAST(balance AS FLOAT)"),
    ("campaign_ledger", "id, campaign_id, customer_id, CAST(change AS FLOAT), product"),
)
STATUS = {"profile": "customer-status"}
HEADERS = ("code", "first_name", "city", "customer_password", "auto_add")


@pytest.fixture
def legacy(engine: Engine, app_client: TestClient) -> Legacy:
    return legacy_org(engine, app_client)


def store(legacy: Legacy) -> dict[str, list[tuple[Any, ...]]]:
    return {
        table: sorted(
            legacy.sql(f"SELECT {columns} FROM {table} WHERE org_id = :org"),  # noqa: S608
            key=repr,
        )
        for table, columns in TABLES
    }


def batch(legacy: Legacy, data: str, headers: tuple[str, ...] = HEADERS, **fields: Any) -> int:
    response = legacy.post(headers, output="json", Profiles_Data=data, **fields)
    assert response.status_code == 200, response.text
    found = response.json()["response"]["batch"]
    return int(found["import"])


def admin_headers(legacy: Legacy, role: str = "admin") -> dict[str, str]:
    return {"Authorization": f"Bearer {legacy.org.keys[role]}"}


def undo(legacy: Legacy, undo_id: int, role: str = "admin") -> Any:
    return legacy.client.post(
        f"/api/batch/undo-states/{undo_id}/undo", headers=admin_headers(legacy, role)
    )


def test_undo_puts_back_what_the_batch_changed(legacy: Legacy) -> None:
    batch(legacy, "C1|Tom|Hannibal|pw-one|10\n")
    tom = customer_of(legacy, "C1")
    before = store(legacy)

    second = batch(
        legacy,
        "C1|Thomas|St. Louis|pw-two|5\nC2|Huck|Hannibal||\n",
        card_number_generate="9",
    )
    assert names(legacy, tom) == ("Thomas", "")
    assert balance(legacy, 898989889, tom) == 15.0
    response = undo(legacy, second)

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["id"], body["state"], body["undoable"]) == (second, "undone", False)
    assert body["conflicts"] == []
    assert store(legacy) == before  # Huck is gone, Tom is back, card and balance too
    assert balance(legacy, 898989889, tom) == 10.0


def test_a_value_changed_since_is_left_alone_and_reported(legacy: Legacy) -> None:
    first = batch(legacy, "C1|Tom|Hannibal||10\nC2|Huck|Hannibal||\n")
    tom, huck = customer_of(legacy, "C1"), customer_of(legacy, "C2")
    batch(legacy, "C1||St. Louis||5\nC2|Huckleberry|||\n")  # changes them again since

    response = undo(legacy, first)

    assert response.status_code == 200, response.text
    conflicts = sorted(
        (c["customer_id"], c["field"] or "", c["reason"]) for c in response.json()["conflicts"]
    )
    assert conflicts == sorted(
        [
            (tom, "campaign 898989889", "the balance changed since the batch; its auto_add was "
             "left in place"),
            (tom, "campaign 898989889", "the balance changed since the batch; the enrollment "
             "was kept"),
            (tom, "city", "changed since the batch; the customer was kept"),
            (tom, "", "has data from elsewhere since the batch; the customer was kept"),
            (huck, "first_name", "changed since the batch; the customer was kept"),
        ]
    )  # fmt: skip
    assert response.json()["undoConflicts"] == 5
    # Both customers are kept with what was changed since; enrollments that did not move go.
    assert names(legacy, huck) == ("Huckleberry", "")
    assert balance(legacy, 898989889, tom) == 15.0
    assert balance(legacy, 13234545, tom) is None
    assert balance(legacy, 13234545, huck) is None


def test_undo_of_an_update_reports_what_changed_again(legacy: Legacy) -> None:
    batch(legacy, "C1|Tom|Hannibal||\n")
    tom = customer_of(legacy, "C1")
    second = batch(legacy, "C1|Thomas|St. Louis||\n")
    batch(legacy, "C1||Boston||\n", headers=HEADERS)

    response = undo(legacy, second)

    assert response.status_code == 200
    assert [(c["customer_id"], c["field"]) for c in response.json()["conflicts"]] == [(tom, "city")]
    assert names(legacy, tom) == ("Tom", "")  # the name had not moved: it comes back
    assert legacy.sql(
        "SELECT city FROM legacy_profiles WHERE org_id = :org AND customer_id = :c", c=tom
    ) == [("Boston",)]


def test_no_undo_records_no_undo_state(legacy: Legacy) -> None:
    response = legacy.post(HEADERS, output="json", no_undo="yes", Profiles_Data="C1|Tom|||\n")
    assert response.status_code == 200
    found = response.json()["response"]["batch"]
    assert "undo_state" not in found
    kept = batch(legacy, "C2|Huck|||\n")

    listed = legacy.client.get("/api/batch/undo-states", headers=admin_headers(legacy))
    refused = undo(legacy, found["import"])

    assert [s["id"] for s in listed.json()["data"]] == [kept]
    assert refused.status_code == 409
    assert refused.json()["errors"][0]["code"] == NO_UNDO_STATE
    assert customer_of(legacy, "C1")


def test_the_undo_states_are_listed_newest_first_for_admins(legacy: Legacy) -> None:
    first = batch(legacy, "C1|Tom|||\n")
    second = batch(legacy, "C1|Thomas|||\nC2|Huck|||\n")
    assert undo(legacy, first).status_code == 200

    response = legacy.client.get("/api/batch/undo-states?limit=10", headers=admin_headers(legacy))
    editor = legacy.client.get("/api/batch/undo-states", headers=admin_headers(legacy, "editor"))

    assert response.status_code == 200
    body = response.json()
    assert body["pagination"] == {"limit": 10, "offset": 0, "total": 2}
    states = [(s["id"], s["state"], s["undoable"], s["customers"]) for s in body["data"]]
    assert states == [
        (second, "committed", True, {"new": 1, "updated": 1, "skipped": 0, "rejected": 0}),
        (first, "undone", False, {"new": 1, "updated": 0, "skipped": 0, "rejected": 0}),
    ]
    assert body["data"][0]["createdBy"] == legacy.user
    assert editor.status_code == 403


def test_undo_twice_unknown_or_another_orgs_state_is_refused(
    legacy: Legacy, engine: Engine, app_client: TestClient
) -> None:
    first = batch(legacy, "C1|Tom|||\n")
    assert undo(legacy, first).status_code == 200
    other = legacy_org(engine, app_client)
    theirs = batch(other, "C9|Joe|||\n")

    # An import that is not a batch has no batch undo state.
    status = run(engine, legacy.org, "Mobile,Status Label\n919800005001,Active\n", **STATUS)
    second = batch(legacy, "C2|Huck|||\n")

    again = undo(legacy, first)
    unknown = undo(legacy, 10**9)
    foreign = undo(legacy, theirs)
    by_editor = undo(legacy, second, role="editor")
    plain = undo(legacy, int(status.record["id"]))

    assert again.status_code == 409
    assert again.json()["errors"][0]["code"] == WRONG_STATE
    assert unknown.status_code == 404
    assert foreign.status_code == 404
    assert by_editor.status_code == 403
    assert plain.status_code == 404
    assert customer_of(other, "C9")
    assert customer_of(legacy, "C2")


def cli(engine: Engine, *args: str) -> Any:
    url = engine.url.render_as_string(hide_password=False)
    result = CliRunner(env={"PATRON_DATABASE_URL": url}).invoke(app, list(args))
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    return result


def test_the_command_line_lists_and_undoes_batches(legacy: Legacy, engine: Engine) -> None:
    before = store(legacy)
    first = batch(legacy, "C1|Tom|Hannibal|pw|3\n")

    listed = json.loads(
        cli(engine, "batch", "undo-states", "--org", legacy.org.name, "--json").stdout
    )
    table = cli(engine, "batch", "undo-states", "--org", legacy.org.name).stdout
    undone = json.loads(
        cli(engine, "batch", "undo", str(first), "--org", legacy.org.name, "--json").stdout
    )

    assert [(s["id"], s["state"], s["undoable"]) for s in listed] == [(first, "committed", True)]
    assert str(first) in table
    assert (undone["id"], undone["state"], undone["conflicts"]) == (first, "undone", [])
    assert store(legacy) == before


def test_the_command_line_refuses_a_no_undo_batch_in_one_line(
    legacy: Legacy, engine: Engine
) -> None:
    response = legacy.post(HEADERS, output="json", no_undo="yes", Profiles_Data="C1|Tom|||\n")
    import_id = response.json()["response"]["batch"]["import"]
    url = engine.url.render_as_string(hide_password=False)

    result = CliRunner(env={"PATRON_DATABASE_URL": url}).invoke(
        app, ["batch", "undo", str(import_id), "--org", legacy.org.name]
    )

    assert result.exit_code == 7
    assert result.stderr.strip() == (
        f"error {NO_UNDO_STATE}: import {import_id} was committed without an undo state"
    )
    with transaction(engine, write=False) as conn:
        assert (
            conn.execute(
                sa.text("SELECT state FROM imports WHERE id = :i"), {"i": import_id}
            ).scalar_one()
            == "committed"
        )
