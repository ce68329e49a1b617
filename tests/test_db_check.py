"""``patron db check``: the store's references and tenant invariants, verified set-based.

A clean store with every kind of row (the nine import profiles, a merge, an undo, a legacy
batch) reports nothing; a child naming a missing customer or a customer of another org,
planted by hand with SQL past the keys, is found with its id, by the function and the CLI.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Connection, Engine

from patron.audit.tables import change_log
from patron.cards import service as cards
from patron.cli.errors import VIOLATIONS_EXIT_CODE
from patron.coupons import service as coupons
from patron.customer.care_tables import customer_notes
from patron.customer.tables import identifiers, profiles
from patron.kit import integrity
from patron.kit.db import transaction
from patron.kit.schema import metadata
from patron.orgs import service as orgs
from tests.conftest import Api, OrgHandle, make_org
from tests.factories import merge, register
from tests.importing import csv, import_org, run, undo
from tests.loyalty_setup import add_program, bill
from tests.test_cli import database_url, invoke
from tests.test_legacy_batch import legacy_org, seed_request

#: An id no customer has (ids are never reused, and no test creates this many).
MISSING = 9_000_000_000_000


def violations(engine: Engine) -> list[integrity.CheckResult]:
    with transaction(engine, write=False) as conn:
        return integrity.find_violations(conn, samples=50)


def found(engine: Engine, kind: str, name: str) -> list[Any]:
    """The sample ids the check ``kind name`` reports (empty: it holds)."""
    check = next(c for c in integrity.checks() if (c.kind, c.name) == (kind, name))
    with transaction(engine, write=False) as conn:
        (result,) = integrity.run(conn, samples=50, only=[check])
    return list(result.sample_ids)


@contextmanager
def unguarded(engine: Engine) -> Iterator[Connection]:
    """A transaction in which no foreign key is enforced, as after a restore or a bulk load
    with the keys' triggers off (PostgreSQL: as the superuser the tests connect as)."""
    if engine.dialect.name == "postgresql":
        with transaction(engine) as conn:
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
            yield conn
        return
    # SQLite ignores the pragma inside a transaction: set it on the connection, then restore
    # it before the pooled connection serves anyone else.
    with engine.connect() as conn:
        # The driver's connection, outside any transaction SQLAlchemy would begin.
        raw = conn.connection.driver_connection
        assert raw is not None
        raw.execute("PRAGMA foreign_keys = OFF")
        try:
            with conn.begin():
                yield conn
        finally:
            raw.execute("PRAGMA foreign_keys = ON")


@contextmanager
def planted(engine: Engine, table: sa.Table, values: dict[str, Any]) -> Iterator[int]:
    """A row inserted past the keys, deleted again afterwards (the session's last check
    must find the store sound)."""
    with unguarded(engine) as conn:
        row_id = int(conn.execute(table.insert().values(values).returning(table.c.id)).scalar_one())
    try:
        yield row_id
    finally:
        with unguarded(engine) as conn:
            conn.execute(table.delete().where(table.c.id == row_id))


def log_entry(org_id: int, customer_id: int) -> dict[str, Any]:
    return {
        "org_id": org_id,
        "customer_id": customer_id,
        "change_type": "PROFILE",
        "details": {},
        "actor": "planted",
    }


def test_the_checks_cover_every_foreign_key_and_tenant_invariant_of_the_schema() -> None:
    names = {(check.kind, check.name) for check in integrity.checks()}
    for table in metadata.tables.values():
        for key in table.foreign_key_constraints:
            reference = next(
                r for r in integrity.declared_references() if r.table == table.name
                and r.columns == tuple(key.column_keys)
            )  # fmt: skip
            assert ("reference", reference.name) in names
            crosses_orgs = "org_id" in key.referred_table.c and "org_id" not in key.column_keys
            assert (("tenant", reference.name) in names) == crosses_orgs, reference.name
    assert ("reference", "identifiers.(org_id, customer_id) -> customers") in names
    assert ("tenant", "cards.customer_id -> customers") in names
    assert ("reference", "points_ledger.import_id -> imports") in names
    assert ("tenant", "points_ledger.transaction_id -> transactions") in names


