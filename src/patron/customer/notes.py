"""Customer notes (``/v2/customers/{id}/notes``): what care agents write about a customer.

Editors add notes; the author of a note edits or deletes it (an admin may delete any
note, to take down one that should not have been written). A note is care work, not a
change of the customer: a customer marked as fraud takes notes too. Notes are read with
those of the customers merged into the customer, move with merges and are erased with the
customer. Every change is audited without the note's text.

Codes: 1037 (a note's text is missing or too long), 95401 (no such note of the
customer), 95402 (the note is someone else's).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection, RowMapping

from patron.audit.service import audit
from patron.auth.actor import Actor, Role
from patron.codes import customer
from patron.customer import care_records_repository as repository
from patron.customer import care_repository, lookup
from patron.kit.clock import iso
from patron.kit.errors import Forbidden, InvalidInput, NotFound, Notice
from patron.kit.pagination import Page

MAX_LENGTH = 4000


@dataclass(frozen=True)
class Note:
    """A note as the API shows it."""

    id: int
    customer_id: int
    description: str
    added_by: str
    added_on: str | None
    updated_on: str | None

    def rendered(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "userId": self.customer_id,
            "description": self.description,
            "addedBy": self.added_by,
            "addedOn": self.added_on,
            "updatedOn": self.updated_on,
        }


def _note(row: RowMapping) -> Note:
    return Note(
        id=int(row["id"]),
        customer_id=int(row["customer_id"]),
        description=row["description"],
        added_by=row["author"],
        added_on=iso(row["created_at"]),
        updated_on=iso(row["updated_at"]),
    )


def _text(raw: str | None) -> str:
    text = (raw or "").strip()
    if not text:
        raise InvalidInput(
            customer.NOTES_NOT_SAVED, "Unable to add/update customer notes: description is empty"
        )
    if len(text) > MAX_LENGTH or "\x00" in text:
        raise InvalidInput(
            customer.NOTES_NOT_SAVED,
            f"Unable to add/update customer notes: description may hold {MAX_LENGTH} characters",
        )
    return text


def add_note(
    conn: Connection, actor: Actor, customer_id: int, description: str | None
) -> tuple[Note, list[Notice]]:
    """Write a note about a customer (a merge victim's id writes on its survivor, 91009)."""
    text = _text(description)
    resolved = lookup.resolve(conn, actor.org_id, customer_id, for_update=True)
    note_id = repository.insert_note(
        conn,
        {
            "org_id": actor.org_id,
            "customer_id": resolved.id,
            "description": text,
            "author": actor.name,
            "author_credential": actor.credential,
        },
    )
    audit(conn, actor, "customer.note.add", "customer", resolved.id, {"noteId": note_id})
    row = repository.get_note(conn, actor.org_id, note_id)
    assert row is not None
    return _note(row), resolved.warnings


def notes(
    conn: Connection, org_id: int, customer_id: int, page: Page
) -> tuple[list[Note], int, list[Notice]]:
    """A page of the customer's notes, newest first; none yet is warning 1028."""
    resolved = lookup.resolve(conn, org_id, customer_id)
    family = care_repository.merge_family(conn, org_id, resolved.id)
    rows, total = repository.notes_page(conn, org_id, family, page.limit, page.offset)
    warnings = list(resolved.warnings)
    if total == 0:
        warnings.append(Notice(customer.NO_NOTES, "No customer notes are available"))
    return [_note(row) for row in rows], total, warnings


def _own_note(conn: Connection, actor: Actor, customer_id: int, note_id: int) -> RowMapping:
    resolved = lookup.resolve(conn, actor.org_id, customer_id, for_update=True)
    family = care_repository.merge_family(conn, actor.org_id, resolved.id)
    row = repository.get_note(conn, actor.org_id, note_id)
    if row is None or int(row["customer_id"]) not in family:
        raise NotFound(customer.NOTE_UNKNOWN, f"the customer has no note {note_id}")
    return row


def _is_author(actor: Actor, row: RowMapping) -> bool:
    if actor.credential and row["author_credential"]:
        return bool(row["author_credential"] == actor.credential)
    return bool(row["author"] == actor.name)


def edit_note(
    conn: Connection, actor: Actor, customer_id: int, note_id: int, description: str | None
) -> Note:
    """Change the text of one's own note."""
    text = _text(description)
    row = _own_note(conn, actor, customer_id, note_id)
    if not _is_author(actor, row):
        raise Forbidden(customer.NOTE_NOT_YOURS, "only the author of a note may edit it")
    repository.update_note(conn, actor.org_id, note_id, text)
    audit(conn, actor, "customer.note.edit", "customer", row["customer_id"], {"noteId": note_id})
    updated = repository.get_note(conn, actor.org_id, note_id)
    assert updated is not None
    return _note(updated)


def delete_note(conn: Connection, actor: Actor, customer_id: int, note_id: int) -> None:
    """Delete one's own note (an admin: any note)."""
    row = _own_note(conn, actor, customer_id, note_id)
    if not _is_author(actor, row) and not actor.can(Role.admin):
        raise Forbidden(
            customer.NOTE_NOT_YOURS, "only the author of a note, or an admin, may delete it"
        )
    repository.delete_note(conn, actor.org_id, note_id)
    audit(conn, actor, "customer.note.delete", "customer", row["customer_id"], {"noteId": note_id})
