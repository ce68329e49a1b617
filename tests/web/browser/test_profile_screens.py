"""The profile screens in a real browser: the list, the profile page, Create new Profile,
deleting, settings and the audit log; with JavaScript (htmx) and, for reading, without."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy.engine import Engine

from patron.auth.actor import Role
from patron.customer import lookup, update
from patron.customer.registration import register
from patron.customer.schemas import ChannelIn, ProfileIn, RegisterIn, UpdateIn
from patron.kit.db import transaction
from patron.orgs import service as orgs
from patron.subscriptions import service as subscriptions
from patron.subscriptions.schemas import SubscriptionIn, SubscriptionUpdate
from tests.factories import registration
from tests.web.browser.conftest import LAPTOP, PHONE, screenshot, sign_in
from tests.web.conftest import ConsoleUser, make_user

pytestmark = pytest.mark.sqlite_only

PEOPLE = [
    ("Nguyen Van", "An", "9900700001", "an.nguyen@example.com", "loyalty"),
    ("Tran Thi", "Binh", "9900700002", "binh.tran@example.com", "non_loyalty"),
    ("Le", "Chi", "9900700003", "chi.le@example.com", "loyalty"),
    ("Pham", "Dung", "9900700004", "dung.pham@example.com", "loyalty"),
    ("Hoang", "Em", "9900700005", "em.hoang@example.com", "non_loyalty"),
]


def _org_with_people(engine: Engine) -> tuple[ConsoleUser, list[int]]:
    """An admin of a new org with a store, custom fields and a few people."""
    admin = make_user(engine, Role.admin)
    actor = admin.org.admin
    with transaction(engine) as conn:
        orgs.add_unit(conn, actor, kind="store", code="hcm-q1", name="Saigon Q1")
        orgs.add_field(conn, actor, kind="custom", name="city")
        orgs.add_field(conn, actor, kind="custom", name="birthday", data_type="date")
        orgs.add_field(
            conn, actor, kind="custom", name="shirt", data_type="enum", enum_values=["S", "M", "L"]
        )
        orgs.change_settings(conn, actor, {"time_zone": "Asia/Ho_Chi_Minh"})
        ids = []
        for first, last, mobile, email, loyalty in PEOPLE:
            body = registration(
                first_name=first,
                last_name=last,
                mobile=mobile,
                email=email,
                loyalty_type=loyalty,
                associatedWith="hcm-q1",
                profile={"fields": {"city": "Ho Chi Minh City"}},
            )
            ids.append(register(conn, actor, RegisterIn(**body)).customer_id)
    return admin, ids


def _a_little_history(engine: Engine, admin: ConsoleUser, customer_id: int) -> None:
    """Consent, a changed field and a channel, so that the pictures show those parts."""
    actor = admin.org.admin
    with transaction(engine) as conn:
        subscriptions.update(
            conn,
            actor,
            customer_id,
            SubscriptionUpdate(
                reason="asked at the till",
                subscriptions=[
                    SubscriptionIn(channel="SMS", priority="BULK", type="OPTIN"),
                    SubscriptionIn(channel="EMAIL", priority="BULK", type="OPTOUT"),
                ],
            ),
        )
        resolved = lookup.resolve(conn, actor.org_id, customer_id, for_update=True)
        body = UpdateIn(
            profiles=[
                ProfileIn(
                    fields={"birthday": "1990-04-30", "shirt": "M"},
                    commChannels=[ChannelIn(type="email", value="an@work.example", primary=True)],
                )
            ]
        )
        update.update(conn, actor, resolved, lookup.SourceAccount("INSTORE"), body)


def _rows(page: Page) -> Any:
    return page.locator("tr[data-profile]")


def _mark_document(page: Page) -> None:
    """Leave a mark on the page's window: it survives htmx swaps, not a full reload."""
    page.evaluate("window.patronTestMark = 'kept'")


def _still_marked(page: Page) -> bool:
    return bool(page.evaluate("window.patronTestMark === 'kept'"))


def test_search_and_filters_update_the_list_in_place(
    new_page: Callable[..., Page], console: str, engine: Engine
) -> None:
    admin, _ids = _org_with_people(engine)
    page = new_page()
    sign_in(page, console, admin, next_page="/profiles")
    expect(_rows(page)).to_have_count(len(PEOPLE))
    _mark_document(page)
    page.get_by_label("Search", exact=True).fill("Tran")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(_rows(page)).to_have_count(1)
    expect(page).to_have_url(f"{console}/profiles?q=Tran")
    assert _still_marked(page), "the list was not swapped in place"
    # The filters: folded until asked for.
    page.get_by_label("Search", exact=True).fill("")
    page.get_by_text("Filters", exact=True).click()
    filters = page.get_by_role("region", name="Search and filters")
    filters.get_by_label("Loyalty type").select_option("non_loyalty")
    page.get_by_role("button", name="Apply filters").click()
    expect(_rows(page)).to_have_count(2)
    expect(page).to_have_url(f"{console}/profiles?loyalty_type=non_loyalty")
    filters.get_by_label("Store").fill("nowhere")
    page.get_by_role("button", name="Apply filters").click()
    expect(page.locator("#f-store-error")).to_contain_text("unknown store")
    expect(filters.get_by_label("Store")).to_have_attribute("aria-invalid", "true")
    assert _still_marked(page)
    # The address is the filtered list: opened afresh, it shows the same rows.
    other = new_page()
    sign_in(other, console, admin, next_page="/profiles?loyalty_type=non_loyalty&sort=name")
    expect(_rows(other)).to_have_count(2)
    expect(other.locator("tr[data-profile] th a").first).to_have_text("Hoang Em")


