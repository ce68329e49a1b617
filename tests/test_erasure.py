"""Erasure leaves no personal data anywhere, proven by walking the schema.

One person is given everything patron can hold about them, through the API, the
imports and the legacy batch API, spread over three customers merged into one
another; every value they gave carries a marker. After ``DELETE
/v2/customers/{id}`` every text, JSON and date column of every table is searched
for the markers, and every column that names a customer for their ids. The
tables and columns come from the schema (``metadata``), so a table added later
is searched too, and what may remain is listed below with the reason it stays.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy.engine import Engine

from patron.auth import service as auth
from patron.auth.actor import Role
from patron.customer.export import sections
from patron.customer.personal_data import HOLDINGS, Holding
from patron.customer.tables import customers, identifiers, merges
from patron.identity.merge import unmerge
from patron.identity.types import IDENTIFIER_TYPES
from patron.imports import repository as imports_repository
from patron.imports.tables import import_blobs
from patron.kit.db import transaction
from patron.kit.schema import metadata
from patron.orgs import service as orgs
from tests.conftest import Api, OrgHandle, unique, warning_codes
from tests.importing import csv, import_org, run

#: Parts of every value the person gave (searched case-insensitively): names, the
#: mobile numbers' digits, the words of addresses, e-mails, fields and user names,
#: and the birth date (also searched for in date columns).
NAME, SURNAME, DIGITS, BIRTH = "quillondr", "vexmarrow", "98450713", "1953-11-07"
MARKERS = (NAME, SURNAME, DIGITS, BIRTH)
#: The same for a bystander, another customer of the org whose data must all stay.
OTHER_MARKERS = ("ottoline", "brackenbury", "77310442", "1960-01-02")

#: The person's three customers: A registered in store, C on Facebook (merged into
#: A), D on LINE (A merged into D). A is a survivor and a victim.
MOBILE_A, MOBILE_C, MOBILE_D = (f"91{DIGITS}{n:02d}" for n in (1, 2, 3))
EMAIL = f"quillondra.{SURNAME}@example.com"
EXTERNAL_ID = f"VXM-{DIGITS}-A"
CARD, SECOND_CARD = "GLD0000001", "GLD0000002"
PASSWORD = "pos-password-1"

#: Columns where the deleted customer ids stay, each for a documented reason.
KEPT_REFERENCES = {
    # The customer row stays, marked deleted, so its id answers 8015 and is never
    # given to someone else; its merge victims keep pointing to it.
    ("customers", "id"),
    ("customers", "merged_into_id"),
    # The profiles' sources and accounts (their names are blanked).
    ("profiles", "customer_id"),
    # The consent ledger proves what the person consented to and when.
    ("consent_ledger", "customer_id"),
    # Merge records: ids only (the overruled field values are erased).
    ("merges", "survivor_id"),
    ("merges", "victim_id"),
    # One keyed hash per removed identifier, so an import cannot bring them back.
    ("suppressions", "customer_id"),
    # Balances, the org's coupons, redemptions and bills: numbers, no personal data.
    ("loyalty_accounts", "customer_id"),
    ("campaign_enrollments", "customer_id"),
    ("campaign_ledger", "customer_id"),
    ("coupons", "customer_id"),
    ("coupon_redemptions", "customer_id"),
    ("transactions", "customer_id"),
    # Points: the ledger, balances, goodwill requests and transfers (amounts and ids; their
    # reasons, comments and notes are blanked).
    ("points_ledger", "customer_id"),
    ("loyalty_balances", "customer_id"),
    ("loyalty_requests", "customer_id"),
    ("points_transfers", "from_customer_id"),
    # The audit trail: who did what to which customer, with ids, counts and reasons.
    ("audit_log", "entity_id"),
    ("audit_log", "details"),
}
#: Columns where the person's markers may stay: none. (The stored files, outcomes
#: and undo data of the imports that named them, ``import_blobs``, keep their rows
#: as uploaded until retention purges them; they are binary, so not searched here.)
KEPT_MARKERS: set[tuple[str, str]] = set()

#: JSON keys under which patron's documents name a customer by id.
CUSTOMER_KEYS = frozenset(
    {"id", "createdId", "entity", "customerId", "customer", "issuedTo", "survivorId", "victimId"}
)

Where = tuple[str, str]
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}$")


# --- the scan ----------------------------------------------------------------------------


def _text_columns() -> Iterator[tuple[sa.Table, sa.Column[Any]]]:
    for table in metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, sa.String | sa.JSON):
                yield table, column


def _as_text(column: sa.Column[Any]) -> sa.ColumnElement[Any]:
    return sa.cast(column, sa.Text) if isinstance(column.type, sa.JSON) else column


def find_markers(engine: Engine, markers: tuple[str, ...]) -> dict[Where, set[str]]:
    """Where in the whole database any of ``markers`` occurs: in text and JSON columns
    (in any letter case), and in date columns for the markers that are ISO dates."""
    days = {marker: date.fromisoformat(marker) for marker in markers if ISO_DATE.match(marker)}
    found: dict[Where, set[str]] = {}
    with transaction(engine, write=False) as conn:
        for table in metadata.sorted_tables:
            for column in table.columns:
                wanted: dict[str, sa.ColumnElement[bool]]
                if isinstance(column.type, sa.String | sa.JSON):
                    text = sa.func.lower(_as_text(column))
                    wanted = {m: text.like(f"%{m}%") for m in markers}
                elif isinstance(column.type, sa.Date):  # not DateTime: times are patron's
                    wanted = {m: column == day for m, day in days.items()}
                else:
                    continue
                for marker, condition in wanted.items():
                    query = sa.select(sa.literal(1)).where(condition).limit(1)
                    if conn.execute(query).first() is not None:
                        found.setdefault((table.name, column.name), set()).add(marker)
    return found


def _customer_columns() -> Iterator[tuple[sa.Table, sa.Column[Any]]]:
    """Every column that holds a customer id: the key, every foreign key to it (not the
    org half of a composite key), and ``customer_id`` columns without a foreign key."""
    for table in metadata.sorted_tables:
        for column in table.columns:
            refers = any(key.column is customers.c.id for key in column.foreign_keys)
            if column is customers.c.id or refers or column.name == "customer_id":
                yield table, column


def _names(document: Any, ids: set[str]) -> bool:
    """Whether a JSON document names one of ``ids`` under a key of :data:`CUSTOMER_KEYS`."""
    if isinstance(document, dict):
        return any(
            (key in CUSTOMER_KEYS and str(value) in ids) or _names(value, ids)
            for key, value in document.items()
        )
    if isinstance(document, list):
        return any(_names(item, ids) for item in document)
    return False


def find_ids(engine: Engine, org: OrgHandle, ids: set[int]) -> set[Where]:
    """Where ``ids`` are still named: customer columns (whole database); in the org's
    rows, text columns equal to an id and JSON documents naming one (:func:`_names`)."""
    found: set[Where] = set()
    with transaction(engine, write=False) as conn:
        for table, column in _customer_columns():
            query = sa.select(sa.literal(1)).where(column.in_(sorted(ids))).limit(1)
            if conn.execute(query).first() is not None:
                found.add((table.name, column.name))
        for table, column in _text_columns():
            if "org_id" not in table.c or (table.name, column.name) in found:
                continue
            mine = table.c.org_id == org.id
            if isinstance(column.type, sa.JSON):
                text = _as_text(column)
                query = sa.select(column).where(mine, sa.or_(*(text.like(f"%{i}%") for i in ids)))
                documents = conn.execute(query).scalars()
                if any(_names(document, {str(i) for i in ids}) for document in documents):
                    found.add((table.name, column.name))
            else:
                query = (
                    sa.select(sa.literal(1)).where(mine, column.in_([str(i) for i in ids])).limit(1)
                )
                if conn.execute(query).first() is not None:
                    found.add((table.name, column.name))
    return found


# --- the person ----------------------------------------------------------------------------


@dataclass
class Person:
    """The person's customers: ``live`` holds the others after the merges."""

    a: int
    c: int
    d: int
    bystander: int

    @property
    def live(self) -> int:
        return self.d

    @property
    def ids(self) -> set[int]:
        return {self.a, self.c, self.d}


