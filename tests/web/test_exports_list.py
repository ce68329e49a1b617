"""The Exports page: the user's exports (every one of the org's for an admin) with their
format, fields, filters in words, state, rows, dates and the signed link while the file is
kept; in the navigation for those who may export."""

from __future__ import annotations

import re
from datetime import timedelta

from patron.auth.actor import Role
from patron.exports import repository
from patron.kit.clock import utcnow
from patron.kit.db import transaction
from patron.orgs import service as orgs
from tests.web.console import Browser, Console

NAV_LINK = '<a href="/exports"'


def _export(screens: Console, browser: Browser, **values: object) -> int:
    """An export job as the service stores it (the background export's own row)."""
    with transaction(screens.engine) as conn:
        return repository.insert_export(
            conn,
            {
                "org_id": screens.org.id,
                "user_id": None,
                "created_by": browser.user.username,
                "format": "csv",
                "fields": ["id", "firstName", "lastName", "mobile"],
                "filters": {},
                "sort": "-registeredAt",
                "state": "queued",
                **values,
            },
        )


def _row(page: str, export_id: int) -> str:
    found = re.search(rf'<tr data-export="{export_id}">(.*?)</tr>', page, re.S)
    assert found, f"export {export_id} is not listed"
    return found.group(1)


def test_the_exports_page_lists_the_users_exports_and_an_admin_sees_all(
    screens: Console,
) -> None:
    editor = screens.browser(Role.editor)
    other = screens.browser(Role.editor, fresh=True)
    now = utcnow()
    ready = _export(
        screens,
        editor,
        format="xlsx",
        filters={"loyaltyType": "loyalty", "registeredFrom": "2026-01-01"},
        state="ready",
        row_count=1_234,
        finished_at=now,
        expires_at=now + timedelta(days=7),
    )
    expired = _export(screens, editor, state="expired", row_count=5, expires_at=now)
    theirs = _export(screens, other)

    page = editor.get("/exports")
    assert page.status_code == 200
    assert NAV_LINK in page.text
    row = _row(page.text, ready)
    assert "XLSX" in row
    assert "4 fields" in row
    assert "loyalty type loyalty; registered from 2026-01-01" in row
    assert 'data-field="state">ready' in row
    assert 'data-field="rows">1,234' in row
    link = re.search(r'<a href="([^"]+)" download>Download</a>', row)
    assert link, "a ready export has no Download link"
    assert link.group(1).startswith(f"/exports/{ready}/download?")
    expired_row = _row(page.text, expired)
    assert "Download" not in expired_row
    assert "none (every profile)" in expired_row
    assert f'data-export="{theirs}"' not in page.text
    # Newest first.
    assert page.text.index(f'data-export="{expired}"') < page.text.index(f'data-export="{ready}"')

    everything = screens.browser(Role.admin).get("/exports").text
    assert all(f'data-export="{n}"' in everything for n in (ready, expired, theirs))
    assert other.user.username in _row(everything, theirs)


def test_viewers_see_exports_only_when_the_org_lets_them_export(screens: Console) -> None:
    viewer = screens.browser(Role.viewer)
    profiles = viewer.get("/profiles").text
    assert NAV_LINK not in profiles
    assert viewer.get("/exports").status_code == 403
    with transaction(screens.engine) as conn:
        orgs.change_settings(conn, screens.org.admin, {"viewers_may_export": True})
    assert NAV_LINK in viewer.get("/profiles").text
    page = viewer.get("/exports")
    assert page.status_code == 200
    assert "No export yet." in page.text
