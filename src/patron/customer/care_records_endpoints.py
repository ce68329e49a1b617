"""Care records of a customer: notes, preferences and tickets (seed 001's customer care).

Roles: viewers read; editors write notes, set preferences and open and follow tickets;
admins define the org's preference keys (``/v2/org/preferences``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from patron.api import deps
from patron.api.deps import Db, TransactionRoute
from patron.api.params import CustomerId, Paging, PathId, unknown_as
from patron.auth.actor import Actor
from patron.codes import customer
from patron.customer import notes, preferences, tickets
from patron.customer.record_answers import (
    CustomerPreferences,
    NoteAnswer,
    NoteList,
    PreferenceKeyDefined,
    PreferenceKeyList,
    PreferencesSet,
    RecordDeleted,
    TicketAdded,
    TicketAnswer,
    TicketList,
)
from patron.kit.errors import NotFound, Notice, PatronError

router = APIRouter(
    prefix="/v2/customers", tags=["customer care records"], route_class=TransactionRoute
)
org_router = APIRouter(
    prefix="/v2/org", tags=["customer care records"], route_class=TransactionRoute
)

Viewer = Annotated[Actor, Depends(deps.viewer)]
Editor = Annotated[Actor, Depends(deps.editor)]
Admin = Annotated[Actor, Depends(deps.admin)]


def _unknown_note(note_id: int) -> PatronError:
    return NotFound(customer.NOTE_UNKNOWN, f"the customer has no note {note_id}")


def _unknown_ticket(ticket_id: int) -> PatronError:
    return NotFound(customer.TICKET_UNKNOWN, f"the customer has no ticket {ticket_id}")


NoteId = Annotated[PathId, unknown_as(_unknown_note)]
TicketId = Annotated[PathId, unknown_as(_unknown_ticket)]


def _warnings(warnings: list[Notice]) -> list[dict[str, Any]]:
    return [w.as_dict() for w in warnings]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class NoteIn(_Body):
    """Body of ``POST /notes`` and ``PUT /notes/{noteId}``."""

    description: str | None = None


class PreferenceIn(_Body):
    key: str
    value: Any = None


class PreferencesIn(_Body):
    """Body of ``PUT /v2/customers/{id}/preferences``."""

    preferences: list[PreferenceIn] = Field(default_factory=list)


class DefinitionIn(_Body):
    """Body of ``POST /v2/org/preferences``."""

    key: str | None = None
    type: str | None = None
    values: list[str] | None = None
    description: str | None = None


class TicketBody(_Body):
    """Body of ``POST /tickets`` and ``PUT /tickets/{ticketId}``."""

    type: str | None = None
    subject: str | None = None
    description: str | None = None
    priority: str | None = None
    assignee: str | None = None
    status: str | None = None
    store_code: str | None = Field(None, alias="storeCode")

    def given(self) -> tickets.TicketIn:
        return tickets.TicketIn(
            type=self.type,
            subject=self.subject,
            description=self.description,
            priority=self.priority,
            assignee=self.assignee,
            status=self.status,
            store=self.store_code,
        )


# --- notes ------------------------------------------------------------------------------


@router.post("/{customer_id:id}/notes", response_model=NoteAnswer)
def add_note(customer_id: CustomerId, body: NoteIn, conn: Db, actor: Editor) -> dict[str, Any]:
    """Write a note about a customer."""
    note, warnings = notes.add_note(conn, actor, customer_id, body.description)
    return {
        "note": note.rendered(),
        "code": customer.CUSTOMER_SUCCESS,
        "message": "Customer notes added successfully",
        "warnings": _warnings(warnings),
    }


@router.get("/{customer_id:id}/notes", response_model=NoteList)
def list_notes(customer_id: CustomerId, conn: Db, actor: Viewer, page: Paging) -> dict[str, Any]:
    """The notes about a customer, newest first."""
    found, total, warnings = notes.notes(conn, actor.org_id, customer_id, page)
    return {
        "pagination": page.envelope(total),
        "data": [note.rendered() for note in found],
        "warnings": _warnings(warnings),
        "errors": [],
    }


@router.put("/{customer_id:id}/notes/{note_id:id}", response_model=NoteAnswer)
def edit_note(
    customer_id: CustomerId, note_id: NoteId, body: NoteIn, conn: Db, actor: Editor
) -> dict[str, Any]:
    """Change the text of one's own note."""
    note = notes.edit_note(conn, actor, customer_id, note_id, body.description)
    return {
        "note": note.rendered(),
        "code": customer.CUSTOMER_SUCCESS,
        "message": "Customer notes updated successfully",
        "warnings": [],
    }