def ok(response: Any) -> Any:
    assert response.status_code in (200, 201), response.text
    return response.json()


def keyed(key: str) -> dict[str, dict[str, str]]:
    return {"headers": {"Idempotency-Key": f"{key}-{unique('k')}"}}


def set_up_org(engine: Engine, api: Api) -> None:
    """Fields, a status label, campaigns, a card series, a coupon series and a POS user."""
    with transaction(engine) as conn:
        actor = api.org.admin
        orgs.add_field(conn, actor, kind="custom", name="city")
        orgs.add_field(conn, actor, kind="extended", name="city")
        orgs.add_field(conn, actor, kind="custom", name="nameoncard", scope="card")
        orgs.add_label(conn, actor, label="Gold member", system_status="Active")
        auth.create_user(conn, actor, "pos-" + str(api.org.id), Role.editor, PASSWORD)
    for number, kind in ((7001, "points"), (7002, "visits")):
        body = {"name": f"Campaign {number}", "type": kind, "id": number}
        ok(api.post("/v2/campaigns", json=body, role="admin"))
    series = {"code": "GOLD", "type": "PHYSICAL", "prefix": "GLD", "length": 10}
    ok(api.post("/v2/cards/series", json=series, role="admin"))
    coupons = {"seriesId": 5309, "name": "Paper coupons", "validFrom": "2020-01-01"}
    ok(api.post("/v2/coupons/series", json=coupons, role="admin"))
    program = {
        "name": "Points",
        "goodwillAutoApproveLimit": 1000,
        "slabs": [{"name": "Base", "earnRate": 0.1}, {"name": "Gold", "threshold": 5000}],
        "partnerPrograms": [{"partnerProgramId": 5, "name": "Airline"}],
    }
    ok(api.post("/v2/loyalty/programs", json=program, role="admin"))


