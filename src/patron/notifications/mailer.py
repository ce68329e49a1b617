"""The SMTP client: one conversation per batch of mails, as ``PATRON_SMTP_*`` configure it."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from patron.settings import Settings


class MailError(Exception):
    """The SMTP server could not be reached or did not take a mail (tried again later)."""


def message(settings: Settings, recipient: str, subject: str, body: str) -> EmailMessage:
    """A plain-text mail from ``PATRON_MAIL_FROM``."""
    mail = EmailMessage()
    mail["From"] = settings.mail_from
    mail["To"] = recipient
    mail["Subject"] = subject
    mail["Date"] = formatdate(localtime=False)
    mail["Message-ID"] = make_msgid(domain=settings.mail_from.rpartition("@")[2] or None)
    mail.set_content(body)
    return mail


class Mailer:
    """An open SMTP session: ``with Mailer(settings) as mailer: mailer.send(...)``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None

    def __enter__(self) -> Mailer:
        settings = self.settings
        try:
            smtp = smtplib.SMTP(
                settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout_seconds
            )
        except (OSError, smtplib.SMTPException) as exc:
            raise MailError(
                f"cannot reach the SMTP server {settings.smtp_host}:{settings.smtp_port}: {exc}"
            ) from exc
        try:
            smtp.ehlo()
            if settings.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if settings.smtp_user:
                smtp.login(settings.smtp_user, settings.smtp_password)
        except (OSError, smtplib.SMTPException) as exc:
            smtp.close()
            raise MailError(f"the SMTP server refused the session: {exc}") from exc
        self._smtp = smtp
        return self

    def __exit__(self, *_: object) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()

    def send(self, recipient: str, subject: str, body: str) -> None:
        """Hand one mail to the server; :class:`MailError` when it does not take it."""
        assert self._smtp is not None, "use the mailer in a with block"
        try:
            self._smtp.send_message(message(self.settings, recipient, subject, body))
        except (OSError, smtplib.SMTPException) as exc:
            raise MailError(f"the SMTP server did not take the mail: {exc}") from exc
