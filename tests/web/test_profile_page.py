"""The profile page over HTTP: what it shows, editing in place, deleting, roles and CSRF."""

from __future__ import annotations

import sqlalchemy as sa

from patron.auth.actor import Role
from patron.customer import status
from patron.customer.registration import register
from patron.customer.schemas import RegisterIn
from patron.customer.tables import customers
from patron.kit.db import transaction
from patron.orgs import service as orgs
from tests.conftest import Api, make_org
from tests.factories import merge, registration
from tests.web.console import Console, field_error


def _declare_fields(screens: Console) -> None:
    with transaction(screens.engine) as conn:
        admin = screens.org.admin
        orgs.add_field(conn, admin, kind="custom", name="city")
        orgs.add_field(conn, admin, kind="custom", name="visits", data_type="integer")
        orgs.add_field(
            conn,
            admin,
            kind="extended",
            name="tier",
            data_type="enum",
            enum_values=["Gold", "Blue"],
        )


def _tom(screens: Console) -> int:
    _declare_fields(screens)
    return screens.register(
        first_name="Tom",
        last_name="Sawyer",
        mobile="9900300001",
        email="tom@example.com",
        profile={
            "fields": {"city": "Hannibal"},
            "commChannels": [{"type": "email", "value": "work@example.com", "primary": True}],
        },
        extendedFields={"tier": "Gold"},
    )


def _first_name(screens: Console, customer_id: int) -> str:
    with transaction(screens.engine, write=False) as conn:
        return str(
            conn.execute(
                sa.text("SELECT first_name FROM profiles WHERE customer_id = :id"),
                {"id": customer_id},
            ).scalar_one()
        )


def test_the_page_shows_the_person(screens: Console) -> None:
    tom = _tom(screens)
    viewer = screens.browser(Role.viewer)
    api = Api(viewer.client, screens.org)
    subscribed = api.post(
        f"/v2/customers/{tom}/subscriptions",
        json={
            "reason": "asked at the till",
            "subscriptions": [{"channel": "SMS", "priority": "BULK", "type": "OPTIN"}],
        },
    )
    assert subscribed.status_code == 200, subscribed.text
    page = viewer.get(f"/profiles/{tom}")
    assert page.status_code == 200
    html = page.text
    for shown in (
        "<h1>Tom Sawyer",
        "9900300001",
        "tom@example.com",
        "work@example.com",
        "primary",
        "Hannibal",
        "Gold",
        "Opt-in",
        "asked at the till",
        "NOT_FRAUD",
        "Active",
    ):
        assert shown in html, shown
    # A viewer reads: no control to change or delete, and no audit entries (admins').
    for control in ("Edit names", "Add or change a channel", "delete-reason", "Audit entries"):
        assert control not in html, control
    admin = screens.browser(Role.admin).get(f"/profiles/{tom}").text
    assert "Audit entries" in admin
    assert "<code>customer.register</code>" in admin
    assert "delete-reason" in admin


def test_a_merged_profile_shows_its_survivor(screens: Console) -> None:
    survivor = screens.register(first_name="Becky", mobile="9900300002")
    victim = screens.register(
        first_name="Rebecca",
        email="rebecca@example.com",
        loyalty_type="non_loyalty",
        source="MOBILE_APP",
        account_id="app",
    )
    viewer = screens.browser(Role.viewer)
    merge(
        Api(viewer.client, screens.org),
        victim=victim,
        survivor_mobile="9900300002",
        source="MOBILE_APP",
        account_id="app",
    )
    page = viewer.get(f"/profiles/{victim}").text
    assert f'<span class="muted id">#{survivor}</span>' in page
    assert f"Profile #{victim} was merged into this one (#{survivor})" in page
    assert f'<a href="/profiles/{victim}">#{victim}</a> merged into' in page
    assert 'data-source="MOBILE_APP"' in page
    assert 'data-source="INSTORE"' in page


def test_an_editor_changes_names_fields_and_channels_in_place(screens: Console) -> None:
    tom = _tom(screens)
    editor = screens.browser(Role.editor)
    names = editor.post(
        f"/profiles/{tom}/names",
        {"source": "INSTORE", "first_name": "Thomas", "last_name": "Sawyer"},
        follow_redirects=False,
    )
    assert names.status_code == 303
    assert names.headers["location"] == f"/profiles/{tom}?saved=1#profile-instore"
    assert _first_name(screens, tom) == "Thomas"
    # With htmx the part comes back in place, saying so.
    field = editor.post(
        f"/profiles/{tom}/fields",
        {"kind": "custom", "name": "visits", "value": "12"},
        headers={"HX-Request": "true"},
    )
    assert field.status_code == 200
    assert field.text.lstrip().startswith("<section")
    assert "Saved." in field.text
    assert ">12</td>" in field.text
    tier = editor.post(
        f"/profiles/{tom}/fields", {"kind": "extended", "name": "tier", "value": "Blue"}
    )
    assert ">Blue</td>" in tier.text
    channel = editor.post(
        f"/profiles/{tom}/channels",
        {"source": "INSTORE", "type": "mobile", "value": "9900300009"},
        headers={"HX-Request": "true"},
    )
    assert channel.status_code == 200
    assert "9900300009" in channel.text
    changes = [
        (actor, details["changed"])
        for actor, action, details in screens.audit_actions(tom)
        if action == "customer.update"
    ]
    assert changes == [
        (editor.user.username, ["firstName"]),
        (editor.user.username, ["fields.visits"]),
        (editor.user.username, ["extendedFields.tier"]),
        (editor.user.username, ["commChannels.mobile"]),
    ]