def register_a(api: Api) -> int:
    """A, in store: every identifier type but those C and D bring, fields, channels, a card."""
    plain = ("cuid", "martjackId", "ali_uname", "jd_uname", "vip_uname", "mobilePush")
    body = {
        "loyaltyInfo": {"loyaltyType": "loyalty"},
        "associatedWith": "mal.till",
        "profiles": [
            {
                "firstName": "Quillondra",
                "lastName": "Vexmarrow",
                "source": "INSTORE",
                "identifiers": [
                    {"type": "mobile", "value": MOBILE_A, "subscribed": True},
                    {"type": "email", "value": EMAIL, "subscribed": True},
                    {"type": "externalId", "value": EXTERNAL_ID},
                    {
                        "type": "cardnumber",
                        "value": CARD,
                        "seriesCode": "GOLD",
                        "customFields": {"nameoncard": "Q Vexmarrow"},
                    },
                    *({"type": kind, "value": f"{kind}-{SURNAME}"} for kind in plain),
                ],
                "commChannels": [
                    {"type": "email", "value": EMAIL, "primary": True, "verified": True},
                    {"type": "whatsapp", "value": f"+{MOBILE_A}", "meta": {"owner": SURNAME}},
                ],
                "fields": {"city": "Vexmarrowton", "dateofbirth": BIRTH},
            }
        ],
        "extendedFields": {"city": "Quillondria", "gender": "Other"},
    }
    return int(ok(api.post("/v2/customers", json=body, **keyed("register-a")))["createdId"])


def give_a_history(api: Api, a: int) -> None:
    """A second profile, an update, subscriptions, status and fraud changes, coupons, a bill."""
    wechat = {
        "loyaltyInfo": {"loyaltyType": "loyalty"},
        "profiles": [
            {
                "firstName": "Quillondrine",
                "lastName": "Vexmarrow",
                "source": "WECHAT",
                "accountId": "wx-brand",
                "identifiers": [
                    {"type": "mobile", "value": MOBILE_A},
                    {"type": "wechat", "value": f"wx-{SURNAME}"},
                    {"type": "unionId", "value": f"union-{SURNAME}"},
                ],
            }
        ],
    }
    assert warning_codes(api.post("/v2/customers", json=wechat)) == [8050]
    update = {"profiles": [{"firstName": "Quillondra", "fields": {"city": "New Vexmarrowton"}}]}
    ok(api.put(f"/v2/customers/{a}", json=update))
    subscriptions = {
        "subscriptions": [
            {"channel": "SMS", "priority": "TRANS", "type": "OPTIN"},
            {"channel": "WECHAT", "priority": "BULK", "type": "OPTOUT", "sourceName": "WECHAT",
             "accountId": "wx-brand"},
        ]
    }  # fmt: skip
    ok(api.post(f"/v2/customers/{a}/subscriptions", json=subscriptions, **keyed("subscribe")))
    status = {"reason": "loyal for years", "label": "Gold member"}
    lookup = {"identifierName": "mobile", "identifierValue": MOBILE_A}
    ok(api.put("/v2/customers/lookup/status", params=lookup, json=status))
    for fraud in ("INTERNAL", "NOT_FRAUD"):
        body = {"status": fraud, "reason": "staff purchase review"}
        ok(api.put(f"/v2/customers/{a}/fraudStatus", json=body, role="admin"))
    issued = {"seriesId": 5309, "codes": ["VX-1", "VX-2"], "customerId": a, "storeCode": "mal"}
    ok(api.post("/v2/coupons", json=issued, **keyed("coupons")))
    bill = {"number": "BILL-1", "customerId": a, "storeCode": "mal", "amount": 120.5}
    ok(api.post("/v2/transactions", json=bill, **keyed("bill")))
    goodwill = {"points": 40, "reason": f"late delivery to {SURNAME}", "comments": NAME}
    ok(api.post(f"/v2/customers/{a}/goodwillRequest", json=goodwill, **keyed("goodwill")))
    partner = {"partnerProgramId": 5, "membershipId": f"FF-{DIGITS}"}
    ok(api.put(f"/v2/customers/{a}/partnerPrograms", json=partner))
    to_bystander = {"identifierName": "mobile", "identifierValue": "917731044201"}
    gift = {"transferTo": to_bystander, "points": 5, "notes": f"from {NAME}"}
    ok(api.post(f"/v2/customers/{a}/pointsTransfers", json=gift, **keyed("gift")))


