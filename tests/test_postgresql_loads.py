"""Bulk loads of customer rows (docs/postgresql-loads.md): the staged writer's set-based
reference checks refuse what the foreign keys refuse, and lock what they lock; a pooled
connection never checks a key with a plan made while the parent table was nearly empty."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime

import polars as pl
import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from patron.customer import bulk_repository
from patron.customer.tables import customers, identifiers, profiles
from patron.imports.context import load_context
from patron.imports.profiles.loyalty_customers.apply import write_changes
from patron.kit.bulk import insert_frame, next_ids
from patron.kit.db import transaction
from patron.orgs import service as orgs

from .conftest import OrgHandle, make_org
from .importing import csv, import_org, members_file, run
from .importing import people as stored_people

#: What a foreign key raises: SQLite's driver error comes through ``executemany`` unwrapped.
REFUSED = (sa.exc.IntegrityError, sqlite3.IntegrityError)
#: Enough rows for the set-based path.
ROWS = bulk_repository.SET_BASED_ROWS


def _new_customers(conn: Connection, org_id: int, count: int) -> pl.DataFrame:
    """``count`` customers of the org with their in-store profile: (customer_id, profile_id)."""
    ids = next_ids(conn, customers, count)
    bulk_repository.write_rows(
        conn,
        customers,
        pl.DataFrame({"id": ids}).with_columns(
            org_id=pl.lit(org_id, pl.Int64),
            loyalty_type=pl.lit("loyalty"),
            status_label_id=pl.lit(orgs.default_label_id(conn, org_id), pl.Int64),
            registered_at=pl.lit(datetime(2026, 1, 1, tzinfo=UTC)),
        ),
    )
    people = pl.DataFrame({"customer_id": ids, "profile_id": next_ids(conn, profiles, count)})
    bulk_repository.write_rows(
        conn,
        profiles,
        people.select(
            id="profile_id",
            customer_id="customer_id",
            org_id=pl.lit(org_id, pl.Int64),
            source=pl.lit("INSTORE"),
        ),
    )
    return people


def _identifiers(org_id: int, people: pl.DataFrame, prefix: str) -> pl.DataFrame:
    return people.select(
        "customer_id",
        "profile_id",
        org_id=pl.lit(org_id, pl.Int64),
        type=pl.lit("externalId"),
        value=pl.lit(prefix) + pl.col("customer_id").cast(pl.String),
    )


def _count(engine: Engine, org_id: int) -> int:
    with transaction(engine, write=False) as conn:
        query = sa.select(sa.func.count()).where(identifiers.c.org_id == org_id)
        return int(conn.execute(query).scalar_one())


@pytest.fixture
def people(engine: Engine, org: OrgHandle) -> pl.DataFrame:
    with transaction(engine) as conn:
        return _new_customers(conn, org.id, ROWS)


def test_a_large_frame_is_written_whole(
    engine: Engine, org: OrgHandle, people: pl.DataFrame
) -> None:
    with transaction(engine) as conn:
        bulk_repository.write_rows(conn, identifiers, _identifiers(org.id, people, "X-"))
    assert _count(engine, org.id) == ROWS
    with transaction(engine, write=False) as conn:
        held = conn.execute(
            sa.select(sa.func.count(sa.distinct(identifiers.c.customer_id))).where(
                identifiers.c.org_id == org.id
            )
        ).scalar_one()
    assert held == ROWS


def test_a_row_naming_a_missing_customer_is_refused(
    engine: Engine, org: OrgHandle, people: pl.DataFrame
) -> None:
    frame = _identifiers(org.id, people, "M-")
    missing = int(people["customer_id"].max()) + 1_000_000  # type: ignore[arg-type]
    frame = frame.with_columns(
        customer_id=pl.when(pl.int_range(pl.len()) == ROWS // 2)
        .then(missing)
        .otherwise("customer_id")
    )
    with pytest.raises(REFUSED), transaction(engine) as conn:
        bulk_repository.write_rows(conn, identifiers, frame)
    assert _count(engine, org.id) == 0


def test_a_row_naming_another_orgs_customer_is_refused(
    engine: Engine, org: OrgHandle, people: pl.DataFrame
) -> None:
    other = make_org(engine)
    # The other org's rows, each naming one of this org's customers.
    frame = _identifiers(org.id, people, "O-").with_columns(org_id=pl.lit(other.id, pl.Int64))
    with pytest.raises(REFUSED), transaction(engine) as conn:
        bulk_repository.write_rows(conn, identifiers, frame)
    assert _count(engine, other.id) == 0


def test_a_profile_of_another_orgs_customer_is_refused_set_based(
    engine: Engine, backend: str, org: OrgHandle, people: pl.DataFrame
) -> None:
    """Stricter than the keys: ``profiles.customer_id`` names a customer without its org."""
    if backend != "postgresql":
        pytest.skip("the set-based checks are PostgreSQL's")
    other = make_org(engine)
    with pytest.raises(sa.exc.IntegrityError, match="of the same org"), transaction(engine) as conn:
        bulk_repository.write_rows(
            conn,
            profiles,
            people.select(
                id=next_ids(conn, profiles, ROWS),
                customer_id="customer_id",
                org_id=pl.lit(other.id, pl.Int64),
                source=pl.lit("WEBSITE"),
            ),
        )


def test_the_customers_named_stay_locked_until_commit(
    engine: Engine, backend: str, org: OrgHandle, people: pl.DataFrame
) -> None:
    """As a key's check does, the set-based check locks the parents it found (FOR KEY SHARE):
    another transaction cannot delete them before the load commits."""
    if backend != "postgresql":
        pytest.skip("row locks are PostgreSQL's")
    victim = int(people["customer_id"][0])
    with transaction(engine) as conn:
        bulk_repository.write_rows(conn, identifiers, _identifiers(org.id, people, "L-"))
        with engine.connect() as other:
            other.exec_driver_sql("SET lock_timeout = '200ms'")
            with pytest.raises(sa.exc.OperationalError, match="lock timeout"):
                other.execute(
                    sa.select(customers.c.id).where(customers.c.id == victim).with_for_update()
                )
            other.rollback()


@pytest.fixture
def explained(engine: Engine, backend: str) -> Iterator[tuple[Connection, list[str]]]:
    """A connection whose statements, the keys' nested checks included, have their plans
    sent to it as notices (``auto_explain``, which needs a superuser)."""
    if backend != "postgresql":
        pytest.skip("PostgreSQL's plans")
    with engine.connect() as conn:
        if conn.exec_driver_sql("SHOW is_superuser").scalar_one() != "on":
            pytest.skip("auto_explain needs a superuser")
        notices: list[str] = []
        driver = conn.connection.driver_connection
        assert isinstance(driver, psycopg.Connection)
        driver.add_notice_handler(
            lambda diagnostic: notices.append(diagnostic.message_primary or "")
        )
        for statement in (
            "LOAD 'auto_explain'",
            "SET auto_explain.log_min_duration = 0",
            "SET auto_explain.log_nested_statements = on",
            "SET auto_explain.log_level = notice",
        ):
            conn.exec_driver_sql(statement)
        conn.commit()
        try:
            yield conn, notices
        finally:
            conn.rollback()
            conn.exec_driver_sql("RESET auto_explain.log_min_duration")
            conn.commit()


def _key_checks(notices: list[str], parent: str) -> list[str]:
    """The plans of the foreign keys' own checks of ``parent`` among ``notices``."""
    return [text for text in notices if f'FROM ONLY "public"."{parent}"' in text]


