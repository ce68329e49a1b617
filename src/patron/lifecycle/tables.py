"""Tables of the lifecycle domain."""

import sqlalchemy as sa

from patron.kit.db import BigId, metadata, utcnow_column

# An event of a customer's life in another system, as the Entity Life Cycle import loads it.
# One customer has one event per (org source, activity, reference id): loading it again is
# recognised, not repeated.
lifecycle_events = sa.Table(
    "lifecycle_events",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("org_id", BigId, sa.ForeignKey("orgs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("customer_id", BigId, sa.ForeignKey("customers.id"), nullable=False),
    sa.Column("entity_type", sa.String(32), nullable=False),  # e.g. CUSTOMER
    sa.Column("entity_id", sa.String(100), nullable=False),
    sa.Column("org_source_id", sa.String(100), nullable=False),  # e.g. the WeChat account
    sa.Column("activity", sa.String(100), nullable=False),  # e.g. FOLLOW, REGISTER
    sa.Column("state", sa.String(100), nullable=False),
    sa.Column("added_by", sa.String(100), nullable=False),
    sa.Column("reference_id", sa.String(100), nullable=False),
    sa.Column("updated_on", sa.DateTime(timezone=True), nullable=False),
    sa.Column("import_id", BigId),  # the import that loaded it, if any
    utcnow_column(),
    sa.UniqueConstraint(
        "org_id",
        "customer_id",
        "org_source_id",
        "activity",
        "reference_id",
        name="uq_lifecycle_events_event",
    ),
    sqlite_autoincrement=True,
)
