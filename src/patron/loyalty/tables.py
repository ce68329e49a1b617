"""Tables of the loyalty domain."""

import sqlalchemy as sa

from patron.kit.db import BigId, metadata, utcnow_column

# A loyalty customer's balances and tier, as loaded by imports (points engines come later).
loyalty_accounts = sa.Table(
    "loyalty_accounts",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("org_id", BigId, sa.ForeignKey("orgs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("customer_id", BigId, sa.ForeignKey("customers.id"), nullable=False),
    sa.Column("points", sa.Numeric(18, 2)),
    sa.Column("lifetime_points", sa.Numeric(18, 2)),
    sa.Column("lifetime_purchases", sa.Numeric(18, 2)),
    sa.Column("slab_name", sa.String(100)),
    sa.Column("joined_on", sa.Date),
    utcnow_column("updated_at"),
    sa.UniqueConstraint("org_id", "customer_id"),
)
