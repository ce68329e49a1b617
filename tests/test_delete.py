"""DELETE /v2/customers/{id}: personal data removed, audit entry and suppressions kept."""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from patron.audit.tables import audit_log, change_log
from patron.auth.secrets import keyed_digest
from patron.cards.tables import card_series, cards
from patron.customer.tables import (
    comm_channels,
    customers,
    field_values,
    identifiers,
    profiles,
    suppressions,
)
from patron.kit.db import transaction
from patron.legacy.tables import legacy_profiles
from patron.lifecycle.tables import lifecycle_events
from patron.orgs.tables import status_labels
from patron.subscriptions.tables import consent_ledger, subscriptions
from tests.conftest import Api, OrgHandle, error_codes
from tests.factories import declare_sample_setup, merge, register, registration

MOBILE = "919845012345"
EMAIL = "tom@example.com"
UNKNOWN_ID = 987_654_321
#: Everything personal the ``tom`` fixture stores.
PERSONAL = ("Tom", "Sawyer", "Thomas", MOBILE, EMAIL, "wx-tom", "EXT-1", "Pune", "Bangalore")


def delete(api: Api, customer_id: int, reason: str | None = "customer asked", **kwargs: Any) -> Any:
    params = {} if reason is None else {"reason": reason}
    return api.delete(f"/v2/customers/{customer_id}", params=params, role="admin", **kwargs)


def rows(engine: Engine, table: sa.Table, customer_id: int) -> list[Any]:
    with transaction(engine, write=False) as conn:
        query = sa.select(table).where(table.c.customer_id == customer_id)
        return list(conn.execute(query).mappings())


@pytest.fixture
def tom(api: Api, engine: Engine, org: OrgHandle) -> int:
    """A customer with two profiles, identifiers, channels, fields, a subscription and history."""
    declare_sample_setup(engine, org)
    body = registration(
        mobile=MOBILE,
        email=EMAIL,
        profile={
            "fields": {"city": "Pune"},
            "commChannels": [
                {"type": "email", "value": EMAIL, "primary": True, "verified": True, "meta": {}}
            ],
        },
        extendedFields={"city": "Bangalore"},
    )
    response = api.post("/v2/customers", json=body)
    assert response.status_code == 200, response.text
    customer_id = int(response.json()["createdId"])
    again = register(
        api,
        first_name="Thomas",
        mobile=MOBILE,
        identifiers=[{"type": "wechat", "value": "wx-tom"}],
        source="WECHAT",
        account_id="22232",
    )
    assert again == customer_id
    changed = api.post(
        f"/v2/customers/{customer_id}/changeIdentifier",
        json={"add": [{"type": "externalId", "value": "EXT-1"}]},
    )
    assert changed.status_code == 200, changed.text
    subscribed = api.post(
        f"/v2/customers/{customer_id}/subscriptions",
        json={"subscriptions": [{"channel": "EMAIL", "priority": "BULK", "type": "OPTIN"}]},
    )
    assert subscribed.status_code == 200, subscribed.text
    for table in (identifiers, comm_channels, field_values, subscriptions, change_log):
        assert rows(engine, table, customer_id), table.name
    return customer_id


def test_delete_removes_the_personal_data(api: Api, engine: Engine, tom: int) -> None:
    ledger_before = rows(engine, consent_ledger, tom)
    assert ledger_before
    response = delete(api, tom, "erasure request #12")
    assert response.status_code == 200, response.text
    assert response.json() == {"id": tom, "deleted": True, "warnings": []}
    for table in (identifiers, comm_channels, field_values, subscriptions, change_log):
        assert rows(engine, table, tom) == [], table.name
    names = {(p["source"], p["first_name"], p["last_name"]) for p in rows(engine, profiles, tom)}
    assert names == {("INSTORE", "", ""), ("WECHAT", "", "")}
    # The consent ledger is the proof of the consent history and holds no personal data.
    assert rows(engine, consent_ledger, tom) == ledger_before
    with transaction(engine, write=False) as conn:
        customer = conn.execute(sa.select(customers).where(customers.c.id == tom)).mappings().one()
        label = (
            conn.execute(
                sa.select(status_labels).where(status_labels.c.id == customer["status_label_id"])
            )
            .mappings()
            .one()
        )
    assert customer["deleted_at"] is not None
    assert label["system_status"] == "Deleted"


