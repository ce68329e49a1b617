"""The console benchmark: the customer list and the console's pages on a million customers.

::

    .venv/bin/python bench/console_bench.py --customers 1000000 --backend both \\
        --postgres-url postgresql+psycopg://patron:patron@localhost:5432/patron_bench_console

For each database it builds a store of ``--customers`` customers of one org
(names, mobiles, emails, external ids, stores and registration dates of
``datagen.population``; a second profile for one customer in ten; loyalty types,
status labels, fraud marks, merge victims, deleted customers and a custom field
spread over them; see :func:`store`), written in bulk straight into the tables
(the import engine is measured by ``import_bench.py``); one customer with two
profiles gets a card, notes and tickets through the API (see :func:`enrich`).
Then it asks the list endpoint, through the whole application in process
(authentication included, no network), for the pages of :data:`SCENARIOS` at
each size of :data:`LIMITS`, and, signed in through the sign-in form as a
console user, for the console's pages of :data:`CONSOLE_PAGES` (the HTML of
Identified Profiles and of a profile): 5 requests to warm up, then
``--requests`` timed ones; the median and the 95th percentile are reported with
the machine's load average. The plan of each API page's query (SQLite ``EXPLAIN
QUERY PLAN``, PostgreSQL ``EXPLAIN ANALYZE``) is written beside the report.

PostgreSQL: the database of ``--postgres-url`` is dropped and created again, and
analyzed once loaded (as autovacuum does after a bulk load). SQLite: the file
lives in ``--work-dir`` (default ``var/bench``); it is not analyzed (patron never
runs ``ANALYZE`` there, so the figures are those of a store as patron leaves it).
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import polars as pl
import sqlalchemy as sa

import datagen
from import_bench import fresh_database, machine, server_version

DEFAULT_POSTGRES = "postgresql+psycopg://patron:patron@localhost:5432/patron_bench_console"
#: The API's page sizes: the console's (50) and the API's default (25).
LIMITS = (50, 25)
LIMIT = LIMITS[0]
WARM_UP = 5
CONSOLE_PASSWORD = "bench console password"  # noqa: S105 -- a throwaway store's user
CITIES = ("Pune", "Delhi", "Mumbai", "Chennai", "Kolkata", "Hanoi", "Paris", "Lyon", "Berlin",
          "Bangalore")  # fmt: skip
#: Name -> query parameters of one page; ``deep`` pages start at a cursor half-way down.
SCENARIOS: dict[str, dict[str, Any]] = {
    "first page (newest first)": {},
    "first page by name": {"sort": "name"},
    "filtered: store and loyalty type": {"store": "blr", "loyaltyType": "loyalty"},
    "filtered: custom field and source": {"customField.city": "Pune", "source": "WECHAT"},
    "filtered: fraud status (0.2%)": {"fraudStatus": "MARKED"},
    "filtered: registered in one month": {
        "registeredFrom": "2019-03-01",
        "registeredTo": "2019-03-31",
    },
    "search: a mobile as typed": {"q": "+91 90000 12345"},
    "search: start of a first name": {"q": "Ana"},
    "search: full name": {"q": "Kiara Sharma"},
    "deep page, keyset (newest first)": {"deep": True},
    "deep page, keyset, by name": {"sort": "name", "deep": True},
    "first page with the total": {"includeTotal": "true"},
}
STORE_TABLES = ("customers", "profiles", "identifiers", "field_values")
#: Name -> the console page's address; ``{deep}`` is a cursor half-way down (newest first),
#: ``{deep_name}`` the same by name, ``{profile}`` the customer :func:`enrich` filled in.
#: A deep page is the one the list's own **Next page** leads to from the middle page.
CONSOLE_PAGES: dict[str, str] = {
    "list: first page (newest first)": "/profiles",
    "list: first page by name": "/profiles?sort=name",
    "list: filtered by store and loyalty type": "/profiles?loyalty_type=loyalty&store=blr",
    "list: filtered by custom field and source": (
        "/profiles?source=WECHAT&field=city&field_value=Pune"
    ),
    "list: search, a mobile as typed": "/profiles?q=%2B91+90000+12345",
    "list: search, start of a first name": "/profiles?q=Ana",
    "list: deep page (Next page from half-way)": "/profiles?cursor={deep}",
    "list: deep page by name (Next page from half-way)": "/profiles?sort=name&cursor={deep_name}",
    "profile page (2 profiles, card, notes, tickets)": "/profiles/{profile}",
}
NEXT_PAGE = re.compile(r'<button[^>]*name="cursor" value="([^"]+)"[^>]*>Next page</button>')


def main() -> None:
    args = _arguments()
    work = Path(args.work_dir).resolve()
    work.mkdir(parents=True, exist_ok=True)
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    results: dict[str, Any] = {
        "customers": args.customers,
        "requests": args.requests,
        "machine": machine(),
        "backends": {},
    }
    plans: list[str] = []
    for backend in backends:
        url = (
            f"sqlite:///{work / 'console.db'}"
            if backend == "sqlite"
            else sa.engine.make_url(args.postgres_url).render_as_string(hide_password=False)
        )
        results["backends"][backend] = run_backend(backend, url, args, plans)
    report = markdown(results, " ".join(["bench/console_bench.py", *sys.argv[1:]]))
    print(report)
    if args.output:
        output = Path(args.output)
        output.write_text(report)
        output.with_suffix(".json").write_text(json.dumps(results, indent=2))
        output.with_suffix(".plans.txt").write_text("\n".join(plans))


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=100_000, help="customers in the store")
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES)
    parser.add_argument("--work-dir", default="var/bench", help="where the SQLite store lives")
    parser.add_argument("--requests", type=int, default=50, help="timed requests per page")
    parser.add_argument("--reuse", action="store_true", help="keep a store built by a run before")
    parser.add_argument("--output", help="also write the report here (.json and .plans.txt beside)")
    return parser.parse_args()


def _log(text: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {text}", file=sys.stderr, flush=True)


# --- the store -------------------------------------------------------------------------


def store(url: str, customers: int) -> tuple[int, str]:
    """Build the org and its customers; answer the org id and a viewer's API key."""
    from patron.auth import service as auth
    from patron.auth.actor import Actor, Role
    from patron.kit import bulk
    from patron.kit.db import create_engine, transaction
    from patron.kit.migrate import upgrade
    from patron.orgs import service as orgs
    from patron.orgs.settings import OrgSettings

    engine = create_engine(url)
    upgrade(engine)
    with transaction(engine) as conn:
        org_id = orgs.create_org(conn, "bench", OrgSettings(base_country_code="91"))
        admin = Actor(org_id=org_id, role=Role.admin, name="bench", kind="cli")
        mall = orgs.add_unit(conn, admin, kind="store", code="mal")
        blr = orgs.add_unit(conn, admin, kind="store", code="blr")
        till = orgs.add_unit(conn, admin, kind="till", code="mal.till", parent_id=int(mall["id"]))
        units = {"mal": int(mall["id"]), "blr": int(blr["id"]), "mal.till": int(till["id"])}
        labels = {row["label"]: int(row["id"]) for row in orgs.list_labels(conn, org_id)}
        orgs.add_field(conn, admin, kind="custom", name="city")
        key = auth.create_api_key(conn, admin, Role.viewer, "bench")
    frames = _frames(org_id, customers, units, labels)
    with transaction(engine) as conn:
        for table in STORE_TABLES:
            _log(f"  {table}: {frames[table].height:,} rows")
            bulk.insert_frame(conn, table, frames[table])
        if engine.dialect.name == "postgresql":
            for table in ("customers", "profiles", "identifiers", "field_values"):
                conn.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                    f"(SELECT max(id) FROM {table}))"
                )
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for table in STORE_TABLES:
                conn.exec_driver_sql(f"VACUUM ANALYZE {table}")
    engine.dispose()
    return org_id, key


