"""The profile page's loyalty section over HTTP: what it shows, goodwill, transfers, roles."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from patron.auth.actor import Role
from tests.conftest import Api
from tests.loyalty_setup import add_program, bill, details
from tests.web.console import Console, field_error


def _api(screens: Console) -> Api:
    return Api(screens.stack.enter_context(TestClient(screens.app)), screens.org)


def _member(screens: Console, api: Api) -> int:
    """Tom: one bill of 12000 (1200 points at Silver's rate), so Gold, Platinum next."""
    add_program(api, goodwillAutoApproveLimit=50)
    tom = screens.register(first_name="Tom", last_name="Sawyer", mobile="9900300001")
    bill(api, tom, 12000, number="B-77")
    return tom


def _fact(html: str, name: str) -> str:
    match = re.search(rf'<dd data-field="{name}">(.*?)</dd>', html, re.S)
    assert match, f"no {name} on the page"
    return re.sub(r"<[^>]+>", "", match.group(1)).strip()


def test_the_section_shows_points_tier_expiry_ledger_and_bills(screens: Console) -> None:
    api = _api(screens)
    tom = _member(screens, api)
    expiring = api.get(f"/v2/customers/{tom}", params={"embed": "expirySchedules"}).json()
    day = expiring["expirySchedules"][0]["expiryDate"][:10]
    viewer = screens.browser(Role.viewer)
    html = viewer.get(f"/profiles/{tom}").text
    assert _fact(html, "points") == "1200"
    assert _fact(html, "tier").startswith("Gold")
    assert _fact(html, "next-tier") == "Platinum"
    assert "1200 on" in _fact(html, "expiring")
    assert day in html
    ledger = html.split('data-table="points-ledger"')[1].split("</table>")[0]
    assert "EARN" in ledger
    assert "+1200" in ledger
    assert "TIER" in ledger
    bills = html.split('data-table="bills"')[1].split("</table>")[0]
    assert "B-77" in bills
    assert "12000" in bills
    # A viewer reads, but is offered no loyalty form.
    assert f"/profiles/{tom}/loyalty/goodwill" not in html
    assert f"/profiles/{tom}/loyalty/transfer" not in html


def test_the_ledger_and_bills_are_paged(screens: Console) -> None:
    api = _api(screens)
    tom = _member(screens, api)
    for number in range(2, 12):
        bill(api, tom, 10, number=f"B-{number}")
    viewer = screens.browser(Role.viewer)
    first = viewer.get(f"/profiles/{tom}").text
    assert "B-11" in first
    assert "B-77" not in first  # ten newest bills
    assert "?bills=10&amp;ledger=0#loyalty" in first
    older = viewer.get(f"/profiles/{tom}", params={"bills": 10, "ledger": 10}).text
    bills = older.split('data-table="bills"')[1].split("</table>")[0]
    assert "B-77" in bills
    assert "B-11" not in bills
    ledger = older.split('data-table="points-ledger"')[1].split("</table>")[0]
    assert "TIER" in ledger or "+1200" in ledger  # the oldest entries


def test_goodwill_within_the_limit_is_granted_above_it_waits_for_an_admin(
    screens: Console,
) -> None:
    api = _api(screens)
    tom = _member(screens, api)
    editor = screens.browser(Role.editor)
    within = editor.post(
        f"/profiles/{tom}/loyalty/goodwill",
        {"points": "40", "reason": "late delivery", "comments": "sorry"},
        follow_redirects=False,
    )
    assert within.status_code == 303
    assert within.headers["location"] == f"/profiles/{tom}?saved=1#loyalty"
    assert details(api, tom)["loyaltyPoints"] == 1240.0
    above = editor.post(
        f"/profiles/{tom}/loyalty/goodwill",
        {"points": "80", "reason": "broken parcel"},
        headers={"HX-Request": "true"},
    )
    assert above.status_code == 200
    assert "waits for an admin" in above.text
    assert details(api, tom)["loyaltyPoints"] == 1240.0
    assert "PENDING" in above.text
    assert "Approve" not in above.text  # an editor may not decide
    pending = api.get(f"/v2/customers/{tom}/goodwillRequest").json()["data"][0]
    assert pending["goodwillStatus"] == "PENDING"
    refused = editor.post(
        f"/profiles/{tom}/loyalty/goodwill/{pending['id']}",
        {"decision": "APPROVED"},
        follow_redirects=False,
    )
    assert refused.status_code == 403
    admin = screens.browser(Role.admin)
    page = admin.get(f"/profiles/{tom}").text
    assert f'action="/profiles/{tom}/loyalty/goodwill/{pending["id"]}"' in page
    approved = admin.post(
        f"/profiles/{tom}/loyalty/goodwill/{pending['id']}",
        {"decision": "APPROVED", "comments": "ok"},
        headers={"HX-Request": "true"},
    )
    assert approved.status_code == 200
    assert f"Goodwill request {pending['id']} approved." in approved.text
    assert details(api, tom)["loyaltyPoints"] == 1320.0
    again = admin.post(
        f"/profiles/{tom}/loyalty/goodwill/{pending['id']}",
        {"decision": "REJECTED"},
        headers={"HX-Request": "true"},
    )
    assert again.status_code == 409
    assert "APPROVED already" in again.text


def test_goodwill_errors_are_shown_beside_their_field(screens: Console) -> None:
    api = _api(screens)
    tom = _member(screens, api)
    editor = screens.browser(Role.editor)
    wrong = editor.post(f"/profiles/{tom}/loyalty/goodwill", {"points": "lots"})
    assert wrong.status_code == 400
    assert field_error(wrong.text, "goodwill-points") == "points must be a number"
    assert 'value="lots"' in wrong.text
    zero = editor.post(f"/profiles/{tom}/loyalty/goodwill", {"points": "0"})
    assert field_error(zero.text, "goodwill-points").startswith("points must be a number above 0")
    long = editor.post(f"/profiles/{tom}/loyalty/goodwill", {"points": "5", "comments": "x" * 2000})
    assert field_error(long.text, "goodwill-comments").startswith("comments may be at most")
    assert details(api, tom)["loyaltyPoints"] == 1200.0


def test_transfer_moves_points_by_id_or_mobile(screens: Console) -> None:
    api = _api(screens)
    tom = _member(screens, api)
    jim = screens.register(first_name="Jim", last_name="Thomas", mobile="9900300002")
    editor = screens.browser(Role.editor)
    moved = editor.post(
        f"/profiles/{tom}/loyalty/transfer",
        {"to_kind": "id", "to": str(jim), "points": "100", "notes": "family"},
        headers={"HX-Request": "true"},
    )
    assert moved.status_code == 200
    assert f"100 points transferred to profile #{jim}." in moved.text
    assert "TRANSFER_OUT" in moved.text
    by_mobile = editor.post(
        f"/profiles/{tom}/loyalty/transfer",
        {"to_kind": "mobile", "to": "9900300002", "points": "50"},
        follow_redirects=False,
    )
    assert by_mobile.status_code == 303
    assert details(api, tom)["loyaltyPoints"] == 1050.0
    assert details(api, jim)["loyaltyPoints"] == 150.0
    too_many = editor.post(f"/profiles/{tom}/loyalty/transfer", {"to": str(jim), "points": "5000"})
    assert too_many.status_code == 400
    assert field_error(too_many.text, "transfer-points").startswith(
        "Unable to update loyalty points"
    )
    unknown = editor.post(f"/profiles/{tom}/loyalty/transfer", {"to": "999999", "points": "1"})
    assert unknown.status_code == 404
    assert field_error(unknown.text, "transfer-to") == "No customer found with the given identifier"
    itself = editor.post(f"/profiles/{tom}/loyalty/transfer", {"to": str(tom), "points": "1"})
    assert field_error(itself.text, "transfer-to").startswith("points cannot be transferred")
    assert details(api, tom)["loyaltyPoints"] == 1050.0


def test_a_viewer_may_not_post_and_a_post_without_the_token_is_refused(
    screens: Console,
) -> None:
    api = _api(screens)
    tom = _member(screens, api)
    jim = screens.register(first_name="Jim", last_name="Thomas", mobile="9900300002")
    viewer = screens.browser(Role.viewer)
    forged = viewer.post(
        f"/profiles/{tom}/loyalty/goodwill", {"points": "10"}, follow_redirects=False
    )
    assert forged.status_code == 403
    forged = viewer.post(
        f"/profiles/{tom}/loyalty/transfer",
        {"to": str(jim), "points": "10"},
        follow_redirects=False,
    )
    assert forged.status_code == 403
    editor = screens.browser(Role.editor)
    no_token = editor.client.post(
        f"/profiles/{tom}/loyalty/goodwill", data={"points": "10"}, follow_redirects=False
    )
    assert no_token.status_code == 403
    wrong_token = editor.client.post(
        f"/profiles/{tom}/loyalty/transfer",
        data={"to": str(jim), "points": "10", "csrf_token": "forged"},
        follow_redirects=False,
    )
    assert wrong_token.status_code == 403
    assert details(api, tom)["loyaltyPoints"] == 1200.0
    assert details(api, jim)["loyaltyPoints"] == 0.0


def test_people_outside_the_program_are_told(screens: Console) -> None:
    api = _api(screens)
    tom = screens.register(first_name="Tom", last_name="Sawyer", mobile="9900300001")
    editor = screens.browser(Role.editor)
    assert "The org has no loyalty program." in editor.get(f"/profiles/{tom}").text
    add_program(api)
    html = editor.get(f"/profiles/{tom}").text
    assert _fact(html, "points") == "0"
    assert _fact(html, "tier") == "Silver"
    assert "No ledger entry." in html
    assert "No bill." in html
