"""The import lifecycle on both databases: preview, commit, re-import, undo, redo,
retries and replay, cancel, and formats that must all give the same outcome."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
import xlsxwriter
from sqlalchemy.engine import Engine

from patron.auth.actor import Actor, Role
from patron.customer import deletion
from patron.imports import jobs, service
from patron.imports import repository as repo
from patron.imports.read import ReadLimits, read_upload
from patron.imports.tables import imports
from patron.kit.clock import utcnow
from patron.kit.db import create_engine, transaction
from patron.kit.errors import Conflict
from patron.kit.migrate import upgrade
from patron.lifecycle.tables import lifecycle_events
from tests.conftest import OrgHandle, _fresh_postgres
from tests.importing import (
    csv,
    editor,
    import_org,
    people,
    result,
    run,
    snapshot,
    start,
    undo,
)

HEADER = "First Name,Last Name,Mobile,Email,External Id,Store,Loyalty Points,dateofbirth"
ROWS = (
    "Ann,Lee,919800001001,ann@example.com,E-1001,mal,120.5,1990-01-31",
    "Bob,Ray,919800001002,bob@example.com,E-1002,blr,0,",
    "Cy,Dee,12,cy@example.com,E-1003,mal,5,",  # invalid mobile
    "Di,Eve,919800001004,,E-1004,nowhere,7,",  # unknown store
)


@pytest.fixture
def org(engine: Engine) -> OrgHandle:
    return import_org(engine)


def test_preview_changes_no_customer_data(engine: Engine, org: OrgHandle) -> None:
    run(engine, org, csv(HEADER, ROWS[0]))
    before = snapshot(engine, org)
    import_id = start(engine, org, csv(HEADER, *ROWS))
    preview = result(engine, org, import_id)
    assert preview.state == "previewed"
    assert preview.counts == {
        "total": 4,
        "inserted": 1,
        "updated": 0,
        "skipped": 1,
        "rejected": 2,
        "auto_corrected": 0,
    }
    assert snapshot(engine, org) == before


#: The import engine's own bookkeeping: the only tables a preview writes to.
IMPORT_TABLES = ("imports", "import_blobs")
RESTRICT_KEY = ("\\restrict ", "\\unrestrict ")


def dump(engine: Engine) -> str:
    """A dump of the whole database's data, but for the import engine's own tables.

    SQLite: ``iterdump``; PostgreSQL: ``pg_dump --data-only``.
    """
    if engine.dialect.name == "sqlite":
        raw = engine.raw_connection()
        try:
            # As on PostgreSQL, their ids' sequences (AUTOINCREMENT) go with them.
            skipped = tuple(f'INSERT INTO "{name}"' for name in IMPORT_TABLES) + tuple(
                f"INSERT INTO \"sqlite_sequence\" VALUES('{name}'," for name in IMPORT_TABLES
            )
            return "\n".join(
                line for line in raw.driver_connection.iterdump() if not line.startswith(skipped)
            )
        finally:
            raw.close()
    url = engine.url
    command = [
        shutil.which("pg_dump") or "pg_dump",
        "--data-only",
        "--no-owner",
        "--host", str(url.host), "--port", str(url.port or 5432),
        "--username", str(url.username), "--dbname", str(url.database),
        *(f"--exclude-table-data={name}" for name in IMPORT_TABLES),
    ]  # fmt: skip
    env = {**os.environ, "PGPASSWORD": str(url.password)}
    out = subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout
    # pg_dump guards its output with a random \restrict key, new on every run, and
    # sets the import tables' id sequences although their data is left out.
    sequences = tuple(f"'public.{name}_id_seq'" for name in IMPORT_TABLES)
    return "\n".join(
        line
        for line in out.splitlines()
        if not line.startswith(RESTRICT_KEY) and not any(seq in line for seq in sequences)
    )


@pytest.fixture
def own_engine(engine: Engine, tmp_path: Path) -> Iterator[Engine]:
    """A new database of the run's backend for one test: a dump of the whole session's
    database grew with every test before (24 s on SQLite, 15 s on PostgreSQL for the two
    dumps); a dump of this one holds only what the test wrote."""
    if engine.dialect.name == "sqlite":
        url = f"sqlite:///{tmp_path / 'own.db'}"
    else:
        name = f"{engine.url.database}_own"
        url = _fresh_postgres(engine.url.set(database=name).render_as_string(hide_password=False))
    own = create_engine(url)
    try:
        upgrade(own)
        yield own
    finally:
        own.dispose()
        if engine.dialect.name == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{own.url.database}" WITH (FORCE)')


def test_a_preview_leaves_the_database_byte_for_byte_unchanged(own_engine: Engine) -> None:
    engine = own_engine
    # Another org's customers and import: a preview that wrote to them would show too.
    other = import_org(engine)
    run(engine, other, csv(HEADER, *ROWS))
    org = import_org(engine)
    run(engine, org, csv(HEADER, ROWS[0]))
    changed = "Anne,Lee,919800001001,anne@example.com,E-1001,mal,99,1991-02-01"
    table = read_upload(csv(HEADER, changed, *ROWS[1:]).encode(), "c.csv", ReadLimits())
    request = service.ImportRequest(profile="loyalty-customers", file_name="c.csv")
    with transaction(engine) as conn:
        import_id = service.create_import(conn, editor(org), request, table).import_id
    before = dump(engine)
    assert "919800001001" in before  # the dump holds the customer data
    jobs.run_import(engine, org.id, import_id)
    preview = result(engine, org, import_id)
    assert (preview.counts["updated"], preview.counts["inserted"]) == (1, 1)
    assert dump(engine) == before


def test_commit_then_the_same_file_again_changes_nothing(engine: Engine, org: OrgHandle) -> None:
    first = run(engine, org, csv(HEADER, *ROWS))
    assert first.statuses() == ["inserted", "inserted", "rejected", "rejected"]
    after_first = snapshot(engine, org)
    again = run(engine, org, csv(HEADER, *ROWS))
    assert again.statuses() == ["skipped", "skipped", "rejected", "rejected"]
    assert again.counts["inserted"] == again.counts["updated"] == 0
    assert snapshot(engine, org) == after_first  # not even a timestamp moved


def test_undo_restores_and_redo_gives_the_same_store(engine: Engine, org: OrgHandle) -> None:
    run(engine, org, csv(HEADER, ROWS[0]))
    before = people(engine, org)
    changed = ("Anne,Lee,919800001001,anne@example.com,E-1001,mal,99,1991-02-01", ROWS[1])
    done = run(engine, org, csv(HEADER, *changed))
    assert done.statuses() == ["updated", "inserted"]
    after = people(engine, org)
    assert after != before
    undone = undo(engine, org, done.record["id"])
    assert undone.state == "undone"
    assert undone.counts["undo_conflicts"] == 0
    assert people(engine, org) == before
    redone = run(engine, org, csv(HEADER, *changed))
    assert redone.statuses() == ["updated", "inserted"]
    assert people(engine, org) == after


def test_undo_of_a_commit_that_stored_its_new_values_in_long_form(
    engine: Engine, org: OrgHandle
) -> None:
    """Commits of earlier versions kept the new customers' values as (customer, field, value)."""
    before = people(engine, org)
    done = run(engine, org, csv(HEADER, *ROWS[:2]))
    import_id = done.record["id"]
    with transaction(engine) as conn:
        wide = repo.get_frame(conn, org.id, import_id, "undo:inserted_values")
        assert wide is not None
        assert "field" not in wide.columns
        long = wide.unpivot(index="customer_id", variable_name="field", value_name="value")
        repo.put_frame(conn, org.id, import_id, "undo:inserted_values", long.drop_nulls("value"))
    undone = undo(engine, org, import_id)
    assert undone.state == "undone"
    assert undone.counts["undo_conflicts"] == 0
    assert people(engine, org) == before


