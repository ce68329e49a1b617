"""What each role sees and may do, in a real browser."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy.engine import Engine

from patron.auth import service as auth
from patron.auth.actor import Role
from patron.kit.db import transaction
from tests.web.browser.conftest import sign_in
from tests.web.conftest import make_user

pytestmark = pytest.mark.sqlite_only

EVERYONE = ["Identified Profiles", "Upload reports"]
#: Exports: editors and admins, viewers only when the org lets them export.
EXPORTERS = ["Exports"]
ADMINS = ["Audit log", "Users", "API keys", "Settings"]


def _navigation(page: Page) -> list[str]:
    return page.get_by_role("navigation", name="Main").get_by_role("link").all_inner_texts()


@pytest.mark.parametrize("role", [Role.viewer, Role.editor])
def test_no_admin_navigation_below_admin(
    page: Page, console: str, engine: Engine, role: Role
) -> None:
    user = make_user(engine, role)
    sign_in(page, console, user)
    assert _navigation(page) == EVERYONE + (EXPORTERS if role == Role.editor else [])


def test_an_admin_sees_every_area(page: Page, console: str, engine: Engine) -> None:
    sign_in(page, console, make_user(engine, Role.admin))
    assert _navigation(page) == EVERYONE + EXPORTERS + ADMINS


def test_a_viewer_gets_the_403_page_for_admin_pages_and_actions(
    page: Page, console: str, engine: Engine
) -> None:
    viewer = make_user(engine, Role.viewer)
    sign_in(page, console, viewer)
    page.goto(f"{console}/users")
    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
    expect(page.locator("main")).to_contain_text("This needs the admin role")
    # A forged request to an admin action, with the viewer's own valid token.
    page.goto(f"{console}/account")
    status = page.evaluate(
        """async () => {
            const token = document.querySelector('input[name="csrf_token"]').value;
            const body = new URLSearchParams(
                {username: "planted", role: "admin", csrf_token: token});
            const response = await fetch("/users/add", {method: "POST", body});
            return [response.status, await response.text()];
        }"""
    )
    assert status[0] == 403
    assert "This needs the admin role" in status[1]
    with transaction(engine, write=False) as conn:
        names = {u["username"] for u in auth.list_users(conn, viewer.org.id)}
    assert "planted" not in names