def test_a_child_naming_a_missing_customer_is_found_with_its_id(
    engine: Engine, org: OrgHandle
) -> None:
    name = "change_log.customer_id -> customers"
    with planted(engine, change_log, log_entry(org.id, MISSING)) as row_id:
        assert row_id in found(engine, "reference", name)
        # The join of the tenant check finds no parent: not reported twice.
        assert row_id not in found(engine, "tenant", name)
    assert row_id not in found(engine, "reference", name)


def test_a_composite_key_broken_past_its_trigger_is_found(
    engine: Engine, org: OrgHandle, api: Api
) -> None:
    other = make_org(engine)
    tom = register(api, mobile="919800071001")
    name = "customer_notes.(org_id, customer_id) -> customers"
    note = {"org_id": other.id, "customer_id": tom, "description": "x", "author": "planted"}
    with planted(engine, customer_notes, note) as row_id:
        assert found(engine, "reference", name) == [row_id]


def test_a_reference_to_a_customer_of_another_org_is_found(
    engine: Engine, org: OrgHandle, api: Api
) -> None:
    other = make_org(engine)
    tom = register(api, mobile="919800071002")
    name = "change_log.customer_id -> customers"
    # The key on customers.id alone accepts the row: only the tenant check sees it.
    with transaction(engine) as conn:
        row_id = int(
            conn.execute(
                change_log.insert().values(log_entry(other.id, tom)).returning(change_log.c.id)
            ).scalar_one()
        )
    try:
        assert row_id in found(engine, "tenant", name)
        assert row_id not in found(engine, "reference", name)
    finally:
        with transaction(engine) as conn:
            conn.execute(change_log.delete().where(change_log.c.id == row_id))


def test_an_identifier_on_the_profile_of_another_customer_is_found(
    engine: Engine, org: OrgHandle, api: Api
) -> None:
    tom = register(api, mobile="919800071003")
    huck = register(api, mobile="919800071004")
    with transaction(engine, write=False) as conn:
        toms_profile = conn.execute(
            sa.select(profiles.c.id).where(profiles.c.customer_id == tom)
        ).scalar_one()
    # Each key holds (Huck exists, Tom's profile exists): only the pair is wrong.
    split = {
        "org_id": org.id,
        "customer_id": huck,
        "profile_id": toms_profile,
        "type": "externalId",
        "value": "split-1",
    }
    with transaction(engine) as conn:
        row_id = int(
            conn.execute(
                identifiers.insert().values(split).returning(identifiers.c.id)
            ).scalar_one()
        )
    try:
        assert found(engine, "reference", "identifiers.(profile_id, customer_id) -> profiles") == [
            row_id
        ]
    finally:
        with transaction(engine) as conn:
            conn.execute(identifiers.delete().where(identifiers.c.id == row_id))


def test_the_cli_exits_10_naming_the_check_and_the_ids_and_0_when_clean(
    engine: Engine, org: OrgHandle
) -> None:
    url = database_url(engine)
    with planted(engine, change_log, log_entry(org.id, MISSING)) as row_id:
        shown = invoke(url, "db", "check")
        as_json = invoke(url, "db", "check", "--json")
    assert shown.exit_code == VIOLATIONS_EXIT_CODE, shown.output
    line = next(x for x in shown.stdout.splitlines() if "change_log.customer_id" in x)
    assert line.startswith("reference change_log.customer_id -> customers: ")
    assert str(row_id) in line
    assert "failed" in shown.stdout.splitlines()[-1]
    assert as_json.exit_code == VIOLATIONS_EXIT_CODE
    body = json.loads(as_json.stdout)
    assert body["clean"] is False
    broken = [c for c in body["checks"] if c["count"]]
    assert {
        "kind": "reference",
        "name": "change_log.customer_id -> customers",
        "table": "change_log",
        "columns": ["customer_id"],
        "references": "customers",
        "declared": True,
        "count": broken[0]["count"],
        "sampleIds": broken[0]["sampleIds"],
    } in broken
    assert any(row_id in c["sampleIds"] for c in broken)

    clean = invoke(url, "db", "check")
    assert clean.exit_code == 0, clean.output
    assert clean.stdout.strip() == f"{len(integrity.checks())} checks: no violations"


