"""``/v2/imports`` over HTTP: upload, paste, preview, rows, confirm, report, undo, templates,
roles and tenancy."""

from __future__ import annotations

import io
import json

import polars as pl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from patron.imports import jobs
from tests.conftest import Api, OrgHandle, error_codes
from tests.importing import csv, import_org

HEADER = "First Name,Last Name,Mobile,Email,Store"
FILE = csv(
    HEADER,
    "Ann,Lee,919800003001,ann@example.com,mal",
    '=HYPERLINK("http://x"),Ray,919800003002,,mal',
    "Cy,Dee,12,,mal",
)


@pytest.fixture
def org(engine: Engine) -> OrgHandle:
    return import_org(engine)


@pytest.fixture
def api(app_client: TestClient, org: OrgHandle) -> Api:
    return Api(app_client, org)


def upload(api: Api, content: str | bytes = FILE, name: str = "customers.csv", **form: str):  # type: ignore[no-untyped-def]
    data = content.encode() if isinstance(content, str) else content
    return api.post("/v2/imports", files={"file": (name, data, "text/csv")}, data=form)


def drain(engine: Engine) -> None:
    jobs.run_pending(engine)


def test_upload_preview_confirm_and_report(engine: Engine, api: Api) -> None:
    created = upload(api)
    assert created.status_code == 202, created.text
    body = created.json()
    assert body["state"] == "validating"
    assert body["mapping"] == {
        "First Name": "first_name",
        "Last Name": "last_name",
        "Mobile": "mobile",
        "Email": "email",
        "Store": "store",
    }
    assert {s["column"]: s["reason"] for s in body["suggestions"]}["Mobile"] == "normalized"
    import_id = body["id"]
    drain(engine)
    preview = api.get(f"/v2/imports/{import_id}", role="viewer").json()
    assert preview["state"] == "previewed"
    assert preview["counts"] == {
        "total": 3,
        "inserted": 1,
        "updated": 0,
        "skipped": 0,
        "rejected": 2,
        "auto_corrected": 0,
    }
    rejected = api.get(f"/v2/imports/{import_id}/rows?status=rejected", role="viewer").json()
    assert rejected["pagination"]["total"] == 2
    assert [r["row"] for r in rejected["data"]] == [3, 4]
    assert rejected["data"][1]["errors"] == [
        {
            "code": 97009,
            "message": "invalid mobile number: "
            "mobile number 12 does not match the org's mobile rule",
        }
    ]
    assert (
        api.get(
            "/v2/customers/lookup?identifierName=mobile&identifierValue=919800003001"
        ).status_code
        == 404
    )  # nothing written before the confirmation
    confirmed = api.post(f"/v2/imports/{import_id}/confirm")
    assert confirmed.status_code == 202
    assert confirmed.json()["state"] == "queued"
    drain(engine)
    done = api.get(f"/v2/imports/{import_id}").json()
    assert done["state"] == "committed"
    found = api.get("/v2/customers/lookup?identifierName=mobile&identifierValue=919800003001")
    assert found.status_code == 200
    report = api.get(f"/v2/imports/{import_id}/report?format=csv", role="viewer")
    assert report.status_code == 200
    assert report.headers["content-type"].startswith("text/csv")
    assert report.content.startswith(b"\xef\xbb\xbf")
    frame = pl.read_csv(io.BytesIO(report.content), infer_schema=False)
    assert frame.columns == [
        *HEADER.split(","),
        "status",
        "errors",
        "auto_corrections",
        "customer_id",
    ]
    assert frame["status"].to_list() == ["inserted", "rejected", "rejected"]
    assert frame["First Name"][1] == '\'=HYPERLINK("http://x")'  # never evaluated
    assert frame["customer_id"][0] == str(found.json()["entity"])
    xlsx = api.get(f"/v2/imports/{import_id}/report?format=xlsx", role="viewer")
    assert xlsx.status_code == 200
    sheet = pl.read_excel(io.BytesIO(xlsx.content), engine="calamine")
    assert sheet["status"].to_list() == ["inserted", "rejected", "rejected"]


def test_pasted_rows_are_mapped_by_position(engine: Engine, api: Api) -> None:
    mapping = {"column_1": "first_name", "column_2": "mobile", "column_3": "store"}
    created = api.post(
        "/v2/imports",
        data={
            "text": "Ann\t919800003101\tmal\nBob\t919800003102\tmal\n",
            "mapping": json.dumps(mapping),
        },
    )
    assert created.status_code == 202, created.text
    assert created.json()["fileFormat"] == "pasted"
    drain(engine)
    rows = api.get(f"/v2/imports/{created.json()['id']}/rows").json()
    assert [(r["row"], r["status"]) for r in rows["data"]] == [(1, "inserted"), (2, "inserted")]


