"""The User Subscription profile: the seed's samples, channels, priorities, statuses, org
units, accounts, identifiers, fraud, the consent ledger, undo, retries and replay."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from patron.imports import jobs, service
from patron.imports.codes import RowCode
from patron.kit.db import transaction
from patron.orgs import service as orgs
from patron.subscriptions import service as subscriptions
from tests.conftest import Api, OrgHandle
from tests.factories import register
from tests.importing import csv, editor, import_org, result, run, snapshot, start, undo
from tests.test_cli_import import Patron

PROFILE = {"profile": "user-subscription"}
HEADER = "Mobile,Subscription Status,Channel,Priority"
APPEND = {"profile": "user-subscription", "options": {"append_country_code": True}}


@pytest.fixture
def org(engine: Engine) -> OrgHandle:
    org = import_org(engine)
    with transaction(engine) as conn:
        orgs.add_unit(conn, org.admin, kind="concept", code="Fashion")
    return org


@pytest.fixture
def api(app_client: TestClient, org: OrgHandle) -> Api:
    return Api(app_client, org)


def subscribed(api: Api, customer_id: int) -> list[dict[str, Any]]:
    response = api.get(f"/v2/customers/{customer_id}/subscriptions")
    assert response.status_code == 200, response.text
    return list(response.json()["subscriptions"])


def ledger(engine: Engine, org: OrgHandle, customer_id: int) -> list[dict[str, Any]]:
    wanted = ("channel", "priority", "status", "previous_status", "source", "account_id")
    with transaction(engine, write=False) as conn:
        rows = subscriptions.ledger(conn, org.id, customer_id)
    return [{k: row[k] for k in (*wanted, "actor", "origin", "reason")} for row in rows]


def unit_id(engine: Engine, org: OrgHandle, kind: str, code: str) -> int:
    with transaction(engine, write=False) as conn:
        units, _ = orgs.list_units(conn, org.id, kind, 100, 0)
    return next(int(unit["id"]) for unit in units if unit["code"] == code)


def test_the_seed_samples_as_printed(engine: Engine, org: OrgHandle, api: Api) -> None:
    tom = register(api, mobile="919900111111")
    sms = run(engine, org, csv(HEADER, "9900111111,OPTIN,SMS,TRANS"), **APPEND)
    assert sms.record["mapping"] == {
        "Mobile": "mobile",
        "Subscription Status": "subscription_status",
        "Channel": "channel",
        "Priority": "priority",
    }
    assert sms.statuses() == ["updated"]
    assert sms.row(2)["customer_id"] == tom
    assert sms.row(2)["auto_corrections"] == [
        "Mobile: country code 91 added",
        "Channel: 'SMS' read as mobile",
    ]
    email = run(engine, org, csv(HEADER, "9900111111,OPTIN,EMAIL,BULK"), **APPEND)
    assert email.statuses() == ["updated"]
    assert email.row(2)["auto_corrections"] == ["Mobile: country code 91 added"]
    assert subscribed(api, tom) == [
        {"channel": "SMS", "priority": "TRANS", "type": "OPTIN"},
        {"channel": "EMAIL", "priority": "BULK", "type": "OPTIN"},
    ]
    assert ledger(engine, org, tom) == [
        {
            "channel": channel,
            "priority": priority,
            "status": "OPTIN",
            "previous_status": None,
            "source": "INSTORE",
            "account_id": "",
            "actor": f"import:{done.record['id']}",
            "origin": f"import:{done.record['id']}",
            "reason": "",
        }
        for done, channel, priority in ((sms, "SMS", "TRANS"), (email, "EMAIL", "BULK"))
    ]


def test_only_customers_registered_in_the_org(engine: Engine, org: OrgHandle, api: Api) -> None:
    register(api, mobile="919900111111")
    # Without append_country_code the national number names nobody: no customer is created.
    done = run(engine, org, csv(HEADER, "9900111111,OPTIN,SMS,TRANS"), **PROFILE)
    assert done.codes(2) == [RowCode.CUSTOMER_UNKNOWN]
    assert done.row(2)["errors"] == ["no customer of this org has mobile 9900111111"]
    assert done.row(2)["auto_corrections"] == []
    assert len(snapshot(engine, org)["customers"]) == 1


def test_every_channel_in_any_letter_case(engine: Engine, org: OrgHandle, api: Api) -> None:
    tom = register(api, mobile="919800008001")
    names = ["LINE", "Mobile", "email", "WhatsApp", "ios", "ANDROID", "postmail", "mobilePush"]
    done = run(
        engine,
        org,
        csv(HEADER, *[f"919800008001,OPTIN,{name},BULK" for name in names]),
        **PROFILE,
    )
    assert done.statuses() == ["updated"] * len(names)
    assert all(done.row(n)["auto_corrections"] == [] for n in range(2, 2 + len(names)))
    assert [entry["channel"] for entry in subscribed(api, tom)] == [
        "LINE",
        "SMS",
        "EMAIL",
        "WHATSAPP",
        "IOS",
        "ANDROID",
        "POSTMAIL",
        "MOBILEPUSH",
    ]


@pytest.mark.parametrize(
    ("cells", "code", "message"),
    [
        ("OPTIN,,TRANS", RowCode.CHANNEL_INVALID, "the channel is empty"),
        (
            "OPTIN,wechat,TRANS",
            RowCode.CHANNEL_INVALID,
            "unknown channel 'wechat'; use one of line, mobile, email, whatsapp, ios, android, "
            "postmail, mobilePush",
        ),
        ("OPTIN,SMS,", RowCode.PRIORITY_INVALID, "the priority is empty"),
        (
            "OPTIN,SMS,urgent",
            RowCode.PRIORITY_INVALID,
            "unknown priority 'urgent'; use TRANS or BULK",
        ),
        (",SMS,TRANS", RowCode.SUBSCRIPTION_STATUS_INVALID, "the subscription status is empty"),
        (
            "yes,SMS,TRANS",
            RowCode.SUBSCRIPTION_STATUS_INVALID,
            "unknown subscription status 'yes'; use OPTIN or OPTOUT",
        ),
    ],
)
def test_field_errors(
    engine: Engine, org: OrgHandle, api: Api, cells: str, code: int, message: str
) -> None:
    tom = register(api, mobile="919800008101")
    done = run(engine, org, csv(HEADER, f"919800008101,{cells}"), **PROFILE)
    assert done.statuses() == ["rejected"]
    assert done.codes(2) == [code]
    assert done.row(2)["errors"] == [message]
    assert subscribed(api, tom) == []


def test_org_units_and_concepts(engine: Engine, org: OrgHandle, api: Api) -> None:
    tom = register(api, mobile="919800008201")
    header = "Mobile,Sub Status,Comm Channel,Priority,Org Unit or Concept Code"
    done = run(
        engine,
        org,
        csv(
            header,
            "919800008201,OPTOUT,email,BULK,fashion",  # a concept, any letter case
            "919800008201,OPTOUT,email,BULK,BLR",  # a store
            "919800008201,OPTIN,email,BULK,",  # the whole org
            "919800008201,OPTIN,email,TRANS,nowhere",
        ),
        **PROFILE,
    )
    assert done.statuses() == ["updated", "updated", "updated", "rejected"]
    assert done.codes(5) == [RowCode.ORG_UNIT_UNKNOWN]
    assert done.row(5)["errors"] == ["'nowhere' is not an org unit or concept of this org"]
    fashion = unit_id(engine, org, "concept", "Fashion")
    blr = unit_id(engine, org, "store", "blr")
    assert subscribed(api, tom) == [
        {"channel": "EMAIL", "priority": "BULK", "type": "OPTOUT", "orgUnitId": fashion},
        {"channel": "EMAIL", "priority": "BULK", "type": "OPTOUT", "orgUnitId": blr},
        {"channel": "EMAIL", "priority": "BULK", "type": "OPTIN"},
    ]


def test_account_names(engine: Engine, org: OrgHandle, api: Api) -> None:
    tom = register(api, mobile="919800008301")
    header = "Account Name,Mobile,Sub Status,Comm Channel,Priority"
    done = run(
        engine,
        org,
        csv(
            header,
            "line-brand,919800008301,OPTIN,line,TRANS",
            "app-1,919800008301,OPTIN,mobilePush,BULK",
            ",919800008301,OPTIN,line,TRANS",  # the channel's own subscription
            "news,919800008301,OPTIN,email,BULK",
            f"{'a' * 101},919800008301,OPTIN,line,BULK",
        ),
        **PROFILE,
    )
    assert done.statuses() == ["updated", "updated", "updated", "rejected", "rejected"]
    assert done.codes(5) == done.codes(6) == [RowCode.ACCOUNT_NAME_INVALID]
    assert done.row(5)["errors"] == [
        "the channel 'email' has no accounts: leave the account name empty "
        "(only line, ios, android, mobilePush have accounts)"
    ]
    assert done.row(6)["errors"] == [
        "invalid account name: the value is longer than 100 characters"
    ]
    assert subscribed(api, tom) == [
        {
            "channel": "LINE",
            "priority": "TRANS",
            "type": "OPTIN",
            "accountId": "line-brand",
            "sourceName": "LINE",
        },
        {
            "channel": "MOBILEPUSH",
            "priority": "BULK",
            "type": "OPTIN",
            "accountId": "app-1",
            "sourceName": "MOBILE_APP",
        },
        {"channel": "LINE", "priority": "TRANS", "type": "OPTIN"},
    ]


def test_changes_skips_and_the_ledger(engine: Engine, org: OrgHandle, api: Api) -> None:
    tom = register(api, mobile="919800008401")
    first = run(engine, org, csv(HEADER, "919800008401,OPTIN,SMS,BULK"), **PROFILE)
    same = run(engine, org, csv(HEADER, "919800008401,optin,mobile,bulk"), **PROFILE)
    out = run(engine, org, csv(HEADER, "919800008401,OPTOUT,mobile,BULK"), **PROFILE)
    assert (first.statuses(), same.statuses(), out.statuses()) == (
        ["updated"],
        ["skipped"],
        ["updated"],
    )
    assert subscribed(api, tom) == [{"channel": "SMS", "priority": "BULK", "type": "OPTOUT"}]
    assert [(e["status"], e["previous_status"], e["origin"]) for e in ledger(engine, org, tom)] == [
        ("OPTIN", None, f"import:{first.record['id']}"),
        ("OPTOUT", "OPTIN", f"import:{out.record['id']}"),
    ]


def test_customer_errors(engine: Engine, org: OrgHandle, api: Api) -> None:
    register(api, mobile="919800008501")
    register(api, mobile="919800008502")
    done = run(
        engine,
        org,
        csv(
            HEADER,
            "919800008501,OPTIN,SMS,TRANS",  # the same subscription twice
            "919800008501,OPTOUT,mobile,TRANS",
            "919800008501,OPTIN,SMS,BULK",  # another subscription of the same customer
            "919800008599,OPTIN,SMS,TRANS",  # nobody
            "12,OPTIN,SMS,TRANS",  # invalid mobile
            ",OPTIN,SMS,TRANS",  # no mobile
        ),
        **PROFILE,
    )
    assert done.statuses() == [
        "rejected",
        "rejected",
        "updated",
        "rejected",
        "rejected",
        "rejected",
    ]
    customer = done.row(4)["customer_id"]
    assert done.codes(2) == done.codes(3) == [RowCode.DUPLICATE_SUBSCRIPTION_IN_FILE]
    assert done.row(2)["errors"] == [
        f"duplicate subscription SMS/TRANS of customer {customer} in the file: also in row 3"
    ]
    assert done.codes(5) == [RowCode.CUSTOMER_UNKNOWN]
    assert done.codes(6) == [RowCode.INVALID_MOBILE]
    assert done.codes(7) == [RowCode.IDENTIFIER_EMPTY]


def test_a_fraud_marked_customer_may_only_opt_out(engine: Engine, org: OrgHandle, api: Api) -> None:
    tom = register(api, mobile="919800008601")
    marked = api.put(
        f"/v2/customers/{tom}/fraudStatus",
        json={"status": "MARKED", "reason": "chargebacks"},
        role="admin",
    )
    assert marked.status_code == 200, marked.text
    done = run(
        engine,
        org,
        csv(HEADER, "919800008601,OPTIN,SMS,TRANS", "919800008601,OPTOUT,SMS,BULK"),
        **PROFILE,
    )
    assert done.statuses() == ["rejected", "updated"]
    assert done.codes(2) == [RowCode.CUSTOMER_FRAUD]
    assert done.row(2)["errors"] == [
        f"the customer (id {tom}) is marked as fraud (MARKED): only an opt-out is accepted"
    ]
    assert subscribed(api, tom) == [{"channel": "SMS", "priority": "BULK", "type": "OPTOUT"}]


@pytest.mark.parametrize(
    ("key", "header", "cell"),
    [("email", "Email", "Tom@Example.com"), ("external_id", "External ID", "EXT-86"),
     ("user_id", "User ID", None)],
)  # fmt: skip
def test_the_user_input_type_option(
    engine: Engine, org: OrgHandle, api: Api, key: str, header: str, cell: str | None
) -> None:
    tom = register(api, mobile="919800008701", email="tom@example.com", external_id="EXT-86")
    done = run(
        engine,
        org,
        csv(f"{header},Subscription Status,Channel,Priority", f"{cell or tom},OPTIN,email,TRANS"),
        profile="user-subscription",
        options={"unique_identifier": key},
    )
    assert done.statuses() == ["updated"]
    assert done.row(2)["customer_id"] == tom
    assert subscribed(api, tom) == [{"channel": "EMAIL", "priority": "TRANS", "type": "OPTIN"}]


def test_undo_restores_and_leaves_later_changes(engine: Engine, org: OrgHandle, api: Api) -> None:
    tom = register(api, mobile="919800008801")
    becky = register(api, mobile="919800008802")
    run(engine, org, csv(HEADER, "919800008801,OPTIN,SMS,BULK"), **PROFILE)
    before = subscribed(api, tom)
    done = run(
        engine,
        org,
        csv(
            HEADER,
            "919800008801,OPTOUT,SMS,BULK",  # a change: undo puts OPTIN back
            "919800008801,OPTIN,EMAIL,BULK",  # a new subscription: undo removes it
            "919800008802,OPTIN,EMAIL,BULK",  # changed again later: left alone
        ),
        **PROFILE,
    )
    assert done.statuses() == ["updated"] * 3
    later = api.post(
        f"/v2/customers/{becky}/subscriptions",
        json={"subscriptions": [{"channel": "EMAIL", "priority": "BULK", "type": "OPTOUT"}]},
    )
    assert later.status_code == 200, later.text
    import_id = done.record["id"]
    undone = undo(engine, org, import_id)
    assert undone.state == "undone"
    assert undone.counts["undo_conflicts"] == 1
    assert subscribed(api, tom) == before
    assert subscribed(api, becky) == [{"channel": "EMAIL", "priority": "BULK", "type": "OPTOUT"}]
    conflicts = api.get(f"/v2/imports/{import_id}/conflicts").json()["data"]
    assert conflicts == [
        {
            "customer_id": becky,
            "field": "subscription EMAIL/BULK",
            "reason": "the subscription changed again since the import",
        }
    ]
    undo_rows = [e for e in ledger(engine, org, tom) if e["origin"] == f"undo:import:{import_id}"]
    assert sorted((e["channel"], e["status"], e["previous_status"]) for e in undo_rows) == [
        ("EMAIL", "NONE", "OPTIN"),
        ("SMS", "OPTIN", "OPTOUT"),
    ]
    assert {e["reason"] for e in undo_rows} == {f"undo of import {import_id}"}


def test_undo_restores_the_store(engine: Engine, org: OrgHandle, api: Api) -> None:
    register(api, mobile="919800008901")
    run(engine, org, csv(HEADER, "919800008901,OPTIN,SMS,TRANS"), **PROFILE)
    before = snapshot(engine, org, volatile=False)
    done = run(
        engine,
        org,
        csv(HEADER, "919800008901,OPTOUT,SMS,TRANS", "919800008901,OPTIN,EMAIL,TRANS"),
        **PROFILE,
    )
    undo(engine, org, done.record["id"])
    after = snapshot(engine, org, volatile=False)
    assert after["subscriptions"] == before["subscriptions"]
    assert {k: v for k, v in after.items() if k != "consent_ledger"} == {
        k: v for k, v in before.items() if k != "consent_ledger"
    }
    # The ledger keeps the changes and their undo: two each.
    assert len(after["consent_ledger"]) == len(before["consent_ledger"]) + 4


def test_a_failing_commit_is_retried_then_replayed(
    engine: Engine, org: OrgHandle, api: Api
) -> None:
    tom = register(api, mobile="919900111111")
    import_id = start(engine, org, csv(HEADER, "9900111111,OPTIN,SMS,TRANS"), **APPEND)
    _break_ledger(engine)
    try:
        with transaction(engine) as conn:
            service.confirm(conn, editor(org), import_id)
        state = jobs.run_import(engine, org.id, import_id)
        failed = result(engine, org, import_id)
        assert state == "failed"
        assert failed.record["attempts"] == service.COMMIT_RETRIES + 1
        assert "refused by test trigger" in failed.record["message"]
        assert failed.record["replay_until"] is not None
        # Nothing half-written: the subscription went with the ledger row.
        assert subscribed(api, tom) == []
    finally:
        _repair_ledger(engine)
    with transaction(engine) as conn:
        service.replay(conn, editor(org), import_id)
    jobs.run_import(engine, org.id, import_id)
    assert result(engine, org, import_id).state == "committed"
    assert subscribed(api, tom) == [{"channel": "SMS", "priority": "TRANS", "type": "OPTIN"}]
    assert len(ledger(engine, org, tom)) == 1


def test_a_preview_changes_nothing(engine: Engine, org: OrgHandle, api: Api) -> None:
    tom = register(api, mobile="919800009001")
    before = snapshot(engine, org)
    import_id = start(engine, org, csv(HEADER, "919800009001,OPTIN,SMS,TRANS"), **PROFILE)
    preview = result(engine, org, import_id)
    assert preview.state == "previewed"
    assert preview.counts["updated"] == 1
    assert snapshot(engine, org) == before
    assert subscribed(api, tom) == []


def _break_ledger(engine: Engine) -> None:
    """A real database failure: a trigger refusing consent-ledger rows."""
    with transaction(engine) as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql(
                "CREATE TRIGGER refuse_ledger BEFORE INSERT ON consent_ledger "
                "BEGIN SELECT RAISE(ABORT, 'refused by test trigger'); END"
            )
        else:
            conn.exec_driver_sql(
                "CREATE FUNCTION refuse_ledger() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'refused by test trigger'; END $$"
            )
            conn.exec_driver_sql(
                "CREATE TRIGGER refuse_ledger BEFORE INSERT ON consent_ledger "
                "FOR EACH ROW EXECUTE FUNCTION refuse_ledger()"
            )


def _repair_ledger(engine: Engine) -> None:
    with transaction(engine) as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("DROP TRIGGER IF EXISTS refuse_ledger")
        else:
            conn.exec_driver_sql("DROP TRIGGER IF EXISTS refuse_ledger ON consent_ledger")
            conn.exec_driver_sql("DROP FUNCTION IF EXISTS refuse_ledger()")


def test_the_command_line_takes_the_profile(
    engine: Engine, org: OrgHandle, api: Api, tmp_path: Path
) -> None:
    tom = register(api, mobile="919900111111")
    path = tmp_path / "subscriptions.csv"
    path.write_text(csv(HEADER, "9900111111,OPTOUT,SMS,BULK"), encoding="utf-8")
    done = Patron(engine, org).json(
        "import",
        str(path),
        "--profile",
        "user-subscription",
        "--option",
        "append_country_code=true",
        "--yes",
    )
    assert done["state"] == "committed"
    assert subscribed(api, tom) == [{"channel": "SMS", "priority": "BULK", "type": "OPTOUT"}]


def test_an_org_unit_code_shared_by_a_concept_and_a_store_is_the_concepts(
    engine: Engine, org: OrgHandle, api: Api
) -> None:
    tom = register(api, mobile="919800009101")
    with transaction(engine) as conn:
        orgs.add_unit(conn, org.admin, kind="concept", code="mal")
    done = run(
        engine,
        org,
        csv(f"{HEADER},Org Unit", "919800009101,OPTIN,email,BULK,MAL"),
        **PROFILE,
    )
    assert done.statuses() == ["updated"]
    concept = unit_id(engine, org, "concept", "mal")
    assert subscribed(api, tom) == [
        {"channel": "EMAIL", "priority": "BULK", "type": "OPTIN", "orgUnitId": concept}
    ]
