"""Create new Profile over HTTP: the steps, consent, the synchronization rule, mandatory fields."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

from patron.auth.actor import Role
from patron.customer.tables import customers
from patron.kit.db import transaction
from patron.orgs import service as orgs
from patron.orgs import sync_rule
from patron.subscriptions import service as subscriptions
from tests.web.console import Browser, Console, field_error

PATH = "/profiles/new/individual"


def _count(screens: Console) -> int:
    query = sa.select(sa.func.count()).where(customers.c.org_id == screens.org.id)
    with transaction(screens.engine, write=False) as conn:
        return int(conn.execute(query).scalar_one())


def _save(browser: Browser, values: dict[str, str], **kwargs: Any) -> Any:
    return browser.post(PATH, values | {"step": "save"}, **kwargs)


def test_create_new_profile_offers_both_ways(screens: Console) -> None:
    editor = screens.browser(Role.editor)
    page = editor.get("/profiles/new").text
    assert '<a class="choice" href="/profiles/new/individual"><strong>Create individually' in page
    assert '<a class="choice" href="/imports/new"><strong>Upload file' in page
    assert 'href="/profiles/new"' in editor.get("/profiles").text  # Create new Profile


def test_the_steps_in_order_and_consent_into_the_ledger(screens: Console) -> None:
    with transaction(screens.engine) as conn:
        orgs.add_field(conn, screens.org.admin, kind="custom", name="birthday", data_type="date")
    editor = screens.browser(Role.editor)
    first = editor.get(PATH).text
    assert 'name="full_name"' in first
    assert 'name="mobile"' in first
    assert 'name="email"' in first
    assert 'name="attr.birthday" type="date"' in first
    assert ">Continue</button>" in first
    typed = {
        "full_name": "Nguyen Van An",
        "mobile": "9900500001",
        "email": "An@Example.com",
        "attr.birthday": "1990-04-30",
    }
    consent = editor.post(PATH, typed | {"step": "consent"})
    assert consent.status_code == 200
    assert 'name="consent.mobile" value="OPTIN"' in consent.text
    assert 'name="consent.email" value="OPTOUT"' in consent.text
    assert ">Save</button>" in consent.text
    assert _count(screens) == 0  # nothing is stored before Save
    # The first step's values travel with the form.
    assert '<input type="hidden" name="attr.birthday" value="1990-04-30">' in consent.text
    saved = _save(
        editor,
        typed | {"consent.mobile": "OPTIN", "consent.email": "OPTOUT"},
        follow_redirects=False,
    )
    assert saved.status_code == 303, saved.text
    location = saved.headers["location"]
    customer_id = int(location.split("/")[2].split("?")[0])
    assert location.endswith("?saved=created")
    page = editor.get(location).text
    assert "Profile created." in page
    assert "Nguyen Van An" in page
    assert "1990-04-30" in page
    with transaction(screens.engine, write=False) as conn:
        ledger = subscriptions.ledger(conn, screens.org.id, customer_id)
    assert {(row["channel"], row["status"], row["origin"], row["actor"]) for row in ledger} == {
        ("SMS", "OPTIN", "console", editor.user.username),
        ("EMAIL", "OPTOUT", "console", editor.user.username),
    }
    assert "customer.register" in {a for _, a, _ in screens.audit_actions(customer_id)}


def test_the_synchronization_rule_updates_the_person_it_finds(screens: Console) -> None:
    with transaction(screens.engine) as conn:
        sync_rule.set_rule(conn, screens.org.admin, [["mobile"]])
    known = screens.register(mobile="9900500002", first_name="Binh", last_name="Tran")
    editor = screens.browser(Role.editor)
    saved = _save(
        editor,
        {"full_name": "Binh Tran", "mobile": "9900500002", "email": "binh@example.com"},
        follow_redirects=False,
    )
    assert saved.status_code == 303, saved.text
    assert saved.headers["location"] == f"/profiles/{known}?saved=updated&matched=mobile"
    page = editor.get(saved.headers["location"]).text
    assert "the synchronization rule matched: mobile" in page
    assert f"profile #{known} was updated" in page
    assert "binh@example.com" in page
    assert _count(screens) == 1


def test_mandatory_fields_are_enforced(screens: Console) -> None:
    with transaction(screens.engine) as conn:
        orgs.add_field(conn, screens.org.admin, kind="custom", name="city")
        orgs.change_settings(
            conn, screens.org.admin, {"manual_required_fields": ["email", "customField.city"]}
        )
    editor = screens.browser(Role.editor)
    first = editor.get(PATH).text
    assert re.search(r'id="p-email" name="email" [^>]* required', first)
    assert re.search(r'id="p-attr-1" name="attr.city" [^>]* required', first)
    refused = _save(editor, {"full_name": "Chi Le", "mobile": "9900500003"})
    assert refused.status_code == 400
    assert field_error(refused.text, "p-email") == "Email is required"
    assert field_error(refused.text, "p-attr-1") == "city is required"
    assert 'value="Chi Le"' in refused.text  # back at the first step, as typed
    assert _count(screens) == 0
    saved = _save(
        editor,
        {"full_name": "Chi Le", "mobile": "9900500003", "email": "chi@x.org", "attr.city": "Hue"},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    assert _count(screens) == 1


def test_a_refused_field_comes_back_beside_it(screens: Console) -> None:
    editor = screens.browser(Role.editor)
    refused = _save(editor, {"full_name": "Dung Pham", "mobile": "12", "consent.mobile": "OPTIN"})
    assert refused.status_code == 400
    assert "Mobile is invalid" in field_error(refused.text, "p-mobile")
    # The consent already chosen travels back with the first step.
    assert '<input type="hidden" name="consent.mobile" value="OPTIN">' in refused.text
    neither = _save(editor, {"full_name": "Dung Pham"})
    assert "mobile number or an email" in field_error(neither.text, "p-mobile")
    assert _count(screens) == 0


def test_a_viewer_cannot_create(screens: Console) -> None:
    viewer = screens.browser(Role.viewer)
    assert "Create new Profile" not in viewer.get("/profiles").text
    assert viewer.get("/profiles/new").status_code == 403
    assert viewer.get(PATH).status_code == 403
    forged = _save(viewer, {"full_name": "Eve Mallory", "mobile": "9900500009"})
    assert forged.status_code == 403
    assert _count(screens) == 0
