"""The console's Upload file, its steps and the upload reports, over HTTP on both databases:
drafts, suggestions, mapping, consent in the ledger, the check, confirm, files in line,
the report with its rows, correcting and resubmitting rejected rows, undo; the limits."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from patron.auth.actor import Role
from patron.customer.tables import customers, identifiers
from patron.imports import jobs
from patron.imports.tables import imports
from patron.kit.db import transaction
from patron.subscriptions.tables import consent_ledger, subscriptions
from tests.web.console import Browser, Console, opened
from tests.web.uploads import HEADER, XLSX, people, store_org, xlsx

IMPORT_PAGE = re.compile(r"/imports/new/([0-9]+)/mapping$")


@pytest.fixture
def console(engine: Engine) -> Iterator[Console]:
    with opened(engine) as console:
        store_org(engine, console.org)
        yield console


def upload(browser: Browser, *files: tuple[str, bytes], **form: str) -> Any:
    parts = [("files", (name, content, XLSX)) for name, content in files]
    return browser.post(
        "/imports/new",
        {"profile": "loyalty-customers", **form},
        files=parts,
        follow_redirects=False,
    )


def draft_of(response: Any) -> int:
    assert response.status_code == 303, response.text
    match = IMPORT_PAGE.search(response.headers["location"])
    assert match, response.headers["location"]
    return int(match.group(1))


def record(engine: Engine, import_id: int) -> Any:
    with transaction(engine, write=False) as conn:
        return conn.execute(sa.select(imports).where(imports.c.id == import_id)).mappings().one()


def field_error(html: str, input_id: str) -> str:
    match = re.search(
        rf'<p class="field-error" id="{re.escape(input_id)}-error"[^>]*>([^<]*)</p>', html
    )
    return match.group(1) if match else ""


def selected(html: str, position: int) -> str:
    """The field chosen for column ``position`` of the mapping step."""
    select = re.search(rf'<select id="m-col-{position}".*?</select>', html, re.S)
    assert select, f"no column {position}"
    chosen = re.search(r'<option value="([^"]*)" selected>', select.group(0))
    return chosen.group(1) if chosen else ""


def mapping_form(html: str, **changes: str) -> dict[str, str]:
    """The mapping step's form as shown (its selections and options), with ``changes``."""
    form = {f"map-{p}": selected(html, p) for p in range(len(re.findall(r'id="m-col-', html)))}
    form = {name: value for name, value in form.items() if value}
    form["opt-unique_identifier"] = "mobile"
    form.update(changes)
    return form


