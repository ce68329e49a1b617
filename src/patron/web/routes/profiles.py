"""``/profiles``: the Identified Profiles list, its displayed fields, and deleting a selection.

The list's filters live in the query string, so a filtered list has an address one can
share; htmx swaps the list in place, and the same form works without JavaScript (its
buttons submit it). Rows chosen for deletion travel with the form from page to page (up
to 100, the most one deletion takes), and **Delete selected** opens the confirmation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.engine import Connection

from patron.api.deps import engine_of
from patron.auth.actor import Actor, Role
from patron.codes import generic
from patron.customer import bulk_delete, details, listing, lookup
from patron.customer.registration import LOYALTY_TYPES
from patron.customer.status import MAX_REASON_LENGTH
from patron.exports import service as exports
from patron.identity.types import Source
from patron.kit.db import transaction
from patron.kit.errors import InvalidInput, NotFound
from patron.orgs import service as orgs
from patron.orgs.settings import FRAUD_STATUSES
from patron.web import forms, preferences
from patron.web.deps import admin, checked_session, viewer
from patron.web.sessions import WebSession
from patron.web.templating import is_htmx, render_page

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
MAX_SELECTED = bulk_delete.MAX_IDS
SORTS = {
    "-registeredAt": "Newest registrations first",
    "registeredAt": "Oldest registrations first",
    "name": "Name, A to Z",
    "-name": "Name, Z to A",
}
#: The list's query parameters, in the order a clean address names them.
FILTERS = (
    "q",
    "source",
    "loyalty_type",
    "status_label",
    "fraud_status",
    "registered_from",
    "registered_to",
    "store",
    "field",
    "field_value",
)
#: Which filter a refusal of the list service concerns, by the start of its message.
_FILTER_OF_ERROR = {
    "q ": "q",
    "unknown source": "source",
    "loyaltyType": "loyalty_type",
    "unknown statusLabel": "status_label",
    "fraudStatus": "fraud_status",
    "registeredFrom": "registered_from",
    "Registered from": "registered_from",
    "registeredTo": "registered_to",
    "Registered to": "registered_to",
    "unknown store": "store",
    "customField.": "field_value",
    "Custom field": "field",
}


@dataclass
class ListQuery:
    """The list's query string, as the person gave it."""

    filters: dict[str, str] = field(default_factory=lambda: dict.fromkeys(FILTERS, ""))
    sort: str = listing.DEFAULT_SORT
    cursor: str = ""
    selected: list[int] = field(default_factory=list)

    def url(self, **changes: Any) -> str:
        """This list's address with ``changes`` (``sort``, ``cursor``; ``None`` drops one)."""
        values: dict[str, str | list[str]] = dict(self.filters)
        if self.sort != listing.DEFAULT_SORT:
            values["sort"] = self.sort
        if self.cursor:
            values["cursor"] = self.cursor
        values["selected"] = [str(i) for i in self.selected]
        for name, value in changes.items():
            values[name] = "" if value is None else value
        query = forms.clean_query(values)
        return "/profiles" + (f"?{query}" if query else "")

    @property
    def filtered(self) -> bool:
        return any(self.filters.values())


def _list_query(request: Request) -> ListQuery:
    params = request.query_params
    filters = {name: (params.get(name) or "").strip() for name in FILTERS}
    sort = (params.get("sort") or "").strip() or listing.DEFAULT_SORT
    selected = forms.ids(forms.texts(params, "selected"), label="selected profile")
    return ListQuery(filters, sort, (params.get("cursor") or "").strip(), selected)


@router.get("/profiles")
def profiles_page(
    request: Request,
    actor: Actor = Depends(viewer),
    session: WebSession = Depends(checked_session),
) -> Response:
    """The org's identified profiles: searched, filtered, sorted, a page of 50 at a time."""
    try:
        query = _list_query(request)
    except InvalidInput as exc:
        query = ListQuery()
        return _list(request, session, actor, query, errors={"": exc.message}, status_code=400)
    given = request.query_params.multi_items()
    if not is_htmx(request) and any(not value.strip() for _, value in given):
        # A form submits every field, empty ones too: the shared address names only the given.
        return RedirectResponse(query.url(), status_code=303)
    deleted = (request.query_params.get("deleted") or "").strip()
    notice = f"Profile #{deleted} was deleted." if deleted.isdigit() else None
    return _list(request, session, actor, query, notice=notice)