def care_for_a(api: Api, a: int, bystander: int) -> None:
    """Care records (a note, a preference and a ticket, each quoting the person), an image,
    referrals: A invites a friend, and the bystander invites C's mobile before C registers."""
    ok(api.post("/v2/org/referralCampaigns", json={"token": "TEA"}, role="admin"))
    invitations = [
        (a, "EMAIL", f"friend.of.{SURNAME}@example.com"),
        (bystander, "MOBILE", MOBILE_C),
    ]
    for referrer, kind, value in invitations:
        friend = {"type": kind, "referral": [{"name": f"{NAME}ette", "identifier": value}]}
        entry = {"customer": {"id": referrer}, "campaignToken": "TEA", "referrals": [friend]}
        ok(api.post("/v2/customers/referrals", json={"customerReferrals": [entry]}))
    key = {"key": "favouriteTea", "type": "string"}
    ok(api.post("/v2/org/preferences", json=key, role="admin"))
    note = {"description": f"{NAME}a called about her {SURNAME} tea order"}
    ok(api.post(f"/v2/customers/{a}/notes", json=note))
    tea = {"preferences": [{"key": "favouriteTea", "value": f"{SURNAME} blend"}]}
    ok(api.put(f"/v2/customers/{a}/preferences", json=tea))
    ticket = {"type": "COMPLAINT", "subject": f"{SURNAME} tea arrived cold", "description": BIRTH}
    ok(api.post(f"/v2/customers/{a}/tickets", json=ticket))
    picture = io.BytesIO()
    Image.new("RGB", (4, 4), (9, 9, 9)).save(picture, format="PNG")
    image = {"file": (f"{SURNAME}.png", picture.getvalue(), "image/png")}
    ok(api.post(f"/v2/customers/{a}/setImage", files=image))
    # A is the fleet admin of a group with one child (another person) and a company.
    roles = [{"code": "FA"}, {"code": "FC", "parentRoleCode": "FA"}]
    ok(api.post("/v2/org/hierarchies", json={"code": "fleet", "roles": roles}, role="admin"))
    child = {"profiles": [{"firstName": "Ottilie", "identifiers": [
        {"type": "mobile", "value": "917731044299"}]}]}  # fmt: skip
    entry = {
        "loyaltyInfo": {"loyaltyType": "loyalty"},
        "profiles": [{"identifiers": [{"type": "mobile", "value": MOBILE_A}]}],
        "associationDetails": {
            "hierarchyCode": "fleet",
            "roleCode": "FA",
            "childCustomers": [child],
            "fleetCompany": {"externalId": "fleet-co-1"},
        },
    }
    [placed] = ok(api.post("/v2/customers/bulk", json=[entry]))
    assert (placed["entity"]["id"], placed["childSuccessCount"]) == (a, 1)


