"""Recommendations: the products a customer is most likely to buy next.

Item to item, from co-purchases: two items score one for every customer who bought
both (and did not return them whole). The job worker computes the scores set-based
once a day per org (``refresh_due``; ``patron loyalty refresh-recommendations`` by
hand); a customer's recommendations are the items scored highest with what it (and
the customers merged into it) ever bought, less what it bought in the last
``recent_days`` days.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Connection, Engine

from patron.codes import generic, loyalty
from patron.customer import care_repository, lookup
from patron.kit.clock import utcnow
from patron.kit.db import is_lock_timeout, transaction
from patron.kit.errors import InvalidInput, Notice
from patron.loyalty import job_repository, ledger
from patron.loyalty import recommendation_repository as repository
from patron.loyalty.rules import local_day

log = logging.getLogger(__name__)

RECOMMENDATIONS_JOB = "recommendations"
MAX_LIMIT = 100
DEFAULT_RECENT_DAYS = 30


@dataclass(frozen=True)
class Wanted:
    limit: int = 10
    recent_days: int = DEFAULT_RECENT_DAYS


def recommend(
    conn: Connection, org_id: int, customer_id: int, wanted: Wanted, *, now: datetime | None = None
) -> tuple[list[dict[str, Any]], list[Notice]]:
    """The items to recommend to a customer, best first (warning 1051 when none)."""
    if not 1 <= wanted.limit <= MAX_LIMIT:
        raise InvalidInput(generic.INVALID_INPUT, f"limit must be from 1 to {MAX_LIMIT}")
    if not 0 <= wanted.recent_days <= 3660:
        raise InvalidInput(generic.INVALID_INPUT, "recentDays must be from 0 to 3660")
    resolved = lookup.resolve(conn, org_id, customer_id)
    family = care_repository.merge_family(conn, org_id, resolved.id)
    since = (now or utcnow()) - timedelta(days=wanted.recent_days)
    rows = repository.picks(conn, org_id, family, recent_since=since, limit=wanted.limit)
    names = repository.descriptions(conn, org_id, [str(r["sku"]) for r in rows])
    found = [
        {"sku": r["sku"], "description": names.get(str(r["sku"]), ""), "score": int(r["score"])}
        for r in rows
    ]
    warnings = list(resolved.warnings)
    if not found:
        warnings.append(Notice(loyalty.NOTHING_FOUND, "No recommendations found for the customer"))
    return found, warnings


def refresh(conn: Connection, org_id: int) -> int:
    """Compute the org's item-to-item scores again; answers how many pairs it keeps."""
    return repository.refresh_pairs(conn, org_id)


def refresh_due(engine: Engine, now: datetime | None = None) -> dict[int, int]:
    """Refresh the scores of every org with bills that has not had it today."""
    moment = now or utcnow()
    with transaction(engine, write=False) as conn:
        org_ids = repository.orgs_with_lines(conn)
    done: dict[int, int] = {}
    for org_id in org_ids:
        try:
            with transaction(engine) as conn:
                day = local_day(moment, ledger.zone_of(conn, org_id))
                if job_repository.claim(conn, org_id, RECOMMENDATIONS_JOB, day):
                    done[org_id] = refresh(conn, org_id)
        except Exception as exc:
            if not is_lock_timeout(exc):
                log.exception(
                    "recommendations of org %s failed; they refresh at the next poll", org_id
                )
                continue
            # SQLite: another writer held the database past the busy timeout; nothing was
            # claimed, so every org still due refreshes at the next poll.
            log.debug("recommendations of org %s: the database is busy; next poll", org_id)
            break
    return done
