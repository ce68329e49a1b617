"""``patron export`` and the users' email address from the command line (both databases)."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from patron.audit.tables import audit_log
from patron.auth import service as auth
from patron.kit.db import transaction
from tests.conftest import OrgHandle, unique
from tests.exporting import as_dicts, csv_rows, fill_store, xlsx_rows
from tests.test_cli import Cli, database_url


def test_patron_export_writes_the_filtered_list(
    engine: Engine, org: OrgHandle, tmp_path: Path
) -> None:
    fill_store(engine, org, 40)
    cli = Cli(database_url(engine))
    target = tmp_path / "loyal.csv"
    result = cli(
        "export",
        "--org",
        org.name,
        "--filter",
        "loyaltyType=non_loyalty",
        "--filter",
        "customField.city=Pune",
        "--filter",
        "customField.city=Delhi",
        "--fields",
        "id,firstName,customField.city",
        "--output",
        str(target),
    )
    rows = as_dicts(csv_rows(target.read_bytes()))
    # Every fifth customer is non-loyalty; cities go Pune, Pune, Delhi, Delhi, Paris...
    expected = [k for k in range(40) if k % 5 == 0 and k % 4 != 3 and (k // 2) % 4 in (0, 1)]
    assert len(rows) == len(expected)
    assert {r["customField.city"] for r in rows} == {"Pune", "Delhi"}
    assert list(rows[0]) == ["id", "firstName", "customField.city"]
    assert f"{len(expected):,} profiles written to {target}" in result.stderr
    assert not list(tmp_path.glob(".*partial"))
    with transaction(engine, write=False) as conn:
        audited = conn.execute(
            sa.select(audit_log.c.actor, audit_log.c.details).where(
                audit_log.c.org_id == org.id, audit_log.c.action == "export.download"
            )
        ).one()
    assert audited.actor == "cli"
    assert audited.details["rows"] == len(expected)


def test_patron_export_to_xlsx_holds_every_field(
    engine: Engine, org: OrgHandle, tmp_path: Path
) -> None:
    fill_store(engine, org, 12)
    cli = Cli(database_url(engine))
    target = tmp_path / "all.xlsx"
    cli("export", "--org", org.name, "--output", str(target))
    rows = as_dicts(xlsx_rows(target.read_bytes()))
    assert len(rows) == 12
    assert {"id", "mobile", "email", "cuid", "customField.city", "registeredAt"} <= set(rows[0])
    # Newest first; names that start like formulas keep their text behind an apostrophe.
    assert rows[-1]["registeredAt"] == "2020-01-01T00:00:00+00:00"
    assert {r["firstName"] for r in rows} >= {"'=Cmd", "'+Eve", "'@Gus", "'-Hal", "Ana"}


def test_a_refused_filter_leaves_no_file(engine: Engine, org: OrgHandle, tmp_path: Path) -> None:
    cli = Cli(database_url(engine))
    target = tmp_path / "out.csv"
    line = cli.fails(
        "export", "--org", org.name, "--filter", "loyaltyType=gold", "--output", str(target),
        code=3,
    )  # fmt: skip
    assert "loyaltyType" in line
    assert not target.exists()
    assert not list(tmp_path.iterdir())


def test_users_get_an_email_address(engine: Engine, org: OrgHandle) -> None:
    cli = Cli(database_url(engine))
    name = unique("maya")
    added = cli.json(
        "users", "add", name, "--org", org.name, "--role", "editor", "--email", " Maya@Acme.Test"
    )
    assert added["email"] == "maya@acme.test"
    with transaction(engine, write=False) as conn:
        assert auth.find_user(conn, org.id, name)["email"] == "maya@acme.test"  # type: ignore[index]
    assert "maya@acme.test" in cli("users", "list", "--org", org.name).stdout
    cli("users", "set-email", name, "--org", org.name, "--email", "ops@acme.test")
    with transaction(engine, write=False) as conn:
        assert auth.find_user(conn, org.id, name)["email"] == "ops@acme.test"  # type: ignore[index]
    assert (
        "gets no mail" in cli("users", "set-email", name, "--org", org.name, "--email", "").stdout
    )
    line = cli.fails("users", "set-email", name, "--org", org.name, "--email", "nope", code=3)
    assert "not a valid email address" in line
