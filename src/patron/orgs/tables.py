"""Tables of the orgs domain."""

import sqlalchemy as sa

from patron.kit.db import BigId, metadata, utcnow_column

orgs = sa.Table(
    "orgs",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    # The org name is the tenant's own global handle (used by the CLI and the legacy API).
    sa.Column("name", sa.String(100), nullable=False, unique=True),
    # Validated by patron.orgs.settings.OrgSettings; JSON so new settings need no migration.
    sa.Column("settings", sa.JSON, nullable=False),
    utcnow_column(),
    sqlite_autoincrement=True,
)

org_units = sa.Table(
    "org_units",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("org_id", BigId, sa.ForeignKey("orgs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # store | till | concept
    sa.Column("code", sa.String(100), nullable=False),
    sa.Column("external_id", sa.String(100)),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("parent_id", BigId, sa.ForeignKey("org_units.id")),
    sa.Column("is_active", sa.Boolean, nullable=False, server_default=sa.true()),
    utcnow_column(),
    sa.UniqueConstraint("org_id", "kind", "code"),
    sa.Index("ix_org_units_org_id_kind_external_id", "org_id", "kind", "external_id"),
    sqlite_autoincrement=True,
)

field_definitions = sa.Table(
    "field_definitions",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("org_id", BigId, sa.ForeignKey("orgs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # custom | extended
    sa.Column("scope", sa.String(16), nullable=False),  # customer | card
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column(
        "data_type", sa.String(16), nullable=False
    ),  # string|integer|number|boolean|date|enum
    sa.Column("enum_values", sa.JSON),
    sa.Column("max_length", sa.Integer),
    utcnow_column(),
    sa.UniqueConstraint("org_id", "kind", "scope", "name"),
    sqlite_autoincrement=True,
)

status_labels = sa.Table(
    "status_labels",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("org_id", BigId, sa.ForeignKey("orgs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("label", sa.String(100), nullable=False),
    sa.Column("system_status", sa.String(32), nullable=False),
    sa.Column("description", sa.String(500), nullable=False, server_default=""),
    utcnow_column(),
    sa.UniqueConstraint("org_id", "label"),
    sqlite_autoincrement=True,
)

#: The org's profile synchronization rule: which keys make a new profile an existing
#: person. No row: the default rule (any identifier the person holds).
sync_rules = sa.Table(
    "sync_rules",
    metadata,
    sa.Column("org_id", BigId, sa.ForeignKey("orgs.id", ondelete="CASCADE"), primary_key=True),
    # Groups of keys: [["mobile"], ["firstName", "lastName", "customField.dateofbirth"]].
    sa.Column("groups", sa.JSON, nullable=False),
    sa.Column("updated_by", sa.String(100), nullable=False),
    utcnow_column("updated_at"),
)
