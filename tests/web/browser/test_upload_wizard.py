"""Upload file and the upload reports in Chromium: an .xlsx and its suggestions, a changed
mapping, consent in the ledger, the check, Confirm; three files processed in order, live;
pasting 1,000 rows and no more; the report page's rejected rows corrected and resubmitted;
undo from the report page. Pictures of each step at laptop and phone width."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect
from sqlalchemy.engine import Engine

from patron.auth.actor import Role
from patron.imports import jobs
from patron.imports.tables import imports
from patron.kit.db import transaction
from patron.subscriptions.tables import consent_ledger
from tests.web.browser.conftest import LAPTOP, PHONE, screenshot, sign_in
from tests.web.conftest import ConsoleUser, make_user
from tests.web.uploads import HEADER, XLSX, people, store_org, xlsx

pytestmark = pytest.mark.sqlite_only

#: Long enough for a worker polling every 0.2 s to check and import a small file.
WORK = 20_000


@pytest.fixture
def worker(engine: Engine) -> Iterator[jobs.Worker]:
    """An import worker beside the served console, as ``patron serve`` runs one."""
    running = jobs.Worker(engine, poll_seconds=0.2)
    running.start()
    yield running
    running.stop()


def _editor(engine: Engine) -> ConsoleUser:
    user = make_user(engine, Role.editor)
    store_org(engine, user.org)
    return user


def _file(name: str, rows: list[list[str]], sheets: int = 1) -> dict[str, Any]:
    book = {f"Sheet{n + 1}": [HEADER, *rows] for n in range(sheets)}
    return {"name": name, "mimeType": XLSX, "buffer": xlsx(book)}


def _states(engine: Engine, org_id: int) -> list[tuple[int, str, Any]]:
    with transaction(engine, write=False) as conn:
        found = conn.execute(
            sa.select(imports.c.id, imports.c.state, imports.c.committed_at)
            .where(imports.c.org_id == org_id)
            .order_by(imports.c.id)
        ).all()
    return [tuple(row) for row in found]


@pytest.mark.parametrize(("width", "viewport"), [("laptop", LAPTOP), ("phone", PHONE)])
def test_upload_an_xlsx_map_it_consent_and_confirm(
    engine: Engine,
    console: str,
    new_page: Callable[..., Page],
    worker: jobs.Worker,
    width: str,
    viewport: dict[str, int],
) -> None:
    user = _editor(engine)
    page = new_page(viewport)
    sign_in(page, console, user, next_page="/profiles/new")
    page.get_by_role("link", name=re.compile("^Upload file")).click()
    expect(page.get_by_role("heading", name="Upload file", level=1)).to_be_visible()
    expect(page.get_by_label("Import profile")).to_have_value("loyalty-customers")
    page.get_by_label("Files", exact=True).set_input_files(
        _file("members.xlsx", people(1, 4, bad=[1]))
    )
    screenshot(page, f"upload-file-{width}")
    page.get_by_role("button", name="Upload file").click()

    # Mapping: each column, samples, the suggestion and how sure it is.
    expect(page.get_by_role("heading", name="Map the columns of members.xlsx")).to_be_visible()
    expect(page.get_by_label("Mobile", exact=True)).to_have_value("mobile")
    expect(page.get_by_label("Store", exact=True)).to_have_value("store")
    expect(page.get_by_label("Member code")).to_have_value("")
    mobile_row = page.locator('tr[data-column="Mobile"]')
    expect(mobile_row.locator("td.suggestion")).to_contain_text("95%")
    expect(mobile_row.locator("td.samples")).to_contain_text("919800000001")
    page.get_by_label("Member code").select_option("external_id")  # changing the mapping
    page.get_by_label("Append the country code to mobile numbers").check()
    screenshot(page, f"upload-mapping-{width}")
    page.get_by_role("button", name="Continue").click()

    # Consent, recorded in the ledger with the import.
    sms = page.get_by_role("group", name="SMS to the mobile number")
    expect(sms).to_be_visible()
    sms.get_by_label("Opt-in").check()
    screenshot(page, f"upload-consent-{width}")
    page.get_by_role("button", name="Continue").click()

    # The check: counts and the first rejected rows, live once the worker got to it.
    expect(page.get_by_role("heading", name="Check and confirm")).to_be_visible()
    checked = page.locator("section.checked")
    expect(checked.locator("dl.counts")).to_contain_text("Inserted3", timeout=WORK)
    expect(checked.get_by_role("table")).to_contain_text("does not match the org's mobile rule")
    screenshot(page, f"upload-check-{width}")
    page.get_by_role("button", name="Confirm").click()

    expect(page.get_by_role("status").first).to_contain_text("1 file is queued")
    files = page.get_by_role("region", name="Your files")
    expect(files.locator("li.file").first).to_contain_text("Imported", timeout=WORK)
    expect(files.locator("li.file").first).to_contain_text("3 inserted")
    screenshot(page, f"upload-queue-{width}")
    [(import_id, state, _)] = _states(engine, user.org.id)
    assert state == "committed"
    with transaction(engine, write=False) as conn:
        ledger = conn.execute(
            sa.select(consent_ledger.c.status, consent_ledger.c.actor).where(
                consent_ledger.c.origin == f"import:{import_id}", consent_ledger.c.channel == "SMS"
            )
        ).all()
    assert sorted(ledger) == [("OPTIN", user.username)] * 3


def test_three_files_are_processed_in_order(
    engine: Engine, console: str, page: Page, worker: jobs.Worker
) -> None:
    user = _editor(engine)
    sign_in(page, console, user, next_page="/imports/new")
    page.get_by_label("Files", exact=True).set_input_files(
        [_file(f"part-{n}.xlsx", people(100 + 10 * n, 3)) for n in range(1, 4)]
    )
    page.get_by_role("button", name="Upload file").click()
    expect(page.get_by_role("heading", name="Map the columns of part-1.xlsx")).to_be_visible()
    others = page.get_by_role("group", name=re.compile("Also use this mapping"))
    expect(others.get_by_label("part-2.xlsx")).to_be_checked()
    expect(others.get_by_label("part-3.xlsx")).to_be_checked()
    page.get_by_label("Member code").select_option("external_id")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_text("The same consent goes with part-2.xlsx, part-3.xlsx")).to_be_visible()
    page.get_by_role("button", name="Continue").click()
    expect(page.locator("section.checked")).to_have_count(3)
    for section in page.locator("section.checked").all():
        expect(section.locator("dl.counts")).to_contain_text("Inserted3", timeout=WORK)
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("status").first).to_contain_text("3 files are queued")

    # The files follow each other; the list shows their states live until the last is in.
    items = page.get_by_role("region", name="Your files").locator("li.file")
    expect(items).to_have_count(3)
    for n in range(3):
        expect(items.nth(n)).to_contain_text(f"part-{n + 1}.xlsx")
        expect(items.nth(n)).to_contain_text("Imported", timeout=WORK)
    found = _states(engine, user.org.id)
    assert [state for _, state, _ in found] == ["committed"] * 3
    committed = [at for _, _, at in found]
    assert committed == sorted(committed), "the files were imported in the order confirmed"
    page.goto(f"{console}/imports")
    rows = page.locator("tr[data-import]")
    expect(rows).to_have_count(3)
    expect(rows.first).to_contain_text("part-3.xlsx")  # newest first
    expect(rows.first).to_contain_text(user.username)


def test_paste_1000_rows_and_be_refused_at_1001(engine: Engine, console: str, page: Page) -> None:
    user = _editor(engine)
    sign_in(page, console, user, next_page="/imports/new")
    lines = [f"Person\t9198{n:08d}\tmal" for n in range(1001)]
    page.get_by_label("Paste rows").fill("\n".join(lines))
    page.get_by_role("button", name="Upload file").click()
    expect(page.locator("#u-text-error")).to_contain_text("at most 1,000 rows can be pasted")
    expect(page.get_by_label("Paste rows")).to_have_attribute("aria-invalid", "true")
    page.get_by_label("Paste rows").fill("\n".join(lines[:1000]))
    page.get_by_role("button", name="Upload file").click()
    expect(page.get_by_role("heading", name="Map the columns of pasted rows")).to_be_visible()
    expect(page.locator("p.lead")).to_contain_text("1,000 rows")
    page.get_by_label("column_1").select_option("first_name")
    page.get_by_label("column_2").select_option("mobile")
    page.get_by_label("column_3").select_option("store")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("group", name="SMS to the mobile number")).to_be_visible()
    # A workbook of several sheets is refused with the user guide's advice.
    page.goto(f"{console}/imports/new")
    page.get_by_label("Files", exact=True).set_input_files(
        _file("regions.xlsx", people(1, 1), sheets=2)
    )
    page.get_by_role("button", name="Upload file").click()
    expect(page.locator("#u-files-error")).to_contain_text("put each sheet in its own file")


@pytest.mark.parametrize(("width", "viewport"), [("laptop", LAPTOP), ("phone", PHONE)])
def test_correct_rejected_rows_resubmit_and_undo(
    engine: Engine,
    console: str,
    new_page: Callable[..., Page],
    width: str,
    viewport: dict[str, int],
) -> None:
    user = _editor(engine)
    page = new_page(viewport)
    sign_in(page, console, user, next_page="/imports/new")
    page.get_by_label("Files", exact=True).set_input_files(
        _file("members.xlsx", people(500, 5, bad=[1, 3]))
    )
    page.get_by_role("button", name="Upload file").click()
    page.get_by_label("Member code").select_option("external_id")
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("button", name="Continue").click()
    jobs.run_pending(engine)
    page.reload()
    page.get_by_role("button", name="Confirm").click()
    jobs.run_pending(engine)
    [(import_id, _, _)] = _states(engine, user.org.id)

    page.goto(f"{console}/imports")
    screenshot(page, f"imports-{width}")
    page.get_by_role("link", name="members.xlsx").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("members.xlsx")
    expect(page.locator("dl.counts")).to_contain_text("Rejected2")
    screenshot(page, f"import-report-{width}")
    page.get_by_role("link", name=re.compile("^Rejected")).click()
    rejected = page.locator('tr[data-status="rejected"]')
    expect(rejected).to_have_count(2)
    expect(page.locator("#cell-3-2-error")).to_contain_text("invalid mobile number")
    page.get_by_label("Row 3, Mobile").fill("919800000501")
    page.get_by_label("Row 3, Store").fill("mal")
    page.get_by_label("Row 5, Mobile").fill("919800000503")
    page.get_by_label("Row 5, Store").fill("blr")
    page.get_by_label("Resubmit row 3").check()
    page.get_by_label("Resubmit row 5").check()
    screenshot(page, f"import-fix-{width}")
    page.get_by_role("button", name="Resubmit selected rows").click()

    expect(page.get_by_role("status").first).to_contain_text("2 corrected rows resubmitted")
    jobs.run_pending(engine)  # the preview; the page follows it and reloads
    expect(page.locator("dl.counts")).to_contain_text("Inserted2", timeout=WORK)
    page.get_by_role("button", name="Confirm").click()
    jobs.run_pending(engine)
    expect(page.locator("#import-status")).to_contain_text("Imported", timeout=WORK)
    new_id = _states(engine, user.org.id)[-1][0]
    page.goto(f"{console}/imports/{import_id}?status=rejected")
    went = page.locator('tr[data-row="3"] .went')
    expect(went).to_contain_text(f"import #{new_id}, row 2")
    expect(page.locator('tr[data-row="5"] .went')).to_contain_text(f"import #{new_id}, row 3")

    # Undo from the report page: the first import's three customers go again.
    page.goto(f"{console}/imports/{import_id}")
    page.get_by_text("Undo…").click()
    page.get_by_role("button", name="Undo import").click()
    expect(page.get_by_role("status").first).to_contain_text("Undo requested")
    jobs.run_pending(engine)
    expect(page.locator("#import-status")).to_contain_text("Undone", timeout=WORK)
    assert _states(engine, user.org.id)[0][1] == "undone"