def test_undo_leaves_fields_changed_since_as_conflicts(engine: Engine, org: OrgHandle) -> None:
    run(engine, org, csv(HEADER, ROWS[0]))
    done = run(engine, org, csv(HEADER, "Anne,Lea,919800001001,ann@example.com,E-1001,mal,120.5,"))
    customer = done.row(2)["customer_id"]
    with transaction(engine) as conn:  # someone renames her again after the import
        conn.execute(
            sa.text("UPDATE profiles SET first_name = 'Annie' WHERE customer_id = :c"),
            {"c": customer},
        )
    undone = undo(engine, org, done.record["id"])
    assert undone.counts["undo_conflicts"] == 1
    with transaction(engine, write=False) as conn:
        names = conn.execute(
            sa.text("SELECT first_name, last_name FROM profiles WHERE customer_id = :c"),
            {"c": customer},
        ).one()
        conflicts = service.conflicts(conn, editor(org), done.record["id"])
    assert tuple(names) == ("Annie", "Lee")  # the conflict kept, the last name restored
    assert conflicts.select("customer_id", "field").to_dicts() == [
        {"customer_id": customer, "field": "first_name"}
    ]


def test_undo_keeps_a_new_customer_that_gained_data_in_any_domain(
    engine: Engine, org: OrgHandle
) -> None:
    done = run(engine, org, csv(HEADER, ROWS[0]))
    customer = done.row(2)["customer_id"]
    with transaction(engine) as conn:  # a lifecycle event arrives for her afterwards
        conn.execute(
            lifecycle_events.insert().values(
                org_id=org.id, customer_id=customer, entity_type="CUSTOMER", entity_id="1",
                org_source_id="wx", activity="FOLLOW", state="DONE", added_by="test",
                reference_id="r1", updated_on=utcnow(),
            )
        )  # fmt: skip
    undone = undo(engine, org, done.record["id"])
    assert undone.state == "undone"
    with transaction(engine, write=False) as conn:
        left = service.conflicts(conn, editor(org), done.record["id"])
        kept = conn.execute(
            sa.text("SELECT count(*) FROM customers WHERE id = :c"), {"c": customer}
        ).scalar_one()
    assert kept == 1
    assert left.select("customer_id", "reason").to_dicts() == [
        {
            "customer_id": customer,
            "reason": "has data from elsewhere since the import; the customer was kept",
        }
    ]


