"""Tables of the customer domain."""

import sqlalchemy as sa

from patron.kit.db import BigId, metadata, utcnow_column


def _org_fk() -> sa.ForeignKey:
    return sa.ForeignKey("orgs.id", ondelete="CASCADE")


def customer_of_the_org_fk() -> sa.ForeignKeyConstraint:
    """(org_id, customer_id) names a customer of that very org.

    One check per written row where an org key and a customer key took two, and
    a row can never point to another org's customer. Deleting the org (through
    its customers) deletes the row. For the tables imports fill a row or more a
    customer: identifiers, field values, loyalty accounts.
    """
    return sa.ForeignKeyConstraint(
        ["org_id", "customer_id"], ["customers.org_id", "customers.id"], ondelete="CASCADE"
    )


customers = sa.Table(
    "customers",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("org_id", BigId, _org_fk(), nullable=False),
    sa.Column("loyalty_type", sa.String(16), nullable=False),  # loyalty | non_loyalty
    sa.Column("status_label_id", BigId, sa.ForeignKey("status_labels.id"), nullable=False),
    sa.Column("fraud_status", sa.String(16), nullable=False, server_default="NOT_FRAUD"),
    sa.Column("fraud_modified_at", sa.DateTime(timezone=True)),
    # A merge victim keeps resolving to its survivor through this column.
    sa.Column("merged_into_id", BigId, sa.ForeignKey("customers.id")),
    sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("registered_unit_id", BigId, sa.ForeignKey("org_units.id")),
    sa.Column("created_by", sa.String(100), nullable=False, server_default=""),
    sa.Column("modified_by", sa.String(100), nullable=False, server_default=""),
    sa.Column("deleted_at", sa.DateTime(timezone=True)),
    utcnow_column(),
    utcnow_column("updated_at"),
    # Unique so that rows of other tables can name a customer together with its org.
    sa.Index("uq_customers_org_id_id", "org_id", "id", unique=True),
    sa.Index("ix_customers_org_id_merged_into_id", "org_id", "merged_into_id"),
    sqlite_autoincrement=True,
    # Room on each page for a new version of every row on it: an update of columns no
    # index holds (updated_at, modified_by) then touches no index, even when an import's
    # one transaction changes every customer (migration 0024, docs/postgresql-loads.md).
    postgresql_with={"fillfactor": 50},
)

#: The customer list walks live customers in registration order (first, filtered and
#: keyset pages alike); partial, so merge victims and deleted customers cost nothing. The
#: columns the list filters on come last: a filter is tested on the index, not the row.
_live = sa.and_(customers.c.merged_into_id.is_(None), customers.c.deleted_at.is_(None))
sa.Index(
    "ix_customers_live_registered_at",
    customers.c.org_id,
    customers.c.registered_at,
    customers.c.id,
    customers.c.loyalty_type,
    customers.c.status_label_id,
    customers.c.fraud_status,
    customers.c.registered_unit_id,
    sqlite_where=_live,
    postgresql_where=_live,
)

profiles = sa.Table(
    "profiles",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("org_id", BigId, _org_fk(), nullable=False),
    sa.Column("customer_id", BigId, sa.ForeignKey("customers.id"), nullable=False),
    sa.Column("source", sa.String(16), nullable=False),
    sa.Column("account_id", sa.String(100), nullable=False, server_default=""),
    sa.Column("first_name", sa.String(100), nullable=False, server_default=""),
    sa.Column("last_name", sa.String(100), nullable=False, server_default=""),
    sa.Column("created_by", sa.String(100), nullable=False, server_default=""),
    sa.Column("modified_by", sa.String(100), nullable=False, server_default=""),
    utcnow_column(),
    utcnow_column("updated_at"),
    sa.UniqueConstraint("org_id", "customer_id", "source", "account_id"),
    sqlite_autoincrement=True,
)
# Search matches names by prefix, case-insensitively; the customer list walks this
# index in name order (first name, last name, customer). The names themselves come
# last: the databases read an expression's column from an index only if it is there.
sa.Index(
    "ix_profiles_org_id_names",
    profiles.c.org_id,
    sa.func.lower(profiles.c.first_name),
    sa.func.lower(profiles.c.last_name),
    profiles.c.customer_id,
    profiles.c.first_name,
    profiles.c.last_name,
)
sa.Index("ix_profiles_org_id_last_name", profiles.c.org_id, sa.func.lower(profiles.c.last_name))

