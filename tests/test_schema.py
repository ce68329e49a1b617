"""Migrations match the models on both databases; org_id leads every unique key."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from patron.customer import repository
from patron.customer.tables import field_values, identifiers
from patron.kit import migrate
from patron.kit.db import create_engine, transaction
from patron.kit.migrate import alembic_config
from patron.kit.schema import metadata
from patron.loyalty.tables import loyalty_accounts
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


@pytest.mark.parametrize("table", [identifiers, field_values, loyalty_accounts])
def test_a_row_cannot_name_another_orgs_customer(engine: Engine, table: sa.Table) -> None:
    org = make_org(engine)
    other = make_org(engine)
    with transaction(engine) as conn:
        theirs, their_profile = _customer_with_profile(conn, other.id)
    values: dict[str, Any] = {"org_id": org.id, "customer_id": theirs}
    if table is identifiers:
        values |= {"profile_id": their_profile, "type": "mobile", "value": "919845012399"}
    elif table is field_values:
        values |= {"kind": "custom", "name": "city", "value": "Pune"}
    with pytest.raises(IntegrityError), transaction(engine) as conn:
        conn.execute(table.insert().values(**values))


def test_a_populated_store_upgrades_to_customer_of_the_org_keys(tmp_path: Path) -> None:
    """0008 rebuilds three tables on SQLite: their rows and the keys must survive."""
    engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    migrate.upgrade(engine, "0007")
    org = make_org(engine)
    with transaction(engine) as conn:
        owner = _customer_with_profile(conn, org.id)
        conn.execute(identifiers.insert().values(_identifier(org.id, owner)))
        conn.execute(
            field_values.insert().values(
                org_id=org.id, customer_id=owner[0], kind="custom", name="city", value="Pune"
            )
        )
        conn.execute(loyalty_accounts.insert().values(org_id=org.id, customer_id=owner[0]))
    migrate.upgrade(engine)
    with transaction(engine, write=False) as conn:
        counts = [
            conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
            for t in (identifiers, field_values, loyalty_accounts)
        ]
        broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
        foreign = sa.inspect(conn).get_foreign_keys("identifiers")
    assert counts == [1, 1, 1]
    assert broken == []
    to_customers = [
        (key["constrained_columns"], key["referred_columns"])
        for key in foreign
        if key["referred_table"] == "customers"
    ]
    assert to_customers == [(["org_id", "customer_id"], ["org_id", "id"])]
    engine.dispose()
