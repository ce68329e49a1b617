"""Deleting up to 100 customers at once (``POST /v2/customers/delete``, the console's list).

Each customer goes through the very erasure of ``DELETE /v2/customers/{id}``
(:func:`patron.customer.deletion.delete_customer`), which also writes its audit
entry (who, what, when, why; no personal data). All of them run in the caller's
one transaction; each in a savepoint, so a customer that cannot be deleted
leaves no half-done work and does not stop the others.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from sqlalchemy.engine import Connection

from patron.auth.actor import Actor, Role
from patron.codes import customer, generic
from patron.customer.deletion import delete_customer
from patron.customer.status import reason_text
from patron.kit.errors import Forbidden, InvalidInput, NotFound, PatronError

#: The most customers one request deletes (the console selects at most 100).
MAX_IDS = 100

Status = Literal["deleted", "notFound", "refused"]


@dataclass(frozen=True)
class Deleted:
    """What became of one id: ``deleted``, ``notFound`` (unknown, another org's, already
    deleted) or ``refused`` (the code and message say why, e.g. 618 or 8069)."""

    id: int
    status: Status
    code: int | None = None
    message: str | None = None


def delete_customers(
    conn: Connection, actor: Actor, ids: Sequence[int], reason: str | None
) -> list[Deleted]:
    """Delete the customers ``ids`` (1 to 100) for ``reason``; one answer per distinct id."""
    if not actor.can(Role.admin):
        raise Forbidden(generic.FORBIDDEN, "deleting customers needs the admin role")
    reason = reason_text(reason, what="delete customers")
    if not ids:
        raise InvalidInput(customer.VALIDATION_FAILED, "ids is required: the customers to delete")
    if len(ids) > MAX_IDS:
        raise InvalidInput(
            customer.VALIDATION_FAILED,
            f"at most {MAX_IDS} customers can be deleted at once, not {len(ids)}",
        )
    outcomes = []
    for customer_id in dict.fromkeys(ids):
        try:
            with conn.begin_nested():
                delete_customer(conn, actor, customer_id, reason)
        except NotFound as exc:
            outcomes.append(Deleted(customer_id, "notFound", exc.code, exc.message))
        except PatronError as exc:
            outcomes.append(Deleted(customer_id, "refused", exc.code, exc.message))
        else:
            outcomes.append(Deleted(customer_id, "deleted"))
    return outcomes