def test_the_list_works_with_the_keyboard_and_without_javascript(
    browser: Any, console: str, engine: Engine
) -> None:
    admin, _ids = _org_with_people(engine)
    context = browser.new_context(viewport=LAPTOP, java_script_enabled=False)
    try:
        page = context.new_page()
        sign_in(page, console, admin, next_page="/profiles")
        search = page.get_by_label("Search", exact=True)
        search.focus()
        page.keyboard.type("Le")
        page.keyboard.press("Enter")  # the form submits: a plain page load
        expect(page).to_have_url(f"{console}/profiles?q=Le")
        expect(_rows(page)).to_have_count(1)
        link = page.get_by_role("link", name="Le Chi")
        link.focus()
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", level=1)).to_contain_text("Le Chi")
        expect(page.locator('[data-field="identifiers"]').first).to_contain_text("9900700003")
    finally:
        context.close()


def test_delete_selected_profiles_with_a_reason(
    new_page: Callable[..., Page], console: str, engine: Engine
) -> None:
    admin, _ids = _org_with_people(engine)
    page = new_page()
    sign_in(page, console, admin, next_page="/profiles")
    page.get_by_label("Select Le Chi").check()
    page.get_by_label("Select Pham Dung").check()
    page.get_by_role("button", name="Delete selected").click()
    expect(page.get_by_role("heading", name="Delete profiles")).to_be_visible()
    expect(page.locator("main")).to_contain_text(
        "Deleting a personal customer profile is irreversible. "
        "The system will remove all related data links."
    )
    expect(page.locator("ul.chosen li")).to_have_count(2)
    screenshot(page, "profiles-delete")
    # Blank is no reason: refused beside the field.
    page.get_by_label("Reason for deleting").fill("   ")
    page.get_by_role("button", name="Delete", exact=True).click()
    expect(page.locator("#delete-reason-error")).to_contain_text("a reason is required")
    page.get_by_label("Reason for deleting").fill("Duplicates of customers who moved")
    page.get_by_role("button", name="Delete", exact=True).click()
    expect(page.get_by_role("status").first).to_have_text("2 of 2 profiles deleted.")
    page.get_by_role("link", name="Back to the list").click()
    expect(_rows(page)).to_have_count(len(PEOPLE) - 2)


def test_delete_one_profile_from_its_page(
    new_page: Callable[..., Page], console: str, engine: Engine
) -> None:
    admin, ids = _org_with_people(engine)
    page = new_page()
    sign_in(page, console, admin, next_page=f"/profiles/{ids[0]}")
    page.get_by_text("Delete…").click()
    page.get_by_label("Reason for deleting").fill("Asked to be forgotten")
    page.get_by_role("button", name="Delete", exact=True).click()
    expect(page).to_have_url(f"{console}/profiles?deleted={ids[0]}")
    expect(page.get_by_role("status").first).to_have_text(f"Profile #{ids[0]} was deleted.")


def test_create_individually_with_consent(
    new_page: Callable[..., Page], console: str, engine: Engine
) -> None:
    admin, _ = _org_with_people(engine)
    editor = make_user(engine, Role.editor, org=admin.org)
    page = new_page()
    sign_in(page, console, editor, next_page="/profiles")
    page.get_by_role("link", name="Create new Profile").click()
    expect(page.get_by_role("link", name=re.compile("^Upload file"))).to_have_attribute(
        "href", "/imports/new"
    )
    page.get_by_role("link", name=re.compile("^Create individually")).click()
    page.get_by_label("Full name").fill("Vo Thi Giang")
    page.get_by_label("Phone number").fill("990 070 0099")
    page.get_by_label("Email").fill("giang.vo@example.com")
    page.get_by_label("birthday").fill("1992-08-17")
    page.get_by_label("shirt").select_option("M")
    screenshot(page, "create-profile-laptop")
    page.get_by_role("button", name="Continue").click()
    expect(page.locator('.steps li[aria-current="step"]')).to_have_text("Consent")
    page.get_by_role("group", name=re.compile("^SMS")).get_by_label("Opt-in").check()
    page.get_by_role("group", name=re.compile("^Email")).get_by_label("Opt-out").check()
    screenshot(page, "create-profile-consent")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status").first).to_have_text("Profile created.")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Vo Thi Giang")
    customer_id = int(page.url.split("/profiles/")[1].split("?")[0])
    with transaction(engine, write=False) as conn:
        ledger = subscriptions.ledger(conn, admin.org.id, customer_id)
    assert {(row["channel"], row["status"], row["origin"]) for row in ledger} == {
        ("SMS", "OPTIN", "console"),
        ("EMAIL", "OPTOUT", "console"),
    }
    expect(page.locator('[data-table="subscriptions"]')).to_contain_text("Opt-in")


