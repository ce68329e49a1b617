"""Tables of the subscriptions domain."""

import sqlalchemy as sa

from patron.kit.db import BigId, metadata, utcnow_column


def _org_fk() -> sa.ForeignKey:
    return sa.ForeignKey("orgs.id", ondelete="CASCADE")


subscriptions = sa.Table(
    "subscriptions",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("org_id", BigId, _org_fk(), nullable=False),
    sa.Column("customer_id", BigId, sa.ForeignKey("customers.id"), nullable=False),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("priority", sa.String(8), nullable=False),
    sa.Column("status", sa.String(8), nullable=False),  # OPTIN | OPTOUT
    # 0 means org-wide; otherwise an org unit (concept / store) id. Not NULL so the
    # unique key below holds on both databases.
    sa.Column("org_unit_id", BigId, nullable=False, server_default="0"),
    sa.Column("source", sa.String(16), nullable=False, server_default="INSTORE"),
    sa.Column("account_id", sa.String(100), nullable=False, server_default=""),
    utcnow_column("updated_at"),
    sa.UniqueConstraint(
        "org_id", "customer_id", "channel", "priority", "org_unit_id", "source", "account_id"
    ),
    sqlite_autoincrement=True,
)

consent_ledger = sa.Table(
    "consent_ledger",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("org_id", BigId, _org_fk(), nullable=False),
    sa.Column("customer_id", BigId, sa.ForeignKey("customers.id"), nullable=False),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("priority", sa.String(8), nullable=False),
    sa.Column("status", sa.String(8), nullable=False),
    sa.Column("previous_status", sa.String(8)),
    sa.Column("org_unit_id", BigId, nullable=False, server_default="0"),
    sa.Column("source", sa.String(16), nullable=False, server_default="INSTORE"),
    sa.Column("account_id", sa.String(100), nullable=False, server_default=""),
    sa.Column("reason", sa.String(500), nullable=False, server_default=""),
    sa.Column("actor", sa.String(100), nullable=False),  # user name or api-key label
    sa.Column("origin", sa.String(32), nullable=False),  # api | import:<id> | cli | registration
    utcnow_column(),
    sa.Index("ix_consent_ledger_org_id_customer_id", "org_id", "customer_id"),
    sqlite_autoincrement=True,
)
