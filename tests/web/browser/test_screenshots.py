"""Pictures of the console's main pages, at laptop and phone width, for the documentation."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy.engine import Engine

from patron.auth import service as auth
from patron.auth.actor import Role
from patron.kit.db import transaction
from tests.web.browser.conftest import LAPTOP, PHONE, screenshot, sign_in
from tests.web.conftest import make_user

pytestmark = pytest.mark.sqlite_only


@pytest.mark.parametrize(("width", "viewport"), [("laptop", LAPTOP), ("phone", PHONE)])
def test_main_pages(
    engine: Engine,
    console: str,
    new_page: Callable[..., Page],
    width: str,
    viewport: dict[str, int],
) -> None:
    admin = make_user(engine, Role.admin)
    with transaction(engine) as conn:
        auth.create_user(conn, admin.org.admin, f"{admin.username}-viewer", Role.viewer)
        auth.create_api_key(conn, admin.org.admin, Role.editor, "web shop")
    page = new_page(viewport)
    page.goto(f"{console}/signin")
    expect(page.get_by_role("heading", name="Sign in to patron")).to_be_visible()
    screenshot(page, f"signin-{width}")
    sign_in(page, console, admin)
    expect(page.get_by_role("heading", name="Your account")).to_be_visible()
    screenshot(page, f"account-{width}")
    page.goto(f"{console}/users")
    expect(page.get_by_role("heading", name="Users", exact=True)).to_be_visible()
    screenshot(page, f"users-{width}")
    page.goto(f"{console}/keys")
    expect(page.get_by_role("heading", name="API keys")).to_be_visible()
    screenshot(page, f"keys-{width}")
    page.goto(f"{console}/no-such-page")
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
    screenshot(page, f"not-found-{width}")