def test_undo_after_a_deletion_brings_back_nothing_of_the_person(
    engine: Engine, org: OrgHandle
) -> None:
    run(engine, org, csv(HEADER, ROWS[0]))
    done = run(engine, org, csv(HEADER, "Anne,Lea,919800001001,ann2@example.com,E-1001,mal,9,"))
    customer = done.row(2)["customer_id"]
    admin = Actor(org_id=org.id, role=Role.admin, name="test-admin", kind="cli")
    with transaction(engine) as conn:
        deletion.delete_customer(conn, admin, customer, "erasure request")
    undone = undo(engine, org, done.record["id"])
    # The deletion emptied the import's stored rows and undo data of the person, so the
    # undo has nothing of them left to restore (nor to report as a conflict).
    assert undone.state == "undone"
    assert undone.counts["undo_conflicts"] == 0
    with transaction(engine, write=False) as conn:
        names = conn.execute(
            sa.text("SELECT first_name, last_name FROM profiles WHERE customer_id = :c"),
            {"c": customer},
        ).one()
        held = conn.execute(
            sa.text("SELECT count(*) FROM identifiers WHERE customer_id = :c"), {"c": customer}
        ).scalar_one()
    assert (tuple(names), held) == (("", ""), 0)


def test_a_failing_commit_is_retried_then_replayed(engine: Engine, org: OrgHandle) -> None:
    import_id = start(engine, org, csv(HEADER, ROWS[0]))
    _break_inserts(engine)
    try:
        with transaction(engine) as conn:
            service.confirm(conn, editor(org), import_id)
        state = jobs.run_import(engine, org.id, import_id)
        failed = result(engine, org, import_id)
        assert state == "failed"
        assert failed.record["attempts"] == service.COMMIT_RETRIES + 1
        assert "refused by test trigger" in failed.record["message"]
        assert failed.record["replay_until"] is not None
        assert snapshot(engine, org)["customers"] == []
    finally:
        _repair_inserts(engine)
    with transaction(engine) as conn:
        service.replay(conn, editor(org), import_id)
    jobs.run_import(engine, org.id, import_id)
    assert result(engine, org, import_id).state == "committed"
    assert len(snapshot(engine, org)["customers"]) == 1


