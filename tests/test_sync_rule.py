"""The profile synchronization rule: GET/PUT /v2/org/syncRule and its effect on registration."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from patron.audit.tables import audit_log
from patron.identity.types import IDENTIFIER_TYPES
from patron.kit.db import transaction
from patron.orgs import service as orgs
from tests.conftest import Api, OrgHandle, error_codes, warning_codes
from tests.factories import register, registration

DOB = {"dob": "2001-02-03"}


@pytest.fixture
def fields(engine: Engine, org: OrgHandle) -> None:
    with transaction(engine) as conn:
        orgs.add_field(conn, org.admin, kind="custom", name="dob", data_type="date")
        orgs.add_field(conn, org.admin, kind="custom", name="city")


def set_rule(api: Api, groups: Any, role: str = "admin") -> Any:
    return api.put("/v2/org/syncRule", json={"groups": groups}, role=role)


def post(api: Api, **kwargs: Any) -> Any:
    return api.post("/v2/customers", json=registration(**kwargs))


def details(api: Api, customer_id: int) -> dict[str, Any]:
    response = api.get(f"/v2/customers/{customer_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def identifiers_of(api: Api, customer_id: int) -> set[tuple[str, str]]:
    return {
        (i["type"], i["value"]) for i in details(api, customer_id)["profiles"][0]["identifiersAll"]
    }


# --- the rule as configured -----------------------------------------------------------


def test_an_org_starts_with_the_default_rule(api: Api, fields: None) -> None:
    response = api.get("/v2/org/syncRule", role="viewer")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["syncRule"] == {
        "groups": [[kind] for kind in IDENTIFIER_TYPES],
        "default": True,
        "updatedBy": None,
        "updatedAt": None,
    }
    assert body["keys"] == [*IDENTIFIER_TYPES, "firstName", "lastName", "customField.dob",
                            "customField.city"]  # fmt: skip


def test_an_admin_sets_the_rule_in_canonical_spelling(
    api: Api, fields: None, engine: Engine, org: OrgHandle
) -> None:
    groups = [["MOBILE"], ["email", "email"], ["first_name", "LastName", "customField.DOB"]]
    response = set_rule(api, groups)
    assert response.status_code == 200, response.text
    expected = [["mobile"], ["email"], ["firstName", "lastName", "customField.dob"]]
    rule = api.get("/v2/org/syncRule", role="viewer").json()["syncRule"]
    assert rule["groups"] == expected
    assert rule["default"] is False
    assert rule["updatedAt"]
    back = api.put("/v2/org/syncRule", json={"default": True}, role="admin")
    assert back.status_code == 200, back.text
    assert back.json()["syncRule"]["default"] is True
    with transaction(engine, write=False) as conn:
        entries = conn.execute(
            sa.select(audit_log.c.actor, audit_log.c.details)
            .where(audit_log.c.org_id == org.id, audit_log.c.action == "org.sync_rule.change")
            .order_by(audit_log.c.id)
        ).all()
    # Who changed it: the admin's credential, in the rule and in both audit entries.
    assert [(actor, d["before"], d["after"]) for actor, d in entries] == [
        (rule["updatedBy"], "default", expected),
        (rule["updatedBy"], expected, "default"),
    ]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"groups": []}, 95211),
        ({}, 95211),
        ({"groups": [["mobile"], []]}, 95212),
        ({"groups": [["mobile", "shoeSize"]]}, 95213),
        ({"groups": [["customField.nope"]]}, 95213),
        ({"groups": [["mobile"]] * 21}, 95214),
        ({"groups": [["mobile"]], "default": True}, 400),
        ({"groups": [["mobile"]], "extra": 1}, 400),
        ({"groups": "mobile"}, 400),
    ],
)
def test_an_invalid_rule_is_refused_and_nothing_changes(
    api: Api, fields: None, body: dict[str, Any], code: int
) -> None:
    response = api.put("/v2/org/syncRule", json=body, role="admin")
    assert response.status_code == 400, response.text
    assert error_codes(response) == [code]
    assert api.get("/v2/org/syncRule").json()["syncRule"]["default"] is True


def test_only_an_admin_changes_the_rule(api: Api, fields: None) -> None:
    assert set_rule(api, [["email"]], role="editor").status_code == 403
    assert set_rule(api, [["email"]], role="viewer").status_code == 403
    assert api.client.get("/v2/org/syncRule").status_code == 401


def test_each_org_has_its_own_rule(api: Api, other_api: Api, fields: None) -> None:
    assert set_rule(api, [["email"]]).status_code == 200
    assert other_api.get("/v2/org/syncRule").json()["syncRule"]["default"] is True


# --- the rule applied ----------------------------------------------------------------


def test_the_default_rule_keeps_the_registration_as_it_was(api: Api) -> None:
    first = register(api, mobile="919845012345", email="tom@example.com")
    same_source = post(api, mobile="919845012345", email="new@example.com")
    assert error_codes(same_source) == [1032]
    other_source = post(api, mobile="919845012345", source="WEBSITE")
    assert other_source.status_code == 200
    assert other_source.json()["createdId"] == first
    assert warning_codes(other_source) == [8050]


def test_a_match_updates_the_existing_profile_and_says_so(api: Api, fields: None) -> None:
    tom = register(
        api, email="tom@example.com", loyalty_type="non_loyalty",
        profile={"fields": {"city": "Pune"}},
    )  # fmt: skip
    assert set_rule(api, [["email"]]).status_code == 200
    response = post(
        api,
        first_name="Thomas",
        email="TOM@example.com",
        mobile="919845012345",
        loyalty_type="non_loyalty",
        profile={"fields": {"city": "Mumbai"}},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["createdId"] == tom
    assert warning_codes(response) == [95201]
    assert f"customer {tom}" in body["warnings"][0]["message"]
    assert "(email)" in body["warnings"][0]["message"]
    got = details(api, tom)
    assert len(got["profiles"]) == 1
    profile = got["profiles"][0]
    assert (profile["firstName"], profile["lastName"]) == ("Thomas", "Sawyer")
    assert profile["fields"] == {"city": "Mumbai"}
    assert identifiers_of(api, tom) == {("email", "tom@example.com"), ("mobile", "919845012345")}


def test_a_match_on_another_source_joins_the_customer(api: Api, fields: None) -> None:
    tom = register(api, email="tom@example.com", loyalty_type="non_loyalty")
    assert set_rule(api, [["email"]]).status_code == 200
    response = post(api, email="tom@example.com", source="WEBSITE", loyalty_type="loyalty",
                    mobile="919845012345")  # fmt: skip
    assert response.status_code == 200, response.text
    assert response.json()["createdId"] == tom
    assert warning_codes(response) == [8050, 95201]
    got = details(api, tom)
    assert [p["source"] for p in got["profiles"]] == ["INSTORE", "WEBSITE"]
    assert got["loyaltyInfo"]["loyaltyType"] == "loyalty"


def test_groups_are_or_ed_and_keys_and_ed(api: Api, fields: None) -> None:
    tom = register(
        api, first_name="Tom", last_name="Sawyer", email="tom@example.com",
        loyalty_type="non_loyalty", profile={"fields": DOB},
    )  # fmt: skip
    rule = [["email"], ["firstName", "lastName", "customField.dob"]]
    assert set_rule(api, rule).status_code == 200

    # The second group: same names (letter case aside) and date of birth, no email.
    by_names = post(
        api, first_name="TOM", last_name="sawyer", mobile="919845012345",
        loyalty_type="non_loyalty", profile={"fields": {"dob": "2001-02-03"}},
    )  # fmt: skip
    assert by_names.status_code == 200, by_names.text
    assert by_names.json()["createdId"] == tom
    assert "firstName + lastName + customField.dob" in by_names.json()["warnings"][0]["message"]

    # Not every key of the group: the names alone match nobody, a new customer is made.
    other_day = post(
        api, first_name="Tom", last_name="Sawyer", mobile="919845000002",
        loyalty_type="non_loyalty", profile={"fields": {"dob": "2001-02-04"}},
    )  # fmt: skip
    no_dob = post(api, first_name="Tom", last_name="Sawyer", mobile="919845000003",
                  loyalty_type="non_loyalty")  # fmt: skip
    for response in (other_day, no_dob):
        assert response.status_code == 200, response.text
        assert response.json()["createdId"] != tom
        assert warning_codes(response) == []

    # The first group alone suffices.
    by_email = post(api, first_name="Someone", last_name="Else", email="tom@example.com",
                    loyalty_type="non_loyalty")  # fmt: skip
    assert by_email.json()["createdId"] == tom


def test_identifiers_outside_the_rule_still_belong_to_one_customer(api: Api, fields: None) -> None:
    becky = register(api, mobile="919845099999", first_name="Becky")
    tom = register(api, email="tom@example.com", loyalty_type="non_loyalty")
    assert set_rule(api, [["email"]]).status_code == 200
    # The rule matches Tom, but the mobile is Becky's.
    both = post(api, email="tom@example.com", mobile="919845099999", loyalty_type="non_loyalty")
    assert both.status_code == 409
    assert error_codes(both) == [8053]
    assert str(becky) in both.json()["errors"][0]["message"]
    # The rule matches nobody, but the mobile is Becky's: not a new person either.
    mobile_only = post(api, mobile="919845099999", email="new@example.com", source="WEBSITE",
                       loyalty_type="non_loyalty")  # fmt: skip
    assert error_codes(mobile_only) == [8053]
    assert identifiers_of(api, tom) == {("email", "tom@example.com")}


def test_a_group_that_matches_two_customers_decides_nothing(api: Api, fields: None) -> None:
    for mobile in ("919845000001", "919845000002"):
        register(api, first_name="John", last_name="Smith", mobile=mobile)
    assert set_rule(api, [["firstName", "lastName"]]).status_code == 200
    response = post(api, first_name="John", last_name="Smith", mobile="919845000003")
    assert response.status_code == 409
    assert error_codes(response) == [8053]
    assert "several customers" in response.json()["errors"][0]["message"]


def test_a_matched_customer_marked_as_fraud_is_not_changed(api: Api, fields: None) -> None:
    tom = register(api, email="tom@example.com", loyalty_type="non_loyalty")
    marked = api.put(
        f"/v2/customers/{tom}/fraudStatus", json={"status": "MARKED", "reason": "r"}, role="admin"
    )
    assert marked.status_code == 200, marked.text
    assert set_rule(api, [["email"]]).status_code == 200
    response = post(api, email="tom@example.com", first_name="Other", loyalty_type="non_loyalty")
    assert error_codes(response) == [618]
    assert details(api, tom)["profiles"][0]["firstName"] == "Tom"


def test_a_match_never_gives_a_second_mobile(api: Api, fields: None) -> None:
    tom = register(api, email="tom@example.com", mobile="919845012345")
    assert set_rule(api, [["email"]]).status_code == 200
    response = post(api, email="tom@example.com", mobile="919845000009")
    assert error_codes(response) == [1047]
    assert identifiers_of(api, tom) == {("email", "tom@example.com"), ("mobile", "919845012345")}