def test_a_pooled_connection_plans_the_key_checks_again(
    explained: tuple[Connection, list[str]],
) -> None:
    """The plan of a key's check, made while the parent held one analyzed row, is a
    sequential scan; after thousands of parents are loaded the next load's checks must
    not reuse it."""
    conn, notices = explained
    parent, child = "load_parent", "load_child"
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {child}, {parent}")
    conn.exec_driver_sql(f"CREATE TABLE {parent} (id bigint PRIMARY KEY)")
    conn.exec_driver_sql(
        f"CREATE TABLE {child} (id bigserial PRIMARY KEY, "
        f"parent_id bigint NOT NULL REFERENCES {parent} (id))"
    )
    conn.exec_driver_sql(f"INSERT INTO {parent} VALUES (1)")  # noqa: S608 - our names
    conn.exec_driver_sql(f"ANALYZE {parent}")
    conn.commit()
    # A small load first: the check's plan is made, cached and (after five uses) generic.
    for _ in range(8):
        conn.exec_driver_sql(f"INSERT INTO {child} (parent_id) VALUES (1)")  # noqa: S608
    conn.commit()
    assert any("Seq Scan" in text for text in _key_checks(notices, parent))
    notices.clear()
    # Then a large one on the same connection: parents, then children naming them.
    insert_frame(conn, parent, pl.DataFrame({"id": pl.int_range(2, 20_002, eager=True)}))
    insert_frame(conn, child, pl.DataFrame({"parent_id": pl.int_range(2, 22, eager=True)}))
    checks = _key_checks(notices, parent)
    conn.commit()
    conn.exec_driver_sql(f"DROP TABLE {child}, {parent}")
    conn.commit()
    assert len(checks) == 20
    assert all("Index" in text and "Seq Scan" not in text for text in checks)