def test_the_synchronization_rule_updates_the_existing_profile(
    new_page: Callable[..., Page], console: str, engine: Engine
) -> None:
    admin, ids = _org_with_people(engine)
    page = new_page()
    sign_in(page, console, admin, next_page="/settings")
    page.get_by_role("group", name=re.compile("^Group 1")).get_by_label(
        "mobile", exact=True
    ).check()
    page.get_by_role("button", name="Save rule").click()
    expect(page.locator("#rule-panel .notice")).to_have_text("Synchronization rule saved.")
    page.goto(f"{console}/profiles/new/individual")
    page.get_by_label("Full name").fill("Nguyen Van An")
    page.get_by_label("Phone number").fill("9900700001")
    page.get_by_label("External id").fill("VIP-0001")
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("button", name="Save").click()
    expect(page).to_have_url(f"{console}/profiles/{ids[0]}?saved=updated&matched=mobile")
    expect(page.get_by_role("status").first).to_contain_text("already had a profile")
    expect(page.locator('[data-field="identifiers"]').first).to_contain_text("VIP-0001")


def test_edit_in_place_with_the_error_beside_the_field(
    new_page: Callable[..., Page], console: str, engine: Engine
) -> None:
    admin, ids = _org_with_people(engine)
    editor = make_user(engine, Role.editor, org=admin.org)
    page = new_page()
    sign_in(page, console, editor, next_page=f"/profiles/{ids[2]}")
    _mark_document(page)
    page.get_by_text("Edit names").click()
    page.get_by_label("First name").fill("Le2")
    page.get_by_role("button", name="Save").first.click()
    expect(page.locator("#profile-instore-first-error")).to_contain_text("firstName")
    expect(page.get_by_label("First name")).to_have_attribute("aria-invalid", "true")
    page.get_by_label("First name").fill("Lê")
    page.get_by_role("button", name="Save").first.click()
    expect(page.locator("#profiles-section .notice")).to_have_text("Saved.")
    expect(page.locator('[data-field="firstName"]')).to_have_text("Lê")
    row = page.locator('tr[data-field="custom.shirt"]')
    row.get_by_text("Edit").click()
    row.get_by_label("shirt").select_option("L")
    row.get_by_role("button", name="Save").click()
    expect(page.locator('tr[data-field="custom.shirt"] td.value')).to_have_text("L")
    assert _still_marked(page), "the edits reloaded the page"


def test_a_viewer_reads_and_is_refused_a_forged_deletion(
    new_page: Callable[..., Page], console: str, engine: Engine
) -> None:
    admin, ids = _org_with_people(engine)
    viewer = make_user(engine, Role.viewer, org=admin.org)
    page = new_page()
    sign_in(page, console, viewer, next_page=f"/profiles/{ids[1]}")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Tran Thi Binh")
    expect(page.get_by_text("Delete…")).to_have_count(0)
    expect(page.get_by_text("Edit names")).to_have_count(0)
    status = page.evaluate(
        """async (id) => {
            const token = document.querySelector('input[name="csrf_token"]').value;
            const body = new URLSearchParams({reason: "forged", csrf_token: token});
            const response = await fetch(`/profiles/${id}/delete`, {method: "POST", body});
            return response.status;
        }""",
        ids[1],
    )
    assert status == 403
    page.reload()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Tran Thi Binh")


@pytest.mark.parametrize(("width", "viewport"), [("laptop", LAPTOP), ("phone", PHONE)])
def test_pictures_of_the_profile_screens(
    new_page: Callable[..., Page],
    console: str,
    engine: Engine,
    width: str,
    viewport: dict[str, int],
) -> None:
    admin, ids = _org_with_people(engine)
    _a_little_history(engine, admin, ids[0])
    page = new_page(viewport)
    sign_in(page, console, admin, next_page="/profiles")
    expect(_rows(page)).to_have_count(len(PEOPLE))
    screenshot(page, f"profiles-{width}")
    page.goto(f"{console}/profiles/{ids[0]}")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Nguyen Van An")
    screenshot(page, f"profile-{width}")
    page.goto(f"{console}/profiles/new/individual")
    expect(page.get_by_role("heading", name="Create individually")).to_be_visible()
    if width == "phone":
        screenshot(page, "create-profile-phone")
    page.goto(f"{console}/settings")
    expect(page.get_by_role("heading", name="Profile synchronization rule")).to_be_visible()
    screenshot(page, f"settings-{width}")
    page.goto(f"{console}/audit")
    expect(page.locator("tr[data-entry]").first).to_be_visible()
    screenshot(page, f"audit-{width}")
