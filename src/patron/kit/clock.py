"""Timestamps as the API writes them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from patron.codes import generic
from patron.kit.errors import InvalidInput


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with its offset; SQLite hands back naive UTC values."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat()


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


def range_bound(raw: str | None, name: str, *, end: bool) -> datetime | None:
    """One end of a date range given as an ISO 8601 date or date-time, in UTC.

    A date covers its whole day (UTC): as a start, its first moment; as an end,
    the first moment of the next day. A date-time end is inclusive, so the next
    microsecond bounds it. Either way an end is exclusive (``<``); ``None`` when
    not given; 400 naming ``name`` when not a date.
    """
    text = (raw or "").strip()
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidInput(
                generic.INVALID_INPUT, f"{name} must be an ISO 8601 date or date-time, not {raw!r}"
            ) from None
        moment = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)
        return moment + timedelta(microseconds=1) if end else moment
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return start + timedelta(days=1) if end else start