def import_about_a(engine: Engine, org: OrgHandle, a: int) -> None:
    """Every import profile that writes about existing customers names A."""
    redemption = {
        "Series": "series_id",
        "Code": "coupon_code",
        "Store": "store",
        "Customer": "customer",
        "Date": "redeemed_date",
        "Bill": "transaction_number",
    }
    files: list[tuple[str, dict[str, Any], str]] = [
        (
            csv(
                "Mobile,First Name,Last Name,Till IUN Or Store Ext Id,Loyalty Points,Slab Name,"
                "Date of Joining,dateofbirth",
                f"{MOBILE_A},Quillondra,Vexmarrow,mal,250,Gold,2019-04-01,{BIRTH}",
            ),
            {},
            "updated",
        ),
        (
            csv("Series,Code,Store,Customer,Date,Bill", f"5309,VX-1,mal,{MOBILE_A},2024-01-10,B-1"),
            {"profile": "coupon-redemption", "mapping": redemption},
            "inserted",
        ),
        (
            csv(
                "Entity Type,Entity ID,Org Source ID,Activity,State,Added by,Reference ID,"
                "Updated on",
                f"CUSTOMER,{MOBILE_A},wx-brand,FOLLOW,SUBSCRIBED,gateway,ref-1,2024-03-01",
            ),
            {"profile": "entity-lifecycle", "options": {"unique_identifier": "mobile"}},
            "inserted",
        ),
        (
            csv("Mobile,Customer Status Label", f"{MOBILE_A},Active"),
            {"profile": "customer-status"},
            "updated",
        ),
        (
            csv(
                "Mobile,Fraud status,Fraud reason,Store code",
                f"{MOBILE_A},INTERNAL,staff account,mal",
            ),
            {"profile": "fraud-status"},
            "updated",
        ),
        (
            csv("Mobile,Comm Channel,Priority,Sub Status", f"{MOBILE_A},email,BULK,OPTOUT"),
            {"profile": "user-subscription"},
            "updated",
        ),
        (
            csv(
                "User ID,Source,Account ID,Identifier Type,Identifier Value",
                f"{a},MARTJACK,,martjackId,mj2-{SURNAME}",
            ),
            {"profile": "v2-profile-identifiers"},
            "updated",
        ),
        (
            csv(
                "Card Number,Card Series Code,Card Status Label,Till IUN Or Store Ext Id,Mobile",
                f"{SECOND_CARD},GOLD,ACTIVE,mal,{MOBILE_A}",
            ),
            {"profile": "cards"},
            "inserted",
        ),
    ]
    for data, request, status in files:
        done = run(engine, org, data, **request)
        assert done.statuses() == [status], (request, done.row(2))


def batch_about_a(client: TestClient, org: OrgHandle) -> None:
    """The legacy batch API: address, phone, credentials, campaigns, for A's external id."""
    headers = (
        "code", "first_name", "last_name", "phone", "street1", "street2", "city", "state",
        "postal_code", "country", "custom_field", "custom_date", "customer_username",
        "customer_password", "customer_PIN", "auto_add",
    )  # fmt: skip
    line = (
        EXTERNAL_ID, "Quillondra", "Vexmarrow", f"+{MOBILE_A}", "12 Vexmarrow Lane",
        "Flat Quillondra", "Vexmarrowton", "Vexmarrowshire", f"VX{DIGITS}",
        "Vexmarrowland", f"likes {SURNAME} tea", BIRTH, f"{SURNAME}_q", "hotsite-secret",
        "4711", "10",
    )  # fmt: skip
    form = {
        "user_id": f"pos-{org.id}",
        "user_password": PASSWORD,
        "account_id": org.name,
        "type": "customers_batch",
        "delimiter": "pipe",
        "campaigns_to_include": "7001|,|7002",
        "output": "JSON",
        "Profiles_Data": "|".join(line),
        **{f"profiles_header_{n}": header for n, header in enumerate(headers, start=1)},
    }
    response = client.post("/api/batch", data=form)
    assert response.status_code == 200, response.text
    [row] = response.json()["response"]["batch"]["rows"]
    assert row["status"] == "updated", row


def register_c_into_a(api: Api, a: int) -> int:
    """C, on Facebook, merged into A (A survives); A's city overrules C's."""
    body = {
        "loyaltyInfo": {"loyaltyType": "non_loyalty"},
        "profiles": [
            {
                "firstName": "Quillondrette",
                "lastName": "Vexmarrow",
                "source": "FACEBOOK",
                "accountId": "fb-brand",
                "identifiers": [
                    {"type": "mobile", "value": MOBILE_C},
                    {"type": "fbId", "value": f"fb-{SURNAME}"},
                    {"type": "tmall_uname", "value": f"tm-{SURNAME}"},
                ],
                "fields": {"city": "Old Vexmarrowton"},
            }
        ],
    }
    c = int(ok(api.post("/v2/customers", json=body))["createdId"])
    merged = api.post(
        f"/v2/customers/{c}/changeIdentifier",
        params={"source": "FACEBOOK", "accountId": "fb-brand"},
        json={
            "add": [{"type": "mobile", "value": MOBILE_A}],
            "remove": [{"type": "mobile", "value": MOBILE_C}],
        },
        **keyed("merge-c"),
    )
    assert ok(merged)["createdId"] == a
    assert warning_codes(merged) == [8051]
    return c


