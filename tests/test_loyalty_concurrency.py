"""Concurrent spends of one balance never overdraw it, and transfers crossing each other
neither deadlock nor lose points: 50 transactions at once, each on its own connection."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

from sqlalchemy.engine import Engine

from patron.kit.db import transaction
from patron.kit.errors import PatronError
from patron.loyalty import ledger, programs, transfers
from tests.conftest import Api
from tests.factories import register
from tests.loyalty_setup import add_program, consistent


def _points(engine: Engine, api: Api, customer_id: int) -> Decimal:
    with transaction(engine, write=False) as conn:
        program = programs.program_for(conn, api.org.id, None)
        return ledger.balance(conn, api.org.id, program, customer_id).points


def _attempt(work: object) -> str:
    try:
        work()  # type: ignore[operator]
    except PatronError as error:
        return str(error.code)
    return "ok"


def test_fifty_concurrent_redemptions_and_transfers_never_overdraw(
    engine: Engine, api: Api
) -> None:
    add_program(api)
    tom = register(api, mobile="919845012345")
    huck = register(api, mobile="919845012346")
    actor = api.org.admin
    with transaction(engine) as conn:
        ledger.adjust(conn, actor, tom, 100, reason="opening")

    def redeem() -> None:
        with transaction(engine) as conn:
            ledger.redeem(conn, actor, tom, 5)

    def give() -> None:
        with transaction(engine) as conn:
            transfers.transfer(conn, actor, tom, transfers.TransferInput(5, to_customer_id=huck))

    work = [redeem if n % 2 else give for n in range(50)]
    with ThreadPoolExecutor(max_workers=25) as pool:
        outcomes = list(pool.map(_attempt, work))
    # 250 points asked of 100: exactly 20 spends of 5 pass, the others are refused.
    assert sorted(set(outcomes)) == ["1010", "ok"]
    assert outcomes.count("ok") == 20
    assert _points(engine, api, tom) == 0
    given = sum(1 for w, o in zip(work, outcomes, strict=True) if w is give and o == "ok")
    assert _points(engine, api, huck) == 5 * given
    consistent(engine, api.org.id)


def test_transfers_crossing_each_other_wait_and_conserve_points(engine: Engine, api: Api) -> None:
    add_program(api)
    tom = register(api, mobile="919845012345")
    huck = register(api, mobile="919845012346")
    actor = api.org.admin
    with transaction(engine) as conn:
        ledger.adjust(conn, actor, tom, 10, reason="opening")
        ledger.adjust(conn, actor, huck, 10, reason="opening")

    def give(giver: int, receiver: int) -> None:
        with transaction(engine) as conn:
            spec = transfers.TransferInput(1, to_customer_id=receiver)
            transfers.transfer(conn, actor, giver, spec)

    work = [(lambda: give(tom, huck)) if n % 2 else (lambda: give(huck, tom)) for n in range(50)]
    with ThreadPoolExecutor(max_workers=25) as pool:
        outcomes = list(pool.map(_attempt, work))
    assert set(outcomes) <= {"ok", "1010"}  # no deadlock, no other failure
    assert _points(engine, api, tom) + _points(engine, api, huck) == 20
    assert _points(engine, api, tom) >= 0
    assert _points(engine, api, huck) >= 0
    consistent(engine, api.org.id)
