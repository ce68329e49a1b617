"""The profile list's Export: the button (for those who may), the page carrying the list's
filters, a file at once up to 1,000 rows, a background export above, the export's page."""

from __future__ import annotations

import re

from patron.auth.actor import Role
from patron.exports import jobs
from patron.kit.db import transaction
from patron.orgs import service as orgs
from patron.settings import Settings
from tests.exporting import as_dicts, csv_rows, fill_store, xlsx_rows
from tests.web.console import Console

EXPORT_LINK = re.compile(r'id="export-link" href="([^"]+)"')


def test_the_export_carries_the_lists_filters_and_downloads_at_once(screens: Console) -> None:
    tom = screens.register(first_name="Tom", mobile="919010000022", loyalty_type="loyalty")
    screens.register(first_name="Ann", mobile="919010000033", loyalty_type="non_loyalty")
    editor = screens.browser(Role.editor)
    listing = editor.get("/profiles?loyalty_type=loyalty")
    link = EXPORT_LINK.search(listing.text)
    assert link, "the list has no Export button"
    assert link.group(1) == "/profiles/export?loyalty_type=loyalty"
    page = editor.get(link.group(1))
    assert page.status_code == 200
    assert 'name="loyalty_type" value="loyalty"' in page.text
    assert "Displayed fields" in page.text
    assert "All fields" in page.text
    download = editor.post(
        "/profiles/export",
        {
            "loyalty_type": "loyalty",
            "sort": "-registeredAt",
            "fields": "displayed",
            "format": "csv",
        },
    )
    assert download.status_code == 200
    assert download.headers["content-disposition"] == 'attachment; filename="profiles.csv"'
    rows = as_dicts(csv_rows(download.content))
    assert [(r["id"], r["firstName"], r["mobile"]) for r in rows] == [
        (str(tom), "Tom", "919010000022")
    ]
    assert list(rows[0])[:3] == ["id", "firstName", "lastName"]
    xlsx = editor.post("/profiles/export", {"fields": "all", "format": "xlsx"})
    assert xlsx.headers["content-disposition"] == 'attachment; filename="profiles.xlsx"'
    assert len(as_dicts(xlsx_rows(xlsx.content))) == 2
    audited = [
        (a, d["rows"]) for a, action, d in screens.audit_actions() if action.startswith("export")
    ]
    assert audited == [(editor.user.username, 1), (editor.user.username, 2)]


def test_viewers_get_no_export_unless_the_org_allows_it(screens: Console) -> None:
    screens.register(first_name="Tom", mobile="919010000022")
    viewer = screens.browser(Role.viewer)
    assert not EXPORT_LINK.search(viewer.get("/profiles").text)
    assert viewer.get("/profiles/export").status_code == 403
    assert viewer.post("/profiles/export", {"format": "csv"}).status_code == 403
    with transaction(screens.engine) as conn:
        orgs.change_settings(conn, screens.org.admin, {"viewers_may_export": True})
    assert EXPORT_LINK.search(viewer.get("/profiles").text)
    allowed = viewer.post("/profiles/export", {"format": "csv"})
    assert allowed.status_code == 200
    assert len(as_dicts(csv_rows(allowed.content))) == 1


def test_a_longer_list_is_exported_in_the_background(screens: Console) -> None:
    fill_store(screens.engine, screens.org, 1_001)
    editor = screens.browser(Role.editor)
    started = editor.post("/profiles/export", {"fields": "all", "format": "csv"})
    assert started.status_code == 200
    # Redirected to the export's page: reloading it never starts another export.
    assert re.fullmatch(r"/exports/\d+", started.url.path)
    assert started.headers["content-type"].startswith("text/html")
    assert "the export runs in the background" in started.text
    assert "the export runs in the background" not in editor.get(started.url.path).text
    heading = re.search(r"<h1>Export (\d+)</h1>", started.text)
    assert heading
    export_id = int(heading.group(1))
    waiting = editor.get(f"/exports/{export_id}")
    assert 'data-field="state">queued' in waiting.text
    jobs.run_pending(screens.engine, "test", Settings())
    ready = editor.get(f"/exports/{export_id}")
    assert 'data-field="rows">1,001' in ready.text
    link = re.search(r'<a class="button" href="([^"]+)" download>', ready.text)
    assert link
    fetched = editor.client.get(link.group(1).replace("&amp;", "&"))
    assert fetched.status_code == 200
    assert len(as_dicts(csv_rows(fetched.content))) == 1_001
    listed = editor.get("/exports").text
    assert f'<tr data-export="{export_id}">' in listed
    assert 'data-field="rows">1,001' in listed
    # Someone else's export is not shown; an admin sees it.
    other = screens.browser(Role.editor, fresh=True)
    assert other.get(f"/exports/{export_id}").status_code == 404
    assert screens.browser(Role.admin).get(f"/exports/{export_id}").status_code == 200
    assert editor.get("/exports/99999999999999999999").status_code == 404
