"""Tables of the console: sign-in sessions, failed sign-ins, each user's preferences."""

import sqlalchemy as sa

from patron.kit.db import BigId, metadata, utcnow_column

web_sessions = sa.Table(
    "web_sessions",
    metadata,
    # SHA-256 of the session cookie's random token: the cookie alone signs a browser in, so
    # only its digest is stored. The primary key, because a request finds its session by it.
    sa.Column("token_digest", sa.String(64), primary_key=True),
    sa.Column("org_id", BigId, sa.ForeignKey("orgs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("user_id", BigId, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    # Every form and htmx request of the session must carry it (hidden field or header).
    sa.Column("csrf_token", sa.String(64), nullable=False),
    utcnow_column(),
    sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_web_sessions_org_id_user_id", "org_id", "user_id"),
    sa.Index("ix_web_sessions_org_id_last_seen_at", "org_id", "last_seen_at"),
)

sign_in_failures = sa.Table(
    "sign_in_failures",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    # The org of the user the name belongs to; none for an unknown name. Failures are counted
    # before anyone is signed in, so they are keyed by what the request carries, not by org.
    sa.Column("org_id", BigId, sa.ForeignKey("orgs.id", ondelete="CASCADE")),
    sa.Column("kind", sa.String(8), nullable=False),  # user | address
    sa.Column("key", sa.String(200), nullable=False),
    sa.Column("failed_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_sign_in_failures_kind_key_failed_at", "kind", "key", "failed_at"),
    sa.Index("ix_sign_in_failures_failed_at", "failed_at"),
    sqlite_autoincrement=True,
)

console_preferences = sa.Table(
    "console_preferences",
    metadata,
    sa.Column("org_id", BigId, sa.ForeignKey("orgs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("user_id", BigId, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    # What the preference is about, e.g. ``profiles.displayed_fields``; the value is JSON.
    # Kept per user in the database so that it follows the user from device to device.
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("value", sa.JSON, nullable=False),
    utcnow_column("updated_at"),
    sa.PrimaryKeyConstraint("org_id", "user_id", "name"),
)
