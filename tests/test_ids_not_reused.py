"""An id, once given, is never given again, on either database.

SQLite without AUTOINCREMENT gives a new row the highest id in use plus one: the
id of the newest customer, once its import was undone, went to the next
customer while the undone import's report still named it. Every table with an
integer id is declared ``sqlite_autoincrement``, and migration 0012 rebuilds
the existing tables so.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import sqlalchemy as sa
from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy.engine import Connection, Engine

from patron.api.app import create_app
from patron.kit import migrate
from patron.kit.db import create_engine, transaction
from patron.kit.schema import metadata
from tests.conftest import Api, make_org
from tests.factories import register
from tests.importing import csv, import_org, run, undo

HEADER = "First Name,Last Name,Mobile,Email,Till IUN Or Store Ext Id"
TEMPLATE = {"name": "weekly", "mapping": {"Mob": "mobile", "Shop": "store"}, "options": {}}


def _tables_with_integer_ids() -> list[sa.Table]:
    return [
        table
        for table in metadata.sorted_tables
        if "id" in table.c and table.c.id.primary_key and isinstance(table.c.id.type, sa.Integer)
    ]


def _ids(engine: Engine, org_id: int) -> dict[str, set[int]]:
    """Every id of every table, of one org (an org's rows never take another org's ids)."""
    with transaction(engine, write=False) as conn:
        return {
            table.name: set(
                conn.execute(sa.select(table.c.id).where(table.c.org_id == org_id)).scalars()
            )
            for table in _tables_with_integer_ids()
            if "org_id" in table.c
        }


def _assert_new_ids_are_new(
    before: dict[str, set[int]], after_delete: dict[str, set[int]], now: dict[str, set[int]]
) -> None:
    """Rows made after the deletion have ids above every id the tables held before it."""
    for name, ids in now.items():
        created = ids - after_delete[name]
        if created and before[name]:
            assert min(created) > max(before[name]), f"{name} gave an id again"
        assert not created & (before[name] - after_delete[name]), f"{name} reused a deleted id"


def test_every_table_with_an_integer_id_autoincrements_on_sqlite() -> None:
    """A new table cannot forget it: this walks every table of the models."""
    tables = _tables_with_integer_ids()
    assert len(tables) >= 34
    forgot = [t.name for t in tables if not t.dialect_options["sqlite"]["autoincrement"]]
    assert forgot == []


def test_customers_an_undo_deleted_keep_their_ids(engine: Engine, app_client: TestClient) -> None:
    org = import_org(engine)
    lines = [f"Person,Number{c},98450{i:05d},p{i}@example.com,mal" for i, c in enumerate("abc")]
    done = run(engine, org, csv(HEADER, *lines))
    undone_customers = set(done.outcomes["customer_id"].to_list())
    assert len(undone_customers) == 3
    before = _ids(engine, org.id)
    undone = undo(engine, org, int(done.record["id"]))
    assert undone.state == "undone"
    after_undo = _ids(engine, org.id)
    assert undone_customers.isdisjoint(after_undo["customers"])

    newcomer = register(Api(app_client, org), mobile="919845099999")

    assert newcomer not in undone_customers
    assert newcomer > max(undone_customers)
    # The undone import's report still names its customers: none of them is the newcomer.
    assert newcomer not in set(undone.outcomes["customer_id"].to_list())
    _assert_new_ids_are_new(before, after_undo, _ids(engine, org.id))


def test_rows_a_customer_deletion_removed_keep_their_ids(api: Api, engine: Engine) -> None:
    tom = register(api, mobile="919845012345", email="tom@example.com", external_id="EXT-1")
    before = _ids(engine, api.org.id)
    deleted = api.delete(f"/v2/customers/{tom}", params={"reason": "asked"}, role="admin")
    assert deleted.status_code == 200, deleted.text
    after_delete = _ids(engine, api.org.id)
    assert before["identifiers"] - after_delete["identifiers"], "the deletion removed no rows"

    register(api, mobile="919845012346", email="huck@example.com", external_id="EXT-2")

    _assert_new_ids_are_new(before, after_delete, _ids(engine, api.org.id))


def test_a_deleted_template_keeps_its_id(api: Api) -> None:
    first = api.post("/v2/imports/templates", json=TEMPLATE, role="admin")
    assert first.status_code == 201, first.text
    first_id = first.json()["id"]
    assert api.delete(f"/v2/imports/templates/{first_id}", role="admin").status_code == 204

    second = api.post("/v2/imports/templates", json=TEMPLATE, role="admin")

    assert second.status_code == 201, second.text
    assert second.json()["id"] > first_id


def _schema(conn: Connection) -> dict[str, Any]:
    """Columns, foreign keys and indexes of every table, as SQLite reports them."""
    names = conn.exec_driver_sql(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    ).scalars()
    found: dict[str, Any] = {}
    for name in names:
        indexes = []
        for index in conn.exec_driver_sql(f"PRAGMA index_list('{name}')").all():
            columns = conn.exec_driver_sql(f"PRAGMA index_xinfo('{index[1]}')").all()
            sql = conn.exec_driver_sql(
                "SELECT sql FROM sqlite_master WHERE name = ?", (index[1],)
            ).scalar()
            key = [str(c[2]) for c in columns if c[5]]
            indexes.append((sql or "automatic", index[2], index[3], index[4], key))
        found[name] = (
            conn.exec_driver_sql(f"PRAGMA table_xinfo('{name}')").all(),
            sorted(
                tuple(key[2:]) for key in conn.exec_driver_sql(f"PRAGMA foreign_key_list('{name}')")
            ),
            sorted(indexes),
        )
    return found


def _counts(conn: Connection, tables: Iterable[str]) -> dict[str, int]:
    count = sa.select(sa.func.count())
    return {t: int(conn.execute(count.select_from(sa.table(t))).scalar_one()) for t in tables}


def _populate_0011(engine: Engine) -> dict[str, int]:
    """Rows as a store at revision 0011 holds them, written through that revision's own
    tables (today's code may need tables a later revision adds). Customers 4 and 5 came
    with an import, and its undo deleted them; template 2 was deleted."""
    old = sa.MetaData()
    with warnings.catch_warnings(), transaction(engine) as conn:
        warnings.filterwarnings("ignore", "Skipped unsupported reflection", sa.exc.SAWarning)
        old.reflect(conn)
        t = old.tables

        def insert(table: str, **values: Any) -> int:
            return int(conn.execute(t[table].insert().values(**values)).inserted_primary_key[0])

        org = insert("orgs", name="before-0012", settings={})
        label = insert("status_labels", org_id=org, label="Active", system_status="Active")
        now = datetime.now(UTC)
        people = [
            insert(
                "customers",
                org_id=org,
                loyalty_type="loyalty",
                status_label_id=label,
                registered_at=now,
            )
            for _ in range(5)
        ]
        profile = insert("profiles", org_id=org, customer_id=people[0], source="INSTORE")
        insert(
            "identifiers",
            org_id=org,
            customer_id=people[0],
            profile_id=profile,
            type="mobile",
            value="919845012345",
        )
        undone = insert(
            "imports",
            org_id=org,
            profile="loyalty-customers",
            file_name="c.csv",
            file_format="csv",
            row_count=2,
            mapping={},
            options={},
            state="undone",
            counts={},
        )
        outcomes = io.BytesIO()
        pl.DataFrame({"row": [0, 1], "customer_id": people[3:]}).write_parquet(outcomes)
        insert(
            "import_blobs", org_id=org, import_id=undone, kind="outcomes", data=outcomes.getvalue()
        )
        conn.execute(t["customers"].delete().where(t["customers"].c.id.in_(people[3:])))
        templates = [
            insert("import_templates", org_id=org, profile="loyalty-customers", name=name,
                   mapping={}, options={})
            for name in ("weekly", "daily")
        ]  # fmt: skip
        for action in ("import.template.create", "import.template.delete"):
            insert("audit_log", org_id=org, actor="admin", action=action, details={},
                   entity_type="import_template", entity_id=str(templates[1]))  # fmt: skip
        conn.execute(
            t["import_templates"].delete().where(t["import_templates"].c.id == templates[1])
        )
    return {"customers": people[-1], "import_templates": templates[-1]}


def test_a_populated_sqlite_store_upgrades_to_ids_never_reused(tmp_path: Path) -> None:
    """0012 rebuilds every table on SQLite: rows, columns, keys and indexes survive, every
    table gets AUTOINCREMENT, and sequences start above deleted ids that are still named."""
    engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    migrate.upgrade(engine, "0011")
    deleted = _populate_0011(engine)
    with transaction(engine, write=False) as conn:
        schema = _schema(conn)
        counts = _counts(conn, schema)
        assert conn.exec_driver_sql("SELECT count(*) FROM sqlite_master WHERE sql LIKE "
                                    "'%AUTOINCREMENT%'").scalar() == 0  # fmt: skip

    migrate.upgrade(engine, "0012")

    with transaction(engine, write=False) as conn:
        upgraded = _schema(conn)
        assert upgraded.keys() == schema.keys()
        for name, (columns, keys, indexes) in schema.items():
            assert upgraded[name] == (columns, keys, indexes), name
        assert _counts(conn, schema) == counts
        assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
        sequences = dict(conn.exec_driver_sql("SELECT name, seq FROM sqlite_sequence").all())
    assert sequences["customers"] == deleted["customers"]
    assert sequences["import_templates"] == deleted["import_templates"]

    migrate.upgrade(engine)

    with transaction(engine, write=False) as conn:
        sequences = dict(conn.exec_driver_sql("SELECT name, seq FROM sqlite_sequence").all())
        autoincremented = set()
        for name in _schema(conn):
            columns = conn.exec_driver_sql(f"PRAGMA table_info('{name}')").all()
            if not any(c[1] == "id" and c[2] == "INTEGER" and c[5] for c in columns):
                continue
            created = conn.exec_driver_sql(
                "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
            ).scalar()
            assert "id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT" in created, name
            highest = conn.execute(
                sa.select(sa.func.max(sa.column("id"))).select_from(sa.table(name))
            ).scalar()
            if highest is not None:
                assert sequences[name] >= highest, name
            autoincremented.add(name)
    assert len(autoincremented) >= 34
    assert {"customers", "import_templates", "orgs"} <= sequences.keys()

    with TestClient(create_app(engine=engine), raise_server_exceptions=False) as client:
        api = Api(client, make_org(engine))
        assert register(api, mobile="919845012399") > deleted["customers"]
        again = api.post("/v2/imports/templates", json=TEMPLATE, role="admin")
        assert again.json()["id"] > deleted["import_templates"]
    engine.dispose()


def test_the_rebuild_refuses_to_run_with_foreign_keys_enforced(tmp_path: Path) -> None:
    """Dropping the old copy of ``orgs`` with enforcement on would delete every org's rows
    (ON DELETE CASCADE): run other than through ``migrate.upgrade``, 0012 stops first."""
    engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    migrate.upgrade(engine, "0011")
    with transaction(engine) as conn:
        conn.execute(sa.table("orgs", sa.column("name"), sa.column("settings")).insert().values(
            name="kept", settings="{}"))  # fmt: skip
    config = migrate.alembic_config(engine)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        with pytest.raises(RuntimeError, match="foreign keys"):
            command.upgrade(config, "0012")
    with transaction(engine, write=False) as conn:
        assert conn.exec_driver_sql("SELECT name FROM orgs").scalars().all() == ["kept"]
        revision = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    assert revision == "0011"
    engine.dispose()
