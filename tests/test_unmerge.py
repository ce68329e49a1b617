"""Reversing a merge: the victim lives again with what it brought, and nothing else moves."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from patron.cards.tables import cards
from patron.customer.tables import merges
from patron.identity.merge import unmerge
from patron.kit.db import transaction
from patron.legacy.tables import legacy_profiles
from patron.loyalty.tables import campaign_enrollments, campaign_ledger, campaigns, loyalty_accounts
from patron.orgs import service as orgs
from tests.conftest import Api, warning_codes
from tests.factories import register


def lookup(api: Api, name: str, value: str) -> int | None:
    response = api.get(
        "/v2/customers/lookup", params={"identifierName": name, "identifierValue": value}
    )
    return int(response.json()["entity"]) if response.status_code == 200 else None


def document(api: Api, customer_id: int) -> dict[str, Any]:
    response = api.get(f"/v2/customers/{customer_id}", params={"embed": "subscriptions"})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
def pair(api: Api, engine: Engine) -> tuple[int, int, int]:
    """A survivor (in-store, loyalty) and a WeChat victim with a field, a subscription and a
    field value the survivor also has; merged through changeIdentifier. Answers
    (survivor, victim, merge id)."""
    with transaction(engine) as conn:
        orgs.add_field(conn, api.org.admin, kind="custom", name="city")
    survivor = register(
        api,
        mobile="919845099001",
        profile={"fields": {"city": "Pune"}},
    )
    victim = register(
        api,
        identifiers=[{"type": "wechat", "value": "wx-un-1"}],
        email="victim@example.com",
        source="WECHAT",
        account_id="acc",
        loyalty_type="non_loyalty",
        profile={"fields": {"city": "Goa"}},
    )
    opted = api.post(
        f"/v2/customers/{victim}/subscriptions",
        params={"source": "WECHAT", "accountId": "acc"},
        json={"subscriptions": [{"channel": "EMAIL", "priority": "BULK", "type": "OPTIN"}]},
    )
    assert opted.status_code == 200, opted.text
    merged = api.post(
        f"/v2/customers/{victim}/changeIdentifier",
        params={"source": "WECHAT", "accountId": "acc"},
        json={"add": [{"type": "mobile", "value": "919845099001"}]},
    )
    assert warning_codes(merged) == [8051]
    history = api.get(f"/v2/customers/{survivor}/changeRequest", params={"changeType": "MERGE"})
    merge_id = int(history.json()["data"][0]["details"]["mergeId"])
    return survivor, victim, merge_id


def test_unmerge_gives_the_victim_back_what_it_brought(
    api: Api, engine: Engine, pair: tuple[int, int, int]
) -> None:
    survivor, victim, merge_id = pair
    with transaction(engine) as conn:
        assert unmerge(conn, api.org.admin, merge_id, cause="test") is None
    assert lookup(api, "wechat", "wx-un-1") == victim
    assert lookup(api, "email", "victim@example.com") == victim
    assert lookup(api, "mobile", "919845099001") == survivor
    back = document(api, victim)
    assert back["id"] == victim
    assert warning_codes_of(back) == []
    assert [p["source"] for p in back["profiles"]] == ["WECHAT"]
    assert back["profiles"][0]["fields"] == {"city": "Goa"}
    assert [s["channel"] for s in back["subscriptionInfo"]["subscriptions"]] == ["EMAIL"]
    stayed = document(api, survivor)
    assert [p["source"] for p in stayed["profiles"]] == ["INSTORE"]
    assert stayed["profiles"][0]["fields"] == {"city": "Pune"}
    assert stayed["loyaltyInfo"]["loyaltyType"] == "loyalty"
    unmerged = api.get(f"/v2/customers/{victim}/changeRequest", params={"changeType": "UNMERGE"})
    assert unmerged.json()["data"][0]["details"]["mergeId"] == merge_id


def test_an_unmerge_happens_once(api: Api, engine: Engine, pair: tuple[int, int, int]) -> None:
    _, _, merge_id = pair
    with transaction(engine) as conn:
        assert unmerge(conn, api.org.admin, merge_id) is None
    with transaction(engine) as conn:
        assert unmerge(conn, api.org.admin, merge_id) == "the merge was reversed already"


def test_a_deleted_survivor_is_not_unmerged(
    api: Api, engine: Engine, pair: tuple[int, int, int]
) -> None:
    survivor, victim, merge_id = pair
    deleted = api.delete(f"/v2/customers/{survivor}", params={"reason": "asked"}, role="admin")
    assert deleted.status_code == 200, deleted.text
    with transaction(engine) as conn:
        refused = unmerge(conn, api.org.admin, merge_id)
    # Deleting the survivor deletes the people merged into it too.
    assert refused in {
        f"customer {victim} changed since the merge",
        f"customer {survivor} was merged or deleted since",
    }
    assert lookup(api, "wechat", "wx-un-1") is None


def warning_codes_of(body: dict[str, Any]) -> list[int]:
    return [w["code"] for w in body.get("warnings", [])]


def test_a_card_moves_with_the_merge_and_back(api: Api, engine: Engine) -> None:
    series = api.post("/v2/cards/series", json={"code": "FLEET", "type": "DIGITAL"}, role="admin")
    assert series.status_code in (200, 201), series.text
    survivor = register(api, mobile="919845099101")
    victim = register(
        api,
        email="card-victim@example.com",
        identifiers=[{"type": "cardnumber", "value": "F-9", "seriesCode": "FLEET"}],
        source="WECHAT",
        account_id="acc",
        loyalty_type="non_loyalty",
    )
    merged = api.post(
        f"/v2/customers/{victim}/changeIdentifier",
        params={"source": "WECHAT", "accountId": "acc"},
        json={"add": [{"type": "mobile", "value": "919845099101"}]},
    )
    assert warning_codes(merged) == [8051]

    def holder() -> int:
        with transaction(engine, write=False) as conn:
            return int(
                conn.execute(
                    sa.select(cards.c.customer_id).where(cards.c.number == "F-9")
                ).scalar_one()
            )

    assert holder() == survivor
    with transaction(engine, write=False) as conn:
        merge_id = conn.execute(
            sa.select(merges.c.id).where(merges.c.victim_id == victim)
        ).scalar_one()
    with transaction(engine) as conn:
        assert unmerge(conn, api.org.admin, merge_id) is None
    assert holder() == victim
    assert lookup(api, "cardnumber", "F-9") == victim


def test_loyalty_campaigns_and_legacy_data_move_when_the_survivor_has_none(
    api: Api, engine: Engine, pair: tuple[int, int, int]
) -> None:
    survivor, victim, merge_id = pair
    with transaction(engine) as conn:
        assert unmerge(conn, api.org.admin, merge_id) is None
        campaign_id = conn.execute(
            campaigns.insert()
            .values(org_id=api.org.id, number=7, name="Stamps", type="visits")
            .returning(campaigns.c.id)
        ).scalar_one()
        conn.execute(
            campaign_enrollments.insert().values(
                org_id=api.org.id, campaign_id=campaign_id, customer_id=victim, balance=3
            )
        )
        conn.execute(
            campaign_ledger.insert().values(
                org_id=api.org.id, campaign_id=campaign_id, customer_id=victim, change=3,
                reason="auto_add",
            )
        )  # fmt: skip
        conn.execute(
            legacy_profiles.insert().values(org_id=api.org.id, customer_id=victim, city="Goa")
        )
        conn.execute(loyalty_accounts.insert().values(org_id=api.org.id, customer_id=survivor))
        conn.execute(loyalty_accounts.insert().values(org_id=api.org.id, customer_id=victim))
    again = api.post(
        f"/v2/customers/{victim}/changeIdentifier",
        params={"source": "WECHAT", "accountId": "acc"},
        json={"add": [{"type": "mobile", "value": "919845099001"}]},
    )
    assert warning_codes(again) == [8051]

    def holders() -> dict[str, list[int]]:
        with transaction(engine, write=False) as conn:
            return {
                table.name: sorted(
                    int(i)
                    for i in conn.execute(
                        sa.select(table.c.customer_id).where(table.c.org_id == api.org.id)
                    ).scalars()
                )
                for table in (
                    campaign_enrollments,
                    campaign_ledger,
                    legacy_profiles,
                    loyalty_accounts,
                )
            }

    # Everything the survivor lacked moved; its own loyalty account stays apart.
    assert holders() == {
        "campaign_enrollments": [survivor],
        "campaign_ledger": [survivor],
        "legacy_profiles": [survivor],
        "loyalty_accounts": sorted([survivor, victim]),
    }
    with transaction(engine, write=False) as conn:
        second = conn.execute(
            sa.select(merges.c.id).where(
                merges.c.victim_id == victim, merges.c.reversed_at.is_(None)
            )
        ).scalar_one()
    with transaction(engine) as conn:
        assert unmerge(conn, api.org.admin, second) is None
    assert holders() == {
        "campaign_enrollments": [victim],
        "campaign_ledger": [victim],
        "legacy_profiles": [victim],
        "loyalty_accounts": sorted([survivor, victim]),
    }
