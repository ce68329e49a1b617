"""The daily loyalty job of an org: delayed points become spendable, credited points
expire, and slabs whose validity ended are renewed or moved down. (The worker here
also refreshes the org's recommendations daily: :mod:`patron.loyalty.recommendations`.)

Run by the job worker once a day per org (``patron serve`` / ``patron worker``,
:class:`LoyaltyWorker`), or by hand (``patron loyalty expire``). Every step is
idempotent: a release settles its earn, an expiry is computed from the balance's
history (credits due less everything spent, see :func:`rules.due_to_expire`), a
renewal moves the slab's end; so running a day twice changes nothing more.

Days are the org's calendar days (its ``time_zone``): points credited on day D
with an expiry of N days expire when the job runs on day D + N.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal

from sqlalchemy.engine import Connection, Engine

from patron.auth.actor import Actor, Role
from patron.kit.clock import utcnow
from patron.kit.db import is_lock_timeout, transaction
from patron.loyalty import job_repository, ledger, programs
from patron.loyalty import ledger_repository as repository
from patron.loyalty.ledger import Balance, Posting
from patron.loyalty.programs import Program
from patron.loyalty.recommendations import refresh_due
from patron.loyalty.rules import ZERO, downgrade_target, due_to_expire, expiry_day, local_day, money

log = logging.getLogger(__name__)

#: The job's name in the job runs table, and the actor its entries name.
EXPIRY_JOB = "expiry"
JOB_ACTOR_NAME = "loyalty-job"


def job_actor(org_id: int) -> Actor:
    return Actor(org_id=org_id, role=Role.admin, name=JOB_ACTOR_NAME, kind="job")


@dataclass
class DayReport:
    """What one run did."""

    day: date
    released: Decimal = ZERO
    expired: Decimal = ZERO
    members_expired: int = 0
    renewed: int = 0
    downgraded: int = 0

    def as_dict(self) -> dict[str, object]:
        return {
            "day": self.day.isoformat(),
            "releasedPoints": float(self.released),
            "expiredPoints": float(self.expired),
            "membersExpired": self.members_expired,
            "slabsRenewed": self.renewed,
            "slabsDowngraded": self.downgraded,
        }


def run_day(
    conn: Connection, org_id: int, today: date | None = None, *, at: datetime | None = None
) -> DayReport:
    """Release, expire and renew or downgrade for ``today`` (default: the org's today)."""
    actor = job_actor(org_id)
    zone = ledger.zone_of(conn, org_id)
    moment = (at or utcnow()).astimezone(UTC)
    day = today or local_day(moment, zone)
    report = DayReport(day=day)
    cache: dict[int, Program] = {}

    def program(program_id: int) -> Program:
        if program_id not in cache:
            cache[program_id] = programs.program_by_id(conn, org_id, program_id)
        return cache[program_id]

    for earned in repository.delayed_due(conn, org_id, day):
        found = program(int(earned["program_id"]))
        returned = sum(
            (money(e["delayed_returned"]) for e in repository.settled(conn, org_id, earned["id"])),
            ZERO,
        )
        amount = money(earned["delayed"]) - returned
        ledger.post(
            conn,
            actor,
            found,
            int(earned["customer_id"]),
            Posting(
                kind="RELEASE",
                cause="job",
                amounts={"points": amount, "delayed": -amount},
                ref_entry_id=int(earned["id"]),
                transaction_id=earned["transaction_id"],
                expires_on=expiry_day(day, found.points_expiry_days) if amount > 0 else None,
            ),
            at=moment,
            floor=False,
            zone=zone,
        )
        report.released += amount

    for program_id, customer_id in repository.members_due_to_expire(conn, org_id, day):
        repository.lock_balances(conn, org_id, program_id, [customer_id])
        credits, debits = repository.credits_and_debits(conn, org_id, program_id, customer_id, day)
        amount = due_to_expire(credits, debits)
        if amount <= 0:
            continue
        ledger.post(
            conn,
            actor,
            program(program_id),
            customer_id,
            Posting(
                kind="EXPIRE",
                cause="job",
                amounts={"points": -amount, "expired": amount},
                details={"day": day.isoformat()},
            ),
            at=moment,
            floor=False,
            zone=zone,
        )
        report.expired += amount
        report.members_expired += 1

    start_of_day = datetime.combine(day, time.min, tzinfo=zone).astimezone(UTC)
    for row in repository.slabs_ended(conn, org_id, start_of_day):
        current = Balance.of(row)
        found = program(current.program_id)
        slab = found.slab(current.slab_id)
        column = "purchases" if found.tier_basis == "CUMULATIVE_PURCHASES" else "lifetime_points"
        since = current.slab_since or moment
        value = repository.period_value(conn, org_id, found.id, current.customer_id, column, since)
        target = downgrade_target(found.slabs, slab, value, found.downgrade_rule)
        reason = "DOWNGRADE" if target.serial < slab.serial else "RENEWAL"
        ledger.move_slab(
            conn, actor, found, current, target, at=moment, zone=zone, reason=reason, cause="job"
        )
        if reason == "DOWNGRADE":
            report.downgraded += 1
        else:
            report.renewed += 1
    return report


def run_due(engine: Engine, now: datetime | None = None) -> dict[int, DayReport]:
    """Run today's job for every org that has not had it today (each in its own
    transaction, so one org's failure leaves the others' work done)."""
    moment = now or utcnow()
    with transaction(engine, write=False) as conn:
        org_ids = job_repository.orgs_with_programs(conn)
    done: dict[int, DayReport] = {}
    for org_id in org_ids:
        try:
            with transaction(engine) as conn:
                day = local_day(moment, ledger.zone_of(conn, org_id))
                if job_repository.claim(conn, org_id, EXPIRY_JOB, day):
                    done[org_id] = run_day(conn, org_id, day, at=moment)
        except Exception as exc:
            if not is_lock_timeout(exc):
                log.exception(
                    "loyalty job of org %s failed; it runs again at the next poll", org_id
                )
                continue
            # SQLite: another writer (a long import commit) held the database past the busy
            # timeout; the claim rolled back with the rest, so the day runs at the next poll.
            # The other orgs would wait as long each: they too wait for the next poll.
            log.debug(
                "loyalty job of org %s: the database is busy; it runs at the next poll", org_id
            )
            break
    return done


class LoyaltyWorker:
    """A background thread running the daily loyalty jobs (inside ``patron serve``).

    Polls every ``poll_seconds``; the job runs table decides who runs what, so any
    number of processes may poll.
    """

    def __init__(
        self,
        engine: Engine,
        poll_seconds: float = 60.0,
        jobs: tuple[Callable[[Engine], object], ...] | None = None,
    ) -> None:
        self.engine = engine
        self.poll_seconds = poll_seconds
        self.jobs = jobs or (run_due, refresh_due)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="patron-loyalty", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def run_once(self) -> None:
        """One poll: every job once; a database busy with another writer waits for the next."""
        for job in self.jobs:
            try:
                job(self.engine)
            except Exception as exc:
                if is_lock_timeout(exc):
                    log.debug("loyalty jobs: the database is busy; they run at the next poll")
                else:
                    log.exception("loyalty job failed")

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.run_once()
            self._stop.wait(self.poll_seconds)
