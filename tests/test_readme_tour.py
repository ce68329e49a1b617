"""The README's quick start and tour, run as written, in order, on an org like ``patron demo``'s.

The requests are parsed from README.md itself, so a README whose requests stop
working together fails here. The README counts customer ids from a fresh
``make run`` (1, 2, ...); the test database holds other orgs' customers too, so
an id the README writes is mapped to the id the n-th new customer really got.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from patron.cli.demo import create_demo_org
from patron.kit.db import transaction
from tests.conftest import unique, warning_codes
from tests.test_cli import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
#: The README's prose with its line breaks undone, for the statements the test checks.
PROSE = " ".join(README.split())


def section(title: str) -> str:
    """The text under the heading ``title`` up to the next heading (its subsections left out)."""
    start = README.index(f"\n{title}\n") + len(title) + 2
    end = README.find("\n#", start)
    return README[start : end if end != -1 else len(README)]


def commands(text: str) -> list[str]:
    """The shell commands of the ``console`` blocks of ``text``, continuation lines joined."""
    found: list[str] = []
    for block in re.findall(r"```console\n(.*?)```", text, flags=re.DOTALL):
        pending = ""
        for line in block.splitlines():
            if not pending and not line.startswith("$ "):
                continue  # output shown in the block
            pending += ("\n" if pending else "") + (line[2:] if not pending else line)
            if pending.endswith("\\"):
                pending = pending[:-1]
                continue
            try:
                shlex.split(pending)
            except ValueError:  # a quote is still open: the command goes on
                continue
            found.append(pending)
            pending = ""
    return found


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes | None


def curl(command: str, variables: dict[str, str]) -> Request:
    """The request a ``curl`` command line of the README sends."""
    for name, value in variables.items():
        command = command.replace(f"${name}", value).replace(f"${{{name}}}", value)
    args = shlex.split(command.replace("<the API key>", variables["KEY"]))
    assert args[0] == "curl", command
    method, headers, body, url = "", {}, None, ""
    words = iter(args[1:])
    for word in words:
        if word == "-s":
            continue
        if word == "-X":
            method = next(words)
        elif word == "-H":
            name, _, value = next(words).partition(":")
            headers[name.strip()] = value.strip()
        elif word == "-d":
            data = next(words)
            body = (ROOT / data[1:]).read_bytes() if data.startswith("@") else data.encode()
        else:
            assert not url, f"two URLs in {command}"
            url = word
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == "http://127.0.0.1:8000", url
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    return Request(method or ("POST" if body is not None else "GET"), path, headers, body)


@dataclass
class Tour:
    """The README's requests sent in order; ids as the README writes them mapped to real ones."""

    client: TestClient
    key: str
    ids: dict[int, int] = field(default_factory=dict)
    responses: list[tuple[Request, Any]] = field(default_factory=list)
    #: The shell variables the README has set so far (``KEY``, ``API``), kept across sections.
    variables: dict[str, str] = field(default_factory=dict)

    def run(self, text: str) -> None:
        variables = self.variables
        variables["KEY"] = self.key
        for command in commands(text):
            if command.startswith(("make ", ".venv/bin/", "printf ")):
                continue  # the server itself, and the CLI's part of the tour
            if command.startswith("KEY="):
                for assignment in command.split(";"):
                    name, _, value = assignment.strip().partition("=")
                    variables[name] = self.key if name == "KEY" else value
                continue
            self.send(curl(command, variables))

    def send(self, request: Request) -> None:
        path = re.sub(r"/customers/(\d+)", lambda m: f"/customers/{self.real(m[1])}", request.path)
        response = self.client.request(
            request.method, path, headers=request.headers, content=request.body
        )
        failed = f"{request.method} {request.path}: {response.text}"
        assert response.status_code in (200, 201), failed
        created = response.json().get("createdId")
        new = created and created not in self.ids.values()
        if request.method == "POST" and request.path == "/v2/customers" and new:
            self.ids[len(self.ids) + 1] = created  # a fresh store counts from 1
        self.responses.append((request, response))

    def real(self, readme_id: str | int) -> int:
        return self.ids[int(readme_id)]

    def answer(self, method: str, path: str) -> Any:
        """The response to the README request ``method path`` (its first occurrence)."""
        for request, response in self.responses:
            if (request.method, request.path.split("?")[0]) == (method, path):
                return response
        raise AssertionError(f"the README sends no {method} {path}")

    def answers(self, method: str, path: str) -> list[Any]:
        return [
            response
            for request, response in self.responses
            if (request.method, request.path.split("?")[0]) == (method, path)
        ]


def stated(pattern: str) -> tuple[int, ...]:
    """Numbers the README's prose states, e.g. the id it says a customer gets."""
    match = re.search(pattern, PROSE)
    assert match, f"the README no longer says {pattern!r}"
    return tuple(int(group) for group in match.groups())


