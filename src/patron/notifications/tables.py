"""Tables of notifications and of the mail outbox."""

import sqlalchemy as sa

from patron.kit.db import BigId, metadata, utcnow_column

notifications = sa.Table(
    "notifications",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("org_id", BigId, sa.ForeignKey("orgs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("user_id", BigId, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    # import.committed | import.failed | import.invalid | import.undone | import.undo_failed
    # | export.ready | export.failed
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("subject_type", sa.String(16), nullable=False),  # import | export
    sa.Column("subject_id", BigId, nullable=False),
    sa.Column("title", sa.String(255), nullable=False),
    sa.Column("body", sa.Text, nullable=False, server_default=""),
    sa.Column("link", sa.String(255), nullable=False, server_default=""),
    utcnow_column(),
    sa.Column("read_at", sa.DateTime(timezone=True)),
    sa.Index("ix_notifications_org_id_user_id_id", "org_id", "user_id", "id"),
    sqlite_autoincrement=True,
)

mail_outbox = sa.Table(
    "mail_outbox",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("org_id", BigId, sa.ForeignKey("orgs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("recipient", sa.String(320), nullable=False),
    sa.Column("subject", sa.String(255), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("state", sa.String(8), nullable=False),  # pending | sent | failed (gave up)
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    # When a worker may try (again); a worker that claims a mail moves it past its own try,
    # so two workers never send it at once, and a worker that died leaves it due again.
    sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_error", sa.Text, nullable=False, server_default=""),
    utcnow_column(),
    sa.Column("sent_at", sa.DateTime(timezone=True)),
    sa.Index("ix_mail_outbox_org_id_id", "org_id", "id"),
    # The workers' look-up across orgs: what is pending and due.
    sa.Index("ix_mail_outbox_state_next_attempt_at", "state", "next_attempt_at"),
    sqlite_autoincrement=True,
)