def test_a_large_load_runs_no_per_row_key_check(
    explained: tuple[Connection, list[str]], org: OrgHandle, people: pl.DataFrame
) -> None:
    conn, notices = explained
    bulk_repository.write_rows(conn, identifiers, _identifiers(org.id, people, "N-"))
    conn.commit()
    assert _key_checks(notices, "customers") == []
    assert _key_checks(notices, "profiles") == []
    # The set-based checks ran instead, and the rows are there.
    assert any("FOR KEY SHARE" in text for text in notices)
    written = sa.select(sa.func.count()).where(identifiers.c.org_id == org.id)
    assert conn.execute(written).scalar_one() == ROWS


def test_the_customer_tables_have_no_trigger_of_their_own(engine: Engine, backend: str) -> None:
    """Copying with ``session_replication_role = replica`` skips every trigger and rule of
    the table, not only the keys' checks: the tables the writer fills must have none."""
    if backend != "postgresql":
        pytest.skip("PostgreSQL's triggers")
    names = ["customers", "profiles", "identifiers", "loyalty_accounts", "field_values"]
    with transaction(engine, write=False) as conn:
        triggers = conn.execute(
            sa.text(
                "SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                "WHERE NOT t.tgisinternal AND c.relname = ANY(:names)"
            ),
            {"names": names},
        ).scalar_one()
        rules = conn.execute(
            sa.text("SELECT count(*) FROM pg_rules WHERE tablename = ANY(:names)"),
            {"names": names},
        ).scalar_one()
        keys = conn.execute(
            sa.text(
                "SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                "WHERE t.tgisinternal AND c.relname = ANY(:names)"
            ),
            {"names": names},
        ).scalar_one()
    assert (triggers, rules) == (0, 0)
    assert keys > 0  # the keys' own triggers are there (and counted by the query above)


