"""What a registration reads and writes in its few statements (``registration_repository``):
every row of a new customer in place, the audit log in its order, the suppressions of held
identifiers left alone."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from patron.audit.tables import audit_log
from patron.customer import registration_repository
from patron.customer.tables import customers, identifiers, profiles
from patron.kit.db import transaction
from tests.conftest import Api, OrgHandle
from tests.factories import register, registration


def test_a_new_customer_with_two_profiles_has_every_row_in_place(
    api: Api, engine: Engine, org: OrgHandle
) -> None:
    body = {
        "loyaltyInfo": {"loyaltyType": "loyalty"},
        "profiles": [
            {
                "firstName": "Tom",
                "lastName": "Sawyer",
                "identifiers": [
                    {"type": "mobile", "value": "919845077001"},
                    {"type": "email", "value": "tom.w@example.com"},
                ],
            },
            {
                "firstName": "Thomas",
                "lastName": "Sawyer",
                "source": "WECHAT",
                "accountId": "wx-1",
                "identifiers": [{"type": "wechat", "value": "wx-tom-77"}],
            },
        ],
    }
    answer = api.post("/v2/customers", json=body)
    assert answer.status_code == 200, answer.text
    customer_id = int(answer.json()["createdId"])
    with transaction(engine, write=False) as conn:
        customer = (
            conn.execute(sa.select(customers).where(customers.c.id == customer_id)).mappings().one()
        )
        stored = conn.execute(
            sa.select(
                profiles.c.id, profiles.c.source, profiles.c.account_id, profiles.c.first_name
            )
            .where(profiles.c.customer_id == customer_id)
            .order_by(profiles.c.id)
        ).all()
        held = conn.execute(
            sa.select(identifiers.c.profile_id, identifiers.c.type, identifiers.c.value)
            .where(identifiers.c.org_id == org.id, identifiers.c.customer_id == customer_id)
            .order_by(identifiers.c.id)
        ).all()
        entries = conn.execute(
            sa.select(audit_log.c.action, audit_log.c.entity_id, audit_log.c.details)
            .where(audit_log.c.org_id == org.id, audit_log.c.entity_type == "customer")
            .order_by(audit_log.c.id)
        ).all()
    assert (customer["org_id"], customer["loyalty_type"]) == (org.id, "loyalty")
    assert customer["created_by"] == customer["modified_by"] != ""
    # The profiles in the request's order, each holding the identifiers sent on it.
    (instore, _, _, tom), (wechat, source, account, thomas) = stored
    assert (tom, source, account, thomas) == ("Tom", "WECHAT", "wx-1", "Thomas")
    assert [tuple(row) for row in held] == [
        (instore, "mobile", "919845077001"),
        (instore, "email", "tom.w@example.com"),
        (wechat, "wechat", "wx-tom-77"),
    ]
    assert [tuple(row) for row in entries] == [
        ("customer.register", str(customer_id), {"profiles": 2})
    ]
    # What the read answers, as before.
    read = api.get(f"/v2/customers/{customer_id}", params={"source": "ALL"})
    assert read.status_code == 200, read.text


def test_a_friend_joining_is_audited_before_the_registration(api: Api, engine: Engine) -> None:
    assert api.post(
        "/v2/org/referralCampaigns", json={"token": "SPRING", "name": "Spring"}, role="admin"
    ).status_code in (200, 201)
    referrer = register(api, mobile="919845077010")
    invited = {
        "customerReferrals": [
            {
                "customer": {"id": referrer},
                "campaignToken": "SPRING",
                "referrals": [
                    {
                        "type": "MOBILE",
                        "referral": [
                            {
                                "name": "Joe",
                                "identifier": "919845077011",
                                "invitedOn": "2024-03-01 10:00:00",
                            }
                        ],
                    }
                ],
            }
        ]
    }
    assert api.post("/v2/customers/referrals", json=invited).status_code in (200, 201)
    friend = register(api, mobile="919845077011")
    with transaction(engine, write=False) as conn:
        entries = conn.execute(
            sa.select(audit_log.c.action, audit_log.c.entity_id)
            .where(audit_log.c.action.in_(["customer.register", "customer.referrals.join"]))
            .where(audit_log.c.entity_id.in_([str(referrer), str(friend)]))
            .order_by(audit_log.c.id)
        ).all()
    # The invitation is joined while registering, and its entry comes first, as it did when
    # every entry was a statement of its own.
    assert [tuple(e) for e in entries] == [
        ("customer.register", str(referrer)),
        ("customer.referrals.join", str(referrer)),
        ("customer.register", str(friend)),
    ]


def test_a_held_identifier_left_by_a_deleted_customer_is_no_warning(api: Api) -> None:
    allow = {"deleted_identifier_registration": "allow_with_warning"}
    assert api.put("/v2/org/settings", json=allow, role="admin").status_code == 200
    first = register(api, mobile="919845077020")
    deleted = api.delete(f"/v2/customers/{first}", params={"reason": "asked"}, role="admin")
    assert deleted.status_code == 200
    again = api.post("/v2/customers", json=registration(mobile="919845077020"))
    assert [w["code"] for w in again.json()["warnings"]] == [95302]
    # The mobile is held again: joining its holder on another source meets its suppression,
    # which speaks of no deleted person (only a new identifier would be one).
    joined = api.post(
        "/v2/customers",
        json=registration(mobile="919845077020", source="WECHAT", account_id="wx-1"),
    )
    assert joined.status_code == 200, joined.text
    assert joined.json()["createdId"] == again.json()["createdId"]
    assert [w["code"] for w in joined.json()["warnings"]] == [8050]


def test_what_identifiers_meet_may_name_no_invitation(engine: Engine, org: OrgHandle) -> None:
    with transaction(engine, write=False) as conn:
        met = registration_repository.met_by(
            conn, org.id, [("externalId", "EXT-77")], [("externalId", "0" * 64)], []
        )
    assert (met.owners, met.suppressed, met.pending) == ([], set(), [])


def test_a_value_held_under_another_type_is_not_an_owner(api: Api) -> None:
    # The identifiers' types and values are looked up as two lists: the mobile of one
    # customer, sent as another person's external id, is not that customer's.
    holder = register(api, mobile="919845077030")
    answer = api.post(
        "/v2/customers",
        json=registration(mobile="919845077031", external_id="919845077030"),
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["warnings"] == []
    assert int(answer.json()["createdId"]) != holder
