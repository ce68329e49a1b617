"""Pure rules of loyalty: points a bill earns, the slab a value reaches, expiry and
validity dates, what a downgrade leads to, and what is due to expire. No I/O.

Amounts are ``Decimal`` with two places, as the database stores them; points are
rounded half up to the cent, as a till prints them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def money(value: Decimal | float | int | str) -> Decimal:
    """``value`` as a two-place decimal (floats through their shortest text: 0.1 is 0.10)."""
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    return number.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Slab:
    """A tier of a program: reached at ``threshold`` of the program's tier basis."""

    id: int
    serial: int
    name: str
    description: str
    threshold: Decimal
    earn_rate: Decimal
    validity_days: int | None


def points_for(amount: Decimal, earn_rate: Decimal) -> Decimal:
    """The points a bill of ``amount`` earns at ``earn_rate`` points per unit; never negative."""
    if amount <= 0 or earn_rate <= 0:
        return ZERO
    return money(amount * earn_rate)


def slab_reached(slabs: Sequence[Slab], value: Decimal) -> Slab:
    """The highest slab whose threshold ``value`` reaches (the first slab at least)."""
    ordered = sorted(slabs, key=lambda s: s.serial)
    reached = ordered[0]
    for slab in ordered:
        if value >= slab.threshold:
            reached = slab
    return reached


def next_slab(slabs: Sequence[Slab], current: Slab) -> Slab | None:
    """The slab after ``current``, or ``None`` in the highest."""
    higher = [s for s in slabs if s.serial > current.serial]
    return min(higher, key=lambda s: s.serial) if higher else None


def previous_slab(slabs: Sequence[Slab], current: Slab) -> Slab | None:
    """The slab before ``current``, or ``None`` in the lowest."""
    lower = [s for s in slabs if s.serial < current.serial]
    return max(lower, key=lambda s: s.serial) if lower else None


def downgrade_target(
    slabs: Sequence[Slab], current: Slab, period_value: Decimal, rule: str
) -> Slab:
    """Where a member whose slab's validity ended goes.

    ``period_value`` is what the member reached of the tier basis since entering
    or renewing the slab. Reaching the slab's threshold renews it; otherwise
    ``TO_QUALIFYING`` drops to the slab the value reaches, ``ONE_SLAB`` one slab
    down (no lower than that), and ``NONE`` keeps the slab.
    """
    if rule == "NONE" or period_value >= current.threshold:
        return current
    qualifying = slab_reached(slabs, period_value)
    if rule == "ONE_SLAB":
        below = previous_slab(slabs, current)
        if below is not None and below.serial > qualifying.serial:
            return below
    return qualifying if qualifying.serial < current.serial else current


def local_day(moment: datetime, zone: ZoneInfo) -> date:
    """The calendar day of ``moment`` in the org's time zone."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(zone).date()


def end_of_day(day: date, zone: ZoneInfo) -> datetime:
    """The last second of ``day`` in the org's time zone (how the seed shows expiry dates),
    in UTC, as times are stored."""
    return datetime.combine(day, time(23, 59, 59), tzinfo=zone).astimezone(UTC)


def expiry_day(earned: date, days: int | None) -> date | None:
    """The day credited points expire: ``days`` after the day they were credited."""
    return None if days is None else earned + timedelta(days=days)


def slab_expiry(since: datetime, validity_days: int | None, zone: ZoneInfo) -> datetime | None:
    """When a slab entered (or renewed) at ``since`` ends: the end of its last day."""
    if validity_days is None:
        return None
    return end_of_day(local_day(since, zone) + timedelta(days=validity_days), zone)


def due_to_expire(credits_due: Decimal, debits: Decimal) -> Decimal:
    """Points to expire now, spending the earliest-expiring credits first.

    ``credits_due`` is every credit whose expiry day has come; ``debits`` every
    point that left the balance so far (spent, transferred, taken back by
    returns, expired before). What of the due credits was not spent expires.
    Running it twice expires nothing more: the first run's expiry is a debit.
    """
    return max(ZERO, money(credits_due - debits))


def expiry_schedule(
    credits: Iterable[tuple[date, Decimal]], debits: Decimal
) -> list[tuple[date, Decimal]]:
    """The points that will expire on each coming day, spending the earliest first."""
    totals: dict[date, Decimal] = {}
    for day, amount in credits:
        totals[day] = totals.get(day, ZERO) + amount
    schedule = []
    left = debits
    for day in sorted(totals):
        amount = totals[day]
        used = min(left, amount)
        left -= used
        if amount - used > 0:
            schedule.append((day, money(amount - used)))
    return schedule
