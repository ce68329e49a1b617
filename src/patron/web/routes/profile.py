"""``/profiles/{id}``: one person's profile page, editing it in place, deleting it.

Everything the API knows of the person: the profiles per source and account with their
names, identifiers and channels, custom and extended fields, subscriptions and the
consent ledger, status label and fraud status, cards and coupons, the change history and
merges, and (for admins) the audit entries. Editors change names, fields and channels
through the update service of ``PUT /v2/customers/{id}``, so the same rules and codes
apply; a refusal is shown beside the field. A merge victim's address shows its survivor.
"""

from __future__ import annotations

import hashlib
import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.engine import Connection

from patron.api.deps import engine_of
from patron.audit import service as audit
from patron.auth.actor import Actor, Role
from patron.codes import customer, generic
from patron.coupons import service as coupons
from patron.customer import deletion, details, history, lookup, update
from patron.customer.schemas import ChannelIn, ProfileIn, UpdateIn
from patron.customer.status import MAX_REASON_LENGTH
from patron.identity.types import CHANNEL_TYPES
from patron.kit.db import MAX_ID, transaction
from patron.kit.errors import InvalidInput, NotFound, PatronError
from patron.kit.pagination import MAX_OFFSET, Page
from patron.orgs import service as orgs
from patron.orgs.fields import FieldDefinition
from patron.subscriptions import service as subscriptions
from patron.web import care as care_section
from patron.web import forms
from patron.web import loyalty as loyalty_section
from patron.web.deps import admin, editor, viewer
from patron.web.errors import PAGE_STATUS
from patron.web.templating import is_htmx, render_page

router = APIRouter(include_in_schema=False)

HISTORY_PAGE = 20
AUDIT_ENTRIES = 20
COUPONS_SHOWN = 50


def _profile_id(customer_id: int) -> int:
    """A profile id of a page's address; one outside 1..2**63-1 names no profile (404 page)."""
    if not 1 <= customer_id <= MAX_ID:
        raise NotFound(customer.CUSTOMER_NOT_FOUND, "There is no profile with this id.")
    return customer_id


#: A profile id in a page's address.
ProfileId = Annotated[int, Depends(_profile_id)]
_WORD = re.compile(r"[A-Za-z0-9_]+")
#: Which field of the names form an update's refusal concerns.
_NAME_OF_ERROR = {
    "Validation failed: firstName": "firstName",
    "Validation failed: lastName": "lastName",
}
_CHANNEL_OF_ERROR = {"communication channel": "type", "Invalid": "value", "too many": "value"}


def _status(exc: PatronError) -> int:
    return next(s for cls, s in PAGE_STATUS.items() if isinstance(exc, cls))


@router.get("/profiles/{customer_id:id}")
def profile_page(
    request: Request,
    actor: Annotated[Actor, Depends(viewer)],
    customer_id: ProfileId,
    changes: int = 0,
    saved: str = "",
    matched: str = "",
    ledger: int = 0,
    bills: int = 0,
) -> Response:
    """Everything about one person; a merged profile's address shows the survivor."""
    notice = _saved_notice(saved, matched, customer_id)
    offset = min(max(changes, 0), MAX_OFFSET)
    loyalty_offsets = (min(max(ledger, 0), MAX_OFFSET), min(max(bills, 0), MAX_OFFSET))
    return _page(
        request,
        actor,
        customer_id,
        history_offset=offset,
        loyalty_offsets=loyalty_offsets,
        notice=notice,
    )


def _saved_notice(saved: str, matched: str, customer_id: int) -> str | None:
    if saved == "created":
        return "Profile created."
    if saved == "updated":
        keys = " and ".join(key for key in matched.split(",") if key) or "the rule"
        return (
            f"This person already had a profile (the synchronization rule matched: {keys}), "
            f"so profile #{customer_id} was updated with the new information instead of "
            "creating another one."
        )
    if saved:
        return "Saved."
    return None


