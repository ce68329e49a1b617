"""Telling a user that work of theirs ended: an entry in the console and, when mail is on, a mail.

Both are written in the caller's transaction, beside the change they announce (an import
committed, an export written): the announcement exists if and only if the change does.
The mail goes to the outbox; the worker sends it later (:mod:`patron.notifications.outbox`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.engine import Connection, RowMapping

from patron.auth import service as auth
from patron.auth.actor import Actor
from patron.codes import generic
from patron.kit.clock import utcnow
from patron.kit.errors import NotFound
from patron.notifications import repository
from patron.settings import Settings

#: A page of the console's list.
PAGE_SIZE = 50


@dataclass(frozen=True)
class Event:
    """What ended, as the notification and its mail tell it."""

    kind: str
    """``import.committed``, ``export.ready``...: what happened."""
    subject_type: str
    """``import`` or ``export``."""
    subject_id: int
    title: str
    """One line: the notification's title and the mail's subject."""
    body: str
    """A few lines: the counts, the reason of a failure."""
    link: str
    """Where the console shows it (a path such as ``/imports/12``)."""
    mail_link: str | None = None
    """The link the mail carries, when not the console's page (an export's signed link)."""
    link_label: str = "Details"


@dataclass(frozen=True)
class Notification:
    id: int
    kind: str
    subject_type: str
    subject_id: int
    title: str
    body: str
    link: str
    created_at: datetime
    read_at: datetime | None

    @property
    def unread(self) -> bool:
        return self.read_at is None

    @property
    def failed(self) -> bool:
        return self.kind.endswith(("failed", "invalid"))


@dataclass(frozen=True)
class NotificationPage:
    items: list[Notification]
    unread: int
    total: int
    offset: int
    limit: int


def notify_user(
    conn: Connection, settings: Settings, org_id: int, username: str, event: Event
) -> int | None:
    """Notify the org's user ``username`` of ``event`` (and mail them, when mail is on and
    they have an address); ``None`` when nobody of that name can be notified (an API key,
    the CLI, a user deleted since)."""
    user = auth.find_user(conn, org_id, username)
    if user is None:
        return None
    notification_id = repository.insert_notification(
        conn,
        {
            "org_id": org_id,
            "user_id": int(user["id"]),
            "kind": event.kind,
            "subject_type": event.subject_type,
            "subject_id": event.subject_id,
            "title": event.title[:255],
            "body": event.body,
            "link": event.link[:255],
        },
    )
    if settings.mail_enabled and user["email"] and user["is_active"]:
        queue_mail(conn, settings, org_id, str(user["email"]), event)
    return notification_id


def queue_mail(
    conn: Connection, settings: Settings, org_id: int, recipient: str, event: Event
) -> int:
    """Put the mail announcing ``event`` in the outbox (sent by the worker)."""
    link = event.mail_link or settings.base_url() + event.link
    body = f"{event.title}\n\n{event.body}\n\n{event.link_label}: {link}\n\n-- \npatron\n"
    return repository.insert_mail(
        conn,
        {
            "org_id": org_id,
            "recipient": recipient,
            "subject": event.title[:255],
            "body": body,
            "state": "pending",
            "next_attempt_at": utcnow(),
        },
    )


# --- the console's list -----------------------------------------------------------------------


def _user_id(conn: Connection, actor: Actor) -> int:
    user = auth.find_user(conn, actor.org_id, actor.name)
    if user is None:
        raise NotFound(generic.NOT_FOUND, f"no user named {actor.name!r} in this org")
    return int(user["id"])


def unread_count(conn: Connection, actor: Actor) -> int:
    """How many of the signed-in user's notifications are unread."""
    user = auth.find_user(conn, actor.org_id, actor.name)
    if user is None:
        return 0
    return repository.count_notifications(conn, actor.org_id, int(user["id"]), unread=True)


def list_notifications(
    conn: Connection, actor: Actor, *, offset: int = 0, limit: int = PAGE_SIZE
) -> NotificationPage:
    """A page of the signed-in user's notifications, newest first."""
    user_id = _user_id(conn, actor)
    rows = repository.list_notifications(
        conn, actor.org_id, user_id, limit=limit, offset=max(0, offset)
    )
    return NotificationPage(
        items=[_notification(row) for row in rows],
        unread=repository.count_notifications(conn, actor.org_id, user_id, unread=True),
        total=repository.count_notifications(conn, actor.org_id, user_id, unread=False),
        offset=max(0, offset),
        limit=limit,
    )


def mark_read(conn: Connection, actor: Actor, ids: Sequence[int] | None = None) -> int:
    """Mark the user's notifications ``ids`` read (every unread one when ``None``); another
    user's ids are left alone. Answers how many changed."""
    return repository.mark_read(conn, actor.org_id, _user_id(conn, actor), ids, utcnow())


def _notification(row: RowMapping) -> Notification:
    return Notification(
        id=int(row["id"]),
        kind=row["kind"],
        subject_type=row["subject_type"],
        subject_id=int(row["subject_id"]),
        title=row["title"],
        body=row["body"],
        link=row["link"],
        created_at=row["created_at"],
        read_at=row["read_at"],
    )
