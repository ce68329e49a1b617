"""``patron demo``: a demo org the API documentation's sample requests work against."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import sqlalchemy as sa
import typer
from sqlalchemy.engine import Connection

from patron.auth import service as auth
from patron.auth.actor import Role
from patron.cli.common import (
    cli_actor,
    load_settings,
    note,
    open_engine,
    print_record,
    writable_file,
)
from patron.cli.errors import shown_url
from patron.kit.db import transaction
from patron.kit.errors import NotFound, PatronError
from patron.kit.migrate import upgrade
from patron.orgs import service as orgs
from patron.orgs.settings import OrgSettings
from patron.settings import Settings

DEMO_ORG = "demo"
DEMO_USER = "demo-admin"
DEMO_SETTINGS = OrgSettings(
    base_country_code="91", mobile_national_length=10, append_country_code=True
)
# (kind, name, type, enum values): the fields the documentation's samples send.
DEMO_FIELDS: tuple[tuple[str, str, str, list[str] | None], ...] = (
    ("custom", "employee", "boolean", None),
    ("custom", "dateofbirth", "string", None),
    ("custom", "gender", "string", None),
    ("custom", "city", "string", None),
    ("extended", "gender", "enum", ["Male", "Female", "Other"]),
    ("extended", "city", "string", None),
)
CREDENTIALS_FILE = "demo-credentials.json"


def demo(
    host: Annotated[
        str | None,
        typer.Option(
            "--host",
            help="Host shown in the printed URLs (default: PATRON_HOST or 127.0.0.1).",
            show_default=False,
        ),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(
            "--port",
            help="Port shown in the printed URLs (default: PATRON_PORT or 8000).",
            show_default=False,
        ),
    ] = None,
    credentials_file: Annotated[
        Path | None,
        typer.Option(
            "--credentials-file",
            help="Where the demo credentials are kept (default: demo-credentials.json beside "
            "the SQLite file, or in PATRON_DATA_DIR).",
            callback=writable_file,
            show_default=False,
        ),
    ] = None,
) -> None:
    """Migrate the database and create the demo org (once); print its URLs and credentials."""
    settings = load_settings()
    path = credentials_file or default_credentials_path(settings)
    with open_engine(settings, create=True) as engine:
        upgrade(engine)
        with transaction(engine) as conn:
            existing = _demo_org_id(conn)
            if existing is None:
                credentials = create_demo_org(conn)
                # Written before the commit: if it cannot be saved, no demo org is left behind.
                _save(path, credentials)
                title = "Demo org created"
            else:
                saved = _load(path)
                if saved is None or not _still_valid(conn, saved, existing):
                    _explain_missing(path)
                    return
                credentials, title = saved, "Demo org (already there)"
    base = f"http://{host or settings.host}:{port or settings.port}"
    print_record(
        title,
        {
            "API": base,
            "docs": f"{base}/docs",
            "user": credentials["user"],
            "password": credentials["password"],
            "API key": credentials["api_key"],
            "saved in": str(path),
            "database": shown_url(settings.database_url),
        },
        note="Start the server with `patron serve`.",
    )


def default_credentials_path(settings: Settings) -> Path:
    """Beside the SQLite file, so each database has its own; the data directory otherwise."""
    url = sa.engine.make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database).parent / CREDENTIALS_FILE
    return settings.data_dir / CREDENTIALS_FILE


def _demo_org_id(conn: Connection) -> int | None:
    try:
        return orgs.org_id_by_name(conn, DEMO_ORG)
    except NotFound:
        return None


def create_demo_org(
    conn: Connection, name: str = DEMO_ORG, user: str = DEMO_USER
) -> dict[str, Any]:
    """An org set up as the demo org (settings, store, till, fields); its credentials."""
    org_id = orgs.create_org(conn, name, DEMO_SETTINGS)
    actor = cli_actor(org_id)
    password = auth.create_user(conn, actor, user, Role.admin)
    api_key = auth.create_api_key(conn, actor, Role.admin, "demo")
    store = orgs.add_unit(
        conn, actor, kind="store", code="bukl", external_id="bukl-ext", name="Bukl Store"
    )
    orgs.add_unit(
        conn, actor, kind="till", code="bukl.till", name="Bukl Till", parent_id=int(store["id"])
    )
    for kind, name, data_type, values in DEMO_FIELDS:
        orgs.add_field(conn, actor, kind=kind, name=name, data_type=data_type, enum_values=values)
    return {
        "org": name,
        "org_id": org_id,
        "user": user,
        "password": password,
        "api_key": api_key,
    }


def _save(path: Path, credentials: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Created 0600 from the start: the file holds a password and an admin key.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        json.dump(credentials, file, indent=2)
        file.write("\n")
    path.chmod(0o600)


def _load(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    wanted = ("org_id", "user", "password", "api_key")
    return data if isinstance(data, dict) and all(k in data for k in wanted) else None


def _still_valid(conn: Connection, saved: dict[str, Any], org_id: int) -> bool:
    """Whether the saved file belongs to this database's demo org and still logs in."""
    try:
        key = auth.authenticate_key(conn, str(saved["api_key"]))
        user = auth.authenticate_password(conn, str(saved["user"]), str(saved["password"]))
    except PatronError:
        return False
    return key.org_id == user.org_id == org_id and saved["org_id"] == org_id


def _explain_missing(path: Path) -> None:
    note(
        f"The demo org exists, but its credentials are not in {path} (missing, or from "
        "another database). Create a new key and password with:\n"
        f"  patron keys create --org {DEMO_ORG} --role admin\n"
        f"  patron users set-password {DEMO_USER} --org {DEMO_ORG}"
    )