def register_d_and_merge_a(api: Api, a: int) -> int:
    """D, on LINE, with A merged into it: D's city and birth date overrule A's."""
    body = {
        "loyaltyInfo": {"loyaltyType": "loyalty"},
        "profiles": [
            {
                "firstName": "Quillondra",
                "lastName": "Vexmarrow-Line",
                "source": "LINE",
                "accountId": "line-brand",
                "identifiers": [
                    {"type": "mobile", "value": MOBILE_D},
                    {"type": "line", "value": f"line-{SURNAME}"},
                ],
                "fields": {"city": "Vexmarrow Heights", "dateofbirth": BIRTH},
            }
        ],
        "extendedFields": {"city": "Quillondria Nova"},
    }
    d = int(ok(api.post("/v2/customers", json=body, **keyed("register-d")))["createdId"])
    merged = api.post(
        f"/v2/customers/{a}/changeIdentifier",
        json={
            "add": [{"type": "line", "value": f"line-{SURNAME}"}],
            "remove": [{"type": "mobile", "value": MOBILE_A}],
        },
        **keyed("merge-a"),
    )
    assert ok(merged)["createdId"] == d
    assert warning_codes(merged) == [8051]
    return d


@pytest.fixture
def person(engine: Engine, app_client: TestClient) -> tuple[Api, Person]:
    org = import_org(engine)
    api = Api(app_client, org)
    set_up_org(engine, api)
    bystander = int(
        ok(
            api.post(
                "/v2/customers",
                json={
                    "loyaltyInfo": {"loyaltyType": "loyalty"},
                    "profiles": [
                        {
                            "firstName": "Ottoline",
                            "lastName": "Brackenbury",
                            "identifiers": [
                                {"type": "mobile", "value": "917731044201"},
                                {"type": "email", "value": "ottoline@brackenbury.example"},
                            ],
                            "fields": {"city": "Brackenbury", "dateofbirth": "1960-01-02"},
                        }
                    ],
                },
                **keyed("register-bystander"),
            )
        )["createdId"]
    )
    a = register_a(api)
    give_a_history(api, a)
    care_for_a(api, a, bystander)
    import_about_a(engine, org, a)
    batch_about_a(app_client, org)
    c = register_c_into_a(api, a)
    d = register_d_and_merge_a(api, a)
    return api, Person(a=a, c=c, d=d, bystander=bystander)


# --- the tests -----------------------------------------------------------------------------


def test_a_deleted_person_leaves_no_personal_data(
    engine: Engine, person: tuple[Api, Person]
) -> None:
    api, who = person
    before = find_markers(engine, MARKERS)
    # The scan sees the person everywhere patron keeps them, merge records included.
    assert {
        ("profiles", "first_name"),
        ("identifiers", "value"),
        ("comm_channels", "value"),
        ("comm_channels", "meta"),
        ("field_values", "value"),
        ("merges", "moved"),
        ("change_log", "details"),
        ("lifecycle_events", "entity_id"),
        ("legacy_profiles", "street1"),
        ("legacy_profiles", "custom_date"),
        ("cards", "custom_fields"),
        ("loyalty_requests", "comments"),
        ("points_transfers", "notes"),
        ("partner_memberships", "membership_id"),
        ("customer_notes", "description"),
        ("customer_preferences", "value"),
        ("tickets", "subject"),
        ("referrals", "identifier"),
    } <= set(before)
    assert find_ids(engine, api.org, who.ids) >= {
        ("identifiers", "customer_id"),
        ("idempotency_keys", "response"),
        ("coupons", "customer_id"),
    }
    with transaction(engine, write=False) as conn:
        held = conn.execute(
            sa.select(identifiers.c.type).where(identifiers.c.customer_id.in_(who.ids))
        ).scalars()
        assert set(held) == set(IDENTIFIER_TYPES)
    others_before = find_markers(engine, OTHER_MARKERS)

    deleted = api.delete(
        f"/v2/customers/{who.live}", params={"reason": "erasure request 77"}, role="admin"
    )
    assert ok(deleted)["deleted"] is True

    assert find_markers(engine, MARKERS).keys() <= KEPT_MARKERS
    assert find_ids(engine, api.org, who.ids) == KEPT_REFERENCES
    # The bystander lost nothing: the scan would have found the person's leftovers.
    assert find_markers(engine, OTHER_MARKERS) == others_before
    assert ok(api.get(f"/v2/customers/{who.bystander}"))["id"] == who.bystander


