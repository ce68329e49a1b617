"""``POST /v2/transactions/bulk``: each bill has the outcome it has alone through
``POST /v2/transactions`` (a twin store fed one bill at a time holds the same rows), bills
of one customer earn in order across a slab, the limit and the role, and concurrent bulk
requests and single bills never lose points."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from patron.audit.tables import audit_log, change_log
from patron.coupons.tables import transactions as bills_table
from patron.customer.tables import customers
from patron.kit.db import transaction
from patron.loyalty import bulk_bills, transactions
from patron.loyalty.tables import (
    loyalty_balances,
    loyalty_programs,
    loyalty_slabs,
    points_ledger,
    transaction_lines,
)
from patron.orgs import service as orgs
from patron.settings import get_settings
from tests.conftest import Api, error_codes
from tests.factories import register
from tests.loyalty_setup import add_program, consistent, details
from tests.test_cli import database_url, invoke

TOM, HUCK, BECKY, JOE = "919845012345", "919845012346", "919845012347", "919845012348"
DAY = "2024-02-29T10:00:00+05:30"


def _bill(number: str, amount: float, **fields: Any) -> dict[str, Any]:
    """A bill of five lines summing to ``amount``."""
    line = round(amount / 5, 2)
    items = [{"sku": f"SKU-{n}", "quantity": 1, "rate": line} for n in range(4)]
    items.append({"sku": "SKU-4", "quantity": 1, "rate": round(amount - 4 * line, 2)})
    return {"number": number, "date": DAY, "lineItems": items, **fields}


def _store(api: Api, engine: Engine) -> dict[str, int]:
    """A program, a store, and four customers: Tom and Becky members, Huck not, Joe a member
    marked as fraud."""
    add_program(api)
    with transaction(engine) as conn:
        orgs.add_unit(conn, api.org.admin, kind="store", code="S1")
    people = {
        "tom": register(api, mobile=TOM),
        "huck": register(api, mobile=HUCK, loyalty_type="non_loyalty"),
        "becky": register(api, mobile=BECKY),
        "joe": register(api, mobile=JOE),
    }
    with transaction(engine) as conn:
        conn.execute(
            customers.update().where(customers.c.id == people["joe"]).values(fraud_status="MARKED")
        )
    return people


def _mixed(people: dict[str, int]) -> list[dict[str, Any]]:
    """Good and bad bills; Tom's first two cross into Gold (1000 lifetime points)."""
    return [
        _bill("T1", 6000, customerId=people["tom"], storeCode="S1"),
        _bill("X1", 10, customerId=9_000_000_000_000),  # 8015: nobody has this id
        _bill("T2", 6000, customerId=people["tom"]),  # crosses into Gold
        _bill("H1", 230, customerId=people["huck"]),  # 1013: kept, earns nothing
        _bill("X2", 10, customerId=people["tom"], storeCode="NOPE"),  # unknown store
        _bill("B1", 120.5, identifierName="mobile", identifierValue=BECKY),
        _bill("N1", 50),  # nobody's
        _bill("J1", 70, customerId=people["joe"]),  # 618: fraud, earns nothing
        _bill("X3", 10, customerId=people["tom"], programId=77),  # no such program
        _bill("T3", 100, customerId=people["tom"]),  # at Gold's rate
        {"number": "Z1", "customerId": people["becky"], "amount": 0, "date": DAY},  # no entry
        _bill("X4", 10, customerId=people["tom"], date="2999-01-01"),  # in the future
        _bill("X5", 10, identifierName="mobile", identifierValue="919845099999"),  # 8015
    ]


ENTRY_COLUMNS = (
    "customer_id", "kind", "cause", "points", "lifetime_points", "purchases", "delayed",
    "expires_on", "available_on", "details",
)  # fmt: skip
BILL_COLUMNS = (
    "number", "customer_id", "amount", "occurred_at", "bill_type", "program_id",
    "returned_amount",
)  # fmt: skip
LINE_COLUMNS = ("transaction_id", "serial", "sku", "quantity", "rate", "amount")
BALANCE_COLUMNS = ("customer_id", "points", "lifetime_points", "purchases", "delayed", "slab_id")


