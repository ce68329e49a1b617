"""Notifications and mail: an import or export that ends tells its user in the console and by
mail through a real SMTP server (aiosmtpd on a loopback port); a server that is down delays
the mail, never the import, and the mail goes out once it is back."""

from __future__ import annotations

import email
import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy.engine import Engine

from patron.auth import service as auth
from patron.auth.actor import Actor, Role
from patron.exports import jobs as export_jobs
from patron.exports import service as exports
from patron.imports import jobs, service
from patron.imports import repository as repo
from patron.imports.read import ReadLimits, read_upload
from patron.kit.db import transaction
from patron.notifications import outbox
from patron.notifications import repository as notices
from patron.notifications import service as notifications
from patron.notifications.tables import mail_outbox
from patron.settings import get_settings
from tests.conftest import OrgHandle, unique
from tests.exporting import fill_store
from tests.importing import csv, import_org

PUBLIC = "https://patron.example.test"
HEADER = "First Name,Last Name,Mobile,Email,Store"
ROWS = (
    "Ann,Lee,919800001001,ann@example.com,mal",
    "Bob,Ray,919800001002,bob@example.com,mal",
    "Cy,Dee,12,cy@example.com,blr",  # refused: the mobile is too short
)


@dataclass
class Inbox:
    """What the SMTP server received."""

    mails: list[tuple[str, list[str], Message]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content = envelope.content
        message = email.message_from_bytes(
            content if isinstance(content, bytes) else content.encode()
        )
        self.mails.append((envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Smtp:
    port: int
    inbox: Inbox
    controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch) -> Iterator[Smtp]:
    """A real SMTP server on a loopback port, and patron's settings pointing at it."""
    server = Smtp(free_port(), Inbox())
    for name, value in {
        "PATRON_SMTP_HOST": "127.0.0.1",
        "PATRON_SMTP_PORT": str(server.port),
        "PATRON_SMTP_STARTTLS": "false",
        "PATRON_MAIL_FROM": "patron@example.test",
        "PATRON_PUBLIC_URL": PUBLIC + "/",
        "PATRON_MAIL_RETRY_SECONDS": "0.01",
    }.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    server.start()
    yield server
    server.stop()
    monkeypatch.undo()
    get_settings.cache_clear()


def user_of(engine: Engine, org: OrgHandle, *, email_address: str | None) -> Actor:
    name = unique("editor")
    with transaction(engine) as conn:
        auth.create_user(conn, org.admin, name, Role.editor, "a long password", email_address)
    return Actor(org_id=org.id, role=Role.editor, name=name, kind="user")


def import_as(engine: Engine, org: OrgHandle, actor: Actor, *rows: str) -> int:
    table = read_upload(csv(HEADER, *rows).encode(), "spring.csv", ReadLimits())
    request = service.ImportRequest(
        profile="loyalty-customers", file_name="spring.csv", confirmed=True
    )
    with transaction(engine) as conn:
        created = service.create_import(conn, actor, request, table)
    assert jobs.run_import(engine, org.id, created.import_id) == "committed"
    return created.import_id


def drain(engine: Engine) -> outbox.Drained:
    return outbox.drain(engine, get_settings())


def test_an_import_that_ends_notifies_its_user_and_mails_them(engine: Engine, smtp: Smtp) -> None:
    org = import_org(engine)
    actor = user_of(engine, org, email_address="Editor@Example.test")
    import_id = import_as(engine, org, actor, *ROWS)
    with transaction(engine, write=False) as conn:
        page = notifications.list_notifications(conn, actor)
    assert page.unread == 1
    [notice] = page.items
    assert notice.kind == "import.committed"
    assert notice.title == "Import of spring.csv imported"
    assert notice.link == f"/imports/{import_id}"
    assert "2 new" in notice.body
    assert "1 rejected" in notice.body
    assert drain(engine).sent == 1
    [(sender, recipients, message)] = smtp.inbox.mails
    assert sender == "patron@example.test"
    assert recipients == ["editor@example.test"]
    assert message["Subject"] == "Import of spring.csv imported"
    assert message["To"] == "editor@example.test"
    body = message.get_payload(decode=True).decode()
    assert "3 rows, 2 new, 0 updated, 0 skipped, 1 rejected, 0 auto-corrected" in body
    assert f"Report: {PUBLIC}/imports/{import_id}" in body
    # Sent once: the next round finds nothing due.
    assert drain(engine).sent == 0
    assert len(smtp.inbox.mails) == 1


def test_an_import_that_cannot_be_committed_says_why(engine: Engine, smtp: Smtp) -> None:
    org = import_org(engine)
    actor = user_of(engine, org, email_address="ed@example.test")
    table = read_upload(csv(HEADER, *ROWS).encode(), "broken.csv", ReadLimits())
    request = service.ImportRequest(profile="loyalty-customers", file_name="broken.csv")
    with transaction(engine) as conn:
        created = service.create_import(conn, actor, request, table)
    # The preview is not announced: the person confirms it at its report.
    assert jobs.run_import(engine, org.id, created.import_id) == "previewed"
    with transaction(engine, write=False) as conn:
        assert notifications.list_notifications(conn, actor).total == 0
    with transaction(engine) as conn:
        service.confirm(conn, actor, created.import_id)
        repo.delete_frames(conn, org.id, created.import_id, ("source",))  # the file is gone
    assert jobs.run_import(engine, org.id, created.import_id) == "invalid"
    with transaction(engine, write=False) as conn:
        [notice] = notifications.list_notifications(conn, actor).items
    assert notice.kind == "import.invalid"
    assert notice.failed
    assert notice.title == "Import of broken.csv could not be imported"
    assert "has no stored file" in notice.body
    assert drain(engine).sent == 1
    [(_, recipients, message)] = smtp.inbox.mails
    assert recipients == ["ed@example.test"]
    assert message["Subject"] == "Import of broken.csv could not be imported"
    assert "Reason:" in message.get_payload(decode=True).decode()


def test_a_mail_server_that_is_down_delays_mail_not_the_import(engine: Engine, smtp: Smtp) -> None:
    smtp.stop()
    org = import_org(engine)
    actor = user_of(engine, org, email_address="ed@example.test")
    import_id = import_as(engine, org, actor, ROWS[0])  # committed all the same
    first = drain(engine)
    assert (first.sent, first.retried) == (0, 1)
    with transaction(engine, write=False) as conn:
        [mail] = notices.mails_of_org(conn, org.id)
    assert mail["state"] == "pending"
    assert mail["attempts"] == 1
    assert "cannot reach the SMTP server" in mail["last_error"]
    # Tried again after the backoff, still down: the wait doubles.
    time.sleep(0.05)
    assert drain(engine).retried == 1
    with transaction(engine, write=False) as conn:
        [mail] = notices.mails_of_org(conn, org.id)
    assert mail["attempts"] == 2
    settings = get_settings()
    assert outbox.backoff(settings, 2) == 2 * outbox.backoff(settings, 1)
    assert outbox.backoff(settings, 40) == outbox.MAX_DELAY
    # The server is back: the mail goes out at the next round after its wait.
    smtp.start()
    time.sleep(0.1)
    assert drain(engine).sent == 1
    [(_, recipients, message)] = smtp.inbox.mails
    assert recipients == ["ed@example.test"]
    assert message["Subject"] == "Import of spring.csv imported"
    assert f"{PUBLIC}/imports/{import_id}" in message.get_payload(decode=True).decode()
    with transaction(engine, write=False) as conn:
        [mail] = notices.mails_of_org(conn, org.id)
    assert mail["state"] == "sent"


def test_mail_is_given_up_after_its_attempts(engine: Engine, smtp: Smtp) -> None:
    smtp.stop()
    org = import_org(engine)
    actor = user_of(engine, org, email_address="ed@example.test")
    import_as(engine, org, actor, ROWS[0])
    with transaction(engine) as conn:
        conn.execute(
            mail_outbox.update()
            .where(mail_outbox.c.org_id == org.id)
            .values(attempts=outbox.MAX_ATTEMPTS - 1)
        )
    assert drain(engine).failed == 1
    with transaction(engine, write=False) as conn:
        [mail] = notices.mails_of_org(conn, org.id)
    assert mail["state"] == "failed"
    smtp.start()
    assert drain(engine).sent == 0


def test_no_mail_without_an_address_or_without_smtp(engine: Engine, smtp: Smtp) -> None:
    org = import_org(engine)
    silent = user_of(engine, org, email_address=None)
    import_as(engine, org, silent, ROWS[0])
    with transaction(engine, write=False) as conn:
        assert notifications.list_notifications(conn, silent).unread == 1
        assert notices.mails_of_org(conn, org.id) == []
    # Mail off (no SMTP host): the console's notification only.
    other = import_org(engine)
    mailed = user_of(engine, other, email_address="ed@example.test")
    smtp_host = get_settings().smtp_host
    get_settings.cache_clear()
    os.environ["PATRON_SMTP_HOST"] = ""
    try:
        assert not get_settings().mail_enabled
        import_as(engine, other, mailed, ROWS[1])
    finally:
        os.environ["PATRON_SMTP_HOST"] = smtp_host
        get_settings.cache_clear()
    with transaction(engine, write=False) as conn:
        assert notifications.list_notifications(conn, mailed).unread == 1
        assert notices.mails_of_org(conn, other.id) == []


def test_reading_and_marking_notifications(engine: Engine, smtp: Smtp) -> None:
    org = import_org(engine)
    actor = user_of(engine, org, email_address=None)
    neighbour = user_of(engine, org, email_address=None)
    first = import_as(engine, org, actor, ROWS[0])
    second = import_as(engine, org, actor, ROWS[1])
    import_as(engine, org, neighbour, ROWS[2])
    with transaction(engine) as conn:
        page = notifications.list_notifications(conn, actor)
        assert [n.subject_id for n in page.items] == [second, first]  # newest first
        assert page.unread == 2
        assert notifications.mark_read(conn, actor, [page.items[1].id]) == 1
        # Another user's notification is not this user's to mark.
        theirs = notifications.list_notifications(conn, neighbour).items[0].id
        assert notifications.mark_read(conn, actor, [theirs]) == 0
        assert notifications.unread_count(conn, actor) == 1
        assert notifications.mark_read(conn, actor) == 1
        assert notifications.unread_count(conn, actor) == 0
        assert notifications.unread_count(conn, neighbour) == 1


def test_an_export_job_mails_its_signed_link(engine: Engine, smtp: Smtp) -> None:
    org = import_org(engine)
    actor = user_of(engine, org, email_address="ed@example.test")
    fill_store(engine, org, 1_050)
    with transaction(engine) as conn:
        started = exports.start_export(conn, actor, exports.ExportRequest(fields="all"))
    assert isinstance(started, exports.Export)
    settings = get_settings()
    # Exports other tests left queued are written too.
    assert export_jobs.run_pending(engine, "test", settings) >= 1
    with transaction(engine, write=False) as conn:
        [notice] = notifications.list_notifications(conn, actor).items
    assert notice.kind == "export.ready"
    assert notice.title == "Export of 1,050 profiles is ready (CSV)"
    assert notice.link == f"/exports/{started.id}"
    assert drain(engine).sent == 1
    [(_, recipients, message)] = smtp.inbox.mails
    assert recipients == ["ed@example.test"]
    assert message["Subject"] == "Export of 1,050 profiles is ready (CSV)"
    body = message.get_payload(decode=True).decode()
    prefix = f"Download: {PUBLIC}/exports/{started.id}/download?expires="
    assert prefix in body
    assert "1,050 profiles, all fields, CSV" in body
