"""One form of a profile page's section, posted: its change in one transaction, then the
section again (htmx) or a redirect to it, with the refusal beside what caused it.

The care and loyalty sections share this; each says where its forms sit on the page and
how a refusal finds its field.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.engine import Connection

from patron.api.deps import engine_of
from patron.auth.actor import Actor
from patron.customer import lookup
from patron.kit.db import transaction
from patron.kit.errors import PatronError
from patron.web import forms
from patron.web.errors import PAGE_STATUS
from patron.web.routes.profile import _page
from patron.web.templating import is_htmx


@dataclass(frozen=True)
class Section:
    """A section of the profile page whose forms post changes."""

    fragment: str
    """The section's template, answered alone to htmx."""
    notice: str
    """The template's name for the notice a change answers."""
    anchor: Callable[[str], str]
    """Where a form's section starts on the page, by the form's name."""
    fields: Mapping[str, str] = field(default_factory=dict)
    """Which field a refusal concerns, by the start of its message (none: the form)."""


class _Gone(Exception):
    """The page's person cannot be resolved: its error is the page's, not a form's."""

    def __init__(self, error: PatronError) -> None:
        super().__init__(error.message)
        self.error = error


def change(
    request: Request,
    actor: Actor,
    customer_id: int,
    section: Section,
    form: str,
    typed: dict[str, str],
    work: Callable[[Connection], str],
) -> Response:
    """Run ``form``'s change in one transaction; ``work`` answers the notice.

    A person gone meanwhile is the 404 page; any other refusal is shown beside the field it
    concerns, with what the user typed kept in the form.
    """
    try:
        with transaction(engine_of(request)) as conn:
            try:
                lookup.resolve(conn, actor.org_id, customer_id)
            except PatronError as exc:
                raise _Gone(exc) from None
            notice = work(conn)
    except _Gone as gone:
        raise gone.error from None
    except PatronError as exc:
        name = forms.field_of(exc, section.fields)
        return _page(
            request,
            actor,
            customer_id,
            fragment=section.fragment,
            status_code=next(s for cls, s in PAGE_STATUS.items() if isinstance(exc, cls)),
            errors={f"{form}.{name}" if name else form: exc.message},
            typed={f"{form}.{key}": value for key, value in typed.items()},
            open=form,
        )
    if not is_htmx(request):
        # After a change, a reload must not send it again: back to the page, at the section.
        return RedirectResponse(
            f"/profiles/{customer_id}?saved=1#{section.anchor(form)}", status_code=303
        )
    context: dict[str, Any] = {section.notice: notice}
    return _page(request, actor, customer_id, fragment=section.fragment, **context)
