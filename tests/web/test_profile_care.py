"""The profile page's care sections over HTTP: notes, tickets, preferences, referrals and
the photo; each form changes what the API then reads, roles and CSRF are enforced."""

from __future__ import annotations

import html
import io
import re
from typing import Any

from fastapi.testclient import TestClient
from PIL import Image

from patron.auth.actor import Role
from tests.conftest import Api
from tests.web.console import Console


def _api(screens: Console) -> Api:
    return Api(screens.stack.enter_context(TestClient(screens.app)), screens.org)


def _ok(response: Any) -> Any:
    assert response.status_code in (200, 201), response.text
    return response.json()


def _png(color: str = "red") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 6), color).save(out, format="PNG")
    return out.getvalue()


def _error_of(page: str, key: str) -> str:
    """The error shown beside the form ``key`` ("" when none)."""
    match = re.search(
        rf'<p class="error" role="alert" id="{re.escape(key)}-error">([^<]*)</p>', page
    )
    return html.unescape(match.group(1)) if match else ""


def test_notes_are_added_edited_by_their_author_and_deleted(screens: Console) -> None:
    api = _api(screens)
    tom = screens.register(first_name="Tom", last_name="Sawyer", mobile="9900310001")
    editor = screens.browser(Role.editor)
    added = editor.post(
        f"/profiles/{tom}/notes", {"description": "Called about a parcel"}, follow_redirects=False
    )
    assert added.status_code == 303
    assert added.headers["location"] == f"/profiles/{tom}?saved=1#notes"
    [note] = _ok(api.get(f"/v2/customers/{tom}/notes"))["data"]
    assert (note["description"], note["addedBy"]) == ("Called about a parcel", editor.user.username)
    second = editor.post(
        f"/profiles/{tom}/notes", {"description": "Parcel found"}, headers={"HX-Request": "true"}
    )
    assert second.status_code == 200
    assert "Note added." in second.text
    shown = re.findall(r'data-field="note-text">([^<]*)<', second.text)
    assert shown == ["Parcel found", "Called about a parcel"]  # newest first
    assert editor.user.username in second.text

    empty = editor.post(f"/profiles/{tom}/notes", {"description": "  "})
    assert empty.status_code == 400
    assert "description is empty" in _error_of(empty.text, "note-new")

    edited = editor.post(
        f"/profiles/{tom}/notes/{note['id']}",
        {"description": "Called about a lost parcel"},
        headers={"HX-Request": "true"},
    )
    assert edited.status_code == 200
    texts = [n["description"] for n in _ok(api.get(f"/v2/customers/{tom}/notes"))["data"]]
    assert texts == ["Parcel found", "Called about a lost parcel"]

    # Another editor is offered no edit of the note and is refused one.
    colleague = screens.browser(Role.editor, fresh=True)
    page = colleague.get(f"/profiles/{tom}").text
    assert f'action="/profiles/{tom}/notes/{note["id"]}"' not in page
    refused = colleague.post(f"/profiles/{tom}/notes/{note['id']}", {"description": "mine now"})
    assert refused.status_code == 403
    assert "only the author" in _error_of(refused.text, f"note-{note['id']}")
    deleted = editor.post(f"/profiles/{tom}/notes/{note['id']}/delete", follow_redirects=False)
    assert deleted.status_code == 303
    texts = [n["description"] for n in _ok(api.get(f"/v2/customers/{tom}/notes"))["data"]]
    assert texts == ["Parcel found"]


def test_tickets_are_opened_and_move_on(screens: Console) -> None:
    api = _api(screens)
    tom = screens.register(first_name="Tom", last_name="Sawyer", mobile="9900310002")
    editor = screens.browser(Role.editor)
    opened = editor.post(
        f"/profiles/{tom}/tickets",
        {
            "type": "COMPLAINT",
            "subject": "Broken zip",
            "description": "The jacket's zip broke",
            "priority": "HIGH",
            "assignee": editor.user.username,
        },
        headers={"HX-Request": "true"},
    )
    assert opened.status_code == 200, opened.text
    [ticket] = _ok(api.get(f"/v2/customers/{tom}/tickets"))["data"]
    assert (ticket["subject"], ticket["priority"], ticket["status"]) == (
        "Broken zip",
        "HIGH",
        "OPEN",
    )
    assert ticket["assignee"] == editor.user.username
    assert f"Ticket {ticket['id']} opened." in opened.text

    again = editor.post(f"/profiles/{tom}/tickets", {"subject": "Broken zip"})
    assert again.status_code == 409
    assert "same subject" in _error_of(again.text, "ticket-new")
    assert 'value="Broken zip"' in again.text  # what was typed is kept
    unknown = editor.post(f"/profiles/{tom}/tickets", {"subject": "Late", "assignee": "nobody"})
    assert unknown.status_code == 400
    assert "no active user" in _error_of(unknown.text, "ticket-new")

    closed = editor.post(
        f"/profiles/{tom}/tickets/{ticket['id']}", {"status": "CLOSED"}, follow_redirects=False
    )
    assert closed.status_code == 303
    shown = _ok(api.get(f"/v2/customers/{tom}/tickets/{ticket['id']}"))["ticket"]
    assert shown["status"] == "CLOSED"
    assert shown["closedOn"] is not None
    bad = editor.post(f"/profiles/{tom}/tickets/{ticket['id']}", {"status": "LOST"})
    assert bad.status_code == 400
    assert "status must be one of" in _error_of(bad.text, f"ticket-{ticket['id']}")
    page = screens.browser(Role.viewer).get(f"/profiles/{tom}").text
    row = page.split(f'data-ticket="{ticket["id"]}"')[1].split("</tr>")[0]
    assert "Broken zip" in row
    assert 'data-field="ticket-status">Closed<' in row


