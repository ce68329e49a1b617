"""``patron import`` and ``patron imports ...`` against the real test databases."""

from __future__ import annotations

import csv as csvlib
import io
import json
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from typer.testing import CliRunner, Result

from patron.cli.errors import EXIT_CODES
from patron.cli.main import app
from patron.imports import codes
from patron.kit.errors import Conflict, InvalidInput, NotFound
from tests.conftest import OrgHandle
from tests.importing import SEED_HEADER, csv, import_org, people, snapshot
from tests.test_cli import database_url

FILE = csv(
    SEED_HEADER,
    "Tom,Sawyer,9900111111,tom.sawyer@example.com,lb67p,mal",
    "Becky,Thatcher,9900111112,becky@example.com,lb68p,blr",
    "Huck,Finn,12,huck@example.com,lb69p,mal",
)


class Patron:
    """``patron`` on the test database, acting on one org."""

    def __init__(self, engine: Engine, org: OrgHandle) -> None:
        self.url = database_url(engine)
        self.org = org

    def __call__(self, *args: str, code: int = 0, given: str | None = None) -> Result:
        runner = CliRunner(env={"PATRON_DATABASE_URL": self.url})
        result = runner.invoke(app, [*args, "--org", self.org.name], input=given)
        assert result.exit_code == code, (
            f"exit {result.exit_code}\nstdout: {result.stdout}\nstderr: {result.stderr}\n"
            f"{result.exception!r}"
        )
        assert "Traceback" not in result.output
        return result

    def json(self, *args: str) -> dict:  # type: ignore[type-arg]
        return json.loads(self(*args, "--json").stdout)


@pytest.fixture
def org(engine: Engine) -> OrgHandle:
    return import_org(engine)


@pytest.fixture
def patron(engine: Engine, org: OrgHandle) -> Patron:
    return Patron(engine, org)


def write(tmp_path: Path, text: str, name: str = "customers.csv") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_import_with_the_suggested_mapping_commits_and_writes_the_report(
    engine: Engine, org: OrgHandle, patron: Patron, tmp_path: Path
) -> None:
    report = tmp_path / "report.csv"
    done = patron.json(
        "import",
        write(tmp_path, FILE),
        "--option",
        "append_country_code=true",
        "--yes",
        "--report",
        str(report),
    )
    assert done["state"] == "committed"
    assert {k: done["counts"][k] for k in ("inserted", "updated", "rejected")} == {
        "inserted": 2,
        "updated": 0,
        "rejected": 1,
    }
    assert len(people(engine, org)) == 2
    rows = list(csvlib.DictReader(io.StringIO(report.read_text(encoding="utf-8-sig"))))
    assert [r["status"] for r in rows] == ["inserted", "inserted", "rejected"]
    assert rows[0]["auto_corrections"] == "Mobile: country code 91 added"
    assert "invalid mobile number" in rows[2]["errors"]
    assert rows[0]["customer_id"].isdigit()
    assert rows[2]["customer_id"] == ""


def test_the_summary_table_and_sentence(patron: Patron, tmp_path: Path) -> None:
    out = patron("import", write(tmp_path, FILE), "--option", "append_country_code=true", "--yes")
    assert "2 new, 0 updated, 0 skipped, 1 rejected, 2 auto-corrected" in out.stdout
    assert "First rejected rows (of 1)" in out.stdout
    assert "│ state" in out.stdout
    assert "committed" in out.stdout


def test_dry_run_previews_and_changes_nothing(
    engine: Engine, org: OrgHandle, patron: Patron, tmp_path: Path
) -> None:
    before = snapshot(engine, org)
    done = patron.json("import", write(tmp_path, FILE), "--dry-run")
    assert done["state"] == "previewed"
    assert done["counts"]["inserted"] == 2
    assert snapshot(engine, org) == before


def test_declining_the_prompt_leaves_the_import_previewed(
    engine: Engine, org: OrgHandle, patron: Patron, tmp_path: Path
) -> None:
    out = patron("import", write(tmp_path, FILE), given="n\n")
    assert "Commit this import?" in out.stdout
    assert people(engine, org) == []
    listed = json.loads(patron("imports", "list", "--json").stdout)
    assert [i["state"] for i in listed] == ["previewed"]
    import_id = str(listed[0]["id"])
    committed = patron.json("imports", "confirm", import_id)
    assert committed["state"] == "committed"
    assert len(people(engine, org)) == 2