def test_a_merge_victim_deleted_after_an_unmerge_leaves_no_overruled_values(
    engine: Engine, app_client: TestClient
) -> None:
    """The merge record of a reversed merge still held the victim's overruled values."""
    org = import_org(engine)
    api = Api(app_client, org)
    with transaction(engine) as conn:
        orgs.add_field(conn, org.admin, kind="custom", name="city")
    survivor = int(
        ok(
            api.post(
                "/v2/customers",
                json={
                    "loyaltyInfo": {"loyaltyType": "loyalty"},
                    "profiles": [
                        {
                            "firstName": "Ottoline",
                            "identifiers": [{"type": "mobile", "value": "917731044202"}],
                            "fields": {"city": "Brackenbury"},
                        }
                    ],
                },
            )
        )["createdId"]
    )
    victim = int(
        ok(
            api.post(
                "/v2/customers",
                json={
                    "loyaltyInfo": {"loyaltyType": "non_loyalty"},
                    "profiles": [
                        {
                            "firstName": "Quillondra",
                            "source": "FACEBOOK",
                            "accountId": "fb-brand",
                            "identifiers": [{"type": "fbId", "value": f"fb-{SURNAME}"},
                                            {"type": "email", "value": EMAIL}],
                            "fields": {"city": "Vexmarrowton", "dateofbirth": BIRTH},
                        }
                    ],
                },
            )
        )["createdId"]
    )  # fmt: skip
    ok(
        api.post(
            f"/v2/customers/{victim}/changeIdentifier",
            params={"source": "FACEBOOK", "accountId": "fb-brand"},
            json={"add": [{"type": "mobile", "value": "917731044202"}]},
        )
    )
    with transaction(engine) as conn:
        merge_id = conn.execute(
            sa.select(merges.c.id).where(merges.c.org_id == org.id, merges.c.victim_id == victim)
        ).scalar_one()
        assert unmerge(conn, org.admin, merge_id) is None
    assert ("merges", "moved") in find_markers(engine, MARKERS)
    ok(api.delete(f"/v2/customers/{victim}", params={"reason": "asked"}, role="admin"))
    assert find_markers(engine, MARKERS).keys() <= KEPT_MARKERS
    # The survivor, another person, keeps everything.
    assert ok(api.get(f"/v2/customers/{survivor}"))["profiles"][0]["fields"] == {
        "city": "Brackenbury"
    }


# --- what patron holds on a person: the export and the erasure rule of every table ----------

#: Columns naming a customer the person fixture leaves empty, and why.
NOT_FILLED = {
    # Written by the deletion itself, for the identifiers it removes.
    ("suppressions", "customer_id"),
}


def _stored(engine: Engine, org_id: int, holding: Holding, ids: set[int]) -> list[Any]:
    """The rows of ``holding``'s table naming ``ids`` in its column."""
    table = holding.table
    with transaction(engine, write=False) as conn:
        query = sa.select(table).where(
            table.c.org_id == org_id, table.c[holding.column].in_(sorted(ids))
        )
        return list(conn.execute(query).mappings())


def _frames_with_markers(engine: Engine, org_id: int, markers: tuple[str, ...]) -> set[str]:
    """The stored import frames (``<import id>:<kind>``) of the org holding a marker."""
    found = set()
    with transaction(engine, write=False) as conn:
        blobs = conn.execute(
            sa.select(import_blobs.c.import_id, import_blobs.c.kind).where(
                import_blobs.c.org_id == org_id
            )
        ).all()
        for import_id, kind in blobs:
            frame = imports_repository.get_frame(conn, org_id, import_id, kind)
            text = "" if frame is None else str(frame.to_dicts()).lower()
            if any(marker in text for marker in markers):
                found.add(f"{import_id}:{kind}")
    return found


