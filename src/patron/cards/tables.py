"""Tables of the cards domain."""

import sqlalchemy as sa

from patron.kit.db import BigId, metadata, utcnow_column


def _org_fk() -> sa.ForeignKey:
    return sa.ForeignKey("orgs.id", ondelete="CASCADE")


card_series = sa.Table(
    "card_series",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("org_id", BigId, _org_fk(), nullable=False),
    sa.Column("code", sa.String(50), nullable=False),  # alphanumeric
    sa.Column("description", sa.String(500), nullable=False, server_default=""),
    sa.Column("card_type", sa.String(16), nullable=False),  # PHYSICAL | DIGITAL
    sa.Column("prefix", sa.String(50), nullable=False, server_default=""),
    sa.Column("suffix", sa.String(50), nullable=False, server_default=""),
    sa.Column("length", sa.Integer),  # of the whole card number, prefix and suffix included
    sa.Column("expiry_days", sa.Integer),  # validity from the issue date
    sa.Column("generation_enabled", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("unit_id", BigId, sa.ForeignKey("org_units.id")),
    utcnow_column(),
    utcnow_column("updated_at"),
    sa.UniqueConstraint("org_id", "code"),
    sqlite_autoincrement=True,
)

# Org names over the card system statuses NOT_ISSUED, ACTIVE, INACTIVE, DELETED, EXPIRED
# (the system status names themselves are always valid labels).
card_status_labels = sa.Table(
    "card_status_labels",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("org_id", BigId, _org_fk(), nullable=False),
    sa.Column("label", sa.String(100), nullable=False),
    sa.Column("system_status", sa.String(16), nullable=False),
    utcnow_column(),
    sa.UniqueConstraint("org_id", "label"),
    sqlite_autoincrement=True,
)

cards = sa.Table(
    "cards",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("org_id", BigId, _org_fk(), nullable=False),
    sa.Column("series_id", BigId, sa.ForeignKey("card_series.id"), nullable=False),
    sa.Column("number", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # the system status
    sa.Column("status_label", sa.String(100), nullable=False),  # as the org names it
    # A card linked to a customer is also a ``cardnumber`` identifier of that customer.
    sa.Column("customer_id", BigId, sa.ForeignKey("customers.id")),
    sa.Column("unit_id", BigId, sa.ForeignKey("org_units.id")),
    sa.Column("external_id", sa.String(100)),
    sa.Column("issued_at", sa.DateTime(timezone=True)),
    sa.Column("expires_at", sa.DateTime(timezone=True)),
    # Card-level custom and extended field values (the org declares them with scope ``card``).
    sa.Column("custom_fields", sa.JSON),
    sa.Column("extended_fields", sa.JSON),
    utcnow_column(),
    utcnow_column("updated_at"),
    sa.UniqueConstraint("org_id", "number"),
    sa.Index("ix_cards_org_id_customer_id", "org_id", "customer_id"),
    sa.Index("ix_cards_org_id_series_id", "org_id", "series_id"),
    # ``cardExternalId`` is a look-up key, so it names one card of the org at most.
    sa.Index("ix_cards_org_id_external_id", "org_id", "external_id", unique=True),
    sqlite_autoincrement=True,
)
