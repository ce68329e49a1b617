"""The schema is ready to be sharded by ``org_id`` (Citus): each table is either an org's
table, distributed by ``org_id``, whose unique keys and look-up indexes lead with
``org_id``, or one of the few global tables listed here, kept whole on every node (a
reference table). A new table or key that breaks the rule fails here until it is fixed
or listed with its reason (docs/data-integrity.md)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from patron.kit.schema import metadata

ORG = "org_id"

#: Global tables (Citus reference tables): no org_id, or found before the org is known.
REFERENCE_TABLES = {
    "orgs": "the tenants themselves",
    "users": "sign-in finds a user by its name alone (HTTP Basic carries no org)",
    "api_keys": "a request's key is found by its digest alone, before the org is known",
    "web_sessions": "a console request's session is found by its cookie's digest alone",
    "sign_in_failures": "failures are counted per name or address before the org is known "
    "(no org at all for an unknown name)",
}

#: Org tables whose primary key is a global surrogate id, not (org_id, id). Citus needs the
#: distribution column in every primary key: sharding rewrites each of these keys to
#: (org_id, id) in one migration (ids stay globally unique, so nothing that names a row by
#: its id changes). Not migrated yet: listed so that no new table joins them unnoticed.
SURROGATE_PRIMARY_KEYS = frozenset(
    {
        "audit_log", "campaign_enrollments", "campaign_ledger", "campaigns", "card_series",
        "card_status_labels", "cards", "change_log", "comm_channels", "companies",
        "consent_ledger", "coupon_redemptions", "coupon_series", "coupons", "customer_images",
        "customer_notes", "customer_preferences", "customers", "export_chunks", "exports",
        "field_definitions", "field_values", "group_members", "hierarchies", "hierarchy_roles",
        "identifiers", "idempotency_keys", "import_blobs", "import_templates", "imports",
        "legacy_profiles", "lifecycle_events", "loyalty_accounts", "loyalty_balances",
        "loyalty_programs", "loyalty_requests", "loyalty_slabs", "mail_outbox", "merges",
        "notifications", "org_units", "partner_memberships", "partner_programs",
        "points_ledger", "points_transfers", "preference_definitions", "profiles",
        "referral_campaigns", "referral_codes", "referrals", "status_labels",
        "subscriptions", "suppressions", "tickets", "transaction_lines", "transaction_returns",
        "transactions",
    }
)  # fmt: skip

#: Look-up indexes of org tables that do not lead with org_id: each serves a query that
#: spans every org on purpose (on Citus it runs on every shard).
CROSS_ORG_INDEXES = {
    "ix_imports_state": "a worker claims the next queued import of any org",
    "ix_exports_state": "a worker claims the next queued export of any org",
    "ix_mail_outbox_state_next_attempt_at": "the mail worker drains every org's outbox",
}


def _leading(key: Any) -> str:
    first = next(iter(getattr(key, "expressions", None) or key.columns))
    return str(first.name) if isinstance(first, sa.Column) else str(first)


def _org_tables() -> list[sa.Table]:
    return [t for t in metadata.sorted_tables if t.name not in REFERENCE_TABLES]


def _unique_keys(table: sa.Table) -> list[tuple[str, Any]]:
    keys: list[tuple[str, Any]] = [
        (str(c.name), c) for c in table.constraints if isinstance(c, sa.UniqueConstraint)
    ]
    keys += [(str(i.name), i) for i in table.indexes if i.unique]
    keys += [
        (f"{table.name}.{c.name}", type("k", (), {"columns": [c]})()) for c in table.c if c.unique
    ]
    return keys


def test_every_table_without_org_id_is_a_listed_reference_table() -> None:
    global_tables = {t.name for t in metadata.sorted_tables if ORG not in t.c}
    assert global_tables <= set(REFERENCE_TABLES), (
        f"{sorted(global_tables - set(REFERENCE_TABLES))} carry no org_id: add org_id, or list "
        "them as reference tables with the reason"
    )
    assert set(REFERENCE_TABLES) <= set(metadata.tables), "a listed table no longer exists"


def test_reference_tables_name_only_reference_tables() -> None:
    # Citus refuses a foreign key from a reference table to a distributed one.
    for name in REFERENCE_TABLES:
        for key in metadata.tables[name].foreign_key_constraints:
            assert key.referred_table.name in REFERENCE_TABLES, (name, key.name)


def test_every_org_table_has_its_org_id_always_set() -> None:
    # The distribution column of a row cannot be empty.
    assert [t.name for t in _org_tables() if t.c[ORG].nullable] == []


def test_every_unique_key_of_an_org_table_leads_with_org_id() -> None:
    broken = [
        f"{table.name}: {name}"
        for table in _org_tables()
        for name, key in _unique_keys(table)
        if _leading(key) != ORG
    ]
    assert broken == [], "unique keys that do not lead with org_id (Citus cannot enforce them)"


def test_every_primary_key_of_an_org_table_leads_with_org_id_or_is_a_listed_surrogate() -> None:
    surrogate = set()
    for table in _org_tables():
        columns = [c.name for c in table.primary_key.columns]
        if columns[0] == ORG:
            continue
        assert columns == ["id"], f"{table.name}'s primary key {columns} leads with neither"
        surrogate.add(table.name)
    assert sorted(surrogate - SURROGATE_PRIMARY_KEYS) == [], (
        "new tables keyed by a global id alone: key them by (org_id, ...)"
    )
    # A table re-keyed by (org_id, id) leaves the list, so the list stays the work left.
    assert sorted(SURROGATE_PRIMARY_KEYS - surrogate) == []


def test_every_look_up_index_of_an_org_table_leads_with_org_id_or_is_listed() -> None:
    found = {
        str(index.name)
        for table in _org_tables()
        for index in table.indexes
        if _leading(index) != ORG
    }
    assert sorted(found - set(CROSS_ORG_INDEXES)) == [], "indexes that do not lead with org_id"
    assert sorted(set(CROSS_ORG_INDEXES) - found) == []
