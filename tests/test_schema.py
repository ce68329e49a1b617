"""Migrations match the models on both databases; org_id leads every unique key."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime
from typing import Any

import pytest
from alembic import command
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from patron.customer import repository
from patron.customer.tables import identifiers
from patron.kit.db import transaction
from patron.kit.migrate import alembic_config
from patron.kit.schema import metadata
from patron.orgs import service as orgs
from tests.conftest import make_org

# Global handles: an org's own name, a login name (HTTP Basic carries no org), and
# the digest of a random API key. Every other unique key starts with org_id.
GLOBAL_UNIQUE_KEYS = {("orgs", ("name",)), ("users", ("username",)), ("api_keys", ("digest",))}


def test_models_and_migrations_agree(engine: Engine) -> None:
    config = alembic_config(engine)
    with warnings.catch_warnings():
        # Expression indexes (lower(name)) cannot be reflected; they are in the migration.
        warnings.simplefilter("ignore")
        command.check(config)  # raises when autogenerate would produce operations


def test_org_id_leads_every_unique_key() -> None:
    for table in metadata.sorted_tables:
        uniques = [c for c in table.constraints if c.__class__.__name__ == "UniqueConstraint"]
        uniques += [i for i in table.indexes if i.unique]
        uniques += [type("single", (), {"columns": [col]})() for col in table.columns if col.unique]
        for constraint in uniques:
            names = tuple(col.name for col in constraint.columns)
            if (table.name, names) in GLOBAL_UNIQUE_KEYS:
                continue
            assert names[0] == "org_id", f"{table.name}{names} does not start with org_id"


def test_every_table_but_orgs_carries_org_id() -> None:
    for table in metadata.sorted_tables:
        if table.name != "orgs":
            assert "org_id" in table.columns, table.name


def test_the_database_itself_keeps_an_identifier_to_one_customer(engine: Engine) -> None:
    """The org-wide rule is the unique index, not a check in Python."""
    org = make_org(engine)
    other = make_org(engine)
    with transaction(engine) as conn:
        first = _customer_with_profile(conn, org.id)
        second = _customer_with_profile(conn, org.id)
        theirs = _customer_with_profile(conn, other.id)
        conn.execute(identifiers.insert().values(_identifier(org.id, first)))
        # The same value in another org, or of another type, is someone else's.
        conn.execute(identifiers.insert().values(_identifier(other.id, theirs)))
        conn.execute(identifiers.insert().values(_identifier(org.id, second, kind="cuid")))
    with pytest.raises(IntegrityError), transaction(engine) as conn:
        conn.execute(identifiers.insert().values(_identifier(org.id, second)))


def _customer_with_profile(conn: Connection, org_id: int) -> tuple[int, int]:
    label = orgs.default_label_id(conn, org_id)
    customer_id = repository.insert_customer(
        conn,
        {
            "org_id": org_id,
            "loyalty_type": "loyalty",
            "status_label_id": label,
            "registered_at": datetime.now(UTC),
        },
    )
    profile_id = repository.insert_profile(
        conn, {"org_id": org_id, "customer_id": customer_id, "source": "INSTORE"}
    )
    return customer_id, profile_id


def _identifier(org_id: int, owner: tuple[int, int], kind: str = "mobile") -> dict[str, Any]:
    customer_id, profile_id = owner
    return {
        "org_id": org_id,
        "customer_id": customer_id,
        "profile_id": profile_id,
        "type": kind,
        "value": "919845012345",
    }
