"""The profile page's loyalty section in a real browser: an editor grants goodwill and
sees the balance change in place (htmx), with the picture for the documentation."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy.engine import Engine

from patron.auth.actor import Role
from patron.customer.registration import register
from patron.customer.schemas import RegisterIn
from patron.kit.db import transaction
from patron.loyalty import programs, transactions
from tests.factories import registration
from tests.web.browser.conftest import screenshot, sign_in
from tests.web.conftest import ConsoleUser, make_user

pytestmark = pytest.mark.sqlite_only


def _member(engine: Engine) -> tuple[ConsoleUser, int]:
    admin = make_user(engine, Role.admin)
    actor = admin.org.admin
    slabs = [
        programs.SlabInput(name="Silver", earn_rate=0.1),
        programs.SlabInput(name="Gold", threshold=1000, earn_rate=0.2),
        programs.SlabInput(name="Platinum", threshold=5000, earn_rate=0.3),
    ]
    with transaction(engine) as conn:
        programs.add_program(
            conn,
            actor,
            programs.ProgramInput(
                name="Club",
                slabs=slabs,
                points_expiry_days=365,
                goodwill_auto_approve_limit=100,
            ),
        )
        body = registration(first_name="Mai", last_name="Anh", mobile="9900800001")
        mai = register(conn, actor, RegisterIn(**body)).customer_id
        for number, amount in (("B-101", 4200), ("B-102", 8100)):
            spec = transactions.BillInput(
                number=number,
                customer_id=mai,
                lines=[transactions.LineInput(sku="TEA", quantity=1, rate=amount)],
            )
            transactions.record_bill(conn, actor, spec)
    return admin, mai


def test_an_editor_grants_goodwill_and_sees_the_balance_change(
    new_page: Callable[..., Page], console: str, engine: Engine
) -> None:
    admin, mai = _member(engine)
    editor = make_user(engine, Role.editor, org=admin.org)
    page = new_page()
    sign_in(page, console, editor, next_page=f"/profiles/{mai}#loyalty")
    points = page.locator('#loyalty [data-field="points"]')
    expect(points).to_have_text("1230")  # 420 + 810 at Silver's rate
    expect(page.locator('#loyalty [data-field="tier"]')).to_contain_text("Gold")
    expect(page.locator('#loyalty [data-field="next-tier"]')).to_have_text("Platinum")
    page.evaluate("window.patronTestMark = 'kept'")
    page.get_by_text("Give goodwill points…").click()
    page.get_by_label("Points", exact=True).first.fill("lots")
    page.get_by_role("button", name="Give goodwill").click()
    expect(page.locator("#goodwill-points-error")).to_have_text("points must be a number")
    page.get_by_label("Points", exact=True).first.fill("75")
    page.get_by_label("Reason").fill("late delivery")
    page.get_by_role("button", name="Give goodwill").click()
    expect(page.locator("#loyalty .notice")).to_have_text("Goodwill of 75 points granted.")
    expect(points).to_have_text("1305")
    expect(page.locator('[data-table="points-ledger"] tbody tr').first).to_contain_text("GOODWILL")
    assert page.evaluate("window.patronTestMark === 'kept'"), "the form reloaded the page"
    page.locator("#loyalty").scroll_into_view_if_needed()
    screenshot(page, "profile-loyalty")
