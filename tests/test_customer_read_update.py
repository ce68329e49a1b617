"""GET / PUT /v2/customers/{id}, the look-ups and customer details by identifier."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.engine import Engine

from patron.api.app import create_app
from patron.cards.tables import cards
from patron.customer import answers
from patron.customer.answers import CustomerDetails
from patron.customer.schemas import ChangeIdentifiersIn, RegisterIn, UpdateIn
from patron.customer.tables import customers
from patron.kit.db import transaction
from tests.conftest import Api, error_codes, warning_codes
from tests.factories import declare_sample_setup, register, registration


def mark_fraud(engine: Engine, customer_id: int, status: str = "MARKED") -> None:
    with transaction(engine) as conn:
        conn.execute(
            customers.update().where(customers.c.id == customer_id).values(fraud_status=status)
        )


def test_get_filters_profiles_by_source(api: Api) -> None:
    customer_id = register(api, mobile="919845012345")
    api.post(
        "/v2/customers",
        json=registration(
            email="tom@example.com", mobile="919845012345", source="WECHAT", account_id="wx"
        ),
    )
    everything = api.get(f"/v2/customers/{customer_id}", params={"source": "ALL"}, role="viewer")
    assert {p["source"] for p in everything.json()["profiles"]} == {"INSTORE", "WECHAT"}
    wechat = api.get(
        f"/v2/customers/{customer_id}", params={"source": "WECHAT", "accountId": "wx"}
    ).json()
    assert [p["accountId"] for p in wechat["profiles"]] == ["wx"]
    assert error_codes(api.get(f"/v2/customers/{customer_id}", params={"source": "WECHAT"})) == [
        8045
    ]
    assert error_codes(
        api.get(f"/v2/customers/{customer_id}", params={"source": "FACEBOOK", "accountId": "fb"})
    ) == [8065]
    assert error_codes(api.get(f"/v2/customers/{customer_id}", params={"source": "MYSPACE"})) == [
        8012
    ]


def test_unknown_customer_is_8015(api: Api) -> None:
    response = api.get("/v2/customers/987654321")
    assert response.status_code == 404
    assert error_codes(response) == [8015]


def test_embed_subscriptions(api: Api) -> None:
    customer_id = register(
        api, identifiers=[{"type": "mobile", "value": "919845012345", "subscribed": True}]
    )
    got = api.get(f"/v2/customers/{customer_id}", params={"embed": "subscriptions"}).json()
    subs = got["subscriptionInfo"]["subscriptions"]
    assert [(s["channel"], s["priority"], s["type"]) for s in subs] == [("SMS", "BULK", "OPTIN")]
    assert "subscriptionInfo" not in api.get(f"/v2/customers/{customer_id}").json()


def test_lookup_by_each_identifier(api: Api) -> None:
    customer_id = register(
        api,
        mobile="919845012345",
        email="tom@example.com",
        external_id="EXT-1",
        identifiers=[{"type": "cardnumber", "value": "CARD0001"}],
    )
    for name, value in (
        ("mobile", "+91 98450 12345"),
        ("email", "TOM@example.com"),
        ("externalId", "EXT-1"),
        ("cardnumber", "CARD0001"),
    ):
        response = api.get(
            "/v2/customers/lookup",
            role="viewer",
            params={"source": "INSTORE", "identifierName": name, "identifierValue": value},
        )
        assert response.status_code == 200, (name, response.text)
        assert response.json() == {"entity": customer_id, "warnings": []}
        details = api.get(
            "/v2/customers/lookup/customerDetails",
            params={"source": "INSTORE", "identifierName": name, "identifierValue": value},
        )
        assert details.json()["id"] == customer_id


def test_lookup_codes(api: Api) -> None:
    register(api, mobile="919845012345")

    def codes(**params: str) -> list[int]:
        return error_codes(api.get("/v2/customers/lookup", params=params))

    assert codes(source="INSTORE", identifierName="mobile", identifierValue="919800000000") == [
        8015
    ]
    assert codes(source="WEBSITE", identifierName="mobile", identifierValue="919845012345") == [
        8065
    ]
    assert codes(source="INSTORE", identifierName="shoeSize", identifierValue="42") == [8013]
    assert codes(source="INSTORE", identifierName="mobile", identifierValue="") == [8013]
    assert codes(source="WECHAT", identifierName="mobile", identifierValue="919845012345") == [8045]
    assert codes(
        source="INSTORE", accountId="a1", identifierName="mobile", identifierValue="919845012345"
    ) == [8011]
    assert codes(source="NOWHERE", identifierName="mobile", identifierValue="919845012345") == [
        8011
    ]


def test_lookup_by_customer_id_and_card_external_id(api: Api, engine: Engine) -> None:
    tom = register(api, mobile="919845012345")
    series = api.post("/v2/cards/series", json={"code": "GOLD", "type": "PHYSICAL"}, role="admin")
    assert series.status_code in (200, 201), series.text
    issued = api.post(
        f"/v2/customers/{tom}/changeIdentifier",
        json={"add": [{"type": "cardnumber", "value": "GOLD-7", "seriesCode": "GOLD"}]},
    )
    assert issued.status_code == 200, issued.text
    with transaction(engine) as conn:
        conn.execute(
            cards.update().where(cards.c.number == "GOLD-7").values(external_id="CARD-EXT-7")
        )

    def found(name: str, value: str) -> Any:
        return api.get(
            "/v2/customers/lookup", params={"identifierName": name, "identifierValue": value}
        )

    assert found("id", str(tom)).json()["entity"] == tom
    assert found("cardExternalId", "CARD-EXT-7").json()["entity"] == tom
    assert error_codes(found("cardExternalId", "NO-SUCH")) == [8015]
    assert error_codes(found("id", "987654321")) == [8015]
    assert error_codes(found("id", "abc")) == [8013]
    details = api.get(
        "/v2/customers/lookup/customerDetails",
        params={"identifierName": "cardExternalId", "identifierValue": "CARD-EXT-7"},
    )
    assert details.status_code == 200, details.text


def test_update_by_id_changes_names_fields_and_channels(api: Api, engine: Engine) -> None:
    declare_sample_setup(engine, api.org)
    customer_id = register(api, mobile="919845012345")
    response = api.put(
        f"/v2/customers/{customer_id}",
        params={"source": "INSTORE"},
        json={
            "profiles": [
                {
                    "firstName": "Thomas",
                    "lastName": "Sawyer",
                    "fields": {"gender": "Male", "city": "Bangalore"},
                    "identifiers": [{"type": "email", "value": "tom.sawyer@example.com"}],
                    "commChannels": [
                        {
                            "type": "email",
                            "value": "Tom.Sawyer@example.com",
                            "primary": "true",
                            "verified": "false",
                            "meta": {"residence": True},
                        }
                    ],
                }
            ],
            "extendedFields": {"gender": "MALE", "city": "Bangalore"},
        },
    )
    assert response.status_code == 200, response.text
    assert response.json()["createdId"] == customer_id
    assert warning_codes(response) == [91006]  # identifiers are not changed here
    got = api.get(f"/v2/customers/{customer_id}").json()
    profile = got["profiles"][0]
    assert profile["firstName"] == "Thomas"
    assert profile["fields"] == {"gender": "Male", "city": "Bangalore"}
    assert got["extendedFields"] == {"gender": "Male", "city": "Bangalore"}
    assert profile["commChannels"][0]["value"] == "tom.sawyer@example.com"
    assert profile["commChannels"][0]["primary"] is True
    assert [i["type"] for i in profile["identifiers"]] == ["mobile"]


def test_update_by_identifier(api: Api) -> None:
    customer_id = register(api, mobile="919999000001")
    response = api.put(
        "/v2/customers/lookup",
        params={"source": "INSTORE", "identifierName": "mobile", "identifierValue": "919999000001"},
        json={"profiles": [{"firstName": "Becky", "lastName": "Thatcher"}]},
    )
    assert response.json()["createdId"] == customer_id
    got = api.get(f"/v2/customers/{customer_id}").json()["profiles"][0]
    assert (got["firstName"], got["lastName"]) == ("Becky", "Thatcher")


def test_loyalty_type_only_moves_up(api: Api) -> None:
    loyal = register(api, mobile="919845012345")
    response = api.put(
        f"/v2/customers/{loyal}", json={"loyaltyInfo": {"loyaltyType": "non_loyalty"}}
    )
    assert response.status_code == 403
    assert error_codes(response) == [1046]
    casual = register(api, mobile="919845000000", loyalty_type="non_loyalty")
    response = api.put(f"/v2/customers/{casual}", json={"loyaltyInfo": {"loyaltyType": "loyalty"}})
    assert response.status_code == 200
    assert api.get(f"/v2/customers/{casual}").json()["loyaltyInfo"]["loyaltyType"] == "loyalty"


def test_conversion_to_loyalty_needs_the_primary_identifier(api: Api) -> None:
    casual = register(api, email="only@example.com", loyalty_type="non_loyalty")
    response = api.put(f"/v2/customers/{casual}", json={"loyaltyInfo": {"loyaltyType": "loyalty"}})
    assert error_codes(response) == [1006]


def test_update_of_a_missing_profile_is_8065(api: Api) -> None:
    customer_id = register(api, mobile="919845012345")
    response = api.put(
        f"/v2/customers/{customer_id}",
        params={"source": "WEBSITE"},
        json={"profiles": [{"firstName": "X"}]},
    )
    assert error_codes(response) == [8065]


def test_fraud_marked_customer_cannot_be_updated(api: Api, engine: Engine) -> None:
    customer_id = register(api, mobile="919845012345")
    mark_fraud(engine, customer_id)
    response = api.put(f"/v2/customers/{customer_id}", json={"profiles": [{"firstName": "Huck"}]})
    assert response.status_code == 403
    assert error_codes(response) == [618]
    assert api.get(f"/v2/customers/{customer_id}").json()["profiles"][0]["firstName"] == "Tom"
    assert api.get(f"/v2/customers/{customer_id}").json()["fraudDetails"]["status"] == "MARKED"


def test_update_is_written_to_the_change_log(api: Api, engine: Engine) -> None:
    from patron.audit.tables import change_log

    customer_id = register(api, mobile="919845012345")
    api.put(f"/v2/customers/{customer_id}", json={"profiles": [{"lastName": "Finn"}]})
    with transaction(engine, write=False) as conn:
        rows = conn.execute(
            sa.select(change_log.c.change_type, change_log.c.details).where(
                change_log.c.customer_id == customer_id
            )
        ).all()
    assert [(r.change_type, r.details) for r in rows] == [("PROFILE", {"changed": ["lastName"]})]


def test_customer_details_lookup_codes(api: Api) -> None:
    register(api, mobile="919845012345")

    def codes(**params: str) -> list[int]:
        response = api.get("/v2/customers/lookup/customerDetails", params=params, role="viewer")
        assert response.status_code in (400, 404), response.text
        return error_codes(response)

    mobile = {"identifierName": "mobile", "identifierValue": "919845012345"}
    assert codes(source="INSTORE", identifierName="mobile", identifierValue="919800000000") == [
        8015
    ]
    assert codes(source="WEBSITE", **mobile) == [8065]
    assert codes(source="INSTORE", identifierName="shoeSize", identifierValue="42") == [8013]
    assert codes(source="INSTORE", identifierName="email", identifierValue="not-an-email") == [8013]
    assert codes(source="WECHAT", **mobile) == [8045]
    assert codes(source="INSTORE", accountId="a1", **mobile) == [8011]
    assert codes(source="NOWHERE", **mobile) == [8011]


def test_the_seed_samples_attached_to_the_answers_and_bodies_are_valid(
    api: Api, engine: Engine
) -> None:
    schemas = create_app(engine=engine).openapi()["components"]["schemas"]
    models: list[type[BaseModel]] = [RegisterIn, UpdateIn, ChangeIdentifiersIn]
    models += [
        model
        for model in vars(answers).values()
        if isinstance(model, type) and issubclass(model, BaseModel) and model is not BaseModel
    ]
    for model in models:
        extra: Any = model.model_config.get("json_schema_extra") or {}
        for example in extra.get("examples", []):
            model.model_validate(example)
    assert schemas["CustomerDetails"]["examples"] == [answers.DETAILS_SAMPLE]
    assert schemas["LookupAnswer"]["examples"] == [{"entity": 306, "warnings": []}]
    # The registration's example is one the API takes (once its till and fields exist).
    declare_sample_setup(engine, api.org)
    sample = schemas["RegisterIn"]["examples"][0]
    assert api.post("/v2/customers", json=sample).status_code == 200


def test_details_carry_only_the_keys_the_customer_has(api: Api) -> None:
    tom = register(api, mobile="919845012345")
    api.post("/v2/cards/series", json={"code": "GOLD", "type": "PHYSICAL"}, role="admin")
    issued = api.post(
        f"/v2/customers/{tom}/changeIdentifier",
        json={"add": [{"type": "cardnumber", "value": "GOLD-7", "seriesCode": "GOLD"}]},
    )
    assert issued.status_code == 200, issued.text
    found = api.get(
        "/v2/customers/lookup/customerDetails",
        params={"identifierName": "mobile", "identifierValue": "919845012345"},
        role="viewer",
    ).json()
    identifiers = {i["type"]: i for i in found["profiles"][0]["identifiersAll"]}
    # A mobile has no series: its keys stay out rather than showing as nulls.
    assert identifiers["mobile"] == {"type": "mobile", "value": "919845012345"}
    assert identifiers["cardnumber"]["seriesCode"] == "GOLD"
    assert {"seriesId", "statusLabel"} <= set(identifiers["cardnumber"])
    assert "cardExternalId" not in identifiers["cardnumber"]
    # Nothing embedded unless asked for.
    assert not {"customerImage", "subscriptionInfo", "pointsSummary"} & set(found)
    assert set(found) == set(CustomerDetails.model_fields) - {
        "customerImage",
        "subscriptionInfo",
        "pointsSummary",
        "loyaltyProgramDetails",
        "promotionalPoints",
        "expirySchedules",
        "expiredPoints",
    }
    CustomerDetails.model_validate(found)