def test_an_invalid_edit_is_shown_beside_its_field(screens: Console) -> None:
    tom = _tom(screens)
    editor = screens.browser(Role.editor)
    name = editor.post(
        f"/profiles/{tom}/names", {"source": "INSTORE", "first_name": "R2D2", "last_name": "Sawyer"}
    )
    assert name.status_code == 400
    assert "firstName" in field_error(name.text, "profile-instore-first")
    assert 'value="R2D2"' in name.text  # what was typed stays, to be corrected
    assert field_error(name.text, "profile-instore-last") == ""
    assert _first_name(screens, tom) == "Tom"
    number = editor.post(
        f"/profiles/{tom}/fields",
        {"kind": "custom", "name": "visits", "value": "many"},
        headers={"HX-Request": "true"},
    )
    assert number.status_code == 400
    assert "needs a integer value" in field_error(number.text, "field-custom-visits-input")
    channel = editor.post(
        f"/profiles/{tom}/channels", {"source": "INSTORE", "type": "email", "value": "not-an-email"}
    )
    assert channel.status_code == 400
    assert "Invalid email id" in field_error(channel.text, "profile-instore-cvalue")
    with transaction(screens.engine) as conn:
        status.change_fraud_status(conn, screens.org.admin, tom, status="MARKED", reason="x")
    frozen = editor.post(
        f"/profiles/{tom}/names", {"source": "INSTORE", "first_name": "Tim", "last_name": "Sawyer"}
    )
    assert frozen.status_code == 403
    assert "marked as fraud" in frozen.text
    assert _first_name(screens, tom) == "Tom"


def test_a_viewer_is_refused_an_edit_even_forged(screens: Console) -> None:
    tom = _tom(screens)
    viewer = screens.browser(Role.viewer)
    forged = viewer.post(
        f"/profiles/{tom}/names", {"source": "INSTORE", "first_name": "Mallory", "last_name": "X"}
    )
    assert forged.status_code == 403
    assert "This needs the editor role" in forged.text
    assert _first_name(screens, tom) == "Tom"


def test_an_admin_deletes_a_profile_for_a_reason(screens: Console) -> None:
    tom = _tom(screens)
    admin = screens.browser(Role.admin)
    deleted = admin.post(
        f"/profiles/{tom}/delete", {"reason": "Asked to be forgotten"}, follow_redirects=False
    )
    assert deleted.status_code == 303
    assert deleted.headers["location"] == f"/profiles?deleted={tom}"
    assert f"Profile #{tom} was deleted." in admin.get(deleted.headers["location"]).text
    assert admin.get(f"/profiles/{tom}").status_code == 404
    entries = [d for _, action, d in screens.audit_actions(tom) if action == "customer.delete"]
    assert [entry["reason"] for entry in entries] == ["Asked to be forgotten"]


def test_a_deletion_without_a_reason_is_refused_beside_the_field(screens: Console) -> None:
    tom = _tom(screens)
    admin = screens.browser(Role.admin)
    for reason in ("", "   ", "x" * 501):
        refused = admin.post(f"/profiles/{tom}/delete", {"reason": reason})
        assert refused.status_code == 400
        assert "reason" in field_error(refused.text, "delete-reason")
        assert "<details open>" in refused.text
    with transaction(screens.engine, write=False) as conn:
        row = conn.execute(sa.select(customers.c.deleted_at).where(customers.c.id == tom)).one()
    assert row.deleted_at is None


def test_no_delete_control_below_admin_and_a_forged_deletion_is_refused(
    screens: Console,
) -> None:
    tom = _tom(screens)
    for role in (Role.viewer, Role.editor):
        browser = screens.browser(role)
        assert "Delete…" not in browser.get(f"/profiles/{tom}").text
        forged = browser.post(f"/profiles/{tom}/delete", {"reason": "because"})
        assert forged.status_code == 403
    assert screens.browser(Role.viewer).get(f"/profiles/{tom}").status_code == 200


def test_a_change_without_the_sessions_token_is_refused(screens: Console) -> None:
    tom = _tom(screens)
    admin = screens.browser(Role.admin)
    for token in (None, "forged-token"):
        data = {"reason": "gone"} | ({"csrf_token": token} if token else {})
        refused = admin.client.post(f"/profiles/{tom}/delete", data=data)
        assert refused.status_code == 403
        assert "security token" in refused.text
        renamed = admin.client.post(
            f"/profiles/{tom}/names",
            data={"source": "INSTORE", "first_name": "Eve"}
            | ({"csrf_token": token} if token else {}),
        )
        assert renamed.status_code == 403
    assert admin.get(f"/profiles/{tom}").status_code == 200
    assert _first_name(screens, tom) == "Tom"


def test_an_unknown_profile_is_the_404_page(screens: Console) -> None:
    viewer = screens.browser(Role.viewer)
    other = screens.register(mobile="9900300077")
    for path in ("/profiles/999999999", f"/profiles/{2**63}"):
        assert viewer.get(path).status_code == 404
    # Another org's profile is a profile that does not exist.
    elsewhere = make_org(screens.engine)
    with transaction(screens.engine) as conn:
        body = RegisterIn(**registration(mobile="9900300078"))
        foreign = register(conn, elsewhere.admin, body).customer_id
    assert viewer.get(f"/profiles/{foreign}").status_code == 404
    assert viewer.get(f"/profiles/{other}").status_code == 200
