"""The Customer Status Import profile: labels, identifiers, options, errors, the change log,
undo, and the seed's sample."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from patron.audit.tables import change_log
from patron.imports.codes import RowCode
from patron.kit.db import transaction
from patron.kit.errors import InvalidInput
from patron.orgs import service as orgs
from tests.conftest import Api, OrgHandle
from tests.factories import register
from tests.importing import csv, import_org, result, run, start, undo

PROFILE = {"profile": "customer-status"}


@pytest.fixture
def org(engine: Engine) -> OrgHandle:
    org = import_org(engine)
    with transaction(engine) as conn:
        orgs.add_label(conn, org.admin, label="On Hold", system_status="Suspended")
    return org


@pytest.fixture
def api(app_client: TestClient, org: OrgHandle) -> Api:
    return Api(app_client, org)


def status(api: Api, customer_id: int) -> str:
    response = api.get(f"/v2/customers/{customer_id}")
    assert response.status_code == 200, response.text
    return str(response.json()["status"]["label"])


def logged(engine: Engine, customer_id: int) -> list[dict[str, Any]]:
    with transaction(engine, write=False) as conn:
        rows = conn.execute(
            sa.select(change_log.c.details, change_log.c.cause, change_log.c.actor)
            .where(change_log.c.customer_id == customer_id, change_log.c.change_type == "STATUS")
            .order_by(change_log.c.id)
        ).mappings()
        return [dict(row) for row in rows]


def test_labels_change_and_the_change_log_names_the_import(
    engine: Engine, org: OrgHandle, api: Api
) -> None:
    tom = register(api, mobile="919800005001")
    becky = register(api, mobile="919800005002")
    done = run(
        engine,
        org,
        csv("Mobile,Status Label", "919800005001,on hold", "919800005002,Active"),
        **PROFILE,
    )
    assert done.statuses() == ["updated", "skipped"]
    assert (done.row(2)["customer_id"], done.row(3)["customer_id"]) == (tom, becky)
    assert done.counts["updated"] == 1
    assert status(api, tom) == "On Hold"
    import_id = done.record["id"]
    assert logged(engine, tom) == [
        {
            "details": {"from": "Active", "to": "On Hold", "reason": f"import {import_id}"},
            "cause": f"import:{import_id}",
            "actor": f"import:{import_id}",
        }
    ]
    assert logged(engine, becky) == []
    history = api.get(f"/v2/customers/{tom}/changeRequest?changeType=STATUS").json()
    assert history["data"][0]["changeType"] == "STATUS"


def test_the_seed_sample_explains_its_missing_cell(engine: Engine, org: OrgHandle) -> None:
    # The sample's header has five cells (the last one empty), its row three.
    sample = csv("Mobile,External ID,Status Label,StoreCode,", "91982737437,Active,store.4683")
    with pytest.raises(InvalidInput) as refused:
        start(engine, org, sample, **PROFILE)
    assert refused.value.code == 96009
    assert "line 2 has 3 cells but the header has 5" in refused.value.message


def test_the_seed_sample_with_its_row_completed(engine: Engine, org: OrgHandle, api: Api) -> None:
    tom = register(api, mobile="91982737437")
    with transaction(engine) as conn:
        orgs.add_unit(conn, org.admin, kind="store", code="store.4683")
    done = run(
        engine,
        org,
        csv("Mobile,External ID,Status Label,StoreCode", "91982737437,,Suspended,store.4683"),
        **PROFILE,
    )
    assert done.statuses() == ["updated"]
    assert status(api, tom) == "Suspended"


@pytest.mark.parametrize(
    ("cell", "code", "message"),
    [
        ("", RowCode.STATUS_LABEL_EMPTY, "the customer status label is empty"),
        ("Gold", RowCode.STATUS_LABEL_UNKNOWN, "unknown status label 'Gold'; the org's labels"),
        ("Deleted", RowCode.STATUS_LABEL_UNKNOWN, "the label 'Deleted' marks deleted customers"),
    ],
)
def test_label_errors(
    engine: Engine, org: OrgHandle, api: Api, cell: str, code: int, message: str
) -> None:
    tom = register(api, mobile="919800005011")
    done = run(engine, org, csv("Mobile,Status Label", f"919800005011,{cell}"), **PROFILE)
    assert done.codes(2) == [code]
    assert done.row(2)["errors"][0].startswith(message)
    assert status(api, tom) == "Active"


def test_customer_errors(engine: Engine, org: OrgHandle, api: Api) -> None:
    marked = register(api, mobile="919800005021")
    fraud = api.put(
        f"/v2/customers/{marked}/fraudStatus",
        json={"status": "MARKED", "reason": "chargebacks"},
        role="admin",
    )
    assert fraud.status_code == 200, fraud.text
    register(api, mobile="919800005022")
    done = run(
        engine,
        org,
        csv(
            "Mobile,Status Label",
            "919800005021,Suspended",  # marked as fraud
            "919800005099,Suspended",  # nobody
            "919800005022,Suspended",  # twice
            "919800005022,Active",
            "12,Suspended",  # invalid mobile
            ",Suspended",  # no mobile
        ),
        **PROFILE,
    )
    assert done.statuses() == ["rejected"] * 6
    assert done.codes(2) == [RowCode.CUSTOMER_FRAUD]
    assert done.row(2)["errors"] == [f"the customer (id {marked}) is marked as fraud (MARKED)"]
    assert done.codes(3) == [RowCode.CUSTOMER_UNKNOWN]
    assert done.row(3)["errors"] == ["no customer of this org has mobile 919800005099"]
    assert done.codes(4) == done.codes(5) == [RowCode.DUPLICATE_CUSTOMER_IN_FILE]
    assert done.row(4)["errors"] == ["duplicate mobile 919800005022 in the file: also in row 5"]
    assert done.codes(6) == [RowCode.INVALID_MOBILE]
    assert done.codes(7) == [RowCode.IDENTIFIER_EMPTY]
    assert done.counts["rejected"] == 6


def test_a_deleted_customer_is_not_brought_back(engine: Engine, org: OrgHandle, api: Api) -> None:
    gone = register(api, mobile="919800005031", external_id="GONE-1")
    response = api.delete(
        f"/v2/customers/{gone}", params={"reason": "asked to be forgotten"}, role="admin"
    )
    assert response.status_code == 200, response.text
    done = run(
        engine,
        org,
        csv("User ID,Status Label", f"{gone},Suspended"),
        profile="customer-status",
        options={"unique_identifier": "user_id"},
    )
    assert done.codes(2) == [RowCode.DELETED_CUSTOMER]


@pytest.mark.parametrize(
    ("key", "header", "value"),
    [
        ("email", "Email", " Tom@Example.com"),
        ("external_id", "External ID", "EXT-41"),
        ("user_id", "User ID", None),
    ],
)
def test_the_unique_identifier_option(
    engine: Engine, org: OrgHandle, api: Api, key: str, header: str, value: str | None
) -> None:
    tom = register(api, mobile="919800005041", email="tom@example.com", external_id="EXT-41")
    cell = value if value is not None else str(tom)
    done = run(
        engine,
        org,
        csv(f"{header},Status Label", f"{cell},On Hold"),
        profile="customer-status",
        options={"unique_identifier": key},
    )
    assert done.statuses() == ["updated"]
    assert done.row(2)["customer_id"] == tom
    assert status(api, tom) == "On Hold"
    if key == "email":
        assert done.row(2)["auto_corrections"] == [
            "Email: whitespace trimmed",
            "Email: email lower-cased",
        ]


def test_a_merged_user_id_changes_the_survivor(engine: Engine, org: OrgHandle, api: Api) -> None:
    survivor = register(api, mobile="919800005051")
    victim = register(api, email="victim@example.com", source="WEBSITE", loyalty_type="non_loyalty")
    response = api.post(
        f"/v2/customers/{victim}/changeIdentifier",
        params={"source": "WEBSITE"},
        json={"add": [{"type": "mobile", "value": "919800005051"}]},
    )
    assert response.status_code == 200, response.text
    done = run(
        engine,
        org,
        csv("User ID,Status Label", f"{victim},On Hold"),
        profile="customer-status",
        options={"unique_identifier": "user_id"},
    )
    assert done.row(2)["customer_id"] == survivor
    assert status(api, survivor) == "On Hold"


def test_the_store_is_optional_but_must_be_known(engine: Engine, org: OrgHandle, api: Api) -> None:
    register(api, mobile="919800005061")
    register(api, mobile="919800005062")
    register(api, mobile="919800005063")
    done = run(
        engine,
        org,
        csv(
            "Mobile,Status Label,Store Code",
            "919800005061,On Hold,",
            "919800005062,On Hold,mal",
            "919800005063,On Hold,nowhere",
        ),
        **PROFILE,
    )
    assert done.statuses() == ["updated", "updated", "rejected"]
    assert done.codes(4) == [RowCode.STORE_UNKNOWN]
    by_external = run(
        engine,
        org,
        csv("Mobile,Status Label,Store Code", "919800005063,On Hold,EXT-BLR"),
        profile="customer-status",
        options={"stores_by_external_id": True},
    )
    assert by_external.statuses() == ["updated"]


def test_undo_restores_and_leaves_later_changes(engine: Engine, org: OrgHandle, api: Api) -> None:
    tom = register(api, mobile="919800005071")
    becky = register(api, mobile="919800005072")
    done = run(
        engine,
        org,
        csv("Mobile,Status Label", "919800005071,On Hold", "919800005072,On Hold"),
        **PROFILE,
    )
    assert done.statuses() == ["updated", "updated"]
    changed = api.put(
        "/v2/customers/lookup/status",
        params={"identifierName": "mobile", "identifierValue": "919800005072"},
        json={"label": "Internal", "reason": "staff"},
    )
    assert changed.status_code == 200, changed.text
    undone = undo(engine, org, done.record["id"])
    assert undone.state == "undone"
    assert undone.counts["undo_conflicts"] == 1
    assert status(api, tom) == "Active"
    assert status(api, becky) == "Internal"
    assert [entry["cause"] for entry in logged(engine, tom)] == [
        f"import:{done.record['id']}",
        f"undo:import:{done.record['id']}",
    ]
    conflicts = api.get(f"/v2/imports/{done.record['id']}/conflicts").json()["data"]
    assert conflicts == [
        {
            "customer_id": becky,
            "field": "status_label",
            "reason": "the status changed again since the import",
        }
    ]


def test_a_preview_changes_nothing(engine: Engine, org: OrgHandle, api: Api) -> None:
    tom = register(api, mobile="919800005081")
    import_id = start(engine, org, csv("Mobile,Status Label", "919800005081,On Hold"), **PROFILE)
    preview = result(engine, org, import_id)
    assert preview.state == "previewed"
    assert preview.counts["updated"] == 1
    assert status(api, tom) == "Active"
    assert logged(engine, tom) == []