def _rows(engine: Engine, org_id: int, people: dict[str, int]) -> dict[str, Any]:
    """What the org's bills wrote, without ids, times and the actor's (org's) key name;
    customers, programs and slabs by name (a twin org's ids differ)."""
    with transaction(engine, write=False) as conn:
        named = {
            "customer_id": {v: k for k, v in people.items()},
            "program_id": dict(
                conn.execute(
                    sa.select(loyalty_programs.c.id, loyalty_programs.c.name).where(
                        loyalty_programs.c.org_id == org_id
                    )
                ).all()
            ),
            "slab_id": dict(
                conn.execute(
                    sa.select(loyalty_slabs.c.id, loyalty_slabs.c.name).where(
                        loyalty_slabs.c.org_id == org_id
                    )
                ).all()
            ),
        }

        def select(table: sa.Table, *columns: str) -> list[tuple[Any, ...]]:
            query = sa.select(*(table.c[c] for c in columns)).where(table.c.org_id == org_id)
            rows = conn.execute(query.order_by(table.c.id)).all()
            return [
                tuple(
                    named[c].get(v, v) if c in named else v for c, v in zip(columns, r, strict=True)
                )
                for r in rows
            ]

        bill_numbers = dict(
            conn.execute(
                sa.select(bills_table.c.id, bills_table.c.number).where(
                    bills_table.c.org_id == org_id
                )
            ).all()
        )
        entries = [
            (*row, bill_numbers.get(bill))
            for row, bill in zip(
                select(points_ledger, *ENTRY_COLUMNS),
                [r[0] for r in select(points_ledger, "transaction_id")],
                strict=True,
            )
        ]
        changes = []
        for customer, kind, cause, details_ in select(
            change_log, "customer_id", "change_type", "cause", "details"
        ):
            changes.append((customer, kind, cause, {**details_, "entryId": None}))
        return {
            "bills": select(bills_table, *BILL_COLUMNS),
            "lines": [
                (bill_numbers[t], *rest) for t, *rest in select(transaction_lines, *LINE_COLUMNS)
            ],
            "entries": entries,
            "balances": sorted(select(loyalty_balances, *BALANCE_COLUMNS)),
            "changes": changes,
            "audit": [
                (action, {**d, "id": None})
                for action, d in select(audit_log, "action", "details")
                if action == "transaction.add"
            ],
        }


def test_a_bulk_request_writes_what_the_same_bills_one_by_one_write(
    engine: Engine, api: Api, other_api: Api
) -> None:
    people = _store(api, engine)
    twins = _store(other_api, engine)
    bulk = api.post("/v2/transactions/bulk", json=_mixed(people))
    assert bulk.status_code == 200, bulk.text
    answers = bulk.json()
    singles = [other_api.post("/v2/transactions", json=b) for b in _mixed(twins)]
    assert len(answers) == len(singles) == 13
    for answer, single in zip(answers, singles, strict=True):
        if single.status_code == 200:
            assert answer["errors"] == []
            assert answer["warnings"] == single.json()["warnings"]
            mine, theirs = answer["transaction"], single.json()["transaction"]
            for key in ("number", "type", "amount", "date", "store", "lineItems", "points"):
                assert mine[key] == theirs[key], key
        else:
            assert answer["transaction"] is None
            assert [e["code"] for e in answer["errors"]] == error_codes(single)
    codes = [[e["code"] for e in a["errors"]] for a in answers]
    assert codes == [[], [8015], [], [], [1150], [], [], [], [8062], [], [], [400], [8015]]
    assert [[w["code"] for w in a["warnings"]] for a in answers][3] == [1013]
    assert [[w["code"] for w in a["warnings"]] for a in answers][7] == [618]
    rows, twin = _rows(engine, api.org.id, people), _rows(engine, other_api.org.id, twins)
    for key in rows:
        assert rows[key] == twin[key], key
    assert [e[1] for e in rows["entries"]] == ["EARN", "EARN", "TIER", "EARN", "EARN"]
    consistent(engine, api.org.id)


def test_two_bills_of_one_customer_earn_in_order_across_a_slab(engine: Engine, api: Api) -> None:
    add_program(api)
    tom = register(api, mobile=TOM)
    body = [_bill(f"T{n}", amount, customerId=tom) for n, amount in enumerate((9000, 2000, 100))]
    answers = api.post("/v2/transactions/bulk", json=body).json()
    # 900 points at Silver's rate; the second bill (200 points) crosses 1000 into Gold, so
    # the third earns at Gold's rate (0.2 a unit).
    assert [a["transaction"]["points"]["earned"] for a in answers] == [900.0, 200.0, 20.0]
    mine = details(api, tom)
    assert (mine["currentSlab"], mine["loyaltyPoints"], mine["cumulativePurchases"]) == (
        "Gold",
        1120.0,
        11100.0,
    )
    with transaction(engine, write=False) as conn:
        kinds = conn.execute(
            sa.select(change_log.c.change_type)
            .where(change_log.c.customer_id == tom)
            .order_by(change_log.c.id)
        ).scalars()
        assert list(kinds)[-4:] == ["POINTS", "POINTS", "TIER", "POINTS"]
    consistent(engine, api.org.id)


