"""A server keeps the org's programs and slabs between requests: a bill reads neither (nor
the member's balance before changing it), a change made in the process applies to the
next bill at once, one made elsewhere within the cache's lifetime."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from patron.kit.db import transaction
from patron.loyalty import program_cache
from patron.loyalty.tables import loyalty_programs, loyalty_slabs
from tests.conftest import Api
from tests.factories import register
from tests.loyalty_setup import SLABS, add_program, bill, consistent, details

TOM = "919845012345"
#: Short, so the test is cheap; long enough that a busy machine does not outrun it.
LIFETIME = 3.0


@pytest.fixture
def cached(engine: Engine, api: Api) -> Iterator[float]:
    program_cache.enable(engine, LIFETIME)
    yield LIFETIME
    program_cache.enable(engine, 0)


class Statements:
    """The statements the engine runs while it is listened to."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.seen: list[str] = []

    def _record(self, *args: Any) -> None:
        self.seen.append(" ".join(str(args[2]).split()))

    def __enter__(self) -> Statements:
        sa.event.listen(self.engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *_: object) -> None:
        sa.event.remove(self.engine, "before_cursor_execute", self._record)

    def reading(self, table: str) -> list[str]:
        return [s for s in self.seen if s.startswith("SELECT") and f"FROM {table}" in s]


def _earned(api: Api, customer_id: int, number: str) -> float:
    return float(bill(api, customer_id, 100, number=number)["transaction"]["points"]["earned"])


def test_a_bill_reads_no_program_slab_or_balance_and_a_change_applies_at_once(
    engine: Engine, api: Api, cached: float
) -> None:
    add_program(api)
    tom = register(api, mobile=TOM)
    assert _earned(api, tom, "B-1") == 10.0  # Silver's 0.1
    with Statements(engine) as run:
        assert _earned(api, tom, "B-2") == 10.0
        found = details(api, tom)
    assert run.reading("loyalty_programs") == []
    assert run.reading("loyalty_slabs") == []
    assert run.reading("partner_programs") == []
    # The bill read no balance (its update tells the slab); loyaltyDetails read it once and
    # no partner memberships (the program has no partner programs).
    assert len(run.reading("loyalty_balances")) == 1
    assert run.reading("partner_memberships") == []
    assert found["loyaltyPoints"] == 20.0
    slabs = [dict(SLABS[0], earnRate=0.5), *SLABS[1:]]
    changed = api.put("/v2/loyalty/programs/1", json={"slabs": slabs}, role="admin")
    assert changed.status_code == 200, changed.text
    assert _earned(api, tom, "B-3") == 50.0  # at once, not after the cache's lifetime
    consistent(engine, api.org.id)


def test_a_change_made_elsewhere_is_seen_within_the_lifetime(
    engine: Engine, api: Api, cached: float
) -> None:
    add_program(api)
    tom = register(api, mobile=TOM)
    assert _earned(api, tom, "B-1") == 10.0
    started = time.monotonic()
    # As another process (a second worker) would change it: this one is not told.
    with transaction(engine) as conn:
        program_id = sa.select(loyalty_programs.c.id).where(loyalty_programs.c.org_id == api.org.id)
        conn.execute(
            loyalty_slabs.update()
            .where(loyalty_slabs.c.program_id == program_id.scalar_subquery())
            .where(loyalty_slabs.c.serial == 1)
            .values(earn_rate=0.5)
        )
    stale = _earned(api, tom, "B-2")
    if time.monotonic() - started < cached:
        assert stale == 10.0  # the kept slab, within its lifetime
    time.sleep(max(0.0, cached - (time.monotonic() - started)) + 0.1)
    assert _earned(api, tom, "B-3") == 50.0
    consistent(engine, api.org.id)
