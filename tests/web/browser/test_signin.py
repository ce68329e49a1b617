"""Signing in and out in a real browser: messages, throttling, CSRF, the idle timeout."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy.engine import Engine

from patron.auth.actor import Role
from tests.web.browser.conftest import MAX_FAILURES, console_settings, screenshot, sign_in
from tests.web.conftest import ConsoleUser, make_user

pytestmark = pytest.mark.sqlite_only


@pytest.fixture
def editor(engine: Engine) -> ConsoleUser:
    return make_user(engine, Role.editor)


def test_sign_in_and_sign_out(page: Page, console: str, editor: ConsoleUser) -> None:
    page.goto(console)
    expect(page).to_have_url(f"{console}/signin")
    sign_in(page, console, editor)
    expect(page).to_have_url(f"{console}/account")
    expect(page.locator('[data-field="username"]')).to_have_text(editor.username)
    expect(page.locator('[data-field="org"]')).to_have_text(editor.org.name)
    expect(page.locator('[data-field="role"]')).to_have_text("editor")
    header = page.get_by_role("banner")
    expect(header).to_contain_text(editor.username)
    expect(header).to_contain_text(editor.org.name)
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{console}/signin?signed_out=1")
    expect(page.get_by_role("status")).to_have_text("You are signed out.")
    page.goto(f"{console}/account")
    expect(page).to_have_url(f"{console}/signin?next=%2Faccount")


def test_a_wrong_password_and_an_unknown_user_read_the_same(
    page: Page, console: str, editor: ConsoleUser
) -> None:
    messages = []
    for username in (editor.username, f"nobody-{uuid.uuid4().hex[:8]}"):
        sign_in(page, console, ConsoleUser(username, "not the password", editor.role, editor.org))
        alert = page.get_by_role("alert")
        expect(alert).to_be_visible()
        messages.append(alert.inner_text())
        # The name stays filled in, the password does not.
        expect(page.get_by_label("User name")).to_have_value(username)
        expect(page.get_by_label("Password")).to_have_value("")
    assert messages == ["Wrong user name or password."] * 2
    screenshot(page, "signin-wrong-password")


def test_sign_ins_are_refused_after_repeated_failures(
    page: Page, console: str, editor: ConsoleUser
) -> None:
    wrong = ConsoleUser(editor.username, "not the password", editor.role, editor.org)
    for _ in range(MAX_FAILURES):
        sign_in(page, console, wrong)
        expect(page.get_by_role("alert")).to_have_text("Wrong user name or password.")
    # Now even the right password is refused until the failures age out.
    sign_in(page, console, editor)
    expect(page.get_by_role("alert")).to_have_text(
        "Too many failed sign-ins; try again in 15 minutes."
    )
    expect(page).to_have_url(f"{console}/signin")


def test_a_forged_post_without_the_token_is_refused(
    page: Page, console: str, engine: Engine
) -> None:
    admin = make_user(engine, Role.admin)
    sign_in(page, console, admin)
    # A script of the page posting a form without the token, as a forged request would.
    status = page.evaluate(
        """async () => {
            const body = new URLSearchParams({username: "forged-user", role: "admin"});
            const response = await fetch("/users/add", {method: "POST", body});
            return response.status;
        }"""
    )
    assert status == 403
    page.goto(f"{console}/users")
    expect(page.locator('tr[data-user="forged-user"]')).to_have_count(0)
    # A real form without its token: the 403 page.
    page.evaluate(
        """() => {
            document.querySelectorAll('input[name="csrf_token"]').forEach(i => i.remove());
            document.body.removeAttribute("hx-headers");
        }"""
    )
    page.get_by_label("User name").fill("forged-user")
    page.locator("#users-panel form[action='/users/add']").evaluate("form => form.submit()")
    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
    expect(page.locator("main")).to_contain_text("security token")
    screenshot(page, "forbidden")


def test_an_idle_session_ends(
    new_page: Callable[..., Page], serve: Callable[..., str], editor: ConsoleUser
) -> None:
    console = serve(console_settings(session_idle_seconds=2))
    page = new_page()
    sign_in(page, console, editor)
    expect(page.locator('[data-field="username"]')).to_have_text(editor.username)
    # Requests more often than the timeout keep the session open...
    for _ in range(3):
        time.sleep(1)
        page.reload()
        expect(page).to_have_url(f"{console}/account")
    # ...and a pause longer than it ends the session.
    time.sleep(2.5)
    page.reload()
    expect(page).to_have_url(f"{console}/signin?next=%2Faccount&expired=1")
    expect(page.get_by_role("alert")).to_have_text(
        "Your session ended after 2 seconds without activity; sign in again."
    )
    # Signing in again returns to the page.
    page.get_by_label("User name").fill(editor.username)
    page.get_by_label("Password").fill(editor.password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{console}/account")
