"""Unmerging by hand: ``POST /v2/customers/{id}/unmerge`` restores both customers exactly,
reports what changed since the merge, and ``GET /v2/customers/{id}/merges`` shows it."""

from __future__ import annotations

import io
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy.engine import Engine

from patron.customer.tables import customers
from patron.kit.db import transaction
from patron.kit.schema import metadata
from patron.orgs import service as orgs
from patron.orgs.settings import OrgSettings
from tests.conftest import Api, error_codes, make_org, warning_codes
from tests.factories import register

#: Tables that record history: they grow with a merge and an unmerge by design.
HISTORY = {"change_log", "audit_log", "merges", "idempotency_keys"}
#: Columns that say when or by whom a row was last touched, not what it holds.
TOUCHED = {"updated_at", "modified_by"}
SURVIVOR_MOBILE = "919845077001"


def dump(engine: Engine, org_id: int, ids: set[int]) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the schema that names one of ``ids``, history and touch times aside:
    the customers themselves and every table with a ``customer_id``, ordered by id."""
    found: dict[str, list[tuple[Any, ...]]] = {}
    with transaction(engine, write=False) as conn:
        for table in metadata.sorted_tables:
            if table.name in HISTORY:
                continue
            key = table.c.id if table is customers else table.c.get("customer_id")
            if key is None or "org_id" not in table.c:
                continue
            columns = [c for c in table.columns if c.name not in TOUCHED]
            query = (
                sa.select(*columns)
                .where(table.c.org_id == org_id, key.in_(sorted(ids)))
                .order_by(*table.primary_key.columns)
            )
            rows = [tuple(row) for row in conn.execute(query)]
            if rows:
                found[table.name] = rows
    return found


@pytest.fixture
def email_org_api(app_client: TestClient, engine: Engine) -> Api:
    """An org whose loyalty customers need an email (so a WeChat member needs no mobile)."""
    api = Api(app_client, make_org(engine, OrgSettings(primary_identifier="email")))
    with transaction(engine) as conn:
        orgs.add_field(conn, api.org.admin, kind="custom", name="city")
        orgs.add_field(conn, api.org.admin, kind="custom", name="dateofbirth")
        orgs.add_field(conn, api.org.admin, kind="extended", name="city")
    series = {"code": "FLEET", "type": "DIGITAL"}
    assert api.post("/v2/cards/series", json=series, role="admin").status_code in (200, 201)
    return api


def a_pair(api: Api) -> tuple[int, int]:
    """A non-loyalty survivor in store and a loyalty WeChat victim with a card, channels,
    fields (one the survivor also has), extended fields and subscriptions."""
    survivor = register(
        api,
        mobile=SURVIVOR_MOBILE,
        loyalty_type="non_loyalty",
        profile={"fields": {"city": "Pune"}},
    )
    victim = register(
        api,
        email="victim@example.com",
        identifiers=[
            {"type": "wechat", "value": "wx-77"},
            {"type": "cardnumber", "value": "F-77", "seriesCode": "FLEET"},
        ],
        source="WECHAT",
        account_id="acc",
        profile={
            "fields": {"city": "Goa", "dateofbirth": "1990-02-03"},
            "commChannels": [{"type": "email", "value": "victim@example.com", "primary": True}],
        },
        extendedFields={"city": "Panaji"},
    )
    picture = io.BytesIO()
    Image.new("RGB", (6, 6), (1, 2, 3)).save(picture, format="PNG")
    files = {"file": ("v.png", picture.getvalue(), "image/png")}
    assert api.post(f"/v2/customers/{victim}/setImage", files=files).status_code == 200
    note = {"description": "asked about WeChat pay"}
    assert api.post(f"/v2/customers/{victim}/notes", json=note).status_code == 200
    subscribed = api.post(
        f"/v2/customers/{victim}/subscriptions",
        params={"source": "WECHAT", "accountId": "acc"},
        json={"subscriptions": [{"channel": "EMAIL", "priority": "BULK", "type": "OPTIN"}]},
    )
    assert subscribed.status_code == 200, subscribed.text
    return survivor, victim


def merge_by_change_identifier(api: Api, victim: int) -> None:
    merged = api.post(
        f"/v2/customers/{victim}/changeIdentifier",
        params={"source": "WECHAT", "accountId": "acc"},
        json={"add": [{"type": "mobile", "value": SURVIVOR_MOBILE}]},
    )
    assert merged.status_code == 200, merged.text
    assert warning_codes(merged) == [8051]


def unmerge(api: Api, customer_id: int, **body: Any) -> Any:
    return api.post(f"/v2/customers/{customer_id}/unmerge", json=body, role="admin")


def test_unmerge_after_a_change_identifier_merge_restores_both_customers_exactly(
    email_org_api: Api, engine: Engine
) -> None:
    api = email_org_api
    survivor, victim = a_pair(api)
    before = dump(engine, api.org.id, {survivor, victim})
    assert {"profiles", "identifiers", "comm_channels", "field_values", "cards"} <= set(before)
    assert {"subscriptions", "consent_ledger", "customer_images", "customer_notes"} <= set(before)

    merge_by_change_identifier(api, victim)
    merged = dump(engine, api.org.id, {survivor, victim})
    assert merged != before
    survivor_doc = api.get(f"/v2/customers/{survivor}").json()
    assert survivor_doc["loyaltyInfo"]["loyaltyType"] == "loyalty"

    done = unmerge(api, victim, reason="two different people")
    assert done.status_code == 200, done.text
    answer = done.json()
    assert answer["id"] == victim
    assert answer["survivorId"] == survivor
    assert answer["unmerged"] is True
    assert answer["conflicts"] == []
    assert dump(engine, api.org.id, {survivor, victim}) == before
    # Both answer as themselves again, and the victim's id no longer leads to the survivor.
    back = api.get(f"/v2/customers/{victim}")
    assert back.status_code == 200
    assert back.json()["id"] == victim
    assert warning_codes(back) == []
    assert api.get(f"/v2/customers/{survivor}").json()["loyaltyInfo"]["loyaltyType"] == (
        "non_loyalty"
    )


def test_what_changed_since_the_merge_is_left_alone_and_reported(
    email_org_api: Api, engine: Engine
) -> None:
    api = email_org_api
    survivor, victim = a_pair(api)
    merge_by_change_identifier(api, victim)
    # Since the merge: the victim's WeChat id removed from the survivor, and its birth date
    # changed on the survivor.
    removed = api.post(
        f"/v2/customers/{survivor}/changeIdentifier",
        params={"source": "WECHAT", "accountId": "acc"},
        json={"remove": [{"type": "wechat", "value": "wx-77"}]},
    )
    assert removed.status_code == 200, removed.text
    updated = api.put(
        f"/v2/customers/{survivor}",
        params={"source": "WECHAT", "accountId": "acc"},
        json={"profiles": [{"fields": {"dateofbirth": "1991-04-05"}}]},
    )
    assert updated.status_code == 200, updated.text

    done = unmerge(api, victim, reason="two different people")
    assert done.status_code == 200, done.text
    conflicts = done.json()["conflicts"]
    assert any("identifiers" in c for c in conflicts), conflicts
    assert any("field values" in c for c in conflicts), conflicts
    victim_doc = api.get(f"/v2/customers/{victim}").json()
    held = {i["type"] for i in victim_doc["profiles"][0]["identifiers"]}
    assert held == {"email", "cardnumber"}
    assert victim_doc["profiles"][0]["fields"] == {"city": "Goa"}
    survivor_doc = api.get(f"/v2/customers/{survivor}").json()
    assert survivor_doc["profiles"][0]["fields"]["dateofbirth"] == "1991-04-05"


def test_unmerge_by_the_survivor_names_the_merge_and_happens_once(
    email_org_api: Api,
) -> None:
    api = email_org_api
    survivor, victim = a_pair(api)
    merge_by_change_identifier(api, victim)
    listed = api.get(f"/v2/customers/{survivor}/merges")
    assert listed.status_code == 200, listed.text
    [entry] = listed.json()["data"]
    assert (entry["survivorId"], entry["victimId"], entry["status"]) == (
        survivor,
        victim,
        "MERGED",
    )
    assert entry["cause"] == "api"
    merge_id = entry["mergeId"]

    # A live customer needs the merge named.
    assert error_codes(unmerge(api, survivor, reason="split")) == [95310]
    assert error_codes(unmerge(api, survivor, reason="split", mergeId=merge_id + 999)) == [95311]
    done = unmerge(api, survivor, reason="split", mergeId=merge_id)
    assert done.status_code == 200, done.text
    assert done.json()["id"] == victim

    again = unmerge(api, victim, reason="split", mergeId=merge_id)
    assert again.status_code == 409
    assert error_codes(again) == [95312]
    [entry] = api.get(f"/v2/customers/{victim}/merges").json()["data"]
    assert entry["status"] == "UNMERGED"
    assert entry["unmergeReason"] == "split"
    assert entry["unmergedOn"] is not None
    history = api.get(f"/v2/customers/{victim}/changeRequest", params={"changeType": "UNMERGE"})
    assert history.json()["data"][0]["details"]["reason"] == "split"
    audit = api.get("/v2/audit", params={"action": "customer.unmerge"}, role="admin")
    assert [e["objectId"] for e in audit.json()["data"]] == [str(victim)]


def test_unmerge_needs_an_admin_a_reason_and_a_known_customer(
    email_org_api: Api, other_api: Api
) -> None:
    api = email_org_api
    _, victim = a_pair(api)
    merge_by_change_identifier(api, victim)
    as_editor = api.post(f"/v2/customers/{victim}/unmerge", json={"reason": "x"})
    assert as_editor.status_code == 403
    assert error_codes(unmerge(api, victim)) == [91003]
    assert error_codes(unmerge(api, victim, reason="   ")) == [91003]
    assert error_codes(unmerge(api, 9_000_000_000, reason="x")) == [8015]
    # Another org's customer is unknown.
    assert error_codes(other_api.post(
        f"/v2/customers/{victim}/unmerge", json={"reason": "x"}, role="admin"
    )) == [8015]  # fmt: skip
    assert api.get(f"/v2/customers/{victim}").json()["warnings"][0]["code"] == 91009


def test_a_customer_marked_as_fraud_is_not_unmerged(email_org_api: Api) -> None:
    api = email_org_api
    survivor, victim = a_pair(api)
    merge_by_change_identifier(api, victim)
    marked = api.put(
        f"/v2/customers/{survivor}/fraudStatus",
        json={"status": "MARKED", "reason": "chargebacks"},
        role="admin",
    )
    assert marked.status_code == 200, marked.text
    refused = unmerge(api, victim, reason="split")
    assert refused.status_code == 403
    assert error_codes(refused) == [618]
