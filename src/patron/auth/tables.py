"""Tables of the auth domain."""

import sqlalchemy as sa

from patron.kit.db import BigId, metadata, utcnow_column

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("org_id", BigId, sa.ForeignKey("orgs.id", ondelete="CASCADE"), nullable=False),
    # A user name is a login handle, so it is unique across orgs: HTTP Basic
    # carries no org, and the user name is what tells which org is calling.
    sa.Column("username", sa.String(100), nullable=False, unique=True),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("is_active", sa.Boolean, nullable=False, server_default=sa.true()),
    # Where the user is told that an import or export of theirs ended (optional).
    sa.Column("email", sa.String(320)),
    utcnow_column(),
    sa.Index("ix_users_org_id", "org_id"),
    sqlite_autoincrement=True,
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("org_id", BigId, sa.ForeignKey("orgs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("name", sa.String(100), nullable=False, server_default=""),
    # The first characters of the key, shown in listings so a key can be recognised.
    sa.Column("prefix", sa.String(16), nullable=False),
    # SHA-256 of the whole key; the key itself is shown once and never stored.
    sa.Column("digest", sa.String(64), nullable=False, unique=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("revoked_at", sa.DateTime(timezone=True)),
    utcnow_column(),
    sa.Index("ix_api_keys_org_id", "org_id"),
    sqlite_autoincrement=True,
)
