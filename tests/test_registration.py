"""POST /v2/customers: the seed sample, identity rules and every registration code."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from patron.kit.db import transaction
from patron.orgs import service as orgs
from tests.conftest import DATA, EXAMPLES, Api, error_codes, make_org, warning_codes
from tests.factories import declare_sample_setup, register, registration


def test_seed_sample_registers_tom_sawyer(api: Api, engine: Engine) -> None:
    declare_sample_setup(engine, api.org)
    body = json.loads((EXAMPLES / "register_tom_sawyer.json").read_text())
    response = api.post("/v2/customers", json=body)
    assert response.status_code == 200, response.text
    created = response.json()
    assert isinstance(created["createdId"], int)
    # The card series and the loyalty program are not defined: warnings, not failures.
    assert sorted(warning_codes(response)) == [95001, 95002]
    assert created["sideEffects"] == []

    customer = api.get(f"/v2/customers/{created['createdId']}", role="viewer").json()
    profile = customer["profiles"][0]
    assert (profile["firstName"], profile["lastName"]) == ("Tom", "Sawyer")
    assert (profile["source"], profile["accountId"]) == ("MOBILE_APP", "400")
    assert {(i["type"], i["value"]) for i in profile["identifiers"]} == {
        ("mobile", "919010000022"),
        ("cuid", "cuid_91901000002"),
        ("unionId", "unionId_91901000002"),
        ("cardnumber", "test123112121"),
    }
    assert profile["fields"] == {"employee": "true", "dateofbirth": "22-10-2000"}
    assert customer["extendedFields"] == {"gender": "Male", "city": "Bangalore"}
    assert customer["associatedWith"] == "bukl.till"
    assert {c["type"] for c in profile["commChannels"]} == {"mobilePush", "mobile"}
    assert customer["loyaltyInfo"]["loyaltyType"] == "loyalty"


def test_seed_sample_as_printed_is_refused_clearly(api: Api) -> None:
    raw = (DATA / "register_tom_sawyer_as_printed.json").read_bytes()
    response = api.post("/v2/customers", content=raw, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    body = response.json()
    assert body["warnings"] == []
    assert body["errors"][0]["status"] is False
    assert body["errors"][0]["code"] == 400
    assert "not valid JSON" in body["errors"][0]["message"]


def test_same_person_on_another_source_is_combined(api: Api) -> None:
    first = register(api, mobile="919845012345")
    response = api.post(
        "/v2/customers",
        json=registration(
            mobile="919845012345",
            identifiers=[{"type": "wechat", "value": "wx1"}],
            source="WECHAT",
            account_id="acc1",
        ),
    )
    assert response.status_code == 200
    assert response.json()["createdId"] == first
    assert warning_codes(response) == [8050]
    details = api.get(f"/v2/customers/{first}", params={"source": "ALL"}).json()
    assert {p["source"] for p in details["profiles"]} == {"INSTORE", "WECHAT"}
    wechat = api.get(
        "/v2/customers/lookup", params={"identifierName": "wechat", "identifierValue": "wx1"}
    )
    assert wechat.json()["entity"] == first


@pytest.mark.parametrize(
    ("body_kwargs", "code"),
    [
        ({"mobile": "12ab"}, 1001),
        ({"mobile": "919845012345", "email": "not-an-email"}, 1002),
        ({"mobile": "919845012345", "external_id": "   "}, 1003),
        ({"email": "tom@example.com"}, 1006),
        ({"identifiers": [{"type": "cuid", "value": "c1"}]}, 1007),
        ({"loyalty_type": "non_loyalty", "external_id": "x1"}, 1045),
        ({"mobile": "919845012345", "source": "WECHAT"}, 8045),
        ({"mobile": "919845012345", "profile": {"fields": {"unknown": "x"}}}, 1017),
        ({"mobile": "919845012345", "extendedFields": {"unknown": "x"}}, 91015),
        ({"mobile": "919845012345", "associatedWith": "no.such.till"}, 91020),
        ({"mobile": "919845012345", "first_name": "R2D2"}, 91003),
    ],
)
def test_invalid_registrations_get_their_code(api: Api, body_kwargs: dict, code: int) -> None:
    response = api.post("/v2/customers", json=registration(**body_kwargs))
    assert response.status_code == 400, response.text
    assert error_codes(response) == [code]
    assert api.get("/v2/customers/search", params={"q": "Tom"}).json()["pagination"]["total"] == 0


def test_extended_field_value_too_long_is_91015(api: Api, engine: Engine) -> None:
    with transaction(engine) as conn:
        orgs.add_field(conn, api.org.admin, kind="extended", name="city", max_length=5)
    response = api.post(
        "/v2/customers",
        json=registration(mobile="919845012345", extendedFields={"city": "Bangalore"}),
    )
    assert error_codes(response) == [91015]
    assert "at most 5" in response.json()["errors"][0]["message"]


def test_custom_field_of_wrong_type_is_1017(api: Api, engine: Engine) -> None:
    with transaction(engine) as conn:
        orgs.add_field(conn, api.org.admin, kind="custom", name="employee", data_type="boolean")
    response = api.post(
        "/v2/customers",
        json=registration(mobile="919845012345", profile={"fields": {"employee": "perhaps"}}),
    )
    assert error_codes(response) == [1017]


@pytest.mark.parametrize(
    ("primary", "kwargs", "code"),
    [
        ("email", {"mobile": "919845012345"}, 1039),
        ("externalId", {"mobile": "919845012345"}, 1043),
    ],
)
def test_org_primary_identifier_is_required(
    app_client, engine: Engine, primary: str, kwargs: dict, code: int
) -> None:
    from patron.orgs.settings import OrgSettings

    api = Api(app_client, make_org(engine, OrgSettings(primary_identifier=primary)))
    assert error_codes(api.post("/v2/customers", json=registration(**kwargs))) == [code]


def test_email_only_loyalty_refused_when_org_requires_more(app_client, engine: Engine) -> None:
    from patron.orgs.settings import OrgSettings

    settings = OrgSettings(primary_identifier="email", allow_email_only_loyalty=False)
    api = Api(app_client, make_org(engine, settings))
    response = api.post("/v2/customers", json=registration(email="tom@example.com"))
    assert error_codes(response) == [1019]
    assert register(api, email="tom@example.com", external_id="e1") > 0


def test_registration_date_limits_give_1034(app_client, engine: Engine) -> None:
    from patron.orgs.settings import OrgSettings

    api = Api(app_client, make_org(engine, OrgSettings(registration_max_past_days=30)))
    future = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    past = (datetime.now(UTC) - timedelta(days=31)).isoformat()
    for date in (future, past):
        response = api.post(
            "/v2/customers", json=registration(mobile="919845012345", createDate=date)
        )
        assert error_codes(response) == [1034]
    ok = (datetime.now(UTC) - timedelta(days=3)).replace(microsecond=0)
    customer_id = register(api, mobile="919845012345", createDate=ok.isoformat())
    got = api.get(f"/v2/customers/{customer_id}").json()
    created = datetime.fromisoformat(got["loyaltyInfo"]["attributionV2"]["createDate"])
    assert created == ok


@pytest.mark.parametrize(
    ("second", "code"),
    [
        ({"mobile": "919845012345"}, 1014),
        ({"mobile": "919845012345", "email": "new@example.com"}, 1032),
        ({"external_id": "ext-1", "mobile": "919800000001"}, 1033),
        ({"email": "tom@example.com", "mobile": "919800000002"}, 1016),
    ],
)
def test_existing_identifiers_on_the_same_source_are_refused(
    api: Api, second: dict, code: int
) -> None:
    first = register(api, mobile="919845012345", email="tom@example.com", external_id="ext-1")
    response = api.post("/v2/customers", json=registration(**second))
    assert response.status_code == 409
    assert error_codes(response) == [code]
    details = api.get(f"/v2/customers/{first}").json()
    assert len(details["profiles"]) == 1


def test_identifiers_of_two_customers_are_a_conflict_8053(api: Api) -> None:
    register(api, mobile="919845012345")
    register(api, mobile="919845099999", email="other@example.com")
    response = api.post(
        "/v2/customers",
        json=registration(mobile="919845012345", email="other@example.com", source="WEBSITE"),
    )
    assert response.status_code == 409
    assert error_codes(response) == [8053]


def test_non_loyalty_customer_with_email_only(api: Api) -> None:
    customer_id = register(api, email="news@example.com", loyalty_type="non_loyalty")
    details = api.get(f"/v2/customers/{customer_id}").json()
    assert details["loyaltyInfo"]["loyaltyType"] == "non_loyalty"


def test_subscribed_flag_records_consent(api: Api) -> None:
    customer_id = register(
        api,
        identifiers=[
            {"type": "mobile", "value": "919845012345", "subscribed": True},
            {"type": "email", "value": "tom@example.com", "subscribed": False},
        ],
    )
    subs = api.get(f"/v2/customers/{customer_id}/subscriptions").json()["subscriptions"]
    got = {(s["channel"], s["priority"], s["type"]) for s in subs}
    assert got == {("SMS", "BULK", "OPTIN"), ("EMAIL", "BULK", "OPTOUT")}


def test_mobile_is_normalized_before_it_is_stored(api: Api) -> None:
    customer_id = register(api, mobile="+91 98450-12345")
    details = api.get(f"/v2/customers/{customer_id}").json()
    assert details["profiles"][0]["identifiers"] == [{"type": "mobile", "value": "919845012345"}]


def test_joining_a_customer_never_gives_it_a_second_email_1047(api: Api) -> None:
    first = register(api, mobile="919845012345", email="tom@example.com")
    response = api.post(
        "/v2/customers",
        json=registration(
            mobile="919845012345", email="other@example.com", source="WECHAT", account_id="w1"
        ),
    )
    assert response.status_code == 409, response.text
    assert error_codes(response) == [1047]
    details = api.get(f"/v2/customers/{first}", params={"source": "ALL"}).json()
    assert [p["source"] for p in details["profiles"]] == ["INSTORE"]
    assert {(i["type"], i["value"]) for i in details["profiles"][0]["identifiersAll"]} == {
        ("mobile", "919845012345"),
        ("email", "tom@example.com"),
    }
    # The same email, or none, joins as before.
    for email in ("tom@example.com", None):
        joined = api.post(
            "/v2/customers",
            json=registration(
                mobile="919845012345",
                email=email,
                source="WECHAT",
                account_id=f"w-{email}",
            ),
        )
        assert joined.status_code == 200, joined.text
        assert warning_codes(joined) == [8050]


def test_profiles_of_one_registration_share_their_identifiers(api: Api) -> None:
    body = registration(mobile="919845012345", email="tom@example.com")
    body["profiles"].append(
        {
            "source": "WEBSITE",
            "firstName": "Tom",
            "identifiers": [{"type": "mobile", "value": "+91 98450 12345"}],
        }
    )
    response = api.post("/v2/customers", json=body)
    assert response.status_code == 200, response.text
    customer_id = response.json()["createdId"]
    details = api.get(f"/v2/customers/{customer_id}", params={"source": "ALL"}).json()
    assert {p["source"] for p in details["profiles"]} == {"INSTORE", "WEBSITE"}
    assert sorted(i["type"] for i in details["profiles"][0]["identifiersAll"]) == [
        "email",
        "mobile",
    ]
    for source in ("INSTORE", "WEBSITE"):
        params = {"source": source, "identifierName": "mobile", "identifierValue": "919845012345"}
        found = api.get("/v2/customers/lookup", params=params)
        assert found.json()["entity"] == customer_id


def test_profiles_of_one_registration_hold_one_email_91003(api: Api) -> None:
    body = registration(mobile="919845012345", email="tom@example.com")
    body["profiles"].append(
        {"source": "WEBSITE", "identifiers": [{"type": "email", "value": "sawyer@example.com"}]}
    )
    response = api.post("/v2/customers", json=body)
    assert response.status_code == 400
    assert error_codes(response) == [91003]
    assert "at most one email" in response.json()["errors"][0]["message"]


def test_joining_a_customer_marked_as_fraud_is_618(api: Api, engine: Engine) -> None:
    from tests.test_customer_read_update import mark_fraud

    first = register(api, mobile="919845012345")
    mark_fraud(engine, first)
    response = api.post(
        "/v2/customers",
        json=registration(mobile="919845012345", source="WECHAT", account_id="w1"),
    )
    assert response.status_code == 403
    assert error_codes(response) == [618]
    details = api.get(f"/v2/customers/{first}", params={"source": "ALL"}).json()
    assert [p["source"] for p in details["profiles"]] == ["INSTORE"]


def _org_settings(api: Api, **changes: Any) -> None:
    response = api.put("/v2/org/settings", json=changes, role="admin")
    assert response.status_code == 200, response.text


def test_the_orgs_mobile_settings_decide_over_http(api: Api) -> None:
    # No country code appended by default: a 10-digit national number stays as sent.
    assert error_codes(api.post("/v2/customers", json=registration(mobile="09845012345"))) == [1001]
    _org_settings(api, baseCountryCode="91", mobileNationalLength=10, appendCountryCode=True)
    customer_id = register(api, mobile="98450-12345")
    details = api.get(f"/v2/customers/{customer_id}").json()
    assert details["profiles"][0]["identifiers"] == [{"type": "mobile", "value": "919845012345"}]
    # The org's regex: only Indian mobiles starting with 6 to 9.
    _org_settings(api, mobileRegex=r"^91[6-9][0-9]{9}$")
    refused = api.post("/v2/customers", json=registration(mobile="+44 7700 900123"))
    assert error_codes(refused) == [1001]
    assert register(api, mobile="919900011111") > 0


def test_strict_names_refuse_punctuation_over_http(api: Api) -> None:
    assert register(api, mobile="919845000001", last_name="O'Brien") > 0
    _org_settings(api, strictNames=True)
    response = api.post(
        "/v2/customers", json=registration(mobile="919845000002", last_name="O'Brien")
    )
    assert error_codes(response) == [91003]
    assert register(api, mobile="919845000003", last_name="Obrien") > 0
