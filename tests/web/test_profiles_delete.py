"""Deleting profiles selected in the list (1 to 100 for one reason), over HTTP."""

from __future__ import annotations

import sqlalchemy as sa

from patron.auth.actor import Role
from patron.customer.registration import register
from patron.customer.schemas import RegisterIn
from patron.customer.tables import customers
from patron.kit.db import transaction
from tests.conftest import Api
from tests.factories import merge, registration
from tests.web.console import Console, field_error


def _many(screens: Console, count: int) -> list[int]:
    with transaction(screens.engine) as conn:
        return [
            register(
                conn,
                screens.org.admin,
                RegisterIn(**registration(mobile=f"99004{n:05d}", first_name="Many")),
            ).customer_id
            for n in range(count)
        ]


def _live(screens: Console, ids: list[int]) -> set[int]:
    query = sa.select(customers.c.id).where(
        customers.c.id.in_(ids), customers.c.deleted_at.is_(None)
    )
    with transaction(screens.engine, write=False) as conn:
        return {int(i) for i in conn.execute(query).scalars()}


def test_the_confirmation_names_the_selection_and_warns(screens: Console) -> None:
    ann = screens.register(mobile="9900400001", first_name="Ann", last_name="Lee")
    bob = screens.register(mobile="9900400002", first_name="Bob", last_name="Ray")
    admin = screens.browser(Role.admin)
    page = admin.get(f"/profiles/delete?q=e&selected={ann}&selected={bob}")
    assert page.status_code == 200
    assert "Deleting a personal customer profile is irreversible." in page.text
    assert "The system will remove all related data links." in page.text
    assert f'<a href="/profiles/{ann}">Ann Lee</a>' in page.text
    assert f'<a href="/profiles/{bob}">Bob Ray</a>' in page.text
    assert 'name="reason"' in page.text
    assert ">Delete</button>" in page.text
    # Cancel goes back to the list as it was: its filters and the selection.
    assert f'href="/profiles?q=e&amp;selected={ann}&amp;selected={bob}">Cancel' in page.text
    # With htmx, the confirmation replaces the page's main area.
    swapped = admin.htmx(f"/profiles/delete?q=&source=&selected={ann}")
    assert swapped.headers["HX-Push-Url"] == f"/profiles/delete?selected={ann}"
    assert "<html" not in swapped.text
    assert "<h1>Delete profiles</h1>" in swapped.text


def test_deleting_100_profiles_for_one_reason(screens: Console) -> None:
    ids = _many(screens, 100)
    admin = screens.browser(Role.admin)
    confirm = admin.get("/profiles/delete?" + "&".join(f"selected={i}" for i in ids))
    assert confirm.status_code == 200
    assert "Selected profiles (100)" in confirm.text
    done = admin.post(
        "/profiles/delete",
        [("selected", str(i)) for i in ids] + [("reason", "Closed store, data not kept")],
    )
    assert done.status_code == 200
    assert "100 of 100 profiles deleted." in done.text
    assert 'href="/profiles">Back to the list' in done.text
    assert _live(screens, ids) == set()
    reasons = [
        (actor, details["reason"])
        for actor, action, details in screens.audit_actions()
        if action == "customer.delete"
    ]
    assert reasons == [(admin.user.username, "Closed store, data not kept")] * 100


def test_more_than_100_are_refused(screens: Console) -> None:
    ids = _many(screens, 101)
    admin = screens.browser(Role.admin)
    confirm = admin.get("/profiles/delete?" + "&".join(f"selected={i}" for i in ids))
    assert confirm.status_code == 400
    assert "At most 100 profiles can be deleted at once; 101 are selected." in confirm.text
    refused = admin.post(
        "/profiles/delete", [("selected", str(i)) for i in ids] + [("reason", "too many")]
    )
    assert refused.status_code == 400
    assert "at most 100 customers can be deleted at once" in refused.text
    assert _live(screens, ids) == set(ids)


def test_a_deletion_without_a_reason_is_refused_beside_the_field(screens: Console) -> None:
    ids = _many(screens, 3)
    admin = screens.browser(Role.admin)
    for reason in ("", "  "):
        refused = admin.post(
            "/profiles/delete", [("selected", str(i)) for i in ids] + [("reason", reason)]
        )
        assert refused.status_code == 400
        assert "a reason is required" in field_error(refused.text, "delete-reason")
        assert refused.text.count('type="hidden" name="selected"') == 3  # the selection stays
    assert _live(screens, ids) == set(ids)


def test_each_selected_profile_gets_its_own_answer(screens: Console) -> None:
    kept = screens.register(mobile="9900400010", first_name="Kept")
    victim = screens.register(
        email="gone@example.com", loyalty_type="non_loyalty", source="MOBILE_APP", account_id="a"
    )
    admin = screens.browser(Role.admin)
    merge(
        Api(admin.client, screens.org),
        victim=victim,
        survivor_mobile="9900400010",
        source="MOBILE_APP",
        account_id="a",
    )
    other = screens.register(mobile="9900400011")
    confirm = admin.get(f"/profiles/delete?selected={victim}&selected={other}").text
    assert f"merged into profile {kept}; delete that one instead" in confirm
    done = admin.post(
        "/profiles/delete", [("selected", str(victim)), ("selected", str(other)), ("reason", "r")]
    )
    assert "1 of 2 profiles deleted." in done.text
    assert "8069" in done.text
    assert _live(screens, [kept, other]) == {kept}


def test_only_admins_delete(screens: Console) -> None:
    ids = _many(screens, 2)
    for role in (Role.viewer, Role.editor):
        browser = screens.browser(role)
        assert browser.get(f"/profiles/delete?selected={ids[0]}").status_code == 403
        forged = browser.post("/profiles/delete", [("selected", str(ids[0])), ("reason", "r")])
        assert forged.status_code == 403
    no_token = screens.browser(Role.admin).client.post(
        "/profiles/delete", data={"selected": str(ids[0]), "reason": "r"}
    )
    assert no_token.status_code == 403
    assert _live(screens, ids) == set(ids)
