"""The ``patron`` command line, run in-process against the real test databases."""

from __future__ import annotations

import importlib
import json
import re
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine
from typer.main import get_command
from typer.testing import CliRunner, Result

from patron.auth import service as auth
from patron.auth.actor import Role
from patron.cli import server
from patron.cli.demo import DEMO_ORG, DEMO_USER
from patron.cli.errors import DATABASE_EXIT_CODE, EXIT_CODES, FILE_EXIT_CODE, USAGE_EXIT_CODE
from patron.cli.main import app
from patron.kit.db import create_engine, transaction
from patron.kit.errors import ERROR_CLASSES, Conflict, Unauthenticated
from patron.kit.migrate import alembic_config
from patron.orgs import service as orgs
from tests.conftest import OrgHandle, unique

ROOT = Path(__file__).parent.parent
KEY = re.compile(r"ptn_[A-Za-z0-9_-]{43}")


def invoke(url: str, *args: str) -> Result:
    """Run ``patron ARGS`` with ``PATRON_DATABASE_URL=url``."""
    return CliRunner(env={"PATRON_DATABASE_URL": url}).invoke(app, list(args))


def database_url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


class Cli:
    """``patron`` bound to the test database; checks the exit code of every run."""

    def __init__(self, url: str) -> None:
        self.url = url

    def __call__(self, *args: str, code: int = 0) -> Result:
        result = invoke(self.url, *args)
        assert result.exit_code == code, (
            f"patron {' '.join(args)} exited {result.exit_code}, not {code}\n"
            f"stdout: {result.stdout}\nstderr: {result.stderr}\nexception: {result.exception!r}"
        )
        if code:
            # A clean failure: one line on stderr, no traceback, no half-printed output.
            assert isinstance(result.exception, SystemExit)
            assert "Traceback" not in result.output
        return result

    def fails(self, *args: str, code: int) -> str:
        """Run a command that must fail; its one error line."""
        result = self(*args, code=code)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert result.stdout == ""
        return lines[0]

    def json(self, *args: str) -> Any:
        return json.loads(self(*args, "--json").stdout)


@pytest.fixture
def cli(engine: Engine) -> Cli:
    return Cli(database_url(engine))


def field(output: str, name: str) -> str:
    """The value on the ``name`` row of a printed record table."""
    match = re.search(rf"│ {re.escape(name)}\s*│ (\S+)", output)
    assert match, f"no {name!r} row in:\n{output}"
    return match.group(1)


def org_id(engine: Engine, name: str) -> int:
    with transaction(engine, write=False) as conn:
        return orgs.org_id_by_name(conn, name)


def login(engine: Engine, username: str, password: str) -> Any:
    with transaction(engine, write=False) as conn:
        return auth.authenticate_password(conn, username, password)


def key_actor(engine: Engine, key: str) -> Any:
    with transaction(engine, write=False) as conn:
        return auth.authenticate_key(conn, key)


# --- init -------------------------------------------------------------------------


def test_init_prints_a_table_with_working_credentials(cli: Cli, engine: Engine) -> None:
    name = unique("init")
    out = cli("init", "--org", name).stdout

    assert field(out, "org") == name
    assert field(out, "user") == f"{name}-admin"
    key = field(out, "API key")
    assert KEY.fullmatch(key)
    actor = key_actor(engine, key)
    assert (actor.org_id, actor.role) == (org_id(engine, name), Role.admin)
    user = login(engine, f"{name}-admin", field(out, "password"))
    assert user.role is Role.admin


def test_init_json_prints_only_the_credentials(cli: Cli, engine: Engine) -> None:
    name = unique("init")
    created = cli.json("init", "--org", name, "--admin-user", f"{name}-boss")

    assert set(created) == {"org", "user", "password", "api_key"}
    assert (created["org"], created["user"]) == (name, f"{name}-boss")
    assert key_actor(engine, created["api_key"]).org_id == org_id(engine, name)
    assert login(engine, created["user"], created["password"]).org_id == org_id(engine, name)


def test_init_with_a_chosen_password(cli: Cli, engine: Engine) -> None:
    name = unique("init")
    created = cli.json("init", "--org", name, "--admin-password", "correct horse battery")

    assert created["password"] == "correct horse battery"
    assert login(engine, f"{name}-admin", "correct horse battery").role is Role.admin