def test_upload_map_consent_check_confirm(console: Console, engine: Engine) -> None:
    browser = console.browser(Role.editor)
    page = browser.get("/imports/new")
    assert page.status_code == 200
    profiles = re.findall(r'<option value="([a-z0-9-]+)"', page.text)
    assert profiles[0] == "loyalty-customers"
    assert ">Upload file</button>" in page.text
    rows = people(1, 4, bad=[2])
    import_id = draft_of(upload(browser, ("members.xlsx", xlsx({"Members": [HEADER, *rows]}))))
    assert record(engine, import_id)["state"] == "draft"

    mapping = browser.get(f"/imports/new/{import_id}/mapping")
    assert mapping.status_code == 200
    html = mapping.text
    assert [selected(html, p) for p in range(6)] == [
        "first_name",
        "last_name",
        "mobile",
        "email",
        "",  # "Member code" is nobody's name: not suggested
        "store",
    ]
    assert "95%" in html
    assert "normalized" in html
    assert '<span class="sample">919800000001</span>' in html
    assert "National mobile numbers get the org&#39;s base country code." in html  # option help

    # Changing the mapping: the member code is the external id.
    saved = browser.post(
        f"/imports/new/{import_id}/mapping",
        mapping_form(html, **{"map-4": "external_id", "opt-append_country_code": "1"}),
        follow_redirects=False,
    )
    assert saved.status_code == 303, saved.text
    assert saved.headers["location"] == f"/imports/new/{import_id}/consent"
    found = record(engine, import_id)
    assert found["mapping"]["Member code"] == "external_id"
    assert found["options"]["append_country_code"] is True

    consent = browser.get(f"/imports/new/{import_id}/consent")
    assert "SMS to the mobile number" in consent.text
    assert "Email to the address" in consent.text
    checked = browser.post(
        f"/imports/new/{import_id}/consent",
        {"consent-SMS": "OPTIN", "consent-EMAIL": "OPTOUT"},
        follow_redirects=False,
    )
    assert checked.headers["location"] == f"/imports/new/check?ids={import_id}"
    assert record(engine, import_id)["consent"] == {"SMS": "OPTIN", "EMAIL": "OPTOUT"}
    waiting = browser.get(checked.headers["location"])
    assert "Checking 4 rows" in waiting.text
    assert 'hx-trigger="every 1s"' in waiting.text

    jobs.run_pending(engine)
    check = browser.get(f"/imports/new/check?ids={import_id}").text
    assert "hx-trigger" not in check
    assert re.search(r"<dt>Inserted</dt><dd>3</dd>", check)
    assert re.search(r"<dt>Rejected</dt><dd>1</dd>", check)
    assert '<th scope="row">4</th>' in check  # the rejected row, with its reasons
    assert "does not match the org&#39;s mobile rule" in check

    confirmed = browser.post(
        "/imports/new/check", {"ids": str(import_id), "action": "confirm"}, follow_redirects=False
    )
    assert confirmed.headers["location"] == "/imports/new?confirmed=1"
    assert record(engine, import_id)["state"] == "queued"
    queue = browser.get(confirmed.headers["location"]).text
    assert "is queued" in queue
    assert 'hx-get="/imports/files"' in queue
    jobs.run_pending(engine)
    assert record(engine, import_id)["state"] == "committed"
    assert "hx-get" not in browser.get("/imports/files").text  # nothing left at work

    # The consent is in the ledger, with the user and the import as its source.
    with transaction(engine, write=False) as conn:
        ledger = conn.execute(
            sa.select(consent_ledger.c.channel, consent_ledger.c.status, consent_ledger.c.actor)
            .where(consent_ledger.c.origin == f"import:{import_id}")
            .order_by(consent_ledger.c.id)
        ).all()
    assert sorted(set(ledger)) == [
        ("EMAIL", "OPTOUT", browser.user.username),
        ("SMS", "OPTIN", browser.user.username),
    ]
    assert len(ledger) == 6  # 3 customers x 2 channels


