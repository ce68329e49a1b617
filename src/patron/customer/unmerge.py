"""Reversing a merge by hand (``POST /v2/customers/{id}/unmerge``).

The very routine an import's undo uses (:func:`patron.identity.merge.reverse`): the
victim's profiles, identifiers, channels, fields, cards, subscriptions, care records
and balances go back to it and it lives again; what changed since the merge is
left alone and reported as a conflict.

Codes (patron's own, beside the seed's 8015 and 618):

    95310  InvalidInput  the id is a live customer and no ``mergeId`` names the merge
    95311  NotFound      no merge of the org has that ``mergeId`` for that customer
    95312  Conflict      the merge cannot be reversed (reversed already, a customer
                         merged further or deleted since); the message says which
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.engine import Connection

from patron.auth.actor import Actor
from patron.codes import customer as customer_codes
from patron.customer import merge_repository
from patron.customer.lookup import ensure_changeable
from patron.customer.status import reason_text
from patron.identity import merge as merges
from patron.kit.errors import Conflict, InvalidInput, NotFound


@dataclass(frozen=True)
class Unmerged:
    """The outcome of an unmerge: the customers, the merge and what was left alone."""

    victim_id: int
    survivor_id: int
    merge_id: int
    conflicts: list[str] = field(default_factory=list)


def unmerge_customer(
    conn: Connection,
    actor: Actor,
    customer_id: int,
    *,
    reason: str | None,
    merge_id: int | None = None,
) -> Unmerged:
    """Reverse the merge of ``customer_id`` into its survivor (or the merge ``merge_id`` the
    customer took part in, as victim or survivor), for ``reason`` (required, 91003)."""
    customer = merge_repository.customer_row(conn, actor.org_id, customer_id)
    if customer is None or customer["deleted_at"] is not None:
        raise NotFound(
            customer_codes.CUSTOMER_NOT_FOUND, "No customer found with the given identifier"
        )
    reason = reason_text(reason, what="unmerge customers")
    if merge_id is None:
        if customer["merged_into_id"] is None:
            raise InvalidInput(
                customer_codes.UNMERGE_NO_MERGE_NAMED,
                f"customer {customer_id} is not merged into another customer; give the mergeId "
                "of a merge it survived (GET /v2/customers/{id}/merges lists them)",
            )
        found = merge_repository.latest_merge_of_victim(conn, actor.org_id, customer_id)
        if found is None:
            raise NotFound(
                customer_codes.UNMERGE_UNKNOWN_MERGE,
                f"no merge record of customer {customer_id} is found",
            )
        merge_id = found
    elif not merge_repository.takes_part(conn, actor.org_id, merge_id, customer_id):
        raise NotFound(
            customer_codes.UNMERGE_UNKNOWN_MERGE,
            f"customer {customer_id} took part in no merge with id {merge_id}",
        )
    record = merge_repository.merge_row(conn, actor.org_id, merge_id)
    assert record is not None  # takes_part / latest_merge_of_victim found it
    for party in (int(record["survivor_id"]), int(record["victim_id"])):
        row = merge_repository.customer_row(conn, actor.org_id, party)
        if row is not None:
            ensure_changeable(row)  # 618: a customer marked as fraud is frozen
    outcome = merges.reverse(conn, actor, merge_id, cause="api", reason=reason)
    if outcome.refused is not None:
        raise Conflict(
            customer_codes.UNMERGE_NOT_REVERSIBLE,
            f"merge {merge_id} cannot be reversed: {outcome.refused}",
        )
    assert outcome.victim_id is not None
    assert outcome.survivor_id is not None
    return Unmerged(outcome.victim_id, outcome.survivor_id, merge_id, outcome.conflicts)