def test_init_of_an_existing_org_is_a_clean_conflict(cli: Cli, org: OrgHandle) -> None:
    line = cli.fails("init", "--org", org.name, code=EXIT_CODES[Conflict])

    assert line == f"error 409: an org named {org.name!r} already exists"


def test_init_works_on_a_fresh_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh' / 'patron.db'}"
    result = invoke(url, "init", "--org", "fresh", "--json")

    assert result.exit_code == 0, result.output
    engine = create_engine(url)
    try:
        assert key_actor(engine, json.loads(result.stdout)["api_key"]).role is Role.admin
    finally:
        engine.dispose()


# --- keys -------------------------------------------------------------------------


def test_keys_create_json_prints_a_key_that_authenticates(
    cli: Cli, engine: Engine, org: OrgHandle
) -> None:
    created = cli.json("keys", "create", "--org", org.name, "--role", "editor", "--name", "pos")

    assert list(created) == ["api_key"]
    actor = key_actor(engine, created["api_key"])
    assert (actor.org_id, actor.role) == (org.id, Role.editor)


def test_keys_list_and_revoke(cli: Cli, engine: Engine, org: OrgHandle) -> None:
    key = cli.json("keys", "create", "--org", org.name, "--role", "viewer", "--name", "kiosk")[
        "api_key"
    ]
    with transaction(engine, write=False) as conn:
        key_id = next(k["id"] for k in auth.list_api_keys(conn, org.id) if k["name"] == "kiosk")

    listing = cli("keys", "list", "--org", org.name).stdout
    assert "kiosk" in listing
    assert key[:12] in listing
    assert key not in listing

    cli("keys", "revoke", str(key_id), "--org", org.name)
    with pytest.raises(Unauthenticated):
        key_actor(engine, key)
    line = cli.fails("keys", "revoke", str(key_id), "--org", org.name, code=6)
    assert line.startswith("error 404:")


def test_keys_refuse_an_unknown_role(cli: Cli, org: OrgHandle) -> None:
    result = cli("keys", "create", "--org", org.name, "--role", "owner", code=USAGE_EXIT_CODE)

    assert "owner" in result.stderr


# --- users ------------------------------------------------------------------------


def test_users_add_set_role_deactivate_activate(cli: Cli, engine: Engine, org: OrgHandle) -> None:
    username = unique("clerk")
    added = cli.json("users", "add", username, "--org", org.name, "--role", "viewer")
    assert (added["user"], added["role"]) == (username, "viewer")
    password = added["password"]
    assert login(engine, username, password).role is Role.viewer

    cli("users", "set-role", username, "--org", org.name, "--role", "editor")
    assert login(engine, username, password).role is Role.editor

    cli("users", "deactivate", username, "--org", org.name)
    with pytest.raises(Unauthenticated):
        login(engine, username, password)

    cli("users", "activate", username, "--org", org.name)
    assert login(engine, username, password).org_id == org.id

    listing = cli("users", "list", "--org", org.name).stdout
    assert username in listing
    assert "editor" in listing


def test_users_add_with_a_password_does_not_echo_it(
    cli: Cli, engine: Engine, org: OrgHandle
) -> None:
    username = unique("clerk")
    result = cli(
        "users",
        "add",
        username,
        "--org",
        org.name,
        "--role",
        "admin",
        "--password",
        "s3cret-enough",
    )

    assert "s3cret-enough" not in result.output
    assert login(engine, username, "s3cret-enough").role is Role.admin


def test_users_set_password(cli: Cli, engine: Engine, org: OrgHandle) -> None:
    username = unique("clerk")
    cli("users", "add", username, "--org", org.name, "--role", "viewer")

    cli("users", "set-password", username, "--org", org.name, "--password", "another-one")
    assert login(engine, username, "another-one").name == username

    generated = field(cli("users", "set-password", username, "--org", org.name).stdout, "password")
    assert login(engine, username, generated).name == username
    with pytest.raises(Unauthenticated):
        login(engine, username, "another-one")


