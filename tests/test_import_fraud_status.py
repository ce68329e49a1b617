"""The Update Fraud Status profile: the seed's sample, statuses, identifiers, stores, options,
errors, the change log, the freeze it puts on customers, undo and the preview."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from patron.audit.tables import change_log
from patron.imports.codes import MAPPING_MISSING_FIELD, RowCode
from patron.kit.db import transaction
from patron.kit.errors import InvalidInput
from patron.orgs import service as orgs
from tests.conftest import Api, OrgHandle, error_codes
from tests.factories import register
from tests.importing import csv, import_org, result, run, snapshot, start, undo
from tests.test_cli_import import Patron

PROFILE = {"profile": "fraud-status"}
HEADER = "Mobile,Status,Reason,StoreCode"


@pytest.fixture
def org(engine: Engine) -> OrgHandle:
    return import_org(engine)


@pytest.fixture
def api(app_client: TestClient, org: OrgHandle) -> Api:
    return Api(app_client, org)


def fraud(api: Api, customer_id: int) -> dict[str, Any]:
    response = api.get(f"/v2/customers/{customer_id}")
    assert response.status_code == 200, response.text
    return dict(response.json()["fraudDetails"])


def logged(engine: Engine, customer_id: int) -> list[dict[str, Any]]:
    with transaction(engine, write=False) as conn:
        rows = conn.execute(
            sa.select(change_log.c.details, change_log.c.cause)
            .where(change_log.c.customer_id == customer_id, change_log.c.change_type == "FRAUD")
            .order_by(change_log.c.id)
        ).mappings()
        return [dict(row) for row in rows]


def store_id(engine: Engine, org: OrgHandle, code: str) -> int:
    with transaction(engine, write=False) as conn:
        units, _ = orgs.list_units(conn, org.id, "store", 100, 0)
    return next(int(unit["id"]) for unit in units if unit["code"] == code)


def test_the_seed_sample_as_printed(engine: Engine, org: OrgHandle, api: Api) -> None:
    tom = register(api, mobile="9900111111")
    with transaction(engine) as conn:
        orgs.add_unit(conn, org.admin, kind="store", code="store654")
    # No mapping: every header of the sample is recognised.
    done = run(engine, org, csv(HEADER, "9900111111,INTERNAL,Staff customer,store654"), **PROFILE)
    assert done.record["mapping"] == {
        "Mobile": "mobile",
        "Status": "fraud_status",
        "Reason": "reason",
        "StoreCode": "store",
    }
    assert done.statuses() == ["updated"]
    assert done.row(2)["customer_id"] == tom
    assert fraud(api, tom)["status"] == "INTERNAL"
    assert fraud(api, tom)["modifiedOn"] is not None
    import_id = done.record["id"]
    assert logged(engine, tom) == [
        {
            "details": {
                "from": "NOT_FRAUD",
                "to": "INTERNAL",
                "reason": "Staff customer",
                "storeId": store_id(engine, org, "store654"),
            },
            "cause": f"import:{import_id}",
        }
    ]


def test_every_status_in_any_letter_case_and_the_same_status_skipped(
    engine: Engine, org: OrgHandle, api: Api
) -> None:
    ids = [register(api, mobile=f"91980000610{n}") for n in range(5)]
    done = run(
        engine,
        org,
        csv(
            HEADER,
            "919800006100,internal,staff,mal",
            "919800006101,Marked,chargebacks,mal",
            "919800006102,CONFIRMED,chargebacks,mal",
            "919800006103,reconfirmed,chargebacks,mal",
            "919800006104,not_fraud,never was,mal",
        ),
        **PROFILE,
    )
    assert done.statuses() == ["updated", "updated", "updated", "updated", "skipped"]
    assert done.counts["updated"] == 4
    assert done.counts["skipped"] == 1
    assert [fraud(api, i)["status"] for i in ids] == [
        "INTERNAL",
        "MARKED",
        "CONFIRMED",
        "RECONFIRMED",
        "NOT_FRAUD",
    ]
    assert logged(engine, ids[4]) == []
    again = run(engine, org, csv(HEADER, "919800006101,MARKED,chargebacks,mal"), **PROFILE)
    assert again.statuses() == ["skipped"]
    assert len(logged(engine, ids[1])) == 1


@pytest.mark.parametrize(
    ("status", "reason", "store", "code", "message"),
    [
        ("", "why", "mal", RowCode.FRAUD_STATUS_INVALID, "the fraud status is empty"),
        (
            "SUSPECTED",
            "why",
            "mal",
            RowCode.FRAUD_STATUS_INVALID,
            "unknown fraud status 'SUSPECTED'; use one of INTERNAL, MARKED, CONFIRMED, "
            "RECONFIRMED, NOT_FRAUD",
        ),
        (
            "MARKED",
            "",
            "mal",
            RowCode.FRAUD_REASON_EMPTY,
            "the fraud reason is empty: say why the status changes",
        ),
        (
            "MARKED",
            "x" * 501,
            "mal",
            RowCode.FRAUD_REASON_INVALID,
            "invalid reason: the value is longer than 500 characters",
        ),
        ("MARKED", "why", "", RowCode.STORE_EMPTY, "invalid store: the store is empty"),
        (
            "MARKED",
            "why",
            "nowhere",
            RowCode.STORE_UNKNOWN,
            "invalid store: 'nowhere' is not a store or till of this org",
        ),
    ],
)
def test_field_errors(
    engine: Engine,
    org: OrgHandle,
    api: Api,
    status: str,
    reason: str,
    store: str,
    code: int,
    message: str,
) -> None:
    tom = register(api, mobile="919800006201")
    done = run(engine, org, csv(HEADER, f"919800006201,{status},{reason},{store}"), **PROFILE)
    assert done.statuses() == ["rejected"]
    assert done.codes(2) == [code]
    assert done.row(2)["errors"] == [message]
    assert fraud(api, tom)["status"] == "NOT_FRAUD"


def test_customer_errors(engine: Engine, org: OrgHandle, api: Api) -> None:
    register(api, mobile="919800006301")
    gone = register(api, mobile="919800006302")
    deleted = api.delete(f"/v2/customers/{gone}", params={"reason": "asked"}, role="admin")
    assert deleted.status_code == 200, deleted.text
    done = run(
        engine,
        org,
        csv(
            HEADER,
            "919800006399,MARKED,why,mal",  # nobody
            "919800006301,MARKED,why,mal",  # twice
            "919800006301,CONFIRMED,why,mal",
            "12,MARKED,why,mal",  # invalid mobile
            ",MARKED,why,mal",  # no mobile
        ),
        **PROFILE,
    )
    assert done.statuses() == ["rejected"] * 5
    assert done.codes(2) == [RowCode.CUSTOMER_UNKNOWN]
    assert done.row(2)["errors"] == ["no customer of this org has mobile 919800006399"]
    assert done.codes(3) == done.codes(4) == [RowCode.DUPLICATE_CUSTOMER_IN_FILE]
    assert done.row(3)["errors"] == ["duplicate mobile 919800006301 in the file: also in row 4"]
    assert done.codes(5) == [RowCode.INVALID_MOBILE]
    assert done.codes(6) == [RowCode.IDENTIFIER_EMPTY]
    assert done.row(6)["errors"] == ["the customer's mobile is empty"]
    by_id = run(
        engine,
        org,
        csv("User ID,Status,Reason,StoreCode", f"{gone},MARKED,why,mal"),
        profile="fraud-status",
        options={"unique_identifier": "user_id"},
    )
    assert by_id.codes(2) == [RowCode.DELETED_CUSTOMER]


EMAIL_FIXES = ["Email: whitespace trimmed", "Email: email lower-cased"]


@pytest.mark.parametrize(
    ("key", "header", "cell", "corrections"),
    [
        ("email", "Email", " Tom@Example.com", EMAIL_FIXES),
        ("external_id", "External ID", "EXT-63", []),
        ("user_id", "User ID", None, []),
        ("mobile", "Mobile", "919800006401 ", ["Mobile: whitespace trimmed"]),
    ],
)
def test_the_user_input_type_option(
    engine: Engine,
    org: OrgHandle,
    api: Api,
    key: str,
    header: str,
    cell: str | None,
    corrections: list[str],
) -> None:
    tom = register(api, mobile="919800006401", email="tom@example.com", external_id="EXT-63")
    value = cell if cell is not None else str(tom)
    done = run(
        engine,
        org,
        csv(f"{header},Status,Reason,StoreCode", f'"{value}",MARKED,chargebacks,mal'),
        profile="fraud-status",
        options={"unique_identifier": key},
    )
    assert done.statuses() == ["updated"]
    assert done.row(2)["customer_id"] == tom
    assert done.row(2)["auto_corrections"] == corrections
    assert fraud(api, tom)["status"] == "MARKED"


def test_the_reason_is_trimmed(engine: Engine, org: OrgHandle, api: Api) -> None:
    tom = register(api, mobile="919800006411")
    done = run(engine, org, csv(HEADER, '919800006411,MARKED," chargebacks ",mal'), **PROFILE)
    assert done.row(2)["auto_corrections"] == ["Reason: whitespace trimmed"]
    assert logged(engine, tom)[0]["details"]["reason"] == "chargebacks"


def test_stores_by_external_id(engine: Engine, org: OrgHandle, api: Api) -> None:
    tom = register(api, mobile="919800006501")
    by_code = run(engine, org, csv(HEADER, "919800006501,MARKED,why,EXT-BLR"), **PROFILE)
    assert by_code.codes(2) == [RowCode.STORE_UNKNOWN]
    done = run(
        engine,
        org,
        csv(HEADER, "919800006501,MARKED,why,ext-blr"),
        profile="fraud-status",
        options={"stores_by_external_id": True},
    )
    assert done.statuses() == ["updated"]
    assert logged(engine, tom)[0]["details"]["storeId"] == store_id(engine, org, "blr")


def test_replace_invalid_store(engine: Engine, org: OrgHandle, api: Api) -> None:
    tom = register(api, mobile="919800006601")
    becky = register(api, mobile="919800006602")
    done = run(
        engine,
        org,
        csv(HEADER, "919800006601,MARKED,why,nowhere", "919800006602,MARKED,why,"),
        profile="fraud-status",
        options={"replace_invalid_store": "mal"},
    )
    assert done.statuses() == ["updated", "updated"]
    assert done.row(2)["auto_corrections"] == ["StoreCode: unknown store 'nowhere' replaced by mal"]
    assert done.row(3)["auto_corrections"] == ["StoreCode: empty store replaced by mal"]
    mal = store_id(engine, org, "mal")
    assert [logged(engine, i)[0]["details"]["storeId"] for i in (tom, becky)] == [mal, mal]
    # Without a store column at all, the replacement is every row's store.
    without = run(
        engine,
        org,
        csv("Mobile,Status,Reason", "919800006601,CONFIRMED,why"),
        profile="fraud-status",
        options={"replace_invalid_store": "blr"},
    )
    assert without.statuses() == ["updated"]
    assert without.row(2)["auto_corrections"] == ["store: empty store replaced by blr"]


def test_the_store_is_mandatory_unless_replaced(engine: Engine, org: OrgHandle) -> None:
    with pytest.raises(InvalidInput) as refused:
        start(engine, org, csv("Mobile,Status,Reason", "919800006701,MARKED,why"), **PROFILE)
    assert refused.value.code == MAPPING_MISSING_FIELD
    assert "map a column to store" in refused.value.message
    with pytest.raises(InvalidInput) as no_reason:
        start(engine, org, csv("Mobile,Status,StoreCode", "919800006701,MARKED,mal"), **PROFILE)
    assert "map a column to reason" in no_reason.value.message


def test_a_fraud_marked_customer_is_frozen_until_cleared(
    engine: Engine, org: OrgHandle, api: Api
) -> None:
    tom = register(api, mobile="919800006801")
    run(engine, org, csv(HEADER, "919800006801,CONFIRMED,chargebacks,mal"), **PROFILE)
    change = api.post(
        f"/v2/customers/{tom}/changeIdentifier",
        json={"add": [{"type": "email", "value": "tom@example.com"}]},
    )
    assert change.status_code == 403
    assert error_codes(change) == [618]
    loyalty = run(
        engine,
        org,
        csv("Mobile,First Name,Till IUN Or Store Ext Id", "919800006801,Thomas,mal"),
        profile="loyalty-customers",
    )
    assert loyalty.codes(2) == [RowCode.CUSTOMER_FRAUD]
    assert loyalty.row(2)["errors"] == [f"the customer (id {tom}) is marked as fraud"]
    # This profile is the import that may still change it.
    cleared = run(engine, org, csv(HEADER, "919800006801,NOT_FRAUD,cleared,mal"), **PROFILE)
    assert cleared.statuses() == ["updated"]
    after = api.post(
        f"/v2/customers/{tom}/changeIdentifier",
        json={"add": [{"type": "email", "value": "tom@example.com"}]},
    )
    assert after.status_code == 200, after.text


def test_undo_restores_and_leaves_later_changes(engine: Engine, org: OrgHandle, api: Api) -> None:
    tom = register(api, mobile="919800006901")
    becky = register(api, mobile="919800006902")
    first = run(engine, org, csv(HEADER, "919800006902,INTERNAL,staff,mal"), **PROFILE)
    becky_before = fraud(api, becky)
    done = run(
        engine,
        org,
        csv(HEADER, "919800006901,MARKED,chargebacks,mal", "919800006902,MARKED,chargebacks,mal"),
        **PROFILE,
    )
    assert first.statuses() == ["updated"]
    assert done.statuses() == ["updated", "updated"]
    import_id = done.record["id"]
    # Tom is changed again after the import: undo leaves him alone.
    changed = api.put(
        f"/v2/customers/{tom}/fraudStatus",
        json={"status": "CONFIRMED", "reason": "more chargebacks"},
        role="admin",
    )
    assert changed.status_code == 200, changed.text
    undone = undo(engine, org, import_id)
    assert undone.state == "undone"
    assert undone.counts["undo_conflicts"] == 1
    assert fraud(api, tom)["status"] == "CONFIRMED"
    assert fraud(api, becky) == becky_before
    conflicts = api.get(f"/v2/imports/{import_id}/conflicts").json()["data"]
    assert conflicts == [
        {
            "customer_id": tom,
            "field": "fraud_status",
            "reason": "the fraud status changed again since the import",
        }
    ]
    assert logged(engine, becky)[-1] == {
        "details": {
            "from": "MARKED",
            "to": "INTERNAL",
            "reason": f"undo of import {import_id}",
        },
        "cause": f"undo:import:{import_id}",
    }


def test_undo_of_a_whole_import_restores_the_store(
    engine: Engine, org: OrgHandle, api: Api
) -> None:
    register(api, mobile="919800007001")
    register(api, mobile="919800007002")
    before = snapshot(engine, org, volatile=False)
    done = run(
        engine,
        org,
        csv(HEADER, "919800007001,MARKED,why,mal", "919800007002,INTERNAL,why,mal"),
        **PROFILE,
    )
    undone = undo(engine, org, done.record["id"])
    assert undone.counts["undo_conflicts"] == 0
    after = snapshot(engine, org, volatile=False)
    assert after["customers"] == before["customers"]
    assert {k: v for k, v in after.items() if k != "change_log"} == {
        k: v for k, v in before.items() if k != "change_log"
    }
    # The change log keeps both the change and its undo.
    assert len(after["change_log"]) == len(before["change_log"]) + 4


def test_a_preview_changes_nothing(engine: Engine, org: OrgHandle, api: Api) -> None:
    tom = register(api, mobile="919800007101")
    before = snapshot(engine, org)
    import_id = start(engine, org, csv(HEADER, "919800007101,MARKED,why,mal"), **PROFILE)
    preview = result(engine, org, import_id)
    assert preview.state == "previewed"
    assert preview.counts["updated"] == 1
    assert snapshot(engine, org) == before
    assert fraud(api, tom)["status"] == "NOT_FRAUD"


def test_the_command_line_takes_the_profile(
    engine: Engine, org: OrgHandle, api: Api, tmp_path: Path
) -> None:
    tom = register(api, mobile="919800007201")
    path = tmp_path / "fraud.csv"
    path.write_text(csv(HEADER, "919800007201,MARKED,chargebacks,mal"), encoding="utf-8")
    done = Patron(engine, org).json("import", str(path), "--profile", "fraud-status", "--yes")
    assert done["state"] == "committed"
    assert fraud(api, tom)["status"] == "MARKED"


def test_a_customer_of_another_org_is_unknown(
    engine: Engine, org: OrgHandle, api: Api, other_api: Api
) -> None:
    theirs = register(other_api, mobile="919800007301")
    done = run(engine, org, csv(HEADER, "919800007301,MARKED,why,mal"), **PROFILE)
    assert done.codes(2) == [RowCode.CUSTOMER_UNKNOWN]
    response = other_api.get(f"/v2/customers/{theirs}")
    assert response.json()["fraudDetails"]["status"] == "NOT_FRAUD"