def test_undo_over_http(engine: Engine, api: Api) -> None:
    import_id = upload(api).json()["id"]
    drain(engine)
    api.post(f"/v2/imports/{import_id}/confirm")
    drain(engine)
    assert api.post(f"/v2/imports/{import_id}/undo").status_code == 202
    drain(engine)
    assert api.get(f"/v2/imports/{import_id}").json()["state"] == "undone"
    assert (
        api.get(
            "/v2/customers/lookup?identifierName=mobile&identifierValue=919800003001"
        ).status_code
        == 404
    )
    again = api.post(f"/v2/imports/{import_id}/undo")
    assert again.status_code == 409
    assert error_codes(again) == [96201]


def test_file_errors_are_clear_and_create_nothing(api: Api) -> None:
    ragged = upload(api, csv(HEADER, "Ann,Lee,919800003201"))
    assert ragged.status_code == 400
    assert error_codes(ragged) == [96009]
    assert "line 2 has 3 cells but the header has 5" in ragged.json()["errors"][0]["message"]
    pdf = upload(api, b"%PDF-1.4", name="customers.pdf")
    assert error_codes(pdf) == [96005]
    unmapped = upload(api, csv("Colour,Size", "red,M"))
    assert unmapped.status_code == 400
    assert error_codes(unmapped) == [96103]
    bad_option = upload(api, options=json.dumps({"append_country_code": "maybe"}))
    assert error_codes(bad_option) == [96105]
    unknown_option = upload(api, options=json.dumps({"overwrite": True}))
    assert error_codes(unknown_option) == [96105]
    missing_column = upload(api, mapping=json.dumps({"Phone": "mobile", "Store": "store"}))
    assert error_codes(missing_column) == [96101]
    assert api.get("/v2/imports").json()["pagination"]["total"] == 0


def test_templates_crud_roles_and_use(engine: Engine, api: Api) -> None:
    template = {
        "name": "stores weekly",
        "mapping": {"Mob": "mobile", "Shop": "store"},
        "options": {"append_country_code": True},
        "date_format": "%d/%m/%Y",
    }
    assert api.post("/v2/imports/templates", json=template).status_code == 403  # editor
    created = api.post("/v2/imports/templates", json=template, role="admin")
    assert created.status_code == 201, created.text
    template_id = created.json()["id"]
    assert created.json()["options"] == {"append_country_code": True}
    duplicate = api.post("/v2/imports/templates", json=template, role="admin")
    assert duplicate.status_code == 409
    assert error_codes(duplicate) == [96106]
    listed = api.get("/v2/imports/templates", role="viewer").json()["data"]
    assert [t["name"] for t in listed] == ["stores weekly"]
    changed = api.put(
        f"/v2/imports/templates/{template_id}", role="admin", json={**template, "name": "weekly"}
    )
    assert changed.json()["name"] == "weekly"
    import_id = upload(api, csv("Mob,Shop", "9800003301,mal"), template="weekly").json()["id"]
    drain(engine)
    rows = api.get(f"/v2/imports/{import_id}/rows").json()["data"]
    assert rows[0]["status"] == "inserted"
    assert rows[0]["autoCorrections"] == ["Mob: country code 91 added"]
    assert api.delete(f"/v2/imports/templates/{template_id}", role="admin").status_code == 204
    assert api.get(f"/v2/imports/templates/{template_id}").status_code == 404


def test_suggestions_learn_from_earlier_templates(api: Api) -> None:
    api.post(
        "/v2/imports/templates",
        role="admin",
        json={"name": "t", "mapping": {"Handphone": "mobile", "Store": "store"}},
    )
    response = api.post(
        "/v2/imports/suggestions",
        files={"file": ("a.csv", b"Handphone,Store\n1,mal\n", "text/csv")},
    )
    assert response.status_code == 200, response.text
    assert response.json()["suggestions"][0] == {
        "column": "Handphone",
        "field": "mobile",
        "confidence": 0.85,
        "reason": "earlier template",
    }


def test_roles_and_tenancy(engine: Engine, api: Api, other_api: Api) -> None:
    assert upload_as(api, "viewer").status_code == 403
    import_id = upload(api).json()["id"]
    drain(engine)
    for method, path in (
        ("GET", f"/v2/imports/{import_id}"),
        ("GET", f"/v2/imports/{import_id}/rows"),
        ("GET", f"/v2/imports/{import_id}/report"),
        ("POST", f"/v2/imports/{import_id}/confirm"),
        ("POST", f"/v2/imports/{import_id}/cancel"),
        ("POST", f"/v2/imports/{import_id}/undo"),
    ):
        response = other_api.request(method, path)
        assert response.status_code == 404, (method, path)
        assert error_codes(response) == [96203]
    assert api.post(f"/v2/imports/{import_id}/confirm", role="viewer").status_code == 403
    assert other_api.get("/v2/imports").json()["pagination"]["total"] == 0