def test_users_errors_are_clean(cli: Cli, org: OrgHandle) -> None:
    short = cli.fails(
        "users",
        "add",
        unique("u"),
        "--org",
        org.name,
        "--role",
        "viewer",
        "--password",
        "short",
        code=3,
    )
    missing = cli.fails("users", "deactivate", "nobody-here", "--org", org.name, code=6)
    no_org = cli.fails("users", "list", "--org", unique("missing"), code=6)

    assert short == "error 400: a password needs at least 8 characters"
    assert missing.startswith("error 404:")
    assert no_org.startswith("error 404: no org named")


# --- orgs -------------------------------------------------------------------------


def test_orgs_create(cli: Cli, engine: Engine) -> None:
    name = unique("brand")
    created = cli.json("orgs", "create", name)

    assert created == {"org": name, "id": org_id(engine, name)}
    assert cli.fails("orgs", "create", name, code=7).startswith("error 409:")


def test_orgs_settings_show(cli: Cli, org: OrgHandle) -> None:
    shown = cli.json("orgs", "settings", "--org", org.name)
    table = cli("orgs", "settings", "--org", org.name).stdout

    assert shown["primary_identifier"] == "mobile"
    assert shown["append_country_code"] is False
    assert field(table, "append_country_code") == "false"
    assert field(table, "primary_identifier") == "mobile"


def test_orgs_settings_set_validates_and_stores(cli: Cli, engine: Engine, org: OrgHandle) -> None:
    shown = cli.json(
        "orgs",
        "settings",
        "--org",
        org.name,
        "--set",
        "base_country_code=91",
        "--set",
        "mobile_national_length=10",
        "--set",
        "append_country_code=true",
    )

    assert (shown["base_country_code"], shown["mobile_national_length"]) == ("91", 10)
    with transaction(engine, write=False) as conn:
        stored = orgs.get_settings(conn, org.id)
    assert stored.model_dump() == shown
    assert stored.append_country_code is True


@pytest.mark.parametrize(
    ("assignments", "message"),
    [
        (["base_country_code=91", "mobile_national_length=99"], "mobile_national_length"),
        (["strict_names=maybe"], "strict_names"),
        (["colour=blue"], "unknown org setting colour"),
        (["base_country_code"], "expected key=value"),
    ],
)
def test_orgs_settings_set_invalid_changes_nothing(
    cli: Cli, engine: Engine, org: OrgHandle, assignments: list[str], message: str
) -> None:
    with transaction(engine, write=False) as conn:
        before = orgs.get_settings(conn, org.id)
    args = [arg for text in assignments for arg in ("--set", text)]

    line = cli.fails("orgs", "settings", "--org", org.name, *args, code=3)

    assert line.startswith("error 400:")
    assert message in line
    with transaction(engine, write=False) as conn:
        assert orgs.get_settings(conn, org.id) == before


# --- stores, fields, labels -------------------------------------------------------


def test_stores_add_and_list(cli: Cli, org: OrgHandle) -> None:
    store = cli.json(
        "stores", "add", "s-1", "--org", org.name, "--external-id", "ext-1", "--name", "First Store"
    )
    till = cli.json(
        "stores",
        "add",
        "s-1.t1",
        "--org",
        org.name,
        "--kind",
        "till",
        "--parent-id",
        str(store["id"]),
    )

    assert (store["kind"], store["code"], store["external_id"], store["name"]) == (
        "store",
        "s-1",
        "ext-1",
        "First Store",
    )
    assert (till["kind"], till["parent_id"], till["name"]) == ("till", store["id"], "s-1.t1")
    tills = cli("stores", "list", "--org", org.name, "--kind", "till").stdout
    assert "s-1.t1" in tills
    assert "First Store" not in tills
    assert "First Store" in cli("stores", "list", "--org", org.name).stdout


def test_stores_duplicate_code_is_a_clean_error(cli: Cli, org: OrgHandle) -> None:
    cli("stores", "add", "dup", "--org", org.name)

    line = cli.fails("stores", "add", "dup", "--org", org.name, code=7)

    assert line == "error 409: a store with code 'dup' already exists"


def test_stores_unknown_parent_is_not_found(cli: Cli, org: OrgHandle) -> None:
    line = cli.fails(
        "stores",
        "add",
        "t",
        "--org",
        org.name,
        "--kind",
        "till",
        "--parent-id",
        "987654321",
        code=6,
    )

    assert line == "error 404: org unit 987654321 not found"