def _filters_of(query: ListQuery, time_zone: str) -> listing.ListFilters:
    given = query.filters
    custom: dict[str, list[str]] = {}
    if given["field_value"] and not given["field"]:
        raise InvalidInput(
            generic.INVALID_INPUT, "Custom field: choose the field whose value to look for"
        )
    if given["field"]:
        custom[given["field"]] = [given["field_value"]]
    return listing.ListFilters(
        q=given["q"] or None,
        source=given["source"] or None,
        loyalty_type=given["loyalty_type"] or None,
        status_label=given["status_label"] or None,
        fraud_status=given["fraud_status"] or None,
        registered_from=forms.local_day(
            given["registered_from"], time_zone, end=False, label="Registered from"
        ),
        registered_to=forms.local_day(
            given["registered_to"], time_zone, end=True, label="Registered to"
        ),
        store=given["store"] or None,
        custom_fields=custom,
    )


def _list(
    request: Request,
    session: WebSession,
    actor: Actor,
    query: ListQuery,
    *,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
    **context: Any,
) -> Response:
    errors = dict(errors or {})
    found: listing.CustomerList | None = None
    with transaction(engine_of(request), write=False) as conn:
        if not errors:
            try:
                filters = _filters_of(query, session.time_zone)
                found = listing.list_customers(
                    conn,
                    actor.org_id,
                    filters,
                    listing.Sort.parse(query.sort),
                    listing.page_request(PAGE_SIZE, cursor=query.cursor or None),
                )
            except InvalidInput as exc:
                errors[forms.field_of(exc, _FILTER_OF_ERROR)] = exc.message
                status_code = 400
        options = _options(conn, actor.org_id)
        columns = preferences.displayed_fields(conn, session)
        may_export = exports.may_export(conn, actor)
    values = {
        "query": query,
        "found": found,
        "errors": errors,
        "columns": columns,
        "column_names": preferences.PROFILE_COLUMNS,
        "sorts": SORTS,
        "max_selected": MAX_SELECTED,
        "may_create": actor.can(Role.editor),
        "may_delete": actor.can(Role.admin),
        "may_export": may_export,
        # The list as filtered and sorted now (not its page or selection) to export.
        "export_url": "/profiles/export" + query.url(cursor=None, selected=[])[len("/profiles") :],
        # The filters beyond the search box stay folded unless one is used or refused.
        "filters_open": any(v for k, v in query.filters.items() if k != "q")
        or bool(set(errors) - {"", "q"}),
        **options,
        **context,
    }
    response = render_page(
        request, "profiles/list.html", "profiles/_list.html", values, status_code=status_code
    )
    if is_htmx(request):
        response.headers["HX-Push-Url"] = query.url()
    return response


def _options(conn: Connection, org_id: int) -> dict[str, Any]:
    """The choices of the filters' menus: the org's labels and custom fields."""
    fields = orgs.list_fields(conn, org_id)
    return {
        "sources": [source.value for source in Source],
        "loyalty_types": LOYALTY_TYPES,
        "fraud_statuses": FRAUD_STATUSES,
        "labels": [row["label"] for row in orgs.list_labels(conn, org_id)],
        "custom_fields": [f for f in fields if f.kind == "custom" and f.scope == "customer"],
    }


@router.post("/profiles/columns")
def choose_columns(
    request: Request,
    columns: Annotated[list[str] | None, Form()] = None,
    back: Annotated[str, Form()] = "",
    _actor: Actor = Depends(viewer),
    session: WebSession = Depends(checked_session),
) -> Response:
    """Remember the fields the signed-in user wants the list to show (on every device)."""
    with transaction(engine_of(request)) as conn:
        preferences.set_displayed_fields(conn, session, columns or [])
    return RedirectResponse(_back(back), status_code=303)


# --- deleting a selection ----------------------------------------------------------------


@dataclass(frozen=True)
class Chosen:
    """A selected profile as the confirmation shows it."""

    id: int
    name: str = ""
    problem: str = ""


