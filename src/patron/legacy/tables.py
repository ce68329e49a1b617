"""Tables of the legacy domain."""

import sqlalchemy as sa

from patron.kit.db import BigId, metadata, utcnow_column

# What the legacy batch API knows of a customer beyond names and identifiers: the
# address, phone and custom fields it sends, and the credentials of custom applications
# (a "hotsite" password, a terminal PIN), stored only as an argon2id hash and a keyed digest.
legacy_profiles = sa.Table(
    "legacy_profiles",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("org_id", BigId, sa.ForeignKey("orgs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("customer_id", BigId, sa.ForeignKey("customers.id"), nullable=False),
    sa.Column("username", sa.String(100)),
    sa.Column("password_hash", sa.String(255)),
    sa.Column("pin_digest", sa.String(100)),
    sa.Column("phone", sa.String(50)),
    sa.Column("street1", sa.String(200)),
    sa.Column("street2", sa.String(200)),
    sa.Column("city", sa.String(100)),
    sa.Column("state", sa.String(100)),
    sa.Column("postal_code", sa.String(20)),
    sa.Column("country", sa.String(100)),
    sa.Column("custom_field", sa.String(255)),
    sa.Column("custom_date", sa.Date),
    utcnow_column(),
    utcnow_column("updated_at"),
    sa.UniqueConstraint("org_id", "customer_id"),
    sa.UniqueConstraint("org_id", "username"),
    sqlite_autoincrement=True,
)
