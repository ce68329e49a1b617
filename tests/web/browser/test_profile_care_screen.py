"""The profile page's care sections in a real browser: an editor adds a note and opens a
ticket in place (htmx) and uploads a photo, with the picture for the documentation."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Page, expect
from sqlalchemy.engine import Engine

from patron.auth.actor import Role
from patron.customer import image, notes, preferences, tickets
from patron.customer.registration import register
from patron.customer.schemas import RegisterIn
from patron.kit.db import transaction
from patron.kit.pagination import Page as Paging
from tests.factories import registration
from tests.web.browser.conftest import SCREENSHOTS, sign_in
from tests.web.conftest import make_user

pytestmark = pytest.mark.sqlite_only


def test_an_editor_adds_a_note_opens_a_ticket_and_uploads_a_photo(
    new_page: Callable[..., Page], console: str, engine: Engine, tmp_path: Path
) -> None:
    editor = make_user(engine, Role.editor)
    with transaction(engine) as conn:
        body = registration(first_name="Ada", last_name="Byron", mobile="9900810001")
        ada = register(conn, editor.org.admin, RegisterIn(**body)).customer_id
        # A preference key with a value, so that the documentation's picture shows one.
        preferences.define(
            conn,
            editor.org.admin,
            key="contact_time",
            data_type="enum",
            values=["morning", "evening"],
            description="When to call",
        )
        preferences.set_preferences(conn, editor.org.admin, ada, [("contact_time", "evening")])
    page = new_page()
    sign_in(page, console, editor, next_page=f"/profiles/{ada}#care")
    page.evaluate("window.patronTestMark = 'kept'")

    page.get_by_label("New note").fill("Asked for a gift receipt")
    page.get_by_role("button", name="Add note").click()
    expect(page.locator("#care .notice")).to_have_text("Note added.")
    expect(page.locator('#care [data-field="note-text"]')).to_have_text(
        ["Asked for a gift receipt"]
    )

    page.get_by_text("Open a ticket…").click()
    page.get_by_label("Subject").fill("Torn sleeve")
    page.get_by_label("Priority").select_option("HIGH")
    page.get_by_role("button", name="Open ticket").click()
    expect(page.locator("#care .notice")).to_contain_text("opened.")
    row = page.locator('[data-table="tickets"] tbody tr')
    expect(row).to_contain_text("Torn sleeve")
    expect(row.locator('[data-field="ticket-status"]')).to_have_text("Open")
    assert page.evaluate("window.patronTestMark === 'kept'"), "a form reloaded the page"

    photo = tmp_path / "ada.png"
    Image.new("RGB", (60, 40), "teal").save(photo, format="PNG")
    page.get_by_label("Photo file").set_input_files(str(photo))
    page.get_by_role("button", name="Upload photo").click()
    shown = page.locator("#photo img.profile-photo")
    expect(shown).to_be_visible()
    assert shown.evaluate("img => img.complete && img.naturalWidth") == 60

    with transaction(engine, write=False) as conn:
        found, _, _ = notes.notes(conn, editor.org.id, ada, Paging(10, 0))
        opened, _, _ = tickets.tickets(conn, editor.org.id, ada, Paging(10, 0))
        content, content_type, _ = image.image(conn, editor.org.id, ada)
    assert [note.description for note in found] == ["Asked for a gift receipt"]
    assert [(t["subject"], t["priority"]) for t in opened] == [("Torn sleeve", "HIGH")]
    assert content_type == "image/png"
    assert Image.open(io.BytesIO(content)).size == (60, 40)

    # The picture for the documentation: from the care section to the photo (at the top,
    # the boxes' viewport coordinates are the page's).
    page.evaluate("window.scrollTo(0, 0)")
    top = page.locator("#care").bounding_box()
    bottom = page.locator("#photo").bounding_box()
    assert top is not None
    assert bottom is not None
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(
        path=str(SCREENSHOTS / "profile-care.png"),
        full_page=True,
        clip={
            "x": 0,
            "y": top["y"] - 8,
            "width": page.viewport_size["width"] if page.viewport_size else 1280,
            "height": bottom["y"] + bottom["height"] - top["y"] + 16,
        },
    )