def test_a_large_import_stores_the_same_customers_either_way(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same file through the Loyalty Customers profile, once with its frames checked
    set-based (on PostgreSQL) and once with the keys' per-row checks: the same store."""
    header = "First Name,Last Name,Mobile,Email,External Id,Store"
    lines = [f"Ann,Lee,9198{n:08d},ann{n}@example.com,X-{n},mal" for n in range(ROWS + 500)]
    set_based, per_row = import_org(engine), import_org(engine)
    done = run(engine, set_based, csv(header, *lines))
    monkeypatch.setattr(bulk_repository, "SET_BASED_ROWS", 1 << 62)
    again = run(engine, per_row, csv(header, *lines))
    assert done.counts == again.counts
    stored = stored_people(engine, set_based)
    assert len(stored) == ROWS + 500
    assert stored == stored_people(engine, per_row)


@pytest.mark.parametrize("granted", [False, True], ids=["without-grant", "with-grant"])
def test_a_role_that_is_no_superuser_needs_the_grant(
    explained: tuple[Connection, list[str]], org: OrgHandle, people: pl.DataFrame, granted: bool
) -> None:
    """patron's role in production is no superuser: without ``GRANT SET ON PARAMETER
    session_replication_role`` the writer keeps the keys' per-row checks (slower, as safe);
    with it, the checks are set-based (docs/postgresql-loads.md, docs/deployment.md)."""
    conn, notices = explained
    role = "patron_test_plain_role"
    conn.exec_driver_sql(
        f"DO $$ BEGIN CREATE ROLE {role} NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$"
    )
    conn.exec_driver_sql(f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {role}")
    conn.exec_driver_sql(f"GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {role}")
    grant = "GRANT" if granted else "REVOKE"
    direction = "TO" if granted else "FROM"
    conn.exec_driver_sql(f"{grant} SET ON PARAMETER session_replication_role {direction} {role}")
    conn.commit()
    try:
        conn.exec_driver_sql(f"SET ROLE {role}")
        assert conn.exec_driver_sql("SHOW is_superuser").scalar_one() == "off"
        bulk_repository.write_rows(conn, identifiers, _identifiers(org.id, people, "G-"))
        conn.commit()
        written = sa.select(sa.func.count()).where(identifiers.c.org_id == org.id)
        assert conn.execute(written).scalar_one() == ROWS
    finally:
        conn.rollback()
        conn.exec_driver_sql("RESET ROLE")
        conn.exec_driver_sql(f"REVOKE SET ON PARAMETER session_replication_role FROM {role}")
        conn.commit()
    per_row = _key_checks(notices, "customers")
    if granted:
        assert per_row == []
        assert any("FOR KEY SHARE" in text for text in notices)
    else:
        assert len(per_row) == ROWS  # one check of the customer per row written


def _updates(conn: Connection) -> dict[str, tuple[int, int]]:
    """This transaction's (updates, HOT updates) of customers and loyalty_accounts so far."""
    rows = conn.exec_driver_sql(
        "SELECT relname, n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables "
        "WHERE relname IN ('customers', 'loyalty_accounts')"
    )
    return {str(name): (int(updated), int(hot)) for name, updated, hot in rows}


def test_an_import_update_of_loaded_customers_touches_no_index(
    engine: Engine, backend: str
) -> None:
    """customers and loyalty_accounts keep half of each page free (fillfactor 50,
    migration 0024): an update of every customer just loaded, in one transaction, writes
    each new version beside the old one (HOT), not into every index of the table. With a
    fifth of each page free (0023) only about a quarter of them were."""
    if backend != "postgresql":
        pytest.skip("fillfactor and HOT updates are PostgreSQL's")
    org = import_org(engine)
    run(engine, org, members_file(1_000, "hot", "91972", bad_row=3))
    with transaction(engine) as conn:
        ids = conn.execute(
            sa.select(customers.c.id).where(customers.c.org_id == org.id).order_by(customers.c.id)
        ).scalars()
        changed = list(ids)
        ctx = load_context(
            conn,
            org_id=org.id,
            import_id=0,
            actor_name="test",
            options={},
            date_format=None,
            columns={},
            first_row_number=2,
            max_field_length=255,
        )
        before = _updates(conn)
        values = pl.DataFrame(
            {"customer_id": changed, "profile_id": None, "field": "loyalty_points", "value": "7"},
            schema={
                "customer_id": pl.Int64,
                "profile_id": pl.Int64,
                "field": pl.String,
                "value": pl.String,
            },
        )
        write_changes(conn, ctx, values)
        after = _updates(conn)
        conn.rollback()
    for table in ("customers", "loyalty_accounts"):
        updated = after[table][0] - before.get(table, (0, 0))[0]
        hot = after[table][1] - before.get(table, (0, 0))[1]
        assert updated >= len(changed), table
        assert hot == updated, (table, updated, hot)
