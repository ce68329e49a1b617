"""Timestamps shown in the org's time zone."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

TIME_FORMAT = "%Y-%m-%d %H:%M %Z"


def as_utc(value: datetime) -> datetime:
    """``value`` as an aware UTC datetime; SQLite hands back naive UTC values."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def localtime(value: datetime | None, time_zone: str) -> str:
    """``value`` in ``time_zone`` (an IANA name), to the minute, with the zone's abbreviation."""
    if value is None:
        return ""
    return as_utc(value).astimezone(ZoneInfo(time_zone)).strftime(TIME_FORMAT)
