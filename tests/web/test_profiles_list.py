"""The Identified Profiles list over HTTP: search, each filter, sort, pages, roles."""

from __future__ import annotations

from patron.auth.actor import Role
from patron.customer import status
from patron.customer.lookup import SourceAccount
from patron.kit.db import transaction
from patron.orgs import service as orgs
from tests.web.console import Console, field_error, listed


def _people(screens: Console) -> dict[str, int]:
    """A few people who differ in what each filter looks at."""
    with transaction(screens.engine) as conn:
        store = orgs.add_unit(conn, screens.org.admin, kind="store", code="hcm1", name="Saigon")
        orgs.add_unit(
            conn, screens.org.admin, kind="till", code="hcm1.t1", parent_id=int(store["id"])
        )
        orgs.add_field(conn, screens.org.admin, kind="custom", name="city")
    return {
        "an": screens.register(
            first_name="An",
            last_name="Nguyen",
            mobile="9900100001",
            email="an@example.com",
            createDate="2025-01-10T09:00:00+00:00",
            associatedWith="hcm1.t1",
            profile={"fields": {"city": "Hue"}},
        ),
        "binh": screens.register(
            first_name="Binh",
            last_name="Tran",
            mobile="9900100002",
            loyalty_type="non_loyalty",
            createDate="2025-03-05T09:00:00+00:00",
            profile={"fields": {"city": "Hanoi"}},
        ),
        "chi": screens.register(
            first_name="Chi",
            last_name="Le",
            mobile="9900200003",
            email="chi@example.com",
            source="MOBILE_APP",
            account_id="app1",
            createDate="2025-06-20T09:00:00+00:00",
        ),
    }


def test_each_filter_narrows_the_list(screens: Console) -> None:
    people = _people(screens)
    with transaction(screens.engine) as conn:
        admin = screens.org.admin
        orgs.add_label(conn, admin, label="VIP", system_status="Active")
        status.change_status(
            conn, admin, SourceAccount("INSTORE"), "mobile", "9900100002", label="VIP", reason="x"
        )
        status.change_fraud_status(conn, admin, people["chi"], status="MARKED", reason="chargeback")
    viewer = screens.browser(Role.viewer)
    everyone = listed(viewer.get("/profiles").text)
    assert set(everyone) == set(people.values())
    cases = {
        "q=bin": [people["binh"]],
        "q=Chi+Le": [people["chi"]],
        "q=99001000": [people["binh"], people["an"]],
        "q=an%40example": [people["an"]],
        f"q={people['chi']}": [people["chi"]],
        "source=MOBILE_APP": [people["chi"]],
        "loyalty_type=non_loyalty": [people["binh"]],
        "status_label=VIP": [people["binh"]],
        "fraud_status=MARKED": [people["chi"]],
        "registered_from=2025-03-01": [people["chi"], people["binh"]],
        "registered_to=2025-03-05": [people["binh"], people["an"]],
        "registered_from=2025-03-01&registered_to=2025-03-31": [people["binh"]],
        "store=hcm1": [people["an"]],
        "field=city&field_value=Hanoi": [people["binh"]],
    }
    for query, expected in cases.items():
        response = viewer.get(f"/profiles?{query}")
        assert response.status_code == 200, (query, response.text)
        assert listed(response.text) == expected, query


def test_dates_are_days_in_the_orgs_time_zone(screens: Console) -> None:
    # 23:30 UTC on 31 January is already 1 February in Ho Chi Minh City (UTC+7).
    late = screens.register(mobile="9900100010", createDate="2025-01-31T23:30:00+00:00")
    with transaction(screens.engine) as conn:
        orgs.change_settings(conn, screens.org.admin, {"time_zone": "Asia/Ho_Chi_Minh"})
    viewer = screens.browser(Role.viewer)
    assert listed(viewer.get("/profiles?registered_from=2025-02-01").text) == [late]
    assert listed(viewer.get("/profiles?registered_to=2025-01-31").text) == []


def test_sorted_by_registration_date_or_by_name(screens: Console) -> None:
    people = _people(screens)
    viewer = screens.browser(Role.viewer)
    newest_first = [people["chi"], people["binh"], people["an"]]
    assert listed(viewer.get("/profiles").text) == newest_first
    assert listed(viewer.get("/profiles?sort=registeredAt").text) == newest_first[::-1]
    assert listed(viewer.get("/profiles?sort=name").text) == [
        people["an"],
        people["binh"],
        people["chi"],
    ]
    assert listed(viewer.get("/profiles?sort=-name").text)[0] == people["chi"]