@pytest.fixture
def store(engine: Engine, app_client: TestClient) -> Api:
    """An import org with a till, a card series, a coupon series, a label, a concept and a
    loyalty program (the setup each profile's sample needs)."""
    api = Api(app_client, import_org(engine))
    actor = api.org.admin
    with transaction(engine) as conn:
        orgs.add_unit(conn, actor, kind="till", code="1234")
        orgs.add_unit(conn, actor, kind="concept", code="Fashion")
        orgs.add_label(conn, actor, label="On Hold", system_status="Suspended")
        cards.add_series(
            conn,
            actor,
            cards.SeriesInput(code="GOLDPHY2", card_type="PHYSICAL", prefix="GOLD2", length=16),
        )
        coupons.create_series(
            conn,
            actor,
            coupons.SeriesInput(
                number=5309, name="Series 5309", valid_from="2016-01-01", valid_till="2016-12-31"
            ),
        )
        coupons.issue(conn, actor, coupons.IssueInput(series=5309, codes=("7003008",)))
    add_program(api)
    return api


def test_no_violation_after_every_profile_a_merge_an_undo_and_a_legacy_batch(
    engine: Engine, store: Api, app_client: TestClient
) -> None:
    api, org = store, store.org
    tom = register(api, mobile="919800072001")
    bill(api, tom, 1000)
    steps: list[tuple[str, str, dict[str, Any]]] = [
        (
            "loyalty-customers",
            csv(
                "Mobile,First Name,Till IUN Or Store Ext Id,Loyalty Points,Lifetime Points",
                "919800072001,Tom,mal,500,2600",
                "919800072002,Huck,mal,250,250",
            ),
            {},
        ),
        (
            "card-series",
            csv(
                "Card Series Code,Card Type,Card Prefix,Card Suffix,Card Length,Till IUN",
                "SILVER,PHYSICAL,SIL,,12,1234",
            ),
            {},
        ),
        (
            "cards",
            csv(
                "Card Number,Card Series Code,Card Status Label,Till IUN,Mobile",
                "GOLD212345672021,GOLDPHY2,NOT_ISSUED,1234,919800072001",
            ),
            {},
        ),
        (
            "coupon-redemption",
            csv(
                "Coupon Series Id(Voucher Series Id),Coupon Code(Voucher Code),Till IUN,"
                "User Identification Input,Redeemed Date,Transaction Number(Bill Number)",
                "5309,7003008,1234,919800072001,12/15/2016 15:06,BILL-1",
            ),
            {"date_format": "%m/%d/%Y %H:%M"},
        ),
        (
            "customer-status",
            csv("Mobile,Status Label", "919800072002,On Hold"),
            {},
        ),
        (
            "entity-lifecycle",
            csv(
                "Entity Type,Entity ID,Org Source ID,Activity,State,Added by,Reference ID,"
                "Updated on",
                f"CUSTOMER,{tom},wx-brand,FOLLOW,SUBSCRIBED,gateway,ref-1,2024-03-01T10:30:00Z",
            ),
            {},
        ),
        (
            "user-subscription",
            csv(
                "Mobile,Subscription Status,Channel,Priority",
                "919800072001,OPTIN,SMS,TRANS",
                "919800072002,OPTOUT,EMAIL,BULK",
            ),
            {},
        ),
        (
            "fraud-status",
            csv("Mobile,Status,Reason,StoreCode", "919800072002,INTERNAL,Staff,mal"),
            {},
        ),
        (
            "v2-profile-identifiers",
            csv(
                "User ID,Source,Account ID,Identifier Type,Identifier Value",
                f"{tom},WebEngage,2024ba96,externalId,EXT-TOM-1",
            ),
            {},
        ),
    ]
    done = {}
    for profile, data, request in steps:
        result = run(engine, org, data, profile=profile, **request)
        assert result.counts.get("rejected", 0) == 0, (profile, result.outcomes.to_dicts())
        done[profile] = result.record["id"]
    # An undo: the status import taken back.
    assert undo(engine, org, done["customer-status"]).state == "undone"
    # A merge: Becky's profile takes Tom's mobile, so she becomes his victim.
    becky = register(
        api,
        email="becky@example.com",
        source="WEB_ENGAGE",
        account_id="w1",
        loyalty_type="non_loyalty",
    )
    merge(api, victim=becky, survivor_mobile="919800072001", source="WEB_ENGAGE", account_id="w1")
    # A legacy batch (the seed's example) of an org of its own.
    legacy = legacy_org(engine, app_client)
    response = legacy.client.post("/api/batch", data=legacy.fields(**seed_request()))
    assert response.status_code == 200, response.text
    assert 'status="imported"' in response.text

    assert violations(engine) == []
