"""Referrals: the seed's sample invitation, the statistics, the referee linked when it
registers, and the seed's error codes."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from pydantic import BaseModel
from sqlalchemy.engine import Engine

from patron.customer import referrals
from patron.customer.record_answers import ReferralCampaignList, ReferralList, ReferralsInvited
from patron.kit.db import transaction
from patron.kit.pagination import Page
from tests.conftest import Api, error_codes
from tests.factories import register

#: The seed's "Add Customer Referrals" sample request.
SAMPLE: dict[str, Any] = {
    "customerReferrals": [
        {
            "customer": {
                "id": 420007388,
                "mobile": "918867710031",
                "email": "sample.email10031@gmail.com",
                "externalId": "",
            },
            "campaignToken": "CWRME",
            "referrals": [
                {
                    "type": "MOBILE",
                    "referral": [
                        {
                            "name": "some random name",
                            "identifier": "918867710032",
                            "invitedOn": "2021-12-16 13:15:45",
                        }
                    ],
                }
            ],
        }
    ]
}


def ok(response: Any) -> Any:
    assert response.status_code in (200, 201), response.text
    return response.json()


def campaign(api: Api, code: str, **body: Any) -> Any:
    return ok(api.post("/v2/org/referralCampaigns", json={"token": code, **body}, role="admin"))


@pytest.fixture
def referrer(api: Api) -> int:
    campaign(api, "CWRME", name="Refer a friend")
    return register(api, mobile="918867710031", email="sample.email10031@gmail.com")


def sample_for(referrer: int) -> dict[str, Any]:
    body = copy.deepcopy(SAMPLE)
    body["customerReferrals"][0]["customer"]["id"] = referrer
    return body


def test_the_seed_sample_invites_and_answers_as_documented(api: Api, referrer: int) -> None:
    answer = ok(api.post("/v2/customers/referrals", json=sample_for(referrer)))
    [entry] = answer["customerReferrals"]
    expected = sample_for(referrer)["customerReferrals"][0]
    assert entry["customer"] == expected["customer"]
    assert entry["campaignToken"] == "CWRME"
    assert entry["referrals"] == expected["referrals"]
    assert (answer["code"], answer["message"]) == (1000, "Referrals are invited successfully")

    listed = ok(api.get(f"/v2/customers/{referrer}/referrals", role="viewer"))
    assert listed["pagination"] == {"limit": 10, "offset": 0, "total": 1}
    [data] = listed["data"]
    assert data["customer"]["id"] == referrer
    identifiers = data["customer"]["profiles"][0]["identifiers"]
    assert {"type": "mobile", "value": "918867710031"} in identifiers
    assert len(data["referralCode"]) == 10
    assert data["invitees"] == [
        {
            "type": "MOBILE",
            "identifier": "918867710032",
            "name": "some random name",
            "invitedOn": "2021-12-16 13:15:45",
            "till": None,
        }
    ]
    assert data["referee"] == []
    assert data["incentives"] == []
    assert data["statistics"] == {"invited": 1, "joined": 0}


def test_a_friend_who_registers_with_the_invited_mobile_is_linked(api: Api, referrer: int) -> None:
    ok(api.post("/v2/customers/referrals", json=sample_for(referrer)))
    code = ok(api.get(f"/v2/customers/{referrer}/referrals"))["data"][0]["referralCode"]
    friend = register(api, mobile="918867710032", first_name="Becky", last_name="Thatcher")
    [data] = ok(api.get(f"/v2/customers/{referrer}/referrals"))["data"]
    assert data["statistics"] == {"invited": 1, "joined": 1}
    assert data["referralCode"] == code  # one code per customer and campaign
    [referee] = data["referee"]
    assert referee["eventType"] == "REGISTRATION"
    assert (referee["userId"], referee["firstName"], referee["lastName"]) == (
        friend,
        "Becky",
        "Thatcher",
    )
    assert referee["mobile"] == "918867710032"
    assert referee["addedOn"] is not None
    # Invited again, the same friend is one invitation.
    ok(api.post("/v2/customers/referrals", json=sample_for(referrer)))
    again = ok(api.get(f"/v2/customers/{referrer}/referrals"))["data"][0]
    assert again["statistics"] == {"invited": 1, "joined": 1}


def test_the_earliest_invitation_in_a_campaign_gets_the_referee(api: Api) -> None:
    campaign(api, "SPRING")
    early = register(api, mobile="918867710101")
    late = register(api, mobile="918867710102")
    for who, when in ((late, "2024-03-02 10:00:00"), (early, "2024-03-01 10:00:00")):
        friend = {"name": "Joe", "identifier": "joe@example.com", "invitedOn": when}
        body = {
            "customerReferrals": [
                {
                    "customer": {"mobile": f"9188677101{'01' if who == early else '02'}"},
                    "campaignToken": "spring",  # tokens are matched in any letter case
                    "referrals": [{"type": "email", "referral": [friend]}],
                }
            ]
        }
        ok(api.post("/v2/customers/referrals", json=body))
    register(api, email="JOE@example.com", loyalty_type="non_loyalty")
    stats = {
        who: ok(api.get(f"/v2/customers/{who}/referrals"))["data"][0]["statistics"]
        for who in (early, late)
    }
    assert stats == {early: {"invited": 1, "joined": 1}, late: {"invited": 1, "joined": 0}}


def test_referrals_answer_the_seed_codes(api: Api, referrer: int, other_api: Api) -> None:
    def invite(**changes: Any) -> Any:
        body = sample_for(referrer)
        entry = body["customerReferrals"][0]
        for key, value in changes.items():
            entry[key] = value
        return api.post("/v2/customers/referrals", json=body)

    assert error_codes(invite(campaignToken="NOPE")) == [1202]
    campaign(api, "OLD", active=False)
    assert error_codes(invite(campaignToken="OLD")) == [1203]
    assert error_codes(invite(customer={"mobile": "919999999999"})) == [1205]
    assert error_codes(invite(customer={"id": referrer + 10_000})) == [1205]
    whatsapp = [{"type": "WHATSAPP", "referral": [{"identifier": "918867710032"}]}]
    assert error_codes(invite(referrals=whatsapp)) == [1206]
    bad = [{"type": "EMAIL", "referral": [{"identifier": "not an email"}]}]
    assert error_codes(invite(referrals=bad)) == [1042]
    itself = [{"type": "MOBILE", "referral": [{"identifier": "918867710031"}]}]
    assert error_codes(invite(referrals=itself)) == [1204]
    assert api.post("/v2/customers/referrals", json=SAMPLE, role="viewer").status_code == 403
    # Another org's campaign token and customers are unknown.
    assert error_codes(other_api.post("/v2/customers/referrals", json=sample_for(referrer))) == [
        1202
    ]
    assert error_codes(other_api.get(f"/v2/customers/{referrer}/referrals")) == [8015]
    # Nothing was recorded by the refused requests.
    assert ok(api.get(f"/v2/customers/{referrer}/referrals"))["data"] == []


def test_campaigns_are_defined_by_admins(api: Api) -> None:
    made = campaign(api, "SUMMER", name="Summer")
    assert (made["token"], made["name"], made["active"]) == ("SUMMER", "Summer", True)
    again = api.post("/v2/org/referralCampaigns", json={"token": "summer"}, role="admin")
    assert error_codes(again) == [95332]
    assert error_codes(
        api.post("/v2/org/referralCampaigns", json={"token": "bad token"}, role="admin")
    ) == [95331]
    assert api.post("/v2/org/referralCampaigns", json={"token": "X"}).status_code == 403
    ended = ok(api.put("/v2/org/referralCampaigns/summer", json={"active": False}, role="admin"))
    assert ended["active"] is False
    listed = ok(api.get("/v2/org/referralCampaigns", role="viewer"))["data"]
    assert [(c["token"], c["active"]) for c in listed] == [("SUMMER", False)]


def kept(model: type[BaseModel], raw: Any) -> None:
    """``raw`` (a service's answer) passes the route's model with no key lost or changed."""
    expected = json.loads(json.dumps(raw))
    assert model.model_validate(raw).model_dump(mode="json", exclude_unset=True) == expected


@pytest.mark.parametrize("model", [ReferralsInvited, ReferralList])
def test_the_seed_samples_are_answers_of_the_models(model: type[BaseModel]) -> None:
    [sample] = model.model_config["json_schema_extra"]["examples"]  # type: ignore[index]
    kept(model, sample)


def test_the_models_keep_every_key_of_the_referrals_and_their_referees(
    api: Api, referrer: int, engine: Engine
) -> None:
    ok(api.post("/v2/customers/referrals", json=sample_for(referrer)))
    register(api, mobile="918867710032", first_name="Becky")
    with transaction(engine) as conn:
        data, total, _ = referrals.referrals_of(conn, api.org.id, referrer, Page(10, 0))
        campaigns = referrals.list_campaigns(conn, api.org.id)
    [referee] = data[0]["referee"]
    assert "email" not in referee
    assert referee["mobile"] == "918867710032"
    kept(ReferralList, {"pagination": {"limit": 10, "offset": 0, "total": total}, "data": data,
                        "warnings": [], "errors": []})  # fmt: skip
    kept(ReferralCampaignList, {"data": campaigns, "warnings": []})
