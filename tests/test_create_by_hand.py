"""Creating a profile by hand (the console's service) and the mandatory fields setting."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from patron.auth.actor import Actor, Role
from patron.customer.by_hand import (
    ByHandResult,
    FieldError,
    ProfileByHand,
    create_profile_by_hand,
    split_full_name,
)
from patron.customer.tables import customers
from patron.kit.db import transaction
from patron.kit.errors import Forbidden
from patron.orgs import service as orgs
from patron.orgs.settings import parse_assignment
from patron.subscriptions.tables import consent_ledger
from tests.conftest import Api, OrgHandle, error_codes
from tests.factories import register


@pytest.fixture
def fields(engine: Engine, org: OrgHandle) -> None:
    with transaction(engine) as conn:
        orgs.add_field(conn, org.admin, kind="custom", name="city")
        orgs.add_field(conn, org.admin, kind="custom", name="dob", data_type="date")
        orgs.add_unit(conn, org.admin, kind="store", code="blr")


def clerk(org: OrgHandle, role: Role = Role.editor) -> Actor:
    return Actor(org_id=org.id, role=role, name="mary.clerk", kind="user")


def create(engine: Engine, org: OrgHandle, role: Role = Role.editor, **values: Any) -> ByHandResult:
    with transaction(engine) as conn:
        return create_profile_by_hand(conn, clerk(org, role), ProfileByHand(**values))


def count_customers(engine: Engine, org: OrgHandle) -> int:
    with transaction(engine, write=False) as conn:
        query = sa.select(sa.func.count()).where(customers.c.org_id == org.id)
        return int(conn.execute(query).scalar_one())


def ledger(engine: Engine, org: OrgHandle, customer_id: int) -> list[tuple[Any, ...]]:
    with transaction(engine, write=False) as conn:
        query = (
            sa.select(
                consent_ledger.c.channel,
                consent_ledger.c.priority,
                consent_ledger.c.status,
                consent_ledger.c.origin,
                consent_ledger.c.actor,
            )
            .where(consent_ledger.c.org_id == org.id, consent_ledger.c.customer_id == customer_id)
            .order_by(consent_ledger.c.id)
        )
        return [tuple(row) for row in conn.execute(query)]


@pytest.mark.parametrize(
    ("full", "first", "last"),
    [
        ("Mary Ann Smith", "Mary Ann", "Smith"),
        ("Nguyen Van An", "Nguyen Van", "An"),
        ("Cher", "Cher", ""),
        ("  Tom   Sawyer ", "Tom", "Sawyer"),
    ],
)
def test_the_full_name_is_split_at_its_last_space(full: str, first: str, last: str) -> None:
    assert split_full_name(full) == (first, last)


def test_a_profile_is_created_with_its_attributes_and_consent(
    engine: Engine, org: OrgHandle, api: Api, fields: None
) -> None:
    result = create(
        engine,
        org,
        full_name="Mary Ann Smith",
        mobile="+91 98450 12345",
        email="Mary@Example.com",
        attributes={"city": "Pune", "dob": "1990-04-01"},
        consent={"mobile": "OPTIN", "email": "opt-out"},
        store="blr",
    )
    assert result.ok, result.errors
    assert result.created is True
    assert result.matched_by is None
    assert result.customer_id is not None
    got = api.get(f"/v2/customers/{result.customer_id}").json()
    profile = got["profiles"][0]
    assert (profile["firstName"], profile["lastName"], profile["source"]) == (
        "Mary Ann",
        "Smith",
        "INSTORE",
    )
    assert {(i["type"], i["value"]) for i in profile["identifiers"]} == {
        ("mobile", "919845012345"),
        ("email", "mary@example.com"),
    }
    assert profile["fields"] == {"city": "Pune", "dob": "1990-04-01"}
    assert got["loyaltyInfo"]["loyaltyType"] == "non_loyalty"
    assert got["associatedWith"] == "blr"
    # Consent goes to the ledger: from the console, by the user who entered it.
    assert sorted(ledger(engine, org, result.customer_id)) == [
        ("EMAIL", "BULK", "OPTOUT", "console", "mary.clerk"),
        ("SMS", "BULK", "OPTIN", "console", "mary.clerk"),
    ]


def test_every_field_error_comes_back_at_once_and_nothing_is_written(
    engine: Engine, org: OrgHandle, fields: None
) -> None:
    result = create(
        engine,
        org,
        full_name="R2 D2",
        mobile="12",
        email="not-an-email",
        attributes={"city": "x" * 300, "dob": "yesterday", "shoe": "42"},
        consent={"mobile": "maybe", "fax": "OPTIN"},
        store="nowhere",
        loyalty_type="gold",
    )
    assert not result.ok
    assert result.customer_id is None
    assert {name: error.code for name, error in result.errors.items()} == {
        "fullName": 91003,
        "mobile": 1001,
        "email": 1002,
        "customField.city": 1017,
        "customField.dob": 1017,
        "customField.shoe": 1017,
        "consent.mobile": 1106,
        "consent.fax": 1101,
        "store": 91020,
        "loyaltyType": 400,
    }
    assert all(isinstance(error, FieldError) and error.message for error in result.errors.values())
    assert count_customers(engine, org) == 0


def test_a_name_and_a_mobile_or_an_email_are_needed(
    engine: Engine, org: OrgHandle, fields: None
) -> None:
    result = create(engine, org, consent={"email": "OPTIN"})
    assert {name: error.code for name, error in result.errors.items()} == {
        "fullName": 91003,
        "mobile": 1045,
        "email": 1045,
        "consent.email": 91003,
    }
    assert count_customers(engine, org) == 0


def test_mandatory_fields_are_set_with_the_org_settings_and_enforced(
    engine: Engine, org: OrgHandle, api: Api, fields: None
) -> None:
    response = api.put(
        "/v2/org/settings",
        json={"manualRequiredFields": ["LASTNAME", "email", "customField.CITY", "city"]},
        role="admin",
    )
    assert response.status_code == 200, response.text
    assert response.json()["settings"]["manualRequiredFields"] == [
        "lastName",
        "email",
        "customField.city",
    ]
    missing = create(engine, org, full_name="Cher", mobile="919845012345")
    assert {name: (e.code, e.message) for name, e in missing.errors.items()} == {
        "lastName": (95221, "Last name is required"),
        "email": (95221, "Email is required"),
        "customField.city": (95221, "city is required"),
    }
    complete = create(
        engine,
        org,
        full_name="Cher Sarkisian",
        mobile="919845012345",
        email="cher@example.com",
        attributes={"city": "Pune"},
    )
    assert complete.ok, complete.errors


@pytest.mark.parametrize("names", [["shoeSize"], ["customField.nope"], ["fullName"]])
def test_an_unknown_mandatory_field_is_refused(api: Api, fields: None, names: list[str]) -> None:
    response = api.put("/v2/org/settings", json={"manualRequiredFields": names}, role="admin")
    assert response.status_code == 400
    assert error_codes(response) == [95220]
    assert (
        api.get("/v2/org/settings", role="admin").json()["settings"]["manualRequiredFields"] == []
    )


def test_the_person_the_rule_finds_is_updated_not_created_again(
    engine: Engine, org: OrgHandle, api: Api, fields: None
) -> None:
    tom = register(api, first_name="Tom", last_name="Sawyer", mobile="919845012345")
    result = create(
        engine,
        org,
        full_name="Thomas Sawyer",
        mobile="+919845012345",
        email="tom@example.com",
        attributes={"city": "Pune"},
        consent={"email": "OPTIN"},
    )
    assert result.ok, result.errors
    assert (result.customer_id, result.created, result.matched_by) == (tom, False, ("mobile",))
    assert [w.code for w in result.warnings] == [95201]
    got = api.get(f"/v2/customers/{tom}").json()
    profile = got["profiles"][0]
    assert (profile["firstName"], profile["fields"]) == ("Thomas", {"city": "Pune"})
    assert ("email", "tom@example.com") in {(i["type"], i["value"]) for i in profile["identifiers"]}
    assert ledger(engine, org, tom) == [("EMAIL", "BULK", "OPTIN", "console", "mary.clerk")]
    assert count_customers(engine, org) == 1


def test_a_configured_rule_applies_by_hand_too(
    engine: Engine, org: OrgHandle, api: Api, fields: None
) -> None:
    tom = register(
        api, first_name="Tom", last_name="Sawyer", mobile="919845012345",
        profile={"fields": {"dob": "2001-02-03"}},
    )  # fmt: skip
    rule = api.put(
        "/v2/org/syncRule",
        json={"groups": [["firstName", "lastName", "customField.dob"]]},
        role="admin",
    )
    assert rule.status_code == 200, rule.text
    result = create(
        engine, org, full_name="tom sawyer", email="tom@example.com",
        attributes={"dob": "2001-02-03"},
    )  # fmt: skip
    assert (result.customer_id, result.created) == (tom, False)
    assert result.matched_by == ("firstName", "lastName", "customField.dob")


def test_a_refusal_of_the_registration_is_a_form_error_and_leaves_nothing(
    engine: Engine, org: OrgHandle, api: Api, fields: None
) -> None:
    register(api, mobile="919845012345")
    register(api, mobile="919845099999", email="other@example.com")
    before = count_customers(engine, org)
    result = create(
        engine, org, full_name="Tom Sawyer", mobile="919845012345", email="other@example.com"
    )
    assert result.customer_id is None
    assert list(result.errors) == [""]
    assert result.errors[""].code == 8053
    assert count_customers(engine, org) == before


def test_a_viewer_cannot_create_a_profile(engine: Engine, org: OrgHandle, fields: None) -> None:
    with pytest.raises(Forbidden):
        create(engine, org, Role.viewer, full_name="Tom Sawyer", mobile="919845012345")
    assert count_customers(engine, org) == 0


def test_the_command_line_sets_mandatory_fields_as_a_list() -> None:
    assert parse_assignment("manual_required_fields=lastName, customField.dob,") == (
        "manual_required_fields",
        ["lastName", "customField.dob"],
    )
