"""The console's notifications: the header's unread count, the list, marking read; and the
users page's email addresses (both databases, over HTTP)."""

from __future__ import annotations

import re

from patron.auth import service as auth
from patron.auth.actor import Actor, Role
from patron.imports import jobs, service
from patron.imports.read import ReadLimits, read_upload
from patron.kit.db import transaction
from patron.orgs import service as orgs
from tests.web.console import Browser, Console

COUNT = re.compile(
    r'id="notifications-link"[^>]*>Notifications(?: <span class="count"[^>]*>(\d+)</span>)?</a>'
)


def unread(html: str) -> int:
    match = COUNT.search(html)
    assert match, "the header has no notifications link"
    return int(match.group(1) or 0)


def import_for(screens: Console, browser: Browser, name: str = "spring.csv") -> int:
    """An import of ``browser``'s user, committed by the job."""
    with transaction(screens.engine) as conn:
        orgs.add_unit(conn, screens.org.admin, kind="store", code=f"s{name[:3]}")
    data = f"First Name,Mobile,Store\nAnn,9198000{len(name):05d},s{name[:3]}\n"
    table = read_upload(data.encode(), name, ReadLimits())
    actor = Actor(org_id=screens.org.id, role=Role.editor, name=browser.user.username)
    request = service.ImportRequest(profile="loyalty-customers", file_name=name, confirmed=True)
    with transaction(screens.engine) as conn:
        created = service.create_import(conn, actor, request, table)
    assert jobs.run_import(screens.engine, screens.org.id, created.import_id) == "committed"
    return created.import_id


def test_an_ended_import_shows_in_the_header_and_the_list(screens: Console) -> None:
    editor = screens.browser(Role.editor)
    assert unread(editor.get("/profiles").text) == 0
    import_id = import_for(screens, editor)
    assert unread(editor.get("/profiles").text) == 1
    page = editor.get("/notifications")
    assert page.status_code == 200
    assert f'<a href="/imports/{import_id}">Import of spring.csv imported</a>' in page.text
    assert "1 new" in page.text
    # No SMTP server in these tests' settings: the page says mail is off.
    assert "Email is off" in page.text
    # Another user of the org sees nothing of it.
    other = screens.browser(Role.admin)
    assert unread(other.get("/profiles").text) == 0
    assert "Nothing unread" in other.get("/notifications").text


def test_marking_one_and_all_read(screens: Console) -> None:
    editor = screens.browser(Role.editor)
    import_for(screens, editor, "a.csv")
    import_for(screens, editor, "bb.csv")
    page = editor.get("/notifications").text
    ids = re.findall(r'name="notification" value="(\d+)"', page)
    assert len(ids) == 2
    done = editor.post("/notifications/read", {"notification": ids[0]}, follow_redirects=False)
    assert done.status_code == 303
    assert unread(editor.get("/notifications").text) == 1
    editor.post("/notifications/read", {})
    after = editor.get("/notifications").text
    assert unread(after) == 0
    assert "Nothing unread" in after
    # Without the session's token the change is refused.
    forged = editor.client.post("/notifications/read", data={"notification": ids[1]})
    assert forged.status_code == 403


def test_admins_give_users_an_email_address(screens: Console) -> None:
    admin = screens.browser(Role.admin)
    added = admin.post(
        "/users/add",
        {"username": "maya-" + screens.org.name, "role": "editor", "email": "Maya@Acme.Test"},
    )
    assert added.status_code == 200
    assert 'value="maya@acme.test"' in added.text
    editor = screens.browser(Role.editor)
    changed = admin.post(
        "/users/email", {"username": editor.user.username, "email": "ed@acme.test"}
    )
    assert f"{editor.user.username} is mailed at ed@acme.test." in changed.text
    with transaction(screens.engine, write=False) as conn:
        found = auth.find_user(conn, screens.org.id, editor.user.username)
    assert found is not None
    assert found["email"] == "ed@acme.test"
    refused = admin.post("/users/email", {"username": editor.user.username, "email": "nope"})
    assert refused.status_code == 400
    assert "not a valid email address" in refused.text
