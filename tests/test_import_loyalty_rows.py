"""The Loyalty Customers profile: one file per error of the seed's table, per auto-correction
and per template option, each asserting the exact per-row outcome."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from patron.customer.tables import customers
from patron.imports.codes import RowCode
from patron.kit.db import transaction
from patron.orgs.tables import status_labels
from tests.conftest import Api, OrgHandle
from tests.factories import register
from tests.importing import SEED_HEADER, csv, import_org, run

HEADER = "First Name,Last Name,Mobile,Email,External Id,Store"


@pytest.fixture
def org(engine: Engine) -> OrgHandle:
    return import_org(engine)


@pytest.fixture
def api(app_client: TestClient, org: OrgHandle) -> Api:
    return Api(app_client, org)


def details(api: Api, customer_id: int) -> dict[str, object]:
    response = api.get(f"/v2/customers/{customer_id}?source=ALL")
    assert response.status_code == 200, response.text
    body = response.json()
    profile = body["profiles"][0]
    ids = {i["type"]: i["value"] for p in body["profiles"] for i in p["identifiers"]}
    return {
        "first_name": profile["firstName"],
        "last_name": profile["lastName"],
        **ids,
        "fields": profile.get("fields", {}),
    }


def lookup(api: Api, kind: str, value: str) -> int | None:
    response = api.get(f"/v2/customers/lookup?identifierName={kind}&identifierValue={value}")
    return int(response.json()["entity"]) if response.status_code == 200 else None


# --- the seed's sample -------------------------------------------------------------------


def test_the_seed_sample_imports_as_documented(engine: Engine, org: OrgHandle, api: Api) -> None:
    done = run(
        engine,
        org,
        csv(SEED_HEADER, "Tom,Sawyer,9900111111,tom.sawyer@capllary.com,lb67p,mal"),
        options={"append_country_code": True},
    )
    assert done.state == "committed"
    assert done.counts["inserted"] == 1
    assert done.counts["rejected"] == 0
    assert done.record["mapping"] == {
        "First Name": "first_name",
        "Last Name": "last_name",
        "Mobile": "mobile",
        "Email": "email",
        "External Id": "external_id",
        "Till IUN Or Store Ext Id": "store",
    }
    customer_id = done.row(2)["customer_id"]
    assert lookup(api, "mobile", "919900111111") == customer_id
    assert details(api, customer_id) == {
        "first_name": "Tom",
        "last_name": "Sawyer",
        "mobile": "919900111111",
        "email": "tom.sawyer@capllary.com",
        "externalId": "lb67p",
        "fields": {},
    }
    assert done.row(2)["auto_corrections"] == ["Mobile: country code 91 added"]


# --- the error table -------------------------------------------------------------------------


def test_email_of_another_customer(engine: Engine, org: OrgHandle, api: Api) -> None:
    owner = register(api, mobile="919800000001", email="ann@example.com")
    done = run(engine, org, csv(HEADER, "Bob,Lee,919800000002,ANN@example.com,,mal"))
    row = done.row(2)
    assert row["status"] == "rejected"
    assert row["error_codes"] == [RowCode.EMAIL_OF_OTHER_CUSTOMER]
    assert row["errors"] == [
        f"email ann@example.com is already registered to another customer (id {owner})"
    ]
    assert lookup(api, "mobile", "919800000002") is None


def test_duplicate_external_id_in_file_rejects_every_row(engine: Engine, org: OrgHandle) -> None:
    done = run(
        engine,
        org,
        csv(
            HEADER,
            "A,A,919800000011,,X1,mal",
            "B,B,919800000012,,X1,mal",
            "C,C,919800000013,,X2,mal",
        ),
    )
    assert done.statuses() == ["rejected", "rejected", "inserted"]
    assert done.row(2)["errors"] == ["duplicate external id X1 in the file: also in row 3"]
    assert done.row(3)["errors"] == ["duplicate external id X1 in the file: also in row 2"]
    assert done.codes(2) == [RowCode.DUPLICATE_EXTERNAL_ID_IN_FILE]


def test_duplicate_mobile_in_file_however_written(engine: Engine, org: OrgHandle) -> None:
    done = run(
        engine,
        org,
        csv(HEADER, "A,A,+91 98450 12345,,,mal", "B,B,919845012345,,,mal", "C,C,98450-12345,,,mal"),
        options={"append_country_code": True},
    )
    assert done.statuses() == ["rejected"] * 3
    assert done.row(2)["errors"] == ["duplicate mobile 919845012345 in the file: also in rows 3, 4"]
    assert done.row(4)["errors"] == ["duplicate mobile 919845012345 in the file: also in rows 2, 3"]
    assert {code for n in (2, 3, 4) for code in done.codes(n)} == {RowCode.DUPLICATE_MOBILE_IN_FILE}


def test_duplicate_email_in_file(engine: Engine, org: OrgHandle) -> None:
    done = run(
        engine,
        org,
        csv(
            HEADER,
            "A,A,919800000021,Sam@Example.com,,mal",
            "B,B,919800000022,sam@example.com ,,mal",
        ),
    )
    assert done.statuses() == ["rejected", "rejected"]
    assert done.codes(2) == done.codes(3) == [RowCode.DUPLICATE_EMAIL_IN_FILE]
    assert done.row(3)["errors"] == ["duplicate email sam@example.com in the file: also in row 2"]


def test_mobile_of_another_customer(engine: Engine, org: OrgHandle, api: Api) -> None:
    owner = register(api, mobile="919800000031")
    done = run(
        engine,
        org,
        csv(HEADER, "A,A,919800000031,,NEW-1,mal"),
        options={"unique_identifier": "external_id"},
    )
    assert done.codes(2) == [RowCode.MOBILE_OF_OTHER_CUSTOMER]
    assert done.row(2)["errors"] == [
        f"mobile 919800000031 is already registered to another customer (id {owner})"
    ]


def test_a_mobile_is_not_changed_through_an_import(
    engine: Engine, org: OrgHandle, api: Api
) -> None:
    customer = register(api, mobile="919800000041", email="kim@example.com")
    done = run(
        engine,
        org,
        csv(HEADER, "Kim,Lee,919800000049,kim@example.com,,mal"),
        options={"unique_identifier": "email"},
    )
    assert done.codes(2) == [RowCode.MOBILE_CHANGE_NOT_ALLOWED]
    assert done.row(2)["errors"] == [
        f"the customer (id {customer}) has mobile 919800000041: "
        "a mobile number cannot be changed through an import"
    ]
    assert details(api, customer)["mobile"] == "919800000041"


def test_another_external_id_on_the_customer(engine: Engine, org: OrgHandle, api: Api) -> None:
    customer = register(api, mobile="919800000051", external_id="OLD-51")
    done = run(engine, org, csv(HEADER, "A,A,919800000051,,NEW-51,mal"))
    assert done.codes(2) == [RowCode.OTHER_EXTERNAL_ID_ON_CUSTOMER]
    assert done.row(2)["errors"] == [
        f"the customer (id {customer}) already has another external id (OLD-51)"
    ]


def test_external_id_of_another_customer(engine: Engine, org: OrgHandle, api: Api) -> None:
    owner = register(api, mobile="919800000061", external_id="EXT-61")
    done = run(engine, org, csv(HEADER, "A,A,919800000062,,EXT-61,mal"))
    assert done.codes(2) == [RowCode.EXTERNAL_ID_OF_OTHER_CUSTOMER]
    assert done.row(2)["errors"] == [
        f"external id EXT-61 is already registered to another customer (id {owner})"
    ]


def test_invalid_mobile_and_invalid_email(engine: Engine, org: OrgHandle) -> None:
    done = run(engine, org, csv(HEADER, "A,A,12ab,,,mal", "B,B,919800000071,not-an-email,,mal"))
    assert done.codes(2) == [RowCode.INVALID_MOBILE]
    assert done.row(2)["errors"] == [
        "invalid mobile number: a mobile number may contain only digits, spaces, + - . ( )"
    ]
    assert done.codes(3) == [RowCode.INVALID_EMAIL]
    assert done.row(3)["errors"] == [
        "invalid email id: 'not-an-email' is not a valid email address"
    ]


def test_mobile_against_the_org_regex(engine: Engine) -> None:
    org = import_org(engine, mobile_regex=r"^91[6-9][0-9]{9}$")
    done = run(engine, org, csv(HEADER, "A,A,915800000071,,,mal", "B,B,919800000071,,,mal"))
    assert done.statuses() == ["rejected", "inserted"]
    assert done.row(2)["errors"] == [
        "invalid mobile number: mobile number 915800000071 does not match the org's mobile rule"
    ]


def _set_status(engine: Engine, org: OrgHandle, customer_id: int, label: str) -> None:
    with transaction(engine) as conn:
        label_id = conn.execute(
            sa.select(status_labels.c.id).where(
                status_labels.c.org_id == org.id, status_labels.c.label == label
            )
        ).scalar_one()
        conn.execute(
            customers.update().where(customers.c.id == customer_id).values(status_label_id=label_id)
        )


def test_inactive_and_fraud_customers_are_not_updated(
    engine: Engine, org: OrgHandle, api: Api
) -> None:
    suspended = register(api, mobile="919800000081", first_name="Sus")
    fraud = register(api, mobile="919800000082", first_name="Fra")
    _set_status(engine, org, suspended, "Suspended")
    response = api.put(
        f"/v2/customers/{fraud}/fraudStatus",
        role="admin",
        json={"status": "MARKED", "reason": "chargebacks"},
    )
    assert response.status_code == 200, response.text
    done = run(
        engine, org, csv(HEADER, "New,Name,919800000081,,,mal", "New,Name,919800000082,,,mal")
    )
    assert done.codes(2) == [RowCode.CUSTOMER_INACTIVE]
    assert done.row(2)["errors"] == [f"the customer (id {suspended}) is inactive (Suspended)"]
    assert done.codes(3) == [RowCode.CUSTOMER_FRAUD]
    assert done.row(3)["errors"] == [f"the customer (id {fraud}) is marked as fraud"]
    assert details(api, suspended)["first_name"] == "Sus"
    assert details(api, fraud)["first_name"] == "Fra"


def test_names_with_special_characters(engine: Engine, org: OrgHandle) -> None:
    done = run(
        engine,
        org,
        csv(HEADER, "T0m,Sawyer,919800000091,,,mal", "Zoë,O\u2019Brien-Smith,919800000092,,,mal"),
    )
    assert done.codes(2) == [RowCode.INVALID_NAME]
    assert done.row(2)["errors"] == [
        "invalid name: 'T0m' contains characters other than letters, spaces and ' - ."
    ]
    assert done.row(3)["status"] == "inserted"


def test_strict_names(engine: Engine) -> None:
    org = import_org(engine, strict_names=True)
    done = run(engine, org, csv(HEADER, "Zoë,O'Brien,919800000093,,,mal"))
    assert done.row(2)["errors"] == [
        "invalid name: 'O'Brien' contains characters other than letters and spaces"
    ]


def test_join_date_invalid_empty_and_future(engine: Engine, org: OrgHandle) -> None:
    header = HEADER + ",Date of Joining"
    done = run(
        engine,
        org,
        csv(
            header,
            "A,A,919800000101,,,mal,2024-13-40",
            "B,B,919800000102,,,mal,",
            "C,C,919800000103,,,mal,2999-01-01",
            "D,D,919800000104,,,mal,2024-02-29",
        ),
    )
    assert done.codes(2) == [RowCode.JOIN_DATE_INVALID]
    assert done.codes(3) == [RowCode.JOIN_DATE_EMPTY]
    assert done.row(3)["errors"] == ["invalid join date: the date of joining is empty"]
    assert done.codes(4) == [RowCode.JOIN_DATE_IN_FUTURE]
    assert done.row(4)["errors"] == ["invalid join date: 2999-01-01 is in the future"]
    assert done.row(5)["status"] == "inserted"


def test_join_date_with_the_template_date_format(engine: Engine, org: OrgHandle) -> None:
    header = HEADER + ",Date of Joining"
    done = run(
        engine,
        org,
        csv(header, "A,A,919800000111,,,mal,29/02/2024", "B,B,919800000112,,,mal,2024-02-29"),
        date_format="%d/%m/%Y",
    )
    assert done.row(2)["status"] == "inserted"
    assert done.codes(3) == [RowCode.JOIN_DATE_INVALID]


def test_join_store_unknown_or_empty(engine: Engine, org: OrgHandle) -> None:
    done = run(
        engine,
        org,
        csv(
            HEADER,
            "A,A,919800000121,,,nowhere",
            "B,B,919800000122,,,",
            "C,C,919800000123,,,MAL.TILL",
        ),
    )
    assert done.codes(2) == [RowCode.STORE_UNKNOWN]
    assert done.row(2)["errors"] == [
        "invalid join store: 'nowhere' is not a store or till of this org"
    ]
    assert done.codes(3) == [RowCode.STORE_EMPTY]
    assert done.row(4)["status"] == "inserted"  # codes match whatever their case


def test_a_row_needs_its_unique_identifier(engine: Engine, org: OrgHandle) -> None:
    done = run(engine, org, csv(HEADER, "A,A,,a@example.com,,mal"))
    assert done.codes(2) == [RowCode.IDENTIFIER_EMPTY]
    assert done.row(2)["errors"] == ["the customer's unique identifier (mobile) is empty"]


def test_a_deleted_customer_does_not_come_back(engine: Engine, org: OrgHandle, api: Api) -> None:
    customer = register(api, mobile="919800000131")
    response = api.request(
        "DELETE",
        f"/v2/customers/{customer}",
        role="admin",
        json={"reason": "asked to be forgotten"},
    )
    assert response.status_code in (200, 204), response.text
    done = run(engine, org, csv(HEADER, "A,A,919800000131,,,mal"))
    assert done.codes(2) == [RowCode.DELETED_CUSTOMER]
    assert done.row(2)["errors"] == ["the mobile belongs to a deleted customer"]


# --- auto-corrections -------------------------------------------------------------------------


def test_auto_corrections_are_recorded_per_cell(engine: Engine, org: OrgHandle, api: Api) -> None:
    done = run(
        engine,
        org,
        csv(HEADER, " Ann , Lee ,98450 12345, Ann@Example.COM ,,mal"),
        options={"append_country_code": True},
    )
    row = done.row(2)
    assert row["status"] == "inserted"
    assert row["auto_corrections"] == [
        "Mobile: country code 91 added",
        "Email: whitespace trimmed",
        "Email: email lower-cased",
        "First Name: whitespace trimmed",
        "Last Name: whitespace trimmed",
    ]
    assert done.counts["auto_corrected"] == 1
    assert details(api, row["customer_id"])["email"] == "ann@example.com"


def test_replace_invalid_store(engine: Engine, org: OrgHandle) -> None:
    done = run(
        engine,
        org,
        csv(HEADER, "A,A,919800000141,,,nowhere", "B,B,919800000142,,,"),
        options={"replace_invalid_store": "blr"},
    )
    assert done.statuses() == ["inserted", "inserted"]
    assert done.row(2)["auto_corrections"] == ["Store: unknown store 'nowhere' replaced by blr"]
    assert done.row(3)["auto_corrections"] == ["Store: empty store replaced by blr"]


# --- options ------------------------------------------------------------------------------------


def test_stores_by_external_id(engine: Engine, org: OrgHandle) -> None:
    done = run(
        engine,
        org,
        csv(HEADER, "A,A,919800000151,,,EXT-MAL", "B,B,919800000152,,,mal"),
        options={"stores_by_external_id": True},
    )
    assert done.row(2)["status"] == "inserted"
    assert done.codes(3) == [RowCode.STORE_UNKNOWN]


def test_disable_mobile_and_email_validation(engine: Engine, org: OrgHandle, api: Api) -> None:
    rows = csv(HEADER, "A,A,0012,odd@mail,,mal")
    checked = run(engine, org, rows)
    assert checked.codes(2) == [RowCode.INVALID_MOBILE, RowCode.INVALID_EMAIL]
    relaxed = run(
        engine,
        org,
        rows,
        options={"disable_mobile_validation": True, "disable_email_validation": True},
    )
    assert relaxed.row(2)["status"] == "inserted"
    assert details(api, relaxed.row(2)["customer_id"])["email"] == "odd@mail"


def test_disable_existing_update_skips_known_customers(
    engine: Engine, org: OrgHandle, api: Api
) -> None:
    known = register(api, mobile="919800000161", first_name="Old")
    done = run(
        engine,
        org,
        csv(HEADER, "New,Name,919800000161,,,mal", "C,C,919800000162,,,mal"),
        options={"disable_existing_update": True},
    )
    assert done.statuses() == ["skipped", "inserted"]
    assert done.row(2)["errors"] == ["existing customer not updated: the template disables updates"]
    assert details(api, known)["first_name"] == "Old"


def test_update_fields_limits_what_changes(engine: Engine, org: OrgHandle, api: Api) -> None:
    known = register(api, mobile="919800000171", first_name="Old", last_name="Name")
    done = run(
        engine,
        org,
        csv(HEADER, "New,Surname,919800000171,new@example.com,,mal"),
        options={"update_fields": ["last_name"]},
    )
    assert done.row(2)["status"] == "updated"
    seen = details(api, known)
    assert (seen["first_name"], seen["last_name"]) == ("Old", "Surname")
    assert "email" not in seen


def test_skip_empty_custom_fields(engine: Engine, org: OrgHandle, api: Api) -> None:
    header = HEADER + ",dateofbirth"
    first = run(engine, org, csv(header, "A,A,919800000181,,,mal,1990-05-01"))
    customer = first.row(2)["customer_id"]
    kept = run(
        engine,
        org,
        csv(header, "A,A,919800000181,,,mal,"),
        options={"skip_empty_custom_fields": True},
    )
    assert kept.row(2)["status"] == "skipped"
    assert details(api, customer)["fields"] == {"dateofbirth": "1990-05-01"}
    cleared = run(engine, org, csv(header, "A,A,919800000181,,,mal,"))
    assert cleared.row(2)["status"] == "updated"
    assert details(api, customer)["fields"] == {}


def test_unique_identifier_external_id(engine: Engine, org: OrgHandle, api: Api) -> None:
    known = register(api, mobile="919800000191", external_id="EXT-191", first_name="Old")
    done = run(
        engine,
        org,
        csv(HEADER, "New,Name,,,EXT-191,mal", "C,C,,,EXT-192,mal"),
        options={"unique_identifier": "external_id"},
    )
    assert done.statuses() == ["updated", "inserted"]
    assert details(api, known)["first_name"] == "New"
    assert lookup(api, "externalId", "EXT-192") == done.row(3)["customer_id"]


def test_an_external_id_spelled_like_a_null_marker_is_kept(
    engine: Engine, org: OrgHandle, api: Api
) -> None:
    # \N is how PostgreSQL's COPY writes NULL in its text format: here it is a value.
    done = run(engine, org, csv(HEADER, "Ann,Lee,919845012345,,\\N,mal"))
    assert done.statuses() == ["inserted"]
    assert lookup(api, "externalId", "\\N") == done.row(2)["customer_id"]


def test_user_id_updates_that_customer(engine: Engine, org: OrgHandle, api: Api) -> None:
    known = register(api, mobile="919800000201", first_name="Old")
    header = "User ID,First Name,Store"
    done = run(engine, org, csv(header, f"{known},Renamed,mal", "999999999,Ghost,mal"))
    assert done.row(2)["status"] == "updated"
    assert details(api, known)["first_name"] == "Renamed"
    assert done.codes(3) == [RowCode.USER_ID_UNKNOWN]
    assert done.row(3)["errors"] == ["user id 999999999 is not a customer of this org"]
