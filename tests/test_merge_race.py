"""Two merges of the same pair in opposite directions, at the same time."""

from __future__ import annotations

import threading
import time

from sqlalchemy.engine import Engine

from patron.customer import repository
from patron.identity.merge import merge
from patron.kit.db import transaction
from patron.kit.errors import Conflict
from tests.conftest import Api
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
