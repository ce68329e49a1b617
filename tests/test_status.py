"""PUT /v2/customers/lookup/status and PUT /v2/customers/{id}/fraudStatus."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from patron.audit.tables import audit_log, change_log
from patron.customer.tables import customers
from patron.kit.db import transaction
from patron.orgs import service as orgs
from tests.conftest import Api, OrgHandle, error_codes, warning_codes
from tests.factories import merge, register

MOBILE = "919845012345"
UNKNOWN_ID = 987_654_321


def set_status(
    api: Api, body: Any, *, role: str = "editor", value: str = MOBILE, **params: Any
) -> Any:
    query = {"source": "INSTORE", "identifierName": "mobile", "identifierValue": value, **params}
    return api.put("/v2/customers/lookup/status", params=query, json=body, role=role)


def set_fraud(api: Api, customer_id: int, body: Any, *, role: str = "admin") -> Any:
    return api.put(f"/v2/customers/{customer_id}/fraudStatus", json=body, role=role)


def current_status(api: Api, customer_id: int) -> dict[str, Any]:
    status: dict[str, Any] = api.get(f"/v2/customers/{customer_id}").json()["status"]
    return status


def logged(engine: Engine, customer_id: int, change_type: str) -> list[Any]:
    with transaction(engine, write=False) as conn:
        return list(
            conn.execute(
                sa.select(change_log)
                .where(
                    change_log.c.customer_id == customer_id,
                    change_log.c.change_type == change_type,
                )
                .order_by(change_log.c.id)
            ).mappings()
        )


def audited(engine: Engine, org_id: int, action: str) -> list[Any]:
    with transaction(engine, write=False) as conn:
        return list(
            conn.execute(
                sa.select(audit_log)
                .where(audit_log.c.org_id == org_id, audit_log.c.action == action)
                .order_by(audit_log.c.id)
            ).mappings()
        )


@pytest.fixture
def tom(api: Api) -> int:
    return register(api, mobile=MOBILE, email="tom@example.com")


# --- status label -----------------------------------------------------------------


def test_status_update_answers_the_seed_sample(
    api: Api, engine: Engine, org: OrgHandle, tom: int
) -> None:
    response = set_status(
        api, {"reason": "testing2", "createdOn": "2021-09-16T12:10:45Z", "label": "Suspended"}
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"warnings": [], "errors": []}
    assert current_status(api, tom) == {"label": "Suspended", "systemStatus": "Suspended"}
    [entry] = logged(engine, tom, "STATUS")
    assert entry["details"] == {
        "from": "Active",
        "to": "Suspended",
        "reason": "testing2",
        "createdOn": "2021-09-16T12:10:45+00:00",
    }
    assert (entry["source"], entry["account_id"]) == ("INSTORE", "")
    [audit] = audited(engine, org.id, "customer.status")
    assert audit["entity_id"] == str(tom)
    assert audit["details"] == {"from": "Active", "to": "Suspended"}


def test_labels_match_case_insensitively_and_custom_labels_work(
    api: Api, engine: Engine, org: OrgHandle, tom: int
) -> None:
    with transaction(engine) as conn:
        orgs.add_label(conn, org.admin, label="On Hold", system_status="Suspended")
    assert set_status(api, {"reason": "r", "label": "on hold"}).status_code == 200
    assert current_status(api, tom) == {"label": "On Hold", "systemStatus": "Suspended"}
    by_email = set_status(
        api, {"reason": "back", "label": "ACTIVE"}, identifierName="email", value="tom@example.com"
    )
    assert by_email.status_code == 200
    assert current_status(api, tom)["label"] == "Active"
    assert [e["details"]["to"] for e in logged(engine, tom, "STATUS")] == ["On Hold", "Active"]


def test_setting_the_current_label_changes_nothing(api: Api, engine: Engine, tom: int) -> None:
    response = set_status(api, {"reason": "again", "label": "Active"})
    assert response.status_code == 200
    assert logged(engine, tom, "STATUS") == []


def test_unknown_label_names_the_orgs_labels(api: Api, tom: int) -> None:
    response = set_status(api, {"reason": "r", "label": "Platinum"})
    assert response.status_code == 400
    assert error_codes(response) == [91003]
    message = response.json()["errors"][0]["message"]
    assert "'Platinum'" in message
    for label in ("Active", "Suspended", "Fraud Suspected", "Internal"):
        assert label in message
    assert "Deleted" not in message


def test_the_deleted_label_is_only_reached_by_deleting(api: Api, tom: int) -> None:
    response = set_status(api, {"reason": "r", "label": "Deleted"})
    assert response.status_code == 400
    assert error_codes(response) == [91003]
    assert "DELETE" in response.json()["errors"][0]["message"]
    assert current_status(api, tom)["label"] == "Active"


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"label": "Suspended"}, "reason is required"),
        ({"reason": "   ", "label": "Suspended"}, "reason is required"),
        ({"reason": "x" * 501, "label": "Suspended"}, "at most 500"),
        ({"reason": "r"}, "label is required"),
        ({"reason": "r", "label": " "}, "label is required"),
        (None, "reason is required"),
        ({"reason": "r", "label": "Active", "createdOn": "yesterday"}, "createdOn"),
    ],
)
def test_invalid_status_bodies_are_refused(api: Api, tom: int, body: Any, words: str) -> None:
    response = set_status(api, body)
    assert response.status_code == 400
    assert error_codes(response) == [91003]
    assert words in response.json()["errors"][0]["message"]


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"identifierValue": "919800000000"}, 404, 8015),
        ({"identifierName": "nickname"}, 400, 8013),
        ({"source": "WECHAT", "accountId": "wx"}, 404, 8065),
        ({"source": "WECHAT"}, 400, 8045),
        ({"source": "MOON"}, 400, 8012),
    ],
)
def test_lookup_errors(api: Api, tom: int, params: dict[str, str], status: int, code: int) -> None:
    query = {"source": "INSTORE", "identifierName": "mobile", "identifierValue": MOBILE, **params}
    response = api.put(
        "/v2/customers/lookup/status", params=query, json={"reason": "r", "label": "Suspended"}
    )
    assert response.status_code == status
    assert error_codes(response) == [code]


def test_a_customer_marked_as_fraud_cannot_change_status(
    api: Api, engine: Engine, tom: int
) -> None:
    assert set_fraud(api, tom, {"status": "MARKED", "reason": "chargebacks"}).status_code == 200
    response = set_status(api, {"reason": "r", "label": "Suspended"})
    assert response.status_code == 403
    assert error_codes(response) == [618]
    assert current_status(api, tom)["label"] == "Active"
    assert logged(engine, tom, "STATUS") == []
    # Clearing the mark makes the customer changeable again.
    assert set_fraud(api, tom, {"status": "NOT_FRAUD", "reason": "cleared"}).status_code == 200
    assert set_status(api, {"reason": "r", "label": "Suspended"}).status_code == 200


def test_status_needs_the_editor_role(api: Api, tom: int) -> None:
    response = set_status(api, {"reason": "r", "label": "Suspended"}, role="viewer")
    assert response.status_code == 403


def test_another_orgs_customer_is_unknown(api: Api, other_api: Api, tom: int) -> None:
    theirs = set_status(other_api, {"reason": "r", "label": "Suspended"})
    unknown = set_status(api, {"reason": "r", "label": "Suspended"}, value="919800000000")
    assert (theirs.status_code, theirs.json()) == (unknown.status_code, unknown.json())
    assert error_codes(theirs) == [8015]
    assert current_status(api, tom)["label"] == "Active"


# --- fraud status -----------------------------------------------------------------


def test_marking_fraud_records_it(api: Api, engine: Engine, org: OrgHandle, tom: int) -> None:
    response = set_fraud(api, tom, {"status": "marked", "reason": "chargebacks"})
    assert response.status_code == 200, response.text
    assert response.json() == {"id": tom, "fraudStatus": "MARKED", "warnings": []}
    with transaction(engine, write=False) as conn:
        row = conn.execute(sa.select(customers).where(customers.c.id == tom)).mappings().one()
    assert row["fraud_status"] == "MARKED"
    assert row["fraud_modified_at"] is not None
    [entry] = logged(engine, tom, "FRAUD")
    assert entry["details"] == {"from": "NOT_FRAUD", "to": "MARKED", "reason": "chargebacks"}
    [audit] = audited(engine, org.id, "customer.fraud")
    assert audit["details"] == {"from": "NOT_FRAUD", "to": "MARKED"}
    fraud = api.get(f"/v2/customers/{tom}").json()["fraudDetails"]
    assert fraud["status"] == "MARKED"
    assert fraud["modifiedOn"]


@pytest.mark.parametrize(
    ("status", "blocks"),
    [("MARKED", True), ("CONFIRMED", True), ("RECONFIRMED", True), ("INTERNAL", False)],
)
def test_fraud_statuses_that_freeze_a_customer(
    api: Api, tom: int, status: str, blocks: bool
) -> None:
    assert set_fraud(api, tom, {"status": status, "reason": "r"}).status_code == 200
    change = api.post(
        f"/v2/customers/{tom}/changeIdentifier",
        json={"add": [{"type": "externalId", "value": "E-1"}]},
    )
    if blocks:
        assert change.status_code == 403
        assert error_codes(change) == [618]
    else:
        assert change.status_code == 200, change.text


def test_setting_the_same_fraud_status_changes_nothing(api: Api, engine: Engine, tom: int) -> None:
    set_fraud(api, tom, {"status": "CONFIRMED", "reason": "r"})
    again = set_fraud(api, tom, {"status": "CONFIRMED", "reason": "r2"})
    assert again.json() == {"id": tom, "fraudStatus": "CONFIRMED", "warnings": []}
    assert len(logged(engine, tom, "FRAUD")) == 1


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"status": "GUILTY", "reason": "r"}, "status must be one of"),
        ({"reason": "r"}, "status must be one of"),
        ({"status": "MARKED"}, "reason is required"),
        ({"status": "MARKED", "reason": ""}, "reason is required"),
        (None, "status must be one of"),
    ],
)
def test_invalid_fraud_bodies_are_refused(api: Api, tom: int, body: Any, words: str) -> None:
    response = set_fraud(api, tom, body)
    assert response.status_code == 400
    assert error_codes(response) == [91003]
    assert words in response.json()["errors"][0]["message"]


def test_fraud_status_needs_the_admin_role(api: Api, tom: int) -> None:
    response = set_fraud(api, tom, {"status": "MARKED", "reason": "r"}, role="editor")
    assert response.status_code == 403
    assert api.get(f"/v2/customers/{tom}").json()["fraudDetails"]["status"] == "NOT_FRAUD"


def test_fraud_by_a_merge_victim_id_changes_the_survivor(api: Api) -> None:
    survivor = register(api, mobile=MOBILE)
    victim = register(
        api, email="v@example.com", source="WECHAT", account_id="acc", loyalty_type="non_loyalty"
    )
    merge(api, victim=victim, survivor_mobile=MOBILE, source="WECHAT", account_id="acc")
    response = set_fraud(api, victim, {"status": "MARKED", "reason": "r"})
    assert response.status_code == 200
    assert response.json()["id"] == survivor
    assert warning_codes(response) == [91009]


def test_fraud_of_unknown_and_other_org_ids_answer_alike(
    api: Api, other_api: Api, tom: int
) -> None:
    body = {"status": "MARKED", "reason": "r"}
    unknown = set_fraud(api, UNKNOWN_ID, body)
    theirs = set_fraud(other_api, tom, body)
    assert unknown.status_code == 404
    assert error_codes(unknown) == [8015]
    assert (theirs.status_code, theirs.json()) == (unknown.status_code, unknown.json())
    assert api.get(f"/v2/customers/{tom}").json()["fraudDetails"]["status"] == "NOT_FRAUD"
