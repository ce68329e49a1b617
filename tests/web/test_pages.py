"""Console pages over HTTP: redirects, roles, error pages, assets served by patron itself."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from patron.audit.tables import audit_log
from patron.auth.actor import Role
from patron.kit.db import transaction
from patron.kit.errors import ERROR_CLASSES
from patron.orgs import service as orgs
from patron.settings import Settings
from patron.web import templating
from patron.web.errors import PAGE_STATUS
from patron.web.timezones import localtime
from tests.conftest import shared_app
from tests.web.conftest import ConsoleUser, make_user, sign_in

TEMPLATES = Path(templating.__file__).parent / "templates"
CONTENT_TYPES = {
    ".css": ("text/css",),
    ".js": ("text/javascript", "application/javascript"),
    ".svg": ("image/svg+xml",),
    ".png": ("image/png",),
}


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    address = f"198.51.100.{uuid.uuid4().hex[:6]}"
    app = shared_app(engine, Settings(import_worker=False))
    with TestClient(app, client=(address, 50000)) as client:
        yield client


@pytest.fixture
def admin(engine: Engine) -> ConsoleUser:
    return make_user(engine, Role.admin)


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [value for name, value in attrs if name in ("src", "href") and value]


def _links(html: str) -> list[str]:
    parser = _Links()
    parser.feed(html)
    return parser.urls


def test_the_front_door_sends_to_sign_in_or_to_the_profiles(
    client: TestClient, admin: ConsoleUser
) -> None:
    assert client.get("/", follow_redirects=False).headers["location"] == "/signin"
    sign_in(client, admin)
    assert client.get("/", follow_redirects=False).headers["location"] == "/profiles"


def test_a_page_asks_to_sign_in_and_comes_back_afterwards(client: TestClient) -> None:
    response = client.get("/keys?x=1", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/signin?next=%2Fkeys%3Fx%3D1"
    htmx = client.get("/keys", headers={"HX-Request": "true"}, follow_redirects=False)
    assert htmx.headers["HX-Redirect"].startswith("/signin")


def test_every_page_loads_only_what_patron_serves(client: TestClient, admin: ConsoleUser) -> None:
    """No page (nor /docs) loads anything from another host; every asset answers 200."""
    pages = {"/signin": client.get("/signin")}
    sign_in(client, admin)
    for path in ("/account", "/users", "/keys", "/no-such-page", "/docs"):
        pages[path] = client.get(path)
    assets: set[str] = set()
    for path, response in pages.items():
        assert response.headers["content-type"].startswith("text/html"), path
        for url in _links(response.text):
            parts = urlsplit(url)
            assert not parts.scheme, f"{path} links to {url}"
            assert not parts.netloc, f"{path} links to {url}"
            if Path(parts.path).suffix in CONTENT_TYPES:
                assets.add(parts.path)
    assert {"/static/htmx/htmx.min.js", "/static/patron.css", "/static/favicon.svg"} <= assets
    assert {
        "/static/swagger-ui/swagger-ui-bundle.js",
        "/static/swagger-ui/swagger-ui.css",
    } <= assets
    for asset in sorted(assets):
        response = client.get(asset)
        assert response.status_code == 200, asset
        content_type = response.headers["content-type"].split(";")[0]
        assert content_type in CONTENT_TYPES[Path(asset).suffix], asset
        assert len(response.content) > 100, asset
    assert b"htmx" in client.get("/static/htmx/htmx.min.js").content


def test_console_pages_forbid_scripts_from_elsewhere(client: TestClient) -> None:
    policy = client.get("/signin").headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy


def test_the_api_keeps_its_json_errors_and_the_console_has_pages(client: TestClient) -> None:
    api = client.get("/v2/nothing-here")
    assert api.status_code == 404
    assert api.json()["errors"][0]["message"] == "no such endpoint"
    page = client.get("/nothing-here")
    assert page.status_code == 404
    assert "Page not found" in page.text
    assert client.get("/redoc").status_code == 404
    assert client.get("/openapi.json").json()["info"]["title"] == "patron"


def test_a_viewer_sees_no_admin_navigation_and_is_refused_admin_pages(
    client: TestClient, engine: Engine, admin: ConsoleUser
) -> None:
    viewer = make_user(engine, Role.viewer, org=admin.org)
    token = sign_in(client, viewer)
    account = client.get("/account").text
    assert 'href="/profiles"' in account
    for admin_only in ('href="/users"', 'href="/keys"', 'href="/settings"'):
        assert admin_only not in account
    for path in ("/users", "/keys"):
        refused = client.get(path)
        assert refused.status_code == 403
        assert "This needs the admin role" in refused.text
    forged = client.post(
        "/keys/create", data={"name": "mine", "role": "admin", "csrf_token": token}
    )
    assert forged.status_code == 403
    with transaction(engine, write=False) as conn:
        names = conn.execute(
            sa.text("SELECT name FROM api_keys WHERE org_id = :org"), {"org": admin.org.id}
        ).scalars()
        assert "mine" not in set(names)


def test_console_changes_are_audited_as_the_signed_in_user(
    client: TestClient, engine: Engine, admin: ConsoleUser
) -> None:
    token = sign_in(client, admin)
    name = f"added-{uuid.uuid4().hex[:8]}"
    client.post("/users/add", data={"username": name, "role": "editor", "csrf_token": token})
    client.post("/keys/create", data={"name": "till 4", "role": "viewer", "csrf_token": token})
    with transaction(engine, write=False) as conn:
        rows = conn.execute(
            sa.select(audit_log.c.actor, audit_log.c.action, audit_log.c.entity_id).where(
                audit_log.c.org_id == admin.org.id
            )
        ).all()
    actions = {(actor, action) for actor, action, _ in rows}
    assert (admin.username, "console.sign_in") in actions
    assert (admin.username, "user.create") in actions
    assert (admin.username, "api_key.create") in actions


def test_times_are_shown_in_the_orgs_time_zone(
    client: TestClient, engine: Engine, admin: ConsoleUser
) -> None:
    with transaction(engine) as conn:
        orgs.change_settings(conn, admin.org.admin, {"time_zone": "Asia/Kolkata"})
    sign_in(client, admin)
    page = client.get("/users").text
    assert " IST</time>" in page
    assert "Asia/Kolkata" in client.get("/account").text


def test_the_time_zone_setting_is_an_iana_name(
    client: TestClient, engine: Engine, admin: ConsoleUser
) -> None:
    headers = {"Authorization": f"Bearer {admin.org.keys['admin']}"}
    refused = client.put("/v2/org/settings", json={"timeZone": "Mars/Olympus"}, headers=headers)
    assert refused.status_code == 400
    assert "time_zone" in refused.json()["errors"][0]["message"]
    accepted = client.put("/v2/org/settings", json={"timeZone": "Europe/Paris"}, headers=headers)
    assert accepted.json()["settings"]["timeZone"] == "Europe/Paris"


def test_the_localtime_filter() -> None:
    noon = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
    assert localtime(noon, "Asia/Kolkata") == "2026-01-15 17:30 IST"
    assert localtime(noon.replace(tzinfo=None), "America/New_York") == "2026-01-15 07:00 EST"
    assert localtime(None, "UTC") == ""


def test_every_error_class_has_a_page() -> None:
    assert set(ERROR_CLASSES) == set(PAGE_STATUS)


@pytest.mark.parametrize(
    "template", sorted(str(p.relative_to(TEMPLATES)) for p in TEMPLATES.rglob("*.html"))
)
def test_every_template_compiles(template: str) -> None:
    assert templating.environment.get_template(template).name == template