def test_the_report_lists_rejected_rows_and_resubmits_them(
    console: Console, engine: Engine
) -> None:
    editor = console.browser(Role.editor)
    import_id = _imported(editor, engine, people(20, 5, bad=[1, 3]))
    listed = console.browser(Role.viewer).get("/imports").text
    assert f'data-import="{import_id}"' in listed
    assert "members.xlsx" in listed
    assert "Imported" in listed
    assert editor.user.username in listed

    report = editor.get(f"/imports/{import_id}?status=rejected").text
    assert re.findall(r'data-row="([0-9]+)" data-status="rejected"', report) == ["3", "5"]
    assert "Download CSV" in report
    assert f"/imports/{import_id}/report?format=xlsx" in report
    # Errors beside the cell that caused them, in the rows to correct.
    assert field_error(report, "cell-3-2").startswith("invalid mobile number")
    assert field_error(report, "cell-3-5").startswith("invalid join store")

    # A viewer sees the rows, not the correction form.
    viewed = console.browser(Role.viewer).get(f"/imports/{import_id}?status=rejected").text
    assert 'data-row="3"' in viewed
    assert 'name="cell-3-2"' not in viewed
    assert "Undo…" not in viewed

    answer = editor.post(
        f"/imports/{import_id}/resubmit",
        [
            ("row", "3"),
            ("row", "5"),
            ("cell-3-2", "919800000121"),
            ("cell-3-5", "mal"),
            ("cell-5-2", "919800000123"),
            ("cell-5-5", "blr"),
            ("cell-4-2", "ignored: row 4 not chosen"),
        ],
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    new_id = int(re.search(r"/imports/([0-9]+)\?resubmitted=2", answer.headers["location"])[1])
    jobs.run_pending(engine)
    resubmitted = editor.get(answer.headers["location"]).text
    assert "2 corrected rows resubmitted" in resubmitted
    assert re.search(r"<dt>Inserted</dt><dd>2</dd>", resubmitted)
    assert f'rejected rows of <a href="/imports/{import_id}?status=rejected">' in resubmitted
    assert editor.post(f"/imports/{new_id}/confirm", follow_redirects=False).status_code == 303
    jobs.run_pending(engine)
    assert record(engine, new_id)["state"] == "committed"
    assert record(engine, new_id)["resubmit_of"] == import_id

    first = editor.get(f"/imports/{import_id}?status=rejected").text
    assert f'Resubmitted: <a href="/imports/{new_id}">import #{new_id}</a>, row 2' in first
    assert f'Resubmitted: <a href="/imports/{new_id}">import #{new_id}</a>, row 3' in first
    assert "was row 5 of #" in editor.get(f"/imports/{new_id}").text


def test_a_refused_resubmit_keeps_the_corrections(console: Console, engine: Engine) -> None:
    editor = console.browser(Role.editor)
    import_id = _imported(editor, engine, people(40, 3, bad=[0]))
    nothing = editor.post(f"/imports/{import_id}/resubmit", {"cell-2-2": "919800000140"})
    assert nothing.status_code == 400
    assert "choose at least one rejected row" in nothing.text
    assert 'value="919800000140"' in nothing.text  # the typed value is still there
    too_long = editor.post(f"/imports/{import_id}/resubmit", {"row": "2", "cell-2-2": "9" * 10_001})
    assert too_long.status_code == 400
    assert "at most 10,000 are allowed" in field_error(too_long.text, "cell-2-2")
    with transaction(engine, write=False) as conn:
        count = conn.execute(
            sa.select(sa.func.count()).where(imports.c.org_id == console.org.id)
        ).scalar_one()
    assert count == 1


def test_undo_from_the_report_page(console: Console, engine: Engine) -> None:
    editor = console.browser(Role.editor)
    import_id = _imported(editor, engine, people(60, 3), consent={"consent-SMS": "OPTIN"})
    with transaction(engine, write=False) as conn:
        created = conn.execute(
            sa.select(sa.func.count()).where(customers.c.org_id == console.org.id)
        ).scalar_one()
    assert created == 3
    report = editor.get(f"/imports/{import_id}").text
    assert f'action="/imports/{import_id}/undo"' in report
    done = editor.post(f"/imports/{import_id}/undo", follow_redirects=False)
    assert done.headers["location"] == f"/imports/{import_id}?done=undo"
    polled = editor.get(done.headers["location"]).text
    assert "Undo requested" in polled
    assert f"/imports/{import_id}/status?seen=undo_queued" in polled
    jobs.run_pending(engine)
    moved = editor.htmx(f"/imports/{import_id}/status?seen=undo_queued")
    assert moved.headers.get("hx-refresh") == "true"  # the page reloads with the outcome
    assert record(engine, import_id)["state"] == "undone"
    with transaction(engine, write=False) as conn:
        org = console.org.id
        left = [
            conn.execute(sa.select(sa.func.count()).where(table.c.org_id == org)).scalar_one()
            for table in (customers, identifiers, subscriptions, consent_ledger)
        ]
    # The customers the import created are gone, with the consent it recorded for them.
    assert left == [0, 0, 0, 0]
    assert "Undone" in editor.get(f"/imports/{import_id}").text


def test_undo_keeps_consent_changed_since(console: Console, engine: Engine) -> None:
    editor = console.browser(Role.editor)
    existing = console.register(mobile="919800000081", first_name="Kept")
    import_id = _imported(
        editor, engine, [["Kept", "Test", "919800000081", "", "M81", "mal"]],
        consent={"consent-SMS": "OPTOUT"},
    )  # fmt: skip
    with transaction(engine) as conn:  # the person opts in again afterwards
        conn.execute(
            subscriptions.update()
            .where(subscriptions.c.customer_id == existing, subscriptions.c.channel == "SMS")
            .values(status="OPTIN")
        )
    editor.post(f"/imports/{import_id}/undo")
    jobs.run_pending(engine)
    report = editor.get(f"/imports/{import_id}").text
    assert "Left alone by the undo" in report
    assert "the consent changed again since the import" in report
    with transaction(engine, write=False) as conn:
        status = conn.execute(
            sa.select(subscriptions.c.status).where(subscriptions.c.customer_id == existing)
        ).scalar_one()
    assert status == "OPTIN"


def test_three_files_share_a_mapping_and_run_in_order(console: Console, engine: Engine) -> None:
    editor = console.browser(Role.editor)
    files = [
        (f"part-{n}.xlsx", xlsx({"Sheet1": [HEADER, *people(100 + 10 * n, 3)]})) for n in range(3)
    ]
    first = draft_of(upload(editor, *files))
    html = editor.get(f"/imports/new/{first}/mapping").text
    others = [int(i) for i in re.findall(r'name="also" value="([0-9]+)" checked', html)]
    assert others == [first + 1, first + 2]  # the same columns: ticked
    form = list(mapping_form(html, **{"map-4": "external_id"}).items())
    form += [("also", str(other)) for other in others]
    saved = editor.post(f"/imports/new/{first}/mapping", form, follow_redirects=False)
    assert (
        saved.headers["location"]
        == f"/imports/new/{first}/consent?with={first + 1}&with={first + 2}"
    )
    checked = editor.post(
        f"/imports/new/{first}/consent",
        [("with", str(first + 1)), ("with", str(first + 2)), ("consent-SMS", "")],
        follow_redirects=False,
    )
    ids = [first, first + 1, first + 2]
    assert checked.headers["location"] == "/imports/new/check?" + "&".join(f"ids={i}" for i in ids)
    jobs.run_pending(engine)
    page = editor.get(checked.headers["location"]).text
    assert page.count("<dt>Inserted</dt><dd>3</dd>") == 3
    editor.post("/imports/new/check", [*(("ids", str(i)) for i in ids), ("action", "confirm")])
    files_panel = editor.get("/imports/files").text
    assert "next in line" in files_panel
    assert "2 imports before it" in files_panel
    jobs.run_pending(engine)
    done = [record(engine, i) for i in ids]
    assert [r["state"] for r in done] == ["committed"] * 3
    assert [r["committed_at"] for r in done] == sorted(r["committed_at"] for r in done)
    assert all(r["mapping"]["Member code"] == "external_id" for r in done)


def test_a_file_with_other_columns_keeps_its_own_mapping(console: Console, engine: Engine) -> None:
    editor = console.browser(Role.editor)
    other = xlsx({"Sheet1": [["Phone", "Shop"], ["919800000201", "mal"]]})
    first = draft_of(
        upload(editor, ("a.xlsx", xlsx({"S": [HEADER, *people(200, 1)]})), ("b.xlsx", other))
    )
    html = editor.get(f"/imports/new/{first}/mapping").text
    assert f'name="also" value="{first + 1}">' in html  # offered, not ticked
    form = [*mapping_form(html).items(), ("also", str(first + 1))]
    saved = editor.post(f"/imports/new/{first}/mapping", form, follow_redirects=False)
    assert saved.headers["location"] == f"/imports/new/{first}/consent?kept={first + 1}"
    editor.post(f"/imports/new/{first}/consent", [("kept", str(first + 1))])
    check = editor.get(f"/imports/new/check?ids={first}&kept={first + 1}").text
    assert "Not checked with the others" in check
    assert "b.xlsx" in check
    assert record(engine, first + 1)["state"] == "draft"


def test_mapping_refusals_show_beside_the_column(console: Console, engine: Engine) -> None:
    editor = console.browser(Role.editor)
    import_id = draft_of(upload(editor, ("m.xlsx", xlsx({"S": [HEADER, *people(300, 2)]}))))
    html = editor.get(f"/imports/new/{import_id}/mapping").text
    twice = editor.post(
        f"/imports/new/{import_id}/mapping", mapping_form(html, **{"map-4": "mobile"})
    )
    assert twice.status_code == 400
    assert "mapped from two columns" in field_error(twice.text, "m-col-4")
    missing = {k: v for k, v in mapping_form(html).items() if v not in ("mobile", "store")}
    refused = editor.post(f"/imports/new/{import_id}/mapping", missing)
    assert refused.status_code == 400
    assert "map a column to mobile" in field_error(refused.text, "mapping")
    bad_option = editor.post(
        f"/imports/new/{import_id}/mapping",
        mapping_form(html, **{"opt-unique_identifier": "fax"}),
    )
    assert "takes one of mobile, email, external_id" in field_error(
        bad_option.text, "m-opt-unique_identifier"
    )
    assert record(engine, import_id)["state"] == "draft"


def test_back_to_the_mapping_from_the_check(console: Console, engine: Engine) -> None:
    editor = console.browser(Role.editor)
    import_id = draft_of(upload(editor, ("b.xlsx", xlsx({"S": [HEADER, *people(350, 2)]}))))
    html = editor.get(f"/imports/new/{import_id}/mapping").text
    editor.post(f"/imports/new/{import_id}/mapping", mapping_form(html))
    editor.post(f"/imports/new/{import_id}/consent", {})
    jobs.run_pending(engine)
    back = editor.post(
        "/imports/new/check",
        {"ids": str(import_id), "action": f"back:{import_id}"},
        follow_redirects=False,
    )
    assert back.headers["location"] == f"/imports/new/{import_id}/mapping"
    assert record(engine, import_id)["state"] == "draft"
    assert editor.get(back.headers["location"]).status_code == 200


def test_refused_files_are_named_and_nothing_is_kept(console: Console, engine: Engine) -> None:
    editor = console.browser(Role.editor)
    two_sheets = xlsx({"North": [HEADER, *people(1, 1)], "South": [HEADER, *people(2, 1)]})
    good = xlsx({"S": [HEADER, *people(3, 1)]})
    answer = upload(editor, ("good.xlsx", good), ("regions.xlsx", two_sheets))
    assert answer.status_code == 400
    message = field_error(answer.text, "u-files")
    assert message.startswith("regions.xlsx: the workbook has 2 sheets with data (North, South)")
    assert "put each sheet in its own file" in message
    unknown = upload(editor, ("notes.pdf", b"%PDF-1.4"))
    assert "unsupported file type" in field_error(unknown.text, "u-files")
    nothing = upload(editor)
    assert "Choose a file to upload" in field_error(nothing.text, "u-files")
    with transaction(engine, write=False) as conn:
        count = conn.execute(
            sa.select(sa.func.count()).where(imports.c.org_id == console.org.id)
        ).scalar_one()
    assert count == 0


def test_paste_at_most_1000_rows(console: Console, engine: Engine) -> None:
    editor = console.browser(Role.editor)
    lines = [f"Person\t9198{n:08d}\tmal" for n in range(1001)]
    refused = upload(editor, text="\n".join(lines))
    assert refused.status_code == 400
    assert "at most 1,000 rows can be pasted" in field_error(refused.text, "u-text")
    import_id = draft_of(upload(editor, text="\n".join(lines[:1000])))
    found = record(engine, import_id)
    assert (found["row_count"], found["file_format"]) == (1000, "pasted")
    html = editor.get(f"/imports/new/{import_id}/mapping").text
    assert '<label for="m-col-0">column_1</label>' in html  # mapped by position
    assert "pasted rows have no column names" in html


def test_console_limits_are_org_settings(console: Console, engine: Engine) -> None:
    admin = console.browser(Role.admin)
    page = admin.get("/settings").text
    assert 'id="limit-file"' in page
    assert 'value="10"' in page
    assert 'value="50000"' in page
    saved = admin.post("/settings/upload-limits", {"max_file_mb": "20", "max_rows": "2"})
    assert saved.status_code == 200
    assert "Upload limits saved." in saved.text
    refused = admin.post("/settings/upload-limits", {"max_file_mb": "ten", "max_rows": "2"})
    assert "Enter a number of megabytes" in field_error(refused.text, "limit-file")
    zero = admin.post("/settings/upload-limits", {"max_file_mb": "1", "max_rows": "0"})
    assert "greater than or equal to 1" in field_error(zero.text, "limit-rows")
    editor = console.browser(Role.editor)
    three = upload(editor, ("three.xlsx", xlsx({"S": [HEADER, *people(1, 3)]})))
    assert three.status_code == 400
    assert "the file has more than 2 data rows; at most 2 can be imported" in three.text
    assert "Up to 20 MB and 2 rows a file" in editor.get("/imports/new").text
    # The API sets them too.
    answer = editor.client.put(
        "/v2/org/settings",
        json={"consoleMaxRows": 5},
        headers={"Authorization": f"Bearer {console.org.keys['admin']}"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["settings"]["consoleMaxRows"] == 5
    assert answer.json()["settings"]["consoleMaxFileBytes"] == 20 * 1024 * 1024
    assert draft_of(upload(editor, ("three.xlsx", xlsx({"S": [HEADER, *people(1, 3)]}))))


def test_roles_and_other_orgs(console: Console, engine: Engine) -> None:
    editor = console.browser(Role.editor)
    import_id = draft_of(upload(editor, ("r.xlsx", xlsx({"S": [HEADER, *people(400, 1)]}))))
    viewer = console.browser(Role.viewer)
    assert viewer.get("/imports/new").status_code == 403
    assert viewer.get(f"/imports/new/{import_id}/mapping").status_code == 403
    assert viewer.post(f"/imports/{import_id}/cancel").status_code == 403
    assert viewer.get(f"/imports/{import_id}").status_code == 200
    assert "Upload file</a>" not in viewer.get("/imports").text
    with opened(engine) as elsewhere:
        stranger = elsewhere.browser(Role.admin)
        assert stranger.get(f"/imports/{import_id}").status_code == 404
        assert stranger.get(f"/imports/new/{import_id}/mapping").status_code == 404
        assert stranger.post(f"/imports/{import_id}/cancel").status_code == 404
    assert editor.get("/imports/99999999999999999999").status_code == 404
    beyond = {"ids": str(import_id), "action": "back:99999999999999999999"}
    assert editor.post("/imports/new/check", beyond).status_code == 400
    cancelled = editor.post(f"/imports/{import_id}/cancel", follow_redirects=False)
    assert cancelled.status_code == 303
    assert record(engine, import_id)["state"] == "cancelled"
    assert editor.get(f"/imports/new/{import_id}/mapping").status_code == 409


def _imported(
    editor: Browser,
    engine: Engine,
    rows: list[list[str]],
    *,
    consent: dict[str, str] | None = None,
) -> int:
    """Upload ``rows`` (the member code as the external id), check and commit them."""
    import_id = draft_of(upload(editor, ("members.xlsx", xlsx({"Members": [HEADER, *rows]}))))
    html = editor.get(f"/imports/new/{import_id}/mapping").text
    editor.post(f"/imports/new/{import_id}/mapping", mapping_form(html, **{"map-4": "external_id"}))
    editor.post(f"/imports/new/{import_id}/consent", consent or {})
    jobs.run_pending(engine)
    editor.post("/imports/new/check", {"ids": str(import_id), "action": "confirm"})
    jobs.run_pending(engine)
    assert record(engine, import_id)["state"] == "committed", record(engine, import_id)["message"]
    return import_id


def test_a_profile_without_consent_goes_from_the_mapping_to_the_check(
    console: Console, engine: Engine
) -> None:
    editor = console.browser(Role.editor)
    console.register(mobile="919800000091")
    content = b"Mobile,Status Label\n919800000091,Active\n"
    answer = editor.post(
        "/imports/new",
        {"profile": "customer-status"},
        files=[("files", ("status.csv", content, "text/csv"))],
        follow_redirects=False,
    )
    import_id = draft_of(answer)
    html = editor.get(f"/imports/new/{import_id}/mapping").text
    assert "Next: the check" in html
    form = {"map-0": "mobile", "map-1": "status_label", "opt-unique_identifier": "mobile"}
    saved = editor.post(f"/imports/new/{import_id}/mapping", form, follow_redirects=False)
    assert saved.headers["location"] == f"/imports/new/check?ids={import_id}"
    found = record(engine, import_id)
    assert found["state"] == "validating"
    assert found["consent"] is None
    jobs.run_pending(engine)
    assert record(engine, import_id)["state"] == "previewed"