@pytest.fixture
def demo_key(engine: Engine) -> str:
    """An admin key of a new org set up exactly as ``patron demo`` sets up the demo org."""
    name = unique("demo")
    with transaction(engine) as conn:
        created = create_demo_org(conn, name, f"{name}-admin")
    return str(created["api_key"])


def test_the_quick_start_then_the_tour_as_the_readme_writes_them(
    app_client: TestClient, demo_key: str
) -> None:
    tour = Tour(app_client, demo_key)

    tour.run(section("## Quick start"))
    (first_id,) = stated(r"answers Becky Thatcher's customer id \(`(\d+)` on a fresh database\)")
    (mobile,) = stated(r"stored as `(\d+)`")
    assert first_id == 1
    quick = tour.real(first_id)
    stored = tour.client.get(
        f"/v2/customers/{quick}", headers={"Authorization": f"Bearer {demo_key}"}
    )
    mobiles = [
        i["value"] for i in stored.json()["profiles"][0]["identifiers"] if i["type"] == "mobile"
    ]
    assert mobiles == [str(mobile)]

    tour.run(section("## A tour"))

    # "answers his customer id (say `N`), with warnings for ... card series and loyalty program"
    (tom_id,) = stated(r"his customer id \(say `(\d+)`")
    registered = tour.answers("POST", "/v2/customers")[1]
    tom = tour.real(tom_id)
    assert registered.json()["createdId"] == tom
    assert sorted(warning_codes(registered)) == [95001, 95002]
    found = tour.answer("GET", "/v2/customers/lookup")
    assert found.json() == {"entity": tom, "warnings": []}
    details = tour.answer("GET", f"/v2/customers/{tom_id}")
    assert details.json()["subscriptionInfo"] == {"subscriptions": []}
    renamed = tour.answer("PUT", f"/v2/customers/{tom_id}")
    assert renamed.json()["createdId"] == tom
    changes = tour.answers("POST", f"/v2/customers/{tom_id}/changeIdentifier")
    assert changes[0].json() == {"createdId": tom, "warnings": []}

    # "The non-loyalty in-store customer registered next (id `M`) owns tom@example.com"
    (casual_id,) = stated(r"registered next \(id `(\d+)`\)")
    casual = tour.answers("POST", "/v2/customers")[2]
    assert casual.json()["createdId"] == tour.real(casual_id)
    # "merges the two into customer M (warning 8051)"
    survivor_id, merge_warning = stated(r"merges the two into customer (\d+) \(warning (\d+)\)")
    assert survivor_id == casual_id
    assert changes[1].json()["createdId"] == tour.real(casual_id)
    assert warning_codes(changes[1]) == [merge_warning] == [8051]

    # "Id `N` keeps answering with the survivor (warning 91009)"
    victim_id, redirect_warning = stated(
        r"Id `(\d+)` keeps answering with the survivor \(warning (\d+)\)"
    )
    assert victim_id == tom_id
    survivor = tour.answers("GET", f"/v2/customers/{tom_id}")[1]
    assert survivor.json()["id"] == tour.real(casual_id)
    assert warning_codes(survivor) == [redirect_warning] == [91009]
    assert {p["source"] for p in survivor.json()["profiles"]} == {"MOBILE_APP", "INSTORE"}
    assert survivor.json()["loyaltyInfo"]["loyaltyType"] == "loyalty"
    # "a search by name prefix finds the survivor under its new first name"
    search = tour.answer("GET", "/v2/customers/search")
    assert [c["userId"] for c in search.json()["data"]] == [tour.real(casual_id)]
    assert len(tour.ids) == 3

    tour.run(section("### Points and tiers"))
    # "The bill, 1100 in all, earns her 110 points at SILVER's rate ..., which crosses GOLD's
    # threshold of 100 lifetime points: loyaltyDetails answers ... "currentSlab": "GOLD" ..."
    amount, earned = stated(r"The bill, (\d+) in all, earns her (\d+) points")
    bill = tour.answer("POST", "/v2/transactions").json()["transaction"]
    assert (bill["customerId"], bill["amount"]) == (quick, amount)
    assert bill["points"]["earned"] == earned
    (program,) = tour.answer("GET", "/v2/customers/lookup/loyaltyDetails").json()["data"]
    assert (program["loyaltyPoints"], program["currentSlab"]) == (earned, "GOLD")
    assert program["slabExpiryDate"] is not None
    read = tour.answer("GET", f"/v2/customers/{first_id}").json()
    assert read["loyaltyInfo"]["lifetimePurchases"] == amount
    assert read["pointsSummary"]["loyaltyPoints"] == earned
    assert [s["points"] for s in read["expirySchedules"]] == [earned]
