"""The served API against its own ``/openapi.json``, with schemathesis.

A real patron app is served by uvicorn on a loopback port, on the run's database (once per
backend), and schemathesis' runner (``st run``, the same as by hand) calls it over HTTP as
an org's admin with a Bearer API key. The org holds a few customers (mobile, email,
externalId) and a loyalty program, so that generated requests meet stored data.

Every operation (all of them, the legacy batch form and the purge of imports included: the
org is the run's own) gets the schema's examples and a fixed number of generated requests,
valid and invalid, with the org's customers and program as the ids of the paths. Then
customers are registered and the schema's links followed from each (read and change it and
its records, delete it last). The runs are deterministic (the same requests every time) and
bounded. Each answer is checked: no server error, a documented status, a documented content
type, a body and headers of the documented schema.

Run it alone: ``PATRON_TEST_BACKENDS=sqlite .venv/bin/pytest tests/test_api_schemathesis.py``.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import hypothesis
import pytest
import schemathesis
import uvicorn
from sqlalchemy.engine import Engine

from patron.api.app import create_app
from patron.api.links import LINKS
from patron.settings import Settings
from tests.conftest import Api, OrgHandle, make_org
from tests.factories import register
from tests.importing import csv, start
from tests.loyalty_setup import add_program, bill
from tests.schemathesis_hooks import valid_registration_body

ST = Path(sys.executable).parent / "st"
#: Valid registrations among the generated ones (see the module).
HOOKS = Path(__file__).with_name("schemathesis_hooks.py")
#: Generated requests per operation (besides the schema's own examples). 10 took twice the
#: CPU (44 s against 24 s on SQLite) and found nothing 5 does not; the links are followed by
#: test_linked_calls_answer_as_documented with their own counts.
EXAMPLES = 5
#: Customers registered by the linked calls, and generated calls per link of each.
SCENARIOS = 3
LINKED_EXAMPLES = 2
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
]
#: The whole run's cap (it takes well under it); a run that reaches it fails.
TIMEOUT = 600


@dataclass
class Served:
    url: str
    org: OrgHandle
    customers: list[int]
    #: Ids of stored things, by the name of the path parameter that takes them.
    ids: dict[str, int]


@pytest.fixture(scope="module")
def served(engine: Engine) -> Iterator[Served]:
    """The app served over HTTP, and an org with three customers, a loyalty program, a bill,
    a ticket, a store and an import."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))  # the port is chosen and held before the server starts
    app = create_app(Settings(import_worker=False), engine=engine)
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    try:
        org = make_org(engine)
        with httpx.Client(base_url=url, timeout=30) as client:
            api = Api(client, org)  # type: ignore[arg-type]
            ids = {"program_id": int(add_program(api)["programId"])}
            customers = [
                register(
                    api,
                    mobile=f"91980000{n:04d}",
                    email=f"person{n}@example.com",
                    external_id=f"X{n}",
                )
                for n in range(3)
            ]
            ids["transaction_id"] = int(bill(api, customers[0], 100)["transaction"]["id"])
            ticket = api.post(f"/v2/customers/{customers[0]}/tickets", json={"subject": "Late"})
            assert ticket.status_code == 200, ticket.text
            ids["ticket_id"] = int(ticket.json()["ticket"]["id"])
            unit = api.post("/v2/org/units", json={"kind": "store", "code": "s1"}, role="admin")
            assert unit.status_code == 200, unit.text
            ids["unit_id"] = int(unit.json()["unit"]["id"])
        ids["import_id"] = start(
            engine, org, csv("First Name,Mobile,Store", "Huck,919800009999,s1")
        )
        yield Served(url, org, customers, ids)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def _common(served: Served) -> str:
    """What both runs' ``schemathesis.toml`` share (TOML's strings and arrays are JSON's)."""
    checks = "\n".join(f"{name}.enabled = true" for name in CHECKS)
    return f"""
seed = 1
hooks = {json.dumps(str(HOOKS))}
# Generating the bodies of the largest schemas (bulk registration) is slow, not wrong.
suppress-health-check = ["too_slow", "data_too_large", "filter_too_much"]
headers = {{ Authorization = {json.dumps("Bearer " + served.org.keys["admin"])} }}

[generation]
mode = "all"
max-examples = {EXAMPLES}
deterministic = true
no-shrink = true
database = "none"

[checks]
enabled = false
{checks}
"""