def _page(
    request: Request,
    actor: Actor,
    customer_id: int,
    *,
    fragment: str | None = None,
    status_code: int = 200,
    history_offset: int = 0,
    loyalty_offsets: tuple[int, int] = (0, 0),
    **context: Any,
) -> Response:
    with transaction(engine_of(request), write=False) as conn:
        values = _profile(conn, actor, customer_id, history_offset)
        resolved = lookup.resolve(conn, actor.org_id, customer_id)
        values.update(
            loyalty_section.section(
                conn,
                actor,
                resolved,
                ledger_offset=loyalty_offsets[0],
                bills_offset=loyalty_offsets[1],
            )
        )
        values.update(care_section.section(conn, actor, resolved))
    values.update(
        {
            "errors": {},
            "typed": {},
            "open": "",
            "may_edit": actor.can(Role.editor),
            "may_delete": actor.can(Role.admin),
            "may_decide": actor.can(Role.admin),
            "channel_types": CHANNEL_TYPES,
            "max_reason": MAX_REASON_LENGTH,
            "reason": "",
        }
    )
    values.update(context)
    template = f"profiles/{fragment}" if fragment and is_htmx(request) else "profiles/profile.html"
    return render_page(request, "profiles/profile.html", template, values, status_code=status_code)


def _profile(
    conn: Connection, actor: Actor, customer_id: int, history_offset: int
) -> dict[str, Any]:
    """What the page shows, read through the services the API uses."""
    org_id = actor.org_id
    resolved = lookup.resolve(conn, org_id, customer_id)
    everywhere = lookup.SourceAccount(lookup.ALL_SOURCES)
    # The image's embed says whether a photo is kept (and its version, for the page's link).
    embed = f"subscriptions,{details.CUSTOMER_IMAGE}"
    document = details.details(conn, org_id, resolved, everywhere, embed=embed)
    definitions = [d for d in orgs.list_fields(conn, org_id) if d.scope == "customer"]
    changes, changes_total, _ = history.history(
        conn, org_id, resolved.id, history.ChangeQuery(), Page(HISTORY_PAGE, history_offset)
    )
    for entry in changes:
        entry["summary"] = _summary(entry)
    merges = [
        entry
        for kind in ("MERGE", "UNMERGE")
        for entry in history.history(
            conn, org_id, resolved.id, history.change_query(change_type=kind), Page(50, 0)
        )[0]
    ]
    merges.sort(key=lambda entry: entry["id"], reverse=True)
    found_coupons = coupons.coupons_of(conn, org_id, resolved, None, Page(COUPONS_SHOWN, 0))
    entries: list[audit.AuditEntry] = []
    if actor.can(Role.admin):
        filters = audit.AuditFilters(object_type="customer", object_id=str(resolved.id))
        entries, _ = audit.list_entries(conn, actor, filters, Page(AUDIT_ENTRIES, 0))
    profiles = [
        {**profile, "anchor": _profile_anchor(profile["source"], profile["accountId"])}
        for profile in document["profiles"]
    ]
    return {
        "customer_id": resolved.id,
        "profiles": profiles,
        "asked_id": customer_id,
        "merged_notice": resolved.id != customer_id,
        "doc": document,
        "name": _full_name(document),
        "field_groups": _field_groups(definitions, document),
        "ledger": subscriptions.ledger(conn, org_id, resolved.id),
        "changes": changes,
        "changes_total": changes_total,
        "history_offset": history_offset,
        "history_page": HISTORY_PAGE,
        "merges": merges,
        "coupons": found_coupons.coupons,
        "coupons_total": found_coupons.total,
        "audit_entries": entries,
    }


