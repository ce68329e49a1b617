"""What the profile page's care sections show, read through the care records' services.

The notes (newest first) and the tickets (newest first) of the person and of those merged
into them, the org's preference keys with the person's values, the referrals (whom the
person invited and who joined, and who invited the person) and whether a photo is kept.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Connection

from patron.auth.actor import Actor, Role
from patron.customer import notes, preferences, referrals, tickets
from patron.customer.care_tables import TICKET_PRIORITIES, TICKET_STATUSES, TICKET_TYPES
from patron.customer.lookup import Resolved
from patron.kit.pagination import Page
from patron.orgs import service as orgs

NOTES_SHOWN = 50
TICKETS_SHOWN = 50
CAMPAIGNS_SHOWN = 20


def section(conn: Connection, actor: Actor, resolved: Resolved) -> dict[str, Any]:
    """The care sections' context: ``{"care": {...}}``."""
    org_id = actor.org_id
    found_notes, notes_total, _ = notes.notes(conn, org_id, resolved.id, Page(NOTES_SHOWN, 0))
    found_tickets, tickets_total, _ = tickets.tickets(
        conn, org_id, resolved.id, Page(TICKETS_SHOWN, 0)
    )
    held, _ = preferences.preferences(conn, org_id, resolved.id)
    campaigns, campaigns_total, _ = referrals.referrals_of(
        conn, org_id, resolved.id, Page(CAMPAIGNS_SHOWN, 0)
    )
    return {
        "care": {
            "notes": [
                {
                    **note.rendered(),
                    # The service decides (by credential); the page offers what it would allow.
                    "editable": note.added_by == actor.name,
                    "deletable": note.added_by == actor.name or actor.can(Role.admin),
                }
                for note in found_notes
            ],
            "notes_total": notes_total,
            "tickets": found_tickets,
            "tickets_total": tickets_total,
            "ticket_types": TICKET_TYPES,
            "ticket_priorities": TICKET_PRIORITIES,
            "ticket_statuses": TICKET_STATUSES,
            "preference_keys": preferences.definitions(conn, org_id),
            "preferences": {
                entry["key"]: {**entry, "text": preference_text(entry["value"])} for entry in held
            },
            "campaigns": campaigns,
            "campaigns_total": campaigns_total,
            "referred_by": referrals.referred_by(conn, org_id, resolved.id),
            "image_max_bytes": orgs.get_settings(conn, org_id).image_max_bytes,
        }
    }


def preference_text(value: Any) -> str:
    """A preference value as a form shows it (booleans as ``true``/``false``)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
