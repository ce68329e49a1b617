"""Failed console sign-ins, counted in the database so that every server process agrees.

A failure counts against the user name tried (known or not, so the answer tells nothing
about which names exist) and against the client address. When either has used up its
failures within the window, sign-ins are refused without checking the password until the
oldest counted failure leaves the window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.engine import Connection

from patron.codes import generic
from patron.kit.errors import Unauthenticated
from patron.settings import Settings
from patron.web import repository
from patron.web.timezones import as_utc

USER = "user"
ADDRESS = "address"
_KEY_LENGTH = 200


class TooManyFailures(Unauthenticated):
    """Sign-ins of this user name or from this address are refused for a while."""


@dataclass(frozen=True)
class Limits:
    """How many failures a user name and an address may have within the window."""

    per_user: int
    per_address: int
    window: timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(
            per_user=settings.signin_max_failures,
            per_address=settings.signin_max_failures_per_address,
            window=timedelta(seconds=settings.signin_window_seconds),
        )


def _user_key(username: str) -> str:
    # Case variants of a name share one count, so they are not extra guesses.
    return username.strip().lower()[:_KEY_LENGTH]


def _keys(username: str, address: str, limits: Limits) -> list[tuple[str, str, int]]:
    return [
        (USER, _user_key(username), limits.per_user),
        (ADDRESS, address[:_KEY_LENGTH], limits.per_address),
    ]


def check(conn: Connection, limits: Limits, username: str, address: str, now: datetime) -> None:
    """Raise :class:`TooManyFailures` when the name or the address has no failures left."""
    waits = []
    for kind, key, limit in _keys(username, address, limits):
        times = repository.recent_failures(conn, kind, key, now - limits.window, limit)
        if len(times) >= limit:
            # When the limit-th newest failure leaves the window, fewer than the limit remain.
            waits.append(as_utc(times[-1]) + limits.window - now)
    if waits:
        minutes = max(1, math.ceil(max(waits).total_seconds() / 60))
        unit = "minute" if minutes == 1 else "minutes"
        raise TooManyFailures(
            generic.TOO_MANY_FAILURES, f"Too many failed sign-ins; try again in {minutes} {unit}."
        )


def record_failure(
    conn: Connection, limits: Limits, username: str, address: str, now: datetime
) -> None:
    """Count a failed sign-in against the user name and the address."""
    org_id = repository.org_of_user(conn, username.strip())
    # Failures older than the window count for nothing: dropping them keeps the table small.
    repository.delete_old_failures(conn, now - limits.window)
    repository.insert_failures(
        conn,
        [
            {"org_id": org_id if kind == USER else None, "kind": kind, "key": key, "failed_at": now}
            for kind, key, _limit in _keys(username, address, limits)
        ],
    )


def clear(conn: Connection, username: str) -> None:
    """Forget the failures of a user name after its user signed in."""
    repository.delete_failures(conn, USER, _user_key(username))