def test_pages_of_50_follow_one_another(screens: Console) -> None:
    ids = [screens.register(mobile=f"99002{n:05d}", first_name="Page") for n in range(53)]
    viewer = screens.browser(Role.viewer)
    first = viewer.get("/profiles?q=Page")
    assert listed(first.text) == ids[::-1][:50]
    assert "Next page" in first.text
    cursor = first.text.split('name="cursor" value="')[1].split('"')[0]
    second = viewer.get(f"/profiles?q=Page&cursor={cursor}")
    assert listed(second.text) == ids[::-1][50:]
    assert "Next page" not in second.text
    assert "First page" in second.text


def test_a_filtered_list_has_an_address_to_share(screens: Console) -> None:
    _people(screens)
    viewer = screens.browser(Role.viewer)
    # The form sends its empty fields too; the address keeps only what was given.
    sent = viewer.get(
        "/profiles?q=bin&source=&loyalty_type=&sort=-registeredAt&field=", follow_redirects=False
    )
    assert sent.status_code == 303
    assert sent.headers["location"] == "/profiles?q=bin"
    # htmx swaps the list in place and puts the same address in the browser's bar.
    swapped = viewer.htmx("/profiles?q=bin&source=&sort=name")
    assert swapped.headers["HX-Push-Url"] == "/profiles?q=bin&sort=name"
    assert "<html" not in swapped.text
    assert 'id="profiles-list"' in swapped.text


def test_a_refused_filter_is_shown_beside_its_field(screens: Console) -> None:
    _people(screens)
    viewer = screens.browser(Role.viewer)
    store = viewer.get("/profiles?store=nowhere")
    assert store.status_code == 400
    assert "unknown store" in field_error(store.text, "f-store")
    day = viewer.get("/profiles?registered_from=31.01.2025")
    assert day.status_code == 400
    assert "YYYY-MM-DD" in field_error(day.text, "f-from")
    value = viewer.get("/profiles?field=city&field_value=" + "x" * 300)
    assert value.status_code == 400
    assert "customField.city" in field_error(value.text, "f-field-value")


def test_controls_follow_the_role(screens: Console) -> None:
    _people(screens)
    viewer = screens.browser(Role.viewer).get("/profiles").text
    editor = screens.browser(Role.editor).get("/profiles").text
    admin = screens.browser(Role.admin).get("/profiles").text
    assert "Create new Profile" not in viewer
    assert "Create new Profile" in editor
    for page in (viewer, editor):
        assert 'name="selected"' not in page
        assert "Delete selected" not in page
    assert 'name="selected"' in admin
    assert "Delete selected" in admin


def test_the_selection_travels_with_the_pages(screens: Console) -> None:
    ids = [screens.register(mobile=f"99003{n:05d}", first_name="Sel") for n in range(52)]
    admin = screens.browser(Role.admin)
    page = admin.get(f"/profiles?q=Sel&selected={ids[0]}&selected={ids[51]}").text
    # ids[51] is on this first page: ticked; ids[0] is on the next one: carried along.
    assert f'id="select-{ids[51]}" name="selected" value="{ids[51]}" checked' in page
    assert f'<input type="hidden" name="selected" value="{ids[0]}">' in page
    assert 'formaction="/profiles/delete"' in page


def test_displayed_fields_are_remembered_for_the_user_on_every_device(screens: Console) -> None:
    _people(screens)
    office = screens.browser(Role.viewer)
    assert 'data-field="registeredAt"' in office.get("/profiles").text  # the default columns
    chosen = office.post(
        "/profiles/columns",
        [("columns", "store"), ("columns", "email"), ("back", "/profiles?q=an")],
        follow_redirects=False,
    )
    assert chosen.status_code == 303
    assert chosen.headers["location"] == "/profiles?q=an"
    # Another browser (the phone), signed in as the same user: the same columns.
    phone = screens.open(office.user)
    html = phone.get("/profiles").text
    assert [
        c for c in ("email", "store", "mobile", "registeredAt") if f'data-field="{c}"' in html
    ] == [
        "email",
        "store",
    ]
    assert "hcm1.t1" in html  # where An registered
    # Another user of the org keeps their own.
    other = screens.browser(Role.viewer, fresh=True).get("/profiles").text
    assert 'data-field="registeredAt"' in other
    refused = office.post("/profiles/columns", [("columns", "password")])
    assert refused.status_code == 400
