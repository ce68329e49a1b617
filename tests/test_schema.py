"""Migrations match the models on both databases; org_id leads every unique key."""

from __future__ import annotations

import warnings

from alembic import command
from sqlalchemy.engine import Engine

from patron.kit.migrate import alembic_config
from patron.kit.schema import metadata

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
