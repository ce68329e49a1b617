"""``POST /v2/imports/{id}/resubmit``: rejected rows, corrected, become a new import linked to
the first (same profile, mapping, options and consent), previewed or committed like any."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from patron.customer.tables import identifiers
from patron.imports import jobs, service
from patron.imports import resubmit as resubmits
from patron.kit.db import transaction
from tests.conftest import Api, OrgHandle, error_codes
from tests.importing import csv, editor, import_org

FILE = csv(
    "First Name,Last Name,Mobile,Email,Store,Notes",
    "Ann,Lee,919800004001,ann@example.com,mal,first",
    "Bob,Ray,12,bob@example.com,mal,second",
    "Cy,Dee,919800004003,not-an-email,mal,third",
    "Di,Fox,919800004004,,nowhere,fourth",
)
MAPPING = (
    '{"First Name": "first_name", "Last Name": "last_name", "Mobile": "mobile", '
    '"Email": "email", "Store": "store"}'
)


@pytest.fixture
def org(engine: Engine) -> OrgHandle:
    return import_org(engine)


@pytest.fixture
def api(app_client: TestClient, org: OrgHandle) -> Api:
    return Api(app_client, org)


def previewed(engine: Engine, api: Api, content: str = FILE, **form: str) -> dict[str, Any]:
    created = api.post(
        "/v2/imports",
        files={"file": ("customers.csv", content.encode(), "text/csv")},
        data={"mapping": MAPPING, **form},
    )
    assert created.status_code == 202, created.text
    jobs.run_pending(engine)
    found: dict[str, Any] = api.get(f"/v2/imports/{created.json()['id']}").json()
    assert found["state"] == "previewed", found["message"]
    return found


def committed(engine: Engine, api: Api, import_id: int) -> dict[str, Any]:
    assert api.post(f"/v2/imports/{import_id}/confirm").status_code == 202
    jobs.run_pending(engine)
    found: dict[str, Any] = api.get(f"/v2/imports/{import_id}").json()
    assert found["state"] == "committed", found["message"]
    return found


def mobiles(engine: Engine, org: OrgHandle) -> set[str]:
    query = sa.select(identifiers.c.value).where(
        identifiers.c.org_id == org.id, identifiers.c.type == "mobile"
    )
    with transaction(engine, write=False) as conn:
        return set(conn.execute(query).scalars())


def test_corrected_rows_become_a_linked_import(engine: Engine, api: Api, org: OrgHandle) -> None:
    first = previewed(engine, api, options='{"append_country_code": true}')
    assert first["counts"]["rejected"] == 3
    committed(engine, api, first["id"])
    answer = api.post(
        f"/v2/imports/{first['id']}/resubmit",
        json={
            "rows": [
                {"row": 5, "values": {"Store": "blr"}},
                {"row": 3, "values": {"Mobile": "9800004002"}},
            ]
        },
    )
    assert answer.status_code == 202, answer.text
    second = answer.json()
    assert second["resubmitOf"] == first["id"]
    assert second["state"] == "validating"
    assert second["rows"] == 2
    assert (second["profile"], second["mapping"]) == (first["profile"], first["mapping"])
    assert second["options"]["append_country_code"] is True
    jobs.run_pending(engine)
    rows = api.get(f"/v2/imports/{second['id']}/rows").json()["data"]
    # File order: row 3 of the first file comes first, then row 5.
    assert [(r["row"], r["status"]) for r in rows] == [(2, "inserted"), (3, "inserted")]
    assert rows[0]["autoCorrections"], "the country code was added: the options came along"
    committed(engine, api, second["id"])
    assert {"919800004002", "919800004004"} <= mobiles(engine, org)
    # The report keeps the file's columns, unmapped ones as they were.
    report = api.get(f"/v2/imports/{second['id']}/report?format=csv").content.decode("utf-8-sig")
    assert report.splitlines()[1].startswith("Bob,Ray,9800004002,bob@example.com,mal,second,")
    with transaction(engine, write=False) as conn:
        links = resubmits.links_of(conn, editor(org), first["id"])
    assert links.sort("row").select("original_row", "import_id", "row").rows() == [
        (1, second["id"], 0),
        (3, second["id"], 1),
    ]


def test_only_rejected_rows_and_mapped_columns(engine: Engine, api: Api) -> None:
    first = previewed(engine, api)
    path = f"/v2/imports/{first['id']}/resubmit"

    def refused(rows: list[dict[str, Any]]) -> list[int]:
        answer = api.post(path, json={"rows": rows})
        assert answer.status_code == 400, answer.text
        return error_codes(answer)

    assert refused([{"row": 2, "values": {}}]) == [96208]  # inserted, not rejected
    assert refused([{"row": 9, "values": {}}]) == [96208]  # no such row
    assert refused([{"row": 3, "values": {}}, {"row": 3, "values": {}}]) == [96208]
    assert refused([{"row": 3, "values": {"Notes": "x"}}]) == [96209]  # not mapped
    assert refused([{"row": 3, "values": {"Phone": "1"}}]) == [96209]  # no such column
    assert api.post(path, json={"rows": []}).status_code == 400
    unknown = api.post("/v2/imports/2000000000/resubmit", json={"rows": [{"row": 2}]})
    assert (unknown.status_code, error_codes(unknown)) == (404, [96203])
    viewer = api.post(path, json={"rows": [{"row": 3}]}, role="viewer")
    assert viewer.status_code == 403
    # Nothing was created by the refusals.
    listed = api.get("/v2/imports").json()["data"]
    assert [found["id"] for found in listed] == [first["id"]]


def test_confirmed_up_front_and_pasted_rows(engine: Engine, api: Api, org: OrgHandle) -> None:
    pasted = api.post(
        "/v2/imports",
        data={
            "text": "Eve\t919800004011\tmal\nFay\t555\tmal\n",
            "mapping": '{"column_1": "first_name", "column_2": "mobile", "column_3": "store"}',
        },
    )
    assert pasted.status_code == 202, pasted.text
    jobs.run_pending(engine)
    first_id = pasted.json()["id"]
    rejected = api.get(f"/v2/imports/{first_id}/rows?status=rejected").json()["data"]
    assert [r["row"] for r in rejected] == [2]  # pasted rows count from 1
    answer = api.post(
        f"/v2/imports/{first_id}/resubmit",
        json={"rows": [{"row": 2, "values": {"column_2": "919800004012"}}], "confirm": True},
    )
    assert answer.status_code == 202, answer.text
    assert answer.json()["state"] == "queued"
    jobs.run_pending(engine)
    done = api.get(f"/v2/imports/{answer.json()['id']}").json()
    assert (done["state"], done["counts"]["inserted"]) == ("committed", 1)
    assert "919800004012" in mobiles(engine, org)


def test_an_other_orgs_import_is_unknown(engine: Engine, api: Api, other_api: Api) -> None:
    first = previewed(engine, api)
    answer = other_api.post(f"/v2/imports/{first['id']}/resubmit", json={"rows": [{"row": 3}]})
    assert (answer.status_code, error_codes(answer)) == (404, [96203])


def test_a_resubmit_links_rows_for_the_report(engine: Engine, api: Api, org: OrgHandle) -> None:
    first = previewed(engine, api)
    second = api.post(f"/v2/imports/{first['id']}/resubmit", json={"rows": [{"row": 4}]}).json()
    with transaction(engine, write=False) as conn:
        record = service.get_import(conn, editor(org), second["id"])
        found = resubmits.origins_of(conn, editor(org), record)
    # Its first row was row 4 of the file (index 2).
    assert found.select("row", "original_row").rows() == [(0, 2)]
