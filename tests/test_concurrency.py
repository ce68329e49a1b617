"""Concurrent registrations of one person, over real HTTP against a served app."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from patron.customer.tables import customers, identifiers
from patron.kit.db import transaction
from patron.orgs.settings import OrgSettings
from tests.conftest import make_org
from tests.factories import registration

SPELLINGS = ["+91 98450 12345", "919845012345", "98450-12345"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def served(engine: Engine):  # type: ignore[no-untyped-def]
    """``patron serve`` in a subprocess on the test database."""
    port = _free_port()
    env = {**os.environ, "PATRON_DATABASE_URL": engine.url.render_as_string(hide_password=False)}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "patron.api.app:create_app",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{base}/docs", timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.2)
    else:
        process.kill()
        pytest.fail("the server did not start")
    yield base
    process.terminate()
    process.wait(timeout=10)


def test_thirty_concurrent_registrations_create_one_customer(served: str, engine: Engine) -> None:
    org = make_org(
        engine,
        OrgSettings(base_country_code="91", mobile_national_length=10, append_country_code=True),
    )
    headers = {"Authorization": f"Bearer {org.keys['editor']}"}

    def attempt(index: int) -> httpx.Response:
        body = registration(mobile=SPELLINGS[index % len(SPELLINGS)])
        return httpx.post(f"{served}/v2/customers", json=body, headers=headers, timeout=60)

    with ThreadPoolExecutor(max_workers=30) as pool:
        responses = list(pool.map(attempt, range(30)))

    statuses = sorted(r.status_code for r in responses)
    assert all(status in (200, 409) for status in statuses), [r.text for r in responses]
    created = {r.json()["createdId"] for r in responses if r.status_code == 200}
    assert len(created) == 1
    refused = [r.json()["errors"][0]["code"] for r in responses if r.status_code == 409]
    assert set(refused) <= {1014}
    with transaction(engine, write=False) as conn:
        count = conn.execute(
            sa.select(sa.func.count()).select_from(customers).where(customers.c.org_id == org.id)
        ).scalar_one()
        stored = (
            conn.execute(sa.select(identifiers.c.value).where(identifiers.c.org_id == org.id))
            .scalars()
            .all()
        )
    assert count == 1
    assert stored == ["919845012345"]
