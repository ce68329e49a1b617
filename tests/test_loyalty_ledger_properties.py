"""Property: any sequence of earns, redemptions, returns, transfers, goodwill and expiries
keeps every balance equal to the sum of its ledger entries, never below zero where the
program forbids it, and a transfer moves points without making or losing any.

Each example runs on a fresh program of one org (balances are per program), with three
members; the services run on the real database, one transaction per operation, as the
API runs them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import count

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

from patron.auth.actor import Actor
from patron.codes import loyalty
from patron.kit.db import transaction
from patron.kit.errors import PatronError
from patron.loyalty import expiry, goodwill, ledger, programs, transactions, transfers
from patron.loyalty import ledger_repository as entries
from patron.loyalty.rules import local_day
from tests.conftest import Api
from tests.factories import register

NUMBERS = count(1000)
START = datetime(2024, 3, 1, 12, tzinfo=UTC)

amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("3000"), places=2)
small = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("400"), places=2)
member = st.integers(min_value=0, max_value=2)


@dataclass(frozen=True)
class Earn:
    who: int
    amount: Decimal
    lines: int


@dataclass(frozen=True)
class Redeem:
    who: int
    points: Decimal


@dataclass(frozen=True)
class Return:
    bill: int
    one_line: bool


@dataclass(frozen=True)
class Transfer:
    giver: int
    receiver: int
    points: Decimal


@dataclass(frozen=True)
class Goodwill:
    who: int
    points: Decimal


@dataclass(frozen=True)
class Wait:
    """Days pass; the daily job runs (releases, expiries, slab ends)."""

    days: int


Op = Earn | Redeem | Return | Transfer | Goodwill | Wait
operations = st.lists(
    st.one_of(
        st.builds(Earn, member, amounts, st.integers(1, 3)),
        st.builds(Redeem, member, small),
        st.builds(Return, st.integers(0, 20), st.booleans()),
        st.builds(Transfer, member, member, small),
        st.builds(Goodwill, member, small),
        st.builds(Wait, st.integers(1, 40)),
    ),
    min_size=1,
    max_size=14,
)


@dataclass
class World:
    engine: Engine
    actor: Actor
    members: list[int]
    program: programs.Program
    now: datetime = START
    bills: list[int] = field(default_factory=list)


@pytest.fixture
def members(api: Api) -> list[int]:
    return [register(api, mobile=f"91984501234{n}") for n in range(3)]


def _total(world: World) -> Decimal:
    with transaction(world.engine, write=False) as conn:
        rows = entries.balances_of(conn, world.actor.org_id, world.members)
    mine = [Decimal(str(r["points"])) for r in rows if r["program_id"] == world.program.id]
    return sum(mine, Decimal(0))


def _points(world: World, customer_id: int) -> Decimal:
    with transaction(world.engine, write=False) as conn:
        return ledger.balance(conn, world.actor.org_id, world.program, customer_id).points


def _run(world: World, op: Op) -> None:
    org_id, actor, number = world.actor.org_id, world.actor, world.program.number
    with transaction(world.engine) as conn:
        if isinstance(op, Earn):
            rate = op.amount / op.lines
            spec = transactions.BillInput(
                number=f"P-{next(NUMBERS)}",
                customer_id=world.members[op.who],
                lines=[transactions.LineInput(sku=f"S{n}", rate=rate) for n in range(op.lines)],
                program_number=number,
            )
            recorded = transactions.record_bill(conn, actor, spec, at=world.now)
            world.bills.append(int(recorded.bill["id"]))
        elif isinstance(op, Redeem):
            ledger.redeem(conn, actor, world.members[op.who], op.points, program_number=number)
        elif isinstance(op, Return) and world.bills:
            bill = world.bills[op.bill % len(world.bills)]
            lines = [transactions.ReturnLine(serial=1, quantity=1)] if op.one_line else []
            back = transactions.ReturnInput(lines=lines)
            transactions.return_bill(conn, actor, bill, back, at=world.now)
        elif isinstance(op, Goodwill):
            given_points = goodwill.GoodwillInput(points=op.points, program_number=number)
            goodwill.request_goodwill(
                conn, actor, world.members[op.who], given_points, at=world.now
            )
        elif isinstance(op, Wait):
            world.now += timedelta(days=op.days)
            zone = ledger.zone_of(conn, org_id)
            expiry.run_day(conn, org_id, local_day(world.now, zone), at=world.now)


def _refusal(work: Callable[[], None]) -> int | None:
    """The code of the PatronError ``work`` raised, or ``None`` when it went through."""
    try:
        work()
    except PatronError as error:
        return error.code
    return None


def _transfer_now(world: World, giver: int, spec: transfers.TransferInput) -> None:
    with transaction(world.engine) as conn:
        transfers.transfer(conn, world.actor, giver, spec, at=world.now)


def _transfer(world: World, op: Transfer) -> None:
    giver, receiver = world.members[op.giver], world.members[op.receiver]
    total, before = _total(world), _points(world, giver)
    spec = transfers.TransferInput(
        op.points, to_customer_id=receiver, program_number=world.program.number
    )
    refused = _refusal(lambda: _transfer_now(world, giver, spec))
    if refused is not None:
        # To oneself, or beyond the balance; either way nothing changed.
        assert refused in (400, loyalty.CANNOT_UPDATE_POINTS)
        assert _points(world, giver) == before
        return
    assert _total(world) == total  # conserved
    assert _points(world, giver) == before - op.points


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=operations, allow_negative=st.booleans(), delay=st.sampled_from([0, 0, 3]))
def test_every_balance_is_the_sum_of_its_entries(
    engine: Engine, api: Api, members: list[int], ops: list[Op], allow_negative: bool, delay: int
) -> None:
    actor = api.org.admin
    with transaction(engine) as conn:
        program = programs.add_program(
            conn,
            actor,
            programs.ProgramInput(
                name="Property",
                points_expiry_days=30,
                points_delay_days=delay,
                allow_negative=allow_negative,
                goodwill_auto_approve_limit=10_000,
                slabs=[
                    programs.SlabInput(name="Base", earn_rate=Decimal("0.1")),
                    programs.SlabInput(
                        name="Gold", threshold=500, earn_rate=Decimal("0.2"), validity_days=60
                    ),
                ],
            ),
        )
    world = World(engine=engine, actor=actor, members=members, program=program)
    for op in ops:
        if isinstance(op, Transfer):
            _transfer(world, op)
        else:
            refused = _refusal(lambda op=op: _run(world, op))  # type: ignore[misc]
            # Only a redemption beyond the balance, or a return of a returned bill.
            if refused is not None:
                assert (type(op).__name__, refused) in {("Redeem", 1010), ("Return", 400)}
        with transaction(engine, write=False) as conn:
            assert ledger.check(conn, api.org.id) == []
            rows = [
                r
                for r in entries.balances_of(conn, api.org.id, members)
                if r["program_id"] == program.id
            ]
        for row in rows:
            assert Decimal(str(row["delayed"])) >= 0
            if not allow_negative:
                assert Decimal(str(row["points"])) >= 0