def test_uncertain_columns_stop_with_the_suggestions(
    engine: Engine, org: OrgHandle, patron: Patron, tmp_path: Path
) -> None:
    data = csv("First Name,Mobile,Store,Favourite colour", "Tom,919900111111,mal,blue")
    out = patron("import", write(tmp_path, data), "--yes", code=EXIT_CODES[InvalidInput])
    assert "Suggested mapping" in out.stdout
    assert "Favourite colour" in out.stdout
    assert "--map 'First Name=first_name' Mobile=mobile Store=store" in out.stderr
    assert f"error {codes.MAPPING_UNCERTAIN}:" in out.stderr
    assert json.loads(patron("imports", "list", "--json").stdout) == []
    assert people(engine, org) == []


def test_an_explicit_mapping_leaves_other_columns_out(
    engine: Engine, org: OrgHandle, patron: Patron, tmp_path: Path
) -> None:
    data = csv("First Name,Mobile,Store,Favourite colour", "Tom,919900111111,mal,blue")
    done = patron.json(
        "import",
        write(tmp_path, data),
        "--map",
        "First Name=first_name",
        "--map",
        "Mobile=mobile",
        "--map",
        "Store=store",
        "--yes",
    )
    assert done["counts"]["inserted"] == 1
    [person] = people(engine, org)
    assert person[1][0][2] == "Tom"


def test_templates_are_created_listed_used_and_deleted(
    engine: Engine, org: OrgHandle, patron: Patron, tmp_path: Path
) -> None:
    data = csv("Nom,Portable,Magasin", "Tom,9900111111,EXT-MAL")
    created = patron.json(
        "imports",
        "templates",
        "create",
        "french",
        "--map",
        "Nom=first_name",
        "--map",
        "Portable=mobile",
        "--map",
        "Magasin=store",
        "--option",
        "stores_by_external_id=true",
        "--option",
        "append_country_code=yes",
    )
    assert json.loads(created["options"]) == {
        "stores_by_external_id": True,
        "append_country_code": True,
    }
    listed = json.loads(patron("imports", "templates", "list", "--json").stdout)
    assert [t["name"] for t in listed] == ["french"]
    done = patron.json("import", write(tmp_path, data), "--template", "french", "--yes")
    assert done["counts"]["inserted"] == 1
    [person] = people(engine, org)
    assert ("mobile", "919900111111") in person[2]
    assert person[0][1] == "mal"
    template_id = str(created["id"])
    updated = patron.json(
        "imports",
        "templates",
        "update",
        template_id,
        "--name",
        "french-v2",
        "--option",
        "append_country_code=false",
        "--date-format",
        "%d/%m/%Y",
    )
    assert updated["name"] == "french-v2"
    assert json.loads(updated["options"]) == {"stores_by_external_id": True}
    assert json.loads(updated["mapping"]) == json.loads(created["mapping"])
    shown = patron.json("imports", "templates", "show", template_id)
    assert (shown["name"], shown["date_format"]) == ("french-v2", "%d/%m/%Y")
    patron("imports", "templates", "delete", template_id)
    assert json.loads(patron("imports", "templates", "list", "--json").stdout) == []


def test_pasted_rows_from_stdin(engine: Engine, org: OrgHandle, patron: Patron) -> None:
    out = patron(
        "import",
        "--paste",
        "--map",
        "column_1=first_name",
        "--map",
        "column_2=mobile",
        "--map",
        "column_3=store",
        "--yes",
        "--json",
        given="Tom\t919900111111\tmal\nBecky\t919900111112\tblr\n",
    )
    assert json.loads(out.stdout)["counts"]["inserted"] == 2
    assert len(people(engine, org)) == 2


def test_show_undo_replay_and_report(
    engine: Engine, org: OrgHandle, patron: Patron, tmp_path: Path
) -> None:
    done = patron.json("import", write(tmp_path, FILE), "--yes")
    import_id = str(done["id"])
    assert patron.json("imports", "show", import_id)["state"] == "committed"
    report = tmp_path / "r.xlsx"
    patron("imports", "report", import_id, "--output", str(report))
    assert report.read_bytes()[:2] == b"PK"
    refused = patron("imports", "replay", import_id, code=EXIT_CODES[Conflict])
    assert f"error {codes.WRONG_STATE}: cannot replay import {import_id}" in refused.stderr
    undone = patron.json("imports", "undo", import_id)
    assert undone["state"] == "undone"
    assert people(engine, org) == []


def test_unknown_import_and_profile_are_clean_errors(patron: Patron, tmp_path: Path) -> None:
    missing = patron("imports", "show", "999999", code=EXIT_CODES[NotFound])
    assert f"error {codes.UNKNOWN_IMPORT}: no import 999999" in missing.stderr
    wrong = patron(
        "import", write(tmp_path, FILE), "--profile", "nope", code=EXIT_CODES[InvalidInput]
    )
    assert f"error {codes.UNKNOWN_PROFILE}: unknown import profile 'nope'" in wrong.stderr