def _frames(
    org_id: int, size: int, units: dict[str, int], labels: dict[str, int]
) -> dict[str, pl.DataFrame]:
    """The rows of every table, reproducibly.

    Customer ``k`` has id ``k + 1``. 80% are loyalty customers; labels: 94% Active,
    4% Suspended, 1% Internal; 0.2% are marked as fraud; 1% are merge victims (their
    profiles, identifiers and fields went to the survivor: none are left) and 0.5%
    deleted (profiles with blanked names, no identifiers, no fields).
    Everyone has a mobile and a city, 60% an email, 50% an external id, 10% a second
    profile on WECHAT.
    """
    rng = np.random.default_rng(17)
    people = datagen.population(size)
    ids = np.arange(1, size + 1, dtype=np.int64)
    draw = rng.random(size)
    victim = draw < 0.01
    deleted = (draw >= 0.01) & (draw < 0.015)
    live = ~(victim | deleted)
    status = rng.random(size)
    label = np.where(
        status < 0.94, labels["Active"], np.where(status < 0.98, labels["Suspended"],
                                                  labels["Internal"])
    )  # fmt: skip
    label = np.where(deleted, labels["Deleted"], label)
    survivor = np.where(victim, np.maximum(1, ids - rng.integers(1, 1000, size)), 0)
    seconds = rng.integers(0, 86_400, size)
    now = datetime.now(UTC)
    customers = people.select(
        id=pl.Series(ids),
        org_id=pl.lit(org_id, dtype=pl.Int64),
        loyalty_type=pl.Series(np.where(rng.random(size) < 0.8, "loyalty", "non_loyalty")),
        status_label_id=pl.Series(label.astype(np.int64)),
        fraud_status=pl.Series(np.where(rng.random(size) < 0.002, "MARKED", "NOT_FRAUD")),
        merged_into_id=pl.when(pl.Series(victim)).then(pl.Series(survivor)).otherwise(None),
        registered_at=(
            pl.col("Registration Date").str.to_date().cast(pl.Datetime("us", "UTC"))
            + pl.duration(seconds=pl.Series(seconds))
        ),
        registered_unit_id=pl.col("Store").replace_strict(units, return_dtype=pl.Int64),
        deleted_at=pl.when(pl.Series(deleted)).then(pl.lit(now)).otherwise(None),
        created_by=pl.lit("bench"),
        modified_by=pl.lit("bench"),
    )
    named = pl.Series(~deleted)
    # A merge moved the victim's profiles and fields to its survivor: none are left.
    kept = pl.Series(~victim)
    profiles = people.select(
        id=pl.Series(ids),
        org_id=pl.lit(org_id, dtype=pl.Int64),
        customer_id=pl.Series(ids),
        source=pl.lit("INSTORE"),
        account_id=pl.lit(""),
        first_name=pl.when(named).then(pl.col("First Name")).otherwise(pl.lit("")),
        last_name=pl.when(named).then(pl.col("Last Name")).otherwise(pl.lit("")),
    )
    second = profiles.filter(kept & pl.Series(rng.random(size) < 0.1)).with_columns(
        source=pl.lit("WECHAT"), account_id=pl.lit("wx1")
    )
    second = second.with_columns(id=pl.int_range(size + 1, size + 1 + second.height))
    profiles = profiles.filter(kept)
    keep = pl.Series(live)
    base = people.select(
        org_id=pl.lit(org_id, dtype=pl.Int64),
        customer_id=pl.Series(ids),
        profile_id=pl.Series(ids),
        mobile="Mobile",
        email="Email",
        external="External Id",
    ).filter(keep)
    has_email = pl.Series(rng.random(base.height) < 0.6)
    has_external = pl.Series(rng.random(base.height) < 0.5)
    columns = ["org_id", "customer_id", "profile_id", "type", "value"]
    identifiers = pl.concat(
        [
            base.select(*columns[:3], type=pl.lit("mobile"), value="mobile"),
            base.filter(has_email).select(*columns[:3], type=pl.lit("email"), value="email"),
            base.filter(has_external).select(
                *columns[:3], type=pl.lit("externalId"), value="external"
            ),
        ]
    )
    identifiers = identifiers.with_columns(id=pl.int_range(1, identifiers.height + 1))
    fields = people.select(
        org_id=pl.lit(org_id, dtype=pl.Int64),
        customer_id=pl.Series(ids),
        kind=pl.lit("custom"),
        name=pl.lit("city"),
        value=pl.Series(np.array(CITIES)[rng.integers(0, len(CITIES), size)]),
    ).filter(pl.Series(live))
    fields = fields.with_columns(id=pl.int_range(1, fields.height + 1))
    return {
        "customers": customers,
        "profiles": pl.concat([profiles, second]),
        "identifiers": identifiers,
        "field_values": fields,
    }


