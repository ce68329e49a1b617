"""Sending the outbox: what is due goes to the SMTP server; what it does not take waits.

A worker claims a batch of due mails (each claim counts as an attempt and holds the
mail for a while, so two workers never send the same one and a worker that died
leaves it due again), sends them in one SMTP session, and records each outcome.
A mail the server did not take is tried again after :func:`backoff` (30 s, 1 min,
2 min... up to an hour); after :data:`MAX_ATTEMPTS` it is marked failed. Nothing
here raises into the caller: the worker's other jobs (and the imports) go on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.engine import Engine

from patron.kit.clock import utcnow
from patron.kit.db import is_lock_timeout, transaction
from patron.notifications import repository
from patron.notifications.mailer import Mailer, MailError
from patron.settings import Settings

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 20
MAX_DELAY = timedelta(hours=1)
#: Mails claimed at once (one SMTP session).
BATCH = 50
#: How long a claimed mail is held for its worker: longer than a batch can take.
HOLD = timedelta(minutes=10)


@dataclass(frozen=True)
class Drained:
    sent: int = 0
    retried: int = 0
    failed: int = 0


def backoff(settings: Settings, attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failed try: doubling from the first, capped."""
    seconds = settings.mail_retry_seconds * 2 ** max(0, attempts - 1)
    return min(timedelta(seconds=seconds), MAX_DELAY)


def drain(engine: Engine, settings: Settings) -> Drained:
    """Send every mail due now (batch after batch); answer what became of them."""
    if not settings.mail_enabled:
        return Drained()
    total = Drained()
    while True:
        done = _batch(engine, settings)
        total = Drained(
            total.sent + done.sent, total.retried + done.retried, total.failed + done.failed
        )
        if done.retried or done.sent + done.failed < BATCH:
            # Fewer than a batch: nothing more is due. A retried mail: the server is
            # unwell, the rest waits for the next round rather than meeting it now.
            return total


def _batch(engine: Engine, settings: Settings) -> Drained:
    now = utcnow()
    with transaction(engine, write=False) as conn:
        if not repository.has_due_mail(conn, now):
            return Drained()
    try:
        with transaction(engine) as conn:
            claimed = repository.claim_due_mail(conn, now, now + HOLD, BATCH)
    except Exception as exc:
        if not is_lock_timeout(exc):
            raise
        return Drained()  # SQLite: another writer holds the database; next round
    if not claimed:
        return Drained()
    outcomes: list[tuple[int, int, str | None]] = []  # (id, attempts, error)
    try:
        with Mailer(settings) as mailer:
            for mail in claimed:
                try:
                    mailer.send(mail["recipient"], mail["subject"], mail["body"])
                    outcomes.append((int(mail["id"]), int(mail["attempts"]), None))
                except MailError as exc:
                    outcomes.append((int(mail["id"]), int(mail["attempts"]), str(exc)))
    except MailError as exc:
        sent = {mail_id for mail_id, _, error in outcomes if error is None}
        outcomes = [(i, a, e) for i, a, e in outcomes if i in sent]
        outcomes += [
            (int(m["id"]), int(m["attempts"]), str(exc)) for m in claimed if m["id"] not in sent
        ]
        log.warning("mail not sent, to be tried again: %s", exc)
    return _record(engine, settings, outcomes)


def _record(
    engine: Engine, settings: Settings, outcomes: list[tuple[int, int, str | None]]
) -> Drained:
    sent = retried = failed = 0
    now = utcnow()
    with transaction(engine) as conn:
        for mail_id, attempts, error in outcomes:
            if error is None:
                repository.mark_sent(conn, mail_id, now)
                sent += 1
                continue
            give_up = attempts >= MAX_ATTEMPTS
            repository.mark_not_sent(
                conn, mail_id, error, now + backoff(settings, attempts), give_up=give_up
            )
            if give_up:
                log.error("mail %s given up after %s attempts: %s", mail_id, attempts, error)
                failed += 1
            else:
                retried += 1
    return Drained(sent, retried, failed)