def test_fields_add_and_list(cli: Cli, engine: Engine, org: OrgHandle) -> None:
    cli(
        "fields",
        "add",
        "tier",
        "--org",
        org.name,
        "--kind",
        "extended",
        "--type",
        "enum",
        "--enum-values",
        "gold, silver,bronze",
        "--scope",
        "card",
    )
    cli("fields", "add", "nickname", "--org", org.name, "--kind", "custom", "--max-length", "20")

    with transaction(engine, write=False) as conn:
        fields = {f.name: f for f in orgs.list_fields(conn, org.id)}
    assert fields["tier"].enum_values == ("gold", "silver", "bronze")
    assert (fields["tier"].kind, fields["tier"].scope) == ("extended", "card")
    assert (fields["nickname"].data_type, fields["nickname"].max_length) == ("string", 20)
    listing = cli("fields", "list", "--org", org.name).stdout
    assert "gold, silver, bronze" in listing
    assert "nickname" in listing


def test_fields_errors_are_clean(cli: Cli, org: OrgHandle) -> None:
    cli("fields", "add", "mood", "--org", org.name, "--kind", "custom")

    again = cli.fails("fields", "add", "mood", "--org", org.name, "--kind", "custom", code=7)
    no_values = cli.fails(
        "fields", "add", "size", "--org", org.name, "--kind", "custom", "--type", "enum", code=3
    )

    assert again == "error 409: the custom field 'mood' already exists"
    assert no_values == "error 400: an enum field needs enum values"


def test_labels_add_and_list(cli: Cli, engine: Engine, org: OrgHandle) -> None:
    cli(
        "labels",
        "add",
        "Watchlist",
        "--org",
        org.name,
        "--status",
        "fraud suspected",
        "--description",
        "checked by the fraud team",
    )

    with transaction(engine, write=False) as conn:
        label = orgs.find_label(conn, org.id, "watchlist")
    assert label is not None
    assert (label["system_status"], label["description"]) == (
        "Fraud Suspected",
        "checked by the fraud team",
    )
    assert "Watchlist" in cli("labels", "list", "--org", org.name).stdout
    again = cli.fails("labels", "add", "watchlist", "--org", org.name, "--status", "Active", code=7)
    assert again.startswith("error 409:")


# --- demo, db, serve --------------------------------------------------------------


def test_demo_creates_once_and_prints_the_same_credentials_again(
    cli: Cli, engine: Engine, tmp_path: Path
) -> None:
    if engine.dialect.name == "sqlite":
        # The default: beside the SQLite file.
        options: list[str] = []
        saved = Path(engine.url.database or "").parent / "demo-credentials.json"
    else:
        saved = tmp_path / "credentials.json"
        options = ["--credentials-file", str(saved)]

    first = cli("demo", "--port", "8123", *options).stdout
    second = cli("demo", "--port", "8123", *options).stdout

    credentials = json.loads(saved.read_text())
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert field(first, "API") == "http://127.0.0.1:8123"
    assert field(first, "database") == engine.url.render_as_string(hide_password=True)
    assert field(first, "docs") == "http://127.0.0.1:8123/docs"
    for out in (first, second):
        assert field(out, "user") == DEMO_USER
        assert field(out, "password") == credentials["password"]
        assert field(out, "API key") == credentials["api_key"]
    assert login(engine, DEMO_USER, credentials["password"]).role is Role.admin
    assert key_actor(engine, credentials["api_key"]).org_id == org_id(engine, DEMO_ORG)
    _assert_demo_org(engine)

    # Credentials kept elsewhere (or lost): say how to make new ones, create nothing.
    lost = cli("demo", "--credentials-file", str(tmp_path / "elsewhere.json"))
    assert "patron keys create --org demo --role admin" in lost.stderr
    assert lost.stdout == ""
    assert not (tmp_path / "elsewhere.json").exists()