def test_suppressions_recognise_the_removed_identifiers(
    api: Api, engine: Engine, org: OrgHandle, tom: int
) -> None:
    assert delete(api, tom).status_code == 200
    with transaction(engine, write=False) as conn:
        stored = (
            conn.execute(sa.select(suppressions).where(suppressions.c.org_id == org.id))
            .mappings()
            .all()
        )
    expected = {
        (kind, keyed_digest(f"{kind}:{value}"))
        for kind, value in (
            ("mobile", MOBILE),
            ("email", EMAIL),
            ("wechat", "wx-tom"),
            ("externalId", "EXT-1"),
        )
    }
    assert {(s["type"], s["digest"]) for s in stored} == expected
    assert {s["customer_id"] for s in stored} == {tom}
    dumped = json.dumps([dict(s) for s in stored], default=str)
    assert not [value for value in PERSONAL if value in dumped]


def test_the_audit_entry_has_the_reason_and_counts_only(
    api: Api, engine: Engine, org: OrgHandle, tom: int
) -> None:
    assert delete(api, tom, "erasure request #12").status_code == 200
    with transaction(engine, write=False) as conn:
        [entry] = conn.execute(
            sa.select(audit_log).where(
                audit_log.c.org_id == org.id, audit_log.c.action == "customer.delete"
            )
        ).mappings()
    assert entry["entity_type"] == "customer"
    assert entry["entity_id"] == str(tom)
    assert entry["actor"]
    assert entry["details"] == {
        "reason": "erasure request #12",
        "identifiers": 4,
        "commChannels": 1,
        "fieldValues": 2,
        "subscriptions": 1,
        "changeLogEntries": 1,
        "lifecycleEvents": 0,
        "legacyProfiles": 0,
        "profiles": 2,
        "cards": 0,
        "suppressions": 4,
        "mergedCustomers": 0,
        "storedAnswers": 0,
        "notes": 0,
        "preferences": 0,
        "tickets": 0,
        "image": 0,
        "referrals": 0,
        "referralCodes": 0,
        "groups": 0,
        "importRows": 0,
    }
    dumped = json.dumps(dict(entry), default=str)
    assert not [value for value in PERSONAL if value in dumped]


def test_lifecycle_events_and_legacy_data_go_and_cards_lose_their_holder(
    api: Api, engine: Engine, org: OrgHandle, tom: int
) -> None:
    with transaction(engine) as conn:
        conn.execute(
            lifecycle_events.insert().values(
                org_id=org.id, customer_id=tom, entity_type="CUSTOMER", entity_id=MOBILE,
                org_source_id="wx-account", activity="FOLLOW", state="DONE", added_by="wechat",
                reference_id="ref-1", updated_on=sa.func.now(),
            )
        )  # fmt: skip
        series_id = conn.execute(
            card_series.insert()
            .values(org_id=org.id, code="GOLD", card_type="PHYSICAL")
            .returning(card_series.c.id)
        ).scalar_one()
        conn.execute(
            cards.insert().values(
                org_id=org.id, series_id=series_id, number="GOLD-1", status="ACTIVE",
                status_label="ACTIVE", customer_id=tom,
            )
        )  # fmt: skip
    with transaction(engine) as conn:
        conn.execute(
            legacy_profiles.insert().values(
                org_id=org.id, customer_id=tom, phone="555-5555", street1="1 Main St"
            )
        )
    assert delete(api, tom).status_code == 200
    assert rows(engine, lifecycle_events, tom) == []
    assert rows(engine, legacy_profiles, tom) == []
    with transaction(engine, write=False) as conn:
        card = conn.execute(sa.select(cards).where(cards.c.number == "GOLD-1")).mappings().one()
    assert card["customer_id"] is None


def test_a_deleted_customer_is_not_found_and_its_identifiers_are_free(
    api: Api, engine: Engine, org: OrgHandle, tom: int
) -> None:
    assert delete(api, tom).status_code == 200
    for response in (
        api.get(f"/v2/customers/{tom}"),
        api.get(
            "/v2/customers/lookup",
            params={"source": "ALL", "identifierName": "mobile", "identifierValue": MOBILE},
        ),
        api.get(f"/v2/customers/{tom}/changeRequest"),
        delete(api, tom),
    ):
        assert response.status_code == 404
        assert error_codes(response) == [8015]
    # Registering the person again is refused, unless the org allows it (with a warning).
    refused = api.post(
        "/v2/customers", json=registration(mobile=MOBILE, email=EMAIL, external_id="EXT-1")
    )
    assert refused.status_code == 409
    assert error_codes(refused) == [95301]
    allow = {"deleted_identifier_registration": "allow_with_warning"}
    assert api.put("/v2/org/settings", json=allow, role="admin").status_code == 200
    registered = api.post(
        "/v2/customers", json=registration(mobile=MOBILE, email=EMAIL, external_id="EXT-1")
    )
    assert [w["code"] for w in registered.json()["warnings"]] == [95302]
    again = int(registered.json()["createdId"])
    assert again != tom
    found = api.get(
        "/v2/customers/lookup",
        params={"source": "ALL", "identifierName": "email", "identifierValue": EMAIL},
    )
    assert found.json()["entity"] == again
    # Deleting the person a second time replaces the earlier suppressions.
    assert delete(api, again).status_code == 200
    with transaction(engine, write=False) as conn:
        owners = conn.execute(
            sa.select(suppressions.c.type, suppressions.c.customer_id).where(
                suppressions.c.org_id == org.id,
                suppressions.c.digest == keyed_digest(f"email:{EMAIL}"),
            )
        ).all()
    assert [tuple(o) for o in owners] == [("email", again)]


