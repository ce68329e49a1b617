"""Exporting the list and the notifications in Chromium: a short list downloads at once and
its rows are the filter's; a long one runs in the background and the link of its email
downloads the file; an import that ends shows in the header's count and the list."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, expect
from sqlalchemy.engine import Engine

from patron.auth import service as auth
from patron.auth.actor import Actor, Role
from patron.customer.registration import register
from patron.customer.schemas import RegisterIn
from patron.exports import jobs as export_jobs
from patron.imports import jobs, service
from patron.imports.read import ReadLimits, read_upload
from patron.kit.db import transaction
from patron.notifications import outbox
from patron.orgs import service as orgs
from patron.settings import Settings
from tests.exporting import as_dicts, csv_rows, fill_store
from tests.factories import registration
from tests.test_notifications import Inbox, free_port
from tests.web.browser.conftest import screenshot, sign_in
from tests.web.conftest import ConsoleUser, make_user

pytestmark = pytest.mark.sqlite_only


@pytest.fixture
def smtp() -> Iterator[tuple[int, Inbox]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield port, inbox
    controller.stop()


def _people(engine: Engine, user: ConsoleUser) -> dict[str, int]:
    ids = {}
    with transaction(engine) as conn:
        for first, mobile, loyalty in (
            ("Ana", "9900710001", "loyalty"),
            ("Ben", "9900710002", "non_loyalty"),
            ("Cy", "9900710003", "loyalty"),
        ):
            body = registration(first_name=first, mobile=mobile, loyalty_type=loyalty)
            ids[first] = register(conn, user.org.admin, RegisterIn(**body)).customer_id
    return ids


def test_a_short_list_downloads_at_once(
    page: Page, console: str, engine: Engine, tmp_path: Path
) -> None:
    editor = make_user(engine, Role.editor)
    ids = _people(engine, editor)
    sign_in(page, console, editor, next_page="/profiles?loyalty_type=loyalty")
    page.get_by_role("link", name="Export", exact=True).click()
    expect(page.get_by_role("heading", name="Export profiles")).to_be_visible()
    expect(page.get_by_text("loyalty type: loyalty")).to_be_visible()
    page.get_by_label("All fields").check()
    page.get_by_label("CSV").check()
    with page.expect_download() as downloaded:
        page.get_by_role("button", name="Download").click()
    target = tmp_path / downloaded.value.suggested_filename
    downloaded.value.save_as(target)
    assert target.name == "profiles.csv"
    rows = as_dicts(csv_rows(target.read_bytes()))
    assert [(r["id"], r["firstName"], r["loyaltyType"]) for r in rows] == [
        (str(ids["Cy"]), "Cy", "loyalty"),
        (str(ids["Ana"]), "Ana", "loyalty"),
    ]


def test_a_long_list_is_mailed_as_a_link_that_downloads_it(
    page: Page,
    console: str,
    engine: Engine,
    smtp: tuple[int, Inbox],
    tmp_path: Path,
    new_page: Any,
) -> None:
    port, inbox = smtp
    editor = make_user(engine, Role.editor)
    with transaction(engine) as conn:
        auth.set_user_email(conn, editor.org.admin, editor.username, "editor@example.test")
    fill_store(engine, editor.org, 1_200)
    sign_in(page, console, editor, next_page="/profiles")
    page.get_by_role("link", name="Export", exact=True).click()
    page.get_by_label("Displayed fields").check()
    page.get_by_role("button", name="Download").click()
    expect(page.get_by_text("the export runs in the background")).to_be_visible()
    expect(page.locator('[data-field="state"]')).to_have_text("queued")
    # The worker of `patron serve`, with mail configured and the served console's address.
    settings = Settings(
        smtp_host="127.0.0.1", smtp_port=port, smtp_starttls=False, public_url=console
    )
    assert export_jobs.run_pending(engine, "browser-test", settings) >= 1
    assert outbox.drain(engine, settings).sent >= 1
    mine = [m for _, to, m in inbox.mails if to == ["editor@example.test"]]
    assert len(mine) == 1
    assert mine[0]["Subject"] == "Export of 1,200 profiles is ready (CSV)"
    body = mine[0].get_payload(decode=True).decode()
    link = re.search(r"Download: (\S+)", body)
    assert link
    assert link.group(1).startswith(f"{console}/exports/")
    # Opened from the mail in another browser, not signed in.
    elsewhere: Page = new_page()
    # A navigation that becomes a download is reported as aborted.
    with elsewhere.expect_download() as downloaded, contextlib.suppress(PlaywrightError):
        elsewhere.goto(link.group(1))
    target = tmp_path / "mailed.csv"
    downloaded.value.save_as(target)
    rows = as_dicts(csv_rows(target.read_bytes()))
    assert len(rows) == 1_200
    assert list(rows[0])[:3] == ["id", "firstName", "lastName"]
    # The signed-in page of the export shows its file too.
    page.reload()
    expect(page.locator('[data-field="rows"]')).to_have_text("1,200")
    expect(page.get_by_role("link", name=re.compile("^Download profiles-"))).to_be_visible()
    # The Exports page of the navigation lists it, ready, with its link.
    export_path = page.url.removeprefix(console).split("?")[0]
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Exports").click()
    expect(page.get_by_role("heading", name="Exports", level=1)).to_be_visible()
    listed = page.locator(f'tr[data-export="{export_path.rsplit("/", 1)[1]}"]')
    expect(listed.locator('[data-field="state"]')).to_have_text("ready")
    expect(listed.locator('[data-field="rows"]')).to_have_text("1,200")
    expect(listed.get_by_role("link", name="Download")).to_be_visible()
    screenshot(page, "exports-laptop")


def test_an_import_that_ends_shows_in_the_console(page: Page, console: str, engine: Engine) -> None:
    editor = make_user(engine, Role.editor)
    with transaction(engine) as conn:
        orgs.add_unit(conn, editor.org.admin, kind="store", code="mal")
    sign_in(page, console, editor, next_page="/profiles")
    notifications = page.locator("#notifications-link")
    expect(notifications).to_have_text("Notifications")
    table = read_upload(
        b"First Name,Mobile,Store\nAnn,919800007001,mal\n", "june.csv", ReadLimits()
    )
    actor = Actor(org_id=editor.org.id, role=Role.editor, name=editor.username)
    request = service.ImportRequest(
        profile="loyalty-customers", file_name="june.csv", confirmed=True
    )
    with transaction(engine) as conn:
        created = service.create_import(conn, actor, request, table)
    assert jobs.run_import(engine, editor.org.id, created.import_id) == "committed"
    page.reload()
    expect(notifications).to_have_text("Notifications 1")
    notifications.click()
    expect(page.get_by_role("link", name="Import of june.csv imported")).to_have_attribute(
        "href", f"/imports/{created.import_id}"
    )
    expect(page.get_by_text("1 new")).to_be_visible()
    page.get_by_role("button", name="Mark all read").click()
    expect(page.get_by_role("heading", name="Nothing unread")).to_be_visible()
    expect(notifications).to_have_text("Notifications")
