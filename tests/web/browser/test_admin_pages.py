"""The users and API keys pages in a real browser, checked against sign-in and the API."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import httpx
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy.engine import Engine

from patron.auth.actor import Role
from tests.web.browser.conftest import screenshot, sign_in
from tests.web.conftest import ConsoleUser, make_user

pytestmark = pytest.mark.sqlite_only


@pytest.fixture
def admin(engine: Engine) -> ConsoleUser:
    return make_user(engine, Role.admin)


def test_users_page_adds_changes_and_deactivates(
    new_page: Callable[..., Page], console: str, admin: ConsoleUser
) -> None:
    page = new_page()
    sign_in(page, console, admin, next_page="/users")
    name = f"clerk-{uuid.uuid4().hex[:8]}"
    page.get_by_label("User name").fill(name)
    page.get_by_label("Role", exact=True).select_option("viewer")
    page.get_by_role("button", name="Add user").click()
    expect(page.get_by_role("status").first).to_have_text(f"User {name} added.")
    password = page.locator('[data-secret="password"]').inner_text()
    assert len(password) >= 16
    row = page.locator(f'tr[data-user="{name}"]')
    expect(row).to_be_visible()
    screenshot(page, "users-password-shown")

    # The password shown once signs the new user in.
    clerk_page = new_page()
    clerk = ConsoleUser(name, password, Role.viewer, admin.org)
    sign_in(clerk_page, console, clerk)
    expect(clerk_page.locator('[data-field="role"]')).to_have_text("viewer")

    # A role change applies at the user's next request.
    row.get_by_label(f"Role of {name}").select_option("editor")
    row.get_by_role("button", name="Change role").click()
    expect(page.get_by_role("status").first).to_have_text(f"{name} is now editor.")
    clerk_page.reload()
    expect(clerk_page.locator('[data-field="role"]')).to_have_text("editor")

    # Deactivated: signed out at once, and the password no longer signs in.
    page.locator(f'tr[data-user="{name}"]').get_by_role("button", name="Deactivate").click()
    expect(page.locator(f'tr[data-user="{name}"] [data-field="status"]')).to_have_text(
        "deactivated"
    )
    clerk_page.reload()
    expect(clerk_page).to_have_url(f"{console}/signin?next=%2Faccount")
    sign_in(clerk_page, console, clerk)
    expect(clerk_page.get_by_role("alert")).to_have_text("Wrong user name or password.")


def test_a_reset_password_is_shown_once_and_replaces_the_old_one(
    new_page: Callable[..., Page], console: str, admin: ConsoleUser, engine: Engine
) -> None:
    editor = make_user(engine, Role.editor, org=admin.org)
    page = new_page()
    sign_in(page, console, admin, next_page="/users")
    page.locator(f'tr[data-user="{editor.username}"]').get_by_role(
        "button", name="Reset password"
    ).click()
    new_password = page.locator('[data-secret="password"]').inner_text()
    other = new_page()
    sign_in(other, console, editor)
    expect(other.get_by_role("alert")).to_have_text("Wrong user name or password.")
    sign_in(other, console, ConsoleUser(editor.username, new_password, editor.role, admin.org))
    expect(other.locator('[data-field="username"]')).to_have_text(editor.username)
    # Shown once: the page does not show it again.
    page.reload()
    expect(page.locator('[data-secret="password"]')).to_have_count(0)


def test_an_admin_cannot_lock_themselves_out(page: Page, console: str, admin: ConsoleUser) -> None:
    sign_in(page, console, admin, next_page="/users")
    mine = page.locator(f'tr[data-user="{admin.username}"]')
    # The only control on one's own row is the email; no role change, deactivation or reset.
    for control in ("Change role", "Deactivate", "Reset password"):
        expect(mine.get_by_role("button", name=control)).to_have_count(0)
    expect(mine.get_by_role("button")).to_have_count(1)
    expect(mine.get_by_role("button", name=f"Save email of {admin.username}")).to_be_visible()
    expect(mine.get_by_role("link", name="Change your password")).to_be_visible()


def test_keys_page_creates_a_working_key_and_revokes_it(
    page: Page, console: str, admin: ConsoleUser
) -> None:
    sign_in(page, console, admin, next_page="/keys")
    page.get_by_label("Name").fill("web shop")
    page.get_by_label("Role").select_option("viewer")
    page.get_by_role("button", name="Create key").click()
    key = page.locator('[data-secret="api-key"]').inner_text()
    assert key.startswith("ptn_")
    screenshot(page, "keys-key-shown")
    lookup = f"{console}/v2/customers/lookup?mobile=919800000001"

    def call() -> int:
        return httpx.get(lookup, headers={"Authorization": f"Bearer {key}"}).status_code

    assert call() != 401  # the key authenticates (the customer itself may not exist)
    row = page.locator("tr", has=page.get_by_role("rowheader", name="web shop"))
    row.get_by_role("button", name="Revoke").click()
    expect(page.get_by_role("status").first).to_contain_text("revoked")
    expect(row).to_contain_text("revoked")
    assert call() == 401


def test_a_refused_change_shows_its_message(page: Page, console: str, admin: ConsoleUser) -> None:
    sign_in(page, console, admin, next_page="/users")
    page.get_by_label("User name").fill(admin.username)  # taken
    page.get_by_role("button", name="Add user").click()
    expect(page.get_by_role("alert")).to_contain_text("is taken")
