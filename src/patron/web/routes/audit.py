"""``/audit`` (admins): who did what to which object, when and why; filtered, paged.

The filters live in the query string (a filtered log has an address one can share);
dates are days in the org's time zone. htmx swaps the list in place; without
JavaScript the form reloads the page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from patron.api.deps import engine_of
from patron.audit import service as audit
from patron.auth import service as auth
from patron.auth.actor import Actor
from patron.kit.db import transaction
from patron.kit.errors import InvalidInput
from patron.kit.pagination import Page
from patron.web import forms
from patron.web.deps import admin, checked_session
from patron.web.sessions import WebSession
from patron.web.templating import is_htmx, render_page

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
FILTERS = ("actor", "action", "from", "to", "object_type", "object_id")
#: Actions patron records, offered as suggestions (the filter takes any exact action).
KNOWN_ACTIONS = (
    "customer.register",
    "customer.update",
    "customer.delete",
    "customer.merge",
    "customer.unmerge",
    "customer.identifiers.change",
    "customer.status",
    "customer.fraud",
    "org.settings.change",
    "org.sync_rule.change",
    "console.sign_in",
    "console.sign_out",
    "user.create",
    "user.change",
    "api_key.create",
    "api_key.revoke",
    "import.create",
)
_FILTER_OF_ERROR = {"From": "from", "from ": "from", "To": "to", "to ": "to"}


@dataclass
class AuditQuery:
    """The log's query string, as the person gave it."""

    filters: dict[str, str] = field(default_factory=lambda: dict.fromkeys(FILTERS, ""))
    offset: int = 0

    def url(self, **changes: Any) -> str:
        values: dict[str, str] = dict(self.filters)
        if self.offset:
            values["offset"] = str(self.offset)
        values |= {name: str(value) for name, value in changes.items()}
        query = forms.clean_query(values)
        return "/audit" + (f"?{query}" if query else "")


@router.get("/audit")
def audit_page(
    request: Request,
    actor: Actor = Depends(admin),
    session: WebSession = Depends(checked_session),
) -> Response:
    """The org's audit log, newest first, 50 entries a page."""
    params = request.query_params
    if not is_htmx(request) and any(not value.strip() for _, value in params.multi_items()):
        # A form submits its empty fields too: the shared address names only the given ones.
        return RedirectResponse(_query(request).url(), status_code=303)
    query = _query(request)
    errors: dict[str, str] = {}
    entries: list[audit.AuditEntry] = []
    total = 0
    with transaction(engine_of(request), write=False) as conn:
        try:
            filters = audit.AuditFilters(
                actor=query.filters["actor"] or None,
                action=query.filters["action"] or None,
                since=forms.local_day(
                    query.filters["from"], session.time_zone, end=False, label="From"
                ),
                until=forms.local_day(query.filters["to"], session.time_zone, end=True, label="To"),
                object_type=query.filters["object_type"] or None,
                object_id=query.filters["object_id"] or None,
            )
            entries, total = audit.list_entries(conn, actor, filters, Page(PAGE_SIZE, query.offset))
        except InvalidInput as exc:
            errors[forms.field_of(exc, _FILTER_OF_ERROR)] = exc.message
        users = [user["username"] for user in auth.list_users(conn, actor.org_id)]
    values = {
        "query": query,
        "entries": entries,
        "total": total,
        "page_size": PAGE_SIZE,
        "errors": errors,
        "users": users,
        "actions": KNOWN_ACTIONS,
    }
    response = render_page(
        request, "audit/audit.html", "audit/_list.html", values, status_code=400 if errors else 200
    )
    if is_htmx(request):
        response.headers["HX-Push-Url"] = query.url()
    return response


def _query(request: Request) -> AuditQuery:
    params = request.query_params
    filters = {name: (params.get(name) or "").strip() for name in FILTERS}
    raw = (params.get("offset") or "0").strip()
    offset = int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 12 else 0
    # Pages are whole: an offset between two pages starts the page it falls in.
    return AuditQuery(filters, offset - offset % PAGE_SIZE)
