"""Deleting a customer: its personal data goes, a trace without personal data stays.

What is removed: identifiers, communication channels, field values (also those a
merge overruled and its record kept), subscriptions, change-log entries (they
hold identifier values), lifecycle events, legacy profiles, partner program
links and the stored answers of idempotent requests about the customer; profile
names are blanked, cards lose their holder and their card fields, and the reasons,
comments and notes of its goodwill and retro requests and points transfers are
blanked.
The tables :mod:`patron.customer.personal_data` lists get their erasure rule (care
records, partner memberships, the free text of goodwill requests and transfers...),
and the rows of stored import files that named the customer are emptied
(:mod:`patron.customer.import_rows`).
What stays: the customer row (marked deleted, moved to the org's label over
the ``Deleted`` system status), its profiles' sources, the
consent ledger (no personal data; the proof of the consent history), the merge
records (ids only), balances, the points ledger, loyalty requests and transfers,
coupons, redemptions and transactions (numbers naming the deleted id), an audit
entry (reason and counts) and one suppression per removed identifier, a keyed
digest that lets an import recognise the person without storing who it was.
``tests/test_erasure.py`` searches the whole schema for anything else.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.engine import Connection

from patron.audit.service import audit
from patron.auth.actor import Actor
from patron.auth.secrets import keyed_digest
from patron.codes import customer, generic
from patron.customer import care_repository, import_rows, lookup, personal_data
from patron.customer.status import DELETED, locked_customer, reason_text
from patron.identity import merge as merges
from patron.kit.errors import Conflict
from patron.loyalty import erasure as loyalty
from patron.orgs import service as orgs


def suppression_digest(kind: str, value: str) -> str:
    """The digest a suppression stores for identifier ``kind`` with normalized ``value``."""
    return keyed_digest(f"{kind}:{value}")


def delete_customer(conn: Connection, actor: Actor, customer_id: int, reason: str | None) -> int:
    """Remove the personal data of a customer and of the customers merged into it.

    ``customer_id`` must be the live customer: a merge victim's id is refused
    (8069) rather than deleting the survivor it points to. A customer marked as
    fraud is refused (618) until its fraud status is cleared. Returns the id.
    """
    reason = reason_text(reason, what="delete a customer")
    resolved = lookup.resolve(conn, actor.org_id, customer_id, for_update=True)
    if resolved.id != customer_id:
        raise Conflict(
            customer.CUSTOMER_MERGED,
            f"The customer is merged into another account: {customer_id} was merged into "
            f"{resolved.id}; delete {resolved.id} to remove the person's data",
        )
    # Locked, and read again: a concurrent request may have deleted it meanwhile.
    lookup.ensure_changeable(locked_customer(conn, actor.org_id, resolved.id))
    label_id = _deleted_label(conn, actor.org_id)
    family = care_repository.merge_family(conn, actor.org_id, resolved.id)
    removed, counts = care_repository.erase_personal_data(conn, actor.org_id, family)
    merges.erase_overruled_values(conn, actor.org_id, family)
    loyalty.erase(conn, actor.org_id, family)
    counts["storedAnswers"] = care_repository.forget_stored_answers(
        conn, actor.org_id, family, [value for _, value in removed]
    )
    counts.update(personal_data.erase_records(conn, actor.org_id, family))
    counts["importRows"] = import_rows.scrub(conn, actor.org_id, family)
    digests = [(kind, suppression_digest(kind, value)) for kind, value in removed]
    care_repository.replace_suppressions(conn, actor.org_id, resolved.id, digests)
    care_repository.update_customer(
        conn,
        actor.org_id,
        family,
        {"deleted_at": datetime.now(UTC), "status_label_id": label_id, "modified_by": actor.name},
    )
    audit(
        conn,
        actor,
        "customer.delete",
        "customer",
        resolved.id,
        {
            "reason": reason,
            "mergedCustomers": len(family) - 1,
            "suppressions": len(set(digests)),
            **counts,
        },
    )
    return resolved.id


def _deleted_label(conn: Connection, org_id: int) -> int:
    for row in orgs.list_labels(conn, org_id):
        if row["system_status"] == DELETED:
            return int(row["id"])
    raise Conflict(
        generic.CONFLICT, f"the org has no status label over the {DELETED} system status"
    )
