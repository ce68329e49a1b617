"""The settings page over HTTP: the synchronization rule, mandatory fields, the time zone."""

from __future__ import annotations

from patron.auth.actor import Role
from patron.kit.db import transaction
from patron.orgs import service as orgs
from patron.orgs import sync_rule
from tests.web.console import Console


def _rule(screens: Console) -> sync_rule.SyncRule:
    with transaction(screens.engine, write=False) as conn:
        return sync_rule.get_rule(conn, screens.org.id)


def test_the_rule_editor_stores_groups_of_keys(screens: Console) -> None:
    with transaction(screens.engine) as conn:
        orgs.add_field(conn, screens.org.admin, kind="custom", name="dob", data_type="date")
    admin = screens.browser(Role.admin)
    page = admin.get("/settings").text
    assert "the default rule" in page
    assert 'name="group-1" value="customField.dob"' in page
    saved = admin.post(
        "/settings/sync-rule",
        [
            ("group-1", "mobile"),
            ("group-2", ""),
            ("group-3", "firstName"),
            ("group-3", "lastName"),
            ("group-3", "customField.dob"),
        ],
        headers={"HX-Request": "true"},
    )
    assert saved.status_code == 200
    assert saved.text.lstrip().startswith('<section class="panel" id="rule-panel"')
    assert "Synchronization rule saved." in saved.text
    assert "(mobile) <strong>or</strong> (firstName and lastName and customField.dob)" in saved.text
    assert _rule(screens).groups == (("mobile",), ("firstName", "lastName", "customField.dob"))
    changes = [d for _, action, d in screens.audit_actions() if action == "org.sync_rule.change"]
    assert changes == [
        {"before": "default", "after": [["mobile"], ["firstName", "lastName", "customField.dob"]]}
    ]
    # The boxes come back ticked as stored, and one empty group to add another.
    again = admin.get("/settings").text
    assert 'name="group-2" value="firstName" checked' in again
    assert 'name="group-3" value="mobile">' in again
    reset = admin.post("/settings/sync-rule", {"group-1": "mobile", "default": "1"})
    assert "The default rule applies again." in reset.text
    assert _rule(screens).is_default


def test_a_refused_rule_is_shown_beside_its_group(screens: Console) -> None:
    admin = screens.browser(Role.admin)
    refused = admin.post(
        "/settings/sync-rule", [("group-1", "mobile"), ("group-4", "customField.nothing")]
    )
    assert refused.status_code == 400
    assert 'id="group-2-error">group 2:' in refused.text
    nothing = admin.post("/settings/sync-rule", [("group-1", "")])
    assert nothing.status_code == 400
    assert "needs at least one group" in nothing.text
    assert _rule(screens).is_default
    more = admin.post("/settings/sync-rule", [("group-1", "email"), ("more", "1")])
    assert 'name="group-1" value="email" checked' in more.text
    assert 'name="group-3"' in more.text  # two empty groups now
    assert _rule(screens).is_default  # adding a group saves nothing


def test_mandatory_fields_and_the_time_zone(screens: Console) -> None:
    with transaction(screens.engine) as conn:
        orgs.add_field(conn, screens.org.admin, kind="custom", name="city")
    admin = screens.browser(Role.admin)
    fields = admin.post(
        "/settings/required-fields", [("fields", "email"), ("fields", "customField.city")]
    )
    assert "Mandatory fields saved." in fields.text
    assert 'name="fields" value="customField.city" checked' in fields.text
    zone = admin.post("/settings/time-zone", {"time_zone": "Asia/Ho_Chi_Minh"})
    assert "Times are shown in Asia/Ho_Chi_Minh now." in zone.text
    with transaction(screens.engine, write=False) as conn:
        settings = orgs.get_settings(conn, screens.org.id)
    assert settings.manual_required_fields == ["email", "customField.city"]
    assert settings.time_zone == "Asia/Ho_Chi_Minh"
    assert "Asia/Ho_Chi_Minh" in admin.get("/account").text
    wrong = admin.post("/settings/time-zone", {"time_zone": "Mars/Olympus"})
    assert wrong.status_code == 400
    assert 'id="time-zone-error"' in wrong.text
    unknown = admin.post("/settings/required-fields", {"fields": "customField.shoe"})
    assert unknown.status_code == 400
    assert 'id="required-error"' in unknown.text
    changed = [d["changed"] for _, a, d in screens.audit_actions() if a == "org.settings.change"]
    assert changed == [["manual_required_fields"], ["time_zone"]]


def test_only_admins_change_settings(screens: Console) -> None:
    for role in (Role.viewer, Role.editor):
        browser = screens.browser(role)
        assert 'href="/settings"' not in browser.get("/profiles").text
        assert browser.get("/settings").status_code == 403
        forged = browser.post("/settings/sync-rule", {"group-1": "email"})
        assert forged.status_code == 403
        zone = browser.post("/settings/time-zone", {"time_zone": "Europe/Paris"})
        assert zone.status_code == 403
    assert _rule(screens).is_default
