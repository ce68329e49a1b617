"""Rows of one file that reach the same customer: the last row's value is written, and the
undo puts the store back as it was, whole or in chunks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from patron.customer.tables import identifiers
from patron.imports import repository
from patron.kit.db import transaction
from patron.settings import get_settings
from tests.conftest import Api, OrgHandle
from tests.factories import register
from tests.importing import csv, import_org, people, run, snapshot, undo

HEADER = "User ID,First Name,Mobile,Email,Store,dateofbirth"


@pytest.fixture
def org(engine: Engine) -> OrgHandle:
    return import_org(engine)


@pytest.fixture
def api(app_client: TestClient, org: OrgHandle) -> Api:
    return Api(app_client, org)


@pytest.fixture(params=["whole", "chunks"])
def chunks(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[str]:
    """The file handled whole, or a row per chunk (each row's change in its own part)."""
    monkeypatch.setenv("PATRON_DATA_DIR", str(tmp_path))
    if request.param == "chunks":
        monkeypatch.setenv("PATRON_IMPORT_CHUNK_ROWS", "1")
    get_settings.cache_clear()
    yield str(request.param)
    monkeypatch.undo()
    get_settings.cache_clear()


def identifiers_of(api: Api, customer_id: int) -> dict[str, list[str]]:
    response = api.get(f"/v2/customers/{customer_id}?source=ALL")
    assert response.status_code == 200, response.text
    found: dict[str, list[str]] = {}
    for profile in response.json()["profiles"]:
        for identifier in profile["identifiers"]:
            found.setdefault(identifier["type"], []).append(identifier["value"])
    return {kind: sorted(values) for kind, values in found.items()}


def store(engine: Engine, org: OrgHandle) -> dict[str, list[tuple[Any, ...]]]:
    """The org's rows without timestamps, and the identifiers without their row ids: an
    identifier whose value an undo restores is written again, under a new id (nothing
    refers to an identifier's id)."""
    found = snapshot(engine, org, volatile=False)
    found["identifiers"] = sorted(row[1:] for row in found["identifiers"])
    return found


def test_two_rows_change_one_customers_email_and_the_undo_restores_it(
    engine: Engine, org: OrgHandle, api: Api, chunks: str
) -> None:
    known = register(api, mobile="919800000301", email="before@example.com", first_name="Old")
    before, everyone = store(engine, org), people(engine, org)
    # The first row reaches the customer by its mobile, the others by its user id; the
    # email moves twice (before -> first -> last), the name and a custom field too.
    done = run(
        engine,
        org,
        csv(
            HEADER,
            ",First,919800000301,first@example.com,mal,2001-01-01",
            f"{known},Second,,second@example.com,mal,",
            f"{known},Last,,last@example.com,mal,2003-03-03",
        ),
    )
    assert [done.row(n)["status"] for n in (2, 3, 4)] == ["updated"] * 3
    # The customer holds one email, the last row's, not one per row.
    assert identifiers_of(api, known) == {"email": ["last@example.com"], "mobile": ["919800000301"]}
    [(_, names, _, fields, _)] = people(engine, org)
    assert [name[2] for name in names] == ["Last"]
    assert [field[2] for field in fields] == ["2003-03-03"]
    undone = undo(engine, org, done.record["id"])
    assert undone.state == "undone", undone.record["message"]
    assert undone.counts["undo_conflicts"] == 0
    assert identifiers_of(api, known) == {
        "email": ["before@example.com"],
        "mobile": ["919800000301"],
    }
    assert people(engine, org) == everyone
    assert store(engine, org) == before


def test_the_undo_of_a_commit_that_wrote_every_rows_email(
    engine: Engine, org: OrgHandle, api: Api
) -> None:
    """Commits of earlier versions wrote the email of each row reaching a customer, and
    kept a change per row: their undo takes every one back and restores the one before."""
    known = register(api, mobile="919800000302", email="before@example.com", first_name="Old")
    before = store(engine, org)
    done = run(
        engine,
        org,
        csv(
            HEADER,
            ",First,919800000302,first@example.com,mal,",
            f"{known},Second,,second@example.com,mal,",
        ),
    )
    import_id = done.record["id"]
    with transaction(engine) as conn:  # the store and the undo frame such a commit left
        changes = repository.get_frame(conn, org.id, import_id, "undo:changes")
        assert changes is not None
        email = changes.filter(pl.col("field") == "email")
        assert email.height == 1
        first = email.with_columns(after=pl.lit("first@example.com"))
        repository.put_frame(conn, org.id, import_id, "undo:changes", pl.concat([first, changes]))
        conn.execute(
            sa.insert(identifiers).values(
                org_id=org.id,
                customer_id=known,
                profile_id=int(email["profile_id"][0]),
                type="email",
                value="first@example.com",
            )
        )
    assert identifiers_of(api, known)["email"] == ["first@example.com", "second@example.com"]
    undone = undo(engine, org, import_id)
    assert undone.state == "undone", undone.record["message"]
    assert undone.counts["undo_conflicts"] == 0
    assert identifiers_of(api, known)["email"] == ["before@example.com"]
    assert store(engine, org) == before