@pytest.fixture
def at_most_three(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("PATRON_BILLS_BULK_MAX", "3")
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


def test_the_limit_refuses_the_whole_request_and_viewers_may_not_post(
    engine: Engine, api: Api, at_most_three: None
) -> None:
    add_program(api)
    tom = register(api, mobile=TOM)
    four = [_bill(f"L{n}", 10, customerId=tom) for n in range(4)]
    refused = api.post("/v2/transactions/bulk", json=four)
    assert (refused.status_code, error_codes(refused)) == (400, [1060])
    assert "4 bills" in refused.json()["errors"][0]["message"]
    assert error_codes(api.post("/v2/transactions/bulk", json=[])) == [400]
    viewer = api.post("/v2/transactions/bulk", json=four[:3], role="viewer")
    assert viewer.status_code == 403
    assert details(api, tom)["lifetimePoints"] == 0.0  # nothing of the refused was written
    assert api.post("/v2/transactions/bulk", json=four[:3]).status_code == 200
    assert details(api, tom)["lifetimePoints"] == 3.0


def test_an_idempotency_key_replays_the_bulk_answer(api: Api) -> None:
    add_program(api)
    tom = register(api, mobile=TOM)
    body = [_bill("I1", 100, customerId=tom)]
    key = {"Idempotency-Key": "bulk-bills-1"}
    first = api.post("/v2/transactions/bulk", json=body, headers=key)
    again = api.post("/v2/transactions/bulk", json=body, headers=key)
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json() == first.json()
    assert details(api, tom)["lifetimePoints"] == 10.0


def test_concurrent_bulk_requests_and_single_bills_lose_no_points(engine: Engine, api: Api) -> None:
    add_program(api)
    tom = register(api, mobile=TOM)
    huck = register(api, mobile=HUCK)

    def bulk(tag: str) -> int:
        # Both customers, in both orders, so two requests lock the same rows.
        body = [_bill(f"{tag}{n}", 10, customerId=(tom, huck)[n % 2]) for n in range(20)]
        if tag == "B":
            body.reverse()
        return int(api.post("/v2/transactions/bulk", json=body).status_code)

    def single(n: int) -> int:
        body = _bill(f"S{n}", 10, customerId=tom)
        return int(api.post("/v2/transactions", json=body).status_code)

    with ThreadPoolExecutor(max_workers=6) as pool:
        work = [pool.submit(bulk, "A"), pool.submit(bulk, "B")]
        work += [pool.submit(single, n) for n in range(10)]
        assert [w.result() for w in work] == [200] * 12
    # Each bill earns 1 point: Tom 10 + 10 + 10 singles, Huck 10 + 10.
    assert details(api, tom)["loyaltyPoints"] == 30.0
    assert details(api, huck)["loyaltyPoints"] == 20.0
    consistent(engine, api.org.id)
    checked = invoke(database_url(engine), "db", "check")
    assert checked.exit_code == 0, checked.output


def test_a_member_moved_by_a_concurrent_request_earns_at_its_new_slab(
    engine: Engine, api: Api, backend: str
) -> None:
    """A request computes its earns on the balances as read, then locks them; when another
    request moved the member up meanwhile, its bills are posted again at the new rate."""
    if backend != "postgresql":
        pytest.skip("SQLite runs one writer at a time: no request can move a member meanwhile")
    add_program(api)
    tom = register(api, mobile=TOM)
    actor = api.org.admin
    first = transactions.BillInput(
        number="A1", customer_id=tom, lines=[transactions.LineInput(sku="TV", rate=12000)]
    )
    with ThreadPoolExecutor(max_workers=1) as pool, transaction(engine) as conn:
        # Holds Tom's balance, moved up to Gold, until this block commits.
        bulk_bills.record_bills(conn, actor, [first])
        later = pool.submit(
            api.post, "/v2/transactions/bulk", json=[_bill("B1", 100, customerId=tom)]
        )
        time.sleep(1.5)  # the second request reads Silver and waits for the lock
    answer = later.result().json()
    assert answer[0]["transaction"]["points"]["earned"] == 20.0  # Gold's rate, not Silver's
    mine = details(api, tom)
    assert (mine["currentSlab"], mine["lifetimePoints"]) == ("Gold", 1220.0)
    with transaction(engine, write=False) as conn:
        kinds = conn.execute(
            sa.select(points_ledger.c.kind)
            .where(points_ledger.c.customer_id == tom)
            .order_by(points_ledger.c.id)
        ).scalars()
        assert list(kinds) == ["EARN", "TIER", "EARN"]
    consistent(engine, api.org.id)
