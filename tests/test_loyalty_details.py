"""The loyalty embed values of the customer details: several programs (mlp), campaign
balances beside goodwill (promotionalPoints), and what non-members and orgs without a
program are told."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from patron.kit.db import transaction
from patron.loyalty.tables import campaign_enrollments, campaigns
from tests.conftest import Api, warning_codes
from tests.factories import register
from tests.loyalty_setup import add_program, bill


def test_mlp_shows_every_program_and_points_the_default_one(api: Api) -> None:
    add_program(api, programId=1219)
    add_program(
        api,
        programId=1223,
        name="Partner points",
        slabs=[{"name": "Tier1", "earnRate": 1}, {"name": "Tier2", "threshold": 500}],
    )
    tom = register(api, mobile="919845012345")
    bill(api, tom, 1000)  # the default program: 100 points
    bill(api, tom, 300, number="B-2", programId=1223)  # 300 points in the other one
    shown = api.get(f"/v2/customers/{tom}", params={"embed": "points,mlp"}).json()
    programs = {p["programId"]: p for p in shown["loyaltyProgramDetails"]}
    assert set(programs) == {1219, 1223}
    assert (programs[1219]["loyaltyPoints"], programs[1223]["loyaltyPoints"]) == (100.0, 300.0)
    assert (programs[1223]["currentSlab"], programs[1223]["nextSlab"]) == ("Tier1", "Tier2")
    assert "linkedPartnerPrograms" not in programs[1219]
    assert shown["pointsSummary"]["loyaltyPoints"] == 100.0  # the default program's
    assert shown["loyaltyInfo"]["lifetimePurchases"] == 1300.0
    unknown = api.get(f"/v2/customers/{tom}", params={"embed": "badges"})
    assert unknown.status_code == 400


def test_promotional_points_show_the_customers_campaign_balances(engine: Engine, api: Api) -> None:
    add_program(api)
    tom = register(api, mobile="919845012345")
    with transaction(engine) as conn:
        campaign_id = conn.execute(
            campaigns.insert()
            .values(org_id=api.org.id, number=898989889, name="Welcome", type="points")
            .returning(campaigns.c.id)
        ).scalar_one()
        conn.execute(
            campaign_enrollments.insert().values(
                org_id=api.org.id, campaign_id=campaign_id, customer_id=tom, balance=25
            )
        )
    shown = api.get(f"/v2/customers/{tom}", params={"embed": "promotionalPoints"}).json()
    assert shown["promotionalPoints"]["campaignBalances"] == [
        {"campaignId": 898989889, "name": "Welcome", "type": "points", "balance": 25.0}
    ]
    assert shown["promotionalPoints"]["customerPromotionType"] == []


def test_non_members_and_orgs_without_a_program_are_told_why(api: Api, other_api: Api) -> None:
    huck = register(other_api, mobile="919845012346")
    no_program = other_api.get(f"/v2/customers/{huck}", params={"embed": "points"})
    assert no_program.status_code == 200
    assert warning_codes(no_program) == [8062]
    assert "pointsSummary" not in no_program.json()
    add_program(api)
    becky = register(api, mobile="919845012347", loyalty_type="non_loyalty")
    shown = api.get(f"/v2/customers/{becky}", params={"embed": "points,subscriptions"})
    assert warning_codes(shown) == [1013]
    assert "subscriptionInfo" in shown.json()
    assert "pointsSummary" not in shown.json()
