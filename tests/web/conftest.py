"""Console fixtures: users who sign in, and a test client signed in as one of them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from patron.auth import service as auth
from patron.auth.actor import Role
from patron.kit.db import transaction
from tests.conftest import OrgHandle, make_org, unique

if TYPE_CHECKING:
    from tests.web.console import Console

PASSWORD = "correct horse battery"


@dataclass
class ConsoleUser:
    """A user of a fresh org, with their password."""

    username: str
    password: str
    role: Role
    org: OrgHandle


def make_user(
    engine: Engine, role: Role, *, org: OrgHandle | None = None, password: str = PASSWORD
) -> ConsoleUser:
    """A user with ``role`` in ``org`` (a new org when none is given)."""
    org = org or make_org(engine)
    username = unique(role.name)
    with transaction(engine) as conn:
        auth.create_user(conn, org.admin, username, role, password)
    return ConsoleUser(username=username, password=password, role=role, org=org)


CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    """The CSRF token of a page's forms."""
    match = CSRF.search(html)
    assert match, "the page has no form with a CSRF token"
    return match.group(1)


def sign_in(client: TestClient, user: ConsoleUser, *, next_page: str = "/account") -> str:
    """Sign ``client`` in as ``user``; returns the session's CSRF token."""
    token = csrf_of(client.get("/signin").text)
    response = client.post(
        "/signin",
        data={
            "username": user.username,
            "password": user.password,
            "csrf_token": token,
            "next": next_page,
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return csrf_of(client.get("/account").text)


@pytest.fixture
def screens(engine: Engine) -> Iterator[Console]:
    """The console of a fresh org, with a signed-in browser per role (the profile screens)."""
    from tests.web.console import opened

    with opened(engine) as console:
        yield console
