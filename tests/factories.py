"""Keyword-only builders of request bodies and org fixtures for tests."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine

from patron.kit.db import transaction
from patron.orgs import service as orgs
from tests.conftest import Api, OrgHandle, warning_codes


def registration(
    *,
    mobile: str | None = None,
    email: str | None = None,
    external_id: str | None = None,
    identifiers: list[dict[str, Any]] | None = None,
    source: str = "INSTORE",
    account_id: str | None = None,
    loyalty_type: str = "loyalty",
    first_name: str = "Tom",
    last_name: str = "Sawyer",
    **extra: Any,
) -> dict[str, Any]:
    """A ``POST /v2/customers`` body."""
    items = list(identifiers or [])
    for kind, value in (("mobile", mobile), ("email", email), ("externalId", external_id)):
        if value is not None:
            items.append({"type": kind, "value": value})
    profile: dict[str, Any] = {
        "firstName": first_name,
        "lastName": last_name,
        "source": source,
        "identifiers": items,
    }
    if account_id is not None:
        profile["accountId"] = account_id
    profile.update(extra.pop("profile", {}))
    return {"loyaltyInfo": {"loyaltyType": loyalty_type}, "profiles": [profile], **extra}


def register(api: Api, **kwargs: Any) -> int:
    """Register a customer and return its id (the registration must succeed)."""
    response = api.post("/v2/customers", json=registration(**kwargs))
    assert response.status_code == 200, response.text
    return int(response.json()["createdId"])


def declare_sample_setup(engine: Engine, org: OrgHandle) -> None:
    """The till and fields the API documentation's sample requests refer to."""
    with transaction(engine) as conn:
        actor = org.admin
        store = orgs.add_unit(conn, actor, kind="store", code="bukl")
        orgs.add_unit(conn, actor, kind="till", code="bukl.till", parent_id=int(store["id"]))
        orgs.add_field(conn, actor, kind="custom", name="employee", data_type="boolean")
        orgs.add_field(conn, actor, kind="custom", name="dateofbirth")
        orgs.add_field(conn, actor, kind="custom", name="gender")
        orgs.add_field(conn, actor, kind="custom", name="city")
        orgs.add_field(
            conn,
            actor,
            kind="extended",
            name="gender",
            data_type="enum",
            enum_values=["Male", "Female", "Other"],
        )
        orgs.add_field(conn, actor, kind="extended", name="city")


def merge(api: Api, *, victim: int, survivor_mobile: str, source: str, account_id: str) -> None:
    """Merge ``victim`` into the holder of ``survivor_mobile`` by adding that mobile to it."""
    response = api.post(
        f"/v2/customers/{victim}/changeIdentifier",
        params={"source": source, "accountId": account_id},
        json={"add": [{"type": "mobile", "value": survivor_mobile}]},
    )
    assert response.status_code == 200, response.text
    assert warning_codes(response) == [8051]