@router.delete("/{customer_id:id}/notes/{note_id:id}", response_model=RecordDeleted)
def delete_note(
    customer_id: CustomerId, note_id: NoteId, conn: Db, actor: Editor
) -> dict[str, Any]:
    """Delete one's own note (an admin: any note)."""
    notes.delete_note(conn, actor, customer_id, note_id)
    return {"id": note_id, "deleted": True, "warnings": []}


# --- preferences ------------------------------------------------------------------------


@router.get("/{customer_id:id}/preferences", response_model=CustomerPreferences)
def get_preferences(customer_id: CustomerId, conn: Db, actor: Viewer) -> dict[str, Any]:
    """The customer's preference values."""
    shown, warnings = preferences.preferences(conn, actor.org_id, customer_id)
    return {"userId": customer_id, "preferences": shown, "warnings": _warnings(warnings)}


@router.put("/{customer_id:id}/preferences", response_model=PreferencesSet)
def set_preferences(
    customer_id: CustomerId, body: PreferencesIn, conn: Db, actor: Editor
) -> dict[str, Any]:
    """Set (``null``: remove) some preference values of a customer; all or none."""
    entries = [(item.key, item.value) for item in body.preferences]
    shown, warnings = preferences.set_preferences(conn, actor, customer_id, entries)
    return {
        "userId": customer_id,
        "preferences": shown,
        "code": customer.CUSTOMER_SUCCESS,
        "message": "Customer preferences updated successfully",
        "warnings": _warnings(warnings),
    }


@org_router.get("/preferences", response_model=PreferenceKeyList)
def list_preference_keys(conn: Db, actor: Viewer) -> dict[str, Any]:
    """The org's preference keys and their types."""
    found = preferences.definitions(conn, actor.org_id)
    return {"data": [d.rendered() for d in found], "warnings": []}


@org_router.post("/preferences", status_code=201, response_model=PreferenceKeyDefined)
def define_preference_key(
    body: Annotated[DefinitionIn, Body()], conn: Db, actor: Admin
) -> dict[str, Any]:
    """Define a preference key of the org, with the type of its values."""
    made = preferences.define(
        conn,
        actor,
        key=body.key,
        data_type=body.type,
        values=body.values,
        description=body.description,
    )
    return {**made.rendered(), "warnings": []}


# --- tickets ----------------------------------------------------------------------------


@router.post("/{customer_id:id}/tickets", response_model=TicketAdded)
def add_ticket(
    customer_id: CustomerId, body: TicketBody, conn: Db, actor: Editor
) -> dict[str, Any]:
    """Open a complaint or feedback ticket for a customer."""
    shown, warnings = tickets.add_ticket(conn, actor, customer_id, body.given())
    return {
        "ticket": shown,
        "code": customer.TICKET_SUCCESS,
        "message": "Ticket added successfully",
        "warnings": _warnings(warnings),
    }


@router.get("/{customer_id:id}/tickets", response_model=TicketList)
def list_tickets(
    customer_id: CustomerId,
    conn: Db,
    actor: Viewer,
    page: Paging,
    status: str | None = None,
    kind: Annotated[str | None, Query(alias="type")] = None,
) -> dict[str, Any]:
    """The customer's tickets, newest first, by status and type if given."""
    found, total, warnings = tickets.tickets(
        conn, actor.org_id, customer_id, page, status=status, kind=kind
    )
    return {
        "pagination": page.envelope(total),
        "data": found,
        "code": customer.TICKET_SUCCESS,
        "message": "Ticket retrieved successfully",
        "warnings": _warnings(warnings),
        "errors": [],
    }


@router.get("/{customer_id:id}/tickets/{ticket_id:id}", response_model=TicketAnswer)
def get_ticket(
    customer_id: CustomerId, ticket_id: TicketId, conn: Db, actor: Viewer
) -> dict[str, Any]:
    """One ticket of a customer."""
    shown = tickets.ticket(conn, actor.org_id, customer_id, ticket_id)
    return {"ticket": shown, "code": customer.TICKET_SUCCESS, "warnings": []}


@router.put("/{customer_id:id}/tickets/{ticket_id:id}", response_model=TicketAnswer)
def change_ticket(
    customer_id: CustomerId, ticket_id: TicketId, body: TicketBody, conn: Db, actor: Editor
) -> dict[str, Any]:
    """Move a ticket on (status), assign it, or change its priority or description."""
    shown = tickets.change_ticket(conn, actor, customer_id, ticket_id, body.given())
    return {"ticket": shown, "code": customer.TICKET_SUCCESS, "warnings": []}
