"""Settings from ``PATRON_`` variables, and secrets stored only as hashes or digests."""

from __future__ import annotations

import base64

import argon2
import pytest
import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.engine import Engine

from patron.auth import secrets as password_secrets
from patron.auth import service as auth
from patron.auth.actor import Role
from patron.auth.secrets import api_key_digest
from patron.auth.tables import api_keys, users
from patron.kit.db import transaction
from patron.settings import DEVELOPMENT_SECRET, Settings
from tests.conftest import PRODUCTION_DUMMY_HASH, PRODUCTION_HASHER, Api, OrgHandle, unique
from tests.factories import register


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("DATABASE_URL", "ENVIRONMENT", "SECRET_KEY", "MAX_PAGE_SIZE"):
        monkeypatch.delenv(f"PATRON_{name}", raising=False)
    return monkeypatch


def test_the_default_database_is_an_sqlite_file_in_the_data_dir(
    clean_env: pytest.MonkeyPatch,
) -> None:
    clean_env.setenv("PATRON_DATA_DIR", "/srv/patron")
    settings = Settings(_env_file=None)
    url = sa.engine.make_url(settings.database_url)
    assert url.get_backend_name() == "sqlite"
    assert url.database == "/srv/patron/patron.db"


def test_settings_come_from_patron_variables(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("PATRON_DATABASE_URL", "postgresql+psycopg://u:p@db.example/patron")
    clean_env.setenv("PATRON_MAX_PAGE_SIZE", "250")
    clean_env.setenv("DATABASE_URL", "sqlite:///not-ours.db")  # no prefix: not read
    settings = Settings(_env_file=None)
    assert settings.database_url == "postgresql+psycopg://u:p@db.example/patron"
    assert settings.max_page_size == 250


@pytest.mark.parametrize("secret", [DEVELOPMENT_SECRET, "short"])
def test_production_refuses_a_placeholder_or_short_secret(
    clean_env: pytest.MonkeyPatch, secret: str
) -> None:
    clean_env.setenv("PATRON_ENVIRONMENT", "production")
    clean_env.setenv("PATRON_SECRET_KEY", secret)
    with pytest.raises(ValidationError, match="PATRON_SECRET_KEY"):
        Settings(_env_file=None)
    clean_env.setenv("PATRON_SECRET_KEY", "k" * 40)
    assert Settings(_env_file=None).environment == "production"


def test_production_hashes_passwords_at_argon2s_default_cost(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The tests hash their users' passwords at the lowest cost (tests/conftest.py);
    # production keeps the library's defaults, RFC 9106's low-memory profile (64 MiB,
    # 3 passes, 4 lanes), and a name nobody has costs a verification at that cost too.
    monkeypatch.setattr(password_secrets, "_hasher", PRODUCTION_HASHER)
    stored = password_secrets.hash_password("correct horse")
    assert argon2.extract_parameters(stored) == argon2.profiles.RFC_9106_LOW_MEMORY
    assert password_secrets.verify_password(stored, "correct horse")
    assert not password_secrets.verify_password(stored, "wrong horse")
    assert argon2.extract_parameters(PRODUCTION_DUMMY_HASH) == argon2.profiles.RFC_9106_LOW_MEMORY


def test_passwords_are_stored_as_argon2id_hashes(api: Api, engine: Engine) -> None:
    name = unique("clerk")
    with transaction(engine) as conn:
        password = auth.create_user(conn, api.org.admin, name, Role.editor)
    with transaction(engine, write=False) as conn:
        stored = conn.execute(
            sa.select(users.c.password_hash).where(users.c.username == name)
        ).scalar_one()
    assert stored.startswith("$argon2id$")
    assert password not in stored
    token = base64.b64encode(f"{name}:{password}".encode()).decode()
    customer_id = register(api, mobile="919845012345")
    response = api.client.get(
        f"/v2/customers/{customer_id}", headers={"Authorization": f"Basic {token}"}
    )
    assert response.status_code == 200, response.text


def test_api_keys_are_stored_as_digests_only(org: OrgHandle, engine: Engine) -> None:
    key = org.keys["editor"]
    with transaction(engine, write=False) as conn:
        rows = conn.execute(sa.select(api_keys).where(api_keys.c.org_id == org.id)).mappings()
        stored = [dict(row) for row in rows]
    assert len(stored) == len(org.keys)
    assert api_key_digest(key) in {row["digest"] for row in stored}
    for row in stored:
        assert all(key not in str(value) for value in row.values())
        assert len(row["prefix"]) < len(key)
