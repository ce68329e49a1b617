"""Counting the statements a piece of work sends to the database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import Engine


@contextmanager
def recorded_statements(engine: Engine) -> Iterator[list[str]]:
    """The statements ``engine`` sends inside the block, in order (SQLite's ``BEGIN``, sent
    as a statement, left out so both databases count alike)."""
    seen: list[str] = []

    def executed(*args: object) -> None:
        if not str(args[2]).startswith("BEGIN"):
            seen.append(str(args[2]))

    sa.event.listen(engine, "before_cursor_execute", executed)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", executed)
