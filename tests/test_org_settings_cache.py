"""The org's settings (and labels, fields, sync rule) cached per server process
(``PATRON_ORG_CACHE_SECONDS``): a change made in the process applies at once, one made
elsewhere within the cache's lifetime; and a customer's details in few statements."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from patron.api.app import create_app
from patron.customer import repository as customers
from patron.kit.db import create_engine, transaction
from patron.orgs import repository
from patron.orgs import service as orgs
from patron.settings import Settings
from tests.conftest import Api, OrgHandle
from tests.factories import declare_sample_setup, register
from tests.statements import recorded_statements

TTL = 1.0


@pytest.fixture
def cached_api(engine: Engine, org: OrgHandle) -> Iterator[Api]:
    with TestClient(create_app(Settings(org_cache_seconds=TTL), engine=engine)) as client:
        yield Api(client, org)


@pytest.fixture
def other_engine(engine: Engine) -> Iterator[Engine]:
    """The same database through an engine of its own, as another server process has."""
    other = create_engine(engine.url.render_as_string(hide_password=False))
    yield other
    other.dispose()


def _time_zone(api: Api) -> str:
    response = api.get("/v2/org/settings", role="admin")
    assert response.status_code == 200, response.text
    zone: str = response.json()["settings"]["timeZone"]
    return zone


def test_a_change_elsewhere_is_seen_within_the_cache_lifetime(
    cached_api: Api, other_engine: Engine, org: OrgHandle
) -> None:
    assert _time_zone(cached_api) == "UTC"
    # Another process stores new settings: this one is not told.
    with transaction(other_engine) as conn:
        stored = orgs.get_settings(conn, org.id).model_copy(update={"time_zone": "Asia/Tokyo"})
        repository.update_settings(conn, org.id, stored.model_dump())
    assert _time_zone(cached_api) == "UTC"  # served from the cache, not read again
    time.sleep(TTL + 0.1)
    assert _time_zone(cached_api) == "Asia/Tokyo"


def test_a_change_in_the_process_applies_at_once(
    cached_api: Api, engine: Engine, org: OrgHandle
) -> None:
    assert _time_zone(cached_api) == "UTC"
    answer = cached_api.put("/v2/org/settings", json={"timeZone": "Europe/Paris"}, role="admin")
    assert answer.status_code == 200, answer.text
    assert _time_zone(cached_api) == "Europe/Paris"
    # A service of the same process (the console, a job) changing it: at once too.
    with transaction(engine) as conn:
        orgs.change_settings(conn, org.admin, {"time_zone": "America/Lima"})
    assert _time_zone(cached_api) == "America/Lima"


def test_a_change_rolled_back_is_not_kept(cached_api: Api, engine: Engine, org: OrgHandle) -> None:
    assert _time_zone(cached_api) == "UTC"
    with engine.connect() as conn:
        orgs.change_settings(conn, org.admin, {"time_zone": "Europe/Oslo"})
        # Read inside the changing transaction: its value must not reach other requests.
        assert orgs.get_settings(conn, org.id).time_zone == "Europe/Oslo"
        conn.rollback()
    assert _time_zone(cached_api) == "UTC"


def test_a_customers_parts_in_one_statement_equal_the_four_reads(
    cached_api: Api, engine: Engine
) -> None:
    declare_sample_setup(engine, cached_api.org)
    customer_id = register(cached_api, mobile="919845012399", email="huck@example.com")
    register(cached_api, mobile="919845012399", source="WECHAT", account_id="wx-1")
    changed = cached_api.put(
        f"/v2/customers/{customer_id}",
        params={"source": "INSTORE"},
        json={
            "profiles": [
                {
                    "fields": {"gender": "Male", "city": "Bangalore"},
                    "commChannels": [
                        {"type": "email", "value": "huck@example.com", "primary": "true"},
                        {"type": "mobile", "value": "919845012399", "meta": {"x": [1]}},
                    ],
                }
            ],
            "extendedFields": {"gender": "MALE", "city": "Bangalore"},
        },
    )
    assert changed.status_code == 200, changed.text
    org_id = cached_api.org.id
    with transaction(engine, write=False) as conn:
        parts = customers.parts_of(conn, org_id, customer_id)
        separate = [
            customers.profiles_of(conn, org_id, customer_id),
            customers.identifiers_of(conn, org_id, customer_id),
            customers.channels_of(conn, org_id, customer_id),
            customers.field_values_of(conn, org_id, customer_id),
        ]
    assert [len(p) for p in parts] == [2, 2, 2, 4]
    shown = [
        (
            "id",
            "source",
            "account_id",
            "first_name",
            "last_name",
            "created_by",
            "modified_by",
            "created_at",
            "updated_at",
        ),
        ("id", "profile_id", "type", "value"),
        ("id", "profile_id", "type", "value", "is_primary", "verified", "meta"),
        ("id", "kind", "name", "value"),
    ]
    for united, alone, keys in zip(parts, separate, shown, strict=True):
        # Every value the details answer shows, of the same type, in the same order.
        assert [{k: row[k] for k in keys} for row in united] == [
            {k: row[k] for k in keys} for row in alone
        ]


def test_a_customers_details_take_two_statements(cached_api: Api, engine: Engine) -> None:
    customer_id = register(cached_api, mobile="919845012398")
    assert cached_api.get(f"/v2/customers/{customer_id}").status_code == 200  # warms the cache
    with recorded_statements(engine) as statements:
        answer = cached_api.get(f"/v2/customers/{customer_id}")
    assert answer.json()["status"]["label"] == "Active"
    # The customer (with its merge family's purchases) and its parts (no card number, so no
    # cards); not the org's settings or labels.
    assert len(statements) == 2, statements
    assert not any("status_labels" in s or "FROM orgs" in s for s in statements)
