"""Idempotency-Key: a retried mutating request gets the first answer, once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from patron.api.idempotency import REPLAY_WINDOW
from patron.api.tables import idempotency_keys
from patron.audit.tables import audit_log
from patron.customer.tables import customers
from patron.kit.db import transaction
from tests.conftest import Api
from tests.factories import registration


def _count(engine: Engine, org_id: int) -> int:
    with transaction(engine, write=False) as conn:
        query = sa.select(sa.func.count()).select_from(customers)
        return int(conn.execute(query.where(customers.c.org_id == org_id)).scalar_one())


def test_a_retried_registration_is_replayed(api: Api, engine: Engine) -> None:
    body = registration(mobile="919845012345")
    headers = {"Idempotency-Key": "till-7-receipt-42"}
    first = api.post("/v2/customers", json=body, headers=headers)
    second = api.post("/v2/customers", json=body, headers=headers)
    assert first.status_code == second.status_code == 200
    assert second.json() == first.json()
    assert second.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert _count(engine, api.org.id) == 1


def test_a_refusal_is_replayed_too(api: Api) -> None:
    body = registration(mobile="12")
    headers = {"Idempotency-Key": "k-bad"}
    first = api.post("/v2/customers", json=body, headers=headers)
    second = api.post("/v2/customers", json=body, headers=headers)
    assert first.status_code == second.status_code == 400
    assert second.json() == first.json()


def test_the_same_key_for_another_request_is_refused(api: Api, engine: Engine) -> None:
    headers = {"Idempotency-Key": "k-1"}
    api.post("/v2/customers", json=registration(mobile="919845012345"), headers=headers)
    other = api.post("/v2/customers", json=registration(mobile="919845000000"), headers=headers)
    assert other.status_code == 409
    assert "different request" in other.json()["errors"][0]["message"]
    assert _count(engine, api.org.id) == 1


def test_keys_belong_to_one_org(api: Api, other_api: Api, engine: Engine) -> None:
    headers = {"Idempotency-Key": "shared-name"}
    body = registration(mobile="919845012345")
    mine = api.post("/v2/customers", json=body, headers=headers)
    theirs = other_api.post("/v2/customers", json=body, headers=headers)
    assert theirs.status_code == 200
    assert "idempotent-replayed" not in theirs.headers
    assert theirs.json()["createdId"] != mine.json()["createdId"]
    assert _count(engine, other_api.org.id) == 1


def test_without_credentials_nothing_is_stored(api: Api) -> None:
    response = api.client.post(
        "/v2/customers",
        json=registration(mobile="919845012345"),
        headers={"Idempotency-Key": "anon"},
    )
    assert response.status_code == 401


def test_an_overlong_key_is_refused(api: Api) -> None:
    response = api.post(
        "/v2/customers",
        json=registration(mobile="919845012345"),
        headers={"Idempotency-Key": "k" * 201},
    )
    assert response.status_code == 400


def test_deleting_a_customer_forgets_the_answers_about_it(api: Api, engine: Engine) -> None:
    tom = registration(mobile="919845012345", email="tom@example.com")
    ann = registration(mobile="919845000000")
    tom_id = api.post("/v2/customers", json=tom, headers={"Idempotency-Key": "k-tom"}).json()
    ann_id = api.post("/v2/customers", json=ann, headers={"Idempotency-Key": "k-ann"}).json()
    # A refusal naming one of Tom's identifier values, stored as the middleware stores it.
    refusal = {"errors": [{"code": 8053, "message": "tom@example.com is held by another"}]}
    with transaction(engine) as conn:
        conn.execute(
            idempotency_keys.insert().values(
                org_id=api.org.id, key="k-refused", fingerprint="0" * 64,
                status_code=409, response=refusal,
            )
        )  # fmt: skip

    deleted = api.delete(
        f"/v2/customers/{tom_id['createdId']}", params={"reason": "asked"}, role="admin"
    )
    assert deleted.status_code == 200

    with transaction(engine, write=False) as conn:
        keys = conn.execute(
            sa.select(idempotency_keys.c.key).where(idempotency_keys.c.org_id == api.org.id)
        ).scalars()
        assert sorted(keys) == ["k-ann"]
        counts = conn.execute(
            sa.select(audit_log.c.details).where(
                audit_log.c.org_id == api.org.id, audit_log.c.action == "customer.delete"
            )
        ).scalar_one()
    assert counts["storedAnswers"] == 2
    again = api.post("/v2/customers", json=ann, headers={"Idempotency-Key": "k-ann"})
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == ann_id


def test_answers_expire_after_a_day(api: Api, engine: Engine) -> None:
    body = registration(mobile="919845012345")
    first = api.post("/v2/customers", json=body, headers={"Idempotency-Key": "k-old"})
    with transaction(engine) as conn:
        conn.execute(
            idempotency_keys.update()
            .where(idempotency_keys.c.org_id == api.org.id)
            .values(created_at=datetime.now(UTC) - REPLAY_WINDOW - timedelta(minutes=1))
        )
    # Within the day the key would be refused for another request (409); past it, it is free.
    other = registration(mobile="919845099999")
    again = api.post("/v2/customers", json=other, headers={"Idempotency-Key": "k-old"})
    assert again.status_code == 200, again.text
    assert "idempotent-replayed" not in again.headers
    assert again.json()["createdId"] != first.json()["createdId"]
    api.post(
        "/v2/customers",
        json=registration(mobile="919845000000"),
        headers={"Idempotency-Key": "k-new"},
    )
    with transaction(engine) as conn:
        conn.execute(
            idempotency_keys.update()
            .where(idempotency_keys.c.org_id == api.org.id, idempotency_keys.c.key == "k-old")
            .values(created_at=datetime.now(UTC) - REPLAY_WINDOW - timedelta(minutes=1))
        )
    api.post(
        "/v2/customers",
        json=registration(mobile="919845000001"),
        headers={"Idempotency-Key": "k-3"},
    )
    with transaction(engine, write=False) as conn:
        keys = conn.execute(
            sa.select(idempotency_keys.c.key).where(idempotency_keys.c.org_id == api.org.id)
        ).scalars()
        assert sorted(keys) == ["k-3", "k-new"]  # the expired answer went with the next save
