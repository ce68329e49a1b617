"""/v2/customers/{id}/subscriptions: the seed sample, every refusal, the ledger, fraud, tenancy."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from patron.customer.tables import customers
from patron.identity.merge import merge
from patron.kit.db import transaction
from patron.kit.errors import InvalidInput
from patron.subscriptions import service as subscriptions
from patron.subscriptions.service import SubscriptionChange
from tests.conftest import EXAMPLES, Api, error_codes, warning_codes
from tests.factories import register

SEED_STORE_ID = 200031782

SEED_REQUEST: dict[str, Any] = json.loads((EXAMPLES / "subscriptions.json").read_text())

SEED_SCOPE = {
    "scopeId": 0,
    "scope": "USER",
    "subScope": "NONE",
    "setCreatedOn": False,
    "setPriority": False,
    "setScopeId": False,
    "setScope": True,
    "setSubScope": True,
}


def _path(customer_id: int) -> str:
    return f"/v2/customers/{customer_id}/subscriptions"


def _seed_request(org_unit_id: int) -> dict[str, Any]:
    body = copy.deepcopy(SEED_REQUEST)
    for entry in body["subscriptions"]:
        entry["orgUnitId"] = org_unit_id
    return body


def _add_store(api: Api, code: str = "store-1") -> int:
    response = api.post("/v2/org/units", json={"kind": "concept", "code": code}, role="admin")
    assert response.status_code == 200, response.text
    return int(response.json()["unit"]["id"])


def _entry(**overrides: Any) -> dict[str, Any]:
    return {"channel": "EMAIL", "priority": "BULK", "type": "OPTIN", **overrides}


def _post(api: Api, customer_id: int, *entries: dict[str, Any], **body: Any) -> Any:
    return api.post(_path(customer_id), json={"subscriptions": list(entries), **body})


def _state(api: Api, customer_id: int) -> list[dict[str, Any]]:
    response = api.get(_path(customer_id), role="viewer")
    assert response.status_code == 200, response.text
    return list(response.json()["subscriptions"])


def _ledger(engine: Engine, api: Api, customer_id: int) -> list[Any]:
    with transaction(engine, write=False) as conn:
        return subscriptions.ledger(conn, api.org.id, customer_id)


def _mark_fraud(engine: Engine, customer_id: int) -> None:
    with transaction(engine) as conn:
        conn.execute(
            customers.update().where(customers.c.id == customer_id).values(fraud_status="MARKED")
        )


@pytest.fixture
def customer(api: Api) -> int:
    return register(api, mobile="919845012345", email="tom@example.com")


# --- the seed sample -------------------------------------------------------------


def test_the_openapi_examples_are_the_seed_samples_and_fit_the_models() -> None:
    """``/openapi.json`` shows the seed's request beside the body and the seed's responses
    beside the answers; read through the models, the responses come out unchanged."""
    from patron.subscriptions import schemas

    assert schemas.SubscriptionUpdate.model_json_schema()["examples"] == [SEED_REQUEST]
    for model in (schemas.SubscriptionUpdateAnswer, schemas.SubscriptionsAnswer):
        [example] = model.model_json_schema()["examples"]
        shown = model.model_validate(example).model_dump(by_alias=True, exclude_unset=True)
        assert shown == example, model.__name__


def test_seed_sample_gives_the_documented_response(api: Api, customer: int) -> None:
    store = _add_store(api)
    response = api.post(_path(customer), json=_seed_request(store))
    assert response.status_code == 200, response.text
    # As documented, with MOBILE rendered as SMS; unlike the printed sample every
    # entry is listed, and the org unit / non-default source are shown.
    assert response.json() == {
        "scope": SEED_SCOPE,
        "subscriptions": [
            {
                "channel": "EMAIL",
                "accountId": "",
                "priority": "BULK",
                "type": "OPTOUT",
                "orgUnitId": store,
            },
            {
                "channel": "SMS",
                "accountId": "",
                "priority": "BULK",
                "type": "OPTOUT",
                "orgUnitId": store,
            },
            {
                "channel": "EMAIL",
                "accountId": "",
                "priority": "TRANS",
                "type": "OPTIN",
                "orgUnitId": store,
            },
            {
                "channel": "SMS",
                "accountId": "123",
                "priority": "TRANS",
                "type": "OPTIN",
                "orgUnitId": store,
                "sourceName": "WECHAT",
            },
        ],
        "campaignId": -1,
        "communicationId": -1,
        "reason": "Example reason",
        "warnings": [],
    }


def test_get_after_seed_sample_lists_what_was_recorded(api: Api, customer: int) -> None:
    store = _add_store(api)
    assert api.post(_path(customer), json=_seed_request(store)).status_code == 200
    response = api.get(_path(customer), role="viewer")
    assert response.status_code == 200
    assert response.json() == {
        "subscriptions": [
            {"channel": "EMAIL", "priority": "BULK", "type": "OPTOUT", "orgUnitId": store},
            {"channel": "SMS", "priority": "BULK", "type": "OPTOUT", "orgUnitId": store},
            {"channel": "EMAIL", "priority": "TRANS", "type": "OPTIN", "orgUnitId": store},
            {
                "channel": "SMS",
                "priority": "TRANS",
                "type": "OPTIN",
                "accountId": "123",
                "orgUnitId": store,
                "sourceName": "WECHAT",
            },
        ],
        "campaignId": 0,
        "communicationId": 0,
        "warnings": [],
    }


def test_seed_sample_store_id_is_not_in_a_new_org(api: Api, engine: Engine, customer: int) -> None:
    response = api.post(_path(customer), json=SEED_REQUEST)
    assert response.status_code == 400
    assert error_codes(response) == [1150]
    assert _state(api, customer) == []
    assert _ledger(engine, api, customer) == []


def test_nothing_recorded_means_nothing_reported(api: Api, customer: int) -> None:
    response = api.get(_path(customer), role="viewer")
    assert response.json() == {
        "subscriptions": [],
        "campaignId": 0,
        "communicationId": 0,
        "warnings": [],
    }


# --- refusals: every code, and all-or-nothing -------------------------------------


@pytest.mark.parametrize(
    ("bad_entry", "code"),
    [
        pytest.param(_entry(channel="FAX"), 1101, id="unknown-channel"),
        pytest.param({"priority": "BULK", "type": "OPTIN"}, 1101, id="no-channel"),
        pytest.param(_entry(priority="URGENT"), 1102, id="unknown-priority"),
        pytest.param(_entry(priority=None), 1102, id="no-priority"),
        pytest.param(_entry(type="MAYBE"), 1106, id="unknown-type"),
        pytest.param(_entry(type=None), 1106, id="no-type"),
        pytest.param(_entry(orgUnitId=987654321), 1150, id="unknown-store"),
        pytest.param(_entry(orgUnitId=-7), 1150, id="negative-store"),
        pytest.param(_entry(sourceName="WECHAT"), 8045, id="multi-account-source-no-account"),
        pytest.param(_entry(sourceName="LINE", accountId=" "), 8045, id="blank-account"),
        pytest.param(_entry(sourceName="NOWHERE"), 8012, id="unknown-source"),
        pytest.param(_entry(sourceName="INSTORE", accountId="9"), 8011, id="account-on-instore"),
    ],
)
def test_an_invalid_entry_refuses_the_whole_request(
    api: Api, engine: Engine, customer: int, bad_entry: dict[str, Any], code: int
) -> None:
    response = _post(api, customer, _entry(channel="SMS"), bad_entry)
    assert response.status_code == 400, response.text
    assert error_codes(response) == [code]
    assert response.json()["errors"][0]["message"].startswith("subscriptions[1]: ")
    assert _state(api, customer) == []
    assert _ledger(engine, api, customer) == []


@pytest.mark.parametrize(
    "scope",
    [{"scope": "ORG", "subScope": "NONE"}, {"scope": "USER", "subScope": "STORE"}],
    ids=["scope", "sub-scope"],
)
def test_a_scope_other_than_user_is_1103(
    api: Api, engine: Engine, customer: int, scope: dict[str, str]
) -> None:
    response = _post(api, customer, _entry(), scope=scope)
    assert response.status_code == 400
    assert error_codes(response) == [1103]
    assert _state(api, customer) == []
    assert _ledger(engine, api, customer) == []


def test_another_orgs_store_is_1150(api: Api, other_api: Api, customer: int) -> None:
    foreign_store = _add_store(other_api)
    response = _post(api, customer, _entry(orgUnitId=foreign_store))
    assert error_codes(response) == [1150]
    assert _state(api, customer) == []


@pytest.mark.parametrize(
    "body",
    [
        {"subscriptions": []},
        {},
        {"subscriptions": [_entry()], "campaignId": "not a number"},
        {"subscriptions": [_entry()], "reason": "x" * 501},
        {"subscriptions": [_entry()] * 101},
    ],
    ids=["empty", "missing", "campaign-id", "long-reason", "too-many"],
)
def test_malformed_bodies_are_400(api: Api, customer: int, body: dict[str, Any]) -> None:
    response = api.post(_path(customer), json=body)
    assert response.status_code == 400
    assert error_codes(response) == [400]
    assert _state(api, customer) == []


# --- channels, defaults and the stored state ----------------------------------------


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("mobile", "SMS"),
        ("MOBILE", "SMS"),
        ("sms", "SMS"),
        ("Email", "EMAIL"),
        ("wechat", "WECHAT"),
        ("whatsapp", "WHATSAPP"),
        ("ios", "IOS"),
        ("android", "ANDROID"),
        ("line", "LINE"),
        ("mobilePush", "MOBILEPUSH"),
        ("postmail", "POSTMAIL"),
    ],
)
def test_channels_are_stored_canonically(api: Api, customer: int, sent: str, stored: str) -> None:
    response = _post(api, customer, _entry(channel=sent, priority="trans", type="optin"))
    assert response.status_code == 200, response.text
    assert response.json()["subscriptions"][0]["channel"] == stored
    assert _state(api, customer) == [{"channel": stored, "priority": "TRANS", "type": "OPTIN"}]


@pytest.mark.parametrize("org_wide", [None, 0, -1])
def test_org_wide_spellings_are_one_subscription(
    api: Api, customer: int, org_wide: int | None
) -> None:
    assert _post(api, customer, _entry(type="OPTIN")).status_code == 200
    assert _post(api, customer, _entry(type="OPTOUT", orgUnitId=org_wide)).status_code == 200
    assert _state(api, customer) == [{"channel": "EMAIL", "priority": "BULK", "type": "OPTOUT"}]


def test_each_key_is_a_separate_subscription(api: Api, customer: int) -> None:
    store = _add_store(api)
    response = _post(
        api,
        customer,
        _entry(),
        _entry(priority="TRANS"),
        _entry(orgUnitId=store),
        _entry(sourceName="WECHAT", accountId="wx-1"),
        _entry(sourceName="WECHAT", accountId="wx-2", type="OPTOUT"),
    )
    assert response.status_code == 200, response.text
    assert len(_state(api, customer)) == 5


# --- the consent ledger ------------------------------------------------------------


def test_the_ledger_has_one_row_per_change_with_the_previous_status(
    api: Api, engine: Engine, customer: int
) -> None:
    assert _post(api, customer, _entry(type="OPTIN"), reason="signed up").status_code == 200
    assert _post(api, customer, _entry(type="OPTOUT"), reason="asked to stop").status_code == 200
    # A repeated status is still a recorded (re-)confirmation.
    assert _post(api, customer, _entry(type="OPTOUT")).status_code == 200

    rows = _ledger(engine, api, customer)
    assert [(r["status"], r["previous_status"], r["reason"]) for r in rows] == [
        ("OPTIN", None, "signed up"),
        ("OPTOUT", "OPTIN", "asked to stop"),
        ("OPTOUT", "OPTOUT", ""),
    ]
    for row in rows:
        assert (row["channel"], row["priority"]) == ("EMAIL", "BULK")
        assert (row["org_unit_id"], row["source"], row["account_id"]) == (0, "INSTORE", "")
        assert row["origin"] == "api"
        assert row["actor"].startswith("key:")
        assert row["created_at"] is not None
    assert _state(api, customer) == [{"channel": "EMAIL", "priority": "BULK", "type": "OPTOUT"}]


def test_the_same_key_twice_in_one_request_chains_in_the_ledger(
    api: Api, engine: Engine, customer: int
) -> None:
    response = _post(api, customer, _entry(type="OPTIN"), _entry(channel="email", type="OPTOUT"))
    assert response.status_code == 200, response.text
    rows = _ledger(engine, api, customer)
    assert [(r["status"], r["previous_status"]) for r in rows] == [
        ("OPTIN", None),
        ("OPTOUT", "OPTIN"),
    ]
    assert _state(api, customer) == [{"channel": "EMAIL", "priority": "BULK", "type": "OPTOUT"}]


def test_the_ledger_keeps_where_the_change_applies(api: Api, engine: Engine, customer: int) -> None:
    store = _add_store(api)
    entry = _entry(orgUnitId=store, sourceName="wechat", accountId="wx-1")
    assert _post(api, customer, entry).status_code == 200
    [row] = _ledger(engine, api, customer)
    assert (row["org_unit_id"], row["source"], row["account_id"]) == (store, "WECHAT", "wx-1")


# --- fraud ------------------------------------------------------------------------


def test_opt_in_is_refused_for_a_fraud_marked_customer(
    api: Api, engine: Engine, customer: int
) -> None:
    _mark_fraud(engine, customer)
    response = _post(api, customer, _entry(type="OPTIN"))
    assert response.status_code == 403
    assert error_codes(response) == [618]
    # An opt-in beside an opt-out refuses the whole request.
    response = _post(api, customer, _entry(type="OPTOUT"), _entry(channel="SMS", type="OPTIN"))
    assert error_codes(response) == [618]
    assert _state(api, customer) == []
    assert _ledger(engine, api, customer) == []


def test_opt_out_is_accepted_for_a_fraud_marked_customer(
    api: Api, engine: Engine, customer: int
) -> None:
    assert _post(api, customer, _entry(type="OPTIN")).status_code == 200
    _mark_fraud(engine, customer)
    response = _post(api, customer, _entry(type="OPTOUT"))
    assert response.status_code == 200, response.text
    assert _state(api, customer) == [{"channel": "EMAIL", "priority": "BULK", "type": "OPTOUT"}]
    assert [r["status"] for r in _ledger(engine, api, customer)] == ["OPTIN", "OPTOUT"]


# --- customers: unknown ids, other orgs, merges -------------------------------------


def test_another_orgs_customer_looks_like_an_unknown_id(
    api: Api, other_api: Api, engine: Engine
) -> None:
    foreign = register(other_api, mobile="919845099999")
    unknown = foreign + 1_000_000
    for method in ("GET", "POST"):
        answers = []
        for customer_id in (foreign, unknown):
            kwargs: dict[str, Any] = {"role": "editor"}
            if method == "POST":
                kwargs["json"] = {"subscriptions": [_entry()]}
            answers.append(api.request(method, _path(customer_id), **kwargs))
        assert [a.status_code for a in answers] == [404, 404]
        assert error_codes(answers[0]) == [8015]
        assert answers[0].json() == answers[1].json()
    assert _state(other_api, foreign) == []
    assert _ledger(engine, other_api, foreign) == []


def test_a_merge_victim_id_reaches_the_survivor_with_91009(api: Api, engine: Engine) -> None:
    survivor = register(api, mobile="919845000001")
    # On another source, so the merge has no two profiles of one source to combine.
    victim = register(api, mobile="919845000002", source="WEBSITE")
    with transaction(engine) as conn:
        merge(conn, api.org.admin, victim_id=victim, survivor_id=survivor)

    response = _post(api, victim, _entry())
    assert response.status_code == 200, response.text
    assert warning_codes(response) == [91009]
    response = api.get(_path(victim), role="viewer")
    assert warning_codes(response) == [91009]
    assert response.json()["subscriptions"] == _state(api, survivor)
    assert len(_ledger(engine, api, survivor)) == 1


# --- roles ------------------------------------------------------------------------


def test_a_viewer_reads_but_cannot_change(api: Api, engine: Engine, customer: int) -> None:
    response = api.post(_path(customer), json={"subscriptions": [_entry()]}, role="viewer")
    assert response.status_code == 403
    assert _ledger(engine, api, customer) == []
    assert api.get(_path(customer), role="viewer").status_code == 200
    assert api.post(_path(customer), json={"subscriptions": [_entry()]}).status_code == 200


def test_no_credentials_is_401(api: Api, customer: int) -> None:
    assert api.client.get(_path(customer)).status_code == 401


# --- the service functions other domains call ---------------------------------------


def test_record_and_current(api: Api, engine: Engine, customer: int) -> None:
    items = [
        SubscriptionChange(channel="SMS", priority="BULK", status="OPTIN"),
        SubscriptionChange(channel="EMAIL", priority="BULK", status="OPTOUT"),
    ]
    with transaction(engine) as conn:
        rendered = subscriptions.record(
            conn, api.org.admin, customer, items, reason="registration", origin="registration"
        )
    assert rendered == [
        {"channel": "SMS", "accountId": "", "priority": "BULK", "type": "OPTIN"},
        {"channel": "EMAIL", "accountId": "", "priority": "BULK", "type": "OPTOUT"},
    ]
    with transaction(engine, write=False) as conn:
        assert subscriptions.current(conn, api.org.id, customer) == [
            {"channel": "SMS", "priority": "BULK", "type": "OPTIN"},
            {"channel": "EMAIL", "priority": "BULK", "type": "OPTOUT"},
        ]
    ledger = _ledger(engine, api, customer)
    assert {(r["origin"], r["actor"], r["reason"]) for r in ledger} == {
        ("registration", "test-admin", "registration")
    }


def test_record_checks_org_units(api: Api, engine: Engine, customer: int) -> None:
    item = SubscriptionChange(channel="SMS", priority="BULK", status="OPTIN", org_unit_id=424242)
    with pytest.raises(InvalidInput) as caught, transaction(engine) as conn:
        subscriptions.record(conn, api.org.admin, customer, [item], reason="", origin="cli")
    assert caught.value.code == 1150


def test_move_to_moves_the_rest_and_an_optout_wins(api: Api, engine: Engine) -> None:
    survivor = register(api, mobile="919845000011")
    victim = register(api, mobile="919845000012")
    actor = api.org.admin
    with transaction(engine) as conn:
        subscriptions.record(
            conn,
            actor,
            survivor,
            [SubscriptionChange("SMS", "BULK", "OPTIN")],
            reason="",
            origin="api",
        )
        subscriptions.record(
            conn,
            actor,
            victim,
            [
                SubscriptionChange("SMS", "BULK", "OPTOUT"),
                SubscriptionChange("EMAIL", "TRANS", "OPTIN"),
            ],
            reason="",
            origin="api",
        )
    with transaction(engine) as conn:
        moved = subscriptions.move_to(conn, actor.org_id, victim, survivor)
    assert moved.superseded == 1
    assert len(moved.subscription_ids) == 1
    assert len(moved.ledger_ids) == 2
    with transaction(engine, write=False) as conn:
        # The survivor said yes to bulk SMS, the victim (the same person) said stop.
        assert subscriptions.current(conn, actor.org_id, survivor) == [
            {"channel": "SMS", "priority": "BULK", "type": "OPTOUT"},
            {"channel": "EMAIL", "priority": "TRANS", "type": "OPTIN"},
        ]
        assert subscriptions.current(conn, actor.org_id, victim) == []
    assert len(_ledger(engine, api, survivor)) == 3
    assert _ledger(engine, api, victim) == []


def test_move_to_keeps_the_survivors_optout(api: Api, engine: Engine) -> None:
    survivor = register(api, mobile="919845000031")
    victim = register(api, mobile="919845000032")
    actor = api.org.admin
    with transaction(engine) as conn:
        for customer_id, status in ((survivor, "OPTOUT"), (victim, "OPTIN")):
            subscriptions.record(
                conn,
                actor,
                customer_id,
                [SubscriptionChange("EMAIL", "BULK", status)],
                reason="",
                origin="api",
            )
        subscriptions.move_to(conn, actor.org_id, victim, survivor)
        assert subscriptions.current(conn, actor.org_id, survivor) == [
            {"channel": "EMAIL", "priority": "BULK", "type": "OPTOUT"}
        ]


def test_move_to_leaves_other_customers_alone(api: Api, engine: Engine) -> None:
    survivor = register(api, mobile="919845000021")
    victim = register(api, mobile="919845000022")
    bystander = register(api, mobile="919845000023")
    actor = api.org.admin
    with transaction(engine) as conn:
        for customer_id in (victim, bystander):
            subscriptions.record(
                conn,
                actor,
                customer_id,
                [SubscriptionChange("SMS", "BULK", "OPTIN")],
                reason="",
                origin="api",
            )
        subscriptions.move_to(conn, actor.org_id, victim, survivor)
        assert len(subscriptions.current(conn, actor.org_id, bystander)) == 1
        assert len(subscriptions.current(conn, actor.org_id, survivor)) == 1
    assert len(_ledger(engine, api, bystander)) == 1


def test_an_unchecked_change_cannot_be_built() -> None:
    with pytest.raises(ValueError, match="not a checked subscription change"):
        SubscriptionChange(channel="mobile", priority="BULK", status="OPTIN")
