"""Tables of the HTTP adapter."""

import sqlalchemy as sa

from patron.kit.db import BigId, metadata, utcnow_column

idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("org_id", BigId, sa.ForeignKey("orgs.id", ondelete="CASCADE"), nullable=False),
    # Who made the request ("key:<API key id>", "user:<user id>", "batch:user:<user id>" for
    # the legacy batch API): an answer is replayed only to the credential that made it.
    sa.Column("caller", sa.String(100), nullable=False),
    sa.Column("key", sa.String(200), nullable=False),
    # SHA-256 of method, path, query and body: a key reused for another request is refused.
    sa.Column("fingerprint", sa.String(64), nullable=False),
    # Both NULL while the first request with the key is still running (a reservation).
    sa.Column("status_code", sa.Integer, nullable=True),
    sa.Column("response", sa.JSON, nullable=True),
    utcnow_column(),
    sa.UniqueConstraint("org_id", "caller", "key"),
    # Expired answers are deleted by age on every save: a range, not a scan of the org's.
    sa.Index("ix_idempotency_keys_org_id_created_at", "org_id", "created_at"),
    sqlite_autoincrement=True,
)
