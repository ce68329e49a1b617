"""Helpers of the profile screens' tests: browsers signed in per role, people registered."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from patron.audit.tables import audit_log
from patron.auth.actor import Role
from patron.customer.registration import register
from patron.customer.schemas import RegisterIn
from patron.kit.db import transaction
from patron.settings import Settings
from tests.conftest import OrgHandle, make_org, shared_app
from tests.factories import registration
from tests.web.conftest import ConsoleUser, make_user, sign_in


class Browser:
    """One signed-in browser (its own cookies): GETs, and POSTs carrying its CSRF token."""

    def __init__(self, client: TestClient, user: ConsoleUser, token: str) -> None:
        self.client = client
        self.user = user
        self.token = token

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.client.get(path, **kwargs)

    def htmx(self, path: str, **kwargs: Any) -> Any:
        return self.client.get(path, headers={"HX-Request": "true"}, **kwargs)

    def post(self, path: str, data: Any = None, **kwargs: Any) -> Any:
        """POST a form with the session's token (``data``: a dict or a list of pairs)."""
        pairs = list(data.items()) if isinstance(data, dict) else list(data or [])
        pairs.append(("csrf_token", self.token))
        return self.client.post(path, data=_as_dict(pairs), **kwargs)


def _as_dict(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Form pairs as httpx takes them: a list for a repeated name."""
    form: dict[str, Any] = {}
    for name, value in pairs:
        if name in form:
            current = form[name]
            form[name] = [*current, value] if isinstance(current, list) else [current, value]
        else:
            form[name] = value
    return form


class Console:
    """The console of one fresh org, with a browser per role."""

    def __init__(self, engine: Engine, app: FastAPI, stack: ExitStack) -> None:
        self.engine = engine
        self.app = app
        self.stack = stack
        self.org: OrgHandle = make_org(engine)
        self._browsers: dict[Role, Browser] = {}

    def browser(self, role: Role, *, fresh: bool = False) -> Browser:
        """A browser signed in as a user of ``role`` (the same user unless ``fresh``)."""
        if role in self._browsers and not fresh:
            return self._browsers[role]
        user = make_user(self.engine, role, org=self.org)
        return self.open(user, keep=not fresh)

    def open(self, user: ConsoleUser, *, keep: bool = False) -> Browser:
        """Another browser (another device) signed in as ``user``."""
        address = f"198.51.100.{uuid.uuid4().hex[:6]}"
        client = self.stack.enter_context(TestClient(self.app, client=(address, 50000)))
        browser = Browser(client, user, sign_in(client, user))
        if keep:
            self._browsers[user.role] = browser
        return browser

    def register(self, **kwargs: Any) -> int:
        """Register a person as the API would (``tests.factories.registration`` arguments)."""
        with transaction(self.engine) as conn:
            return register(conn, self.org.admin, RegisterIn(**registration(**kwargs))).customer_id

    def audit_actions(self, entity_id: object | None = None) -> list[tuple[str, str, Any]]:
        """(actor, action, details) of the org's audit entries, oldest first."""
        query = sa.select(audit_log.c.actor, audit_log.c.action, audit_log.c.details).where(
            audit_log.c.org_id == self.org.id
        )
        if entity_id is not None:
            query = query.where(audit_log.c.entity_id == str(entity_id))
        with transaction(self.engine, write=False) as conn:
            rows = conn.execute(query.order_by(audit_log.c.id)).all()
        return [(actor, action, details) for actor, action, details in rows]


@contextmanager
def opened(engine: Engine) -> Iterator[Console]:
    """A console of a fresh org on ``engine``; its browsers close at the end."""
    app = shared_app(engine, Settings(import_worker=False))
    with ExitStack() as stack:
        yield Console(engine, app, stack)


ROW = re.compile(r'<tr data-profile="([0-9]+)"')


def listed(html: str) -> list[int]:
    """The profile ids of a list page, in their order."""
    return [int(found) for found in ROW.findall(html)]


def field_error(html: str, input_id: str) -> str:
    """The error shown beside the input ``input_id`` ("" when none)."""
    match = re.search(rf'<p class="field-error" id="{re.escape(input_id)}-error">([^<]*)</p>', html)
    return match.group(1) if match else ""
