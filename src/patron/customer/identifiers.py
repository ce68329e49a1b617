"""Adding and removing identifiers (``POST /v2/customers/{id}/changeIdentifier``).

Adding an identifier that a customer holds on another source merges: the
customer being changed is the victim, the holder the survivor (8051).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy.engine import Connection

from patron.audit.service import audit, log_change
from patron.auth.actor import Actor
from patron.cards import issue as cards
from patron.codes import customer as customer_codes
from patron.codes import generic
from patron.customer import repository, validation
from patron.customer.lookup import SourceAccount, ensure_changeable, profile_on, resolve
from patron.customer.schemas import ChangeIdentifiersIn
from patron.identity.merge import lock_live, merge
from patron.kit.errors import Conflict, InvalidInput, Notice
from patron.orgs import service as orgs
from patron.orgs.settings import OrgSettings

#: The change-log type of each identifier type (the seed's changeType values).
CHANGE_TYPES = {"mobile": "MOBILE", "email": "EMAIL", "externalId": "EXTERNAL_ID"}


@dataclass
class IdentifierChange:
    """The outcome: the id the caller should use from now on, and the warnings."""

    customer_id: int
    warnings: list[Notice] = field(default_factory=list)


def change_identifiers(
    conn: Connection,
    actor: Actor,
    customer_id: int,
    where: SourceAccount,
    request: ChangeIdentifiersIn,
) -> IdentifierChange:
    """Add and remove identifiers of one customer on one source, merging when needed."""
    if not request.add and not request.remove:
        raise InvalidInput(
            generic.INVALID_INPUT, "changeIdentifier needs identifiers to add or remove"
        )
    resolved = resolve(
        conn, actor.org_id, customer_id, not_found_code=customer_codes.CUSTOMER_ID_INVALID
    )
    warnings: list[Notice] = []
    if resolved.id != customer_id:
        warnings.append(
            Notice(
                customer_codes.ALREADY_MERGED_ACROSS_SOURCES,
                f"Same customer found in other source. The account is already merged "
                f"with user id {resolved.id}",
            )
        )
    me = resolved.id
    ensure_changeable(resolved.customer)
    settings = orgs.get_settings(conn, actor.org_id)
    profile = profile_on(conn, actor.org_id, me, where)
    codes = validation.CHANGE_CODES
    adds = validation.identifiers(request.add, settings, codes, warnings)
    removes = validation.identifiers(request.remove, settings, codes, warnings)

    held = {(i["type"], i["value"]) for i in repository.identifiers_of(conn, actor.org_id, me)}
    for item in removes:
        if (item.type, item.value) not in held:
            raise InvalidInput(
                customer_codes.ID_CHANGE_FAILED,
                f"Customer id change request failed: {item.type} "
                f"{item.value} is not an identifier of this customer",
            )
    survivor_id = _survivor(conn, actor, me, where, adds)
    new = [a for a in adds if (a.type, a.value) not in held]
    owned_elsewhere = {
        (o["type"], o["value"])
        for o in repository.owners_of(conn, actor.org_id, [(a.type, a.value) for a in new])
    }
    to_insert = [a for a in new if (a.type, a.value) not in owned_elsewhere]
    _check_final_state(conn, actor, me, survivor_id, held, removes, to_insert, settings)
    card_issues = cards.prepare(
        conn, actor.org_id, [(a.value, a.card) for a in adds if a.type == "cardnumber"], warnings
    )
    # Read without locks so far; a merge of either committed meanwhile is a conflict.
    lock_live(conn, actor.org_id, me, *([survivor_id] if survivor_id is not None else []))

    for item in removes:
        repository.delete_identifier(conn, actor.org_id, item.type, item.value)
    cards.release(conn, actor.org_id, [r.value for r in removes if r.type == "cardnumber"])
    repository.insert_identifiers(
        conn,
        [
            {
                "org_id": actor.org_id,
                "customer_id": me,
                "profile_id": int(profile["id"]),
                "type": a.type,
                "value": a.value,
            }
            for a in to_insert
        ],
    )
    _log(conn, actor, me, where, adds, removes)
    if survivor_id is not None:
        merge(conn, actor, victim_id=me, survivor_id=survivor_id)
        warnings.append(
            Notice(
                customer_codes.MERGED_ACROSS_SOURCES,
                "Same identifier found in other source. Merging into the account "
                f"with user id {survivor_id}",
            )
        )
    # The cards go to whoever holds their numbers now: the survivor after a merge.
    holder = survivor_id if survivor_id is not None else me
    cards.issue(conn, actor, holder, card_issues)
    return IdentifierChange(holder, warnings)


def _survivor(
    conn: Connection,
    actor: Actor,
    me: int,
    where: SourceAccount,
    adds: list[validation.Identifier],
) -> int | None:
    """The customer to merge into, when an added identifier belongs to someone else."""
    owners = repository.owners_of(conn, actor.org_id, [(a.type, a.value) for a in adds])
    for owner in owners:
        if int(owner["customer_id"]) == me:
            raise Conflict(
                customer_codes.NEW_IDENTIFIER_EXISTS_IN_SOURCE,
                f"The new identifier already exists in the same source: "
                f"{owner['type']} {owner['value']}",
            )
    others = {int(o["customer_id"]) for o in owners}
    if not others:
        return None
    if len(others) > 1:
        raise Conflict(
            customer_codes.IDENTIFIERS_OF_DIFFERENT_CUSTOMERS,
            "Each identifier is registered with a different customer in other "
            "source. Unable to merge accounts.",
        )
    survivor_id = others.pop()
    mine = {(p["source"], p["account_id"]) for p in repository.profiles_of(conn, actor.org_id, me)}
    theirs = {
        (p["source"], p["account_id"])
        for p in repository.profiles_of(conn, actor.org_id, survivor_id)
    }
    if (where.source, where.account_id) in theirs:
        raise Conflict(
            customer_codes.IDENTIFIER_TAKEN_IN_SOURCE,
            "Unable to update. The identifier is already registered in the same "
            f"source, by customer {survivor_id}",
        )
    if mine & theirs:
        raise Conflict(
            customer_codes.USER_ID_USED_IN_SOURCE,
            "Unable to combine, User id already used in same source.",
        )
    survivor = repository.get_customer(conn, actor.org_id, survivor_id)
    assert survivor is not None
    ensure_changeable(survivor)
    return survivor_id


def _check_final_state(
    conn: Connection,
    actor: Actor,
    me: int,
    survivor_id: int | None,
    held: set[tuple[str, str]],
    removes: list[validation.Identifier],
    inserts: list[validation.Identifier],
    settings: OrgSettings,
) -> None:
    """One mobile/email/external id per customer; a loyalty customer keeps its primary one."""
    final = (held - {(r.type, r.value) for r in removes}) | {(a.type, a.value) for a in inserts}
    if survivor_id is not None:
        final |= {
            (i["type"], i["value"])
            for i in repository.identifiers_of(conn, actor.org_id, survivor_id)
        }
    per_type: dict[str, set[str]] = defaultdict(set)
    for kind, value in final:
        per_type[kind].add(value)
    for kind in validation.SINGLE_VALUED:
        if len(per_type[kind]) > 1:
            raise InvalidInput(
                customer_codes.ID_CHANGE_FAILED,
                f"Customer id change request failed: the customer would "
                f"hold two {kind} values; remove the old one in the same request",
            )
    customer = repository.get_customer(conn, actor.org_id, me)
    assert customer is not None
    primary = settings.primary_identifier
    if customer["loyalty_type"] == "loyalty" and not per_type[primary]:
        raise InvalidInput(
            customer_codes.PRIMARY_IDENTIFIER_NOT_UPDATABLE,
            f"{primary} is the primary identifier of a loyalty customer "
            "and cannot be removed without a replacement",
        )


def _log(
    conn: Connection,
    actor: Actor,
    customer_id: int,
    where: SourceAccount,
    adds: list[validation.Identifier],
    removes: list[validation.Identifier],
) -> None:
    groups: dict[str, dict[str, list[dict[str, str]]]] = defaultdict(
        lambda: {"add": [], "remove": []}
    )
    for action, items in (("add", adds), ("remove", removes)):
        for item in items:
            change_type = CHANGE_TYPES.get(item.type, "IDENTIFIER")
            groups[change_type][action].append(
                {
                    "type": change_type if change_type != "IDENTIFIER" else item.type,
                    "value": item.value,
                }
            )
    for change_type, details in groups.items():
        log_change(
            conn,
            actor,
            customer_id,
            change_type,
            details,
            source=where.source,
            account_id=where.account_id,
        )
    audit(
        conn,
        actor,
        "customer.identifiers.change",
        "customer",
        customer_id,
        {"added": len(adds), "removed": len(removes)},
    )
