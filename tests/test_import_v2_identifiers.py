"""The V2 Profile Identifier Add/Update profile: adds, replacements, merges, every error,
the option, the change log, undo (merges reversed), and the seed's sample."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from patron.audit.tables import change_log
from patron.imports.codes import RowCode
from patron.kit.db import transaction
from tests.conftest import Api, OrgHandle
from tests.factories import register
from tests.importing import csv, import_org, people, result, run, start, undo

HEADER = "User ID,Source,Account ID,Identifier Type,Identifier Value"
INVALID = RowCode.V2_IDENTIFIER_VALUE_INVALID
PROFILE = {"profile": "v2-profile-identifiers"}
ALLOW = {"allow_updating_existing_identifier": True}


@pytest.fixture
def org(engine: Engine) -> OrgHandle:
    return import_org(engine)


@pytest.fixture
def api(app_client: TestClient, org: OrgHandle) -> Api:
    return Api(app_client, org)


def lookup(api: Api, name: str, value: str) -> int | None:
    response = api.get(
        "/v2/customers/lookup", params={"identifierName": name, "identifierValue": value}
    )
    return int(response.json()["entity"]) if response.status_code == 200 else None


def profiles_of(api: Api, customer_id: int) -> dict[tuple[str, str], list[tuple[str, str]]]:
    body = api.get(f"/v2/customers/{customer_id}", params={"source": "ALL"}).json()
    return {
        (p["source"], p.get("accountId") or ""): sorted(
            (i["type"], i["value"]) for i in p["identifiers"]
        )
        for p in body["profiles"]
    }


def test_the_seed_sample_adds_a_web_engage_profile(
    engine: Engine, org: OrgHandle, api: Api
) -> None:
    tom = register(api, mobile="919804542631")
    sample = csv(HEADER, f"{tom},WebEngage,2024ba96, mobile,919804542631")
    done = run(engine, org, sample, **PROFILE)
    # The seed's row gives the mobile Tom already holds: nothing to add.
    assert done.statuses() == ["skipped"]
    assert done.row(2)["auto_corrections"] == [
        "Source: source WebEngage read as WEB_ENGAGE",
        "Identifier Type: whitespace trimmed",
    ]
    added = run(engine, org, csv(HEADER, f"{tom},WebEngage,2024ba96,cuid,cu-558085086"), **PROFILE)
    assert added.statuses() == ["updated"]
    assert profiles_of(api, tom)[("WEB_ENGAGE", "2024ba96")] == [("cuid", "cu-558085086")]
    assert lookup(api, "cuid", "cu-558085086") == tom


def test_adds_on_existing_and_new_profiles_in_one_go(
    engine: Engine, org: OrgHandle, api: Api
) -> None:
    tom = register(api, mobile="919800006001")
    becky = register(
        api, identifiers=[{"type": "wechat", "value": "wx-b"}], source="WECHAT",
        account_id="wx1", email="becky@example.com", loyalty_type="non_loyalty",
    )  # fmt: skip
    done = run(
        engine,
        org,
        csv(
            HEADER,
            f"{tom},WECHAT,wx1,wechat,wx-tom",
            f"{tom},WECHAT,wx1,unionId,un-tom",
            f"{becky},WECHAT,wx1,unionId,un-becky",
            f"{tom},INSTORE,,email,TOM@Example.com",
        ),
        **PROFILE,
    )
    assert done.statuses() == ["updated"] * 4
    assert profiles_of(api, tom)[("WECHAT", "wx1")] == [("unionId", "un-tom"), ("wechat", "wx-tom")]
    assert ("email", "tom@example.com") in profiles_of(api, tom)[("INSTORE", "")]
    assert profiles_of(api, becky)[("WECHAT", "wx1")] == [
        ("email", "becky@example.com"),
        ("unionId", "un-becky"),
        ("wechat", "wx-b"),
    ]
    with transaction(engine, write=False) as conn:
        entries = conn.execute(
            sa.select(change_log.c.change_type, change_log.c.details, change_log.c.source)
            .where(change_log.c.customer_id == tom, change_log.c.cause.like("import:%"))
            .order_by(change_log.c.id)
        ).all()
    assert sorted((e[0], e[2]) for e in entries) == [
        ("EMAIL", "INSTORE"),
        ("IDENTIFIER", "WECHAT"),
        ("IDENTIFIER", "WECHAT"),
    ]
    email = next(e for e in entries if e[0] == "EMAIL")
    assert email[1] == {"add": [{"type": "EMAIL", "value": "tom@example.com"}], "remove": []}


def test_an_existing_identifier_is_replaced_only_with_the_option(
    engine: Engine, org: OrgHandle, api: Api
) -> None:
    tom = register(api, mobile="919800006011", email="old@example.com")
    refused = run(engine, org, csv(HEADER, f"{tom},INSTORE,,email,new@example.com"), **PROFILE)
    assert refused.codes(2) == [RowCode.V2_EXISTING_IDENTIFIER]
    assert refused.row(2)["errors"] == [
        f"the customer (id {tom}) already has email old@example.com: "
        "set allow_updating_existing_identifier to replace it"
    ]
    done = run(
        engine, org, csv(HEADER, f"{tom},INSTORE,,email,new@example.com"),
        profile="v2-profile-identifiers", options=ALLOW,
    )  # fmt: skip
    assert done.statuses() == ["updated"]
    assert lookup(api, "email", "new@example.com") == tom
    assert lookup(api, "email", "old@example.com") is None


def test_an_identifier_of_another_customer_merges(engine: Engine, org: OrgHandle, api: Api) -> None:
    holder = register(api, mobile="919800006021")
    wechat_only = register(
        api, identifiers=[{"type": "wechat", "value": "wx-21"}], source="WECHAT",
        account_id="wx1", email="w21@example.com", loyalty_type="non_loyalty",
    )  # fmt: skip
    done = run(engine, org, csv(HEADER, f"{wechat_only},WECHAT,wx1,mobile,919800006021"), **PROFILE)
    assert done.statuses() == ["updated"]
    assert done.row(2)["customer_id"] == holder
    assert lookup(api, "wechat", "wx-21") == holder
    assert set(profiles_of(api, holder)) == {("INSTORE", ""), ("WECHAT", "wx1")}
    merged = api.get(f"/v2/customers/{wechat_only}")
    assert merged.json()["id"] == holder
    # Undo reverses the merge: the WeChat customer lives again with what it had.
    undone = undo(engine, org, done.record["id"])
    assert undone.state == "undone"
    assert undone.counts["undo_conflicts"] == 0
    assert lookup(api, "wechat", "wx-21") == wechat_only
    assert set(profiles_of(api, holder)) == {("INSTORE", "")}


def test_merge_conflicts(engine: Engine, org: OrgHandle, api: Api) -> None:
    holder = register(
        api, identifiers=[{"type": "wechat", "value": "wx-31"}], source="WECHAT",
        account_id="wx1", mobile="919800006031",
    )  # fmt: skip
    other = register(
        api, identifiers=[{"type": "fbId", "value": "fb-32"}], source="FACEBOOK",
        account_id="fb1", email="o32@example.com", loyalty_type="non_loyalty",
    )  # fmt: skip
    both = register(
        api, identifiers=[{"type": "wechat", "value": "wx-33"}], source="WECHAT",
        account_id="wx1", email="b33@example.com", loyalty_type="non_loyalty",
    )  # fmt: skip
    done = run(
        engine,
        org,
        csv(
            HEADER,
            f"{other},WECHAT,wx1,wechat,wx-31",  # held on the very source
            f"{both},INSTORE,,mobile,919800006031",  # both have a WECHAT/wx1 profile
        ),
        **PROFILE,
    )
    assert done.statuses() == ["rejected", "rejected"]
    assert done.codes(2) == [RowCode.V2_HELD_ON_SAME_SOURCE]
    assert done.row(2)["errors"] == [
        f"wechat wx-31 is held by customer {holder} on the same source"
    ]
    assert done.codes(3) == [RowCode.V2_SHARED_SOURCE]
    assert lookup(api, "wechat", "wx-33") == both


def test_a_merged_customer_is_not_touched_by_another_row(
    engine: Engine, org: OrgHandle, api: Api
) -> None:
    holder = register(api, mobile="919800006041")
    guest = register(api, email="g41@example.com", source="WEBSITE", loyalty_type="non_loyalty")
    done = run(
        engine,
        org,
        csv(
            HEADER,
            f"{guest},WEBSITE,,mobile,919800006041",
            f"{holder},INSTORE,,cuid,cu-41",
        ),
        **PROFILE,
    )
    assert done.codes(2) == done.codes(3) == [RowCode.V2_MERGE_CROSSES_ROWS]
    assert lookup(api, "email", "g41@example.com") == guest


@pytest.mark.parametrize(
    ("line", "code", "message"),
    [
        ("{id},Myspace,,cuid,x", RowCode.V2_SOURCE_UNKNOWN, "unknown source 'Myspace'"),
        ("{id},,,cuid,x", RowCode.V2_SOURCE_UNKNOWN, "the source is empty"),
        ("{id},WECHAT,,wechat,x", RowCode.V2_ACCOUNT_ID_MISSING, "source WECHAT needs an account"),
        ("{id},INSTORE,,shoe,x", RowCode.V2_IDENTIFIER_TYPE_UNKNOWN, "unknown identifier type"),
        ("{id},INSTORE,,cardnumber,C1", RowCode.V2_CARD_NUMBER, "card numbers are issued with"),
        ("{id},INSTORE,,mobile,12", INVALID, "invalid identifier: mobile"),
        ("{id},INSTORE,,email,nope", INVALID, "invalid identifier: 'nope'"),
        ("{id},INSTORE,,cuid,", INVALID, "the identifier value is empty"),
        ("999999,INSTORE,,cuid,x", RowCode.CUSTOMER_UNKNOWN, "no customer of this org has user id"),
        (",INSTORE,,cuid,x", RowCode.IDENTIFIER_EMPTY, "the customer's user id is empty"),
        ("abc,INSTORE,,cuid,x", RowCode.USER_ID_UNKNOWN, "user id 'abc' is not a customer id"),
    ],
)  # fmt: skip
def test_row_errors(
    engine: Engine, org: OrgHandle, api: Api, line: str, code: int, message: str
) -> None:
    tom = register(api, mobile="919800006051")
    before = people(engine, org)
    done = run(engine, org, csv(HEADER, line.format(id=tom)), **PROFILE)
    assert code in done.codes(2)
    assert any(error.startswith(message) for error in done.row(2)["errors"]), done.row(2)
    assert people(engine, org) == before


def test_duplicates_in_the_file(engine: Engine, org: OrgHandle, api: Api) -> None:
    tom = register(api, mobile="919800006061")
    becky = register(api, mobile="919800006062")
    done = run(
        engine,
        org,
        csv(
            HEADER,
            f"{tom},INSTORE,,cuid,cu-61",
            f"{becky},INSTORE,,cuid,cu-61",
            f"{tom},WEBSITE,,fbId,fb-1",
            f"{tom},WEBSITE,,fbId,fb-2",
        ),
        **PROFILE,
    )
    assert done.statuses() == ["rejected"] * 4
    assert done.codes(2) == done.codes(3) == [RowCode.V2_DUPLICATE_IDENTIFIER_IN_FILE]
    assert done.row(2)["errors"] == ["duplicate identifier cuid cu-61 in the file: also in row 3"]
    assert done.codes(4) == done.codes(5) == [RowCode.V2_DUPLICATE_TARGET_IN_FILE]


def test_a_fraud_marked_customer_is_refused(engine: Engine, org: OrgHandle, api: Api) -> None:
    tom = register(api, mobile="919800006071")
    marked = api.put(
        f"/v2/customers/{tom}/fraudStatus", json={"status": "MARKED", "reason": "x"}, role="admin"
    )
    assert marked.status_code == 200, marked.text
    done = run(engine, org, csv(HEADER, f"{tom},INSTORE,,cuid,cu-71"), **PROFILE)
    assert done.codes(2) == [RowCode.CUSTOMER_FRAUD]


def test_undo_of_adds_and_replacements(engine: Engine, org: OrgHandle, api: Api) -> None:
    tom = register(api, mobile="919800006081", email="t81@example.com")
    before = people(engine, org)
    done = run(
        engine,
        org,
        csv(
            HEADER,
            f"{tom},INSTORE,,email,t81-new@example.com",
            f"{tom},LINE,ln1,line,ln-81",
        ),
        profile="v2-profile-identifiers",
        options=ALLOW,
    )
    assert done.statuses() == ["updated", "updated"]
    assert people(engine, org) != before
    undone = undo(engine, org, done.record["id"])
    assert undone.counts["undo_conflicts"] == 0
    assert people(engine, org) == before
    assert set(profiles_of(api, tom)) == {("INSTORE", "")}


def test_undo_leaves_an_identifier_moved_since(engine: Engine, org: OrgHandle, api: Api) -> None:
    tom = register(api, mobile="919800006091")
    done = run(engine, org, csv(HEADER, f"{tom},INSTORE,,cuid,cu-91"), **PROFILE)
    removed = api.post(
        f"/v2/customers/{tom}/changeIdentifier",
        json={"remove": [{"type": "cuid", "value": "cu-91"}]},
    )
    assert removed.status_code == 200, removed.text
    undone = undo(engine, org, done.record["id"])
    conflicts: list[dict[str, Any]] = api.get(f"/v2/imports/{done.record['id']}/conflicts").json()[
        "data"
    ]
    assert undone.counts["undo_conflicts"] == 1
    assert conflicts == [
        {
            "customer_id": tom,
            "field": "cuid",
            "reason": "cuid cu-91 was removed or moved since the import",
        }
    ]


def test_a_preview_changes_nothing(engine: Engine, org: OrgHandle, api: Api) -> None:
    holder = register(api, mobile="919800006101")
    guest = register(api, email="g101@example.com", source="WEBSITE", loyalty_type="non_loyalty")
    before = people(engine, org)
    import_id = start(engine, org, csv(HEADER, f"{guest},WEBSITE,,mobile,919800006101"), **PROFILE)
    assert result(engine, org, import_id).counts["updated"] == 1
    assert people(engine, org) == before
    assert lookup(api, "email", "g101@example.com") == guest
    assert holder != guest