def test_preferences_are_set_by_the_orgs_keys(screens: Console) -> None:
    api = _api(screens)
    for body in (
        {"key": "newsletter", "type": "boolean"},
        {"key": "size", "type": "enum", "values": ["S", "M", "L"]},
        {"key": "visits", "type": "integer"},
    ):
        _ok(api.post("/v2/org/preferences", json=body, role="admin"))
    tom = screens.register(first_name="Tom", last_name="Sawyer", mobile="9900310003")
    editor = screens.browser(Role.editor)
    page = editor.get(f"/profiles/{tom}").text
    assert 'name="pref.size"' in page
    assert '<option value="M">M</option>' in page
    saved = editor.post(
        f"/profiles/{tom}/preferences",
        {"pref.newsletter": "true", "pref.size": "M", "pref.visits": ""},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    held = {
        p["key"]: p["value"]
        for p in _ok(api.get(f"/v2/customers/{tom}/preferences"))["preferences"]
    }
    assert held == {"newsletter": True, "size": "M"}

    refused = editor.post(
        f"/profiles/{tom}/preferences",
        {"pref.newsletter": "false", "pref.size": "M", "pref.visits": "many"},
    )
    assert refused.status_code == 400
    assert "'visits' needs a integer value" in _error_of(refused.text, "preferences")
    held = {
        p["key"]: p["value"]
        for p in _ok(api.get(f"/v2/customers/{tom}/preferences"))["preferences"]
    }
    assert held == {"newsletter": True, "size": "M"}  # all or none

    emptied = editor.post(
        f"/profiles/{tom}/preferences",
        {"pref.newsletter": "false", "pref.size": "", "pref.visits": "3"},
        headers={"HX-Request": "true"},
    )
    assert emptied.status_code == 200
    assert "Preferences saved." in emptied.text
    held = {
        p["key"]: p["value"]
        for p in _ok(api.get(f"/v2/customers/{tom}/preferences"))["preferences"]
    }
    assert held == {"newsletter": False, "visits": 3}
    assert '<dd data-preference="visits">3</dd>' in emptied.text


def test_referrals_show_the_invited_the_joined_and_the_referrer(screens: Console) -> None:
    api = _api(screens)
    _ok(api.post("/v2/org/referralCampaigns", json={"token": "FRIENDS"}, role="admin"))
    tom = screens.register(first_name="Tom", last_name="Sawyer", mobile="9900310004")
    invited = [
        {"name": "Becky", "identifier": "9900310005", "invitedOn": "2025-01-02 10:00:00"},
        {"name": "Huck", "identifier": "9900310006", "invitedOn": "2025-01-03 10:00:00"},
    ]
    body = {
        "customerReferrals": [
            {
                "customer": {"id": tom},
                "campaignToken": "FRIENDS",
                "referrals": [{"type": "MOBILE", "referral": invited}],
            }
        ]
    }
    _ok(api.post("/v2/customers/referrals", json=body))
    becky = screens.register(first_name="Becky", last_name="Thatcher", mobile="9900310005")
    viewer = screens.browser(Role.viewer)
    page = viewer.get(f"/profiles/{tom}").text
    section = page.split('id="referrals"')[1].split("</section>")[0]
    assert "2 invited, 1 joined" in section
    assert "9900310006" in section
    assert f'<a href="/profiles/{becky}">Becky Thatcher</a>' in section
    assert "did not join through an invitation" in section
    theirs = viewer.get(f"/profiles/{becky}").text.split('id="referrals"')[1]
    assert f'<a href="/profiles/{tom}">Tom Sawyer</a>' in theirs.split("</ul>")[0]
    assert "FRIENDS" in theirs


def test_the_photo_is_uploaded_served_and_removed_as_the_api_does(screens: Console) -> None:
    api = _api(screens)
    tom = screens.register(first_name="Tom", last_name="Sawyer", mobile="9900310007")
    editor = screens.browser(Role.editor)
    assert "No photo." in editor.get(f"/profiles/{tom}").text
    # A PNG named .jpg is taken as the PNG it is.
    files = {"file": ("me.jpg", _png(), "image/jpeg")}
    uploaded = editor.post(f"/profiles/photos/{tom}", files=files, follow_redirects=False)
    assert uploaded.status_code == 303, uploaded.text
    assert uploaded.headers["location"] == f"/profiles/{tom}?saved=1#photo"
    stored = api.get(f"/v2/customers/{tom}/image")
    assert stored.headers["content-type"] == "image/png"
    page = screens.browser(Role.viewer).get(f"/profiles/{tom}").text
    src = re.search(r'<img class="profile-photo" src="([^"]+)"', page)
    assert src is not None
    assert src.group(1).startswith(f"/profiles/{tom}/image?v=")
    served = screens.browser(Role.viewer).get(src.group(1))
    assert served.status_code == 200
    assert served.content == stored.content
    assert served.headers["content-type"] == "image/png"
    assert served.headers["x-content-type-options"] == "nosniff"
    assert served.headers["content-security-policy"] == "default-src 'none'; sandbox"

    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    refused = editor.post(f"/profiles/photos/{tom}", files={"file": ("x.png", svg, "image/png")})
    assert refused.status_code == 400
    assert "not a JPEG, PNG or WebP image" in _error_of(refused.text, "image")
    assert api.get(f"/v2/customers/{tom}/image").content == stored.content
    # Larger than the server's request limit too: the org's own limit answers, beside the form.
    big = _png() + bytes(1_200_000)
    too_large = editor.post(
        f"/profiles/photos/{tom}", files={"file": ("big.png", big, "image/png")}
    )
    assert too_large.status_code == 400
    assert "the org accepts at most 1000000" in _error_of(too_large.text, "image")
    nothing = editor.post(f"/profiles/photos/{tom}", data={})
    assert nothing.status_code == 400
    assert "no image was sent" in _error_of(nothing.text, "image")

    # A session of another org finds no such profile, nor its photo.
    with_other = Console(screens.engine, screens.app, screens.stack)
    stranger = with_other.browser(Role.admin)
    assert stranger.get(f"/profiles/{tom}/image").status_code == 404

    removed = editor.post(f"/profiles/{tom}/image/delete", follow_redirects=False)
    assert removed.status_code == 303
    assert api.get(f"/v2/customers/{tom}/image").status_code == 404
    assert editor.get(f"/profiles/{tom}/image").status_code == 404


def test_a_viewer_reads_without_forms_and_is_refused_a_change(screens: Console) -> None:
    tom = screens.register(first_name="Tom", last_name="Sawyer", mobile="9900310008")
    editor = screens.browser(Role.editor)
    editor.post(f"/profiles/{tom}/notes", {"description": "Prefers email"})
    viewer = screens.browser(Role.viewer)
    page = viewer.get(f"/profiles/{tom}").text
    assert "Prefers email" in page
    for action in ("notes", "tickets", "preferences", "image"):
        assert f'action="/profiles/{tom}/{action}"' not in page
    assert "Add note" not in page
    refused = viewer.post(f"/profiles/{tom}/notes", {"description": "viewer's note"})
    assert refused.status_code == 403
    refused = viewer.post(
        f"/profiles/photos/{tom}", files={"file": ("me.png", _png(), "image/png")}
    )
    assert refused.status_code == 403
    api = _api(screens)
    assert [n["description"] for n in _ok(api.get(f"/v2/customers/{tom}/notes"))["data"]] == [
        "Prefers email"
    ]
    assert api.get(f"/v2/customers/{tom}/image").status_code == 404
    # Without the session's token, an editor's change is refused too.
    forged = editor.client.post(f"/profiles/{tom}/notes", data={"description": "forged"})
    assert forged.status_code == 403
    forged = editor.client.post(
        f"/profiles/photos/{tom}", files={"file": ("me.png", _png(), "image/png")}
    )
    assert forged.status_code == 403
    assert len(_ok(api.get(f"/v2/customers/{tom}/notes"))["data"]) == 1
    assert api.get(f"/v2/customers/{tom}/image").status_code == 404
