"""The Entity Life Cycle profile: events stored and shown in the customer's history, the
entity id as the template's identifier, dates, errors, repeats, fraud, undo and the preview."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from patron.imports.codes import MAPPING_MISSING_FIELD, RowCode
from patron.kit.db import transaction
from patron.kit.errors import InvalidInput
from patron.lifecycle import service as lifecycle
from tests.conftest import Api, OrgHandle
from tests.factories import register
from tests.importing import csv, import_org, result, run, snapshot, start, undo
from tests.test_cli_import import Patron

PROFILE = {"profile": "entity-lifecycle"}
HEADER = "Entity Type,Entity ID,Org Source ID,Activity,State,Added by,Reference ID,Updated on"


@pytest.fixture
def org(engine: Engine) -> OrgHandle:
    return import_org(engine)


@pytest.fixture
def api(app_client: TestClient, org: OrgHandle) -> Api:
    return Api(app_client, org)


def events(engine: Engine, org: OrgHandle, customer_id: int) -> list[dict[str, Any]]:
    with transaction(engine, write=False) as conn:
        return lifecycle.events_of(conn, org.id, customer_id)


def history(api: Api, customer_id: int, **params: Any) -> list[dict[str, Any]]:
    response = api.get(f"/v2/customers/{customer_id}/changeRequest", params=params, role="viewer")
    assert response.status_code == 200, response.text
    return list(response.json()["data"])


def line(customer: Any, *, activity: str = "FOLLOW", ref: str = "ref-1", **cells: str) -> str:
    values = {
        "type": "CUSTOMER",
        "source": "wx-brand",
        "state": "SUBSCRIBED",
        "by": "wechat-gateway",
        "on": "2024-03-01T10:30:00Z",
    } | cells
    return ",".join(
        [values["type"], str(customer), values["source"], activity, values["state"], values["by"],
         ref, values["on"]]
    )  # fmt: skip


def test_events_are_stored_and_shown_in_the_history(
    engine: Engine, org: OrgHandle, api: Api
) -> None:
    tom = register(api, mobile="919800010001")
    done = run(
        engine,
        org,
        csv(
            HEADER,
            line(tom),
            line(tom, activity="REGISTER", ref="ref-2", state="REGISTERED", on="2024-03-02"),
        ),
        **PROFILE,
    )
    assert done.record["mapping"] == {
        "Entity Type": "entity_type",
        "Entity ID": "entity_id",
        "Org Source ID": "org_source_id",
        "Activity": "activity",
        "State": "state",
        "Added by": "added_by",
        "Reference ID": "reference_id",
        "Updated on": "updated_on",
    }
    assert done.statuses() == ["inserted", "inserted"]
    assert done.counts["inserted"] == 2
    assert [e | {"id": 0} for e in events(engine, org, tom)] == [
        {
            "id": 0,
            "customerId": tom,
            "entityType": "CUSTOMER",
            "entityId": str(tom),
            "orgSourceId": "wx-brand",
            "activity": "FOLLOW",
            "state": "SUBSCRIBED",
            "addedBy": "wechat-gateway",
            "referenceId": "ref-1",
            "updatedOn": "2024-03-01T10:30:00+00:00",
        },
        {
            "id": 0,
            "customerId": tom,
            "entityType": "CUSTOMER",
            "entityId": str(tom),
            "orgSourceId": "wx-brand",
            "activity": "REGISTER",
            "state": "REGISTERED",
            "addedBy": "wechat-gateway",
            "referenceId": "ref-2",
            "updatedOn": "2024-03-02T00:00:00+00:00",
        },
    ]
    [first, second] = history(api, tom, changeType="LIFECYCLE", sortOrder="ASC")
    import_id = done.record["id"]
    assert first["changeType"] == "LIFECYCLE"
    assert first["cause"] == f"import:{import_id}"
    assert first["comments"] == "FOLLOW: SUBSCRIBED (source wx-brand, reference ref-1)"
    assert first["details"] == {
        "eventId": events(engine, org, tom)[0]["id"],
        "entityType": "CUSTOMER",
        "entityId": str(tom),
        "orgSourceId": "wx-brand",
        "activity": "FOLLOW",
        "state": "SUBSCRIBED",
        "addedBy": "wechat-gateway",
        "referenceId": "ref-1",
        "updatedOn": "2024-03-01T10:30:00+00:00",
    }
    assert second["details"]["activity"] == "REGISTER"


def test_an_event_recorded_already_is_skipped(engine: Engine, org: OrgHandle, api: Api) -> None:
    tom = register(api, mobile="919800010101")
    run(engine, org, csv(HEADER, line(tom)), **PROFILE)
    # The same customer, source, activity and reference id: the same event, whatever its state.
    again = run(
        engine,
        org,
        csv(
            HEADER,
            line(tom, state="UNSUBSCRIBED"),
            line(tom, ref="ref-9"),
            line(tom, source="wx-other"),
        ),
        **PROFILE,
    )
    assert again.statuses() == ["skipped", "inserted", "inserted"]
    assert len(events(engine, org, tom)) == 3
    assert len(history(api, tom, changeType="LIFECYCLE")) == 3


def test_one_event_twice_in_the_file(engine: Engine, org: OrgHandle, api: Api) -> None:
    tom = register(api, mobile="919800010201")
    done = run(
        engine,
        org,
        csv(HEADER, line(tom), line(tom, state="UNSUBSCRIBED"), line(tom, ref="ref-2")),
        **PROFILE,
    )
    assert done.statuses() == ["rejected", "rejected", "inserted"]
    assert done.codes(2) == done.codes(3) == [RowCode.DUPLICATE_EVENT_IN_FILE]
    assert done.row(2)["errors"] == [
        f"duplicate event FOLLOW (reference ref-1, source wx-brand) of customer {tom} "
        "in the file: also in row 3"
    ]


@pytest.mark.parametrize(
    ("cells", "code", "message"),
    [
        ({"type": ""}, RowCode.EVENT_FIELD_EMPTY, "the entity type is empty"),
        (
            {"type": "CARD"},
            RowCode.ENTITY_TYPE_INVALID,
            "unknown entity type 'CARD': patron records lifecycle events of customers (CUSTOMER)",
        ),
        ({"source": ""}, RowCode.EVENT_FIELD_EMPTY, "the org source id is empty"),
        ({"state": ""}, RowCode.EVENT_FIELD_EMPTY, "the state is empty"),
        ({"by": ""}, RowCode.EVENT_FIELD_EMPTY, "the added by is empty"),
        ({"on": ""}, RowCode.EVENT_FIELD_EMPTY, "the updated on date-time is empty"),
        (
            {"source": "s" * 101},
            RowCode.EVENT_FIELD_INVALID,
            "invalid org source id: the value is longer than 100 characters",
        ),
        (
            {"on": "01/03/2024"},
            RowCode.UPDATED_ON_INVALID,
            "'01/03/2024' is not a date-time in the format ISO 8601, e.g. 2024-03-01T10:30:00Z",
        ),
        (
            {"on": "2024-02-30T10:00:00"},
            RowCode.UPDATED_ON_INVALID,
            "'2024-02-30T10:00:00' is not a date-time in the format ISO 8601, "
            "e.g. 2024-03-01T10:30:00Z",
        ),
    ],
)
def test_field_errors(
    engine: Engine, org: OrgHandle, api: Api, cells: dict[str, str], code: int, message: str
) -> None:
    tom = register(api, mobile="919800010301")
    done = run(engine, org, csv(HEADER, line(tom, **cells)), **PROFILE)
    assert done.statuses() == ["rejected"]
    assert done.codes(2) == [code]
    assert done.row(2)["errors"] == [message]
    assert events(engine, org, tom) == []


def test_activity_and_reference_errors(engine: Engine, org: OrgHandle, api: Api) -> None:
    tom = register(api, mobile="919800010311")
    done = run(
        engine,
        org,
        csv(HEADER, line(tom, activity=""), line(tom, ref=""), line(tom, ref="a\x01b")),
        **PROFILE,
    )
    assert [done.codes(n) for n in (2, 3, 4)] == [
        [RowCode.EVENT_FIELD_EMPTY],
        [RowCode.EVENT_FIELD_EMPTY],
        [RowCode.EVENT_FIELD_INVALID],
    ]
    assert done.row(2)["errors"] == ["the activity is empty"]
    assert done.row(3)["errors"] == ["the reference id is empty"]
    assert done.row(4)["errors"] == ["invalid reference id: the value contains control characters"]


def test_customer_errors(engine: Engine, org: OrgHandle, api: Api) -> None:
    marked = register(api, mobile="919800010401")
    fraud = api.put(
        f"/v2/customers/{marked}/fraudStatus",
        json={"status": "CONFIRMED", "reason": "chargebacks"},
        role="admin",
    )
    assert fraud.status_code == 200, fraud.text
    done = run(
        engine,
        org,
        csv(HEADER, line(marked), line(987654321), line("twelve"), line("")),
        **PROFILE,
    )
    assert done.statuses() == ["rejected"] * 4
    assert done.codes(2) == [RowCode.CUSTOMER_FRAUD]
    assert done.codes(3) == [RowCode.CUSTOMER_UNKNOWN]
    assert done.row(3)["errors"] == ["no customer of this org has user id 987654321"]
    assert done.codes(4) == [RowCode.USER_ID_UNKNOWN]
    assert done.codes(5) == [RowCode.IDENTIFIER_EMPTY]
    assert done.row(5)["errors"] == ["the customer's user id is empty"]


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("2024-03-01T10:30:00Z", "2024-03-01T10:30:00+00:00"),
        ("2024-03-01T16:00:00+05:30", "2024-03-01T10:30:00+00:00"),
        ("2024-03-01T16:00:00+0530", "2024-03-01T10:30:00+00:00"),
        ("2024-03-01 10:30", "2024-03-01T10:30:00+00:00"),
        ("2024-03-01T10:30:00.250", "2024-03-01T10:30:00.250000+00:00"),
        ("2024-03-01", "2024-03-01T00:00:00+00:00"),
    ],
)
def test_updated_on_as_iso_8601(
    engine: Engine, org: OrgHandle, api: Api, written: str, stored: str
) -> None:
    tom = register(api, mobile="919800010501")
    done = run(engine, org, csv(HEADER, line(tom, on=written)), **PROFILE)
    assert done.statuses() == ["inserted"]
    assert events(engine, org, tom)[0]["updatedOn"] == stored


def test_updated_on_in_the_template_date_format(engine: Engine, org: OrgHandle, api: Api) -> None:
    tom = register(api, mobile="919800010601")
    done = run(
        engine,
        org,
        csv(HEADER, line(tom, on="01/03/2024 10:30"), line(tom, ref="ref-2", on="2024-03-01")),
        date_format="%d/%m/%Y %H:%M",
        **PROFILE,
    )
    assert done.statuses() == ["inserted", "rejected"]
    assert done.codes(3) == [RowCode.UPDATED_ON_INVALID]
    assert done.row(3)["errors"] == ["'2024-03-01' is not a date-time in the format %d/%m/%Y %H:%M"]
    assert events(engine, org, tom)[0]["updatedOn"] == "2024-03-01T10:30:00+00:00"


@pytest.mark.parametrize(
    ("key", "cell", "entity_id", "corrections"),
    [
        ("mobile", "919800010701", "919800010701", []),
        ("email", " Tom@Example.com", "tom@example.com",
         ["Entity ID: whitespace trimmed", "Entity ID: email lower-cased"]),
        ("external_id", "EXT-107", "EXT-107", []),
    ],
)  # fmt: skip
def test_the_entity_id_as_the_templates_identifier(
    engine: Engine,
    org: OrgHandle,
    api: Api,
    key: str,
    cell: str,
    entity_id: str,
    corrections: list[str],
) -> None:
    tom = register(api, mobile="919800010701", email="tom@example.com", external_id="EXT-107")
    done = run(
        engine,
        org,
        csv(HEADER, line(f'"{cell}"', activity="  FOLLOW")),
        profile="entity-lifecycle",
        options={"unique_identifier": key},
    )
    assert done.statuses() == ["inserted"]
    assert done.row(2)["customer_id"] == tom
    assert done.row(2)["auto_corrections"] == [*corrections, "Activity: whitespace trimmed"]
    [event] = events(engine, org, tom)
    assert (event["entityId"], event["activity"]) == (entity_id, "FOLLOW")


def test_a_merged_user_id_records_on_the_survivor(engine: Engine, org: OrgHandle, api: Api) -> None:
    survivor = register(api, mobile="919800010801")
    victim = register(api, email="victim@example.com", source="WEBSITE", loyalty_type="non_loyalty")
    merged = api.post(
        f"/v2/customers/{victim}/changeIdentifier",
        params={"source": "WEBSITE"},
        json={"add": [{"type": "mobile", "value": "919800010801"}]},
    )
    assert merged.status_code == 200, merged.text
    done = run(engine, org, csv(HEADER, line(victim)), **PROFILE)
    assert done.row(2)["customer_id"] == survivor
    [event] = events(engine, org, survivor)
    assert (event["customerId"], event["entityId"]) == (survivor, str(victim))


def test_every_field_is_mandatory(engine: Engine, org: OrgHandle) -> None:
    header = "Entity Type,Entity ID,Org Source ID,Activity,State,Added by,Reference ID"
    with pytest.raises(InvalidInput) as refused:
        start(engine, org, csv(header, "CUSTOMER,1,wx,FOLLOW,ON,me,r1"), **PROFILE)
    assert refused.value.code == MAPPING_MISSING_FIELD
    assert "map a column to updated_on" in refused.value.message


def test_undo_deletes_the_events_and_their_history(
    engine: Engine, org: OrgHandle, api: Api
) -> None:
    tom = register(api, mobile="919800010901")
    kept = run(engine, org, csv(HEADER, line(tom)), **PROFILE)
    before = snapshot(engine, org)
    kept_events = events(engine, org, tom)
    done = run(engine, org, csv(HEADER, line(tom), line(tom, ref="ref-2")), **PROFILE)
    assert done.statuses() == ["skipped", "inserted"]
    assert len(events(engine, org, tom)) == 2
    undone = undo(engine, org, done.record["id"])
    assert undone.state == "undone"
    assert undone.counts["undo_conflicts"] == 0
    assert events(engine, org, tom) == kept_events
    assert snapshot(engine, org) == before
    [entry] = history(api, tom, changeType="LIFECYCLE")
    assert entry["cause"] == f"import:{kept.record['id']}"


def test_a_preview_changes_nothing(engine: Engine, org: OrgHandle, api: Api) -> None:
    tom = register(api, mobile="919800011001")
    before = snapshot(engine, org)
    import_id = start(engine, org, csv(HEADER, line(tom)), **PROFILE)
    preview = result(engine, org, import_id)
    assert preview.state == "previewed"
    assert preview.counts["inserted"] == 1
    assert snapshot(engine, org) == before
    assert events(engine, org, tom) == []


def test_the_command_line_takes_the_profile(
    engine: Engine, org: OrgHandle, api: Api, tmp_path: Path
) -> None:
    tom = register(api, mobile="919800011101")
    path = tmp_path / "events.csv"
    path.write_text(csv(HEADER, line(tom)), encoding="utf-8")
    done = Patron(engine, org).json("import", str(path), "--profile", "entity-lifecycle", "--yes")
    assert done["state"] == "committed"
    assert [event["activity"] for event in events(engine, org, tom)] == ["FOLLOW"]


def test_a_customer_of_another_org_is_unknown(
    engine: Engine, org: OrgHandle, other_api: Api
) -> None:
    theirs = register(other_api, mobile="919800011201")
    done = run(engine, org, csv(HEADER, line(theirs)), **PROFILE)
    assert done.codes(2) == [RowCode.CUSTOMER_UNKNOWN]
    with transaction(engine, write=False) as conn:
        assert lifecycle.events_of(conn, other_api.org.id, theirs) == []
