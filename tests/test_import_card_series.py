"""The Card Series Import profile: the seed's sample, every field error, the options,
updates in the selected fields, and undo."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from patron.cards import generation
from patron.imports.codes import RowCode
from patron.kit.db import transaction
from patron.kit.errors import InvalidInput
from patron.orgs import service as orgs
from tests.conftest import Api, OrgHandle
from tests.importing import csv, import_org, result, run, start, undo

PROFILE = {"profile": "card-series"}
SAMPLE_HEADER = (
    "Card Series Code,Card Series Description,Card Type,Card Generation Enabled,Card Suffix,"
    "Card Prefix,Card Length,Expiry Days,Till IUN"
)
SAMPLE_ROW = "GOLDPHY2,Gold Card,PHYSICAL,true,2021,GOLD2,16,1000,1234"
HEADER = "Card Series Code,Card Type,Card Prefix,Card Suffix,Card Length,Till IUN"


@pytest.fixture
def org(engine: Engine) -> OrgHandle:
    org = import_org(engine)
    with transaction(engine) as conn:
        orgs.add_unit(conn, org.admin, kind="till", code="1234")
    return org


@pytest.fixture
def api(app_client: TestClient, org: OrgHandle) -> Api:
    return Api(app_client, org)


def series(api: Api) -> dict[str, dict[str, Any]]:
    response = api.get("/v2/cards/series", role="viewer")
    assert response.status_code == 200, response.text
    return {s["code"]: s for s in response.json()["data"]}


def test_the_seed_sample_creates_the_series(engine: Engine, org: OrgHandle, api: Api) -> None:
    done = run(engine, org, csv(SAMPLE_HEADER, SAMPLE_ROW), **PROFILE)
    assert done.statuses() == ["inserted"]
    assert done.row(2)["error_codes"] == []
    gold = series(api)["GOLDPHY2"]
    till = api.get("/v2/org/units", params={"kind": "till"}, role="admin").json()["data"]
    assert {k: gold[k] for k in gold if k not in ("id", "createdOn", "updatedOn")} == {
        "code": "GOLDPHY2",
        "description": "Gold Card",
        "type": "PHYSICAL",
        "prefix": "GOLD2",
        "suffix": "2021",
        "length": 16,
        "expiryDays": 1000,
        "generationEnabled": True,
        "unitId": next(u["id"] for u in till if u["code"] == "1234"),
    }
    again = run(engine, org, csv(SAMPLE_HEADER, SAMPLE_ROW), **PROFILE)
    assert again.statuses() == ["skipped"]


def test_a_generation_enabled_series_generates_numbers_of_its_shape(
    engine: Engine, org: OrgHandle
) -> None:
    run(engine, org, csv(SAMPLE_HEADER, SAMPLE_ROW), **PROFILE)
    with transaction(engine) as conn:
        numbers = generation.generate(conn, org.admin, series_code="goldphy2", count=500)
    assert len(set(numbers)) == 500
    for number in numbers:
        assert len(number) == 16
        assert number.startswith("GOLD2")
        assert number.endswith("2021")
        assert number[5:12].isdigit()


@pytest.mark.parametrize(
    ("line", "code", "message"),
    [
        (",PHYSICAL,,,,1234", RowCode.SERIES_CODE_EMPTY, "the card series code is empty"),
        (
            "GOLD-1,PHYSICAL,,,,1234",
            RowCode.SERIES_CODE_INVALID,
            "invalid card series code: 'GOLD-1' is not alphanumeric",
        ),
        (
            f"{'A' * 51},PHYSICAL,,,,1234",
            RowCode.SERIES_CODE_INVALID,
            "invalid card series code: a series code has at most 50 characters",
        ),
        ("GOLD1,,,,,1234", RowCode.CARD_TYPE_INVALID, "the card type is empty"),
        ("GOLD1,PLASTIC,,,,1234", RowCode.CARD_TYPE_INVALID, "invalid card type 'PLASTIC'"),
        (
            "GOLD1,PHYSICAL,GO LD,,,1234",
            RowCode.CARD_AFFIX_INVALID,
            "invalid card prefix 'GO LD': a card prefix may not contain spaces",
        ),
        (
            f"GOLD1,PHYSICAL,,{'9' * 51},,1234",
            RowCode.CARD_AFFIX_INVALID,
            "invalid card suffix",
        ),
        (
            "GOLD1,PHYSICAL,,,sixteen,1234",
            RowCode.CARD_LENGTH_INVALID,
            "invalid card length 'sixteen': a whole number is needed",
        ),
        (
            "GOLD1,PHYSICAL,GOLD,2021,6,1234",
            RowCode.CARD_LENGTH_INVALID,
            "invalid card length: prefix and suffix have 8 characters, more than the card length 6",
        ),
        (
            "GOLD1,PHYSICAL,,,65,1234",
            RowCode.CARD_LENGTH_INVALID,
            "invalid card length: the card length must be between 1 and 64",
        ),
        ("GOLD1,PHYSICAL,,,,", RowCode.STORE_EMPTY, "invalid store or till: the store is empty"),
        (
            "GOLD1,PHYSICAL,,,,9999",
            RowCode.STORE_UNKNOWN,
            "invalid store or till: '9999' is not a store or till of this org",
        ),
    ],
)
def test_field_errors(
    engine: Engine, org: OrgHandle, api: Api, line: str, code: int, message: str
) -> None:
    done = run(engine, org, csv(HEADER, line), **PROFILE)
    assert done.statuses() == ["rejected"]
    assert done.codes(2) == [code]
    assert done.row(2)["errors"][0].startswith(message), done.row(2)["errors"]
    assert series(api) == {}


@pytest.mark.parametrize(
    ("header", "line", "code", "message"),
    [
        (
            "Card Series Code,Card Type,Till IUN,Expiry Days",
            "GOLD1,DIGITAL,1234,-3",
            RowCode.EXPIRY_DAYS_INVALID,
            "invalid expiry days '-3': a whole number is needed",
        ),
        (
            "Card Series Code,Card Type,Till IUN,Expiry Days",
            "GOLD1,DIGITAL,1234,40000",
            RowCode.EXPIRY_DAYS_INVALID,
            "expiry days may be at most 36500",
        ),
        (
            "Card Series Code,Card Type,Till IUN,Card Generation Enabled",
            "GOLD1,DIGITAL,1234,maybe",
            RowCode.GENERATION_FLAG_INVALID,
            "card generation enabled must be true or false, not 'maybe'",
        ),
        (
            "Card Series Code,Card Type,Till IUN,Card Generation Enabled",
            "GOLD1,DIGITAL,1234,true",
            RowCode.CARD_LENGTH_INVALID,
            "invalid card length: a series that generates its cards needs a card length",
        ),
        (
            "Card Series Code,Card Type,Till IUN,Card Generation Enabled,Card Prefix,Card Length",
            "GOLD1,DIGITAL,1234,yes,GOLD,4",
            RowCode.CARD_LENGTH_INVALID,
            "invalid card length: the card length 4 leaves no digit between prefix and suffix",
        ),
        (
            "Card Series Code,Card Type,Till IUN,Card Series Description",
            f"GOLD1,DIGITAL,1234,{'d' * 501}",
            RowCode.SERIES_DESCRIPTION_INVALID,
            "a card series description has at most 500 characters",
        ),
    ],
)
def test_more_field_errors(
    engine: Engine, org: OrgHandle, header: str, line: str, code: int, message: str
) -> None:
    done = run(engine, org, csv(header, line), **PROFILE)
    assert done.codes(2) == [code]
    assert done.row(2)["errors"][0].startswith(message), done.row(2)["errors"]


def test_auto_corrections(engine: Engine, org: OrgHandle, api: Api) -> None:
    done = run(
        engine,
        org,
        csv(
            "Card Series Code,Card Type,Card Prefix,Card Length,Expiry Days,Till IUN",
            " silver1 ,digital, SV ,12.0,365,1234",
        ),
        **PROFILE,
    )
    assert done.statuses() == ["inserted"]
    assert done.row(2)["auto_corrections"] == [
        "Card Series Code: whitespace trimmed",
        "Card Prefix: whitespace trimmed",
        "Card Type: card type upper-cased",
        "Card Length: spreadsheet number written as digits",
    ]
    silver = series(api)["silver1"]
    assert (silver["type"], silver["prefix"], silver["length"]) == ("DIGITAL", "SV", 12)


def test_a_code_in_two_rows_rejects_both_in_any_letter_case(engine: Engine, org: OrgHandle) -> None:
    done = run(
        engine,
        org,
        csv(HEADER, "GOLD1,PHYSICAL,,,,1234", "Gold1,DIGITAL,,,,1234", "GOLD2,PHYSICAL,,,,1234"),
        **PROFILE,
    )
    assert done.statuses() == ["rejected", "rejected", "inserted"]
    assert done.codes(2) == done.codes(3) == [RowCode.DUPLICATE_SERIES_IN_FILE]
    assert done.row(2)["errors"] == ["duplicate series code GOLD1 in the file: also in row 3"]


def test_existing_series_change_only_the_selected_fields(
    engine: Engine, org: OrgHandle, api: Api
) -> None:
    run(engine, org, csv(SAMPLE_HEADER, SAMPLE_ROW), **PROFILE)
    header = "Card Series Code,Card Series Description,Card Type,Expiry Days,Till IUN"
    done = run(
        engine,
        org,
        csv(header, "goldphy2,Gold Card 2024,DIGITAL,30,mal"),
        profile="card-series",
        options={"update_fields": "description,expiry_days"},
    )
    assert done.statuses() == ["updated"]
    gold = series(api)["GOLDPHY2"]
    assert (gold["description"], gold["expiryDays"]) == ("Gold Card 2024", 30)
    assert (gold["type"], gold["prefix"], gold["length"]) == ("PHYSICAL", "GOLD2", 16)
    every = run(engine, org, csv(header, "GOLDPHY2,,DIGITAL,,mal"), **PROFILE)
    assert every.statuses() == ["updated"]
    gold = series(api)["GOLDPHY2"]
    # An empty cell leaves the stored value: only the type and the store changed.
    assert (gold["description"], gold["expiryDays"], gold["type"]) == (
        "Gold Card 2024",
        30,
        "DIGITAL",
    )


def test_update_fields_must_name_fields_of_the_profile(engine: Engine, org: OrgHandle) -> None:
    with pytest.raises(InvalidInput) as refused:
        start(
            engine,
            org,
            csv(SAMPLE_HEADER, SAMPLE_ROW),
            profile="card-series",
            options={"update_fields": "description,colour"},
        )
    assert refused.value.code == 96105
    assert "update_fields names colour" in refused.value.message


def test_stores_by_external_id(engine: Engine, org: OrgHandle) -> None:
    by_code = run(engine, org, csv(HEADER, "GOLD1,PHYSICAL,,,,EXT-MAL"), **PROFILE)
    assert by_code.codes(2) == [RowCode.STORE_UNKNOWN]
    by_external = run(
        engine,
        org,
        csv(HEADER, "GOLD1,PHYSICAL,,,,EXT-MAL"),
        profile="card-series",
        options={"stores_by_external_id": True},
    )
    assert by_external.statuses() == ["inserted"]


def test_a_new_shape_must_fit_the_series_cards(engine: Engine, org: OrgHandle, api: Api) -> None:
    run(engine, org, csv(SAMPLE_HEADER, SAMPLE_ROW), **PROFILE)
    with transaction(engine) as conn:
        generation.generate(conn, org.admin, series_code="GOLDPHY2", count=3)
    done = run(engine, org, csv(HEADER, "GOLDPHY2,PHYSICAL,GOLD3,2021,16,1234"), **PROFILE)
    assert done.codes(2) == [RowCode.SERIES_CHANGE_MISFITS_CARDS]
    assert done.row(2)["errors"][0].startswith(
        "3 card(s) of series GOLDPHY2 would not fit the new prefix, suffix or length (e.g. GOLD2"
    )
    assert series(api)["GOLDPHY2"]["prefix"] == "GOLD2"


def test_a_preview_changes_nothing(engine: Engine, org: OrgHandle, api: Api) -> None:
    import_id = start(engine, org, csv(SAMPLE_HEADER, SAMPLE_ROW), **PROFILE)
    preview = result(engine, org, import_id)
    assert preview.state == "previewed"
    assert preview.counts["inserted"] == 1
    assert series(api) == {}


def test_undo_restores_the_series_and_leaves_later_changes(
    engine: Engine, org: OrgHandle, api: Api
) -> None:
    run(engine, org, csv(HEADER, "KEEP1,PHYSICAL,K,,8,1234", "KEEP2,PHYSICAL,,,,1234"), **PROFILE)
    before = series(api)
    header = "Card Series Code,Card Series Description,Card Type,Card Prefix,Till IUN"
    done = run(
        engine,
        org,
        csv(
            header,
            "KEEP1,First,DIGITAL,KK,mal",
            "KEEP2,Second,DIGITAL,,1234",
            "NEW1,New,PHYSICAL,,1234",
            "NEW2,Used,PHYSICAL,,1234",
        ),
        **PROFILE,
    )
    assert done.statuses() == ["updated", "updated", "inserted", "inserted"]
    # Since the import: KEEP2's description changes again, NEW2 gets a card.
    changed = run(engine, org, csv(header, "KEEP2,Changed,DIGITAL,,1234"), **PROFILE)
    assert changed.statuses() == ["updated"]
    response = api.post(
        "/v2/customers",
        json={
            "loyaltyInfo": {"loyaltyType": "loyalty"},
            "profiles": [
                {
                    "identifiers": [
                        {"type": "mobile", "value": "919800006001"},
                        {"type": "cardnumber", "value": "USED-1", "seriesCode": "NEW2"},
                    ]
                }
            ],
        },
    )
    assert response.status_code == 200, response.text

    undone = undo(engine, org, done.record["id"])
    assert undone.state == "undone"
    after = series(api)
    assert after["KEEP1"] == {**before["KEEP1"], "updatedOn": after["KEEP1"]["updatedOn"]}
    assert after["KEEP2"]["description"] == "Changed"
    assert after["KEEP2"]["type"] == "PHYSICAL"
    assert "NEW1" not in after
    assert after["NEW2"]["description"] == "Used"
    conflicts = api.get(f"/v2/imports/{done.record['id']}/conflicts").json()["data"]
    assert sorted((c["field"], c["reason"]) for c in conflicts) == [
        ("description", "series KEEP2: changed again since the import"),
        ("series_code", "series NEW2: has cards since the import; the series was kept"),
    ]
