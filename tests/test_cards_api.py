"""``/v2/cards``, card issue through registration and changeIdentifier, ``cardDetails``,
roles and tenant isolation, over HTTP."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from patron.cards.answers import CARD_SAMPLE, Card, CardPage
from patron.kit.db import transaction
from patron.orgs import service as orgs
from tests.conftest import EXAMPLES, Api, error_codes, warning_codes
from tests.factories import declare_sample_setup, merge, register, registration

GOLD = {
    "code": "GOLDPHY2",
    "type": "PHYSICAL",
    "description": "Gold Card",
    "prefix": "GOLD2",
    "suffix": "2021",
    "length": 16,
    "expiryDays": 1000,
    "generationEnabled": True,
}


def add_series(api: Api, **body: Any) -> dict[str, Any]:
    response = api.post("/v2/cards/series", json=body, role="admin")
    assert response.status_code == 200, response.text
    return dict(response.json()["series"])


def generate(api: Api, count: int, **body: Any) -> list[str]:
    response = api.post("/v2/cards/generate", json={"count": count, **body})
    assert response.status_code == 200, response.text
    return list(response.json()["cardNumbers"])


def card(api: Api, number: str) -> dict[str, Any]:
    response = api.get(f"/v2/cards/{number}", role="viewer")
    assert response.status_code == 200, response.text
    return dict(response.json()["card"])


def change(api: Api, customer_id: int, **body: Any) -> Any:
    return api.post(f"/v2/customers/{customer_id}/changeIdentifier", json=body)


def customer(api: Api, customer_id: int) -> dict[str, Any]:
    response = api.get(f"/v2/customers/{customer_id}", role="viewer")
    assert response.status_code == 200, response.text
    return dict(response.json())


# --- series, labels, generation, cards -----------------------------------------------------


def test_series_are_created_by_admins_and_listed(api: Api) -> None:
    created = add_series(api, **GOLD)
    assert {k: created[k] for k in GOLD if k != "type"} == {
        k: v for k, v in GOLD.items() if k != "type"
    }
    assert created["type"] == "PHYSICAL"
    assert api.post("/v2/cards/series", json={**GOLD, "code": "X1"}).status_code == 403
    listed = api.get("/v2/cards/series", role="viewer").json()
    assert [s["code"] for s in listed["data"]] == ["GOLDPHY2"]
    assert listed["pagination"]["total"] == 1
    again = api.post("/v2/cards/series", json={**GOLD, "code": "goldphy2"}, role="admin")
    assert error_codes(again) == [95103]


@pytest.mark.parametrize(
    ("change_", "message"),
    [
        ({"code": "GOLD-2"}, "'GOLD-2' is not alphanumeric"),
        ({"type": "PLASTIC"}, "the card type must be PHYSICAL or DIGITAL"),
        ({"prefix": "GO LD"}, "a card prefix may not contain spaces"),
        ({"length": 8}, "prefix and suffix have 9 characters, more than the card length 8"),
        ({"length": None}, "a series that generates its cards needs a card length"),
        ({"length": 9}, "the card length 9 leaves no digit between prefix and suffix"),
        ({"expiryDays": -1}, "expiry days must be between 0 and 36500"),
        ({"store": "nowhere"}, "'nowhere' is not a store or till"),
    ],
)
def test_invalid_series_are_refused(api: Api, change_: dict[str, Any], message: str) -> None:
    response = api.post("/v2/cards/series", json={**GOLD, **change_}, role="admin")
    assert error_codes(response) == [95102]
    assert message in response.json()["errors"][0]["message"]


def test_labels_over_the_system_statuses(api: Api) -> None:
    response = api.post(
        "/v2/cards/statusLabels", json={"label": "Lost", "systemStatus": "inactive"}, role="admin"
    )
    assert response.status_code == 200, response.text
    assert response.json()["statusLabel"]["systemStatus"] == "INACTIVE"
    labels = api.get("/v2/cards/statusLabels", role="viewer").json()["data"]
    assert [(label["label"], label["systemStatus"], label["builtIn"]) for label in labels] == [
        ("NOT_ISSUED", "NOT_ISSUED", True),
        ("ACTIVE", "ACTIVE", True),
        ("INACTIVE", "INACTIVE", True),
        ("DELETED", "DELETED", True),
        ("EXPIRED", "EXPIRED", True),
        ("Lost", "INACTIVE", False),
    ]
    again = api.post(
        "/v2/cards/statusLabels", json={"label": "LOST", "systemStatus": "DELETED"}, role="admin"
    )
    assert error_codes(again) == [95111]
    system = api.post(
        "/v2/cards/statusLabels", json={"label": "active", "systemStatus": "ACTIVE"}, role="admin"
    )
    assert error_codes(system) == [95112]
    unknown = api.post(
        "/v2/cards/statusLabels", json={"label": "Gone", "systemStatus": "VANISHED"}, role="admin"
    )
    assert error_codes(unknown) == [95112]
    editor = api.post("/v2/cards/statusLabels", json={"label": "X", "systemStatus": "ACTIVE"})
    assert editor.status_code == 403


def test_generated_numbers_follow_the_series(api: Api) -> None:
    series = add_series(api, **GOLD)
    numbers = generate(api, 200, seriesId=series["id"])
    assert len(numbers) == len(set(numbers)) == 200
    for number in numbers:
        assert len(number) == 16
        assert number.startswith("GOLD2")
        assert number.endswith("2021")
        assert number[5:12].isdigit()
    generated = card(api, numbers[0])
    assert (generated["statusInfo"]["status"], generated["customerId"]) == ("NOT_ISSUED", None)
    assert generated["seriesCode"] == "GOLDPHY2"
    page = api.get("/v2/cards", params={"seriesCode": "goldphy2", "limit": 10}).json()
    assert page["pagination"]["total"] == 200
    assert len(page["data"]) == 10
    active = api.get("/v2/cards", params={"status": "ACTIVE"}).json()
    assert active["pagination"]["total"] == 0


def test_a_small_series_fills_up_and_says_so(api: Api) -> None:
    add_series(api, code="TINY", type="DIGITAL", prefix="T", length=2, generationEnabled=True)
    numbers = generate(api, 10, seriesCode="TINY", statusLabel="ACTIVE")
    assert sorted(numbers) == [f"T{digit}" for digit in range(10)]
    full = api.post("/v2/cards/generate", json={"count": 1, "seriesCode": "TINY"})
    assert error_codes(full) == [95109]


def test_generation_skips_numbers_held_as_identifiers(api: Api) -> None:
    add_series(api, code="TINY", type="DIGITAL", prefix="T", length=2, generationEnabled=True)
    register(api, mobile="919845012345", identifiers=[{"type": "cardnumber", "value": "T3"}])
    numbers = generate(api, 9, seriesCode="TINY")
    assert sorted(numbers) == [f"T{digit}" for digit in range(10) if digit != 3]
    full = api.post("/v2/cards/generate", json={"count": 1, "seriesCode": "TINY"})
    assert error_codes(full) == [95109]
    assert "only 0 unused numbers found" in full.json()["errors"][0]["message"]


def test_generation_refusals(api: Api) -> None:
    add_series(api, code="MANUAL", type="DIGITAL")
    manual = api.post("/v2/cards/generate", json={"count": 5, "seriesCode": "MANUAL"})
    assert error_codes(manual) == [95108]
    add_series(api, **GOLD)
    zero = api.post("/v2/cards/generate", json={"count": 0, "seriesCode": "GOLDPHY2"})
    assert error_codes(zero) == [95108]
    unknown = api.post("/v2/cards/generate", json={"count": 5, "seriesCode": "NOPE"})
    assert error_codes(unknown) == [95101]
    label = api.post(
        "/v2/cards/generate", json={"count": 5, "seriesCode": "GOLDPHY2", "statusLabel": "Nope"}
    )
    assert error_codes(label) == [95105]
    viewer = api.post(
        "/v2/cards/generate", json={"count": 5, "seriesCode": "GOLDPHY2"}, role="viewer"
    )
    assert viewer.status_code == 403


def test_the_card_model_has_the_seed_card_details_shape() -> None:
    assert Card.model_validate(CARD_SAMPLE).model_dump() == CARD_SAMPLE
    listed = {
        "pagination": {"limit": 1, "offset": 0, "total": 1},
        "data": [CARD_SAMPLE],
        "warnings": [],
    }
    assert CardPage.model_validate(listed).data[0].statusInfo.labelId == 31


def test_an_unknown_card_is_404(api: Api) -> None:
    response = api.get("/v2/cards/NOPE-1")
    assert response.status_code == 404
    assert error_codes(response) == [95110]


# --- issuing cards through the customer API ------------------------------------------------


def test_the_issue_card_sample_issues_a_card_of_a_known_series(api: Api) -> None:
    series = add_series(api, code="TTM", type="PHYSICAL", prefix="TTM", suffix="ZS", length=20)
    tom = register(api, mobile="919845012345")
    body = json.loads((EXAMPLES / "issue_card.json").read_text())
    body["add"][0]["seriesId"] = series["id"]
    response = change(api, tom, **body)
    assert response.status_code == 200, response.text
    assert response.json() == {"createdId": tom, "warnings": []}
    issued = card(api, "TTM001110000000001ZS")
    assert (issued["customerId"], issued["statusInfo"]["label"]) == (tom, "ACTIVE")
    assert issued["issuedDate"] is not None
    document = customer(api, tom)
    assert [c["cardNumber"] for c in document["cardDetails"]] == ["TTM001110000000001ZS"]
    assert {
        "type": "cardnumber",
        "value": "TTM001110000000001ZS",
        "seriesId": series["id"],
        "seriesCode": "TTM",
        "statusLabel": "ACTIVE",
    } in document["profiles"][0]["identifiers"]
    looked_up = api.get(
        "/v2/customers/lookup/customerDetails",
        params={"identifierName": "cardnumber", "identifierValue": "TTM001110000000001ZS"},
    )
    assert looked_up.json()["cardDetails"][0]["cardId"] == issued["cardId"]


def test_an_unknown_series_keeps_the_number_as_an_identifier(api: Api) -> None:
    tom = register(api, mobile="919845012345")
    response = change(
        api, tom, add=[{"type": "cardnumber", "value": "EXT-9", "seriesCode": "NOPE"}]
    )
    assert warning_codes(response) == [95001]
    assert api.get("/v2/cards/EXT-9").status_code == 404
    assert customer(api, tom)["cardDetails"] == []


@pytest.mark.parametrize(
    ("item", "code"),
    [
        ({"value": "GOLD9999", "seriesCode": "GOLDPHY2"}, 95104),
        ({"value": "GOLD212345672021", "seriesCode": "GOLDPHY2", "statusLabel": "Nope"}, 95105),
        ({"value": "GOLD212345672021", "seriesCode": "FLEET"}, 95107),
    ],
)
def test_card_issue_errors(api: Api, item: dict[str, Any], code: int) -> None:
    add_series(api, **GOLD)
    add_series(api, code="FLEET", type="DIGITAL")
    becky = register(api, mobile="919845012346")
    assert (
        change(
            api,
            becky,
            add=[{"type": "cardnumber", "value": "GOLD212345672021", "seriesCode": "GOLDPHY2"}],
        ).status_code
        == 200
    )
    change(api, becky, remove=[{"type": "cardnumber", "value": "GOLD212345672021"}])
    tom = register(api, mobile="919845012345")
    response = change(api, tom, add=[{"type": "cardnumber", **item}])
    assert error_codes(response) == [code]
    assert customer(api, tom)["cardDetails"] == []


def test_a_generated_card_is_issued_by_its_number_alone(api: Api) -> None:
    add_series(api, **GOLD)
    (number,) = generate(api, 1, seriesCode="GOLDPHY2")
    tom = register(api, mobile="919845012345")
    response = change(
        api, tom, add=[{"type": "cardnumber", "value": number, "statusLabel": "ACTIVE"}]
    )
    assert response.status_code == 200, response.text
    assert warning_codes(response) == []
    issued = card(api, number)
    assert (issued["customerId"], issued["statusInfo"]["status"]) == (tom, "ACTIVE")


def test_removing_the_card_number_releases_the_card(api: Api) -> None:
    add_series(api, **GOLD)
    (number,) = generate(api, 1, seriesCode="GOLDPHY2")
    tom = register(api, mobile="919845012345")
    assert change(api, tom, add=[{"type": "cardnumber", "value": number}]).status_code == 200
    assert card(api, number)["customerId"] == tom
    removed = change(api, tom, remove=[{"type": "cardnumber", "value": number}])
    assert removed.status_code == 200, removed.text
    assert card(api, number)["customerId"] is None
    assert customer(api, tom)["cardDetails"] == []
    becky = register(api, mobile="919845012346")
    assert change(api, becky, add=[{"type": "cardnumber", "value": number}]).status_code == 200
    assert card(api, number)["customerId"] == becky


def test_registration_issues_the_sample_card_with_its_fields(api: Api, engine: Engine) -> None:
    declare_sample_setup(engine, api.org)
    with transaction(engine) as conn:
        actor = api.org.admin
        orgs.add_field(
            conn, actor, kind="extended", name="card_balance", data_type="number", scope="card"
        )
        orgs.add_field(
            conn,
            actor,
            kind="extended",
            name="year_of_registration",
            data_type="integer",
            scope="card",
        )
        orgs.add_field(conn, actor, kind="custom", name="bloodgroup", scope="card")
    series = add_series(api, code="TEST", type="DIGITAL", prefix="test")
    body = json.loads((EXAMPLES / "register_tom_sawyer.json").read_text())
    body["profiles"][0]["identifiers"][3]["seriesId"] = series["id"]
    response = api.post("/v2/customers", json=body)
    assert response.status_code == 200, response.text
    assert warning_codes(response) == [95002]
    tom = int(response.json()["createdId"])
    (issued,) = customer(api, tom)["cardDetails"]
    assert issued["cardNumber"] == "test123112121"
    assert issued["customerId"] == tom
    assert issued["extendedFields"] == {"card_balance": "2000", "year_of_registration": "18"}
    assert issued["customFields"] == {"bloodgroup": "bnegative"}
    assert issued["statusInfo"]["label"] == "ACTIVE"
    # The card's own answer (through its model) is the customer document's entry, key by key.
    assert card(api, "test123112121") == issued


def test_card_fields_must_be_declared_for_cards(api: Api) -> None:
    add_series(api, code="FLEET", type="DIGITAL")
    response = api.post(
        "/v2/customers",
        json=registration(
            mobile="919845012345",
            identifiers=[
                {
                    "type": "cardnumber",
                    "value": "F-1",
                    "seriesCode": "FLEET",
                    "extendedFields": {"vehicle_number": "KA01"},
                }
            ],
        ),
    )
    assert error_codes(response) == [91015]
    custom = api.post(
        "/v2/customers",
        json=registration(
            mobile="919845012345",
            identifiers=[
                {
                    "type": "cardnumber",
                    "value": "F-1",
                    "seriesCode": "FLEET",
                    "customFields": {"custom_card_name": "x"},
                }
            ],
        ),
    )
    assert error_codes(custom) == [1017]
    assert api.get("/v2/cards/F-1").status_code == 404


def test_a_card_follows_its_number_into_a_merge(api: Api) -> None:
    add_series(api, code="FLEET", type="DIGITAL")
    survivor = register(api, mobile="919845012345")
    victim = register(
        api,
        email="tom@example.com",
        identifiers=[{"type": "cardnumber", "value": "F-7", "seriesCode": "FLEET"}],
        source="WECHAT",
        account_id="acc",
        loyalty_type="non_loyalty",
    )
    assert card(api, "F-7")["customerId"] == victim
    merge(api, victim=victim, survivor_mobile="919845012345", source="WECHAT", account_id="acc")
    assert card(api, "F-7")["customerId"] == survivor
    assert [c["cardNumber"] for c in customer(api, survivor)["cardDetails"]] == ["F-7"]


# --- tenancy --------------------------------------------------------------------------------


def test_another_org_sees_none_of_it(api: Api, other_api: Api) -> None:
    series = add_series(api, **GOLD)
    (number,) = generate(api, 1, seriesCode="GOLDPHY2")
    assert other_api.get(f"/v2/cards/{number}").status_code == 404
    assert other_api.get("/v2/cards/series").json()["data"] == []
    assert other_api.get("/v2/cards").json()["data"] == []
    refused = other_api.post("/v2/cards/generate", json={"count": 1, "seriesId": series["id"]})
    assert error_codes(refused) == [95101]
    theirs = register(other_api, mobile="919845012399")
    response = other_api.post(
        f"/v2/customers/{theirs}/changeIdentifier",
        json={"add": [{"type": "cardnumber", "value": number, "seriesId": series["id"]}]},
    )
    assert warning_codes(response) == [95001]
    assert card(api, number)["customerId"] is None
    # The other org may use the same code and numbers for its own series.
    assert add_series(other_api, **GOLD)["code"] == "GOLDPHY2"


def test_a_card_external_id_names_one_card(api: Api) -> None:
    add_series(api, **GOLD)
    first, second = generate(api, 2, seriesCode="GOLDPHY2")
    item = {"type": "cardnumber", "value": first, "cardExternalId": " carduuid_710000 "}
    tom = register(api, mobile="919845012345", identifiers=[item])
    assert card(api, first)["cardExternalId"] == "carduuid_710000"
    assert customer(api, tom)["cardDetails"][0]["cardExternalId"] == "carduuid_710000"
    found = api.get(
        "/v2/customers/lookup",
        params={"identifierName": "cardExternalId", "identifierValue": "carduuid_710000"},
    )
    assert found.json()["entity"] == tom

    becky = register(api, mobile="919845012346")
    taken = change(
        api,
        becky,
        add=[{"type": "cardnumber", "value": second, "cardExternalId": "carduuid_710000"}],
    )
    assert error_codes(taken) == [95113]
    assert card(api, second)["customerId"] is None
    assert customer(api, becky)["cardDetails"] == []

    too_long = change(api, becky, add=[{**item, "value": second, "cardExternalId": "x" * 101}])
    assert error_codes(too_long) == [91003]
    # A number new to the series is created with its external id.
    fresh = {"type": "cardnumber", "value": "GOLD212345672021", "seriesCode": "GOLDPHY2"}
    issued = change(api, becky, add=[{**fresh, "cardExternalId": "carduuid_710001"}])
    assert issued.status_code == 200, issued.text
    assert card(api, "GOLD212345672021")["cardExternalId"] == "carduuid_710001"
