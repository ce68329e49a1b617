"""The audit log page over HTTP: filters by actor, action, date and object; pages; admins only."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import sqlalchemy as sa

from patron.audit.service import audit
from patron.audit.tables import audit_log
from patron.auth.actor import Actor, Role
from patron.kit.db import transaction
from patron.orgs import service as orgs
from tests.web.console import Console, field_error

ENTRY = re.compile(r'<tr data-entry="([0-9]+)"')


def _record(screens: Console, actor: str, action: str, entity_id: object, **details: object) -> int:
    who = Actor(org_id=screens.org.id, role=Role.admin, name=actor)
    with transaction(screens.engine) as conn:
        audit(conn, who, action, "customer", entity_id, dict(details))
        query = sa.select(sa.func.max(audit_log.c.id)).where(audit_log.c.org_id == screens.org.id)
        return int(conn.execute(query).scalar_one())


def _dated(screens: Console, entry_id: int, moment: datetime) -> None:
    with transaction(screens.engine) as conn:
        conn.execute(audit_log.update().where(audit_log.c.id == entry_id).values(created_at=moment))


def _shown(html: str) -> list[int]:
    return [int(found) for found in ENTRY.findall(html)]


def test_filters_by_actor_action_date_and_object(screens: Console) -> None:
    admin = screens.browser(Role.admin)
    deleted = _record(screens, "mai", "customer.delete", 41, reason="asked to be forgotten")
    updated = _record(screens, "mai", "customer.update", 42, changed=["firstName"])
    other = _record(screens, "long", "customer.delete", 42, reason="duplicate")
    _dated(screens, deleted, datetime(2025, 5, 1, 12, 0, tzinfo=UTC))
    _dated(screens, updated, datetime(2025, 5, 2, 12, 0, tzinfo=UTC))
    _dated(screens, other, datetime(2025, 5, 3, 12, 0, tzinfo=UTC))
    everything = admin.get("/audit").text
    assert {deleted, updated, other} <= set(_shown(everything))
    assert "asked to be forgotten" in everything
    cases = {
        "actor=mai": [updated, deleted],
        "action=customer.delete": [other, deleted],
        "actor=mai&action=customer.delete": [deleted],
        "from=2025-05-02&to=2025-05-02": [updated],
        "from=2025-05-02&actor=long": [other],
        "object_type=customer&object_id=42": [other, updated],
    }
    for query, expected in cases.items():
        response = admin.get(f"/audit?{query}")
        assert response.status_code == 200, query
        assert _shown(response.text) == expected, query
    wrong = admin.get("/audit?from=01/05/2025")
    assert wrong.status_code == 400
    assert "YYYY-MM-DD" in field_error(wrong.text, "a-from")


def test_days_are_the_orgs_days(screens: Console) -> None:
    with transaction(screens.engine) as conn:
        orgs.change_settings(conn, screens.org.admin, {"time_zone": "Asia/Tokyo"})
    late = _record(screens, "mai", "customer.update", 7)
    # 20:00 UTC on 1 May is 05:00 on 2 May in Tokyo.
    _dated(screens, late, datetime(2025, 5, 1, 20, 0, tzinfo=UTC))
    admin = screens.browser(Role.admin)
    assert _shown(admin.get("/audit?from=2025-05-02&to=2025-05-02&actor=mai").text) == [late]
    assert _shown(admin.get("/audit?to=2025-05-01&actor=mai").text) == []
    assert "2025-05-02 05:00 JST" in admin.get("/audit?actor=mai").text


def test_pages_of_50_newest_first(screens: Console) -> None:
    ids = [_record(screens, "bulk", "customer.update", n) for n in range(60)]
    admin = screens.browser(Role.admin)
    first = admin.get("/audit?actor=bulk")
    assert _shown(first.text) == ids[::-1][:50]
    assert "1\N{EN DASH}50 of 60" in first.text
    assert 'href="/audit?actor=bulk&amp;offset=50"' in first.text
    second = admin.get("/audit?actor=bulk&offset=50")
    assert _shown(second.text) == ids[::-1][50:]
    assert "Newer entries" in second.text
    swapped = admin.htmx("/audit?actor=bulk&action=&offset=50")
    assert swapped.headers["HX-Push-Url"] == "/audit?actor=bulk&offset=50"
    assert "<html" not in swapped.text


def test_console_actions_are_in_the_log(screens: Console) -> None:
    customer_id = screens.register(mobile="9900600001", first_name="Lan")
    editor = screens.browser(Role.editor)
    editor.post(
        f"/profiles/{customer_id}/names",
        {"source": "INSTORE", "first_name": "Lanh", "last_name": "Vo"},
    )
    admin = screens.browser(Role.admin)
    admin.post(f"/profiles/{customer_id}/delete", {"reason": "left the programme"})
    page = admin.get(f"/audit?object_type=customer&object_id={customer_id}").text
    assert f'<td data-label="Actor" data-field="actor">{editor.user.username}</td>' in page
    assert "<code>customer.update</code>" in page
    assert f'<td data-label="Actor" data-field="actor">{admin.user.username}</td>' in page
    assert "<code>customer.delete</code>" in page
    assert '<td data-label="Reason" data-field="reason">left the programme</td>' in page


def test_only_admins_read_the_log(screens: Console) -> None:
    for role in (Role.viewer, Role.editor):
        browser = screens.browser(role)
        assert 'href="/audit"' not in browser.get("/profiles").text
        assert browser.get("/audit").status_code == 403
    assert 'href="/audit"' in screens.browser(Role.admin).get("/profiles").text
