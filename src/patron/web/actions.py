"""One change made from a console form: run it in a transaction, show its outcome or error."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy.engine import Connection

from patron.api.deps import engine_of
from patron.auth.actor import Role
from patron.codes import generic
from patron.kit.db import transaction
from patron.kit.errors import InvalidInput, PatronError
from patron.web.errors import PAGE_STATUS

#: A change: takes the connection, returns the context to show (``notice``, a secret...).
Work = Callable[[Connection], dict[str, Any]]
#: Renders the page or fragment with the outcome: ``show(status_code=..., **context)``.
Show = Callable[..., Response]


def act(request: Request, work: Work, show: Show) -> Response:
    """Run ``work`` in one transaction; a refused change shows its message, nothing changed."""
    try:
        with transaction(engine_of(request)) as conn:
            outcome = work(conn)
    except PatronError as exc:
        status = next(s for cls, s in PAGE_STATUS.items() if isinstance(exc, cls))
        return show(status_code=status, error=exc.message)
    return show(**outcome)


def parse_role(name: str) -> Role:
    """A role from a form's value."""
    try:
        return Role.parse(name)
    except ValueError as exc:
        raise InvalidInput(generic.INVALID_INPUT, str(exc)) from None