def upload_as(api: Api, role: str):  # type: ignore[no-untyped-def]
    return api.post("/v2/imports", role=role, files={"file": ("c.csv", FILE.encode(), "text/csv")})


def test_profiles_list_fields_and_options(api: Api) -> None:
    profiles = api.get("/v2/imports/profiles", role="viewer").json()["profiles"]
    loyalty = profiles[0]
    assert loyalty["id"] == "loyalty-customers"
    names = [f["name"] for f in loyalty["fields"]]
    assert "mobile" in names
    assert "custom.dateofbirth" in names
    assert [o["name"] for o in loyalty["options"]] == [
        "disable_existing_update",
        "skip_empty_custom_fields",
        "update_fields",
        "replace_invalid_store",
        "append_country_code",
        "disable_mobile_validation",
        "disable_email_validation",
        "stores_by_external_id",
        "unique_identifier",
    ]


def test_an_upload_confirmed_up_front_commits_without_a_preview(engine: Engine, api: Api) -> None:
    created = upload(api, confirm="true")
    assert created.status_code == 202, created.text
    body = created.json()
    assert body["state"] == "queued"
    drain(engine)
    done = api.get(f"/v2/imports/{body['id']}").json()
    assert done["state"] == "committed"
    assert (done["counts"]["inserted"], done["counts"]["rejected"]) == (1, 2)
    rows = api.get(f"/v2/imports/{body['id']}/rows?status=rejected").json()["data"]
    assert [r["row"] for r in rows] == [3, 4]
    ann = api.get("/v2/customers/lookup?identifierName=mobile&identifierValue=919800003001")
    assert ann.status_code == 200


def test_a_confirmed_import_that_cannot_be_planned_is_invalid_at_once(
    engine: Engine, api: Api
) -> None:
    data = csv("Coupon Series Id,Coupon Code,Till IUN,User Identification Input,Redeemed Date,"
               "Transaction Number", "1,C1,mal,919800003001,2024-01-01,B1")  # fmt: skip
    created = upload(
        api,
        data,
        profile="coupon-redemption",
        options=json.dumps({"replace_invalid_series_id": "4242"}),
        confirm="true",
    )
    assert created.status_code == 202, created.text
    drain(engine)
    done = api.get(f"/v2/imports/{created.json()['id']}").json()
    assert done["state"] == "invalid"
    assert "4242 is not a coupon series of this org" in done["message"]
    assert done["attempts"] == 0


def test_an_upload_records_the_consent_its_form_sets(engine: Engine, api: Api) -> None:
    refused = upload(api, consent=json.dumps({"SMS": "MAYBE"}))
    assert refused.status_code == 400
    assert error_codes(refused) == [96109]
    created = upload(api, consent=json.dumps({"SMS": "OPTIN", "EMAIL": "optout"}), confirm="true")
    assert created.status_code == 202, created.text
    assert created.json()["consent"] == {"SMS": "OPTIN", "EMAIL": "OPTOUT"}
    drain(engine)
    ann = api.get("/v2/customers/lookup?identifierName=mobile&identifierValue=919800003001")
    ledger = api.get(f"/v2/customers/{ann.json()['entity']}/consents").json()["data"]
    recorded = {(e["channel"], e["type"], e["origin"]) for e in ledger}
    origin = f"import:{created.json()['id']}"
    assert {("SMS", "OPTIN", origin), ("EMAIL", "OPTOUT", origin)} <= recorded


def test_answers_carry_every_key_their_models_declare(
    engine: Engine, api: Api, org: OrgHandle
) -> None:
    """The answer models filter what the endpoints build: a key the renderer adds but the
    model lacks would vanish silently from the answer."""
    from patron.imports import answers
    from patron.imports import repository as repo
    from patron.imports.endpoints import _import, _template

    body = upload(api).json()
    assert set(body) == set(answers.CreatedImport.model_fields)
    template = {"name": "weekly", "mapping": {"Mobile": "mobile"}}
    assert api.post("/v2/imports/templates", json=template, role="admin").status_code == 201
    with engine.connect() as conn:
        found = repo.get_import(conn, org.id, body["id"])
        assert found is not None
        assert set(_import(found)) == set(answers.ImportDetails.model_fields)
        saved = repo.list_templates(conn, org.id, None)
        assert set(_template(saved[0])) == set(answers.ImportTemplate.model_fields)
    profiles = api.get("/v2/imports/profiles").json()["profiles"]
    options = [o for p in profiles for o in p["options"]]
    # ``choices`` only where an option has a fixed set of values: never a null.
    assert any("choices" in o for o in options)
    assert any("choices" not in o for o in options)
    assert all(o.get("choices", [0]) for o in options)