def test_a_commit_that_can_never_succeed_stops_without_retries(
    engine: Engine, org: OrgHandle
) -> None:
    import_id = start(engine, org, csv(HEADER, ROWS[0]))
    with transaction(engine) as conn:
        service.confirm(conn, editor(org), import_id)
        repo.delete_frames(conn, org.id, import_id, ("source",))  # the stored file is gone
    state = jobs.run_import(engine, org.id, import_id)
    stopped = result(engine, org, import_id)
    assert state == "invalid"
    assert stopped.record["attempts"] == 0
    assert "has no stored file" in stopped.record["message"]
    assert snapshot(engine, org)["customers"] == []


def test_replay_is_refused_after_seven_days(engine: Engine, org: OrgHandle) -> None:
    import_id = start(engine, org, csv(HEADER, ROWS[0]))
    with transaction(engine) as conn:
        conn.execute(
            imports.update()
            .where(imports.c.id == import_id)
            .values(state="failed", replay_until=utcnow() - timedelta(minutes=1))
        )
        with pytest.raises(Conflict) as refused:
            service.replay(conn, editor(org), import_id)
    assert refused.value.code == 96202


def _break_inserts(engine: Engine) -> None:
    """A real database failure: a trigger refusing new customers."""
    with transaction(engine) as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql(
                "CREATE TRIGGER refuse_customers BEFORE INSERT ON customers "
                "BEGIN SELECT RAISE(ABORT, 'refused by test trigger'); END"
            )
        else:
            conn.exec_driver_sql(
                "CREATE FUNCTION refuse_customers() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'refused by test trigger'; END $$"
            )
            conn.exec_driver_sql(
                "CREATE TRIGGER refuse_customers BEFORE INSERT ON customers "
                "FOR EACH ROW EXECUTE FUNCTION refuse_customers()"
            )


def _repair_inserts(engine: Engine) -> None:
    with transaction(engine) as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("DROP TRIGGER IF EXISTS refuse_customers")
        else:
            conn.exec_driver_sql("DROP TRIGGER IF EXISTS refuse_customers ON customers")
            conn.exec_driver_sql("DROP FUNCTION IF EXISTS refuse_customers()")


def test_cancel_before_commit_and_not_after(engine: Engine, org: OrgHandle) -> None:
    import_id = start(engine, org, csv(HEADER, ROWS[0]))
    with transaction(engine) as conn:
        service.cancel(conn, editor(org), import_id)
    assert result(engine, org, import_id).state == "cancelled"
    with transaction(engine) as conn, pytest.raises(Conflict) as refused:
        service.confirm(conn, editor(org), import_id)
    assert refused.value.code == 96201
    assert "it is cancelled" in refused.value.message
    assert snapshot(engine, org)["customers"] == []


def test_imports_of_one_org_run_one_after_another(engine: Engine, org: OrgHandle) -> None:
    first = start(engine, org, csv(HEADER, ROWS[0]))
    second = start(engine, org, csv(HEADER, ROWS[1]))
    for import_id in (first, second):
        with transaction(engine) as conn:
            service.confirm(conn, editor(org), import_id)
    lease = timedelta(minutes=5)
    with transaction(engine) as conn:
        held = service.repo.claim(conn, org.id, first, "worker-a", lease)
        assert held is not None
        # While the first is leased, no worker takes the second one of the same org.
        other = service.repo.claim_next(conn, "worker-b", lease)
        assert other is None or other["org_id"] != org.id
        # Nor when it names the import: the CLI runs its own import this way.
        assert service.repo.claim(conn, org.id, second, "worker-b", lease) is None
        service.repo.release(conn, first, "worker-a")
        if other is not None:
            service.repo.release(conn, other["id"], "worker-b")
        taken = service.repo.claim(conn, org.id, second, "worker-b", lease)
        assert taken is not None
        assert taken["lease_owner"] == "worker-b"
        service.repo.release(conn, second, "worker-b")


