"""Fixtures: real SQLite and real PostgreSQL, one fresh org per test.

Every test that uses ``engine`` (directly or through ``org`` / ``api``) runs once
per backend. Tenancy makes orgs independent, so each test gets a new org instead
of a new database. ``PATRON_TEST_BACKENDS=sqlite`` restricts a local run;
``PATRON_TEST_POSTGRES_URL`` points at the PostgreSQL server (default: a local
``patron`` role, as ``scripts/test.sh`` prepares it).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from patron.api.app import create_app
from patron.api.deps import CredentialCache
from patron.auth import secrets as password_secrets
from patron.auth import service as auth
from patron.auth.actor import Actor, Role
from patron.kit import integrity
from patron.kit.db import create_engine, transaction
from patron.kit.migrate import upgrade
from patron.loyalty import program_cache
from patron.orgs import service as orgs
from patron.orgs import settings_cache
from patron.orgs.settings import OrgSettings
from patron.settings import Settings, get_settings

DEFAULT_PG = "postgresql+psycopg://patron:patron@localhost:5432/patron_test"
BACKENDS = [b for b in os.environ.get("PATRON_TEST_BACKENDS", "sqlite,postgresql").split(",") if b]


def _fresh_postgres(url: str) -> str:
    """Drop and re-create the test database so every run starts from migrations."""
    target = sa.engine.make_url(url)
    admin = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)')
            conn.exec_driver_sql(f'CREATE DATABASE "{target.database}"')
    except sa.exc.OperationalError as exc:
        pytest.exit(
            f"PostgreSQL is not reachable at {target.render_as_string()}: run the tests with "
            "`make test` (it starts PostgreSQL), or set PATRON_TEST_BACKENDS=sqlite. "
            f"({exc.orig})",
            returncode=3,
        )
    finally:
        admin.dispose()
    return url


#: Argon2id's lowest cost, for the tests' passwords only. At production's parameters every
#: user a test creates and every sign-in cost about 0.2 s of CPU each; what production uses
#: is asserted by test_settings_and_secrets with :data:`PRODUCTION_HASHER`.
CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
PRODUCTION_HASHER = password_secrets._hasher
PRODUCTION_DUMMY_HASH = password_secrets._DUMMY_HASH


@pytest.fixture(scope="session", autouse=True)
def _cheap_password_hashing() -> Iterator[None]:
    password_secrets._hasher = CHEAP_HASHER
    # An unknown user name still costs what a wrong password costs.
    password_secrets._DUMMY_HASH = CHEAP_HASHER.hash(uuid.uuid4().hex)
    try:
        yield
    finally:
        password_secrets._hasher = PRODUCTION_HASHER
        password_secrets._DUMMY_HASH = PRODUCTION_DUMMY_HASH


@pytest.fixture(scope="session", params=BACKENDS)
def engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'patron.db'}"
    else:
        url = _fresh_postgres(os.environ.get("PATRON_TEST_POSTGRES_URL", DEFAULT_PG))
    engine = create_engine(url)
    upgrade(engine)
    yield engine
    try:
        _assert_store_sound(engine)
    finally:
        engine.dispose()


def _assert_store_sound(engine: Engine) -> None:
    """Whatever the session's tests wrote (imports, merges, undos...), no row names a
    missing row or a row of another org: `patron db check` on the test database."""
    with transaction(engine, write=False) as conn:
        broken = integrity.find_violations(conn)
    assert not broken, "the tests left violations in the store: " + "; ".join(
        f"{result.kind} {result.name}: {result.count} (ids {list(result.sample_ids)})"
        for result in broken
    )


@pytest.fixture
def backend(engine: Engine) -> str:
    return engine.dialect.name


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@dataclass
class OrgHandle:
    """A fresh org with one API key per role."""

    id: int
    name: str
    keys: dict[str, str] = field(default_factory=dict)

    @property
    def admin(self) -> Actor:
        return Actor(org_id=self.id, role=Role.admin, name="test-admin", kind="cli")


def make_org(engine: Engine, settings: OrgSettings | None = None) -> OrgHandle:
    """A new org with viewer, editor and admin keys."""
    with transaction(engine) as conn:
        name = unique("org")
        org_id = orgs.create_org(conn, name, settings)
        handle = OrgHandle(id=org_id, name=name)
        for role in Role:
            handle.keys[role.name] = auth.create_api_key(conn, handle.admin, role, role.name)
    return handle


@pytest.fixture
def org(engine: Engine) -> OrgHandle:
    return make_org(engine)


#: Apps built by :func:`shared_app`, by engine and settings.
_APPS: dict[tuple[int, str], FastAPI] = {}


def shared_app(engine: Engine, settings: Settings | None = None) -> FastAPI:
    """``create_app(settings, engine=engine)``, built once per engine and settings.

    FastAPI builds a route's dependencies and validators on the first request that reaches
    it in each app (about 40 ms of CPU a route): an app built per test paid that on nearly
    every request. The app keeps no state of its own between tests besides that: what
    ``create_app`` sets per app (the credentials cache, the engine's org caches) starts
    afresh here for each test, as it did with a new app.
    """
    settings = settings or get_settings()
    key = (id(engine), settings.model_dump_json())
    app = _APPS.get(key)
    if app is None or app.state.engine is not engine:
        app = _APPS[key] = create_app(settings, engine=engine)
    app.state.credentials = CredentialCache(settings.auth_cache_seconds)
    settings_cache.enable(engine, settings.org_cache_seconds)
    program_cache.enable(engine, settings.org_cache_seconds)
    return app


@pytest.fixture
def app_client(engine: Engine) -> Iterator[TestClient]:
    with TestClient(shared_app(engine), raise_server_exceptions=False) as client:
        yield client


class Api:
    """A test client acting as one org, with a role per call (editor by default)."""

    def __init__(self, client: TestClient, org: OrgHandle) -> None:
        self.client = client
        self.org = org

    def headers(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.org.keys[role]}"}

    def request(self, method: str, path: str, *, role: str = "editor", **kwargs: Any) -> Any:
        headers = {**self.headers(role), **kwargs.pop("headers", {})}
        return self.client.request(method, path, headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> Any:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self.request("DELETE", path, **kwargs)


@pytest.fixture
def api(app_client: TestClient, org: OrgHandle) -> Api:
    return Api(app_client, org)


@pytest.fixture
def other_api(app_client: TestClient, engine: Engine) -> Api:
    """A second, unrelated org on the same server."""
    return Api(app_client, make_org(engine))


def error_codes(response: Any) -> list[int]:
    return [e["code"] for e in response.json()["errors"]]


def warning_codes(response: Any) -> list[int]:
    return [w["code"] for w in response.json()["warnings"]]


DATA = Path(__file__).parent / "data"
#: The sample requests of the user guide (the specification's samples, made valid JSON).
EXAMPLES = Path(__file__).parent.parent / "docs" / "examples"


#: The chunk size of imports in chunks in the tests (``chunked``).
CHUNK = 7


@pytest.fixture
def chunked(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Callable[[bool], None]]:
    """Switch imports between chunks of :data:`CHUNK` rows (files of a few rows cross
    chunk edges) and the default (files handled whole)."""
    monkeypatch.setenv("PATRON_DATA_DIR", str(tmp_path))

    def switch(on: bool) -> None:
        if on:
            monkeypatch.setenv("PATRON_IMPORT_CHUNK_ROWS", str(CHUNK))
        else:
            monkeypatch.delenv("PATRON_IMPORT_CHUNK_ROWS", raising=False)
        get_settings.cache_clear()

    yield switch
    monkeypatch.undo()
    get_settings.cache_clear()