def _field_groups(
    definitions: list[FieldDefinition], document: dict[str, Any]
) -> list[dict[str, Any]]:
    """The org's custom and extended fields, each with the person's value (or none)."""
    held = {
        "custom": document["profiles"][0]["fields"] if document["profiles"] else {},
        "extended": document["extendedFields"],
    }
    return [
        {
            "kind": kind,
            "title": title,
            "rows": [
                {
                    "definition": d,
                    "anchor": _field_anchor(kind, d.name),
                    "value": held[kind].get(d.name),
                }
                for d in definitions
                if d.kind == kind
            ],
        }
        for kind, title in (("custom", "Custom fields"), ("extended", "Extended fields"))
    ]


def _summary(entry: dict[str, Any]) -> str:
    """One line of what a change-history entry changed."""
    details: dict[str, Any] = entry.get("details") or {}
    if isinstance(details.get("changed"), list):
        return ", ".join(str(name) for name in details["changed"])
    if entry.get("comments"):
        return str(entry["comments"])
    return ", ".join(f"{key}: {value}" for key, value in details.items() if key != "reason")


def _full_name(document: dict[str, Any]) -> str:
    for profile in document["profiles"]:
        name = f"{profile['firstName']} {profile['lastName']}".strip()
        if name:
            return name
    return ""


# --- editing in place ----------------------------------------------------------------------


def _edit(
    request: Request,
    actor: Actor,
    customer_id: int,
    where: lookup.SourceAccount,
    body: UpdateIn,
    *,
    section: str,
    anchor: str,
    error_field: Any,
    typed: dict[str, str],
) -> Response:
    """Apply one change through the API's update service and show the section again."""
    try:
        with transaction(engine_of(request)) as conn:
            resolved = lookup.resolve(conn, actor.org_id, customer_id, for_update=True)
            update.update(conn, actor, resolved, where, body)
    except PatronError as exc:
        if isinstance(exc, NotFound) and exc.code == customer.CUSTOMER_NOT_FOUND:
            raise  # the person is gone (deleted meanwhile): the 404 page
        key = error_field(exc)
        return _page(
            request,
            actor,
            customer_id,
            fragment=section,
            status_code=_status(exc),
            errors={key: exc.message},
            typed=typed,
            open=anchor,
        )
    if not is_htmx(request):
        # After a change, a reload must not send it again: back to the page, at the part.
        return RedirectResponse(f"/profiles/{customer_id}?saved=1#{anchor}", status_code=303)
    return _page(request, actor, customer_id, fragment=section, notice_at=anchor)


def _where(source: str, account_id: str) -> lookup.SourceAccount:
    return lookup.source_account(source, account_id, default="INSTORE")


@router.post("/profiles/{customer_id:id}/names")
def edit_names(
    request: Request,
    actor: Annotated[Actor, Depends(editor)],
    customer_id: ProfileId,
    source: Annotated[str, Form()] = "INSTORE",
    account_id: Annotated[str, Form()] = "",
    first_name: Annotated[str, Form()] = "",
    last_name: Annotated[str, Form()] = "",
) -> Response:
    """Change the first and last name of the profile on one source/account."""
    anchor = _profile_anchor(source, account_id)
    body = UpdateIn(profiles=[ProfileIn(firstName=first_name, lastName=last_name)])
    return _edit(
        request,
        actor,
        customer_id,
        _where(source, account_id),
        body,
        section="_profiles.html",
        anchor=anchor,
        error_field=lambda exc: f"{anchor}.{forms.field_of(exc, _NAME_OF_ERROR) or 'names'}",
        typed={f"{anchor}.firstName": first_name, f"{anchor}.lastName": last_name},
    )