def test_a_busy_org_does_not_hold_up_another_org(engine: Engine, org: OrgHandle) -> None:
    other_org = import_org(engine)
    mine = start(engine, org, csv(HEADER, ROWS[0]))
    theirs = start(engine, other_org, csv(HEADER, ROWS[0]))
    for owner, import_id in ((org, mine), (other_org, theirs)):
        with transaction(engine) as conn:
            service.confirm(conn, editor(owner), import_id)
    lease = timedelta(minutes=5)
    with transaction(engine) as conn:
        assert service.repo.claim(conn, org.id, mine, "worker-a", lease) is not None
        taken = service.repo.claim(conn, other_org.id, theirs, "worker-b", lease)
        assert taken is not None
        service.repo.release(conn, mine, "worker-a")
        service.repo.release(conn, theirs, "worker-b")


# --- formats ---------------------------------------------------------------------------------

TABLE = {
    "First Name": ["Ann", "Bob", "Zoë"],
    "Mobile": ["919800002001", "919800002002", "919800002003"],
    "Email": ["ann@example.com", "BOB@example.com", "zoe@example.com"],
    "Store": ["mal", "blr", "nowhere"],
}


def _delimited(separator: str, encoding: str, newline: str = "\n") -> bytes:
    lines = [separator.join(TABLE)] + [
        separator.join(TABLE[column][i] for column in TABLE) for i in range(3)
    ]
    return (newline.join(lines) + newline).encode(encoding)


def _xlsx() -> bytes:
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = book.add_worksheet("Customers")
    for col, name in enumerate(TABLE):
        sheet.write_string(0, col, name)
        for row, value in enumerate(TABLE[name], start=1):
            if name == "Mobile":
                sheet.write_number(row, col, float(value))  # as spreadsheets store numbers
            else:
                sheet.write_string(row, col, value)
    book.close()
    return buffer.getvalue()


def _ods() -> bytes:
    buffer = io.BytesIO()
    pd.DataFrame(TABLE).to_excel(buffer, engine="odf", index=False)
    return buffer.getvalue()


def _xls() -> bytes:
    import xlwt

    book = xlwt.Workbook()
    sheet = book.add_sheet("Customers")
    for col, name in enumerate(TABLE):
        sheet.write(0, col, name)
        for row, value in enumerate(TABLE[name], start=1):
            sheet.write(row, col, float(value) if name == "Mobile" else value)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


FILES = {
    "comma-utf8.csv": lambda: _delimited(",", "utf-8"),
    "bom-crlf.csv": lambda: _delimited(",", "utf-8-sig", "\r\n"),
    "pipes.csv": lambda: _delimited("|", "utf-8"),
    "tabs.tsv": lambda: _delimited("\t", "utf-16"),
    "semicolons-latin1.csv": lambda: _delimited(";", "latin-1"),
    "book.xlsx": _xlsx,
    "book.xls": _xls,
    "book.ods": _ods,
}


def test_every_format_and_encoding_gives_the_same_outcome(engine: Engine) -> None:
    outcomes = {}
    for name, build in FILES.items():
        org = import_org(engine)
        import_id = start(engine, org, build(), filename=name)
        found = result(engine, org, import_id)
        assert found.state == "previewed", (name, found.record["message"])
        outcomes[name] = found.outcomes.drop("customer_id").to_dicts()
    reference = outcomes["comma-utf8.csv"]
    assert [row["status"] for row in reference] == ["inserted", "inserted", "rejected"]
    for name, seen in outcomes.items():
        assert seen == reference, name
