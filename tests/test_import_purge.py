"""Retention: the files of old imports are deleted, the imports stay; API and CLI."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from patron.auth.actor import Actor, Role
from patron.imports import codes, retention, service
from patron.imports.tables import import_blobs, imports
from patron.kit.clock import utcnow
from patron.kit.db import transaction
from patron.kit.errors import Conflict, Forbidden, InvalidInput
from tests.conftest import Api, OrgHandle
from tests.importing import csv, editor, import_org, run, start
from tests.test_cli_import import Patron

HEADER = "First Name,Last Name,Mobile,Email,External Id,Store"
ANN = "Ann,Lee,919800001001,ann@example.com,E-1001,mal"
BOB = "Bob,Ray,919800001002,bob@example.com,E-1002,blr"


def admin(org: OrgHandle) -> Actor:
    return Actor(org_id=org.id, role=Role.admin, name="test-admin", kind="cli")


def age(engine: Engine, import_id: int, days: int, **values: object) -> None:
    """Move an import ``days`` into the past."""
    with transaction(engine) as conn:
        conn.execute(
            imports.update()
            .where(imports.c.id == import_id)
            .values(created_at=utcnow() - timedelta(days=days), **values)
        )


def blob_kinds(engine: Engine, import_id: int) -> set[str]:
    with transaction(engine, write=False) as conn:
        query = sa.select(import_blobs.c.kind).where(import_blobs.c.import_id == import_id)
        return set(conn.execute(query).scalars())


@pytest.fixture
def org(engine: Engine) -> OrgHandle:
    return import_org(engine)


def test_old_finished_imports_lose_their_files_and_nothing_else(
    engine: Engine, org: OrgHandle
) -> None:
    old = run(engine, org, csv(HEADER, ANN)).record["id"]
    recent = run(engine, org, csv(HEADER, BOB)).record["id"]
    unconfirmed = start(engine, org, csv(HEADER, BOB))
    replayable = start(engine, org, csv(HEADER, BOB))
    other_org = import_org(engine)
    theirs = run(engine, other_org, csv(HEADER, ANN)).record["id"]
    age(engine, old, 40)
    age(engine, unconfirmed, 40)
    age(engine, replayable, 40, state="failed", replay_until=utcnow() + timedelta(days=2))
    age(engine, theirs, 40)
    assert "undo:inserted" in blob_kinds(engine, old)

    with transaction(engine) as conn:
        purged = retention.purge_files(conn, admin(org), 30)

    assert purged == sorted([old, unconfirmed])
    assert blob_kinds(engine, old) == set() == blob_kinds(engine, unconfirmed)
    for kept in (recent, replayable, theirs):
        assert "source" in blob_kinds(engine, kept)
    with transaction(engine, write=False) as conn:
        record = service.get_import(conn, editor(org), old)
        assert record["files_purged_at"] is not None
        assert (record["state"], record["counts"]["inserted"]) == ("committed", 1)
        assert service.get_import(conn, editor(org), unconfirmed)["state"] == "cancelled"
    with transaction(engine) as conn:  # a second pass finds nothing more to do
        assert retention.purge_files(conn, admin(org), 30) == []


def test_a_purged_import_has_no_report_rows_undo_or_replay(engine: Engine, org: OrgHandle) -> None:
    import_id = run(engine, org, csv(HEADER, ANN)).record["id"]
    age(engine, import_id, 10)
    with transaction(engine) as conn:
        retention.purge_files(conn, admin(org), 5)
    actor = editor(org)
    for attempt in (
        lambda conn: service.report(conn, actor, import_id, "csv"),
        lambda conn: service.outcomes(conn, actor, import_id),
        lambda conn: service.conflicts(conn, actor, import_id),
        lambda conn: service.request_undo(conn, actor, import_id),
        lambda conn: service.replay(conn, actor, import_id),
    ):
        with pytest.raises(Conflict) as refused, transaction(engine) as conn:
            attempt(conn)
        assert refused.value.code == codes.FILES_PURGED
        assert "deleted by retention" in refused.value.message


def test_purging_needs_an_admin_and_a_sensible_number_of_days(
    engine: Engine, org: OrgHandle
) -> None:
    with pytest.raises(Forbidden), transaction(engine) as conn:
        retention.purge_files(conn, editor(org), 30)
    for days in (0, -1, 100_000):
        with pytest.raises(InvalidInput), transaction(engine) as conn:
            retention.purge_files(conn, admin(org), days)


def test_the_api_purges_for_admins_only(engine: Engine, api: Api) -> None:
    import_id = run(engine, api.org, csv(HEADER, ANN)).record["id"]
    age(engine, import_id, 100)
    refused = api.post("/v2/imports/purge", params={"olderThanDays": 90})
    assert refused.status_code == 403
    done = api.post("/v2/imports/purge", params={"olderThanDays": 90}, role="admin")
    assert done.status_code == 200, done.text
    assert done.json() == {"purged": [import_id], "count": 1}
    shown = api.get(f"/v2/imports/{import_id}", role="viewer").json()
    assert shown["filesPurgedAt"] is not None
    report = api.get(f"/v2/imports/{import_id}/report", params={"format": "csv"}, role="viewer")
    assert report.status_code == 409
    assert report.json()["errors"][0]["code"] == codes.FILES_PURGED


def test_the_cli_purges(engine: Engine, org: OrgHandle, tmp_path: Path) -> None:
    import_id = run(engine, org, csv(HEADER, ANN)).record["id"]
    age(engine, import_id, 31)
    patron = Patron(engine, org)
    assert patron.json("imports", "purge", "--older-than", "30") == {
        "purged": [import_id],
        "count": 1,
    }
    assert blob_kinds(engine, import_id) == set()
    assert "0 import(s)" in patron("imports", "purge", "--older-than", "30").stderr
    assert "files purged" in patron("imports", "show", str(import_id)).stdout