def _assert_demo_org(engine: Engine) -> None:
    demo_id = org_id(engine, DEMO_ORG)
    with transaction(engine, write=False) as conn:
        settings = orgs.get_settings(conn, demo_id)
        units, _ = orgs.list_units(conn, demo_id, None, 10, 0)
        fields = {(f.kind, f.name): f for f in orgs.list_fields(conn, demo_id)}
    assert (settings.base_country_code, settings.mobile_national_length) == ("91", 10)
    assert settings.append_country_code is True
    by_code = {unit["code"]: unit for unit in units}
    assert (by_code["bukl"]["external_id"], by_code["bukl"]["name"]) == ("bukl-ext", "Bukl Store")
    assert by_code["bukl.till"]["kind"] == "till"
    assert by_code["bukl.till"]["parent_id"] == by_code["bukl"]["id"]
    assert fields[("custom", "employee")].data_type == "boolean"
    assert {name for kind, name in fields if kind == "custom"} == {
        "employee",
        "dateofbirth",
        "gender",
        "city",
    }
    assert fields[("extended", "gender")].enum_values == ("Male", "Female", "Other")
    assert fields[("extended", "city")].data_type == "string"


def test_db_upgrade_and_current(cli: Cli, engine: Engine, tmp_path: Path) -> None:
    head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    shown = engine.url.render_as_string(hide_password=True)

    assert cli("db", "upgrade").stdout.strip() == f"database {shown} at revision {head} (head)"
    assert cli("db", "current").stdout.strip() == f"{head} (head)"

    # Only `db upgrade` (like init and demo) creates a database; `db current` names the missing one.
    new = tmp_path / "new" / "patron.db"
    fresh = Cli(f"sqlite:///{new}")
    missing = fresh.fails("db", "current", code=DATABASE_EXIT_CODE)
    assert missing.startswith(f"error: database sqlite:///{new}: no such file; create it with ")
    assert not new.parent.exists()
    upgraded = fresh("db", "upgrade").stdout.strip()
    assert upgraded == f"database sqlite:///{new} at revision {head} (head)"
    assert fresh("db", "current").stdout.strip() == f"{head} (head)"


def test_serve_runs_uvicorn_on_the_app(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    served: dict[str, Any] = {}

    def run(app: Any, **options: Any) -> None:
        served.update(options, app=app)

    monkeypatch.setattr(server.uvicorn, "run", run)
    cli("serve", "--host", "127.0.0.2", "--port", "8765", "--workers", "3")

    # Each worker process builds the app from the environment (a factory).
    assert {k: served[k] for k in ("app", "factory", "host", "port", "workers")} == {
        "app": "patron.api.app:serve_app",
        "factory": True,
        "host": "127.0.0.2",
        "port": 8765,
        "workers": 3,
    }
    module, _, factory = served["app"].partition(":")
    assert callable(getattr(importlib.import_module(module), factory))


def test_an_unreachable_database_is_one_clean_line() -> None:
    result = invoke("postgresql+psycopg://nobody:nothing@127.0.0.1:1/none", "db", "current")

    assert result.exit_code == DATABASE_EXIT_CODE
    assert result.stderr.startswith("error: database postgresql+psycopg://nobody:***@127.0.0.1:1")
    assert "nothing" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


# --- the command tree -------------------------------------------------------------


def command_paths(command: Any = None, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, Any]]:
    """Every command and group below ``command`` (default: the root), as "keys create"."""
    command = command or get_command(app)
    for name, sub in sorted(command.commands.items()):
        path = (*prefix, name)
        yield " ".join(path), sub
        if hasattr(sub, "commands"):
            yield from command_paths(sub, path)


def test_every_error_class_has_its_own_exit_code() -> None:
    codes = [EXIT_CODES[cls] for cls in ERROR_CLASSES]

    assert len(set(codes)) == len(codes)
    assert not set(codes) & {0, 1, USAGE_EXIT_CODE, DATABASE_EXIT_CODE, FILE_EXIT_CODE}


def test_every_command_and_option_has_help_text() -> None:
    paths = {"": get_command(app), **dict(command_paths())}
    assert {"init", "serve", "demo", "db upgrade", "keys create", "users set-password"} <= set(
        paths
    )
    for path, command in paths.items():
        assert (command.help or "").strip(), f"`patron {path}` has no help text"
        for param in command.params:
            assert (getattr(param, "help", None) or "").strip(), (
                f"{param.name} of `patron {path}` has no help text"
            )


@pytest.mark.parametrize("document", ["README.md", "docs/cli.md"])
def test_every_command_is_documented(document: str) -> None:
    text = (ROOT / document).read_text(encoding="utf-8")

    missing = [path for path, _ in command_paths() if f"patron {path}" not in text]

    assert not missing, f"{document} does not mention: {', '.join(missing)}"