identifiers = sa.Table(
    "identifiers",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("org_id", BigId, nullable=False),
    sa.Column("customer_id", BigId, nullable=False),
    sa.Column("profile_id", BigId, sa.ForeignKey("profiles.id"), nullable=False),
    sa.Column("type", sa.String(32), nullable=False),
    sa.Column("value", sa.String(255), nullable=False),  # normalized
    utcnow_column(),
    customer_of_the_org_fk(),
    # Identity is org-wide: one (type, value) belongs to one customer, enforced here.
    sa.UniqueConstraint("org_id", "type", "value"),
    sa.Index("ix_identifiers_org_id_customer_id", "org_id", "customer_id"),
    sqlite_autoincrement=True,
)

comm_channels = sa.Table(
    "comm_channels",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("org_id", BigId, _org_fk(), nullable=False),
    sa.Column("customer_id", BigId, sa.ForeignKey("customers.id"), nullable=False),
    sa.Column("profile_id", BigId, sa.ForeignKey("profiles.id"), nullable=False),
    sa.Column("type", sa.String(32), nullable=False),
    sa.Column("value", sa.String(255), nullable=False),
    sa.Column("is_primary", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("verified", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("meta", sa.JSON, nullable=False),
    utcnow_column(),
    sa.UniqueConstraint("org_id", "profile_id", "type", "value"),
    sa.Index("ix_comm_channels_org_id_customer_id", "org_id", "customer_id"),
    sqlite_autoincrement=True,
)

field_values = sa.Table(
    "field_values",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("org_id", BigId, nullable=False),
    sa.Column("customer_id", BigId, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # custom | extended
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("value", sa.Text, nullable=False),
    utcnow_column("updated_at"),
    customer_of_the_org_fk(),
    sa.UniqueConstraint("org_id", "customer_id", "kind", "name"),
    sqlite_autoincrement=True,
)
# Who holds a value (the synchronization rule, the list's custom field filter). On the
# value's first 200 characters: a whole value may exceed a PostgreSQL index entry.
sa.Index(
    "ix_field_values_org_id_kind_name_value",
    field_values.c.org_id,
    field_values.c.kind,
    field_values.c.name,
    sa.func.substr(field_values.c.value, 1, 200),
)

merges = sa.Table(
    "merges",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("org_id", BigId, _org_fk(), nullable=False),
    sa.Column("survivor_id", BigId, sa.ForeignKey("customers.id"), nullable=False),
    sa.Column("victim_id", BigId, sa.ForeignKey("customers.id"), nullable=False),
    # What moved from victim to survivor (row ids per table), so a merge can be reversed.
    sa.Column("moved", sa.JSON, nullable=False),
    sa.Column("reversed_at", sa.DateTime(timezone=True)),
    utcnow_column(),
    sa.Index("ix_merges_org_id_victim_id", "org_id", "victim_id"),
    sqlite_autoincrement=True,
)

suppressions = sa.Table(
    "suppressions",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("org_id", BigId, _org_fk(), nullable=False),
    sa.Column("type", sa.String(32), nullable=False),
    # Keyed hash of the normalized value: recognises a deleted person, holds no personal data.
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("customer_id", BigId, nullable=False),
    utcnow_column(),
    sa.UniqueConstraint("org_id", "type", "digest"),
    sqlite_autoincrement=True,
)
