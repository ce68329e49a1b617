"""The served API against its own ``/openapi.json``, with schemathesis.

A real patron app is served by uvicorn on a loopback port, on the run's database (once per
backend), and schemathesis' runner (``st run``, the same as by hand) calls it over HTTP as
an org's admin with a Bearer API key. The org holds a few customers (mobile, email,
externalId) and a loyalty program, so that generated requests meet stored data.

Every operation gets the schema's examples and a fixed number of generated requests, valid
and invalid; then the stateful phase follows the schema's links (register a customer, then
read and change it and its records). The run is deterministic (a fixed seed: the same
requests on every run) and bounded. Each answer is checked: no server error, a documented
status, a documented content type, a body and headers of the documented schema.

Run it alone: ``PATRON_TEST_BACKENDS=sqlite .venv/bin/pytest tests/test_api_schemathesis.py``.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy.engine import Engine

from patron.api.app import create_app
from patron.api.links import LINKS
from patron.settings import Settings
from tests.conftest import Api, OrgHandle, make_org
from tests.factories import register
from tests.loyalty_setup import add_program

ST = Path(sys.executable).parent / "st"
#: Generated requests per operation (besides the schema's own examples).
EXAMPLES = 10
#: Calls in a stateful scenario.
STEPS = 6
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
]
#: Left out of the generated calls, with the reason:
#: - postBatch (``POST /api/batch``): the legacy form-post API; its body is a form of
#:   free-form fields, documented in docs/legacy-batch-api.md rather than in the schema.
EXCLUDED = ["postBatch"]
#: The whole run's cap (it takes well under it); a run that reaches it fails.
TIMEOUT = 600


@dataclass
class Served:
    url: str
    org: OrgHandle
    customers: list[int]
    program: int


@pytest.fixture(scope="module")
def served(engine: Engine) -> Iterator[Served]:
    """The app served over HTTP, and an org with three customers and a loyalty program."""
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
            program = int(add_program(api)["programId"])
            customers = [
                register(
                    api,
                    mobile=f"91980000{n:04d}",
                    email=f"person{n}@example.com",
                    external_id=f"X{n}",
                )
                for n in range(3)
            ]
        yield Served(url, org, customers, program)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def _config(served: Served) -> str:
    """The run's ``schemathesis.toml`` (TOML's strings and arrays are JSON's)."""
    checks = "\n".join(f"{name}.enabled = true" for name in CHECKS)
    first, second, third = served.customers
    return f"""
seed = 1
# Generating the bodies of the largest schemas (bulk registration) is slow, not wrong.
suppress-health-check = ["too_slow", "data_too_large", "filter_too_much"]
headers = {{ Authorization = {json.dumps("Bearer " + served.org.keys["admin"])} }}

# Stored things in the paths, so that calls reach past the 404 of an unknown id.
[parameters]
"path.customer_id" = {first}
"path.program_id" = {served.program}

# A deletion takes a customer of its own, so that it leaves the others to the rest.
[[operations]]
include-operation-id = "deleteCustomer"
parameters = {{ "path.customer_id" = {third} }}
[[operations]]
include-operation-id = "unmerge"
parameters = {{ "path.customer_id" = {second} }}

[generation]
mode = "all"
max-examples = {EXAMPLES}
deterministic = true
no-shrink = true
database = "none"

[phases.examples]
enabled = true
[phases.coverage]
enabled = false
[phases.fuzzing]
enabled = true
[phases.stateful]
enabled = true
max-steps = {STEPS}

[checks]
enabled = false
{checks}
"""


def test_api_answers_as_documented(served: Served, tmp_path: Path) -> None:
    config = tmp_path / "schemathesis.toml"
    config.write_text(_config(served))
    exclusions = [arg for name in EXCLUDED for arg in ("--exclude-operation-id", name)]
    started = time.monotonic()
    run = subprocess.run(
        [
            str(ST),
            "--config-file",
            str(config),
            "--no-color",
            "run",
            f"{served.url}/openapi.json",
            "--workers",
            "1",
            "--output-truncate",
            "false",
            *exclusions,
        ],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
        cwd=tmp_path,
    )
    took = time.monotonic() - started
    assert run.returncode == 0, f"schemathesis failed after {took:.0f} s:\n{run.stdout}"
    print(run.stdout)  # shown with -s: what was tested, and the warnings


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
