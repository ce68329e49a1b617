"""The Card Import profile: the seed's sample, every field error, the options, holders,
duplicates, the store's rules, the API's view of the result, and undo."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from patron.audit.tables import change_log
from patron.cards import service as cards
from patron.customer.tables import customers
from patron.imports import repository as imports_repository
from patron.imports.codes import RowCode
from patron.kit.db import transaction
from patron.orgs import service as orgs
from tests.conftest import Api, OrgHandle
from tests.factories import register
from tests.importing import csv, import_org, result, run, start, undo

PROFILE = {"profile": "cards"}
SAMPLE_HEADER = (
    "Card Number,Card Series Code,Card Status Label,Till IUN,Mobile,Email,External Id,User Id,"
    "Card External ID"
)
SAMPLE_ROW = (
    "GOLDPHY2TT12311,GOLDPHY2,NOT_ISSUED,1234,8765433279,xyz@abc.com,WA8765433279,1234234,E34334"
)
HEADER = "Card Number,Card Series Code,Card Status Label,Till IUN,Mobile"
GOLD = "GOLD212345672021"  # fits GOLDPHY2: GOLD2 + 7 digits + 2021


@pytest.fixture
def org(engine: Engine) -> OrgHandle:
    org = import_org(engine)
    with transaction(engine) as conn:
        actor = org.admin
        orgs.add_unit(conn, actor, kind="till", code="1234")
        cards.add_series(
            conn,
            actor,
            cards.SeriesInput(
                code="GOLDPHY2",
                card_type="PHYSICAL",
                description="Gold Card",
                prefix="GOLD2",
                suffix="2021",
                length=16,
                expiry_days=1000,
                generation_enabled=True,
                store="1234",
            ),
        )
        cards.add_series(
            conn, actor, cards.SeriesInput(code="FLEET", card_type="DIGITAL", prefix="card_")
        )
        cards.add_label(conn, actor, label="Lost", system_status="INACTIVE")
    return org


@pytest.fixture
def api(app_client: TestClient, org: OrgHandle) -> Api:
    return Api(app_client, org)


def card(api: Api, number: str) -> dict[str, Any] | None:
    response = api.get(f"/v2/cards/{number}", role="viewer")
    if response.status_code == 404:
        return None
    assert response.status_code == 200, response.text
    return dict(response.json()["card"])


def details(api: Api, customer_id: int) -> dict[str, Any]:
    response = api.get(f"/v2/customers/{customer_id}", role="viewer")
    assert response.status_code == 200, response.text
    return dict(response.json())


def holder(api: Api, number: str) -> int | None:
    response = api.get(
        "/v2/customers/lookup",
        params={"source": "ALL", "identifierName": "cardnumber", "identifierValue": number},
    )
    return int(response.json()["entity"]) if response.status_code == 200 else None


def test_the_seed_sample_explains_why_its_number_does_not_fit(
    engine: Engine, org: OrgHandle, api: Api
) -> None:
    register(api, mobile="8765433279")
    done = run(engine, org, csv(SAMPLE_HEADER, SAMPLE_ROW), **PROFILE)
    assert done.statuses() == ["rejected"]
    assert done.codes(2) == [RowCode.CARD_NUMBER_NOT_IN_SERIES]
    assert done.row(2)["errors"] == [
        "card number GOLDPHY2TT12311 does not fit series GOLDPHY2: does not start with the "
        "prefix 'GOLD2'; does not end with the suffix '2021'; has 15 characters, not 16"
    ]
    assert card(api, "GOLDPHY2TT12311") is None


def test_the_seed_sample_with_a_number_of_the_series(
    engine: Engine, org: OrgHandle, api: Api
) -> None:
    tom = register(api, mobile="8765433279")
    row = SAMPLE_ROW.replace("GOLDPHY2TT12311", GOLD)
    done = run(engine, org, csv(SAMPLE_HEADER, row), **PROFILE)
    assert done.statuses() == ["inserted"]
    assert done.row(2)["customer_id"] == tom
    stored = card(api, GOLD)
    assert stored is not None
    assert stored["customerId"] == tom
    assert (stored["seriesCode"], stored["cardExternalId"]) == ("GOLDPHY2", "E34334")
    assert (stored["statusInfo"]["label"], stored["statusInfo"]["status"]) == (
        "NOT_ISSUED",
        "NOT_ISSUED",
    )
    assert holder(api, GOLD) == tom
    document = details(api, tom)
    (shown,) = document["cardDetails"]
    assert shown["cardNumber"] == GOLD
    assert shown["expiryDays"] == 1000
    issued = datetime.fromisoformat(shown["issuedDate"])
    assert datetime.fromisoformat(shown["expiryDate"]) - issued == timedelta(days=1000)
    assert abs(datetime.now(UTC) - issued) < timedelta(hours=1)
    assert {
        "type": "cardnumber",
        "value": GOLD,
        "seriesId": stored["seriesId"],
        "seriesCode": "GOLDPHY2",
        "statusLabel": "NOT_ISSUED",
        "cardExternalId": "E34334",
    } in document["profiles"][0]["identifiers"]


@pytest.mark.parametrize(
    ("line", "code", "message"),
    [
        (",GOLDPHY2,ACTIVE,1234,", RowCode.CARD_NUMBER_EMPTY, "the card number is empty"),
        (
            f"{'9' * 65},FLEET,ACTIVE,1234,",
            RowCode.CARD_NUMBER_INVALID,
            "invalid card number: the value is longer than 64 characters",
        ),
        (f"{GOLD},,ACTIVE,1234,", RowCode.SERIES_CODE_EMPTY, "the card series code is empty"),
        (
            f"{GOLD},GOLD PHY,ACTIVE,1234,",
            RowCode.SERIES_CODE_INVALID,
            "invalid card series code: 'GOLD PHY' is not alphanumeric",
        ),
        (
            f"{GOLD},SILVER,ACTIVE,1234,",
            RowCode.SERIES_UNKNOWN,
            "unknown card series 'SILVER': add the series first",
        ),
        (
            "card_77,GOLDPHY2,ACTIVE,1234,",
            RowCode.CARD_NUMBER_NOT_IN_SERIES,
            "card number card_77 does not fit series GOLDPHY2: does not start with the prefix",
        ),
        (
            "FLEET-77,FLEET,ACTIVE,1234,",
            RowCode.CARD_NUMBER_NOT_IN_SERIES,
            "card number FLEET-77 does not fit series FLEET: does not start with the prefix "
            "'card_'",
        ),
        (f"{GOLD},GOLDPHY2,,1234,", RowCode.CARD_STATUS_LABEL_EMPTY, "the card status label"),
        (
            f"{GOLD},GOLDPHY2,Stolen,1234,",
            RowCode.CARD_STATUS_LABEL_UNKNOWN,
            "unknown card status label 'Stolen'; the labels are: NOT_ISSUED, ACTIVE, "
            "INACTIVE, DELETED, EXPIRED, Lost",
        ),
        (f"{GOLD},GOLDPHY2,ACTIVE,,", RowCode.STORE_EMPTY, "invalid store or till: the store"),
        (
            f"{GOLD},GOLDPHY2,ACTIVE,nowhere,",
            RowCode.STORE_UNKNOWN,
            "invalid store or till: 'nowhere' is not a store or till of this org",
        ),
        (
            f"{GOLD},GOLDPHY2,ACTIVE,1234,12",
            RowCode.INVALID_MOBILE,
            "invalid mobile number",
        ),
        (
            f"{GOLD},GOLDPHY2,ACTIVE,1234,919800007099",
            RowCode.CUSTOMER_UNKNOWN,
            "no customer of this org has mobile 919800007099",
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
    assert done.counts["inserted"] == 0


def test_a_card_external_id_is_checked(engine: Engine, org: OrgHandle) -> None:
    header = "Card Number,Card Series Code,Card Status Label,Till IUN,Card External ID"
    done = run(engine, org, csv(header, f"{GOLD},GOLDPHY2,ACTIVE,1234,{'x' * 101}"), **PROFILE)
    assert done.codes(2) == [RowCode.CARD_EXTERNAL_ID_INVALID]
    assert done.row(2)["errors"] == [
        "invalid card external id: the value is longer than 100 characters"
    ]


def test_labels_in_any_letter_case_and_without_a_holder(
    engine: Engine, org: OrgHandle, api: Api
) -> None:
    done = run(
        engine,
        org,
        csv(
            "Card Number,Card Series Code,Card Status Label,Till IUN",
            "card_1,fleet,lost,1234",
            "card_2,FLEET,not issued,mal.till",
        ),
        **PROFILE,
    )
    assert done.statuses() == ["inserted", "inserted"]
    first, second = card(api, "card_1"), card(api, "card_2")
    assert first is not None
    assert second is not None
    assert (first["statusInfo"]["label"], first["statusInfo"]["status"]) == ("Lost", "INACTIVE")
    assert first["statusInfo"]["labelId"] is not None
    assert (second["statusInfo"]["label"], second["customerId"]) == ("NOT_ISSUED", None)
    assert second["issuedDate"] is None
    assert holder(api, "card_1") is None


def test_auto_corrections(engine: Engine, org: OrgHandle, api: Api) -> None:
    tom = register(api, mobile="919800007001", email="tom@example.com")
    done = run(
        engine,
        org,
        csv(
            "Card Number,Card Series Code,Card Status Label,Till IUN,Email",
            f" {GOLD} , goldphy2 ,ACTIVE,1234, Tom@Example.com",
        ),
        profile="cards",
        options={"unique_identifier": "email"},
    )
    assert done.statuses() == ["inserted"]
    assert done.row(2)["customer_id"] == tom
    assert done.row(2)["auto_corrections"] == [
        "Card Number: whitespace trimmed",
        "Card Series Code: whitespace trimmed",
        "Email: whitespace trimmed",
        "Email: email lower-cased",
    ]
    assert holder(api, GOLD) == tom


def test_a_card_number_in_two_rows_rejects_both(engine: Engine, org: OrgHandle) -> None:
    done = run(
        engine,
        org,
        csv(
            "Card Number,Card Series Code,Card Status Label,Till IUN,Card External ID",
            "card_1,FLEET,ACTIVE,1234,X1",
            "card_1,FLEET,INACTIVE,1234,X2",
            "card_2,FLEET,ACTIVE,1234,X3",
            "card_3,FLEET,ACTIVE,1234,X3",
            "card_4,FLEET,ACTIVE,1234,X4",
        ),
        **PROFILE,
    )
    assert done.statuses() == ["rejected"] * 4 + ["inserted"]
    assert done.codes(2) == done.codes(3) == [RowCode.DUPLICATE_CARD_IN_FILE]
    assert done.row(2)["errors"] == ["duplicate card number card_1 in the file: also in row 3"]
    assert done.codes(4) == done.codes(5) == [RowCode.DUPLICATE_CARD_EXTERNAL_ID_IN_FILE]
    assert done.row(5)["errors"] == ["duplicate card external id X3 in the file: also in row 4"]


def test_a_card_of_another_customer_is_refused(engine: Engine, org: OrgHandle, api: Api) -> None:
    tom = register(api, mobile="919800007011")
    register(api, mobile="919800007012")
    first = run(engine, org, csv(HEADER, "card_1,FLEET,ACTIVE,1234,919800007011"), **PROFILE)
    assert first.statuses() == ["inserted"]
    again = run(
        engine,
        org,
        csv(HEADER, "card_1,FLEET,ACTIVE,1234,919800007012", "card_1x,FLEET,ACTIVE,1234,"),
        **PROFILE,
    )
    assert again.statuses() == ["rejected", "inserted"]
    assert again.codes(2) == [RowCode.CARD_OF_OTHER_CUSTOMER]
    assert again.row(2)["errors"] == [
        f"card number card_1 is already issued to another customer (id {tom})"
    ]
    same = run(engine, org, csv(HEADER, "card_1,FLEET,ACTIVE,1234,919800007011"), **PROFILE)
    assert same.statuses() == ["skipped"]
    assert holder(api, "card_1") == tom


def test_a_plain_card_identifier_counts_as_held(engine: Engine, org: OrgHandle, api: Api) -> None:
    tom = register(
        api, mobile="919800007021", identifiers=[{"type": "cardnumber", "value": "card_9"}]
    )
    register(api, mobile="919800007022")
    done = run(
        engine,
        org,
        csv(HEADER, "card_9,FLEET,ACTIVE,1234,919800007022", "card_9b,FLEET,ACTIVE,1234,"),
        **PROFILE,
    )
    assert done.codes(2) == [RowCode.CARD_OF_OTHER_CUSTOMER]
    # Without a holder in the file, the card goes to who holds the number already.
    unlinked = run(engine, org, csv(HEADER, "card_9,FLEET,ACTIVE,1234,"), **PROFILE)
    assert unlinked.statuses() == ["inserted"]
    assert unlinked.row(2)["customer_id"] == tom
    stored = card(api, "card_9")
    assert stored is not None
    assert stored["customerId"] == tom


def test_a_card_of_another_series_or_an_external_id_of_another_card(
    engine: Engine, org: OrgHandle
) -> None:
    header = "Card Number,Card Series Code,Card Status Label,Till IUN,Card External ID"
    run(engine, org, csv(header, f"{GOLD},GOLDPHY2,ACTIVE,1234,EXT-1"), **PROFILE)
    with transaction(engine) as conn:
        cards.add_series(conn, org.admin, cards.SeriesInput(code="ANY", card_type="DIGITAL"))
    done = run(
        engine,
        org,
        csv(header, f"{GOLD},ANY,ACTIVE,1234,", "other_1,ANY,ACTIVE,1234,EXT-1"),
        **PROFILE,
    )
    assert done.codes(2) == [RowCode.CARD_IN_OTHER_SERIES]
    assert done.row(2)["errors"] == [f"card {GOLD} belongs to series GOLDPHY2, not ANY"]
    assert done.codes(3) == [RowCode.CARD_EXTERNAL_ID_OF_OTHER_CARD]
    assert done.row(3)["errors"] == [f"card external id EXT-1 already names card {GOLD}"]


def test_a_customer_marked_as_fraud_gets_no_card(engine: Engine, org: OrgHandle, api: Api) -> None:
    marked = register(api, mobile="919800007031")
    fraud = api.put(
        f"/v2/customers/{marked}/fraudStatus",
        json={"status": "CONFIRMED", "reason": "chargebacks"},
        role="admin",
    )
    assert fraud.status_code == 200, fraud.text
    first = run(engine, org, csv(HEADER, "card_1,FLEET,ACTIVE,1234,919800007031"), **PROFILE)
    assert first.codes(2) == [RowCode.CUSTOMER_FRAUD]
    assert first.row(2)["errors"] == [f"the customer (id {marked}) is marked as fraud (CONFIRMED)"]
    # Nor are the cards they hold changed, even by rows that name nobody.
    with transaction(engine) as conn:
        conn.execute(
            customers.update().where(customers.c.id == marked).values(fraud_status="NOT_FRAUD")
        )
    held = run(engine, org, csv(HEADER, "card_1,FLEET,ACTIVE,1234,919800007031"), **PROFILE)
    assert held.statuses() == ["inserted"]
    with transaction(engine) as conn:
        conn.execute(
            customers.update().where(customers.c.id == marked).values(fraud_status="MARKED")
        )
    done = run(engine, org, csv(HEADER, "card_1,FLEET,Lost,1234,"), **PROFILE)
    assert done.codes(2) == [RowCode.CUSTOMER_FRAUD]
    assert done.row(2)["customer_id"] == marked


@pytest.mark.parametrize(
    ("key", "header", "value"),
    [("external_id", "External Id", "EXT-41"), ("user_id", "User Id", None)],
)
def test_the_unique_identifier_option(
    engine: Engine, org: OrgHandle, api: Api, key: str, header: str, value: str | None
) -> None:
    tom = register(api, mobile="919800007041", external_id="EXT-41")
    cell = value if value is not None else str(tom)
    done = run(
        engine,
        org,
        csv(
            f"Card Number,Card Series Code,Card Status Label,Till IUN,{header}",
            f"card_1,FLEET,ACTIVE,1234,{cell}",
        ),
        profile="cards",
        options={"unique_identifier": key},
    )
    assert done.statuses() == ["inserted"]
    assert holder(api, "card_1") == tom


def test_user_id_errors(engine: Engine, org: OrgHandle) -> None:
    done = run(
        engine,
        org,
        csv(
            "Card Number,Card Series Code,Card Status Label,Till IUN,User Id",
            "card_1,FLEET,ACTIVE,1234,abc",
            "card_2,FLEET,ACTIVE,1234,999999999",
        ),
        profile="cards",
        options={"unique_identifier": "user_id"},
    )
    assert done.codes(2) == [RowCode.USER_ID_UNKNOWN]
    assert done.codes(3) == [RowCode.CUSTOMER_UNKNOWN]


def test_link_user_off_loads_cards_without_holders(
    engine: Engine, org: OrgHandle, api: Api
) -> None:
    register(api, mobile="919800007051")
    done = run(
        engine,
        org,
        csv(HEADER, "card_1,FLEET,ACTIVE,1234,919800007051", "card_2,FLEET,ACTIVE,1234,12"),
        profile="cards",
        options={"link_user": False},
    )
    assert done.statuses() == ["inserted", "inserted"]
    assert holder(api, "card_1") is None
    stored = card(api, "card_1")
    assert stored is not None
    assert stored["customerId"] is None


def test_stores_by_external_id(engine: Engine, org: OrgHandle, api: Api) -> None:
    done = run(
        engine,
        org,
        csv(HEADER, "card_1,FLEET,ACTIVE,EXT-MAL,"),
        profile="cards",
        options={"stores_by_external_id": True},
    )
    assert done.statuses() == ["inserted"]
    units = api.get("/v2/org/units", params={"kind": "store"}, role="admin").json()["data"]
    stored = card(api, "card_1")
    assert stored is not None
    assert stored["entityId"] == next(u["id"] for u in units if u["code"] == "mal")


def test_handing_out_loaded_cards(engine: Engine, org: OrgHandle, api: Api) -> None:
    tom = register(api, mobile="919800007061")
    loaded = run(engine, org, csv(HEADER, f"{GOLD},GOLDPHY2,NOT_ISSUED,1234,"), **PROFILE)
    assert loaded.statuses() == ["inserted"]
    handed = run(engine, org, csv(HEADER, f"{GOLD},GOLDPHY2,ACTIVE,1234,919800007061"), **PROFILE)
    assert handed.statuses() == ["updated"]
    stored = card(api, GOLD)
    assert stored is not None
    assert (stored["customerId"], stored["statusInfo"]["status"]) == (tom, "ACTIVE")
    assert stored["issuedDate"] is not None
    assert [c["cardNumber"] for c in details(api, tom)["cardDetails"]] == [GOLD]
    history = api.get(f"/v2/customers/{tom}/changeRequest?changeType=IDENTIFIER").json()
    assert history["data"][0]["changeType"] == "IDENTIFIER"


def test_a_preview_changes_nothing(engine: Engine, org: OrgHandle, api: Api) -> None:
    register(api, mobile="919800007071")
    import_id = start(
        engine, org, csv(HEADER, f"{GOLD},GOLDPHY2,ACTIVE,1234,919800007071"), **PROFILE
    )
    preview = result(engine, org, import_id)
    assert preview.state == "previewed"
    assert preview.counts["inserted"] == 1
    assert card(api, GOLD) is None
    assert holder(api, GOLD) is None


def logged(engine: Engine, customer_id: int) -> list[tuple[Any, str]]:
    with transaction(engine, write=False) as conn:
        rows = conn.execute(
            sa.select(change_log.c.details, change_log.c.cause)
            .where(
                change_log.c.customer_id == customer_id,
                change_log.c.change_type == "IDENTIFIER",
            )
            .order_by(change_log.c.id)
        ).all()
    return [(row.details, row.cause) for row in rows]


def test_undo_restores_the_cards_and_leaves_later_changes(
    engine: Engine, org: OrgHandle, api: Api
) -> None:
    tom = register(api, mobile="919800007081")
    becky = register(api, mobile="919800007082")
    setup = run(
        engine,
        org,
        csv(HEADER, "card_a,FLEET,NOT_ISSUED,1234,", "card_b,FLEET,NOT_ISSUED,1234,"),
        **PROFILE,
    )
    assert setup.statuses() == ["inserted", "inserted"]
    before_a = card(api, "card_a")
    done = run(
        engine,
        org,
        csv(
            HEADER,
            "card_a,FLEET,ACTIVE,mal,919800007081",  # handed to Tom, moved to mal
            "card_b,FLEET,ACTIVE,1234,919800007082",  # handed to Becky
            "card_c,FLEET,ACTIVE,1234,919800007081",  # new, Tom's
            "card_d,FLEET,ACTIVE,1234,",  # new, nobody's
        ),
        **PROFILE,
    )
    assert done.statuses() == ["updated", "updated", "inserted", "inserted"]
    import_id = done.record["id"]
    assert logged(engine, tom) == [
        ({"add": [{"type": "cardnumber", "value": "card_a"}], "remove": []}, f"import:{import_id}"),
        ({"add": [{"type": "cardnumber", "value": "card_c"}], "remove": []}, f"import:{import_id}"),
    ]
    # Since the import: card_b gets another label, card_d another store.
    later = run(
        engine,
        org,
        csv(HEADER, "card_b,FLEET,Lost,1234,919800007082", "card_d,FLEET,ACTIVE,mal,"),
        **PROFILE,
    )
    assert later.statuses() == ["updated", "updated"]

    undone = undo(engine, org, import_id)
    assert undone.state == "undone"
    after_a = card(api, "card_a")
    assert after_a is not None
    assert before_a is not None
    assert {k: v for k, v in after_a.items() if k != "statusInfo"} == {
        k: v for k, v in before_a.items() if k != "statusInfo"
    }
    assert after_a["statusInfo"]["label"] == "NOT_ISSUED"
    assert holder(api, "card_a") is None
    card_b = card(api, "card_b")
    assert card_b is not None
    assert (card_b["statusInfo"]["label"], card_b["customerId"]) == ("Lost", None)
    assert holder(api, "card_b") is None
    assert card(api, "card_c") is None
    assert holder(api, "card_c") is None
    assert card(api, "card_d") is not None
    assert details(api, tom)["cardDetails"] == []
    assert [cause for _, cause in logged(engine, tom)] == [
        f"import:{import_id}",
        f"import:{import_id}",
        f"undo:import:{import_id}",
        f"undo:import:{import_id}",
    ]
    conflicts = api.get(f"/v2/imports/{import_id}/conflicts").json()["data"]
    # Becky held card_b when the undo compared it; the label stays, the link is undone.
    assert sorted(((c["field"], c["customer_id"], c["reason"]) for c in conflicts), key=repr) == [
        ("card_number", None, "card card_d: changed since the import; the card was kept"),
        ("status_label", becky, "card card_b: changed again since the import"),
    ]


def test_the_sample_header_is_mapped_without_a_template(engine: Engine, org: OrgHandle) -> None:
    import_id = start(engine, org, csv(SAMPLE_HEADER, SAMPLE_ROW), **PROFILE)
    with transaction(engine, write=False) as conn:
        mapping = imports_repository.get_import(conn, org.id, import_id)["mapping"]
    assert mapping == {
        "Card Number": "card_number",
        "Card Series Code": "series_code",
        "Card Status Label": "status_label",
        "Till IUN": "store",
        "Mobile": "mobile",
        "Email": "email",
        "External Id": "external_id",
        "User Id": "user_id",
        "Card External ID": "card_external_id",
    }
