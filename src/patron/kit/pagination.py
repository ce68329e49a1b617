"""Limit / offset pagination with a hard maximum."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field

from patron.codes import generic
from patron.kit.db import MAX_ID
from patron.kit.errors import InvalidInput
from patron.settings import get_settings

#: The largest offset: both databases take an offset as a 64-bit integer and refuse a
#: larger one with an error (SQLite's driver before the query runs).
MAX_OFFSET = MAX_ID


@dataclass(frozen=True)
class Page:
    """A validated page request."""

    limit: int
    offset: int

    def envelope(self, total: int) -> dict[str, Any]:
        return {"limit": self.limit, "offset": self.offset, "total": total}


class Pagination(BaseModel):
    """The page an answer holds (``Page.envelope``): shared by every paged answer."""

    limit: int = Field(description="The most items the page holds.")
    offset: int = Field(description="How many items come before the page.")
    total: int = Field(description="How many items there are in all.")


def page(limit: int | None, offset: int | None) -> Page:
    """Validate ``limit``/``offset``; ``limit`` is capped by ``max_page_size``."""
    settings = get_settings()
    limit = settings.default_page_size if limit is None else limit
    offset = 0 if offset is None else offset
    if limit < 1 or offset < 0:
        raise InvalidInput(generic.INVALID_INPUT, "limit must be at least 1 and offset at least 0")
    if offset > MAX_OFFSET:
        raise InvalidInput(generic.INVALID_INPUT, f"offset may be at most {MAX_OFFSET}")
    if limit > settings.max_page_size:
        raise InvalidInput(generic.INVALID_INPUT, f"limit may be at most {settings.max_page_size}")
    return Page(limit=limit, offset=offset)
