"""Tables of the loyalty domain."""

import sqlalchemy as sa

from patron.customer.tables import customer_of_the_org_fk
from patron.kit.db import BigId, metadata, utcnow_column

# A loyalty customer's balances and tier, as loaded by imports (points engines come later).
loyalty_accounts = sa.Table(
    "loyalty_accounts",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("org_id", BigId, nullable=False),
    sa.Column("customer_id", BigId, nullable=False),
    sa.Column("points", sa.Numeric(18, 2)),
    sa.Column("lifetime_points", sa.Numeric(18, 2)),
    sa.Column("lifetime_purchases", sa.Numeric(18, 2)),
    sa.Column("slab_name", sa.String(100)),
    sa.Column("joined_on", sa.Date),
    utcnow_column("updated_at"),
    customer_of_the_org_fk(),
    sa.UniqueConstraint("org_id", "customer_id"),
    sqlite_autoincrement=True,
)

#: The kinds of campaign: what a customer's balance in it counts.
CAMPAIGN_TYPES = ("points", "visits", "amount", "product")

# A loyalty campaign (program) of the org. ``number`` is the id integrations use
# (the legacy batch API's ``campaigns_to_include``); the primary key stays internal.
campaigns = sa.Table(
    "campaigns",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("org_id", BigId, sa.ForeignKey("orgs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("number", sa.BigInteger, nullable=False),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("type", sa.String(16), nullable=False),  # points | visits | amount | product
    sa.Column("created_by", sa.String(100), nullable=False, server_default=""),
    utcnow_column(),
    sa.UniqueConstraint("org_id", "number"),
    sqlite_autoincrement=True,
)

# A customer enrolled in a campaign, with the balance the ledger adds up to.
campaign_enrollments = sa.Table(
    "campaign_enrollments",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("org_id", BigId, sa.ForeignKey("orgs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("campaign_id", BigId, sa.ForeignKey("campaigns.id"), nullable=False),
    sa.Column("customer_id", BigId, sa.ForeignKey("customers.id"), nullable=False),
    # Points, visits or amount; for a product campaign, how many products were added.
    sa.Column("balance", sa.Numeric(18, 2), nullable=False, server_default="0"),
    utcnow_column(),
    utcnow_column("updated_at"),
    sa.UniqueConstraint("org_id", "campaign_id", "customer_id"),
    sa.Index("ix_campaign_enrollments_org_id_customer_id", "org_id", "customer_id"),
    sqlite_autoincrement=True,
)

# Every change of a balance: how much (or which product), why, and the import behind it.
campaign_ledger = sa.Table(
    "campaign_ledger",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("org_id", BigId, sa.ForeignKey("orgs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("campaign_id", BigId, sa.ForeignKey("campaigns.id"), nullable=False),
    sa.Column("customer_id", BigId, sa.ForeignKey("customers.id"), nullable=False),
    sa.Column("change", sa.Numeric(18, 2), nullable=False),
    sa.Column("product", sa.String(200)),  # the product or service added (product campaigns)
    sa.Column("reason", sa.String(100), nullable=False),
    sa.Column("import_id", BigId),
    utcnow_column(),
    sa.Index("ix_campaign_ledger_org_id_customer_id", "org_id", "customer_id"),
    sa.Index("ix_campaign_ledger_org_id_import_id", "org_id", "import_id"),
    sqlite_autoincrement=True,
)