@router.post("/profiles/{customer_id:id}/channels")
def edit_channel(
    request: Request,
    actor: Annotated[Actor, Depends(editor)],
    customer_id: ProfileId,
    source: Annotated[str, Form()] = "INSTORE",
    account_id: Annotated[str, Form()] = "",
    type: Annotated[str, Form()] = "",
    value: Annotated[str, Form()] = "",
    primary: Annotated[str, Form()] = "",
) -> Response:
    """Add a communication channel to a profile, or change whether it is the primary one."""
    anchor = _profile_anchor(source, account_id)
    if not value.strip():
        return _page(
            request,
            actor,
            customer_id,
            fragment="_profiles.html",
            status_code=400,
            errors={f"{anchor}.channel.value": "Enter the channel's value."},
            typed={f"{anchor}.channel.type": type, f"{anchor}.channel.value": value},
            open=f"{anchor}-channel",
        )
    channel = ChannelIn(type=type, value=value, primary=bool(primary))
    body = UpdateIn(profiles=[ProfileIn(commChannels=[channel])])
    return _edit(
        request,
        actor,
        customer_id,
        _where(source, account_id),
        body,
        section="_profiles.html",
        anchor=f"{anchor}-channel",
        error_field=lambda exc: f"{anchor}.channel.{forms.field_of(exc, _CHANNEL_OF_ERROR)}",
        typed={f"{anchor}.channel.type": type, f"{anchor}.channel.value": value},
    )


@router.post("/profiles/{customer_id:id}/fields")
def edit_field(
    request: Request,
    actor: Annotated[Actor, Depends(editor)],
    customer_id: ProfileId,
    kind: Annotated[str, Form()] = "custom",
    name: Annotated[str, Form()] = "",
    value: Annotated[str, Form()] = "",
) -> Response:
    """Set a custom or extended field's value."""
    if kind not in ("custom", "extended"):
        raise InvalidInput(generic.INVALID_INPUT, "a field is custom or extended")
    anchor = _field_anchor(kind, name)
    if kind == "custom":
        body = UpdateIn(profiles=[ProfileIn(fields={name: value})])
    else:
        body = UpdateIn(extendedFields={name: value})
    # Fields belong to the person, not to one profile: the update goes through the first.
    with transaction(engine_of(request), write=False) as conn:
        resolved = lookup.resolve(conn, actor.org_id, customer_id)
        document = details.details(
            conn, actor.org_id, resolved, lookup.SourceAccount(lookup.ALL_SOURCES)
        )
    first = document["profiles"][0]
    return _edit(
        request,
        actor,
        customer_id,
        _where(first["source"], first["accountId"]),
        body,
        section="_fields.html",
        anchor=anchor,
        error_field=lambda _exc: anchor,
        typed={anchor: value},
    )


def _anchor(*parts: str) -> str:
    """An element id of the page naming ``parts``; text that is no plain word is digested."""
    words = [
        part if _WORD.fullmatch(part) else hashlib.sha256(part.encode()).hexdigest()[:10]
        for part in parts
        if part
    ]
    return "-".join(words)


def _profile_anchor(source: str, account_id: str) -> str:
    """The page's anchor of the profile on a source and account."""
    return _anchor("profile", source.strip().lower(), account_id.strip())


def _field_anchor(kind: str, name: str) -> str:
    """The page's anchor of a custom or extended field."""
    return _anchor("field", kind, name)


# --- deleting -----------------------------------------------------------------------------


@router.post("/profiles/{customer_id:id}/delete")
def delete_profile(
    request: Request,
    actor: Annotated[Actor, Depends(admin)],
    customer_id: ProfileId,
    reason: Annotated[str, Form()] = "",
) -> Response:
    """Delete the person's personal data for a reason (irreversible)."""
    try:
        with transaction(engine_of(request)) as conn:
            deletion.delete_customer(conn, actor, customer_id, reason)
    except PatronError as exc:
        if isinstance(exc, NotFound):
            raise
        where = "reason" if "reason" in exc.message else "delete"
        return _page(
            request,
            actor,
            customer_id,
            status_code=_status(exc),
            errors={where: exc.message},
            reason=reason,
            open="delete",
        )
    return RedirectResponse(f"/profiles?deleted={customer_id}", status_code=303)
