"""Care records: notes, preferences and tickets of a customer (seed 001's customer care)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.engine import Engine

from patron.auth import service as auth
from patron.auth.actor import Role
from patron.customer import notes, preferences, tickets
from patron.customer.record_answers import (
    CustomerNote,
    CustomerTicket,
    PreferenceKey,
    PreferenceValue,
)
from patron.kit.db import transaction
from patron.kit.pagination import Page
from patron.orgs import service as orgs
from tests.conftest import Api, error_codes, warning_codes
from tests.factories import merge, register


def ok(response: Any) -> Any:
    assert response.status_code in (200, 201), response.text
    return response.json()


def audited(api: Api, action: str) -> list[dict[str, Any]]:
    body = ok(api.get("/v2/audit", params={"action": action}, role="admin"))
    return list(body["data"])


@pytest.fixture
def tom(api: Api) -> int:
    return register(api, mobile="919845088001")


# --- notes ------------------------------------------------------------------------------


def test_notes_are_written_listed_edited_and_deleted_by_their_author(api: Api, tom: int) -> None:
    empty = ok(api.get(f"/v2/customers/{tom}/notes", role="viewer"))
    assert empty["data"] == []
    assert [w["code"] for w in empty["warnings"]] == [1028]
    first = ok(api.post(f"/v2/customers/{tom}/notes", json={"description": "called twice"}))
    assert first["note"]["description"] == "called twice"
    assert first["note"]["addedBy"].startswith("key:")
    second = ok(api.post(f"/v2/customers/{tom}/notes", json={"description": "  prefers SMS "}))
    listed = ok(api.get(f"/v2/customers/{tom}/notes"))
    assert [n["description"] for n in listed["data"]] == ["prefers SMS", "called twice"]
    assert listed["pagination"]["total"] == 2
    assert listed["warnings"] == []

    note_id = first["note"]["id"]
    edited = ok(api.put(f"/v2/customers/{tom}/notes/{note_id}", json={"description": "thrice"}))
    assert edited["note"]["description"] == "thrice"
    # Another credential (the admin's key) may not edit it, but an admin may delete it.
    by_other = api.put(
        f"/v2/customers/{tom}/notes/{note_id}", json={"description": "x"}, role="admin"
    )
    assert by_other.status_code == 403
    assert error_codes(by_other) == [95402]
    assert ok(api.delete(f"/v2/customers/{tom}/notes/{note_id}", role="admin"))["deleted"]
    other = second["note"]["id"]
    assert ok(api.delete(f"/v2/customers/{tom}/notes/{other}"))["deleted"]
    assert ok(api.get(f"/v2/customers/{tom}/notes"))["data"] == []
    actions = [e["details"]["noteId"] for e in audited(api, "customer.note.add")]
    assert sorted(actions) == sorted([note_id, other])
    assert not any("called" in str(e) for e in audited(api, "customer.note.add"))


def test_a_note_needs_text_an_editor_and_a_note_of_that_customer(
    api: Api, tom: int, other_api: Api
) -> None:
    assert error_codes(api.post(f"/v2/customers/{tom}/notes", json={"description": " "})) == [1037]
    too_long = {"description": "x" * 4001}
    assert error_codes(api.post(f"/v2/customers/{tom}/notes", json=too_long)) == [1037]
    viewer = api.post(f"/v2/customers/{tom}/notes", json={"description": "x"}, role="viewer")
    assert viewer.status_code == 403
    note_id = ok(api.post(f"/v2/customers/{tom}/notes", json={"description": "x"}))["note"]["id"]
    huck = register(api, mobile="919845088002")
    # A note of another customer, or of another org's, is unknown here.
    wrong = api.put(f"/v2/customers/{huck}/notes/{note_id}", json={"description": "y"})
    assert wrong.status_code == 404
    assert error_codes(wrong) == [95401]
    assert error_codes(other_api.get(f"/v2/customers/{tom}/notes")) == [8015]
    assert error_codes(api.delete(f"/v2/customers/{tom}/notes/{2**63}")) == [95401]


# --- preferences ------------------------------------------------------------------------


def define(api: Api, **body: Any) -> Any:
    return api.post("/v2/org/preferences", json=body, role="admin")


def test_preference_keys_are_typed_and_values_are_set_all_or_none(api: Api, tom: int) -> None:
    ok(define(api, key="store", type="enum", values=["Mall", "Airport"], description="where"))
    ok(define(api, key="visitsPerMonth", type="integer"))
    ok(define(api, key="newsletter", type="boolean"))
    ok(define(api, key="anniversary", type="date"))
    keys = ok(api.get("/v2/org/preferences", role="viewer"))["data"]
    assert [k["key"] for k in keys] == ["anniversary", "newsletter", "store", "visitsPerMonth"]
    assert keys[2] == {
        "key": "store",
        "type": "enum",
        "values": ["Mall", "Airport"],
        "description": "where",
    }
    none = ok(api.get(f"/v2/customers/{tom}/preferences", role="viewer"))
    assert none["preferences"] == []
    assert [w["code"] for w in none["warnings"]] == [1031]

    values = [
        {"key": "store", "value": "mall"},
        {"key": "visitsPerMonth", "value": "4"},
        {"key": "newsletter", "value": True},
        {"key": "anniversary", "value": "2020-02-29"},
    ]
    set_ = ok(api.put(f"/v2/customers/{tom}/preferences", json={"preferences": values}))
    shown = {p["key"]: p["value"] for p in set_["preferences"]}
    assert shown == {
        "anniversary": "2020-02-29",
        "newsletter": True,
        "store": "Mall",
        "visitsPerMonth": 4,
    }
    # One wrong value refuses the whole request.
    refused = api.put(
        f"/v2/customers/{tom}/preferences",
        json={"preferences": [{"key": "store", "value": "Harbour"}, {"key": "newsletter"}]},
    )
    assert refused.status_code == 400
    assert error_codes(refused) == [1030]
    unknown = api.put(
        f"/v2/customers/{tom}/preferences", json={"preferences": [{"key": "shoe", "value": 9}]}
    )
    assert error_codes(unknown) == [1030]
    # null removes a value.
    removed = ok(
        api.put(
            f"/v2/customers/{tom}/preferences",
            json={"preferences": [{"key": "NEWSLETTER", "value": None}]},
        )
    )
    assert {p["key"] for p in removed["preferences"]} == {"store", "visitsPerMonth", "anniversary"}
    assert [e["details"]["removed"] for e in audited(api, "customer.preferences.update")] == [
        ["newsletter"],
        [],
    ]


def test_preference_keys_are_checked(api: Api) -> None:
    assert error_codes(define(api, key="1st", type="string")) == [95411]
    assert error_codes(define(api, key="size", type="shoe")) == [95411]
    assert error_codes(define(api, key="size", type="enum")) == [95411]
    assert error_codes(define(api, key="size", type="string", values=["S"])) == [95411]
    ok(define(api, key="size", type="string"))
    again = define(api, key="SIZE", type="integer")
    assert again.status_code == 409
    assert error_codes(again) == [95412]
    assert api.post("/v2/org/preferences", json={"key": "x"}).status_code == 403


# --- tickets ----------------------------------------------------------------------------


def test_a_ticket_is_opened_assigned_worked_and_closed(api: Api, engine: Engine, tom: int) -> None:
    with transaction(engine) as conn:
        auth.create_user(conn, api.org.admin, f"agent-{api.org.id}", Role.editor, "pw-agent-1")
        orgs.add_unit(conn, api.org.admin, kind="store", code="mall")
    body = {
        "type": "complaint",
        "subject": "Late delivery",
        "description": "order 77 came a week late",
        "priority": "high",
        "storeCode": "mall",
    }
    added = ok(api.post(f"/v2/customers/{tom}/tickets", json=body))
    assert (added["code"], added["message"]) == (1300, "Ticket added successfully")
    ticket = added["ticket"]
    assert (ticket["type"], ticket["status"], ticket["priority"]) == ("COMPLAINT", "OPEN", "HIGH")
    assert (ticket["storeCode"], ticket["assignee"], ticket["closedOn"]) == ("mall", None, None)
    path = f"/v2/customers/{tom}/tickets/{ticket['id']}"

    same = api.post(f"/v2/customers/{tom}/tickets", json={"subject": "late DELIVERY"})
    assert same.status_code == 409
    assert error_codes(same) == [1301]
    assigned = ok(api.put(path, json={"assignee": f"AGENT-{api.org.id}", "status": "in progress"}))
    assert assigned["ticket"]["assignee"] == f"agent-{api.org.id}"
    assert assigned["ticket"]["status"] == "IN_PROGRESS"
    closed = ok(api.put(path, json={"status": "CLOSED"}))["ticket"]
    assert closed["status"] == "CLOSED"
    assert closed["closedOn"] is not None
    # Closed, its subject is free again; reopening it would make two open ones.
    ok(api.post(f"/v2/customers/{tom}/tickets", json={"subject": "Late delivery"}))
    assert error_codes(api.put(path, json={"status": "OPEN"})) == [1301]

    listed = ok(api.get(f"/v2/customers/{tom}/tickets", role="viewer"))
    assert listed["pagination"]["total"] == 2
    assert [t["status"] for t in listed["data"]] == ["OPEN", "CLOSED"]
    only_closed = ok(api.get(f"/v2/customers/{tom}/tickets", params={"status": "closed"}))
    assert [t["id"] for t in only_closed["data"]] == [ticket["id"]]
    feedback = ok(api.get(f"/v2/customers/{tom}/tickets", params={"type": "FEEDBACK"}))
    assert feedback["data"] == []
    assert ok(api.get(path))["ticket"]["status"] == "CLOSED"
    changes = [e["details"]["status"] for e in audited(api, "customer.ticket.update")]
    assert changes == ["CLOSED", "IN_PROGRESS"]


def test_a_ticket_needs_a_subject_and_known_values(api: Api, tom: int) -> None:
    tickets = f"/v2/customers/{tom}/tickets"
    assert error_codes(api.post(tickets, json={"subject": "  "})) == [1303]
    assert error_codes(api.post(tickets, json={"subject": "s", "type": "praise"})) == [1302]
    assert error_codes(api.post(tickets, json={"subject": "s", "assignee": "nobody"})) == [1302]
    assert error_codes(api.post(tickets, json={"subject": "s", "storeCode": "nowhere"})) == [1150]
    assert error_codes(api.post(tickets, json={"subject": "x" * 201})) == [1302]
    made = ok(api.post(tickets, json={"subject": "s", "type": "feedback"}))["ticket"]
    assert made["type"] == "FEEDBACK"
    assert error_codes(api.put(f"{tickets}/{made['id']}", json={"status": "DONE"})) == [1302]
    assert error_codes(api.put(f"{tickets}/{made['id']}", json={"subject": "t"})) == [1302]
    assert error_codes(api.get(f"{tickets}/{made['id'] + 1000}")) == [95421]
    assert api.post(tickets, json={"subject": "s2"}, role="viewer").status_code == 403


# --- merges -----------------------------------------------------------------------------


def test_care_records_follow_a_merge_and_come_back_with_an_unmerge(api: Api) -> None:
    ok(define(api, key="channel", type="string"))
    ok(define(api, key="size", type="string"))
    survivor = register(api, mobile="919845088101")
    victim = register(
        api,
        email="care.victim@example.com",
        identifiers=[{"type": "wechat", "value": "wx-care"}],
        source="WECHAT",
        account_id="acc",
        loyalty_type="non_loyalty",
    )
    for customer_id, channel in ((survivor, "sms"), (victim, "wechat")):
        prefs = {"preferences": [{"key": "channel", "value": channel}]}
        ok(api.put(f"/v2/customers/{customer_id}/preferences", json=prefs))
    size = {"preferences": [{"key": "size", "value": "M"}]}
    ok(api.put(f"/v2/customers/{victim}/preferences", json=size))
    ok(api.post(f"/v2/customers/{victim}/notes", json={"description": "victim note"}))
    ok(api.post(f"/v2/customers/{victim}/tickets", json={"subject": "victim ticket"}))
    merge(api, victim=victim, survivor_mobile="919845088101", source="WECHAT", account_id="acc")

    merged = ok(api.get(f"/v2/customers/{survivor}/preferences"))
    assert {p["key"]: p["value"] for p in merged["preferences"]} == {"channel": "sms", "size": "M"}
    by_victim = api.get(f"/v2/customers/{victim}/notes")
    assert warning_codes(by_victim) == [91009]
    assert [n["userId"] for n in by_victim.json()["data"]] == [survivor]
    assert [t["subject"] for t in ok(api.get(f"/v2/customers/{survivor}/tickets"))["data"]] == [
        "victim ticket"
    ]

    ok(api.post(f"/v2/customers/{victim}/unmerge", json={"reason": "split"}, role="admin"))
    back = ok(api.get(f"/v2/customers/{victim}/preferences"))
    assert {p["key"]: p["value"] for p in back["preferences"]} == {
        "channel": "wechat",
        "size": "M",
    }
    assert [n["userId"] for n in ok(api.get(f"/v2/customers/{victim}/notes"))["data"]] == [victim]
    assert ok(api.get(f"/v2/customers/{survivor}/tickets"))["data"] == []
    assert ok(api.get(f"/v2/customers/{survivor}/notes"))["data"] == []


def test_the_models_keep_every_key_of_notes_preferences_and_tickets(
    api: Api, engine: Engine, tom: int
) -> None:
    ok(define(api, key="newsletter", type="boolean"))
    ok(api.put(f"/v2/customers/{tom}/preferences", json={"preferences": [
        {"key": "newsletter", "value": True}]}))  # fmt: skip
    ok(api.post(f"/v2/customers/{tom}/notes", json={"description": "called"}))
    added = ok(api.post(f"/v2/customers/{tom}/tickets", json={"type": "FEEDBACK", "subject": "s"}))
    with transaction(engine) as conn:
        [note], _, _ = notes.notes(conn, api.org.id, tom, Page(10, 0))
        ticket = tickets.ticket(conn, api.org.id, tom, added["ticket"]["id"])
        [value], _ = preferences.preferences(conn, api.org.id, tom)
        [key] = preferences.definitions(conn, api.org.id)
    # Every key the services answer is in the models (none dropped from the answers).
    for model, raw in (
        (CustomerNote, note.rendered()),
        (CustomerTicket, ticket),
        (PreferenceValue, value),
        (PreferenceKey, key.rendered()),
    ):
        assert model.model_validate(raw).model_dump() == raw, model
    assert value["value"] is True
