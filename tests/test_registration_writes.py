"""What a registration reads and writes in its few statements (``registration_repository``):
every row of a new customer in place, the audit log in its order, the suppressions of held
identifiers left alone."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from patron.audit.tables import audit_log
from patron.customer import registration_repository
from patron.customer.tables import customers, identifiers, profiles
from patron.kit.db import transaction
from patron.orgs import service as orgs
from tests.conftest import Api, OrgHandle
from tests.factories import register, registration
from tests.statements import recorded_statements


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


def _customers_of(engine: Engine, org_id: int) -> int:
    with transaction(engine, write=False) as conn:
        counted = conn.execute(
            sa.select(sa.func.count()).select_from(customers).where(customers.c.org_id == org_id)
        ).scalar_one()
    return int(counted)


def _new_rows(conn: Connection, org_id: int, mobile: str) -> registration_repository.NewRows:
    return registration_repository.NewRows(
        {
            "org_id": org_id,
            "loyalty_type": "loyalty",
            "status_label_id": orgs.default_label_id(conn, org_id),
            "registered_at": datetime.now(UTC),
            "created_by": "test",
            "modified_by": "test",
        },
        [
            registration_repository.NewProfile(
                {"org_id": org_id, "source": "INSTORE", "first_name": "Ann", "last_name": "Lee"},
                [("mobile", mobile)],
            )
        ],
        {
            "org_id": org_id,
            "actor": "test",
            "action": "customer.register",
            "entity_type": "customer",
            "entity_id": "None",
            "details": {"profiles": 1},
        },
    )


def test_the_read_writes_a_new_customer_only_when_its_identifiers_meet_nothing(
    api: Api, engine: Engine, org: OrgHandle
) -> None:
    holder = register(api, mobile="919845077040")
    before = _customers_of(engine, org.id)
    postgresql = engine.dialect.name == "postgresql"
    with transaction(engine) as conn:
        met = registration_repository.met_by(
            conn,
            org.id,
            [("mobile", "919845077040")],
            [],
            [],
            _new_rows(conn, org.id, "919845077040"),
        )
    # Held: the owner is read and nothing is written.
    assert [int(o["customer_id"]) for o in met.owners] == [holder]
    assert met.created is None
    assert _customers_of(engine, org.id) == before
    with transaction(engine) as conn:
        met = registration_repository.met_by(
            conn,
            org.id,
            [("mobile", "919845077041")],
            [],
            [],
            _new_rows(conn, org.id, "919845077041"),
        )
    assert (met.owners, met.suppressed, met.pending) == ([], set(), [])
    if not postgresql:  # no data-modifying CTEs: the caller writes the customer
        assert met.created is None
        assert _customers_of(engine, org.id) == before
        return
    assert met.created is not None
    assert _customers_of(engine, org.id) == before + 1
    with transaction(engine, write=False) as conn:
        held = conn.execute(
            sa.select(identifiers.c.customer_id, identifiers.c.profile_id).where(
                identifiers.c.org_id == org.id, identifiers.c.value == "919845077041"
            )
        ).one()
        entry = conn.execute(
            sa.select(audit_log.c.entity_id).where(
                audit_log.c.org_id == org.id, audit_log.c.actor == "test"
            )
        ).scalar_one()
    assert tuple(held) == (met.created.customer_id, met.created.profile_ids[0])
    assert entry == str(met.created.customer_id)


def test_a_row_met_that_is_none_of_the_pairs_still_registers_once(
    api: Api, engine: Engine, org: OrgHandle
) -> None:
    # The mobile of one customer sent as another person's external id is met by the read
    # (types and values are asked for apart), so the read writes nothing; the registration
    # then writes the new customer itself, with one audit entry.
    holder = register(api, mobile="919845077050")
    with recorded_statements(engine) as statements:
        answer = api.post(
            "/v2/customers",
            json=registration(mobile="919845077051", external_id="919845077050"),
        )
    assert answer.status_code == 200, answer.text
    assert answer.json()["warnings"] == []
    created = int(answer.json()["createdId"])
    assert created != holder
    assert len(statements) == (2 if engine.dialect.name == "postgresql" else 5), statements
    with transaction(engine, write=False) as conn:
        held = conn.execute(
            sa.select(identifiers.c.customer_id, identifiers.c.type, identifiers.c.value)
            .where(identifiers.c.org_id == org.id, identifiers.c.value.like("91984507705_"))
            .order_by(identifiers.c.id)
        ).all()
        entries = conn.execute(
            sa.select(audit_log.c.entity_id).where(
                audit_log.c.org_id == org.id, audit_log.c.action == "customer.register"
            )
        ).scalars()
        entries_of_created = [e for e in entries if e == str(created)]
    assert [tuple(row) for row in held] == [
        (holder, "mobile", "919845077050"),
        (created, "mobile", "919845077051"),
        (created, "externalId", "919845077050"),
    ]
    assert entries_of_created == [str(created)]
