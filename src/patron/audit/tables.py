"""Tables of the audit domain."""

import sqlalchemy as sa

from patron.kit.db import BigId, metadata, utcnow_column


def _org_fk() -> sa.ForeignKey:
    return sa.ForeignKey("orgs.id", ondelete="CASCADE")


change_log = sa.Table(
    "change_log",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("org_id", BigId, _org_fk(), nullable=False),
    sa.Column("customer_id", BigId, sa.ForeignKey("customers.id"), nullable=False),
    # EMAIL, MOBILE, EXTERNAL_ID, IDENTIFIER, MERGE, STATUS, FRAUD, PROFILE, ...
    sa.Column("change_type", sa.String(32), nullable=False),
    sa.Column("source", sa.String(16), nullable=False, server_default="INSTORE"),
    sa.Column("account_id", sa.String(100), nullable=False, server_default=""),
    sa.Column("details", sa.JSON, nullable=False),
    sa.Column("actor", sa.String(100), nullable=False),
    sa.Column("cause", sa.String(64), nullable=False, server_default="api"),
    utcnow_column(),
    sa.Index("ix_change_log_org_id_customer_id_id", "org_id", "customer_id", "id"),
    sqlite_autoincrement=True,
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("org_id", BigId, _org_fk(), nullable=False),
    sa.Column("actor", sa.String(100), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("entity_type", sa.String(32), nullable=False),
    sa.Column("entity_id", sa.String(64), nullable=False),
    # Never personal data: ids, counts, reasons and setting names only.
    sa.Column("details", sa.JSON, nullable=False),
    utcnow_column(),
    sa.Index("ix_audit_log_org_id_id", "org_id", "id"),
    # The audit page filters by action, by actor or by object, newest first.
    sa.Index("ix_audit_log_org_id_action_id", "org_id", "action", "id"),
    sa.Index("ix_audit_log_org_id_actor_id", "org_id", "actor", "id"),
    sa.Index(
        "ix_audit_log_org_id_entity_type_entity_id_id", "org_id", "entity_type", "entity_id", "id"
    ),
    sqlite_autoincrement=True,
)
