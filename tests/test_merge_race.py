"""Merges racing other merges and changes of the same customers."""

from __future__ import annotations

import threading
import time
from typing import Any

from sqlalchemy.engine import Engine

from patron.customer import repository
from patron.identity.merge import merge
from patron.kit.db import transaction
from patron.kit.errors import Conflict
from patron.orgs import service as orgs
from tests.conftest import Api, error_codes, warning_codes
from tests.factories import register


def test_crossed_merges_never_make_a_cycle(api: Api, engine: Engine) -> None:
    first = register(api, mobile="919845000001")
    second = register(api, mobile="919845000002", source="WEBSITE")
    actor = api.org.admin
    first_merging = threading.Event()
    outcome: dict[str, object] = {}

    def crossed() -> None:
        first_merging.wait(timeout=10)
        try:
            with transaction(engine) as conn:
                merge(conn, actor, victim_id=second, survivor_id=first)
            outcome["second"] = "merged"
        except Conflict as exc:
            outcome["second"] = exc.code

    other = threading.Thread(target=crossed)
    other.start()
    with transaction(engine) as conn:
        merge(conn, actor, victim_id=first, survivor_id=second)
        first_merging.set()
        time.sleep(0.5)  # the crossed merge is now waiting for this one
    other.join(timeout=30)

    assert outcome == {"second": 409}
    with transaction(engine, write=False) as conn:
        rows = {i: repository.get_customer(conn, api.org.id, i) for i in (first, second)}
    victim, survivor = rows[first], rows[second]
    assert victim is not None
    assert survivor is not None
    assert victim["merged_into_id"] == second
    assert survivor["merged_into_id"] is None
    assert api.get(f"/v2/customers/{first}").json()["id"] == second


def test_a_change_racing_a_merge_lands_on_the_survivor(api: Api, engine: Engine) -> None:
    with transaction(engine) as conn:
        orgs.add_field(conn, api.org.admin, kind="extended", name="city")
    victim = register(api, mobile="919845000001")
    survivor = register(api, mobile="919845000002", source="WEBSITE")
    answer: dict[str, Any] = {}

    def change() -> None:
        answer["response"] = api.put(
            f"/v2/customers/{victim}",
            params={"source": "INSTORE"},
            json={"profiles": [{"firstName": "Huck"}], "extendedFields": {"city": "Hannibal"}},
        )

    other = threading.Thread(target=change)
    with transaction(engine) as conn:
        merge(conn, api.org.admin, victim_id=victim, survivor_id=survivor)
        other.start()
        time.sleep(0.5)  # the change now waits for the merge
    other.join(timeout=30)

    response = answer["response"]
    assert response.status_code == 200, response.text
    assert response.json()["createdId"] == survivor
    assert warning_codes(response) == [91009]
    details = api.get(f"/v2/customers/{survivor}", params={"source": "INSTORE"}).json()
    assert details["profiles"][0]["firstName"] == "Huck"
    assert details["extendedFields"] == {"city": "Hannibal"}
    with transaction(engine, write=False) as conn:
        assert repository.field_values_of(conn, api.org.id, victim) == []
        assert repository.profiles_of(conn, api.org.id, victim) == []


def test_an_identifier_change_racing_a_merge_never_reaches_the_victim(
    api: Api, engine: Engine
) -> None:
    victim = register(api, email="tom@example.com", loyalty_type="non_loyalty")
    survivor = register(api, mobile="919845000002", source="WEBSITE")
    answer: dict[str, Any] = {}

    def change() -> None:
        answer["response"] = api.post(
            f"/v2/customers/{victim}/changeIdentifier",
            json={"add": [{"type": "cuid", "value": "c-1"}]},
        )

    other = threading.Thread(target=change)
    with transaction(engine) as conn:
        merge(conn, api.org.admin, victim_id=victim, survivor_id=survivor)
        other.start()
        time.sleep(0.5)  # the change has read the victim as live, or waits to read it
    other.join(timeout=30)

    # Refused as a conflict (it read the victim before the merge committed), or
    # applied to the survivor (it read after): never written to the victim.
    response = answer["response"]
    assert response.status_code in (200, 409), response.text
    with transaction(engine, write=False) as conn:
        assert repository.identifiers_of(conn, api.org.id, victim) == []
    found = api.get(
        "/v2/customers/lookup", params={"identifierName": "cuid", "identifierValue": "c-1"}
    )
    if response.status_code == 200:
        assert response.json()["createdId"] == survivor
        assert found.json()["entity"] == survivor
    else:
        assert error_codes(response) == [409]
        assert error_codes(found) == [8015]
