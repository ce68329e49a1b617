"""the customer list's indexes, the profile synchronization rule, the audit page's indexes

- ``ix_customers_live_registered_at`` (org, registered_at, id, then the columns
  the list filters on), partial on live customers: the list in registration
  order, first, filtered and keyset pages;
- ``ix_profiles_org_id_names`` (org, lower(first_name), lower(last_name),
  customer_id, first_name, last_name) replaces ``ix_profiles_org_id_first_name``:
  the list in name order, and the search by first name, from the index alone;
- ``ix_field_values_org_id_kind_name_value`` (org, kind, name, first 200
  characters of the value): who holds a custom field value (the rule, the filter);
- ``sync_rules``: one row per org that set a rule (none: the default rule);
- ``ix_audit_log_org_id_action_id``, ``ix_audit_log_org_id_actor_id`` and
  ``ix_audit_log_org_id_entity_type_entity_id_id``: the audit log filtered by
  action, actor or object, newest first.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-08 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LIVE = sa.text("merged_into_id IS NULL AND deleted_at IS NULL")


def upgrade() -> None:
    op.create_index(
        "ix_customers_live_registered_at",
        "customers",
        [
            "org_id",
            "registered_at",
            "id",
            "loyalty_type",
            "status_label_id",
            "fraud_status",
            "registered_unit_id",
        ],
        sqlite_where=_LIVE,
        postgresql_where=_LIVE,
    )
    op.drop_index("ix_profiles_org_id_first_name", table_name="profiles")
    op.create_index(
        "ix_profiles_org_id_names",
        "profiles",
        [
            "org_id",
            sa.text("lower(first_name)"),
            sa.text("lower(last_name)"),
            "customer_id",
            "first_name",
            "last_name",
        ],
    )
    op.create_index(
        "ix_field_values_org_id_kind_name_value",
        "field_values",
        ["org_id", "kind", "name", sa.text("substr(value, 1, 200)")],
    )
    op.create_table(
        "sync_rules",
        sa.Column("org_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("groups", sa.JSON(), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f("fk_sync_rules_org_id_orgs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("org_id", name=op.f("pk_sync_rules")),
    )
    op.create_index("ix_audit_log_org_id_action_id", "audit_log", ["org_id", "action", "id"])
    op.create_index("ix_audit_log_org_id_actor_id", "audit_log", ["org_id", "actor", "id"])
    op.create_index(
        "ix_audit_log_org_id_entity_type_entity_id_id",
        "audit_log",
        ["org_id", "entity_type", "entity_id", "id"],
    )


def downgrade() -> None:
    op.drop_index("ix_audit_log_org_id_entity_type_entity_id_id", table_name="audit_log")
    op.drop_index("ix_audit_log_org_id_actor_id", table_name="audit_log")
    op.drop_index("ix_audit_log_org_id_action_id", table_name="audit_log")
    op.drop_table("sync_rules")
    op.drop_index("ix_field_values_org_id_kind_name_value", table_name="field_values")
    op.drop_index("ix_profiles_org_id_names", table_name="profiles")
    op.create_index(
        "ix_profiles_org_id_first_name", "profiles", ["org_id", sa.text("lower(first_name)")]
    )
    op.drop_index("ix_customers_live_registered_at", table_name="customers")