# --- the requests ----------------------------------------------------------------------


@contextmanager
def captured(engine: sa.Engine) -> Iterator[list[tuple[str, Any]]]:
    """The statements ``engine`` runs meanwhile, with their parameters."""
    seen: list[tuple[str, Any]] = []

    def listen(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append((statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", listen)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", listen)


def run_backend(
    backend: str, url: str, args: argparse.Namespace, plans: list[str]
) -> dict[str, Any]:
    from fastapi.testclient import TestClient

    from patron.api.app import create_app
    from patron.kit.db import create_engine

    state = Path(args.work_dir) / f"console-{backend}.json"
    built = not (args.reuse and state.exists())
    if built:
        _log(f"{backend}: building a store of {args.customers:,} customers")
        fresh_database(url)
        started = time.perf_counter()
        org_id, key = store(url, args.customers)
        _log(f"{backend}: store built in {time.perf_counter() - started:.0f} s")
    else:
        org_id, key, profile_id, username = json.loads(state.read_text())
    engine = create_engine(url)
    out: dict[str, Any] = {"version": server_version(url), "pages": {}, "console": {}}
    headers = {"Authorization": f"Bearer {key}"}
    with TestClient(create_app(engine=engine), raise_server_exceptions=True) as client:
        if built:
            profile_id, username = enrich(engine, client, org_id)
            state.write_text(json.dumps([org_id, key, profile_id, username]))

        def get(params: dict[str, Any]) -> dict[str, Any]:
            response = client.get("/v2/customers", params=params, headers=headers)
            if response.status_code != 200:
                raise SystemExit(f"{params}: {response.status_code} {response.text}")
            body: dict[str, Any] = response.json()
            return body

        deep = _deep_cursors(get, args.customers)
        for limit in LIMITS:
            for name, wanted in SCENARIOS.items():
                params = {k: v for k, v in wanted.items() if k != "deep"} | {"limit": limit}
                if wanted.get("deep"):
                    params["cursor"] = deep[params.get("sort", "-registeredAt")]
                page = timed(lambda params=params: len(get(params)["data"]), args.requests)
                out["pages"][f"{name} @{limit}"] = {"params": params, **page}
                _log(f"{backend}: {name}, {limit} rows: {page['median_ms']:.1f} ms")
                if limit == LIMIT:
                    with captured(engine) as seen:
                        get(params)
                    plans.append(_plan(engine, backend, name, seen))

        _sign_in(client, username)

        def page_of(path: str) -> int:
            response = client.get(path, follow_redirects=False)
            if response.status_code != 200:
                raise SystemExit(f"{path}: {response.status_code} {response.text[:500]}")
            return len(re.findall(r'<tr data-profile="', response.text)) or 1

        middle = {
            "deep": _next_page(client, f"/profiles?cursor={quote(deep['-registeredAt'])}"),
            "deep_name": _next_page(client, f"/profiles?sort=name&cursor={quote(deep['name'])}"),
        }
        for name, pattern in CONSOLE_PAGES.items():
            path = pattern.format(profile=profile_id, **middle)
            page = timed(lambda path=path: page_of(path), args.requests)
            out["console"][name] = {"path": path, **page}
            _log(f"{backend}: {name}: {page['median_ms']:.1f} ms")
    engine.dispose()
    return out


def timed(request: Any, requests: int) -> dict[str, Any]:
    """``WARM_UP`` calls of ``request``, then ``requests`` timed ones: median, p95, load."""
    for _ in range(WARM_UP):
        shown = request()
    load = os.getloadavg()[0]
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        request()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {
        "rows": shown,
        "median_ms": statistics.median(times),
        "p95_ms": times[int(len(times) * 0.95) - 1],
        "load": [load, os.getloadavg()[0]],
    }


def enrich(engine: sa.Engine, client: Any, org_id: int) -> tuple[int, str]:
    """A customer with two profiles made fuller (a card, notes, tickets) and a console user.

    Answers the customer's id and the user's name (password :data:`CONSOLE_PASSWORD`).
    """
    from patron.auth import service as auth
    from patron.auth.actor import Actor, Role
    from patron.kit.db import transaction

    with transaction(engine) as conn:
        admin = Actor(org_id=org_id, role=Role.admin, name="bench", kind="cli")
        key = auth.create_api_key(conn, admin, Role.admin, "bench-enrich")
        username = f"bench-{int(time.time())}"
        auth.create_user(conn, admin, username, Role.admin, CONSOLE_PASSWORD)
        # A live customer with a second profile and all three identifiers.
        customer_id = conn.execute(
            sa.text(
                "SELECT p.customer_id FROM profiles p JOIN customers c ON c.id = p.customer_id "
                "WHERE p.org_id = :org AND p.source = 'WECHAT' AND c.deleted_at IS NULL "
                "AND (SELECT count(*) FROM identifiers i WHERE i.customer_id = p.customer_id) = 3 "
                "ORDER BY p.customer_id LIMIT 1"
            ),
            {"org": org_id},
        ).scalar_one()
    headers = {"Authorization": f"Bearer {key}"}

    def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = client.post(path, json=body, headers=headers)
        if response.status_code != 200:
            raise SystemExit(f"{path}: {response.status_code} {response.text}")
        answer: dict[str, Any] = response.json()
        return answer

    series = post(
        "/v2/cards/series",
        {"code": "BENCH", "type": "PHYSICAL", "prefix": "BN", "length": 12},
    )["series"]
    post(
        f"/v2/customers/{customer_id}/changeIdentifier",
        {"add": [{"value": "BN0000000001", "type": "cardnumber", "seriesId": series["id"]}]},
    )
    for n in range(3):
        post(f"/v2/customers/{customer_id}/notes", {"description": f"Called about order {n}"})
        post(f"/v2/customers/{customer_id}/tickets", {"subject": f"Late delivery {n}"})
    return int(customer_id), username


def _sign_in(client: Any, username: str) -> None:
    """Sign ``client`` in through the console's sign-in form."""
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/signin").text)
    if token is None:
        raise SystemExit("the sign-in page has no CSRF token")
    response = client.post(
        "/signin",
        data={"username": username, "password": CONSOLE_PASSWORD, "csrf_token": token.group(1)},
        follow_redirects=False,
    )
    if response.status_code != 303:
        raise SystemExit(f"sign-in: {response.status_code} {response.text[:500]}")


def _next_page(client: Any, path: str) -> str:
    """The cursor of the **Next page** button of the console page ``path``, quoted."""
    response = client.get(path, follow_redirects=False)
    found = NEXT_PAGE.search(response.text)
    if response.status_code != 200 or found is None:
        raise SystemExit(f"{path}: {response.status_code}, no Next page")
    return quote(html.unescape(found.group(1)), safe="")


def _deep_cursors(get: Any, customers: int) -> dict[str, str]:
    """A cursor half-way down the list in each order, reached once by offset."""
    middle = max(0, customers // 2 - LIMIT)
    cursors = {}
    for sort in ("-registeredAt", "name"):
        body = get({"sort": sort, "limit": LIMIT, "offset": middle})
        cursors[sort] = body["pagination"]["nextCursor"]
    return cursors


def _plan(engine: sa.Engine, backend: str, name: str, seen: list[tuple[str, Any]]) -> str:
    """The plan of the page's query: the one that orders and limits customers."""
    found = [(s, p) for s, p in seen if "ORDER BY" in s and "LIMIT" in s and "customers" in s]
    if not found:  # a search that found nobody (a small store) may stop before the page
        return f"== {backend}: {name}\n-- no page statement\n"
    statement, parameters = found[0]
    explain = "EXPLAIN QUERY PLAN " if backend == "sqlite" else "EXPLAIN (ANALYZE, BUFFERS) "
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(explain + statement, parameters).all()
    lines = [" | ".join(str(v) for v in row) for row in rows]
    return f"== {backend}: {name}\n{statement}\n-- plan\n" + "\n".join(lines) + "\n"


# --- the report ------------------------------------------------------------------------


def markdown(results: dict[str, Any], command: str) -> str:
    backends = results["backends"]
    # "15.18 (Debian 15.18-0+deb12u1)" -> "15.18": the full version is in the JSON.
    version = {b: str(backends[b]["version"]).split(" (")[0] for b in backends}
    header = "| page | " + " | ".join(
        f"{b} {version[b]} {limit} rows median / p95 (ms)" for b in backends for limit in LIMITS
    )
    lines = [
        f"`{command}`",
        "",
        f"{results['customers']:,} customers; {results['requests']} timed requests per page "
        f"(after {WARM_UP} to warm up).",
        "",
        f"`GET /v2/customers`, {' and '.join(str(n) for n in LIMITS)} rows a page "
        f"(load: at the {LIMIT}-row page, {' / '.join(backends)}):",
        "",
        header + " | load |",
        "| --- |" + " --- |" * (len(backends) * len(LIMITS) + 1),
    ]
    for name in SCENARIOS:
        cells = []
        for backend in backends:
            for limit in LIMITS:
                page = backends[backend]["pages"][f"{name} @{limit}"]
                cells.append(f"{page['median_ms']:.1f} / {page['p95_ms']:.1f}")
        loads = [f"{backends[b]['pages'][f'{name} @{LIMIT}']['load'][0]:.1f}" for b in backends]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {' / '.join(loads)} |")
    lines += [
        "",
        f"The console's pages (HTML, signed in), {LIMIT} rows a list page:",
        "",
        "| page | "
        + " | ".join(f"{b} {version[b]} median / p95 (ms)" for b in backends)
        + " | load |",
        "| --- |" + " --- |" * (len(backends) + 1),
    ]
    for name in CONSOLE_PAGES:
        pages = [backends[b]["console"][name] for b in backends]
        cells = [f"{page['median_ms']:.1f} / {page['p95_ms']:.1f}" for page in pages]
        loads = [f"{page['load'][0]:.1f}" for page in pages]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {' / '.join(loads)} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
