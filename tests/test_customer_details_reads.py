"""A customer's details read its lifetime purchases with the customer's row (one statement
fewer), over the merge family of the customer that is live, whichever id was asked for."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine

from patron.kit.db import transaction
from patron.loyalty import transaction_repository as bills
from tests.conftest import Api, warning_codes
from tests.factories import declare_sample_setup, merge, register
from tests.loyalty_setup import add_program, bill
from tests.statements import recorded_statements

SURVIVOR_MOBILE = "919845011111"


def _statements(
    engine: Engine, api: Api, path: str, **params: str
) -> tuple[list[str], dict[str, Any]]:
    with recorded_statements(engine) as seen:
        answer = api.get(path, params=params)
    assert answer.status_code == 200, answer.text
    return seen, answer.json()


def test_lifetime_purchases_come_with_the_customer_over_its_merge_family(
    api: Api, engine: Engine
) -> None:
    add_program(api)
    survivor = register(api, mobile=SURVIVOR_MOBILE)
    victim = register(
        api,
        email="huck@example.com",
        source="WECHAT",
        account_id="acc",
        loyalty_type="non_loyalty",
    )
    bill(api, survivor, 300)
    bill(api, victim, 200, number="B-2")
    merge(api, victim=victim, survivor_mobile=SURVIVOR_MOBILE, source="WECHAT", account_id="acc")
    with transaction(engine, write=False) as conn:
        alone = float(bills.lifetime_purchases(conn, api.org.id, survivor))
    assert alone == 500.0

    # By the victim's id: the survivor's document, its family's purchases (both bills).
    by_victim = api.get(f"/v2/customers/{victim}")
    assert by_victim.status_code == 200, by_victim.text
    assert by_victim.json()["id"] == survivor
    assert warning_codes(by_victim) == [91009]
    assert by_victim.json()["loyaltyInfo"]["lifetimePurchases"] == alone

    statements, by_id = _statements(engine, api, f"/v2/customers/{survivor}")
    assert by_id["loyaltyInfo"]["lifetimePurchases"] == alone
    # The customer (with its purchases) and its parts: no statement of its own for the
    # purchases, none for cards (it has no card number).
    assert len(statements) == 2, statements
    assert "lifetime_bills" in statements[0]
    assert "FROM customers" in statements[0]

    statements, by_mobile = _statements(
        engine,
        api,
        "/v2/customers/lookup/customerDetails",
        identifierName="mobile",
        identifierValue=SURVIVOR_MOBILE,
    )
    assert by_mobile["loyaltyInfo"]["lifetimePurchases"] == alone
    # The same two, the customer found by its identifier in the first (no statement for
    # the identifier's owner).
    assert len(statements) == 2, statements
    assert "FROM identifiers" in statements[0]
    assert "lifetime_bills" in statements[0]


def test_the_registered_store_comes_with_the_customer(api: Api, engine: Engine) -> None:
    declare_sample_setup(engine, api.org)
    customer_id = register(api, mobile="919845077777", associatedWith="bukl.till")
    statements, shown = _statements(engine, api, f"/v2/customers/{customer_id}")
    assert shown["associatedWith"] == "bukl.till"
    assert len(statements) == 2, statements  # no statement of its own for the store
    plain = register(api, mobile="919845088888")
    assert api.get(f"/v2/customers/{plain}").json()["associatedWith"] == ""


def test_the_cards_are_read_for_a_customer_holding_a_card_number(api: Api, engine: Engine) -> None:
    series = api.post(
        "/v2/cards/series",
        json={
            "code": "BEN",
            "type": "PHYSICAL",
            "prefix": "BEN",
            "length": 12,
            "generationEnabled": True,
        },
        role="admin",
    )
    assert series.status_code == 200, series.text
    made = api.post("/v2/cards/generate", json={"count": 1, "seriesCode": "BEN"})
    assert made.status_code == 200, made.text
    (number,) = made.json()["cardNumbers"]
    holder = register(api, mobile="919845066666")
    added = api.post(
        f"/v2/customers/{holder}/changeIdentifier",
        json={"add": [{"type": "cardnumber", "value": number, "statusLabel": "ACTIVE"}]},
    )
    assert added.status_code == 200, added.text
    statements, shown = _statements(engine, api, f"/v2/customers/{holder}")
    # The customer, its parts, then its cards (and their status labels): the card number
    # is an identifier of it.
    assert len(statements) == 4, statements
    assert "FROM cards" in statements[2]
    assert [c["cardNumber"] for c in shown["cardDetails"]] == [number]