def test_the_reason_may_come_in_a_json_body(api: Api, tom: int) -> None:
    response = delete(api, tom, None, json={"reason": "asked by mail"})
    assert response.status_code == 200, response.text
    assert response.json()["deleted"] is True


@pytest.mark.parametrize(
    ("reason", "body"), [(None, None), ("", None), ("  ", None), (None, {"reason": " "})]
)
def test_a_reason_is_required(
    api: Api, engine: Engine, tom: int, reason: str | None, body: Any
) -> None:
    response = delete(api, tom, reason, json=body)
    assert response.status_code == 400
    assert error_codes(response) == [91003]
    assert "reason is required" in response.json()["errors"][0]["message"]
    assert rows(engine, identifiers, tom)


@pytest.mark.parametrize("role", ["viewer", "editor"])
def test_deleting_needs_the_admin_role(api: Api, engine: Engine, tom: int, role: str) -> None:
    response = api.delete(f"/v2/customers/{tom}", params={"reason": "r"}, role=role)
    assert response.status_code == 403
    assert rows(engine, identifiers, tom)


def test_another_orgs_customer_is_unknown(
    api: Api, other_api: Api, engine: Engine, tom: int
) -> None:
    theirs = delete(other_api, tom)
    unknown = delete(api, UNKNOWN_ID)
    assert unknown.status_code == 404
    assert error_codes(unknown) == [8015]
    assert (theirs.status_code, theirs.json()) == (unknown.status_code, unknown.json())
    assert rows(engine, identifiers, tom)


def test_a_customer_marked_as_fraud_is_kept_until_cleared(
    api: Api, engine: Engine, tom: int
) -> None:
    fraud = {"status": "CONFIRMED", "reason": "chargebacks"}
    assert api.put(f"/v2/customers/{tom}/fraudStatus", json=fraud, role="admin").status_code == 200
    refused = delete(api, tom)
    assert refused.status_code == 403
    assert error_codes(refused) == [618]
    assert rows(engine, identifiers, tom)
    cleared = {"status": "NOT_FRAUD", "reason": "resolved"}
    assert (
        api.put(f"/v2/customers/{tom}/fraudStatus", json=cleared, role="admin").status_code == 200
    )
    assert delete(api, tom).status_code == 200


def test_merge_victims_go_with_their_survivor_but_not_by_their_own_id(
    api: Api, engine: Engine
) -> None:
    survivor = register(api, mobile=MOBILE)
    victim = register(
        api,
        first_name="Tommy",
        email="tommy@example.com",
        source="WECHAT",
        account_id="acc",
        loyalty_type="non_loyalty",
    )
    api.post(
        f"/v2/customers/{victim}/changeIdentifier",
        params={"source": "WECHAT", "accountId": "acc"},
        json={"add": [{"type": "externalId", "value": "V-1"}]},
    )
    merge(api, victim=victim, survivor_mobile=MOBILE, source="WECHAT", account_id="acc")
    by_victim = delete(api, victim)
    assert by_victim.status_code == 409
    assert error_codes(by_victim) == [8069]
    assert str(survivor) in by_victim.json()["errors"][0]["message"]

    assert delete(api, survivor).status_code == 200
    for customer_id in (survivor, victim):
        assert rows(engine, change_log, customer_id) == []
        assert rows(engine, identifiers, customer_id) == []
        assert all(p["first_name"] == "" for p in rows(engine, profiles, customer_id))
    with transaction(engine, write=False) as conn:
        deleted = conn.execute(
            sa.select(customers.c.id).where(
                customers.c.id.in_([survivor, victim]), customers.c.deleted_at.is_not(None)
            )
        ).scalars()
        assert sorted(deleted) == sorted([survivor, victim])
    assert error_codes(api.get(f"/v2/customers/{victim}")) == [8015]
