"""POST /v2/exports and the export service: filters, fields, formats, neutralized cells, roles;
a list of at most 1,000 rows answered at once, more written by the worker and fetched by a
signed link that expires; files deleted after 7 days."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from patron.audit.tables import audit_log
from patron.auth import service as auth
from patron.auth.actor import Role
from patron.exports import answers, jobs, links
from patron.exports.tables import export_chunks, exports
from patron.kit.clock import utcnow
from patron.kit.db import transaction
from patron.orgs import service as orgs
from patron.settings import Settings
from patron.web import preferences
from patron.web import repository as console
from tests.conftest import Api, OrgHandle, error_codes, unique
from tests.exporting import as_dicts, csv_rows, fill_store, xlsx_rows
from tests.factories import register

SETTINGS = Settings()


def export(api: Api, role: str = "editor", **body: Any) -> Any:
    return api.post("/v2/exports", json=body, role=role)


def rows_of(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    content = response.content
    if response.headers["content-type"].startswith("text/csv"):
        return as_dicts(csv_rows(content))
    return as_dicts(xlsx_rows(content))


@pytest.fixture
def people(api: Api, engine: Engine, org: OrgHandle) -> dict[str, int]:
    """Four customers; two of their cities and a name a spreadsheet would evaluate."""
    with transaction(engine) as conn:
        orgs.add_field(conn, org.admin, kind="custom", name="city")
        orgs.add_field(conn, org.admin, kind="extended", name="tier")
    return {
        "tom": register(
            api,
            first_name="Tom",
            mobile="919010000022",
            email="tom@example.com",
            createDate="2024-01-05T10:00:00+00:00",
            profile={"fields": {"city": "=1+2"}},
        ),
        "becky": register(
            api,
            first_name="Becky",
            mobile="919010000033",
            loyalty_type="non_loyalty",
            createDate="2024-02-10T08:30:00+00:00",
            profile={"fields": {"city": "@SUM(A1)"}},
        ),
        "huck": register(
            api,
            first_name="Huck",
            mobile="919010000044",
            external_id="-EXT",
            createDate="2024-03-01T00:00:00+00:00",
            profile={"fields": {"city": "Pune"}},
        ),
        "ann": register(
            api,
            first_name="Ann",
            mobile="919010000055",
            email="ann@example.com",
            createDate="2024-03-02T00:00:00+00:00",
            identifiers=[{"type": "cuid", "value": "C-ANN"}],
        ),
    }


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_small_list_is_answered_at_once_with_the_lists_rows(
    api: Api, people: dict[str, int], fmt: str
) -> None:
    response = export(
        api,
        filters={"loyaltyType": "loyalty", "registeredFrom": "2024-01-01"},
        fields=["id", "firstName", "mobile", "email", "customField.city"],
        format=fmt,
    )
    assert response.headers["content-disposition"] == f'attachment; filename="profiles.{fmt}"'
    assert response.headers["x-export-rows"] == "3"
    rows = rows_of(response)
    listed = api.get("/v2/customers", params={"loyaltyType": "loyalty", "limit": 100}).json()
    assert [int(r["id"]) for r in rows] == [item["id"] for item in listed["data"]]
    assert rows == [
        {
            "id": str(people["ann"]),
            "firstName": "Ann",
            "mobile": "919010000055",
            "email": "ann@example.com",
            "customField.city": "",
        },
        {
            "id": str(people["huck"]),
            "firstName": "Huck",
            "mobile": "919010000044",
            "email": "",
            "customField.city": "Pune",
        },
        {
            "id": str(people["tom"]),
            "firstName": "Tom",
            "mobile": "919010000022",
            "email": "tom@example.com",
            # A spreadsheet would compute the cell: it keeps its text behind an apostrophe.
            "customField.city": "'=1+2",
        },
    ]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_every_formula_trigger_is_neutralized(api: Api, people: dict[str, int], fmt: str) -> None:
    rows = rows_of(export(api, fields="all", format=fmt, sort="registeredAt"))
    assert [r["customField.city"] for r in rows] == ["'=1+2", "'@SUM(A1)", "Pune", ""]
    assert rows[2]["externalId"] == "'-EXT"
    # The store's own values are what a direct read gives.
    assert rows[0]["firstName"] == "Tom"


def test_tab_carriage_return_plus_and_minus_are_neutralized_too() -> None:
    from patron.exports.writer import safe_page

    page = safe_page(["a", "b"], [["\tx", "\ry"], ["+1", "-2"], ["ok", None]])
    assert page.rows() == [("'\tx", "'\ry"), ("'+1", "'-2"), ("ok", None)]


def test_all_fields_hold_every_standard_column_identifier_type_and_declared_field(
    api: Api, people: dict[str, int]
) -> None:
    rows = rows_of(export(api, fields="all", filters={"q": "Huck"}))
    assert len(rows) == 1
    huck = rows[0]
    assert list(huck)[:6] == ["id", "firstName", "lastName", "mobile", "email", "externalId"]
    for column in ("cardnumber", "wechat", "customField.city", "extendedField.tier", "sources"):
        assert column in huck
    assert huck["registeredAt"] == "2024-03-01T00:00:00+00:00"
    assert huck["loyaltyType"] == "loyalty"
    assert huck["statusLabel"] == "Active"
    assert huck["sources"] == "INSTORE"


def test_displayed_fields_are_the_users_chosen_columns(
    api: Api, engine: Engine, org: OrgHandle, people: dict[str, int]
) -> None:
    # An API key has no console preferences: the list's default columns.
    rows = rows_of(export(api, fields="displayed", filters={"q": "Tom"}))
    assert list(rows[0]) == ["id", "firstName", "lastName", *preferences.DEFAULT_COLUMNS]
    name = unique("editor")
    with transaction(engine) as conn:
        auth.create_user(conn, org.admin, name, Role.editor, "a long password")
        user_id = int(auth.find_user(conn, org.id, name)["id"])  # type: ignore[index]
        console.put_preference(
            conn, org.id, user_id, preferences.DISPLAYED_FIELDS, ["fraudStatus", "mobile"]
        )
    basic = base64.b64encode(f"{name}:a long password".encode()).decode()
    response = api.client.post(
        "/v2/exports",
        json={"filters": {"q": "Tom"}},
        headers={"Authorization": f"Basic {basic}"},
    )
    rows = rows_of(response)
    # In the list's order, whatever order they were chosen in.
    assert rows == [
        {
            "id": str(people["tom"]),
            "firstName": "Tom",
            "lastName": "Sawyer",
            "mobile": "919010000022",
            "fraudStatus": "NOT_FRAUD",
        }
    ]


def test_refused_fields_filters_and_formats(api: Api, people: dict[str, int]) -> None:
    assert error_codes(export(api, fields=["mobile", "shoeSize"])) == [99007]
    assert error_codes(export(api, fields="some")) == [99007]
    assert error_codes(export(api, format="pdf")) == [99009]
    assert error_codes(export(api, filters={"colour": "red"})) == [99010]
    refused = export(api, filters={"loyaltyType": "gold"})
    assert refused.status_code == 400
    assert "loyaltyType" in refused.json()["errors"][0]["message"]


def test_viewers_export_only_where_the_org_allows_it(
    api: Api, engine: Engine, org: OrgHandle, people: dict[str, int]
) -> None:
    refused = export(api, role="viewer")
    assert refused.status_code == 403
    assert error_codes(refused) == [99006]
    assert len(rows_of(export(api, role="editor"))) == 4
    assert len(rows_of(export(api, role="admin"))) == 4
    with transaction(engine) as conn:
        orgs.change_settings(conn, org.admin, {"viewers_may_export": True})
    assert len(rows_of(export(api, role="viewer"))) == 4


def test_an_export_is_audited(api: Api, engine: Engine, org: OrgHandle, people: dict) -> None:
    rows_of(export(api, filters={"q": "Tom"}, fields=["id"]))
    with transaction(engine, write=False) as conn:
        entries = conn.execute(
            sa.select(audit_log.c.action, audit_log.c.details).where(
                audit_log.c.org_id == org.id, audit_log.c.action.like("export.%")
            )
        ).all()
    assert entries == [
        ("export.download", {"format": "csv", "fields": ["id"], "filters": {"q": "Tom"}, "rows": 1})
    ]


# --- more than 1,000 rows: a job ---------------------------------------------------------------


def run_exports(engine: Engine) -> int:
    return jobs.run_pending(engine, "test-worker", SETTINGS)


@pytest.fixture
def crowd(engine: Engine, org: OrgHandle) -> int:
    fill_store(engine, org, 1_301)
    return 1_301


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_more_than_1000_rows_make_a_job_whose_file_the_worker_writes(
    api: Api, engine: Engine, crowd: int, fmt: str
) -> None:
    started = export(
        api, filters={"loyaltyType": "loyalty"}, fields=["id", "customField.city"], format=fmt
    )
    assert started.status_code == 202, started.text
    # /openapi.json declares this answer (a JSONResponse: nothing filters it), and its sample.
    assert answers.ExportAnswer.model_validate(started.json()).export.state == "queued"
    sample = answers.ExportAnswer.model_config["json_schema_extra"]["examples"][0]  # type: ignore[index]
    answers.ExportAnswer.model_validate(sample)
    job = started.json()["export"]
    assert job["state"] == "queued"
    assert started.headers["location"] == f"/v2/exports/{job['id']}"
    assert api.get(f"/v2/exports/{job['id']}/file").json()["errors"][0]["code"] == 99002
    assert run_exports(engine) >= 1  # and any other test left queued
    done = api.get(f"/v2/exports/{job['id']}").json()["export"]
    loyal = crowd - (crowd + 4) // 5  # every fifth is non-loyalty
    assert done["state"] == "ready"
    assert done["rows"] == loyal
    assert done["file"] == f"/v2/exports/{job['id']}/file"
    response = api.get(done["file"])
    assert response.status_code == 200
    assert int(response.headers["content-length"]) == done["bytes"] == len(response.content)
    rows = as_dicts(csv_rows(response.content) if fmt == "csv" else xlsx_rows(response.content))
    assert len(rows) == loyal
    assert len({r["id"] for r in rows}) == loyal
    # Newest first, as the list; formulas neutralized.
    assert [int(r["id"]) for r in rows] == sorted((int(r["id"]) for r in rows), reverse=True)
    assert "'=HYPERLINK(1)" in {r["customField.city"] for r in rows}
    assert not any(r["customField.city"].startswith("=") for r in rows)
    # The signed link works without credentials.
    signed = api.client.get(done["download"])
    assert signed.status_code == 200
    assert signed.content == response.content
    assert f"profiles-{job['id']}.{fmt}" in signed.headers["content-disposition"]


def test_the_signed_link_refuses_a_changed_signature_id_or_expiry(
    api: Api, engine: Engine, crowd: int
) -> None:
    job = export(api).json()["export"]
    run_exports(engine)
    link = api.get(f"/v2/exports/{job['id']}").json()["export"]["download"]
    assert api.client.get(link).status_code == 200
    path, _, query = link.partition("?")
    params = dict(pair.split("=") for pair in query.split("&"))
    forged = {**params, "signature": params["signature"][:-1] + "0"}
    if forged == params:
        forged["signature"] = params["signature"][:-1] + "1"
    later = {**params, "expires": str(int(params["expires"]) + 3600)}
    assert path == f"/exports/{job['id']}/download"
    # A console page for a browser: refusals are pages, not JSON.
    for bad in (forged, later, {"expires": params["expires"]}, {}):
        refused = api.client.get(path, params=bad)
        assert refused.status_code == 403
        assert "This download link is not valid" in refused.text
    other = api.client.get(f"/exports/{job['id'] + 1}/download", params=params)
    assert other.status_code == 403
    beyond = api.client.get(f"/exports/{2**64}/download", params=params)
    assert beyond.status_code == 403
    # A link signed right, but whose time is up.
    past = links.download_path(SETTINGS.secret_key, job["id"], utcnow() - timedelta(seconds=1))
    expired = api.client.get(past)
    assert expired.status_code == 403
    assert "This download link has expired" in expired.text


def test_files_are_deleted_after_seven_days(
    api: Api, engine: Engine, org: OrgHandle, crowd: int
) -> None:
    job = export(api).json()["export"]
    run_exports(engine)
    assert jobs.purge_expired(engine) == 0
    with transaction(engine) as conn:
        held = conn.execute(
            sa.select(sa.func.count()).where(export_chunks.c.export_id == job["id"])
        ).scalar_one()
        assert held >= 1
        conn.execute(
            exports.update()
            .where(exports.c.id == job["id"])
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    assert jobs.purge_expired(engine) >= 1
    found = api.get(f"/v2/exports/{job['id']}").json()["export"]
    assert found["state"] == "expired"
    gone = api.get(f"/v2/exports/{job['id']}/file")
    assert gone.status_code == 409
    assert error_codes(gone) == [99003]
    with transaction(engine, write=False) as conn:
        left = conn.execute(
            sa.select(sa.func.count()).where(export_chunks.c.export_id == job["id"])
        ).scalar_one()
    assert left == 0


def test_exports_are_listed_to_their_owner_and_admins(
    api: Api, other_api: Api, engine: Engine, crowd: int
) -> None:
    mine = export(api, role="editor").json()["export"]["id"]
    admins = export(api, role="admin").json()["export"]["id"]
    assert [e["id"] for e in api.get("/v2/exports", role="editor").json()["data"]] == [mine]
    assert [e["id"] for e in api.get("/v2/exports", role="admin").json()["data"]] == [
        admins,
        mine,
    ]
    assert api.get(f"/v2/exports/{admins}", role="editor").status_code == 404
    assert api.get(f"/v2/exports/{mine}", role="admin").status_code == 200
    # Another org's export is unknown.
    assert other_api.get(f"/v2/exports/{mine}", role="admin").status_code == 404
    assert error_codes(api.get("/v2/exports/999999999999")) == [99001]
