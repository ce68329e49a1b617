"""The loyalty benchmark: posting bills of 5 line items to ``POST /v2/transactions`` at 32
concurrent connections on PostgreSQL, against a bare FastAPI endpoint inserting the same
rows, in one run, with wrk.

::

    .venv/bin/python bench/loyalty_bench.py --members 10000 \\
        --postgres-url postgresql+psycopg://patron:patron@localhost:5432/patron_loyalty_bench

The store: a fresh database (dropped and re-created), one org with a three-slab program
and ``--members`` loyalty customers (written directly, set-based: the benchmark is about
bills). Each bill names a random member and carries 5 line items; patron records it as
the API does — authentication by API key, the customer locked and resolved, the
member's slab read, the bill and its lines, one ``EARN`` ledger entry, the balance
changed by one conditional update (a slab move when a threshold is crossed), a
``POINTS`` change request and an audit entry, in one transaction. The bare app (no
authentication, no checks, no rules) inserts the same rows: the bill, its 5 lines, the
ledger entry, the balance (an upsert), the change request and the audit entry, in one
transaction on a pooled connection. After the runs the ledger is checked: every balance
of the org is the sum of its entries. The machine's load averages are taken beside each
figure: the machine is shared, and a load above its core count makes a figure pessimistic.

``--bulk N`` also posts bills ``N`` to a request to ``POST /v2/transactions/bulk`` (the
same bills of 5 line items, random members, 32 connections), beside a bare bulk endpoint
that inserts the same rows set-based (one multi-row statement per table, the balances
upserted once per member in customer order), on the same servers as the per-bill runs;
a bulk run's bills/s is its requests/s times ``N``.

``--workers N`` serves patron with ``patron serve --workers N`` and the bare app with as many
uvicorn processes. On the same server, after
the bills, the reads: ``GET /v2/customers/{id}`` and ``GET /v2/customers/{id}/loyaltyDetails``
of random members, so both are measured in the same run. ``--ledger-entries N`` first grows
the ledger to N entries set-based (``generate_series``, not through the API; every balance
set to the sum of its entries), to see whether bills and reads stay flat on a large ledger.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from fastapi import Request

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from api_bench import _free_port, _machine, served, wrk  # noqa: E402 - the sibling module

DEFAULT_POSTGRES = "postgresql+psycopg://patron:patron@localhost:5432/patron_loyalty_bench"
BARE_URL_VARIABLE = "LOYALTY_BENCH_BARE_URL"
BARE_ORG_VARIABLE = "LOYALTY_BENCH_BARE_ORG"
#: How many members the bills name (at random), unless ``--sample`` says otherwise.
SAMPLE = 5000
#: The reads measured on patron's server after its bills: a member's details, its loyalty.
READS = {"get": "", "loyaltyDetails": "/loyaltyDetails"}


def main() -> None:
    args = _arguments()
    work = Path(args.work_dir).resolve()
    work.mkdir(parents=True, exist_ok=True)
    database = sa.engine.make_url(args.postgres_url).database
    kept = work / f"loyalty-store-{database}.json"
    if args.reuse and kept.exists():
        store = json.loads(kept.read_text())
        _log(f"reusing the store of {kept}")
    else:
        store = build_store(args.postgres_url, args.members)
        if args.ledger_entries:
            grow_ledger(args.postgres_url, store["org_id"], args.ledger_entries)
        kept.write_text(json.dumps(store))
    ids = sample(args.postgres_url, store["org_id"], args.sample)
    script = work / "loyalty-bills.lua"
    results: dict[str, Any] = {
        "members": args.members,
        "sample": len(ids),
        "ledger_entries": ledger_size(args.postgres_url),
        "workers": args.workers,
        "machine": _machine(),
    }
    port = _free_port()
    _log(f"patron, {args.workers} worker(s)")
    # Bill numbers unique to this run, so a reused store takes them too.
    run = time.strftime("%d%H%M%S")
    script.write_text(lua(store["editor"], ids, f"P{run}"))
    command, env = patron_server(args.postgres_url, port, args.workers)
    with served(command, env, port) as base:
        results["patron"] = measure(base, script, args)
        # The reads on the same server, after the bills: every sampled member has a balance.
        for route, suffix in READS.items():
            _log(f"reads: {route}")
            script.write_text(read_lua(store["editor"], ids, suffix))
            results[route] = measure(base, script, args)
        if args.bulk:
            _log(f"patron, bulk: {args.bulk} bills a request")
            script.write_text(bulk_lua(store["editor"], ids, f"Q{run}", args.bulk))
            results["patron_bulk"] = measure(base, script, args)
    port = _free_port()
    _log("bare")
    script.write_text(lua(store["editor"], ids, f"B{run}"))
    bare = bare_server(args.postgres_url, store["org_id"], port, args.workers)
    with served(*bare, port) as base:
        results["bare"] = measure(base, script, args)
        if args.bulk:
            _log(f"bare, bulk: {args.bulk} bills a request")
            script.write_text(bulk_lua(store["editor"], ids, f"C{run}", args.bulk))
            results["bare_bulk"] = measure(base, script, args)
    results["bulk"] = args.bulk
    results["check"] = check(args.postgres_url, store["org_id"], run)
    report = markdown(results, " ".join(["bench/loyalty_bench.py", *sys.argv[1:]]))
    print(report)
    if args.output:
        Path(args.output).write_text(report)
        Path(args.output).with_suffix(".json").write_text(json.dumps(results, indent=2))


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument(
        "--sample",
        type=int,
        default=SAMPLE,
        help="how many of the members the bills name, at random (the hot set: concurrent"
        " bills naming one member wait on its balance's lock)",
    )
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES)
    parser.add_argument("--work-dir", default="var/bench")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=1, help="patron serve --workers")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="keep the store an earlier run built (with its ledger) instead of a new one",
    )
    parser.add_argument(
        "--ledger-entries",
        type=int,
        default=0,
        help="grow the ledger to this many entries (set-based) before the runs",
    )
    parser.add_argument(
        "--bulk",
        type=int,
        default=0,
        help="also post this many bills a request to POST /v2/transactions/bulk (0: not)",
    )
    parser.add_argument("--duration", type=int, default=15, help="seconds of each wrk run")
    parser.add_argument("--warmup", type=int, default=3, help="seconds before each wrk run")
    parser.add_argument("--output", help="also write the report here (and .json beside)")
    return parser.parse_args()


def _log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


# --- the store -------------------------------------------------------------------------


def build_store(url: str, members: int) -> dict[str, Any]:
    """A fresh database: one org, its program, ``members`` loyalty customers, an editor key."""
    from datetime import UTC, datetime

    from patron.auth import service as auth
    from patron.auth.actor import Actor, Role
    from patron.customer.tables import customers
    from patron.kit.db import create_engine, transaction
    from patron.kit.migrate import upgrade
    from patron.loyalty import programs
    from patron.orgs import service as orgs

    target = sa.engine.make_url(url)
    admin_engine = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin_engine.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)')
        conn.exec_driver_sql(f'CREATE DATABASE "{target.database}"')
    admin_engine.dispose()
    engine = create_engine(url)
    upgrade(engine)
    _log(f"building a store of {members:,} members")
    with transaction(engine) as conn:
        org_id = orgs.create_org(conn, "loyalty-bench")
        admin = Actor(org_id=org_id, role=Role.admin, name="bench", kind="cli")
        programs.add_program(
            conn,
            admin,
            programs.ProgramInput(
                name="Main",
                points_expiry_days=365,
                slabs=[
                    programs.SlabInput(name="Silver", earn_rate=0.1),
                    programs.SlabInput(name="Gold", threshold=1000, earn_rate=0.2),
                    programs.SlabInput(name="Platinum", threshold=5000, earn_rate=0.3),
                ],
            ),
        )
        label = orgs.default_label_id(conn, org_id)
        now = datetime.now(UTC)
        rows = [
            {
                "org_id": org_id,
                "loyalty_type": "loyalty",
                "status_label_id": label,
                "registered_at": now,
            }
            for _ in range(members)
        ]
        for start in range(0, members, 5000):
            conn.execute(customers.insert(), rows[start : start + 5000])
        key = auth.create_api_key(conn, admin, Role.editor, "loyalty bench")
    with engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
    engine.dispose()
    return {"org_id": org_id, "editor": key}


def grow_ledger(url: str, org_id: int, entries: int) -> None:
    """Give the org's members ``entries`` ledger entries in all, set-based (one
    ``INSERT ... SELECT`` over ``generate_series``, not through the API): earns spread over
    the members and over two years of expiry days, then every member's balance set to the
    sum of its entries (so the ledger check still holds), and the tables analyzed."""
    engine = sa.create_engine(url)
    _log(f"growing the ledger to {entries:,} entries")
    with engine.begin() as conn:
        program_id = conn.execute(
            sa.text("SELECT id FROM loyalty_programs WHERE org_id = :org"), {"org": org_id}
        ).scalar_one()
        conn.execute(
            sa.text(
                "WITH members AS (SELECT array_agg(id ORDER BY id) AS ids, count(*) AS n"
                " FROM customers WHERE org_id = :org)"
                " INSERT INTO points_ledger (org_id, program_id, customer_id, kind, points,"
                " lifetime_points, purchases, expires_on, cause, details, actor, created_at)"
                " SELECT :org, :program, members.ids[1 + g % members.n], 'EARN', 1.5, 1.5,"
                " 15, DATE '2027-01-01' + (g % 730), 'bill', '{}', 'bench',"
                " now() - make_interval(secs => g % 31536000)"
                " FROM members, generate_series(1, :entries) AS g"
            ),
            {"org": org_id, "program": program_id, "entries": entries},
        )
        _log("balances from the entries")
        conn.execute(
            sa.text(
                "INSERT INTO loyalty_balances (org_id, program_id, customer_id, points,"
                " lifetime_points, purchases, slab_id, slab_since, created_at, updated_at)"
                " SELECT org_id, program_id, customer_id, sum(points), sum(lifetime_points),"
                " sum(purchases), (SELECT s.id FROM loyalty_slabs s WHERE s.program_id ="
                " :program AND s.threshold <= sum(l.lifetime_points) ORDER BY s.serial DESC"
                " LIMIT 1), now(), now(), now() FROM points_ledger l"
                " WHERE org_id = :org GROUP BY org_id, program_id, customer_id"
            ),
            {"org": org_id, "program": program_id},
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE points_ledger")
        conn.exec_driver_sql("ANALYZE loyalty_balances")
    engine.dispose()


def sample(url: str, org_id: int, size: int) -> list[int]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        found = conn.execute(
            sa.text("SELECT id FROM customers WHERE org_id = :org ORDER BY random() LIMIT :n"),
            {"org": org_id, "n": size},
        ).scalars()
        ids = [int(i) for i in found]
    engine.dispose()
    return ids


def ledger_size(url: str) -> int:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        size = int(conn.execute(sa.text("SELECT count(*) FROM points_ledger")).scalar_one())
    engine.dispose()
    return size


def check(url: str, org_id: int, run: str) -> dict[str, int]:
    """What the runs wrote, and the balances that are not the sum of their entries."""
    from patron.kit.db import create_engine, transaction
    from patron.loyalty import ledger

    engine = create_engine(url)
    with transaction(engine, write=False) as conn:
        counts = conn.execute(
            sa.text(
                "SELECT"
                " (SELECT count(*) FROM transactions WHERE org_id = :org AND number LIKE :p),"
                " (SELECT count(*) FROM transactions WHERE org_id = :org AND number LIKE :b),"
                " (SELECT count(*) FROM points_ledger WHERE org_id = :org AND kind = 'EARN'"
                " AND actor <> 'bare' AND transaction_id IN (SELECT id FROM transactions"
                " WHERE org_id = :org AND (number LIKE :p OR number LIKE :q))),"
                " (SELECT count(*) FROM transactions WHERE org_id = :org AND number LIKE :q),"
                " (SELECT count(*) FROM transactions WHERE org_id = :org AND number LIKE :c)"
            ),
            {
                "org": org_id,
                "p": f"P{run}-%",
                "b": f"B{run}-%",
                "q": f"Q{run}-%",
                "c": f"C{run}-%",
            },
        ).one()
        mismatches = ledger.check(conn, org_id)
    engine.dispose()
    return {
        "patron_bills": int(counts[0]),
        "bare_bills": int(counts[1]),
        "earn_entries": int(counts[2]),
        "patron_bulk_bills": int(counts[3]),
        "bare_bulk_bills": int(counts[4]),
        "balances_not_summing": len(mismatches),
    }


# --- the bare app ------------------------------------------------------------------------


def bare_app() -> Any:
    """The bare FastAPI app (``uvicorn --factory loyalty_bench:bare_app``): the bill's rows
    inserted in one transaction on a pooled connection; no authentication, no checks."""
    from datetime import UTC, datetime
    from decimal import Decimal

    from fastapi import FastAPI
    from starlette.concurrency import run_in_threadpool

    url = os.environ[BARE_URL_VARIABLE]
    org_id = int(os.environ[BARE_ORG_VARIABLE])
    engine = sa.create_engine(url, pool_size=10, max_overflow=20)
    with engine.connect() as conn:
        program_id, slab_id = conn.execute(
            sa.text(
                "SELECT p.id, s.id FROM loyalty_programs p JOIN loyalty_slabs s"
                " ON s.program_id = p.id AND s.serial = 1 WHERE p.org_id = :org"
            ),
            {"org": org_id},
        ).one()
    app = FastAPI()

    @app.post("/v2/transactions")
    async def record(request: Request) -> dict[str, Any]:
        body = await request.json()
        return await run_in_threadpool(_insert, body)

    def _insert(body: dict[str, Any]) -> dict[str, Any]:
        now = datetime.now(UTC)
        lines = body["lineItems"]
        amount = sum(Decimal(str(line["quantity"])) * Decimal(str(line["rate"])) for line in lines)
        points = (amount * Decimal("0.1")).quantize(Decimal("0.01"))
        customer = body["customerId"]
        values = {"org": org_id, "customer": customer, "now": now, "program": program_id}
        with engine.begin() as conn:
            bill_id = conn.execute(
                sa.text(
                    "INSERT INTO transactions (org_id, number, customer_id, amount, occurred_at,"
                    " bill_type, program_id, returned_amount, created_by, created_at)"
                    " VALUES (:org, :number, :customer, :amount, :now, 'REGULAR', :program, 0,"
                    " 'bare', :now) RETURNING id"
                ),
                {**values, "number": body["number"], "amount": amount},
            ).scalar_one()
            conn.execute(
                sa.text(
                    "INSERT INTO transaction_lines (org_id, transaction_id, serial, sku,"
                    " description, quantity, rate, amount) VALUES (:org, :bill, :serial, :sku,"
                    " '', :quantity, :rate, :amount)"
                ),
                [
                    {
                        "org": org_id,
                        "bill": bill_id,
                        "serial": n,
                        "sku": line["sku"],
                        "quantity": line["quantity"],
                        "rate": line["rate"],
                        "amount": Decimal(str(line["quantity"])) * Decimal(str(line["rate"])),
                    }
                    for n, line in enumerate(lines, start=1)
                ],
            )
            entry_id = conn.execute(
                sa.text(
                    "INSERT INTO points_ledger (org_id, program_id, customer_id, kind, points,"
                    " lifetime_points, purchases, redeemed, expired, returned, adjusted,"
                    " delayed, delayed_returned, cause, transaction_id, details, actor,"
                    " created_at) VALUES (:org, :program, :customer, 'EARN', :points, :points,"
                    " :amount, 0, 0, 0, 0, 0, 0, 'bill', :bill, '{}', 'bare', :now) RETURNING id"
                ),
                {**values, "points": points, "amount": amount, "bill": bill_id},
            ).scalar_one()
            conn.execute(
                sa.text(
                    "INSERT INTO loyalty_balances (org_id, program_id, customer_id, points,"
                    " lifetime_points, purchases, slab_id, slab_since, created_at, updated_at)"
                    " VALUES (:org, :program, :customer, :points, :points, :amount, :slab, :now,"
                    " :now, :now) ON CONFLICT (org_id, customer_id, program_id) DO UPDATE SET"
                    " points = loyalty_balances.points + :points, lifetime_points ="
                    " loyalty_balances.lifetime_points + :points, purchases ="
                    " loyalty_balances.purchases + :amount, updated_at = :now"
                ),
                {**values, "points": points, "amount": amount, "slab": slab_id},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO change_log (org_id, customer_id, change_type, source,"
                    " account_id, details, actor, cause, created_at) VALUES (:org, :customer,"
                    " 'POINTS', 'INSTORE', '', :details, 'bare', 'bill', :now)"
                ),
                {**values, "details": json.dumps({"entryId": entry_id, "points": float(points)})},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO audit_log (org_id, actor, action, entity_type, entity_id,"
                    " details, created_at) VALUES (:org, 'bare', 'transaction.add',"
                    " 'transaction', :bill, :details, :now)"
                ),
                {
                    "org": org_id,
                    "bill": str(bill_id),
                    "now": now,
                    "details": json.dumps({"number": body["number"], "lines": len(lines)}),
                },
            )
        return {"transaction": {"id": bill_id}, "warnings": []}

    @app.post("/v2/transactions/bulk")
    async def record_many(request: Request) -> list[dict[str, Any]]:
        body = await request.json()
        return await run_in_threadpool(_insert_many, body)

    # The bulk endpoint's statements are built on the tables as the database has them.
    tables = sa.MetaData()
    for name in ("transactions", "transaction_lines", "points_ledger", "loyalty_balances"):
        sa.Table(name, tables, autoload_with=engine)
    for name in ("change_log", "audit_log"):
        sa.Table(name, tables, autoload_with=engine)

    def _insert_many(bills: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The same rows as ``_insert`` for each bill, one multi-row statement per table; the
        balances upserted once per member, in customer order."""
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        t = tables.tables
        now = datetime.now(UTC)
        amounts = [
            [Decimal(str(li["quantity"])) * Decimal(str(li["rate"])) for li in b["lineItems"]]
            for b in bills
        ]
        totals = [sum(a, Decimal(0)) for a in amounts]
        points = [(total * Decimal("0.1")).quantize(Decimal("0.01")) for total in totals]
        with engine.begin() as conn:
            bill_ids = list(
                conn.execute(
                    t["transactions"]
                    .insert()
                    .returning(t["transactions"].c.id, sort_by_parameter_order=True),
                    [
                        {
                            "org_id": org_id,
                            "number": b["number"],
                            "customer_id": b["customerId"],
                            "amount": total,
                            "occurred_at": now,
                            "bill_type": "REGULAR",
                            "program_id": program_id,
                            "returned_amount": 0,
                            "created_by": "bare",
                            "created_at": now,
                        }
                        for b, total in zip(bills, totals, strict=True)
                    ],
                ).scalars()
            )
            conn.execute(
                t["transaction_lines"].insert(),
                [
                    {
                        "org_id": org_id,
                        "transaction_id": bill_id,
                        "serial": n,
                        "sku": li["sku"],
                        "description": "",
                        "quantity": li["quantity"],
                        "rate": li["rate"],
                        "amount": amount,
                    }
                    for b, bill_id, line_amounts in zip(bills, bill_ids, amounts, strict=True)
                    for n, (li, amount) in enumerate(
                        zip(b["lineItems"], line_amounts, strict=True), start=1
                    )
                ],
            )
            zeros = dict.fromkeys(
                ("redeemed", "expired", "returned", "adjusted", "delayed", "delayed_returned"), 0
            )
            entry_ids = list(
                conn.execute(
                    t["points_ledger"]
                    .insert()
                    .returning(t["points_ledger"].c.id, sort_by_parameter_order=True),
                    [
                        {
                            "org_id": org_id,
                            "program_id": program_id,
                            "customer_id": b["customerId"],
                            "kind": "EARN",
                            "points": p,
                            "lifetime_points": p,
                            "purchases": total,
                            **zeros,
                            "cause": "bill",
                            "transaction_id": bill_id,
                            "details": {},
                            "actor": "bare",
                            "created_at": now,
                        }
                        for b, bill_id, p, total in zip(
                            bills, bill_ids, points, totals, strict=True
                        )
                    ],
                ).scalars()
            )
            per_member: dict[int, list[Decimal]] = {}
            for b, p, total in zip(bills, points, totals, strict=True):
                sums = per_member.setdefault(int(b["customerId"]), [Decimal(0), Decimal(0)])
                sums[0] += p
                sums[1] += total
            balances = t["loyalty_balances"]
            upsert = pg_insert(balances).values(
                [
                    {
                        "org_id": org_id,
                        "program_id": program_id,
                        "customer_id": customer,
                        "points": p,
                        "lifetime_points": p,
                        "purchases": total,
                        "slab_id": slab_id,
                        "slab_since": now,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for customer, (p, total) in sorted(per_member.items())
                ]
            )
            conn.execute(
                upsert.on_conflict_do_update(
                    index_elements=["org_id", "customer_id", "program_id"],
                    set_={
                        "points": balances.c.points + upsert.excluded.points,
                        "lifetime_points": balances.c.lifetime_points
                        + upsert.excluded.lifetime_points,
                        "purchases": balances.c.purchases + upsert.excluded.purchases,
                        "updated_at": now,
                    },
                )
            )
            conn.execute(
                t["change_log"].insert(),
                [
                    {
                        "org_id": org_id,
                        "customer_id": b["customerId"],
                        "change_type": "POINTS",
                        "source": "INSTORE",
                        "account_id": "",
                        "details": {"entryId": entry_id, "points": float(p)},
                        "actor": "bare",
                        "cause": "bill",
                        "created_at": now,
                    }
                    for b, entry_id, p in zip(bills, entry_ids, points, strict=True)
                ],
            )
            conn.execute(
                t["audit_log"].insert(),
                [
                    {
                        "org_id": org_id,
                        "actor": "bare",
                        "action": "transaction.add",
                        "entity_type": "transaction",
                        "entity_id": str(bill_id),
                        "details": {"number": b["number"], "lines": len(b["lineItems"])},
                        "created_at": now,
                    }
                    for b, bill_id in zip(bills, bill_ids, strict=True)
                ],
            )
        return [{"transaction": {"id": i}, "warnings": [], "errors": []} for i in bill_ids]

    return app


# --- servers and wrk -----------------------------------------------------------------------


def patron_server(url: str, port: int, workers: int = 1) -> tuple[list[str], dict[str, str]]:
    command = [
        str(ROOT / ".venv" / "bin" / "patron"),
        "serve",
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]
    return command, {"PATRON_DATABASE_URL": url, "PATRON_IMPORT_WORKER": "false"}


def bare_server(
    url: str, org_id: int, port: int, workers: int = 1
) -> tuple[list[str], dict[str, str]]:
    """The bare app, served by as many uvicorn processes as patron's server has workers."""
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "loyalty_bench:bare_app",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    return command, {BARE_URL_VARIABLE: url, BARE_ORG_VARIABLE: str(org_id)}


def _script_head(key: str, ids: list[int]) -> str:
    """What both wrk scripts start with: the key, the members' ids, and a bill counter whose
    numbers no two threads share."""
    values = ",".join(str(i) for i in ids)
    return (
        f'wrk.headers["Authorization"] = "Bearer {key}"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        f"local ids = {{{values}}}\n"
        "local made = 0\n"
        "function setup(thread)\n"
        "  thread:set('offset', made * 100000000)\n"
        "  made = made + 1\n"
        "end\n"
        "local counter = 0\n"
    )


def lua(key: str, ids: list[int], prefix: str) -> str:
    """The wrk script: a bill of 5 line items for a random member, numbered uniquely."""
    return (
        _script_head(key, ids) + "request = function()\n"
        "  counter = counter + 1\n"
        "  local lines = {}\n"
        "  for n = 1, 5 do\n"
        '    lines[n] = string.format(\'{"sku": "SKU-%d", "quantity": %d, "rate": %d.50}\','
        " math.random(200), math.random(3), math.random(20, 400))\n"
        "  end\n"
        f'  local body = string.format(\'{{"number": "{prefix}-%d", "customerId": %d, '
        '"lineItems": [%s]}\', offset + counter, ids[math.random(#ids)], '
        "table.concat(lines, ', '))\n"
        '  return wrk.format("POST", "/v2/transactions", nil, body)\n'
        "end\n"
    )


def bulk_lua(key: str, ids: list[int], prefix: str, size: int) -> str:
    """The wrk script of the bulk runs: ``size`` bills of 5 line items a request, each for a
    random member, numbered uniquely."""
    return (
        _script_head(key, ids) + "request = function()\n"
        "  local bills = {}\n"
        f"  for b = 1, {size} do\n"
        "    counter = counter + 1\n"
        "    local lines = {}\n"
        "    for n = 1, 5 do\n"
        '      lines[n] = string.format(\'{"sku": "SKU-%d", "quantity": %d, "rate": %d.50}\','
        " math.random(200), math.random(3), math.random(20, 400))\n"
        "    end\n"
        f'    bills[b] = string.format(\'{{"number": "{prefix}-%d", "customerId": %d, '
        '"lineItems": [%s]}\', offset + counter, ids[math.random(#ids)], '
        "table.concat(lines, ', '))\n"
        "  end\n"
        "  local body = '[' .. table.concat(bills, ', ') .. ']'\n"
        '  return wrk.format("POST", "/v2/transactions/bulk", nil, body)\n'
        "end\n"
    )


def read_lua(key: str, ids: list[int], suffix: str) -> str:
    """The wrk script of a read: ``GET /v2/customers/{id}<suffix>`` of a random member."""
    values = ",".join(str(i) for i in ids)
    return (
        f'wrk.headers["Authorization"] = "Bearer {key}"\n'
        f"local ids = {{{values}}}\n"
        "request = function()\n"
        f'  return wrk.format("GET", "/v2/customers/" .. ids[math.random(#ids)] .. "{suffix}")\n'
        "end\n"
    )


def measure(base: str, script: Path, args: argparse.Namespace) -> dict[str, Any]:
    if args.warmup:
        wrk(base, script, args.connections, args.warmup)
    return wrk(base, script, args.connections, args.duration)


# --- the report ------------------------------------------------------------------------


def markdown(results: dict[str, Any], command: str) -> str:
    machine = results["machine"]
    patron, bare, checked = results["patron"], results["bare"], results["check"]
    ratio = patron["rps"] / bare["rps"] if bare["rps"] else 0.0

    def row(name: str, figure: dict[str, Any]) -> str:
        load = " / ".join(f"{x:.1f}" for x in figure["load_after"])
        return (
            f"| {name} | {figure['rps']:,.0f} | {figure.get('p50_ms')} | {figure.get('p90_ms')} "
            f"| {figure.get('p99_ms')} | {figure['non_2xx']} | {load} |"
        )

    size = results.get("bulk", 0)
    bulk_rows, bulk_ratio = [], ""
    if size and "patron_bulk" in results and "bare_bulk" in results:
        for name in ("patron_bulk", "bare_bulk"):
            # A bulk request's bills/s: its requests/s times the bills it carries.
            figure = {**results[name], "rps": results[name]["rps"] * size}
            bulk_rows.append(row(f"{name.replace('_', ' ')} ({size} a request)", figure))
        bare_bulk = results["bare_bulk"]["rps"]
        bulk_ratio = (
            f"; bulk, {size} bills a request: patron "
            f"{results['patron_bulk']['rps'] * size:,.0f} bills/s, "
            f"{results['patron_bulk']['rps'] / bare_bulk if bare_bulk else 0.0:.2f}x the bare "
            "bulk endpoint"
        )
    reads = [
        f"| {route} | {results[route]['rps']:,.0f} | {results[route].get('p50_ms')} "
        f"| {results[route].get('p90_ms')} | {results[route].get('p99_ms')} "
        f"| {results[route]['non_2xx']} "
        f"| {' / '.join(f'{x:.1f}' for x in results[route]['load_after'])} |"
        for route in READS
        if route in results
    ]
    return "\n".join(
        [
            f"`{command}`",
            "",
            f"{results['members']:,} members (the bills name {results.get('sample', SAMPLE):,} of"
            f" them), {results.get('ledger_entries', 0):,} ledger "
            f"entries before the runs, patron with {results.get('workers', 1)} worker(s); "
            f"{machine['cores']} cores ({machine['cpu']}), "
            f"{machine['memory_gb']} GB; Python {machine['python']}; {machine['wrk']}.",
            "",
            "| server | bills/s | p50 ms | p90 ms | p99 ms | non-2xx | load (1/5/15 min) |",
            "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
            row("patron", patron),
            row("bare", bare),
            *bulk_rows,
            "",
            f"patron / bare: {ratio:.2f}x{bulk_ratio}. Stored: {checked['patron_bills']:,} "
            f"patron bills and {checked.get('patron_bulk_bills', 0):,} patron bulk bills with "
            f"{checked['earn_entries']:,} EARN entries, {checked['bare_bills']:,} bare bills "
            f"and {checked.get('bare_bulk_bills', 0):,} bare bulk bills; balances not the sum "
            f"of their entries: {checked['balances_not_summing']}.",
            "",
            "Reads on patron's server, after its bills (a random member each):",
            "",
            "| GET /v2/customers/{id}... | req/s | p50 ms | p90 ms | p99 ms | non-2xx | load |",
            "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
            *reads,
            "",
        ]
    )


if __name__ == "__main__":
    main()