def test_every_column_naming_a_customer_has_an_export_section_and_an_erasure_rule() -> None:
    """A table added later fails here until patron.customer.personal_data lists it."""
    listed = {(h.table.name, h.column) for h in HOLDINGS}
    named = {(table.name, column.name) for table, column in _customer_columns()}
    assert named - listed == set(), "list these in patron.customer.personal_data.HOLDINGS"
    assert listed - named == set()
    for holding in HOLDINGS:
        assert holding.erasure == "delete" or holding.why, holding
        assert holding.erasure != "blank" or holding.blank, holding


def test_the_export_holds_every_row_naming_the_person_and_erasure_applies_each_rule(
    engine: Engine, person: tuple[Api, Person]
) -> None:
    api, who = person
    org_id = api.org.id
    # The person also receives points from the bystander.
    bill = {"number": "BILL-B", "customerId": who.bystander, "storeCode": "mal", "amount": 500}
    ok(api.post("/v2/transactions", json=bill))
    gift = {"transferTo": {"customerId": who.live}, "points": 5, "notes": f"to {NAME}"}
    ok(api.post(f"/v2/customers/{who.bystander}/pointsTransfers", json=gift))
    assert api.get(f"/v2/customers/{who.live}/export").status_code == 403
    export = ok(api.get(f"/v2/customers/{who.a}/export", role="admin"))
    assert export["customerId"] == who.live
    assert set(export["customerIds"]) == who.ids
    assert [w["code"] for w in export["warnings"]] == [91009]
    for holding in HOLDINGS:
        stored = {row["id"] for row in _stored(engine, org_id, holding, who.ids)}
        if (holding.table.name, holding.column) not in NOT_FILLED:
            assert stored, f"the person has no {holding.table.name} row: fill it above"
        shown = {row["id"] for row in export[holding.section]}
        assert stored <= shown, holding.section
        for child in holding.children:
            with transaction(engine, write=False) as conn:
                kids = conn.execute(
                    sa.select(child.table.c.id).where(child.table.c[child.key].in_(stored))
                ).scalars()
                assert set(kids) == {row["id"] for row in export[child.section]}
    assert set(export) >= set(sections())
    [legacy] = export["legacyProfile"]
    assert (legacy["password_hash"], legacy["pin_digest"]) == ("(set)", "(set)")
    assert legacy["street1"] == "12 Vexmarrow Lane"
    # Each import that named the person, with the row as uploaded.
    rows = export["importRows"]
    assert len({row["importId"] for row in rows}) == 9
    assert all(row["customerId"] in who.ids for row in rows)
    # Line 2 of each file (after its header); line 1 of the batch (pasted, no header).
    assert sorted(row["line"] for row in rows) == [1] + [2] * 8
    assert any(MOBILE_A in row["values"].values() for row in rows)
    archive = api.get(f"/v2/customers/{who.live}/export", params={"format": "zip"}, role="admin")
    assert archive.status_code == 200
    assert archive.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(archive.content)) as opened:
        document = json.loads(opened.read(f"customer-{who.live}.json"))
        with Image.open(io.BytesIO(opened.read(f"customer-{who.live}-image.png"))) as picture:
            assert picture.size == (4, 4)
    assert [row["content_type"] for row in export["image"]] == ["image/png"]
    assert document["profiles"] == export["profiles"]
    audit = api.get("/v2/audit", params={"action": "customer.export"}, role="admin").json()
    assert [(e["objectId"], e["details"]["format"]) for e in audit["data"]] == [
        (str(who.live), "zip"),
        (str(who.live), "json"),
    ]
    assert not any(marker in json.dumps(audit) for marker in MARKERS)
    assert _frames_with_markers(engine, org_id, MARKERS)

    ok(api.delete(f"/v2/customers/{who.live}", params={"reason": "erasure 78"}, role="admin"))

    for holding in HOLDINGS:
        left = _stored(engine, org_id, holding, who.ids)
        if holding.erasure == "delete":
            assert left == [], holding.table.name
        elif holding.erasure == "blank":
            for row in left:
                assert {k: row[k] for k in holding.blank} == dict(holding.blank), row
    assert _frames_with_markers(engine, org_id, MARKERS) == set()
    assert api.get(f"/v2/customers/{who.live}/export", role="admin").status_code == 404
    # A replayed registration does not bring the person back.
    replayed = api.post(
        "/v2/customers",
        json={
            "loyaltyInfo": {"loyaltyType": "loyalty"},
            "profiles": [{"identifiers": [{"type": "mobile", "value": MOBILE_D}]}],
        },
    )
    assert replayed.status_code == 409, replayed.text
    assert [e["code"] for e in replayed.json()["errors"]] == [95301]