@router.get("/profiles/delete")
def delete_selection_page(request: Request, actor: Actor = Depends(admin)) -> Response:
    """Confirm the deletion of the selected profiles (1 to 100): the warning and a reason."""
    query = _list_query(request)
    response = _delete_page(request, actor, query)
    if is_htmx(request):
        # The address of this confirmation without the list form's empty fields.
        response.headers["HX-Push-Url"] = "/profiles/delete" + query.url().removeprefix("/profiles")
    return response


@router.post("/profiles/delete")
def delete_selection(
    request: Request,
    selected: Annotated[list[str] | None, Form()] = None,
    reason: Annotated[str, Form()] = "",
    back: Annotated[str, Form()] = "",
    actor: Actor = Depends(admin),
) -> Response:
    """Delete the selected profiles for one reason; what became of each is shown."""
    query = ListQuery(selected=forms.ids(selected or [], label="selected profile"))
    try:
        with transaction(engine_of(request)) as conn:
            outcomes = bulk_delete.delete_customers(conn, actor, query.selected, reason)
    except InvalidInput as exc:
        # The reason is the one field of the form; the selection is checked before it.
        where = "reason" if "reason" in exc.message else ""
        return _delete_page(
            request,
            actor,
            query,
            reason=reason,
            back=back,
            errors={where: exc.message},
            status_code=400,
        )
    deleted = sum(1 for outcome in outcomes if outcome.status == "deleted")
    return render_page(
        request,
        "profiles/deleted.html",
        "profiles/_deleted.html",
        {"outcomes": outcomes, "deleted": deleted, "back": _unselected(_back(back))},
    )


def _back(target: str) -> str:
    """A page of the list to return to; anything else is the list itself."""
    return target if target.startswith("/profiles") and not target.startswith("//") else "/profiles"


def _unselected(target: str) -> str:
    """The list's address without its selection (the selected profiles are gone)."""
    path, _, query = target.partition("?")
    kept = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k != "selected"]
    return path + (f"?{urlencode(kept)}" if kept else "")


def _delete_page(
    request: Request,
    actor: Actor,
    query: ListQuery,
    *,
    reason: str = "",
    back: str = "",
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    errors = dict(errors or {})
    if not query.selected and "" not in errors:
        errors[""] = "Select at least one profile in the list to delete."
        status_code = 400
    elif len(query.selected) > MAX_SELECTED and "" not in errors:
        errors[""] = (
            f"At most {MAX_SELECTED} profiles can be deleted at once; "
            f"{len(query.selected)} are selected."
        )
        status_code = 400
    values = {
        "chosen": _chosen(request, actor, query.selected[:MAX_SELECTED]),
        "too_many": len(query.selected) > MAX_SELECTED,
        "reason": reason,
        "errors": errors,
        "back": _back(back or query.url()),
        "max_reason": MAX_REASON_LENGTH,
    }
    return render_page(
        request, "profiles/delete.html", "profiles/_delete.html", values, status_code=status_code
    )


def _chosen(request: Request, actor: Actor, ids: list[int]) -> list[Chosen]:
    """The selected profiles with a name each, or why one cannot be deleted."""
    chosen = []
    everywhere = lookup.SourceAccount(lookup.ALL_SOURCES)
    with transaction(engine_of(request), write=False) as conn:
        for customer_id in ids:
            try:
                resolved = lookup.resolve(conn, actor.org_id, customer_id)
            except NotFound:
                chosen.append(Chosen(customer_id, problem="not found: deleted already?"))
                continue
            if resolved.id != customer_id:
                problem = f"merged into profile {resolved.id}; delete that one instead"
                chosen.append(Chosen(customer_id, problem=problem))
                continue
            document = details.details(conn, actor.org_id, resolved, everywhere)
            chosen.append(Chosen(customer_id, name=name_of(document)))
    return chosen


def name_of(document: dict[str, Any]) -> str:
    """The first full name of a customer's profiles (a details document)."""
    for profile in document["profiles"]:
        name = f"{profile['firstName']} {profile['lastName']}".strip()
        if name:
            return name
    return ""
