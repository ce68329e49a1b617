"""Reading console forms and query strings: days in the org's time zone, clean URLs, errors.

The services take dates as ISO dates (a UTC day) or date-times; a person picking
"from 3 March" on a page means 3 March where the org is, so the page turns the day into
the moment it starts (or ends) in the org's time zone before asking the service.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from starlette.datastructures import QueryParams

from patron.codes import generic
from patron.kit.db import MAX_ID
from patron.kit.errors import InvalidInput, PatronError

#: Query and form values: one text, or several (a multiple choice).
Values = Mapping[str, str | Sequence[str]]


def local_day(raw: str | None, time_zone: str, *, end: bool, label: str) -> str | None:
    """A day (``YYYY-MM-DD``) in ``time_zone`` as the ISO date-time the services take.

    As a start, the first moment of the day; as an end, the last microsecond of the day
    (the services treat a date-time end as inclusive). ``None`` when not given.
    """
    text = (raw or "").strip()
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            generic.INVALID_INPUT, f"{label}: enter a date as YYYY-MM-DD, not {raw!r}"
        ) from None
    zone = ZoneInfo(time_zone)
    start = datetime(day.year, day.month, day.day, tzinfo=zone)
    if not end:
        return start.isoformat()
    # The next day's start in the zone (a day may last 23 or 25 hours), less a microsecond.
    following = datetime.combine(day + timedelta(days=1), start.time(), tzinfo=zone)
    return (following - timedelta(microseconds=1)).isoformat()


def clean_query(values: Values) -> str:
    """A query string of the values that were given (empty fields left out), in order."""
    pairs: list[tuple[str, str]] = []
    for name, value in values.items():
        items: Iterable[str] = [value] if isinstance(value, str) else value
        pairs += [(name, item) for item in items if item.strip()]
    return urlencode(pairs)


def texts(params: QueryParams, name: str) -> list[str]:
    """Every non-empty value of ``name``, trimmed."""
    return [value.strip() for value in params.getlist(name) if value.strip()]


def ids(values: Iterable[str], *, label: str = "id") -> list[int]:
    """Ids from form values, each once and in order; a value that is no id is refused."""
    found: dict[int, None] = {}
    for value in values:
        text = value.strip()
        if not (text.isascii() and text.isdigit()) or not 0 < int(text) <= MAX_ID:
            raise InvalidInput(generic.INVALID_INPUT, f"{label} {value!r} is not a profile id")
        found.setdefault(int(text), None)
    return list(found)


def field_of(exc: PatronError, prefixes: Mapping[str, str]) -> str:
    """The form field an error concerns, by the start of its message (``""``: the form)."""
    return next((name for start, name in prefixes.items() if exc.message.startswith(start)), "")