def _operations_config(served: Served) -> str:
    """Every operation: its examples, then generated requests."""
    first, second, third = served.customers
    ids = "\n".join(f'"path.{name}" = {value}' for name, value in served.ids.items())
    return f"""
# Stored things in the paths, so that calls reach past the 404 of an unknown id.
[parameters]
"path.customer_id" = {first}
{ids}

[phases.examples]
enabled = true
[phases.coverage]
enabled = false
[phases.fuzzing]
enabled = true
[phases.stateful]
enabled = false

# A deletion takes a customer of its own, so that it leaves the others to the rest.
[[operations]]
include-operation-id = "deleteCustomer"
parameters = {{ "path.customer_id" = {third} }}
[[operations]]
include-operation-id = "unmerge"
parameters = {{ "path.customer_id" = {second} }}
"""


def _run(served: Served, config: str, tmp_path: Path) -> str:
    """Run ``st run`` with ``config`` against the served app; its report if it passed."""
    path = tmp_path / "schemathesis.toml"
    path.write_text(config)
    started = time.monotonic()
    run = subprocess.run(
        [
            str(ST),
            "--config-file",
            str(path),
            "--no-color",
            "run",
            f"{served.url}/openapi.json",
            "--workers",
            "1",
            "--output-truncate",
            "false",
        ],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
        cwd=tmp_path,
    )
    took = time.monotonic() - started
    assert run.returncode == 0, f"schemathesis failed after {took:.0f} s:\n{run.stdout}"
    return run.stdout


def test_operations_answer_as_documented(served: Served, tmp_path: Path) -> None:
    report = _run(served, _common(served) + _operations_config(served), tmp_path)
    print(report)  # shown with -s: what was tested, and the warnings


def test_linked_calls_answer_as_documented(served: Served) -> None:
    """Register customers, then call every operation a registration's links lead to.

    Written here rather than left to ``st run``'s stateful phase, which starts its scenarios
    only from the operations it deems likely to succeed with generated data and counts the
    registration out (its ``accountId`` names a thing no operation creates).
    """
    config = schemathesis.Config.from_dict(tomllib.loads(_common(served)))
    schema = schemathesis.openapi.from_url(f"{served.url}/openapi.json", config=config)
    registration = schema.find_operation_by_id("registerCustomer")
    links = registration.definition.raw["responses"]["200"]["links"]
    # The deletion last: it ends the scenario's customer.
    order = sorted(links.values(), key=lambda link: link["operationId"] == "deleteCustomer")
    assert len(order) >= 10, links
    auth = {"Authorization": f"Bearer {served.org.keys['admin']}"}
    for number in range(SCENARIOS):
        body = valid_registration_body(10_000 + number)  # apart from the hook's numbers
        response = registration.Case(body=body).call_and_validate(headers=auth)
        assert response.status_code == 200, response.text
        created = response.json()["createdId"]
        for link in order:
            (name, expression), *_ = link["parameters"].items()
            assert expression == "$response.body#/createdId", link
            operation = schema.find_operation_by_id(link["operationId"])
            statuses = _follow(operation, name, created, auth)
            if operation.method.upper() == "GET":
                # The link led to the customer just registered (not to a 404).
                assert 200 in statuses, (operation.label, statuses)


def _follow(operation: Any, parameter: str, value: int, headers: dict[str, str]) -> set[int]:
    """Call ``operation`` with generated valid input and ``parameter`` set to ``value``.

    Answers the statuses it got.
    """
    location, name = parameter.split(".", 1)
    assert location == "path", parameter
    statuses: set[int] = set()

    @hypothesis.given(operation.as_strategy(path_parameters={name: value}))
    @hypothesis.settings(
        max_examples=LINKED_EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(hypothesis.HealthCheck),
        phases=[hypothesis.Phase.generate],
    )
    def call(case: Any) -> None:
        statuses.add(case.call_and_validate(headers=headers).status_code)

    call()
    return statuses


def test_links_are_in_the_schema(served: Served) -> None:
    document = httpx.get(f"{served.url}/openapi.json").json()
    operations = {
        operation["operationId"]: operation
        for path in document["paths"].values()
        for operation in path.values()
    }
    for source, status, name, target, _ in LINKS:
        link = operations[source]["responses"][status]["links"][name]
        assert link["operationId"] == target
        assert target in operations
