"""Tables of the coupons domain, and the transactions redemptions reference."""

import sqlalchemy as sa

from patron.kit.db import BigId, metadata, utcnow_column


def _org_fk() -> sa.ForeignKey:
    return sa.ForeignKey("orgs.id", ondelete="CASCADE")


coupon_series = sa.Table(
    "coupon_series",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("org_id", BigId, _org_fk(), nullable=False),
    # The series id the org's files and integrations use (e.g. 5309): unique per org.
    sa.Column("number", BigId, nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("description", sa.String(500), nullable=False, server_default=""),
    # Redemptions are valid from valid_from to valid_until (either end open when null).
    sa.Column("valid_from", sa.DateTime(timezone=True)),
    sa.Column("valid_until", sa.DateTime(timezone=True)),
    # How often one coupon, and all coupons of the series for one customer, may be
    # redeemed; null: no limit.
    sa.Column("max_redemptions_per_coupon", sa.Integer, server_default="1"),
    sa.Column("max_redemptions_per_customer", sa.Integer),
    # The discount a coupon gives: ABS (an amount) or PERC (a percentage), capped at upto.
    sa.Column("discount_type", sa.String(8), nullable=False, server_default="ABS"),
    sa.Column("discount_value", sa.Numeric(18, 2)),
    sa.Column("discount_upto", sa.Numeric(18, 2)),
    utcnow_column(),
    utcnow_column("updated_at"),
    sa.UniqueConstraint("org_id", "number"),
    sqlite_autoincrement=True,
)

coupons = sa.Table(
    "coupons",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("org_id", BigId, _org_fk(), nullable=False),
    sa.Column("series_id", BigId, sa.ForeignKey("coupon_series.id"), nullable=False),
    sa.Column("code", sa.String(64), nullable=False),
    sa.Column("customer_id", BigId, sa.ForeignKey("customers.id")),  # issued to; null: anyone
    # ISSUED, or REDEEMED once the series' redemptions per coupon are used up.
    sa.Column("status", sa.String(16), nullable=False, server_default="ISSUED"),
    # The number of its rows in coupon_redemptions (moved with every one written or removed).
    sa.Column("redemption_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("issued_at", sa.DateTime(timezone=True)),
    sa.Column("unit_id", BigId, sa.ForeignKey("org_units.id")),  # the store that issued it
    sa.Column("transaction_number", sa.String(100), nullable=False, server_default=""),
    sa.Column("expires_at", sa.DateTime(timezone=True)),
    utcnow_column(),
    utcnow_column("updated_at"),
    sa.UniqueConstraint("org_id", "series_id", "code"),
    sa.Index("ix_coupons_org_id_customer_id", "org_id", "customer_id"),
    sqlite_autoincrement=True,
)

coupon_redemptions = sa.Table(
    "coupon_redemptions",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("org_id", BigId, _org_fk(), nullable=False),
    sa.Column("coupon_id", BigId, sa.ForeignKey("coupons.id"), nullable=False),
    sa.Column("customer_id", BigId, sa.ForeignKey("customers.id"), nullable=False),
    sa.Column("unit_id", BigId, sa.ForeignKey("org_units.id")),
    sa.Column("redeemed_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("transaction_number", sa.String(100), nullable=False, server_default=""),
    sa.Column("amount", sa.Numeric(18, 2)),
    sa.Column("import_id", BigId),  # the import that recorded it, if any
    utcnow_column(),
    sa.Index("ix_coupon_redemptions_org_id_coupon_id", "org_id", "coupon_id"),
    sa.Index("ix_coupon_redemptions_org_id_customer_id", "org_id", "customer_id"),
    sqlite_autoincrement=True,
)

transactions = sa.Table(
    "transactions",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("org_id", BigId, _org_fk(), nullable=False),
    sa.Column("number", sa.String(100), nullable=False),  # the bill number
    sa.Column("customer_id", BigId, sa.ForeignKey("customers.id")),
    sa.Column("unit_id", BigId, sa.ForeignKey("org_units.id")),
    sa.Column("amount", sa.Numeric(18, 2)),
    sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
    # Bills are loyalty transactions too (patron.loyalty.transactions): REGULAR when a
    # customer was named, NOT_INTERESTED without one, RETRO once claimed by a customer.
    sa.Column("bill_type", sa.String(16), nullable=False, server_default="REGULAR"),
    sa.Column("program_id", BigId),  # the loyalty program it earned in (programs stay)
    sa.Column("returned_amount", sa.Numeric(18, 2), nullable=False, server_default="0"),
    sa.Column("created_by", sa.String(100), nullable=False, server_default=""),
    utcnow_column(),
    sa.Index("ix_transactions_org_id_number", "org_id", "number"),
    sa.Index("ix_transactions_org_id_customer_id", "org_id", "customer_id"),
    sqlite_autoincrement=True,
)
